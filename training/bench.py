"""Training speed of each backend's recipe: iterations per second of ``recipe.train_step``.

    poseeditor-train bench --backend all --size 128x64 --batch 8 [--width 0.25] [--steps 5]

The batch is made of procedural people (training/synth.py), so the figures need no dataset and measure the
same work a real batch costs (poses, masks and part labels are real, not random noise).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from engine.errors import PoseEditorError


def make_batch(size=(128, 64), batch: int = 8, num_sources: int = 1, seed: int = 0) -> dict:
    """A batch in the recipes' format (training/recipes/base.py) of procedural people, one person per item."""
    from .synth import synth_image

    def item(identity, index):
        img, labels, pose = synth_image(seed, identity, index, tuple(size))
        t_img = torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1)
        t_pose = torch.from_numpy(np.concatenate([pose.xy, pose.present[:, None]], 1).astype(np.float32))
        t_mask = torch.from_numpy((labels > 0).astype(np.float32))[None]
        return t_img, t_pose, t_mask, torch.from_numpy(labels.astype(np.int64))

    out: dict[str, list] = {k: [] for k in ("src_img", "src_pose", "src_mask", "src_parsing",
                                             "tgt_img", "tgt_pose", "tgt_mask", "tgt_parsing")}
    for b in range(batch):
        srcs = [item(b, m) for m in range(num_sources)]
        for j, key in enumerate(("img", "pose", "mask", "parsing")):
            out[f"src_{key}"].append(torch.stack([s[j] for s in srcs]))
        for j, v in enumerate(item(b, num_sources)):
            out[f"tgt_{('img', 'pose', 'mask', 'parsing')[j]}"].append(v)
    return {k: torch.stack(v) for k, v in out.items()}


def bench(backend: str, size=(128, 64), batch: int = 8, width: float | None = None, steps: int = 5,
          warmup: int = 1, device: str = "cpu", num_sources: int = 1, net: dict | None = None,
          recipe: dict | None = None, precision: str = "auto") -> dict:
    """Time ``steps`` training steps after ``warmup``; returns the figures.

    ``net`` is the network config and ``recipe`` the recipe's options (as in ``fit``'s config). ``ms_step`` is
    wall-clock time per step, ``cpu_ms_step`` the process's CPU time per step (all threads), and ``backbone``
    the name of the perceptual / NN-loss backbone the recipe found (None without one). ``precision`` (auto |
    fp32 | bf16) is the training loop's (training/precision.py), resolved into the result's ``precision``."""
    from engine.runtime import pick_device

    from .loop import get_recipe_class, seed_everything, to_device
    from .precision import Amp

    from .setup_run import check_network_size

    cls = get_recipe_class(backend)
    dev = torch.device(pick_device(device))
    cfg = dict(net or {}, image_size=[int(size[0]), int(size[1])])
    if width is not None:
        cfg["width"] = float(width)
    check_network_size(cls, cfg)  # as fit does: a width of 100 grew to 23 GB before the machine killed it
    seed_everything(0)
    rec = cls(cfg, dict(recipe or {}), dev)
    rec.train(True)
    amp = Amp.for_recipe(rec, dev, precision)
    data = to_device(make_batch(size, batch, num_sources), dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for i in range(warmup):
        with amp.step(rec.optimizers()):
            rec.train_step(data, i)
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        with amp.step(rec.optimizers()):
            losses = rec.train_step(data, warmup + i)
    sync()
    dt, cpu = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in rec.modules().items()}
    # DGAN and SPGNet hold their backbone, attention and pNR a Perceptual loss around it (SPGNet: None if off)
    backbone = getattr(rec, "backbone", None)
    if backbone is None:
        backbone = getattr(getattr(rec, "perceptual", None), "backbone", None)
    return {"backend": backend, "size": list(size), "batch": batch, "width": width, "device": str(dev),
            "precision": amp.precision,
            "it_s": 1.0 / dt, "ms_step": dt * 1000, "cpu_ms_step": cpu * 1000,
            "generator_params": params.get("generator", 0), "total_params": sum(params.values()),
            "loss": float(losses.get("loss", float("nan"))), "backbone": getattr(backbone, "name", None)}


HEADER = (f"{'backend':10s} {'size':>8s} {'batch':>5s} {'width':>5s} {'it/s':>7s} {'ms/step':>8s} "
          f"{'G params':>9s} {'all params':>10s} {'precision':>9s}")


def row(r: dict) -> str:
    w = "-" if r["width"] is None else f"{r['width']:g}"
    return (f"{r['backend']:10s} {r['size'][0]:>4d}x{r['size'][1]:<3d} {r['batch']:>5d} {w:>5s} {r['it_s']:>7.2f} "
            f"{r['ms_step']:>8.0f} {r['generator_params'] / 1e6:>8.2f}M {r['total_params'] / 1e6:>9.2f}M "
            f"{r['precision']:>9s}")


def names(arg: str) -> list[str]:
    """The backends ``--backend`` names, each known and trainable here (checked before the table starts)."""
    from .loop import get_recipe_class, trainable_backends

    if arg == "all":
        found = trainable_backends()
        if not found:
            raise PoseEditorError("no trainable backend is installed")
        return found
    found = [n.strip() for n in arg.split(",") if n.strip()]
    if not found:  # "" or "," printed an empty table and exit status 0
        raise PoseEditorError(f"--backend {arg!r} names no backend: give a backend, a comma list or all")
    for name in found:
        get_recipe_class(name)
    return found


# ----- CLI ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    from .protocol import MAX_SOURCES
    from .synth import int_in, parse_size

    p.description = "Training iterations per second of each backend (procedural batch, no dataset needed)."
    p.add_argument("--backend", default="all", help="a backend, a comma list, or all (default)")
    p.add_argument("--size", type=parse_size, default=(128, 64), help="HxW (default 128x64)")
    p.add_argument("--batch", type=int_in(1, 4096), default=8, help="batch size (default 8)")
    p.add_argument("--width", type=float, help="width multiplier (default: the backend's)")
    p.add_argument("--steps", type=int_in(1, 10 ** 6), default=5,
                   help="timed steps (default 5, after one warm-up step)")
    p.add_argument("--num-sources", type=int_in(1, MAX_SOURCES), default=1)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="auto (default: bf16 on a CPU that has it; env POSEEDITOR_PRECISION) | fp32 | bf16")


def run(args) -> int:
    chosen = names(args.backend)
    for k, name in enumerate(chosen):
        r = bench(name, args.size, args.batch, args.width, args.steps, device=args.device,
                  num_sources=args.num_sources, precision=args.precision)
        if k == 0:  # after the first backend's checks: a refused --width is its one line, with no table above it
            print(HEADER, flush=True)
        print(row(r), flush=True)
    return 0
