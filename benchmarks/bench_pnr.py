"""pNR figures: drag-to-pixels latency with 1 and 5 references, training iterations/s, parameter counts.

    python benchmarks/bench_pnr.py [--threads 1] [--skip-256]

Latency is the engine path (PnrBackend: framing, tensors, network, paste back) on a 720x480 photo with random
weights (speed does not depend on them). "cached" is backend.render with the SourceState from one
encode_sources (a drag: the target pose's extractor and the generator only); "full" is encode_sources + render
for every move (what a drag would cost without the cache: both extractors on every reference and the
regression). Training is PnrRecipe.train_step timed by training.bench.bench on a batch of procedural people
(perceptual loss on whichever backbone training.losses finds).

Every figure is given twice: wall-clock time, and the process's CPU time. On a machine shared with other jobs
the wall clock measures the queue as much as the model; with one thread, CPU time is what the same call takes
on an idle core, so it is the figure to compare between runs (with 2 threads on an idle 2-core CPU expect wall
time between 0.5x and 1x of it).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from engine.backends.pnr import CONFIGS, PnrBackend, PnrNet
from engine.presets import fit_preset

from benchlib import drag, pct  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

PHOTO_W, PHOTO_H = 480, 720
REFERENCE_POSES = ("standing", "walking", "arms-up", "wide-stance", "hands-on-hips")


class Timer:
    """Wall-clock and process CPU milliseconds of a block."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = (time.perf_counter() - self.w) * 1000
        self.cpu = (time.process_time() - self.c) * 1000


def fmt(label, walls, cpus):
    return (f"{label} wall p50 {pct(walls, 50):6.0f} p95 {pct(walls, 95):6.0f} ms, "
            f"cpu p50 {pct(cpus, 50):6.0f} p95 {pct(cpus, 95):6.0f} ms")


def latency(name: str, refs: int, n_cached: int, n_full: int):
    torch.manual_seed(0)
    backend = PnrBackend(load_starter=False)
    backend.use_network(PnrNet(CONFIGS[name]), "random weights")
    rng = np.random.default_rng(0)
    poses = [fit_preset(p, PHOTO_W, PHOTO_H) for p in REFERENCE_POSES[:refs]]
    images = [rng.integers(0, 255, (PHOTO_H, PHOTO_W, 3), dtype=np.uint8) for _ in poses]
    targets = drag(poses[0], n_cached)
    state = backend.encode_sources(images, poses)
    backend.render(state, targets[0])  # warm-up
    cached = []
    for t in targets:
        with Timer() as tm:
            backend.render(state, t)
        cached.append(tm)
    full = []
    for t in targets[:n_full]:
        with Timer() as tm:
            backend.render(backend.encode_sources(images, poses), t)
        full.append(tm)
    size = "x".join(map(str, CONFIGS[name]["image_size"]))
    print(f"  {name:13s} {size:7s} refs {backend.references_used(state)} | "
          + fmt("cached render", [t.wall for t in cached], [t.cpu for t in cached]) + " | "
          + fmt("encode+render", [t.wall for t in full], [t.cpu for t in full]))


def training(name: str, batch: int, m: int, steps: int, unsupervised: bool = False):
    from training.bench import bench

    config = dict(CONFIGS[name])
    if unsupervised:
        config.pop("n_res")  # the recipe's unsupervised default, N = 2
    r = bench("pnr", config["image_size"], batch, steps=steps, num_sources=m, net=config,
              recipe={"unsupervised": unsupervised})
    wall, cpu = r["ms_step"] / 1000, r["cpu_ms_step"] / 1000
    mode = "unsupervised" if unsupervised else f"M={m}"
    print(f"  {name:13s} batch {batch} {mode:12s} wall {1 / wall:5.2f} it/s ({wall:5.2f} s/it), "
          f"cpu {1 / cpu:5.2f} it/s ({cpu:5.2f} s/it); perceptual on {r['backbone']}")


def params(name: str):
    from training.recipes.pnr import PnrRecipe

    net = PnrNet(CONFIGS[name])
    count = lambda m: sum(p.numel() for p in m.parameters()) / 1e6
    rec = PnrRecipe(dict(CONFIGS[name]), {})
    print(f"  {name:26s} f_a {count(net.appearance):6.2f}M  f_p {count(net.pose):6.2f}M  G {count(net.generator):6.2f}M"
          f"  total {count(net):6.2f}M | D_I {count(rec.d_i):5.2f}M  D_K {count(rec.d_k):5.2f}M")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-256", action="store_true", help="skip the 256x256 configuration")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"pNR benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} with {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    big = [] if args.skip_256 else ["paper-256x256"]

    print("\nParameters (D and the discriminators' width scale with `width`)")
    for name in ["cpu-small", "paper-128x64", "paper-128x64-unsupervised"] + big:
        params(name)

    print(f"\nDrag-to-pixels latency on a {PHOTO_W}x{PHOTO_H} photo (random weights)")
    for name, n_cached, n_full in [("cpu-small", 20, 5), ("paper-128x64", 10, 4)] + [(b, 4, 3) for b in big]:
        for refs in (1, 5):
            latency(name, refs, n_cached, n_full)

    print("\nTraining iterations/s (G + D_I + D_K steps, synthetic batches)")
    training("cpu-small", 8, 1, 3)
    training("cpu-small", 8, 5, 2)
    training("cpu-small", 8, 1, 3, unsupervised=True)
    training("paper-128x64", 2, 1, 3)


if __name__ == "__main__":
    main()
