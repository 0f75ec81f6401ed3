"""The training loop behind ``poseeditor-train fit``: any backend's Recipe, one loop.

    run_dir = fit({"backend": "dgan", "data": "datasets/dance", "steps": 2000}, progress=print)

What a run does, step by step: take the next batch of the resumable data order, ``recipe.train_step``, write a
stats row (stats.jsonl, flushed: the app reads it as progress), and every N steps validate on the test pairs
(SSIM, mask-SSIM, L1, PSNR; PCKh when selecting by it), keep the best generator as best.safetensors, save an
image grid and a checkpoint. A time budget, ``stop_after``, SIGINT/SIGTERM or a progress callback returning a
true value stop it after the current step with a final checkpoint; ``resume`` continues a run from its newest
checkpoint with the same step, optimiser states, random states and data order, so it goes on exactly as an
uninterrupted run would (deterministic on the CPU).

Options are DEFAULTS below (the CLI's flags); a --config JSON file may hold any of them plus "net" (network
config overrides) and "recipe" (loss weights, learning rates, ...) dicts; flags given on the command line win.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from engine.errors import DatasetError, PoseEditorError

from . import checkpoint as ckpt
from .precision import Amp
from .run_dir import Stats, new_run_dir, read_options, write_options

log = logging.getLogger(__name__)

DEFAULTS = {
    "backend": None,          # recipe / engine backend name
    "data": None,             # dataset folder
    "config": None,           # JSON file (or dict): option values plus "net" and "recipe" dicts
    "resume": None,           # run folder or checkpoint file
    "runs_dir": "runs",
    "steps": 10000,           # total training steps (a resumed run counts from its checkpoint's step)
    "batch": 8,
    "size": None,             # (H, W) of the network; default: the dataset's image size (or --init's)
    "width": None,            # the backend's width multiplier
    "num_sources": 1,
    "val_every": 500,
    "grid_every": 500,
    "ckpt_every": 1000,
    "select_by": "ssim",      # ssim | mask_ssim | l1 | psnr | pckh
    "seed": 0,
    "device": "auto",
    "time_budget": None,      # minutes
    "init": None,             # engine weights to start from (fine-tuning)
    "augment": False,         # flip + colour jitter of the training pairs
    "workers": 0,             # data loader worker processes
    "val_pairs": 64,          # test pairs used by each validation (the first N, fixed)
    "grid_size": 8,           # pairs shown in an image grid
    "keep_checkpoints": 3,
    "amp": True,              # mixed precision as --precision says; False: fp32
    "precision": "auto",      # auto (bf16 on a CPU that has it, half on CUDA) | fp32 | bf16 (training/precision.py)
    "stop_after": None,       # stop after this many steps of this invocation (as a signal would)
    "label": None,            # label of the exported weights
    "net": {},                # network config overrides (merged over the recipe's and backend's defaults)
    "recipe": {},             # recipe options (loss weights, learning rates, GAN kind, ...)
    "command": None,          # the command line, recorded in training_options.json
    "progress_bar": "auto",   # auto (when stderr is a terminal) | on | off
}
# Options that define what is trained: a resumed run keeps its own, and giving a different value is an error.
FIXED_ON_RESUME = ("backend", "data", "size", "width", "num_sources", "batch", "seed", "net", "recipe", "augment",
                   "init")
# Options that apply to one invocation only: a resumed run does not inherit them.
PER_INVOCATION = ("stop_after", "time_budget", "resume", "command", "progress_bar")
METRICS = ("ssim", "mask_ssim", "l1", "psnr", "pckh")


class TrainingError(PoseEditorError):
    """Options or states a run cannot start from."""


# ================================================================================================================
# Options
# ================================================================================================================
def _read_config(config) -> dict:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    p = Path(config)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise TrainingError(f"{p}: cannot read the config file ({e.strerror or e})") from None
    except ValueError as e:
        raise TrainingError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TrainingError(f"{p}: the config must be a JSON object")
    return data


def resolve_options(options: dict) -> dict:
    """DEFAULTS, then the config file's values, then the given options that are not None."""
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in DEFAULTS]
    if unknown:
        raise TrainingError(f"unknown option(s): {', '.join(sorted(unknown))}")
    cfg = _read_config(given.get("config"))
    bad = [k for k in cfg if k not in DEFAULTS or k in ("config", "resume")]
    if bad:
        raise TrainingError(f"{given.get('config')}: unknown key(s) {', '.join(sorted(bad))} "
                            f"(allowed: net, recipe and the fit options)")
    opts = dict(DEFAULTS)
    opts.update(cfg)
    for k in ("net", "recipe"):  # dicts merge: a flag like --width adds to the config's net dict
        if k in given:
            given[k] = {**opts.get(k, {}), **given[k]}
    opts.update(given)
    if opts["config"] is not None and not isinstance(opts["config"], dict):
        opts["config"] = str(opts["config"])
    opts["_given"] = sorted(given)
    if opts["select_by"] not in METRICS:
        raise TrainingError(f"--select-by must be one of {', '.join(METRICS)}, not {opts['select_by']!r}")
    for k in ("steps", "batch", "num_sources", "val_every", "grid_every", "ckpt_every", "val_pairs"):
        if int(opts[k]) < 1:
            raise TrainingError(f"{k.replace('_', '-')} must be at least 1, not {opts[k]}")
    if opts["size"] is not None:
        opts["size"] = [int(v) for v in opts["size"]]
    return opts


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("poseeditor", "torch", "torchvision", "numpy", "safetensors", "mediapipe"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def trainable_backends() -> list[str]:
    from .recipes.base import recipe_names

    return recipe_names()


def get_recipe_class(name: str):
    from .recipes.base import _RECIPES, recipe_class

    try:
        return recipe_class(name)
    except KeyError:
        raise TrainingError(f"unknown backend '{name}' for training; trainable: "
                            f"{', '.join(trainable_backends()) or 'none yet'}") from None
    except (ImportError, AttributeError) as e:
        known = f" (its recipe {_RECIPES.get(name)} cannot be imported: {e})"
        raise TrainingError(f"backend '{name}' cannot be trained here{known}") from None


# ================================================================================================================
# Devices, DDP and AMP
# ================================================================================================================
class Distributed:
    """torchrun's environment: one process per device when WORLD_SIZE > 1, else a single process.

    Gradients are averaged across processes by a hook on every trained parameter, which is what
    DistributedDataParallel does, but without wrapping the modules: a recipe calls its networks (and their
    encode_sources / render methods) as it likes and still trains data-parallel. Every rank runs the same
    sequence of backward passes (the recipes are deterministic in what they call), so the all-reduces match.
    """

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.active = False
        self._hooks = []

    @property
    def main(self) -> bool:
        return self.rank == 0

    def init(self, device_pref: str) -> str | None:
        """Start the process group; returns the device this rank must use (None: choose as usual)."""
        if self.world <= 1:
            return None
        import torch.distributed as dist

        use_cuda = torch.cuda.is_available() and device_pref != "cpu"
        dist.init_process_group("nccl" if use_cuda else "gloo")
        self.active = True
        if use_cuda:
            torch.cuda.set_device(self.local_rank)
            return f"cuda:{self.local_rank}"
        return "cpu"

    def attach(self, modules: dict) -> None:
        if not self.active:
            return
        import torch.distributed as dist

        world = self.world

        def average(p):
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad.div_(world)

        for m in modules.values():
            for t in list(m.parameters()) + list(m.buffers()):
                dist.broadcast(t.data, 0)  # identical starting states (rank 0's)
            for p in m.parameters():
                if p.requires_grad:
                    self._hooks.append(p.register_post_accumulate_grad_hook(average))

    def any(self, flag: bool) -> bool:
        """True on every rank when any rank says True (a stop must be agreed, or the others would wait)."""
        if not self.active:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def gather(self, obj):
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, 0)
        return box[0]

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        if self.active:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.active = False


# ================================================================================================================
# Stopping: signals, time budget
# ================================================================================================================
class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop finishes its step, checkpoints and returns. A second Ctrl+C aborts."""

    def __init__(self):
        self.reason: str | None = None
        self._old = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled in the main thread (fit() called from a worker thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.reason == "signal":
            signal.signal(signum, self._old.get(signum, signal.SIG_DFL))
            raise KeyboardInterrupt
        self.reason = "signal"
        print(f"\nposeeditor-train: {signal.Signals(signum).name}: stopping after this step with a checkpoint "
              f"(again to abort)", file=sys.stderr, flush=True)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class ProgressBar:
    """One updating line on stderr: step, bar, losses, it/s, time left. Plain lines when not a terminal."""

    def __init__(self, total: int, mode: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mode = "tty" if (mode == "on" or (mode == "auto" and tty)) else ("lines" if mode != "off" else "off")
        self.total = total
        self._last = 0.0

    def update(self, row: dict, force: bool = False) -> None:
        if self.mode == "off":
            return
        now = time.monotonic()
        interval = 0.25 if self.mode == "tty" else 30.0
        if not force and now - self._last < interval:
            return
        self._last = now
        step, total = row["step"], self.total
        frac = min(1.0, step / max(total, 1))
        losses = " ".join(f"{k} {v:.4g}" for k, v in row.items()
                          if isinstance(v, float) and k not in ("elapsed", "it_s", "data_s") and "loss" in k)
        its = row.get("it_s") or 0.0
        eta = (total - step) / its if its > 0 else 0.0
        text = (f"step {step}/{total} {frac * 100:5.1f}% {losses} | {its:.2f} it/s, "
                f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d} left")
        if self.mode == "tty":
            width = 20
            bar = "#" * int(frac * width) + "." * (width - int(frac * width))
            self.stream.write(f"\r[{bar}] {text}\033[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.mode == "off":
            return
        self.stream.write(("\r\033[K" if self.mode == "tty" else "") + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.mode == "tty":
            self.stream.write("\n")
            self.stream.flush()


# ================================================================================================================
# Helpers
# ================================================================================================================
def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


@contextmanager
def preserved_rng():
    """Run something (validation, grids) without changing the training's random sequence."""
    state = ckpt.rng_state()
    try:
        yield
    finally:
        ckpt.set_rng_state(state)


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def collate(items: list[dict]) -> dict:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def pose_from_tensor(t: torch.Tensor, width: int, height: int):
    from engine.pose import Pose

    a = t.detach().float().cpu().numpy()
    return Pose(a[:, :2], a[:, 2] > 0.5, width, height)


def image_grid(rows: list[torch.Tensor], gap: int = 2) -> np.ndarray:
    """Rows of (B, 3, H, W) images in [-1, 1] -> one uint8 picture, a row per tensor, a column per pair."""
    from .metrics import to_uint8

    imgs = [to_uint8(r) for r in rows]
    n, h, w = imgs[0].shape[:3]
    out = np.full((len(imgs) * (h + gap) - gap, n * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(imgs):
        for j in range(n):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = row[j]
    return out


def perceptual_backbone(recipe) -> str:
    """The perceptual backbone the recipe uses (if it holds one), else the one the shared losses would pick."""
    from . import losses

    for v in vars(recipe).values():
        if isinstance(v, losses.Perceptual):
            return v.backbone_name
    try:
        return f"{losses.backbone_choice()} (if the recipe uses a perceptual loss)"
    except losses.BackboneUnavailable:
        return "none available"


# ================================================================================================================
# The trainer
# ================================================================================================================
class Trainer:
    def __init__(self, options: dict, progress=None):
        self.progress = progress
        self.dist = Distributed()
        self.stop = StopRequest()
        self.opts = options

    # ----- setup --------------------------------------------------------------------------------------------
    def _merge_resume(self, opts: dict) -> tuple[dict, Path, Path]:
        run_dir, ck = ckpt.find_resume(opts["resume"])
        saved = read_options(run_dir).get("options", {})
        given = set(opts.get("_given", []))
        for k in FIXED_ON_RESUME:
            if k in given and k in saved and _norm(k, opts[k]) != _norm(k, saved[k]):
                raise TrainingError(f"--{k.replace('_', '-')} {opts[k]!r} differs from the run's {saved[k]!r}; "
                                    f"a resumed run keeps what it trains (start a new run instead)")
        merged = dict(DEFAULTS)
        merged.update({k: v for k, v in saved.items() if k in DEFAULTS and k not in PER_INVOCATION})
        merged.update({k: opts[k] for k in given if k not in FIXED_ON_RESUME})
        merged["resume"] = str(opts["resume"])
        merged["_given"] = sorted(given)
        return merged, run_dir, ck

    def setup(self) -> None:
        from engine.runtime import pick_device

        opts = self.opts
        resume_ckpt = None
        if opts.get("resume"):
            opts, run_dir, resume_ckpt = self._merge_resume(opts)
            self.opts = opts
        if not opts.get("backend"):
            raise TrainingError("give --backend NAME")
        if not opts.get("data"):
            raise TrainingError("give --data DATASET (a folder written by `poseeditor-train prepare` or `synth`)")
        recipe_cls = get_recipe_class(opts["backend"])
        dev = self.dist.init(opts["device"])
        self.device = torch.device(dev or pick_device(opts["device"]))

        # --- a resumed run rebuilds exactly the network of its checkpoint (not --init's file again, which may
        #     be gone); a new one: network config and size from --size, --init's weights or the dataset
        state = None
        if resume_ckpt is not None:
            if Path(opts["resume"]).is_dir():  # the newest checkpoint that loads
                resume_ckpt, state = ckpt.load_latest(run_dir, self.device)
            else:
                state = ckpt.load_checkpoint(resume_ckpt, self.device)
            if state.get("backend") != opts["backend"]:
                raise TrainingError(f"{resume_ckpt}: a checkpoint of the {state.get('backend')} backend, "
                                    f"not {opts['backend']}")
        net_config = dict(opts.get("net") or {}) if state is None else dict(state["net_config"])
        init_tensors = init_backend = None
        if opts.get("init") and state is None:
            from engine.weights import load_weights, read_meta

            init_backend = read_meta(opts["init"]).backend
            accepted = (recipe_cls.backend, *recipe_cls.init_from)
            if init_backend not in accepted:
                raise TrainingError(f"{opts['init']}: weights for the '{init_backend}' backend; {opts['backend']} "
                                    f"starts from {' or '.join(repr(b) for b in accepted)} weights")
            init_tensors, meta = load_weights(opts["init"], backend=init_backend)
            net_config = {**recipe_cls.init_config(meta.config, init_backend), **net_config}
        if opts.get("width") is not None and state is None:
            net_config["width"] = float(opts["width"])
        size = opts.get("size") or net_config.get("image_size")

        from .datasets import PairDataset

        self.train_ds = PairDataset(opts["data"], "train", int(opts["num_sources"]), bool(opts["augment"]),
                                    tuple(size) if size else None, int(opts["seed"]))
        size = list(self.train_ds.size)
        net_config["image_size"] = size
        try:
            self.val_ds = PairDataset(opts["data"], "test", int(opts["num_sources"]), False, tuple(size),
                                      int(opts["seed"]))
            self.val_split = "test"
        except DatasetError as e:
            log.warning("no test pairs (%s): validating on training pairs", e)
            self.val_ds = PairDataset(opts["data"], "train", int(opts["num_sources"]), False, tuple(size),
                                      int(opts["seed"]))
            self.val_split = "train"

        # --- the recipe, built from the seed alone so that every rank (and a resumed run) starts alike
        seed_everything(int(opts["seed"]))
        try:
            recipe_opts = dict(opts.get("recipe") or {})
            recipe_opts.setdefault("amp", bool(opts["amp"]))  # Recipe reads it: autocast on CUDA only anyway
            self.recipe = recipe_cls(net_config, recipe_opts, self.device)
        except (TypeError, ValueError, KeyError) as e:
            raise TrainingError(f"the {opts['backend']} network cannot be built from this config ({e})") from None
        if init_tensors is not None:
            from engine.weights import check_state_dict

            g = self.recipe.generator
            if init_backend != self.recipe.backend:
                try:
                    init_tensors = self.recipe.adapt_init(init_tensors, init_backend)
                except ValueError as e:
                    raise TrainingError(f"{opts['init']}: {e}") from None
            g.load_state_dict(check_state_dict(g.state_dict(), init_tensors, opts["init"]))
        self.net_config = dict(getattr(self.recipe.generator, "config", None) or self.recipe.net_config)
        # Recipes that manage precision themselves (their own autocast / GradScaler, switched by recipe.amp)
        # are left to it; the others get the loop's wrapper.
        self.recipe_amp = self.recipe.manages_amp
        self.amp = Amp.for_recipe(self.recipe, self.device, opts.get("precision"), opts["amp"] and not self.recipe_amp)
        # per-rank randomness from here on (noise, dropout), model init above was shared
        if self.dist.active:
            torch.manual_seed(int(opts["seed"]) * 1000 + self.dist.rank)

        self.step = 0
        self.position = (0, 0)
        self.best = None            # {"metric": name, "value": v, "step": s}
        self.elapsed_before = 0.0   # training seconds of earlier invocations
        if state is not None:
            try:
                self.recipe.load_state_dict(state["recipe"])
            except (KeyError, RuntimeError, ValueError) as e:
                msg = str(e).splitlines()[0]
                raise TrainingError(f"{resume_ckpt}: does not fit the {opts['backend']} recipe ({msg})") from None
            self.step = int(state["step"])
            self.position = tuple(int(v) for v in state["data_position"])
            self.best = state.get("best")
            self.elapsed_before = float(state.get("elapsed", 0.0))
            self.amp.load_state_dict(state.get("amp"))
            if state.get("recipe_scaler") and hasattr(getattr(self.recipe, "scaler", None), "load_state_dict"):
                self.recipe.scaler.load_state_dict(state["recipe_scaler"])
            rngs = state["rng"]
            ckpt.set_rng_state(rngs[self.dist.rank] if len(rngs) == self.dist.world else rngs[0])
            self.run_dir = run_dir
        else:
            run_dir = new_run_dir(opts["runs_dir"], opts["backend"], opts["data"]) if self.dist.main else None
            self.run_dir = Path(self.dist.broadcast(str(run_dir) if run_dir else None))
        self.dist.attach(self.recipe.modules())
        self.resumed_from = resume_ckpt

    def write_options(self) -> None:
        ds = self.train_ds
        o = {k: v for k, v in self.opts.items() if not k.startswith("_")}
        o["data"] = str(Path(o["data"]).resolve())
        if o.get("init"):
            o["init"] = str(Path(o["init"]).resolve())
        o["size"] = list(self.train_ds.size)
        info = {
            "backend": self.opts["backend"],
            "net_config": self.net_config,
            "recipe_options": self.recipe.options,
            "dataset": {"path": o["data"], "name": Path(o["data"]).name, "info": ds.info,
                        "pairs_train": len(ds), "pairs_val": len(self.val_ds), "val_split": self.val_split},
            "perceptual_backbone": perceptual_backbone(self.recipe),
            "seed": int(self.opts["seed"]),
            "device": str(self.device),
            "world_size": self.dist.world,
            "amp": ("the recipe's own" if self.recipe_amp and getattr(self.recipe, "amp", False)
                    else self.amp.description),
            "precision": self.amp.precision,
            "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in self.recipe.modules().items()},
            "versions": versions(),
            "command": self.opts.get("command") or f"fit({json.dumps(o, default=str)})",
            "options": o,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if self.resumed_from is not None:
            old = read_options(self.run_dir)
            info["started"] = old.get("started", info["started"])
            info["resumed"] = old.get("resumed", []) + [{"from": str(self.resumed_from), "step": self.step,
                                                         "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                         "command": info["command"]}]
            info["command"] = old.get("command", info["command"])
        write_options(self.run_dir, info)

    # ----- validation, grids, checkpoints -------------------------------------------------------------------
    def _val_batches(self):
        from .datasets import make_loader

        n = min(len(self.val_ds), int(self.opts["val_pairs"]))
        loader = make_loader(self.val_ds, int(self.opts["batch"]), shuffle=False, seed=0, drop_last=False)
        seen = 0
        for batch in loader:
            take = min(batch["tgt_img"].shape[0], n - seen)
            yield {k: v[:take] for k, v in batch.items()}
            seen += take
            if seen >= n:
                break

    def validate(self) -> dict:
        from .metrics import PCKh, body_mask, ssim_batch, to_uint8

        sums: dict[str, float] = {}
        count = 0
        h, w = self.train_ds.size
        pck = PCKh() if self.opts["select_by"] == "pckh" else None
        try:
            with preserved_rng():
                for batch in self._val_batches():
                    batch = to_device(batch, self.device)
                    with self.amp.step({}):
                        out = self.recipe.generate(batch)
                    gen = to_uint8(out)
                    ref = to_uint8(batch["tgt_img"])
                    g = torch.from_numpy(gen).permute(0, 3, 1, 2).double()
                    r = torch.from_numpy(ref).permute(0, 3, 1, 2).double()
                    poses = [pose_from_tensor(p, w, h) for p in batch["tgt_pose"]]
                    masks = torch.from_numpy(np.stack([body_mask(p) for p in poses]))[:, None].double()
                    vals = {"ssim": ssim_batch(r, g), "mask_ssim": ssim_batch(r * masks, g * masks),
                            "l1": (r - g).abs().mean(dim=(1, 2, 3)) / 255.0}
                    mse = ((r - g) ** 2).mean(dim=(1, 2, 3))
                    vals["psnr"] = torch.where(mse > 0, 10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-12)),
                                               torch.full_like(mse, 100.0))
                    for k, v in vals.items():
                        sums[k] = sums.get(k, 0.0) + float(v.sum())
                    count += len(gen)
                    if pck is not None:
                        for img, pose in zip(gen, poses):
                            pck.add(img, pose)
        finally:
            if pck is not None:
                pck.close()
        res = {k: v / max(count, 1) for k, v in sums.items()}
        if pck is not None:
            res["pckh"] = pck.value if pck.value is not None else 0.0
        res["pairs"] = int(count)
        return res

    def _grid_batch(self) -> dict:
        n = min(len(self.val_ds), int(self.opts["grid_size"]))
        return collate([self.val_ds[i] for i in range(n)])

    def save_grid(self) -> Path:
        from engine.images import save_image

        batch = to_device(self._grid_batch_cached, self.device)
        with preserved_rng():
            with self.amp.step({}):
                out = self.recipe.generate(batch)
                extra = self.recipe.extra_images(batch)
        rows = [batch["src_img"][:, m] for m in range(batch["src_img"].shape[1])]
        rows += [batch["tgt_img"], out] + [v for v in extra.values()]
        path = self.run_dir / "grids" / f"grid-{self.step:07d}.png"
        path.parent.mkdir(exist_ok=True)
        save_image(path, image_grid([r.float().cpu() for r in rows]))
        return path

    def export_best(self, metrics: dict) -> None:
        from .export import export_generator

        prov = {"data": Path(self.opts["data"]).name, "steps": self.step, "step": self.step,
                "run": self.run_dir.name, "selected_by": self.opts["select_by"],
                "metric": metrics.get(self.opts["select_by"]), "val_split": self.val_split,
                "command": self.opts.get("command"), "perceptual": perceptual_backbone(self.recipe)}
        label = self.opts.get("label") or f"{self.opts['backend']} {self.run_dir.name} step {self.step}"
        export_generator(self.run_dir / "best.safetensors", self.recipe.generator.state_dict(),
                         self.opts["backend"], self.net_config, prov, label)

    def save_checkpoint(self, elapsed: float) -> Path | None:
        rngs = self.dist.gather(ckpt.rng_state())
        if not self.dist.main:
            return None
        state = {"backend": self.opts["backend"], "net_config": self.net_config,
                 "recipe": self.recipe.state_dict(), "rng": rngs, "data_position": list(self.position),
                 "best": self.best, "elapsed": float(elapsed), "amp": self.amp.state_dict(),
                 "precision": self.amp.precision,
                 "recipe_scaler": _scaler_state(self.recipe)}
        return ckpt.save_checkpoint(self.run_dir / "checkpoints", self.step, state, int(self.opts["keep_checkpoints"]))

    # ----- the loop -----------------------------------------------------------------------------------------
    def run(self) -> Path:
        from .datasets import make_loader
        from .metrics import HIGHER_IS_BETTER

        opts = self.opts
        total = int(opts["steps"])
        main = self.dist.main
        if main:
            self.write_options()
        stats = Stats(self.run_dir, keep_until_step=self.step if self.resumed_from else None, enabled=main)
        bar = ProgressBar(total, opts["progress_bar"] if main else "off")
        self._grid_batch_cached = self._grid_batch()
        loader = make_loader(self.train_ds, int(opts["batch"]), shuffle=True, seed=int(opts["seed"]),
                             num_workers=int(opts["workers"]), start=self.position, rank=self.dist.rank,
                             world_size=self.dist.world, pin_memory=self.device.type == "cuda")
        if len(loader) == 0:
            raise TrainingError(f"{opts['data']}: fewer training pairs ({len(self.train_ds)}) than one batch "
                                f"({opts['batch']}) per process")
        batches = loader.batches()
        budget = float(opts["time_budget"]) * 60 if opts.get("time_budget") else None
        stop_after = int(opts["stop_after"]) if opts.get("stop_after") else None
        start_step = self.step
        t0 = time.monotonic()
        self.stop.install()
        reason = "steps"
        last_val = last_grid = last_ckpt = None
        start = {"kind": "start", "step": self.step, "total_steps": total, "run_dir": str(self.run_dir),
                 "resumed": self.resumed_from is not None, "device": str(self.device),
                 "pairs_train": len(self.train_ds)}
        stats.write(start)
        if self.progress and main:
            self.progress(start)
        if main:
            bar.message(f"{self.run_dir}: {opts['backend']} on {Path(opts['data']).name} "
                        f"({len(self.train_ds)} pairs, {tuple(self.train_ds.size)}), {self.device}, "
                        f"{'resuming at step ' + str(self.step) if self.resumed_from else 'new run'}")
        self.recipe.train(True)
        try:
            while self.step < total:
                td = time.monotonic()
                # DataLoader draws a seed from torch's global generator whenever it starts an epoch's iterator;
                # a resumed run starts one mid-epoch, so keep that draw out of the training's random sequence
                # (the data order and augmentation come from the dataset's own seeds).
                rng = torch.get_rng_state()
                batch = next(batches)
                torch.set_rng_state(rng)
                batch = to_device(batch, self.device)
                data_s = time.monotonic() - td
                with self.amp.step(self.recipe.optimizers()):
                    losses = self.recipe.train_step(batch, self.step)
                self.step += 1
                self.position = loader.position
                now = time.monotonic()
                run_s = now - t0
                row = {"kind": "train", "step": self.step, "total_steps": total, "epoch": self.position[0],
                       "elapsed": round(self.elapsed_before + run_s, 3),
                       "it_s": round((self.step - start_step) / max(run_s, 1e-9), 4), "data_s": round(data_s, 4)}
                row.update({k: float(v) for k, v in losses.items()})
                if not math.isfinite(row.get("loss", 0.0)):
                    raise TrainingError(f"the loss became {row['loss']} at step {self.step}; lower the learning "
                                        f"rate (--config) or resume from an earlier checkpoint")
                stats.write(row)
                bar.update(row)
                stop_cb = bool(self.progress(row)) if self.progress else False

                finishing = self.step >= total
                if stop_cb:
                    self.stop.reason = self.stop.reason or "cancelled"
                if budget is not None and run_s >= budget:
                    self.stop.reason = self.stop.reason or "time budget"
                if stop_after is not None and self.step - start_step >= stop_after:
                    self.stop.reason = self.stop.reason or "stop_after"
                stopping = self.dist.any(self.stop.reason is not None)
                if stopping and self.stop.reason is None:
                    self.stop.reason = "another process stopped"
                final = finishing or stopping

                # a final validation (so best.safetensors reflects the end), except when a signal asks for speed
                end_val = final and self.stop.reason != "signal"
                if main and (self.step % int(opts["val_every"]) == 0 or (end_val and last_val != self.step)):
                    m = self.validate()
                    key = opts["select_by"]
                    better = (self.best is None or self.best.get("metric") != key
                              or (m[key] > self.best["value"] if HIGHER_IS_BETTER[key] else m[key] < self.best["value"]))
                    if better:
                        self.best = {"metric": key, "value": float(m[key]), "step": self.step}
                        self.export_best(m)
                    vrow = {"kind": "val", "step": self.step, "split": self.val_split,
                            **{k: round(float(v), 6) for k, v in m.items()}, "best": better}
                    stats.write(vrow)
                    if self.progress:
                        self.progress(vrow)
                    bar.message(f"step {self.step}: " + ", ".join(f"{k} {m[k]:.4f}" for k in METRICS if k in m)
                                + (" (best)" if better else ""))
                    last_val = self.step
                if main and (self.step % int(opts["grid_every"]) == 0 or (final and last_grid != self.step)):
                    self.save_grid()
                    last_grid = self.step
                if self.step % int(opts["ckpt_every"]) == 0 or final:
                    p = self.save_checkpoint(self.elapsed_before + time.monotonic() - t0)
                    if p is not None:
                        stats.write({"kind": "checkpoint", "step": self.step,
                                     "path": str(p.relative_to(self.run_dir))})
                    last_ckpt = self.step
                if stopping:
                    reason = self.stop.reason
                    break
            if last_ckpt != self.step:  # the run was already complete: make sure its state is on disk
                self.save_checkpoint(self.elapsed_before + time.monotonic() - t0)
        finally:
            self.stop.restore()
        best = str(self.run_dir / "best.safetensors") if (self.run_dir / "best.safetensors").is_file() else None
        done = {"kind": "done", "step": self.step, "total_steps": total, "reason": reason, "best": best,
                "best_metric": self.best}
        stats.write(done)
        if self.progress:
            self.progress(done)
        bar.close()
        if main:
            msg = f"{self.run_dir}: stopped at step {self.step}/{total} ({reason})"
            if self.best:
                msg += f"; best {self.best['metric']} {self.best['value']:.4f} at step {self.best['step']}"
            bar.message(msg)
        stats.close()
        return self.run_dir

    def close(self) -> None:
        self.dist.close()


def _scaler_state(recipe):
    """A recipe's own enabled GradScaler's state (scale, growth tracker), so a resume keeps its loss scale."""
    sc = getattr(recipe, "scaler", None)
    if sc is None or not hasattr(sc, "state_dict") or not getattr(sc, "is_enabled", lambda: False)():
        return None
    return sc.state_dict()


def _norm(key: str, v):
    """An option's value in the form training_options.json keeps it, to compare a flag with a run's own."""
    if key in ("data", "init") and v is not None:
        return str(Path(v).resolve())
    if isinstance(v, tuple):
        return list(v)
    return v


def fit(options: dict, progress=None) -> Path:
    """Train (or resume) a run; returns its folder.

    ``progress(row)`` is called with every stats row (the dicts written to stats.jsonl); a true return value
    stops the run after the current step, with a checkpoint (the app's "Stop" button).
    """
    opts = resolve_options(options)
    trainer = Trainer(opts, progress)
    try:
        trainer.setup()
        return trainer.run()
    finally:
        trainer.close()


# ================================================================================================================
# CLI
# ================================================================================================================
def add_arguments(p) -> None:
    from .synth import parse_size

    p.description = "Train a backend's networks on a dataset folder; writes a numbered run folder."
    p.add_argument("--backend", help="backend to train (dgan, dgan-sa, attention, spgnet, pnr)")
    p.add_argument("--data", help="dataset folder (from `poseeditor-train prepare` or `synth`)")
    p.add_argument("--config", help="JSON file: any of these options plus \"net\" and \"recipe\" dicts")
    p.add_argument("--resume", metavar="RUN", help="continue a run (its folder, or one of its checkpoints)")
    p.add_argument("--runs-dir", help="where run folders are made (default: runs)")
    p.add_argument("--steps", type=int, help="total training steps (default 10000)")
    p.add_argument("--batch", type=int, help="batch size per process (default 8)")
    p.add_argument("--size", type=parse_size, help="network image size HxW (default: the dataset's)")
    p.add_argument("--width", type=float, help="the backend's width multiplier (small CPU models: 0.25)")
    p.add_argument("--num-sources", type=int, help="reference photos per pair (multi-shot backends)")
    p.add_argument("--val-every", type=int, help="validate every N steps (default 500)")
    p.add_argument("--grid-every", type=int, help="save an image grid every N steps (default 500)")
    p.add_argument("--ckpt-every", type=int, help="checkpoint every N steps (default 1000)")
    p.add_argument("--select-by", choices=METRICS, help="validation figure choosing best.safetensors (default ssim)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="auto (default: bf16 on a CPU that has it; env POSEEDITOR_PRECISION) | fp32 | bf16")
    p.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop cleanly after this long")
    p.add_argument("--init", metavar="WEIGHTS.safetensors", help="start from these engine weights (fine-tune)")
    p.add_argument("--augment", action="store_const", const=True, help="flip and colour-jitter training pairs")
    p.add_argument("--workers", type=int, help="data loader processes (default 0)")
    p.add_argument("--val-pairs", type=int, help="test pairs per validation (default 64)")
    p.add_argument("--stop-after", type=int, metavar="N", help="stop after N steps of this invocation, resumable")
    p.add_argument("--gan-start-step", type=int, metavar="N",
                   help="adversarial losses from step N on, reconstruction losses alone before (default 0, the "
                        "papers'; a short CPU fine-tune learns more without them)")
    p.add_argument("--label", help="label of the exported best weights")
    p.add_argument("--no-progress", dest="progress_bar", action="store_const", const="off",
                   help="no progress bar (stats.jsonl still has every step)")


def run(args) -> int:
    options = {k: getattr(args, k) for k in DEFAULTS if hasattr(args, k) and k != "command"}
    options["command"] = getattr(args, "command_line", None)
    if getattr(args, "gan_start_step", None) is not None:  # a recipe option every recipe has (recipes/base.py)
        options["recipe"] = {"gan_start_step": int(args.gan_start_step)}

    def announce(row):
        # stdout's one line: the run folder, as soon as it exists, so a caller (the app runs fit in a
        # subprocess) can follow its stats.jsonl from the first step
        if row["kind"] == "start":
            print(row["run_dir"], flush=True)

    fit(options, progress=announce)
    return 0
