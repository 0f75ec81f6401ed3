"""SPGNet figures: drag-to-pixels latency, training iterations/s, parameters and GFLOP.

    python benchmarks/bench_spgnet.py [--threads 2] [--skip-256]

Latency is the engine path (SpgnetBackend: framing, coarse parsing of the reference, tensors, both stages, paste
back) on a 480x720 photo with random weights (speed does not depend on them). "cached" is backend.render with the
SourceState of one encode_sources (a drag: SPATN's target half, the pose stream, the part warps and the decoder);
"full" is encode_sources + render for every move (what a drag would cost without the cache); "parsing" is
stage 1 alone (parsing_overlay on a new target). Training is SpgnetRecipe.train_step (both stages + PatchGAN D)
timed by training.bench.bench on a batch of procedural people, the perceptual loss on whichever backbone
training.losses finds.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.backends.spgnet import CONFIGS, SPGNetwork, SpgnetBackend
from engine.detect import pose_mask
from engine.presets import fit_preset

from benchlib import drag, pct  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

PHOTO_W, PHOTO_H = 480, 720


def config_of(name: str) -> dict:
    if name == "train-0.25":  # what the lead trains: --size 128x64 --width 0.25 over the default config
        return dict(SpgnetBackend.default_config, width=0.25)
    return CONFIGS[name]


def label(name: str) -> str:
    c = config_of(name)
    h, w = c["image_size"]
    return f"{h}x{w} w{c['width']}"


def latency(name: str, n_cached: int, n_full: int):
    torch.manual_seed(0)
    backend = SpgnetBackend(config=config_of(name), load_starter=False)
    backend.use_network(SPGNetwork(backend.config), "random weights")
    pose = fit_preset("standing", PHOTO_W, PHOTO_H)
    image = np.random.default_rng(0).integers(0, 255, (PHOTO_H, PHOTO_W, 3), dtype=np.uint8)
    mask = pose_mask(pose)
    targets = drag(pose, n_cached)
    state = backend.encode_sources([image], [pose], [mask])
    backend.render(state, targets[0])  # warm-up
    cached, parsing = [], []
    for t in targets:
        t0 = time.perf_counter()
        backend.render(state, t)
        cached.append((time.perf_counter() - t0) * 1000)
    for t in targets[:n_full]:
        t = t.moved("l_wrist", *(t.point("l_wrist") + 3))   # a target stage 1 has not seen yet
        t0 = time.perf_counter()
        backend.parsing_overlay(state, t)
        parsing.append((time.perf_counter() - t0) * 1000)
    full = []
    for t in targets[:n_full]:
        t0 = time.perf_counter()
        backend.render(backend.encode_sources([image], [pose], [mask]), t)
        full.append((time.perf_counter() - t0) * 1000)
    print(f"  {name:13s} {label(name):15s} cached render p50 {pct(cached, 50):7.1f} p95 {pct(cached, 95):7.1f} ms"
          f" | encode+render p50 {pct(full, 50):7.1f} p95 {pct(full, 95):7.1f} ms"
          f" | parsing only p50 {pct(parsing, 50):6.1f} ms  (n={n_cached}/{n_full})")


def synthetic_batch(b: int, size, m: int = 1):
    """Random images, poses and labels (every part present): the input of the FLOP count in sizes()."""
    h, w = size
    g = torch.Generator().manual_seed(0)
    pose = torch.rand(b, m + 1, 18, 3, generator=g) * torch.tensor([w - 1.0, h - 1.0, 1.0])
    pose[..., 2] = 1
    img = torch.rand(b, m + 1, 3, h, w, generator=g) * 2 - 1
    lab = torch.randint(0, 11, (b, m + 1, h, w), generator=g)
    return {"src_img": img[:, :m], "src_pose": pose[:, :m], "src_parsing": lab[:, :m],
            "src_mask": torch.ones(b, m, 1, h, w),
            "tgt_img": img[:, m], "tgt_pose": pose[:, m], "tgt_parsing": lab[:, m],
            "tgt_mask": torch.ones(b, 1, h, w)}


def training(name: str, batch: int, steps: int):
    from training.bench import bench

    r = bench("spgnet", config_of(name)["image_size"], batch, steps=steps, net=config_of(name))
    dt = r["ms_step"] / 1000
    print(f"  {name:13s} {label(name):15s} batch {batch:2d}: {1 / dt:6.3f} it/s ({dt:6.2f} s/step, "
          f"{batch / dt:6.2f} images/s), perceptual on {r['backbone'] or 'none'}")


def sizes(name: str):
    c = config_of(name)
    net = SPGNetwork(c).eval()
    h, w = c["image_size"]
    n = sum(p.numel() for p in net.parameters())
    stage1 = sum(p.numel() for p in net.spatn.parameters())
    b = synthetic_batch(1, (h, w))
    with torch.no_grad():
        state = net.encode_sources(b["src_img"], b["src_pose"], b["src_parsing"])
        with FlopCounterMode(display=False) as fc:
            net.render(state, b["tgt_pose"])
        render = fc.get_total_flops() / 1e9
        with FlopCounterMode(display=False) as fc:
            net.encode_sources(b["src_img"], b["src_pose"], b["src_parsing"])
        enc = fc.get_total_flops() / 1e9
    print(f"  {name:13s} {label(name):15s} {n / 1e6:6.2f} M parameters (SPATN {stage1 / 1e6:5.2f} M, "
          f"SPGNet {(n - stage1) / 1e6:5.2f} M), render {render:6.2f} GFLOP, encode_sources {enc:5.2f} GFLOP")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-256", action="store_true", help="leave out the 256x256 paper configuration")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = ["cpu-small", "train-0.25", "paper-128x64"] + ([] if args.skip_256 else ["paper-256x256"])
    print(f"SPGNet benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("parameters and FLOPs (one target, one reference):")
    for name in names:
        sizes(name)
    print("drag-to-pixels latency on a 480x720 photo (CPU):")
    for name in names:
        big = name.startswith("paper")
        latency(name, 4 if big else 20, 3 if big else 5)
    print("training (SpgnetRecipe.train_step, G + D):")
    training("cpu-small", 8, 3)
    training("train-0.25", 8, 3)
    training("paper-128x64", 2, 2)
    if not args.skip_256:
        training("paper-256x256", 1, 2)


if __name__ == "__main__":
    main()
