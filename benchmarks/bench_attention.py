"""Multi-scale attention figures: drag-to-pixels latency, training iterations/s, parameters and GFLOP.

    python benchmarks/bench_attention.py [--threads 2] [--skip-256]

Latency is the engine path (AttentionBackend: framing, tensors, network, paste back) on a 480x720 photo with
random weights (speed does not depend on them). "cached" is backend.render with the SourceState of one
encode_sources (a drag: the pose stream and the decoder); "full" is encode_sources + render for every move (what
a drag would cost without the cache). Training is AttentionRecipe.train_step (G and PatchGAN D steps) timed by
training.bench.bench on a batch of procedural people, the perceptual loss on whichever backbone training.losses
finds.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.backends.attention import CONFIGS, AttentionBackend, AttentionNet
from engine.presets import fit_preset

from benchlib import drag, pct  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

PHOTO_W, PHOTO_H = 480, 720


def size_label(name):
    c = CONFIGS[name]
    h, w = c["image_size"]
    return f"{h}x{w}" + (f" (padded to {max(h, w)}x{max(h, w)})" if c["pad_to_square"] else "")


def latency(name: str, n_cached: int, n_full: int):
    torch.manual_seed(0)
    backend = AttentionBackend(load_starter=False)
    backend.use_network(AttentionNet(CONFIGS[name]), "random weights")
    pose = fit_preset("standing", PHOTO_W, PHOTO_H)
    image = np.random.default_rng(0).integers(0, 255, (PHOTO_H, PHOTO_W, 3), dtype=np.uint8)
    targets = drag(pose, n_cached)
    state = backend.encode_sources([image], [pose])
    backend.render(state, targets[0])  # warm-up
    cached = []
    for t in targets:
        t0 = time.perf_counter()
        backend.render(state, t)
        cached.append((time.perf_counter() - t0) * 1000)
    full = []
    for t in targets[:n_full]:
        t0 = time.perf_counter()
        backend.render(backend.encode_sources([image], [pose]), t)
        full.append((time.perf_counter() - t0) * 1000)
    print(f"  {name:13s} {size_label(name):26s} cached render p50 {pct(cached, 50):7.1f} p95 {pct(cached, 95):7.1f} ms"
          f" | encode+render p50 {pct(full, 50):7.1f} p95 {pct(full, 95):7.1f} ms  (n={n_cached}/{n_full})")


def training(name: str, batch: int, steps: int):
    from training.bench import bench

    r = bench("attention", CONFIGS[name]["image_size"], batch, steps=steps, net=CONFIGS[name])
    dt = r["ms_step"] / 1000
    print(f"  {name:13s} {size_label(name):26s} batch {batch}  {1 / dt:6.2f} it/s ({dt:.2f} s/it, perceptual on "
          f"{r['backbone']})")


def params_and_flops(name: str):
    from training.recipes.patchgan import PatchDiscriminator

    c = CONFIGS[name]
    net = AttentionNet(c).eval()
    h, w = c["image_size"]
    ndf = max(8, round(64 * float(c["width"])))
    d = PatchDiscriminator(6, ndf)
    count = lambda m: sum(p.numel() for p in m.parameters())
    pose = torch.rand(1, 1, 18, 3) * torch.tensor([w - 1.0, h - 1.0, 1.0])
    img = torch.zeros(1, 1, 3, h, w)
    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            state = net.encode_sources(img, pose)
        enc = fc.get_total_flops()
        with FlopCounterMode(display=False) as fc:
            net.render(state, pose[:, 0])
        ren = fc.get_total_flops()
    print(f"  {name:13s} {size_label(name):26s} G {count(net):>11,d}  D {count(d):>10,d}  |  GFLOP encode "
          f"{enc / 1e9:6.1f}  render {ren / 1e9:6.1f}  total {(enc + ren) / 1e9:6.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-256", action="store_true", help="skip the paper's 256x256 configuration")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"multi-scale attention benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} with "
          f"{args.threads} threads, load average {os.getloadavg()[0]:.1f}")
    big = [] if args.skip_256 else ["paper-256x256"]
    names = ["cpu-small", "cpu-256x128", "paper-128x64"] + big

    print("\nParameters (G = generator, D = PatchGAN at 64 x width channels) and multiply-add GFLOP x2 per image")
    for name in names:
        params_and_flops(name)

    print(f"\nDrag-to-pixels latency on a {PHOTO_W}x{PHOTO_H} photo (random weights)")
    for name, n_cached, n_full in [("cpu-small", 30, 8), ("cpu-256x128", 20, 5), ("paper-128x64", 10, 4)] + \
            [(b, 3, 2) for b in big]:
        latency(name, n_cached, n_full)

    print("\nTraining iterations/s (one G and one D step, synthetic batches)")
    training("cpu-small", 8, 4)
    training("cpu-256x128", 8, 2)
    training("paper-128x64", 2, 2)
    if big:
        training("paper-256x256", 1, 1)


if __name__ == "__main__":
    main()
