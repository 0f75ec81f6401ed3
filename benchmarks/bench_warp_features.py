"""The deformable skips' two paths side by side: every part sampled over the whole map, and each part over its window.

    python benchmarks/bench_warp_features.py [--steps 4] [--rounds 2] [--threads 1]

For each recipe that warps features (dgan, dgan-sa, spgnet at their starters' configurations, batch 8 of
procedural people, the precision `auto` picks) the training step's iterations per second with
``engine.backends.layers.warp_features`` as it is and with the plain path in its place, alternated in rounds in
one process so both see the same machine; and the two paths alone, forward and backward, over DGAN's four warped
levels. CPU seconds of this process (all threads).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends import dgan_net, layers  # noqa: E402
from training.bench import bench  # noqa: E402


def plain(feat, affines, masks, sampling="bilinear"):
    return layers._warp_everywhere(feat, affines.float(), masks, sampling)


def use(path) -> None:
    layers.warp_features = dgan_net.warp_features = path


def levels_alone(path, steps: int) -> float:
    """ms of CPU for one forward and backward over DGAN's warped levels (128x64 to 16x8, 16-128 channels)."""
    from engine.presets import fit_preset
    from training.selfpairs import perturb_pose

    rng = np.random.default_rng(0)
    srcs = [fit_preset(n, 64, 128) for n in ("standing", "walking", "waving", "arms-up", "hands-on-hips",
                                              "wide-stance", "t-pose", "standing")]
    src = torch.tensor(np.stack([np.c_[p.xy, p.present] for p in srcs]), dtype=torch.float32)
    tgt = torch.tensor(np.stack([np.c_[q.xy, q.present] for q in (perturb_pose(p, rng) for p in srcs)]),
                       dtype=torch.float32)
    affines, masks = layers.part_warp_tensors(src, tgt, (128, 64))
    feats = [torch.randn(8, c, 128 // 2 ** i, 64 // 2 ** i, requires_grad=True)
             for i, c in enumerate((16, 32, 64, 128))]
    times = []
    for _ in range(steps + 1):
        t0 = time.process_time()
        total = 0
        for i, f in enumerate(feats):
            a = layers.scale_affines(affines, f.shape[-2] / 128)
            m = layers.resize_masks(masks, tuple(f.shape[-2:]))
            total = total + path(f, a, m).square().mean()
        total.backward()
        times.append(time.process_time() - t0)
    return 1000 * float(np.median(times[1:]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    windowed = layers.warp_features
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, {args.threads} "
          f"thread(s), torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    print("| what | every part everywhere | each part over its window | ratio |")
    print("|---|---|---|---|")
    for name in ("dgan", "dgan-sa", "spgnet"):
        rates = {"plain": [], "windowed": []}
        for _ in range(args.rounds):
            for label, path in (("plain", plain), ("windowed", windowed)):
                use(path)
                rates[label].append(1000 / bench(name, steps=args.steps)["cpu_ms_step"])
        a, b = max(rates["plain"]), max(rates["windowed"])
        print(f"| {name} training step, it/s of CPU | {a:.2f} | {b:.2f} | {b / a:.2f}x |")
    use(windowed)
    a, b = levels_alone(plain, args.steps), levels_alone(windowed, args.steps)
    print(f"| DGAN's four warped levels, batch 8, forward + backward, fp32 | {a:.0f} ms | {b:.0f} ms | {a / b:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
