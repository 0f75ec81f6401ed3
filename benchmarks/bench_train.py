"""Training iterations per second of every installed recipe (training/bench.py), on this machine.

    python benchmarks/bench_train.py [--batch 8] [--steps 3] [--threads N] [--size HxW] [--width W]

Each backend runs at its own small CPU configuration (the default_config the app uses: its image size and width)
unless --size / --width are given; the batch is procedural people. One warm-up step, then --steps timed steps.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch

from engine.registry import backend_class
from training.bench import HEADER, bench, row
from training.loop import trainable_backends
from training.synth import parse_size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--size", type=parse_size, help="HxW for every backend (default: each backend's own)")
    p.add_argument("--width", type=float, help="width multiplier for every backend (default: each backend's own)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} thread(s), load average {load:.1f}, device {args.device}")
    print(HEADER)
    for name in trainable_backends():
        cfg = backend_class(name).default_config
        size = args.size or tuple(cfg["image_size"])
        r = bench(name, size, args.batch, args.width, args.steps, device=args.device)
        if args.width is None:
            r["width"] = cfg.get("width")
        print(row(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
