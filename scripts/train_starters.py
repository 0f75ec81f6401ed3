"""Reproduce the starter weights in resources/weights/ from the project's own synthetic people, nothing else.

    .venv/bin/python scripts/train_starters.py [--backends attention pnr ...] [--parallel 2] [--minutes M]

For each backend: `poseeditor-train fit` with resources/weights/configs/<backend>.json on a synthetic dataset
(`poseeditor-train synth`, fixed seed; a config may start from another starter, e.g. dgan-sa from dgan's
weights) for the config's number of steps (a step budget, not a time budget, so
that a busy machine gives the same weights, only later; --minutes caps a run for a quick try), the validation's
best checkpoint `export --half` to resources/weights/<backend>.safetensors, and
`evaluate` on the synthetic test pairs, whose report is kept beside the weights as <backend>.report.json with
the exact commands that made them. Runs and the dataset go to build/starters/ (not committed).
Several backends train at once with --parallel (one torch thread each: on a 2-core CPU that is the fastest).

    .venv/bin/python scripts/train_starters.py --prior [--backends dgan attention ...] [--minutes 11]

The real-people prior: each starter fine-tuned from its current weights (resources/weights/configs/prior/, dgan-sa
from the new dgan) on `poseeditor-train self-pairs` of the shared real photos (warp renders of each photo in
perturbed poses as sources, the photo as target; walk-64x128's frames as real pairs; the photos of
benchmarks/heldout.json never read) mixed with 1,500 pairs of the synthetic people. Weights go to
build/prior/weights/; tests/backends/test_raised_arm_real.py measures them against the starters, and only those
measured better are copied over resources/weights/ (with their report) by --install.

    .venv/bin/python scripts/train_starters.py --prior --variant limbs --synth-only --backends dgan

A variant of the prior: configs/prior/<backend>-<variant>.json instead of <backend>.json (dgan-limbs: the NN loss
weighted on the target's arms and legs; pnr-limbs: its L1 and perceptual terms); --synth-only fine-tunes on the
synthetic people alone, so the selection's fashion-real photos are photos training never saw.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "resources" / "weights"
CONFIGS = WEIGHTS / "configs"
BUILD = ROOT / "build" / "starters"
SYNTH = ["--identities", "400", "--poses-per-identity", "6", "--size", "256x128", "--seed", "2026"]
DATA_LABEL = "synthetic people (poseeditor-train synth --seed 2026, 400 people x 6 poses)"
SHARED = ROOT.parent / "shared" / "data"
PRIOR = ROOT / "build" / "prior"
SELF_PAIRS = [*(SHARED / d for d in ("fashion-real", "market-real", "fashion-sources")),
              "--same-person", SHARED / "walk-64x128", "--per-photo", "10", "--both-ways", "--mix-pairs", "1500", "--seed", "2026"]
PRIOR_LABEL = ("real-people prior: self-pairs of the shared fashion-real, market-real and fashion-sources photos "
               "(benchmarks/heldout.json's kept out), walk-64x128 frames, 1,500 synthetic pairs")
TRAIN = [sys.executable, "-m", "training.cli"]


def run(cmd, log: Path | None = None) -> str:
    print("$", " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=ROOT)
    if log:
        log.write_text(out.stdout + "\n--- stderr ---\n" + out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(map(str, cmd))}\n{out.stderr[-2000:]}")
    return out.stdout


def train_one(backend: str, minutes: float | None, data: Path, prior: bool = False, finish_only: bool | str = False,
              variant: str | None = None) -> dict:
    config = (CONFIGS / "prior" if prior else CONFIGS) / (f"{backend}-{variant}.json" if variant else f"{backend}.json")
    build = PRIOR if prior else BUILD
    synth_only = prior and data == BUILD / "synth-256x128"
    then = f" then fine-tuned on them ({config.stem})" if synth_only else f" then a {PRIOR_LABEL}"
    label = f"starter weights ({backend}), trained on {DATA_LABEL}" + (then if prior else "")
    runs = build / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    fit = TRAIN + ["fit", "--backend", backend, "--data", data, "--config", config, "--runs-dir", runs,
                   "--no-progress", "--seed", "2026", "--label", label]
    if minutes:
        fit += ["--time-budget", str(minutes)]
    if finish_only:  # the run given, else the backend's newest run, already trained
        run_dir = Path(finish_only) if isinstance(finish_only, str) else sorted(runs.glob(f"*-{backend}-*"))[-1]
        seconds = None
    else:
        t = time.time()
        run_dir = Path(run(fit, build / f"{backend}.fit.log").strip().splitlines()[-1])
        seconds = time.time() - t
    # written in build/ and copied over (the command-line tools write nothing among PoseEditor's own files)
    out = (PRIOR / "weights" if prior else BUILD / "weights") / f"{backend}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    export = TRAIN + ["export", run_dir, "-o", out, "--half", "--label", label]
    selection = None
    if prior:  # the validation's best (PCKh on the test pairs) or the last state: the one reading more raised arms
        selection = select_by_raised_arms(backend, run_dir, label)
    chosen = selection["chosen"] if selection else None
    if chosen in (None, "best", "latest"):
        if chosen:
            export.insert(export.index("--half"), f"--which={chosen}")
        run(export)
    else:  # an earlier checkpoint, exported as the others
        export = _export_checkpoint(run_dir / "checkpoints" / f"{chosen}.pt", out, label)
    evaluate, report = evaluated(out, BUILD / "synth-256x128", build / f"{backend}-eval")
    options = json.loads((run_dir / "training_options.json").read_text())
    summary = {
        "backend": backend, "weights": out.name, "size_bytes": out.stat().st_size,
        "data": DATA_LABEL, "train_seconds": round(seconds) if seconds else _stat(run_dir, "elapsed"),
        "train_cpu_seconds": _stat(run_dir, "cpu_s"), "cpu": f"{os.cpu_count()} cores, no GPU",
        "steps": _chosen_step(run_dir, chosen),
        "net_config": options.get("net_config"),
        "recipe_options": options.get("recipe_options"),
        "commands": [_shown(c) for c in (TRAIN + ["synth", "-o", BUILD / "synth-256x128", *SYNTH],
                                         *([_self_pairs(data)] if prior and not synth_only else []), fit,
                                         export, evaluate)],
        "evaluation_on_synthetic_test_pairs": report,
    }
    if init := json.loads(config.read_text()).get("init"):  # a fine-tune: what it started from, to rebuild it
        commit = subprocess.run(["git", "log", "-1", "--format=%h", "--", init], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
        summary["init"] = f"{init} of commit {commit} (how it was made: that commit's report.json beside it)"
    if selection:
        summary["selection_by_raised_arms"] = selection
    if prior and not synth_only:
        summary["commands"].append(_shown(evaluated(out, data, build / f"{backend}-eval-prior")[0]))
        summary["evaluation_on_prior_test_pairs"] = evaluated(out, data, build / f"{backend}-eval-prior")[1]
    (out.parent / f"{backend}.report.json").write_text(json.dumps(relative(summary), indent=1, default=str))
    if not prior:
        import shutil

        for f in (out, out.parent / f"{backend}.report.json"):
            shutil.copyfile(f, WEIGHTS / f.name)
    return summary


def select_by_raised_arms(backend: str, run_dir: Path, label: str) -> dict:
    """Export the run's best and latest states and count, on the shared full-body photos that are NOT kept out
    (fashion-real, those whose raised arm the detector reads in the warp engine's render), the renders in which
    the detector finds the raised arm raised: PCKh on the test pairs did not track what the raised-arm test
    measures. The run's other kept checkpoints (the newest 3) are counted too. Ties go to the validation's best,
    then to the later state."""
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)  # beside the other backends' trainings, one core each
    from engine.detect import PoseDetector
    from engine.images import load_image
    from engine.registry import create
    from tests.backends.test_raised_arm_real import read_raised
    from tests.engine.test_photo_kinds import raised_arm
    from training.selfpairs import kept_out

    photos = [p for p in sorted((SHARED / "fashion-real").glob("*.jpg")) if ("fashion-real", p.name) not in kept_out()]
    counts, cases = {}, []
    with PoseDetector() as det:
        for p in photos:
            img = load_image(p)
            d = det.detect(img, p.name)
            if d.pose.has("r_shoulder", "r_elbow", "r_wrist") or d.pose.has("l_shoulder", "l_elbow", "l_wrist"):
                cases.append((p.name, img, d, *raised_arm(d.pose)))
        readable = read_raised(create("warp"), cases, det)
        cases = [c for c in cases if readable[c[0]]]
        counts["starter"] = sum(read_raised(create(backend), cases, det).values())  # what to beat
        older = sorted(run_dir.glob("checkpoints/ckpt-*.pt"))[:-1]  # the newest is "latest"
        for which in ("best", "latest", *(c.stem for c in reversed(older))):
            w = PRIOR / "candidates" / f"{backend}-{which}.safetensors"
            w.parent.mkdir(parents=True, exist_ok=True)
            if which in ("best", "latest"):
                run(TRAIN + ["export", run_dir, "-o", w, "--which", which, "--half", "--label", label])
            else:
                _export_checkpoint(run_dir / "checkpoints" / f"{which}.pt", w, label)
            b = create(backend)
            b.load_weights(w)
            counts[which] = sum(read_raised(b, cases, det).values())
    chosen = max((k for k in counts if k != "starter"), key=counts.get)  # the first of equals: best, latest, ...
    print(f"{backend}: raised arm read on {counts} of {len(cases)} photos: {chosen}"
          + ("" if counts[chosen] > counts["starter"] else " (no better than the starter: do not --install)"), flush=True)
    return {"photos": len(cases), "read": counts, "chosen": chosen}


def _export_checkpoint(ckpt: Path, out: Path, label: str) -> list:
    """`export` of one checkpoint of a run (the CLI exports the best or the newest): its generator in fp16, the
    engine's weights format, as `export --half` writes it. Returns the command that does it, for the report."""
    import torch

    sys.path.insert(0, str(ROOT))
    from training.export import export_generator

    state = torch.load(ckpt, map_location="cpu", weights_only=True)  # plain data only: no code runs
    options = json.loads((ckpt.parents[1] / "training_options.json").read_text())
    prov = {"steps": int(state["step"]), "run": ckpt.parents[1].name, "selected_by": "raised arms",
            "exported_from": f"{ckpt.parents[1].name}/checkpoints/{ckpt.name}"}
    export_generator(out, state["recipe"]["modules"]["generator"], options["backend"],
                     state.get("net_config") or options["net_config"], prov, label, half=True)
    return [sys.executable, "-c", "from pathlib import Path; from runpy import run_path; run_path("
            f"'scripts/train_starters.py')['_export_checkpoint'](Path({str(ckpt)!r}), Path({str(out)!r}), {label!r})"]


def evaluated(weights: Path, data: Path, ev_dir: Path) -> tuple[list, dict]:
    """(the command, its report): `evaluate` of the weights on 64 test pairs of ``data``."""
    evaluate = TRAIN + ["evaluate", weights, "--data", data, "--limit", "64", "-o", ev_dir]
    if not (ev_dir / "report.json").is_file() or (ev_dir / "report.json").stat().st_mtime < weights.stat().st_mtime:
        run(evaluate)
    return evaluate, json.loads((ev_dir / "report.json").read_text())


def relative(obj):
    """The report with this checkout's absolute paths made relative to the repository (it is committed)."""
    if isinstance(obj, dict):
        return {k: relative(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [relative(v) for v in obj]
    return obj.replace(str(ROOT) + "/", "").replace(str(ROOT.parent) + "/", "../") if isinstance(obj, str) else obj


def _shown(cmd) -> str:
    """A command as anyone can rerun it from the repository: `python -m ...`, paths relative to it."""
    words = ["python" if c == sys.executable else relative(str(c)) for c in cmd]
    return " ".join(shlex.quote(w) for w in words)


def _stat(run_dir: Path, key: str) -> int:
    """The largest ``key`` of the run's stats rows (elapsed, cpu_s: seconds of its training loop)."""
    rows = [json.loads(ln) for ln in (run_dir / "stats.jsonl").read_text().splitlines() if ln.strip()]
    return round(max(float(r.get(key, 0) or 0) for r in rows))


def _chosen_step(run_dir: Path, chosen: str | None) -> int:
    """The training step of the exported state: a checkpoint's, the validation's best's, or the run's last."""
    if chosen and chosen.startswith("ckpt-"):
        return int(chosen.split("-")[1])
    if chosen == "best":
        for line in reversed((run_dir / "stats.jsonl").read_text().splitlines()):
            row = json.loads(line) if line.strip() else {}
            if row.get("kind") == "done" and (row.get("best_metric") or {}).get("step") is not None:
                return int(row["best_metric"]["step"])
    return _last_step(run_dir)


def _last_step(run_dir: Path) -> int:
    step = 0
    for line in (run_dir / "stats.jsonl").read_text().splitlines():
        try:
            step = max(step, int(json.loads(line).get("step", 0)))
        except ValueError:
            pass
    return step


def _self_pairs(data: Path) -> list:
    return TRAIN + ["self-pairs", *SELF_PAIRS[:3], "-o", data, "--mix", BUILD / "synth-256x128", *SELF_PAIRS[3:]]


def install(backends: list[str]) -> None:
    """Copy build/prior/weights/<backend>.* (measured better) over the starters."""
    import shutil

    for b in backends:
        shutil.copyfile(PRIOR / "weights" / f"{b}.safetensors", WEIGHTS / f"{b}.safetensors")
        report = json.loads((PRIOR / "weights" / f"{b}.report.json").read_text())
        # the synthetic test pairs too: the starters must still move the procedural people
        command, synthetic = evaluated(WEIGHTS / f"{b}.safetensors", BUILD / "synth-256x128", PRIOR / f"{b}-eval")
        report["evaluation_on_synthetic_test_pairs"] = synthetic
        report["commands"] = [c for c in report["commands"] if c != _shown(command)] + [_shown(command)]
        (WEIGHTS / f"{b}.report.json").write_text(json.dumps(relative(report), indent=1, default=str))
        print(f"installed {b}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", nargs="*", default=[p.stem for p in sorted(CONFIGS.glob("*.json"))])
    ap.add_argument("--minutes", type=float, help="cap each run at this many minutes (default: the config's steps)")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--prior", action="store_true", help="fine-tune the starters on the real-people prior")
    ap.add_argument("--install", action="store_true", help="copy build/prior/weights/ of --backends over the starters")
    ap.add_argument("--variant", help="with --prior: configs/prior/<backend>-<VARIANT>.json (e.g. limbs)")
    ap.add_argument("--synth-only", action="store_true", help="with --prior: fine-tune on the synthetic people only")
    ap.add_argument("--finish", nargs="?", const=True, default=False, metavar="RUN",
                    help="with --prior: select, export and evaluate the newest run of each backend (or RUN) "
                         "(trained, e.g. stopped) without training")
    a = ap.parse_args()
    if a.install:
        return install(a.backends)
    data = BUILD / "synth-256x128"
    if not (data / "dataset.json").exists():
        run(TRAIN + ["synth", "-o", data, *SYNTH])
    if a.prior and not a.synth_only:
        data = PRIOR / "prior-256x128"
        if not (data / "dataset.json").exists():
            run(_self_pairs(data))
    # a starter that starts from another's weights (dgan-sa from dgan) waits for that one when both are made
    later = [b for b in a.backends if _starts_from(b) in a.backends]
    for wave in ([b for b in a.backends if b not in later], later):
        with ThreadPoolExecutor(a.parallel) as pool:
            for s in pool.map(lambda b: train_one(b, a.minutes, data, a.prior, a.finish, a.variant), wave):
                r = s.get("evaluation_on_synthetic_test_pairs", s.get("evaluation_on_prior_test_pairs"))["metrics"]
                figures = {k: round(r[k], 3) for k in ("ssim", "l1", "pckh") if isinstance(r.get(k), float)}
                print(f"{s['backend']}: {s['size_bytes'] / 1e6:.1f} MB, {s['steps']} steps, {figures}")


def _starts_from(backend: str) -> str | None:
    """The backend whose starter weights this one's config starts from (its "init"), if any."""
    init = json.loads((CONFIGS / f"{backend}.json").read_text()).get("init")
    prior = json.loads(p.read_text()).get("init") if (p := CONFIGS / "prior" / f"{backend}.json").is_file() else None
    return next((Path(i).stem for i in (init, prior) if i and Path(i).parent.name in ("weights",)
                 and Path(i).stem != backend), None)


if __name__ == "__main__":
    main()
