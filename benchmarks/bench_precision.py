"""fp32 and the CPU fast path (bf16 autocast, channels-last, folded BatchNorm, packed convolutions) side by side.

    python benchmarks/bench_precision.py [--threads 2] [--quick] [--extras]

For each neural backend at its CPU configuration (the shipped starter network) and at paper size (random
weights: speed does not depend on them):
- render: ``Engine.render`` from the cached sources (a drag: pose stream, decoder, compositing into the photo)
  on a 480x720 photo, p50 over a drag; "net" is the network's part of it (``backend.render_crop``). The fp32 and
  bf16 engines take turns on every pose of the drag, so the load of a shared machine weighs on both alike.
- auto: what ``Engine(precision="auto")`` chose for that network on this machine (its own interleaved
  micro-benchmark, engine.runtime.network_precision; measured afresh here, in a temporary cache folder).
- train: ``training.bench.bench`` iterations/s of the backend's recipe (generator, discriminators, perceptual
  backbone) on procedural people, fp32 then the fast path.
Then the person's refiner: its render of a box and a training step, fp32 and bf16 (``refiner_table``).
``--extras`` adds the other candidates measured for docs/speed.md (BatchNorm folding, packed convolutions,
thread counts, oneDNN implicit bf16). ``--quick`` leaves out the paper-size training steps (minutes).
"""
from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time

import numpy as np
import torch

from engine.presets import fit_preset
from engine.registry import backend_class
from engine.runtime import CACHE_ENV, Engine, cpu_has_bf16, cpu_model

from benchlib import drag, machine_line, pct  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

PHOTO_W, PHOTO_H = 480, 720
BACKENDS = ("dgan", "dgan-sa", "attention", "spgnet", "pnr")


def paper_config(name: str) -> tuple[str, dict]:
    """The paper-size configuration of a backend. DGAN-SA's full-resolution attention cannot be held at 256x256
    (a 65536 x 65536 score map): its paper size here is Market's 128x64."""
    mod = __import__(backend_class(name).__module__, fromlist=["CONFIGS"])
    if name == "dgan-sa":
        return "paper-128x64", mod.SA_CONFIGS["paper-128x64"]
    return "paper-256x256", mod.CONFIGS["paper-256x256"]


def engines(name: str, config: dict | None, precisions=("fp32", "bf16")) -> dict:
    """An Engine per precision on the same network: the starter's (config None) or random weights of config."""
    out = {}
    net = None
    if config is not None:
        torch.manual_seed(0)
        net = backend_class(name).build_network(config)
    for p in precisions:
        eng = Engine(name, "cpu", precision=p)
        if net is not None:
            eng.backend.use_network(copy.deepcopy(net), "random weights")
        out[p] = eng
    return out


def auto_choice(name: str, config: dict | None) -> str:
    """The precision Engine's "auto" picks for the network, measured now (a temporary cache folder: no answer
    kept from an earlier run, and the user's cache left alone)."""
    old = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory() as d:
        os.environ[CACHE_ENV] = d
        try:
            eng = Engine(name, "cpu", precision="auto")
            if config is not None:
                torch.manual_seed(0)
                eng.backend.use_network(backend_class(name).build_network(config), "random weights")
            return eng.precision
        finally:
            if old is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = old


def render_times(engs: dict, n: int, clock=time.perf_counter) -> dict:
    """p50 of engine.render and of the network alone (render_crop) per engine, the engines taking turns.
    ``clock`` time.process_time: CPU time, what an unloaded machine would take with one thread."""
    pose = fit_preset("standing", PHOTO_W, PHOTO_H)
    image = np.random.default_rng(0).integers(0, 255, (PHOTO_H, PHOTO_W, 3), dtype=np.uint8)
    targets = drag(pose, n + 1)
    for e in engs.values():
        e.set_sources([image], [pose])
        e.render(targets[0])  # encodes the sources, warms up
    full = {k: [] for k in engs}
    net = {k: [] for k in engs}
    for t in targets[1:]:
        for k, e in engs.items():
            t0 = clock()
            e.render(t)
            t1 = clock()
            e.backend.render_crop(e.state, t)
            net[k].append(1000 * (clock() - t1))
            full[k].append(1000 * (t1 - t0))
    return {k: (pct(full[k], 50), pct(net[k], 50)) for k in engs}


def train_rates(name: str, config: dict, batch: int, steps: int, cpu: bool) -> dict:
    from training.bench import bench

    size = tuple(config["image_size"])
    out = {}
    for p in ("fp32", "bf16"):
        r = bench(name, size, batch, steps=steps, net=config, precision=p)
        out[p] = 1000 / r["cpu_ms_step"] if cpu else r["it_s"]
    return out


def starter_config(name: str) -> dict:
    return dict(Engine(name, "cpu", precision="fp32").backend.config)


def fmt_size(config: dict) -> str:
    h, w = config["image_size"]
    return f"{h}x{w} w{float(config.get('width', 1.0)):g}"


def main_table(args) -> None:
    print(f"\n{'backend':9s} {'configuration':29s} | {'render fp32':>11s} {'bf16':>7s} {'ratio':>5s} | "
          f"{'net fp32':>8s} {'bf16':>7s} {'ratio':>5s} {'auto':>4s} | {'train it/s fp32':>15s} {'bf16':>6s} "
          f"{'ratio':>5s}")
    for name in filter(None, args.backends.split(",")):
        for label, config in (("cpu (starter)", None), paper_config(name)):
            cfg = config or starter_config(name)
            paper = config is not None
            r = render_times(engines(name, config), args.drag_paper if paper else args.drag, args.clock)
            (f32, n32), (f16, n16) = r["fp32"], r["bf16"]
            line = (f"{name:9s} {label + ' ' + fmt_size(cfg):29s} | {f32:9.0f}ms {f16:5.0f}ms {f32 / f16:4.2f}x | "
                    f"{n32:6.0f}ms {n16:5.0f}ms {n32 / n16:4.2f}x {auto_choice(name, config):>4s} |")
            if paper and args.quick:
                line += f" {'(--quick)':>15s}"
            else:
                batch, steps = (1, 1) if paper else (8, 3)
                t = train_rates(name, cfg, batch, steps, args.clock is time.process_time)
                line += f" {t['fp32']:11.2f} b{batch:<2d} {t['bf16']:6.2f} {t['bf16'] / t['fp32']:4.2f}x"
            print(line, flush=True)


def refiner_table(args) -> None:
    """The person's refiner (engine/refiner.py) in fp32 and in bf16 (autocast, channels-last), taking turns:
    its render of a 512x256 box (what a final render adds) and a training step of training/refine.py's batch."""
    from engine.refiner import autocast, build, layout as refiner_layout, speed_up
    from training.refine import BATCH, PATCH, _ssim

    nets = {p: speed_up(build(), p) for p in ("fp32", "bf16")}
    layout = {p: refiner_layout(p) for p in nets}
    x = {p: [t.contiguous(memory_format=layout[p]) for t in (torch.randn(1, 3, 512, 256), torch.randn(1, 3, 512, 256),
                                                             torch.rand(1, 1, 512, 256))] for p in nets}
    b = {p: [t.contiguous(memory_format=layout[p]) for t in (torch.randn(BATCH, 3, PATCH, PATCH),
                                                             torch.randn(BATCH, 3, PATCH, PATCH),
                                                             torch.rand(BATCH, 1, PATCH, PATCH))] for p in nets}
    y = torch.randn(BATCH, 3, PATCH, PATCH)
    opts = {p: torch.optim.Adam(n.parameters(), 1e-3) for p, n in nets.items()}
    render, step = {p: [] for p in nets}, {p: [] for p in nets}
    for _ in range(6):
        for p, net in nets.items():
            t = args.clock()
            with torch.inference_mode(), autocast(p):
                net(*x[p])
            render[p].append((args.clock() - t) * 1000)
            t = args.clock()
            with autocast(p):
                out = net(*b[p]).float().contiguous()
            loss = (out - y).abs().mean() + 1 - _ssim(out, y)
            opts[p].zero_grad()
            loss.backward()
            opts[p].step()
            step[p].append(args.clock() - t)
    r32, r16 = (float(np.median(render[p][1:])) for p in ("fp32", "bf16"))
    s32, s16 = (float(np.median(step[p][1:])) for p in ("fp32", "bf16"))
    print(f"\nrefiner: render of a 512x256 box {r32:.0f} ms fp32, {r16:.0f} ms bf16 ({r32 / r16:.2f}x); training step "
          f"(batch {BATCH} of {PATCH}x{PATCH}) {s32:.2f} s fp32, {s16:.2f} s bf16 ({s32 / s16:.2f}x)", flush=True)


def extras(args) -> None:
    """The other candidates: BatchNorm folding and packed convolutions on/off under bf16, threads, oneDNN's
    implicit bf16."""
    import engine.backends.base as base
    from engine.backends.attention import CONFIGS

    for step, label in (("fold_batchnorm", "BatchNorm folding"), ("pack_convolutions", "packed convolutions")):
        print(f"\n{label} (bf16 path, network render only, attention)")
        for cname in ("cpu-256x128", "paper-256x256"):
            engs = engines("attention", CONFIGS[cname])
            real = getattr(base, step)
            setattr(base, step, lambda net: 0)
            try:
                engs["bf16 without"] = engines("attention", CONFIGS[cname], ("bf16",))["bf16"]
            finally:
                setattr(base, step, real)
            del engs["fp32"]
            r = render_times(engs, 4 if cname.startswith("paper") else 10, args.clock)
            print(f"  {cname:14s} net with {r['bf16'][1]:6.0f} ms, without {r['bf16 without'][1]:6.0f} ms "
                  f"({r['bf16 without'][1] / r['bf16'][1]:.2f}x)", flush=True)

    print("\nThreads (attention cpu-256x128 and paper-256x256, network render)")
    for cname in ("cpu-256x128", "paper-256x256"):
        engs = engines("attention", CONFIGS[cname])
        res = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            r = render_times(engs, 4 if cname.startswith("paper") else 10)
            res[threads] = r
        torch.set_num_threads(args.threads)
        print("  " + f"{cname:14s} " + "  ".join(
            f"{p} 1 thread {res[1][p][1]:5.0f} ms, 2 threads {res[2][p][1]:5.0f} ms" for p in ("fp32", "bf16")),
            flush=True)

    print("\noneDNN's implicit bf16 for float32 convolutions (torch.backends.mkldnn.conv.fp32_precision = 'bf16', "
          "contiguous fp32 network) vs the bf16 path, attention, network render")
    for cname in ("cpu-256x128", "paper-256x256"):
        engs = engines("attention", CONFIGS[cname])
        engs["fp32 implicit-bf16"] = implicit = engines("attention", CONFIGS[cname], ("fp32",))["fp32"]
        backend = implicit.backend
        for method in ("render", "render_crop"):
            setattr(backend, method, _with_implicit_bf16(getattr(backend, method)))
        r = render_times(engs, 4 if cname.startswith("paper") else 10, args.clock)
        print(f"  {cname:14s} " + ", ".join(f"{k} {v[1]:.0f} ms" for k, v in r.items()), flush=True)


def _with_implicit_bf16(fn):
    def call(*a, **k):
        conv = torch.backends.mkldnn.conv
        old = conv.fp32_precision
        conv.fp32_precision = "bf16"
        try:
            return fn(*a, **k)
        finally:
            conv.fp32_precision = old
    return call


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="no paper-size training steps")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma list (default: all five; empty: none)")
    ap.add_argument("--extras", action="store_true", help="also BatchNorm folding, threads, oneDNN implicit bf16")
    ap.add_argument("--drag", type=int, default=12, help="drag moves timed at the CPU configuration")
    ap.add_argument("--drag-paper", type=int, default=4, help="drag moves timed at paper size")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by the process's CPU time (with --threads 1: what an unloaded core takes; for a "
                         "shared machine), not wall-clock")
    args = ap.parse_args(argv)
    args.clock = time.process_time if args.cpu_time else time.perf_counter
    torch.set_num_threads(args.threads)
    print(machine_line("precision benchmark: fp32 vs the CPU fast path", args.threads)
          + f", {cpu_model()}, CPU bf16 {'yes' if cpu_has_bf16() else 'no (bf16 falls back to fp32: ratios ~1)'}, "
          + ("CPU time" if args.cpu_time else "wall-clock"))
    if args.backends:
        main_table(args)
    refiner_table(args)
    if args.extras:
        extras(args)
    print(f"\nload average at the end {' '.join(f'{v:.1f}' for v in __import__('os').getloadavg())}")


if __name__ == "__main__":
    main()
