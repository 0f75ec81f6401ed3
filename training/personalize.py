"""``poseeditor-train personalize``: the app's Train on This Person as one command, to script and measure it.

    poseeditor-train personalize dance.mp4 --backend spgnet --minutes 10 -o anna.safetensors
    poseeditor-train personalize a.jpg b.jpg c.jpg --backend attention -o anna.safetensors

The same plan (training/protocol.py's ``make_plan``: the network of the backend's starter weights, fine-tuned
from them with the backend's ``PERSONAL`` entry and the plan's defaults), the same child
commands (prepare, fit, export, and refine in a video's plan) with the same environment and threads as the app's, in the same order. The
dataset and the run are kept in a work folder (default: beside the output, ``<name>.work/``) as the app keeps
them in its data folder: ``fit --resume`` and ``evaluate`` work on them afterwards.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from engine.errors import PoseEditorError
from engine.fileio import check_input, named_path, removed_if_refused

from . import protocol as P
from .names import folders, slug, unique_path

log = logging.getLogger(__name__)


def starter_weights(backend: str) -> Path | None:
    """The starter weights the app starts from when the user has not loaded others."""
    from engine.backends.base import starter_path  # numpy only: torch is imported by the backends themselves

    p = starter_path(backend)
    return p if p.is_file() else None


def plan_for(sources: list[Path], backend: str, out: Path, minutes: float, init=None, scratch: bool = False,
             name: str | None = None, **overrides) -> P.TrainPlan:
    videos = [s for s in sources if P.is_video(s)]  # one video or photos only: _usable_sources
    if init is None and not scratch:
        init = starter_weights(backend)
    from engine.registry import trainable_names

    trainable = trainable_names()
    if backend not in trainable:
        raise P.PersonalizeError(f"unknown backend '{backend}' for training; trainable: {', '.join(trainable)}")
    plan = P.make_plan(name or Path(out).stem, backend, [] if videos else sources, videos[0] if videos else None,
                       None if scratch else init, minutes=float(minutes), **overrides)
    P.check_plan(plan)
    return plan


def _step(name: str, argv: list[str], cwd: Path) -> str:
    """Run one child step like the app does; its progress goes to stderr, its stdout is returned. A failure is
    one line: the step and the child's own error line. A SIGTERM or Ctrl-C stops the child too, with one SIGINT,
    as fit stops on one (a checkpoint, then out), and then this process (KeyboardInterrupt): a SIGTERM to
    personalize alone left its fit child training on."""
    import signal
    import threading

    # its own session: a terminal's Ctrl-C reaches this process only, which passes it on once (reaching both, the
    # child took this one's SIGINT for a second and aborted without its checkpoint)
    proc = subprocess.Popen(argv, cwd=cwd, env=P.child_env(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    stopped = []

    def forward(signum, frame):
        stopped.append(signum)
        proc.send_signal(signal.SIGINT)

    old = signal.signal(signal.SIGTERM, forward) if threading.current_thread() is threading.main_thread() else None
    tail = []
    try:
        for line in proc.stderr:
            tail = (tail + [line])[-200:]
            if not line.startswith(f"{P.PROG}: error:") and not P.is_noise(line):  # the error: said once, below
                sys.stderr.write(line)
                sys.stderr.flush()
        out = proc.stdout.read()
        code = proc.wait()
    except BaseException:  # Ctrl-C to this process alone, or an error here: the child does not train on
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    if stopped:
        raise KeyboardInterrupt
    if code != 0:
        why = P.last_error_line("".join(tail))
        raise P.PersonalizeError(f"the {name} step failed" + (f": {why}" if why else f" (exit status {code})"))
    return out


def personalize(plan: P.TrainPlan, out: Path, work: Path, progress=print) -> dict:
    """prepare -> fit -> export (-> refine), each a child process as the app runs them; returns what was made."""
    dirs = folders(work)
    for d in (dirs["datasets"], dirs["runs"]):
        d.mkdir(parents=True, exist_ok=True)
    dataset = unique_path(dirs["datasets"], slug(plan.name), "")
    from .prepare import has_prepared

    # this run's dataset, with nothing prepared in it (nobody in the photos), goes with its copied photos
    with removed_if_refused(dataset, keep=has_prepared, also=[P.photos_folder(dataset)]):
        source = P.source_for(plan, dataset)
        _step("prepare", P.prepare_command(plan, source, dataset), work)
        for photo, why in _not_prepared(plan, dataset):
            log.warning("%s: %s; skipped", photo, why)
        pairs = P.train_pairs(dataset)
        if pairs == 0:
            raise P.PersonalizeError(P.no_pairs_message(plan))
    plan = P.with_refiner_if_held_apart(plan, dataset)
    batch = P.fit_batch(plan, pairs)
    progress(f"{dataset}: {pairs} training pairs; training {plan.backend} for up to {plan.fit_minutes:g} min")
    run = P.run_folder(_step("fit", P.fit_command(plan, dataset, dirs["runs"], batch), work), work)
    if run is None:
        raise P.PersonalizeError("the fit step did not say where its run folder is")
    _step("export", P.export_command(run, out, plan.label, P.export_choice(P.read_stats(run))), work)
    if plan.refine:
        progress(f"training the refiner for up to {plan.refine:g} min")
        try:
            _step("refine", P.refine_command(plan, out, dataset), work)
        except P.PersonalizeError as e:  # as the app does: the exported weights are whole without it
            progress(f"not refined: {e}")
    return {"dataset": dataset, "run": run, "weights": Path(out), "pairs": pairs, "batch": batch}


def _not_prepared(plan: P.TrainPlan, dataset: Path) -> list[tuple[str, str]]:
    """(photo, why) of the plan's photos the prepare step left out, from what it records: self-pairs the names
    of the photos with no one in them (dataset.json), prepare each photo's status (its journal). Both read the
    staged copies, named by their place in ``plan.photos`` (names.stage_photos: ``003-name.jpg``)."""
    from .dataset_format import read_dataset_json
    from .prepare import read_journal

    if plan.video:
        return []
    if P.uses_self_pairs(plan):
        left = [(n, "no person with both shoulders and hips found in it")
                for n in ((read_dataset_json(dataset) or {}).get("self_pairs") or {}).get("skipped") or []]
    else:
        left = [(Path(str(r.get("source"))).name, "no person found in it" if r["status"] == "no-person" else
                 str(r.get("error") or r["status"])) for r in read_journal(dataset).values() if r["status"] != "ok"]
    out = []
    for name, why in left:
        i = str(name).split("-")[0]
        if i.isdigit() and int(i) < len(plan.photos):
            out.append((plan.photos[int(i)], why))
    return out


def _usable_sources(sources: list[Path]) -> tuple[list[Path], list[str]]:
    """(the sources as the steps get them: one video or photos, absolute, links resolved; the reason for each
    photo left out). A photo no image reader can use is left out: the app's photos are ones the editor has
    opened, so an unreadable one is never in its plan, and leaving it out makes the same plan
    (training/protocol.py: one photo is enough; fewer than SELF_PAIRS_BELOW train on their self-pairs). None
    left is an error, as is a path that names no file."""
    from engine.errors import ImageReadError
    from engine.images import load_image

    from .prepare_sources import images_in

    # a folder is its photos (prepare takes a folder too; a newcomer's `personalize photos` was refused)
    expanded = []
    for s in sources:
        if Path(s).is_dir():
            photos = images_in(Path(s))
            if not photos:
                raise P.PersonalizeError(f"{s}: a folder without photos")
            expanded += photos
        else:
            expanded.append(s)
    sources = expanded
    if any(P.is_video(s) for s in sources):
        if len(sources) > 1:
            raise P.PersonalizeError("give one video, or photos, not both")
        return [check_input(sources[0], P.PersonalizeError, "video").resolve()], []
    found = [(s, check_input(s, P.PersonalizeError, "photo").resolve()) for s in sources]
    usable, skipped = [], []
    for given, path in found:
        try:
            load_image(given)
            usable.append(path)
        except ImageReadError as e:
            skipped.append(str(e))
    if not usable:
        raise P.PersonalizeError(("no photo can be used: " if len(found) > 1 else "") + "; ".join(skipped))
    return usable, skipped


# ----- CLI ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    from .synth import parse_size

    p.description = ("The app's Train on This Person as one command: prepare the photos or video, fine-tune "
                     "the backend's starter weights on them for a time budget, export the best weights.")
    p.add_argument("sources", nargs="+", type=named_path, metavar="VIDEO|PHOTO|FOLDER",
                   help=f"one video, or photos of one person (or folders of them): one is enough (fewer than "
                        f"{P.SELF_PAIRS_BELOW} train on each photo redrawn in moved poses, more on pairs between them)")
    p.add_argument("--backend", required=True, help="dgan, dgan-sa, attention, spgnet or pnr")
    p.add_argument("-o", "--out", type=named_path, required=True, help="the weights file to write (.safetensors)")
    p.add_argument("--minutes", type=float, default=P.DEFAULT_MINUTES,
                   help=f"training time budget (default {P.DEFAULT_MINUTES:g}, the app's)")
    p.add_argument("--init", type=Path, help="weights to fine-tune from (default: the backend's starter weights)")
    p.add_argument("--scratch", action="store_true", help="train an untrained network instead")
    p.add_argument("--name", help="the label of the result (default: the output file's name)")
    p.add_argument("--work", type=Path, help="folder for the dataset and the run (default: OUT's name + .work)")
    p.add_argument("--size", type=parse_size, help="network size HxW (default: the starting weights')")
    p.add_argument("--max-frames", type=int, default=P.MAX_VIDEO_FRAMES,
                   help=f"video frames to look at (default {P.MAX_VIDEO_FRAMES})")
    p.add_argument("--steps", type=int, default=P.DEFAULT_STEPS,
                   help="a ceiling on the network's training steps (a refiner after it trains for its minutes)")
    p.add_argument("--clock", choices=P.CLOCKS, default="wall",
                   help="what --minutes counts: wall (default, the app's) or cpu, the training process's CPU time, "
                        "so that runs on a shared machine get the same compute")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after N quality checks without a better figure (default: the plan's, "
                        "the whole time budget; 0: never)")
    p.add_argument("--lr-mult", type=float, help="factor on the recipe's learning rates (default: the backend's "
                                                 "personal one, training/protocol.py)")
    p.add_argument("--gan-start-step", type=int, help="the step the GAN losses start at (default: the backend's "
                                                      "personal one)")
    p.add_argument("--schedule", choices=("constant", "cosine"), help="learning-rate schedule (default cosine)")
    p.add_argument("--refine-minutes", dest="refine_minutes", type=float,
                   help=f"the budget's last minutes for the person's refiner (default: the plan's, "
                        f"{P.REFINE_MINUTES:g} of a video's budget of {P.REFINE_FROM:g} minutes or more; 0: none)")
    p.add_argument("--self-pairs", dest="frame_self_pairs", type=int,
                   help=f"a video's frames' own warp renders per frame, as train pairs (default: the backend's "
                        f"plan, {P.VIDEO_SELF_PAIRS} unless its PERSONAL entry says otherwise; 0: none)")


def _check_size(plan: P.TrainPlan, size: tuple[int, int]) -> None:
    """Refuse a --size the plan's network cannot take, as its fit would, but before the photos are prepared (that
    refusal came after the prepare step): the network the fit builds (setup_run.network_config, from the plan's
    starting weights, its network overrides and width, as fit_args passes them), at that size."""
    from .loop import get_recipe_class
    from .setup_run import check_network_size, network_config

    cls = get_recipe_class(plan.backend)
    opts = {"backend": plan.backend, "init": plan.init, "net": plan.net,
            "width": None if plan.init else plan.width}
    config, _ = network_config(opts, cls, None)
    check_network_size(cls, {**config, "image_size": list(size)})


def run(args) -> int:
    from engine.fileio import check_output, inside

    if args.out.suffix != ".safetensors":
        raise PoseEditorError(f"{args.out}: the output must end in .safetensors")
    if args.scratch and args.init:  # --init was dropped without a word
        raise PoseEditorError("give --init WEIGHTS or --scratch, not both")
    P.check_positive(args.minutes, "--minutes")
    P.check_positive(args.lr_mult, "--lr-mult")
    for k in ("max_frames", "steps"):
        if getattr(args, k) < 1:
            raise PoseEditorError(f"--{k.replace('_', '-')} must be at least 1, not {getattr(args, k)}")
    if (args.patience is not None and args.patience < 0) or \
            (args.gan_start_step is not None and args.gan_start_step < 0):
        raise PoseEditorError("--patience and --gan-start-step must be at least 0")
    check_output(args.out, inputs=list(args.sources) + [args.init], what="weights")
    work = args.work or args.out.with_name(args.out.stem + ".work")
    over = {"max_frames": args.max_frames, "steps": args.steps, "clock": args.clock}
    if args.patience is not None:
        over["patience"] = args.patience or None
    if args.frame_self_pairs is not None and not 0 <= args.frame_self_pairs <= P.MAX_FRAME_SELF_PAIRS:
        raise PoseEditorError(f"--self-pairs must be 0 to {P.MAX_FRAME_SELF_PAIRS}, not {args.frame_self_pairs}")
    if args.refine_minutes is not None and not 0 <= args.refine_minutes <= args.minutes / 2:
        raise PoseEditorError(f"--refine-minutes must be 0 to half of --minutes, not {args.refine_minutes:g}")
    for k in ("lr_mult", "gan_start_step", "schedule", "frame_self_pairs", "refine_minutes"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k)
    if args.size:
        over["image_size"] = tuple(args.size)
    from engine.runtime import requested_precision

    requested_precision()  # POSEEDITOR_PRECISION=garbage: refused now, not by the fit step after prepare
    # the steps run in the work folder: every path they are given is absolute
    sources, skipped = _usable_sources(args.sources)
    init = check_input(args.init, P.PersonalizeError, ".safetensors weights file").resolve() if args.init else None
    if init is not None:  # its metadata, configuration and numbers, now: fit read them after prepare's minutes
        from engine.weights import load_weights

        load_weights(init, args.backend)
    plan = plan_for(sources, args.backend, args.out, args.minutes, init, args.scratch, args.name, **over)
    if args.size:
        _check_size(plan, tuple(args.size))
    if work.exists() and not work.is_dir():
        raise PoseEditorError(f"{work}: the work folder is a file")
    for src in sources:
        # the work folder holds a dataset and runs: not in the folder of a photo it learns from (a newcomer's
        # --work photos wrote datasets/ and runs/ among the photos), nor inside a video's or a prepared set's
        home = src.parent if src.is_file() else src
        prepared = (home / "dataset.json").is_file()
        if os.path.realpath(work) == os.path.realpath(home) or inside(src, work) or (prepared and inside(work, home)):
            raise PoseEditorError(f"{work}: the work folder would be in or hold the folder of {src}; choose a "
                                  f"place outside it")
    from .prepare import has_prepared

    def holds_prepared(folder: Path) -> bool:  # prepared images stay, for a run again to start from
        return any(has_prepared(j.parent) for j in folder.rglob("prepare-journal.jsonl"))

    with removed_if_refused(work, keep=holds_prepared):
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PoseEditorError(f"{work}: cannot make the work folder ({e.strerror or e})") from None
        for why in skipped:  # once nothing else is refused: a refusal is its one line alone
            log.warning("%s; skipped", why)
        caution = P.refit_note(plan)
        if caution:
            print(f"note: {caution}", file=sys.stderr)
        made = personalize(plan, args.out.resolve(), work.resolve(), progress=lambda t: print(t, file=sys.stderr))
    print(f"{made['weights']}: {plan.backend} trained on {made['pairs']} pairs (run {made['run']})")
    return 0
