"""Quality figures on a real person: the shared dance video, the "train on this person" workflow on a CPU.

    .venv/bin/python benchmarks/eval_dance.py [--backends attention pnr ...] [--minutes 10] [--parallel 2]

1. `poseeditor-train prepare` the video at 256x128 (time split: the last ~20% of frames are the test set);
2. the warp backend's figures on the test pairs (the no-training baseline);
3. per backend: its starter weights' figures, then `fit --init <starter> --time-budget M` on the training
   frames with the settings "Train on This Person" uses (batch, augmentation, each paper's GAN schedule, one
   CPU thread per run as the app gives its training child on a 2-core machine), then the fine-tuned weights'
   figures: the network's own crop (as the papers score it) and the person put into the source frame (what
   the app shows, `evaluate --composite person`).
Every evaluation is `poseeditor-train evaluate --limit 100` (SSIM with the reference settings, L1, PCKh with
mediapipe on the generated images). Prints a Markdown table; work files go to build/dance/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "dance-video" / "dance_train_150f.mp4"
BUILD = ROOT / "build" / "dance"
DATA = BUILD / "dance-256x128"
TRAIN = [sys.executable, "-m", "training.cli"]
LIMIT = "100"
MULTI_SHOT = ("pnr", "spgnet")


def run(cmd) -> str:
    print("$", " ".join(map(str, cmd)), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")
    return r.stdout


def evaluate(target, out: Path, backend: str | None = None, sources: int = 1, composite: str = "crop") -> dict:
    cmd = TRAIN + ["evaluate"] + ([target] if target else []) + ["--data", DATA, "--limit", LIMIT, "-o", out,
                                                                 "--composite", composite]
    if backend:
        cmd += ["--backend", backend]
    if sources > 1:
        cmd += ["--num-sources", str(sources)]
    run(cmd)
    return json.loads((out / "report.json").read_text())["metrics"]


def one_backend(backend: str, minutes: float, gan_start: int = 0) -> dict:
    starter = ROOT / "resources" / "weights" / f"{backend}.safetensors"
    row = {"backend": backend}
    if starter.is_file():
        row["starter"] = evaluate(starter, BUILD / f"{backend}-starter")
    fit = TRAIN + ["fit", "--backend", backend, "--data", DATA, "--runs-dir", BUILD / "runs", "--time-budget",
                   str(minutes), "--batch", "8", "--augment", "--val-every", "100", "--val-pairs", "16",
                   "--grid-every", "200", "--ckpt-every", "200", "--steps", "100000", "--no-progress",
                   "--gan-start-step", str(gan_start)]
    if starter.is_file():
        fit += ["--init", starter]
    run_dir = Path(run(fit).strip().splitlines()[-1])
    steps = max(json.loads(x).get("step", 0) for x in (run_dir / "stats.jsonl").read_text().splitlines())
    row["tuned"] = evaluate(run_dir, BUILD / f"{backend}-tuned")
    row["tuned_person"] = evaluate(run_dir, BUILD / f"{backend}-tuned-person", composite="person")
    if backend in MULTI_SHOT:  # the same weights given 3 and 5 photos of the person
        for m in (3, 5):
            row[f"tuned_{m}"] = evaluate(run_dir, BUILD / f"{backend}-tuned-{m}", sources=m)
    row["steps"], row["minutes"], row["run"], row["gan_start_step"] = steps, minutes, str(run_dir), gan_start
    return row


def fmt(m: dict | None) -> str:
    if not m:
        return "n/a"
    return f"{m['ssim']:.3f} / {m['l1']:.3f} / {m['pckh']:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", nargs="*", default=["attention", "dgan", "dgan-sa", "spgnet", "pnr"])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--gan-start-step", type=int, default=0,
                    help="start the GAN losses late (the app does not: 0, the papers' schedule, measured no worse)")
    a = ap.parse_args()
    if not (DATA / "dataset.json").exists():
        run(TRAIN + ["prepare", VIDEO, "-o", DATA, "--size", "256x128"])
    warp = evaluate(None, BUILD / "warp", backend="warp")
    with ThreadPoolExecutor(a.parallel) as pool:
        rows = list(pool.map(lambda b: one_backend(b, a.minutes, a.gan_start_step), a.backends))
    (BUILD / "results.json").write_text(json.dumps({"warp": warp, "rows": rows}, indent=1))
    print("\n| backend | starter weights SSIM / L1 / PCKh | after training on the person | the same, as the app "
          "shows it | CPU time, steps |")
    print("|---|---|---|---|---|")
    print(f"| warp (no training) | {fmt(warp)} | - | - | - |")
    for r in rows:
        print(f"| {r['backend']} | {fmt(r.get('starter'))} | {fmt(r['tuned'])} | {fmt(r['tuned_person'])} | "
              f"{r['minutes']:g} min, {r['steps']} steps |")
        for m in (3, 5):
            if f"tuned_{m}" in r:
                print(f"| {r['backend']}, {m} references | | {fmt(r[f'tuned_{m}'])} | | (same weights) |")


if __name__ == "__main__":
    main()
