"""DGAN / DGAN-SA figures: drag-to-pixels latency, training iterations per second, parameter counts.

    python benchmarks/bench_dgan.py [--quick] [--threads N]

Latency: backend.render (crop, pose stream, part warps, decoder, paste back into the photo) with the cached
source state, against a full encode_sources + render per move (what every drag step would cost without the
cache). Random weights: latency does not depend on training. A "drag" is small moves of the right wrist on a
real photo (shared data; a painted figure when it is absent). Training: recipe.train_step timed by
training.bench.bench on a batch of procedural people, including the discriminator and the NN loss. ``--quick``
leaves out the paper sizes (minutes on a 2-core CPU).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from engine.backends.dgan import CONFIGS, SA_CONFIGS, DganBackend, DganSaBackend
from engine.backends.dgan_net import count_parameters, gflops_estimate, gflops_parts
from engine.presets import fit_preset

from benchlib import drag, pct  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def photo_and_pose():
    """A real DeepFashion photo with its mediapipe pose, or a painted figure when the shared data is absent."""
    path = SHARED / "fashion-sources" / "women1.jpg"
    if path.is_file():
        from engine.detect import detect_pose
        from engine.images import load_image

        img = load_image(path)
        return "women1.jpg", img, detect_pose(img, path.name).pose
    import cv2

    pose = fit_preset("standing", 176, 256)
    img = np.full((256, 176, 3), 200, np.uint8)
    for a, b in ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13), (1, 8), (1, 11)):
        cv2.line(img, tuple(map(int, pose.xy[a])), tuple(map(int, pose.xy[b])), (40, 60, 160), 9)
    return "painted figure", img, pose


def latency(cls, config, img, pose, n):
    """n drag moves, each timed twice in turn: render from the cached state, then encode + render (interleaved,
    so that the load of a shared machine weighs on both alike)."""
    backend = cls(load_starter=False)
    torch.manual_seed(0)
    backend.use_network(cls.build_network(config), "random init")
    targets = drag(pose, n + 1)
    state = backend.encode_sources([img], [pose])
    backend.render(state, targets[0])  # warm-up
    cached, full = [], []
    for t in targets[1:]:
        t0 = time.perf_counter()
        backend.render(state, t)
        t1 = time.perf_counter()
        backend.render(backend.encode_sources([img], [pose]), t)
        t2 = time.perf_counter()
        cached.append(1000 * (t1 - t0))
        full.append(1000 * (t2 - t1))
    return cached, full


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small CPU configuration only")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"DGAN benchmark, {date.today()}, {platform.processor() or platform.machine()}, "
          f"{args.threads} torch threads, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} "
          f"(a shared machine: other jobs slow every figure down)")

    print("\n(3) parameters (generator); GFLOP of the convolutions: all / what a cached render runs")
    rows = [("dgan", k, v) for k, v in CONFIGS.items()] + [("dgan-sa", k, v) for k, v in SA_CONFIGS.items()]
    for name, key, cfg in rows:
        with torch.device("meta"):
            n = count_parameters(DganBackend.build_network(cfg))
        parts = gflops_parts(cfg)
        print(f"  {name:8s} {key:14s} {cfg['image_size'][0]}x{cfg['image_size'][1]} width {cfg['width']:<5} "
              f"{n:>12,d} parameters  {gflops_estimate(cfg):7.2f} / {parts['pose'] + parts['decoder']:7.2f} GFLOP")

    label, img, pose = photo_and_pose()
    print(f"\n(1) drag-to-pixels latency on {label} ({img.shape[1]}x{img.shape[0]}), ms, random weights")
    runs = [(DganBackend, "cpu-small", 30), (DganSaBackend, "cpu-small", 10)]
    if not args.quick:
        # The variant's paper is Market-only (128x64). Its second attention layer sits at full resolution: at
        # 256x256 that is a 65536 x 65536 score map per image (about 600 GFLOP), not run here.
        runs += [(DganBackend, "paper-128x64", 4), (DganSaBackend, "paper-128x64", 3),
                 (DganBackend, "paper-256x256", 3)]
    for cls, key, n in runs:
        cfg = cls.configs[key]
        cached, full = latency(cls, cfg, img, pose, n)
        print(f"  {cls.name:8s} {key:14s} cached render p50 {pct(cached, 50):8.1f}  p95 {pct(cached, 95):8.1f} | "
              f"encode+render p50 {pct(full, 50):8.1f}  p95 {pct(full, 95):8.1f} | the cache saves "
              f"{pct(full, 50) - pct(cached, 50):7.1f} ms per move ({pct(full, 50) / pct(cached, 50):.2f}x), n={n}")

    print("\n(2) training iterations per second (G + D steps, NN loss)")
    trains = [("dgan", CONFIGS["cpu-small"], 8, 3), ("dgan-sa", SA_CONFIGS["cpu-small"], 8, 3)]
    if not args.quick:
        trains += [("dgan", CONFIGS["paper-128x64"], 2, 1), ("dgan-sa", SA_CONFIGS["paper-128x64"], 2, 1),
                   ("dgan", CONFIGS["paper-256x256"], 1, 1)]
    from training.bench import bench

    for name, cfg, batch, steps in trains:
        r = bench(name, cfg["image_size"], batch, steps=steps, net=cfg)
        size = f"{cfg['image_size'][0]}x{cfg['image_size'][1]}"
        print(f"  {name:8s} {size:8s} width {cfg['width']:<5} batch {batch}: {r['it_s']:6.3f} it/s "
              f"({batch * r['it_s']:6.2f} images/s), NN-loss backbone {r['backbone']}")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
