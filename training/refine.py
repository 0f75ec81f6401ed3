"""``poseeditor-train refine``: a person's refiner (engine/refiner.py), trained after their model, added to its file.

    poseeditor-train refine anna.safetensors --data datasets/anna [--minutes 2] [--steps N] [--clock cpu]

Train on This Person's last step. The personal model draws 128x64 pictures the app enlarges onto the photo; the
refiner learns, at the photo's scale, what that picture and the warp render beside it should have been for this
person. It must learn that on frames the model never fitted as targets, or it learns to trust a model that has
memorised them: its targets are the prepared set's test frames (held apart by prepare's split, used by fit only
to pick its checkpoint), its sources the train frames. For each pair the app's own render, through
engine.runtime.Engine with the file's network, the real frame as the target; then the refiner fits for the rest
of the budget (data included) and its tensors are written into the weights file (atomically; or into ``-o``).

Measured (docs/refiner-measured.md, 2026-12-05): a personal SPGNet on the dance video, 80 views from 16 train and 20
test frames, the held-out pairs as the app shows them: SSIM +0.0057 after 1 CPU-minute, +0.0078 after 2 (+-0.003),
the person's outline crisper; L1 +0.0008. A set with fewer than MIN_TARGETS test frames is left as it is.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from engine.errors import PoseEditorError
from engine.fileio import check_input, named_path

from .protocol import REFINE_MIN_TARGETS as MIN_TARGETS
from .synth import int_in

SOURCES = 16        # train frames used as sources, spread over the train split
PER_SOURCE = 5      # targets per source; sources are train frames only (test frames as sources too cost 0.004 SSIM)
# Training patches (pixels at the refiner's scale), batches of BATCH. 96 x 12 against 128 x 8 (as many pixels a
# step, more places): SSIM +0.0019 +-0.0008 (DGAN-SA), +0.0004 +-0.0007 (SPGNet), L1 level, paired on the
# held-out pairs (docs/personalize.md). bf16 (on a CPU with it) takes a step in half the time of fp32.
PATCH = 96
BATCH = 12
RATE = 1e-3         # Adam, cosine to 5% over the budget
SSIM_WEIGHT = 1.0   # beside the L1 where the network paints: L1 alone gained half as much SSIM and no L1


def _frames_of(data: Path) -> tuple[list[dict], list[dict]]:
    """(train frames, test frames) of a prepared set: prepare's journal records (its own reader: a line a kill
    cut short is skipped) of the original images (not the warp renders of self-pairs) in the pairs of each
    split, in prepare's order. A set of self-pairs (a few photos) has no journal and nothing held apart."""
    from .dataset_format import split_images
    from .prepare import read_journal

    journal = {n: r for n, r in read_journal(data).items() if r.get("status") == "ok"}
    train, test = (split_images(data, s) & journal.keys() for s in ("train", "test"))

    def order(n):
        return tuple(journal[n].get("order") or ()), n
    return ([journal[n] for n in sorted(train - test, key=order)], [journal[n] for n in sorted(test, key=order)])


def _load(records: list[dict]) -> dict:
    """name -> (image, pose, mask) of each record's full frame or photo, detected again at full size."""
    from engine.detect import PoseDetector, native_stderr_silenced
    from engine.images import load_image
    from training.video import is_video, read_frames

    images = {}
    by_video: dict = {}
    for r in records:
        src = Path(r["source"])
        if is_video(src):
            by_video.setdefault(src, []).append(r)
        else:
            images[r["name"]] = load_image(src)
    for src, recs in by_video.items():
        want = {r["frame"]: r["name"] for r in recs}
        for i, img in read_frames(src, list(want)):
            images[want[i]] = img
    out = {}
    with native_stderr_silenced(), PoseDetector() as det:
        for name, img in images.items():
            d = det.detect(img, name)
            if d.pose is not None and d.mask is not None:
                out[name] = (img, d.pose, d.mask.astype(np.float32))
    return out


def refiner_pairs(engine, loaded: dict, sources: list[dict], test: list[dict]) -> list[tuple]:
    """The refiner's samples (``views``): each source frame with PER_SOURCE of the held-apart frames as targets,
    every other source and its targets mirrored. The mirrored poses are ones the video never showed, as the poses
    a person edits to are: on the dance video's held-out pairs, paired against the same networks' refiners
    retrained without them, DGAN +0.0003, DGAN-SA +0.0024, SPGNet +0.0007, pNR +0.0030 SSIM (far third +0.0008 to
    +0.0035; docs/refiner-measured.md)."""
    rng = np.random.default_rng(0)
    samples, used = [], 0
    for rec in sources:
        if rec["name"] not in loaded:
            continue
        # a target of the same video (or photo size): a pose is drawn into the source's own frame and photo
        targets = [r["name"] for r in test if r["name"] in loaded and r.get("group") == rec.get("group")
                   and loaded[r["name"]][0].shape == loaded[rec["name"]][0].shape]
        if not targets:
            continue
        chosen = rng.choice(len(targets), min(PER_SOURCE, len(targets)), replace=False)
        source, shown = loaded[rec["name"]], [loaded[targets[k]][:2] for k in sorted(chosen)]
        if used % 2:
            source = (_flipped(source[0]), source[1].mirrored(), _flipped(source[2]))
            shown = [(_flipped(img), pose.mirrored()) for img, pose in shown]
        used += 1
        samples += views(engine, source, shown)
    return samples


def _flipped(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[:, ::-1])


def views(engine, source, targets) -> list[tuple]:
    """The app's render of each target pose from ``source`` (image, pose, mask) with the warp render and the
    network's share, at the refiner's scale in the target's box, beside the real target there."""
    from engine.framing import person_box
    from engine.refiner import work_view, work_views

    engine.set_sources([source[0]], [source[1]], [source[2]])
    out = []
    for img, pose in targets:
        render, around, share = engine.backend.composed(engine.state, pose)
        if share is None:
            continue
        box = person_box(pose)
        r, w, a = work_views(render, around, share, box)
        real = work_view(img, box)
        out.append((r, w, a, real))
    return out


def _ssim(x, y, win: int = 7):
    """SSIM with a box window, float32: the refiner's loss. The scored metric itself (training.metrics.ssim_batch:
    Gaussian window, float64) as the loss scored SPGNet +0.0009 +-0.0008 and DGAN-SA -0.0020 +-0.0010 (paired,
    2026-12-06): no better, and slower."""
    import torch.nn.functional as F

    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2

    def pool(z):
        return F.avg_pool2d(z, win, 1, win // 2, count_include_pad=False)
    mx, my = pool(x), pool(y)
    sx, sy, sxy = pool(x * x) - mx * mx, pool(y * y) - my * my, pool(x * y) - mx * my
    return (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2))).mean()


def fit_refiner(samples: list[tuple], seconds: float, clock, seed: int = 0, log=None, precision: str = "fp32",
                device: str = "cpu", max_steps: int | None = None):
    """Train a refiner on ``samples`` (render, warp render, share, real) until ``clock()`` passes ``seconds`` or
    ``max_steps`` are done (at least one step), on ``device`` at ``precision`` ("fp32", or "bf16" on the CPU:
    autocast, channels-last, the loss in float32); returns (network on the CPU, steps)."""
    import torch

    from engine.refiner import autocast, build, layout, speed_up, to_tensor

    from .loop import cosine_factor

    if precision not in ("fp32", "bf16") or (precision == "bf16" and device != "cpu"):
        raise ValueError(f"the refiner trains in fp32, or in bf16 on the CPU, not {precision} on {device}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    # the network's inputs in its layout; the target and the loss in the standard one (pooling is slower in
    # channels-last)
    data = [tuple(to_tensor(x, layout(precision)).to(device) for x in s[:3]) + (to_tensor(s[3]).to(device),)
            for s in samples]
    net = speed_up(build(), precision, device)
    opt = torch.optim.Adam(net.parameters(), RATE)
    start, step = clock(), 0
    while step == 0 or (clock() - start < seconds and (max_steps is None or step < max_steps)):
        for g in opt.param_groups:  # no warm-up: the refiner starts from nothing, not from trained weights
            g["lr"] = RATE * cosine_factor(step, max_steps, clock() - start, max(seconds, 1e-6))
        batch = []
        for _ in range(BATCH):
            r, w, a, y = data[rng.integers(len(data))]
            h, wd = r.shape[-2:]
            for _try in range(10):  # a patch where the network painted
                y0, x0 = int(rng.integers(0, max(1, h - PATCH))), int(rng.integers(0, max(1, wd - PATCH)))
                if float(a[..., y0:y0 + PATCH, x0:x0 + PATCH].mean()) > 0.1:
                    break
            cut = (..., slice(y0, y0 + PATCH), slice(x0, x0 + PATCH))
            batch.append((r[cut], w[cut], a[cut], y[cut]))
        if len({b[0].shape for b in batch}) > 1:  # boxes smaller than a patch: one sample at a time
            batch = batch[:1]
        r, w, a, y = (torch.cat([b[i] for b in batch]) for i in range(4))
        with autocast(precision, device):
            out = net(r, w, a).float().contiguous()
        a = a.contiguous()
        loss = (a * (out - y).abs()).mean() / a.mean().clamp_min(1e-3) + SSIM_WEIGHT * (1 - _ssim(out, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if log is not None and step % 50 == 0:
            log(f"refiner step {step}: loss {loss.item():.4f}")
    net.eval()
    return net.to("cpu", memory_format=torch.contiguous_format), step


def refine_weights(weights: Path, data: Path, minutes: float, out: Path | None = None, clock: str = "wall",
                   log=print, device: str = "auto", steps: int | None = None) -> dict:
    """Train a refiner for ``weights`` on the prepared set ``data`` within ``minutes`` (data included) and at most
    ``steps`` steps (a count, reproducible where a time budget is not), and write the file with it (``out``,
    default ``weights`` itself); returns what was done. A set without enough test frames leaves the file as it
    is (``refined`` False)."""
    from engine.refiner import PREFIX, network_tensors
    from engine.runtime import Engine, pick_device, resolve_precision
    from engine.weights import load_weights, save_weights

    now = time.process_time if clock == "cpu" else time.monotonic
    start = now()
    train, test = _frames_of(data)
    if len(test) < MIN_TARGETS or not train:
        why = f"{len(test)} held-apart frames (a refiner needs {MIN_TARGETS})"
        log(f"refine: not refined: {why}")
        # ``out`` still gets the weights, unchanged: a script goes on to use the file it named, and the line
        # printed says it holds no refiner. run() has checked that ``out`` is no input and not inside one.
        if out is not None and Path(out) != Path(weights):
            tensors, meta = load_weights(weights)
            save_weights(out, tensors, meta)
        return {"refined": False, "why": why}
    pick = np.linspace(0, len(train) - 1, min(SOURCES, len(train))).round().astype(int)
    sources = [train[i] for i in sorted(set(pick))]
    loaded = _load(sources + test)
    tensors, meta = load_weights(weights)
    device = pick_device(device)
    engine = Engine(meta.backend, device=device, weights=str(weights))  # views() composes without its refiner
    samples = refiner_pairs(engine, loaded, sources, test)
    if not samples:
        raise PoseEditorError(f"{data}: no frame pair to train a refiner on (no person found, or no pose moved)")
    spent = now() - start
    log(f"refine: {len(samples)} pairs from {len(sources)} train and {len(test)} held-apart frames "
        f"in {spent:.0f} s; training the refiner")
    # bf16 where the CPU has it (POSEEDITOR_PRECISION may say fp32); a GPU trains it in float32, with time to spare
    precision = resolve_precision("auto", device) if device == "cpu" else "fp32"
    net, steps = fit_refiner(samples, max(0.0, minutes * 60 - spent), now, log=log, precision=precision,
                             device=device, max_steps=steps)
    kept = network_tensors(tensors)
    kept.update({PREFIX + k: v.detach().clone().contiguous() for k, v in net.state_dict().items()})
    # the set's test frames are the refiner's training targets: an `evaluate` on that set scores what it learnt
    meta.provenance = dict(meta.provenance, refiner={"steps": steps, "pairs": len(samples), "minutes": minutes,
                                                     "clock": clock, "precision": precision, "data": str(data)})
    save_weights(out or weights, kept, meta)
    return {"refined": True, "steps": steps, "pairs": len(samples), "seconds": now() - start}


# ----- CLI ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.description = ("Train a person's refiner (the app's render finished at the photo's scale) on a prepared "
                     "set's held-apart frames, after their model, and add it to the model's weights file.")
    p.add_argument("weights", type=Path, help="the personal weights file (.safetensors), refined in place")
    p.add_argument("--data", type=Path, required=True, help="the prepared set the model was trained on")
    p.add_argument("--minutes", type=float, default=2.0, help="time budget, data included (default 2)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="what --minutes counts")
    p.add_argument("--steps", type=int_in(1, 10 ** 7), help="at most this many training steps (a count that runs "
                                                              "alike on any machine; --minutes still ends it sooner)")
    p.add_argument("-o", "--out", type=named_path, help="write here (.safetensors, outside the set) instead of into "
                                                  "WEIGHTS; with nothing to refine, the weights unchanged")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")


def run(args) -> int:
    from engine.fileio import check_output
    from engine.runtime import pick_device

    from .protocol import check_positive

    device = pick_device(args.device)  # an unknown or absent device is said before a minute of work
    check_positive(args.minutes, "--minutes")
    if args.out is not None and args.out.suffix != ".safetensors":
        raise PoseEditorError(f"{args.out}: the output must end in .safetensors")
    check_input(args.weights, PoseEditorError, ".safetensors weights file")
    from engine.weights import read_meta

    from .recipes import recipe_names

    backend = read_meta(args.weights).backend  # said before the frames are read and detected (half a minute)
    networks = recipe_names()
    if backend not in networks:
        raise PoseEditorError(f"{args.weights}: weights of the backend {backend[:40]!r}, which has no network to "
                              f"refine here (networks: {', '.join(networks)})")
    if not (args.data / "dataset.json").is_file():
        raise PoseEditorError(f"{args.data}: not a prepared set (no dataset.json)")
    if args.out is not None:
        check_output(args.out, inputs=[args.data], what="weights")
    else:  # into WEIGHTS, the command's purpose (the app's pipeline refines the file it just exported); never
        # a file among PoseEditor's own (a starter refined in place would change every new user's first launch)
        check_output(args.weights, inputs=[args.data], what="refined weights")
    done = refine_weights(args.weights, args.data, args.minutes, args.out, args.clock,
                          log=lambda t: print(t, file=sys.stderr, flush=True), device=device, steps=args.steps)
    target = args.out or args.weights
    print(f"{target}: " + (f"refiner trained for {done['steps']} steps on {done['pairs']} pairs" if done["refined"]
                           else f"not refined ({done['why']})"))
    return 0
