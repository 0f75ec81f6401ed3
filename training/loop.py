"""The training loop behind ``poseeditor-train fit``: any backend's Recipe, one loop.

    run_dir = fit({"backend": "dgan", "data": "datasets/dance", "steps": 2000}, progress=print)

What a run does, step by step: take the next batch of the resumable data order, ``recipe.train_step``, write a
stats row (stats.jsonl, flushed: the app reads it as progress), and every N steps validate on the test pairs
(SSIM, mask-SSIM, L1, PSNR; PCKh when selecting by it), keep the best generator as best.safetensors, save an
image grid and a checkpoint. A time budget, ``stop_after``, SIGINT/SIGTERM or a progress callback returning a
true value stop it after the current step with a final checkpoint; ``resume`` continues a run from its newest
checkpoint with the same step, optimiser states, random states and data order, so it goes on exactly as an
uninterrupted run would (deterministic on the CPU).

The rooms it uses, in the order a run meets them: options.py (defaults, --config, checks, the fit command
line), setup_run.py (resume state, network, data, recipe, the run's record), distributed.py (torchrun),
progress.py (stop signals, progress bar), validation.py (metrics and grids), checkpoint.py and run_dir.py.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from . import checkpoint as ckpt
from . import setup_run as S
from .batches import collate, preserved_rng, seed_everything, to_device  # noqa: F401  (collate: the loop's API)
from .distributed import Distributed
from .options import (DEFAULTS, METRICS, TrainingError, check_required, get_recipe_class,  # noqa: F401
                      merge_resume, resolve_options, trainable_backends)
from .progress import ProgressBar, StopRequest
from .precision import Amp
from .run_dir import RunLock, Stats, new_run_dir, sweep_parts, write_options, writing

log = logging.getLogger(__name__)


# ================================================================================================================
# The trainer
# ================================================================================================================
class Trainer:
    def __init__(self, options: dict, progress=None):
        self.progress = progress
        self.dist = Distributed()
        self.stop = StopRequest()
        self.opts = options
        self.lock: RunLock | None = None

    # ----- setup --------------------------------------------------------------------------------------------
    def setup(self) -> None:
        from engine.runtime import pick_device

        opts = self.opts
        resume_ckpt = run_dir = None
        if opts.get("resume"):
            opts, run_dir, resume_ckpt = merge_resume(opts)
            self.opts = opts
            if self.dist.main:  # before anything is read: a second resume of a running run refuses here
                self.lock = RunLock(run_dir)
        check_required(opts)
        recipe_cls = get_recipe_class(opts["backend"])
        dev = self.dist.init(opts["device"])
        self.device = torch.device(dev or pick_device(opts["device"]))

        state = None
        if resume_ckpt is not None:
            resume_ckpt, state = S.load_resume_state(opts, run_dir, resume_ckpt, self.device)
        net_config, init = S.network_config(opts, recipe_cls, state)
        self.train_ds, self.val_ds, self.val_split = S.datasets(opts, net_config)
        per_process = math.ceil(len(self.train_ds) / max(1, self.dist.world))
        if int(opts["batch"]) > per_process:  # said before a run folder is made
            # the whole split in one batch: a newcomer's --batch 100000 on 462 pairs took a minute a step and 9 GB
            raise TrainingError(f"--batch {opts['batch']} is larger than the training pairs ({per_process}"
                                f"{' per process' if self.dist.world > 1 else ''}): give at most {per_process}")
        S.check_network_size(recipe_cls, net_config)  # before anything is allocated for it

        # the recipe, built from the seed alone so that every rank (and a resumed run) starts alike
        seed_everything(int(opts["seed"]))
        self.recipe = S.build_recipe(recipe_cls, opts, net_config, self.device, init)
        self.net_config = dict(getattr(self.recipe.generator, "config", None) or self.recipe.net_config)
        if opts.get("freeze_norm"):
            freeze_norm_stats(self.recipe.generator)
        # mixed precision is the loop's alone (training/precision.py): recipes do none of their own
        self.amp = Amp.for_recipe(self.recipe, self.device, opts.get("precision"), opts["amp"])
        # per-rank randomness from here on (noise, dropout), model init above was shared
        if self.dist.active:
            torch.manual_seed(int(opts["seed"]) * 1000 + self.dist.rank)

        self.step = 0
        self.position = (0, 0)
        self.best = None            # {"metric": name, "value": v, "step": s}
        self.elapsed_before = 0.0   # training seconds of earlier invocations
        self.used_before = 0.0      # the same on the run's clock (--clock): what the learning-rate schedule counts
        self.stale = 0              # validations since the best one (--patience)
        if state is not None:
            S.restore_recipe(self.recipe, state, resume_ckpt, opts["backend"])
            self.step = int(state["step"])
            self.position = tuple(int(v) for v in state["data_position"])
            self.best = state.get("best")
            self.elapsed_before = float(state.get("elapsed", 0.0))
            self.used_before = float(state.get("clock_used", self.elapsed_before))
            self.stale = int(state.get("stale", 0))
            self.amp.load_state_dict(state.get("amp"))
            rngs = state["rng"]
            ckpt.set_rng_state(rngs[self.dist.rank] if len(rngs) == self.dist.world else rngs[0])
            self.run_dir = run_dir
        else:
            run_dir = new_run_dir(opts["runs_dir"], opts["backend"], opts["data"]) if self.dist.main else None
            self.run_dir = Path(self.dist.broadcast(str(run_dir) if run_dir else None))
            if self.dist.main:
                self.lock = RunLock(self.run_dir)
        self.dist.attach(self.recipe.modules())
        self.resumed_from = resume_ckpt

    def write_options(self) -> None:
        write_options(self.run_dir, S.run_record(self))

    # ----- validation, grids, checkpoints -------------------------------------------------------------------
    def _generate(self, batch: dict) -> torch.Tensor:
        with self.amp.step({}):
            return self.recipe.generate(batch)

    def validate(self) -> dict:
        from .validation import val_batches, validate

        batches = val_batches(self.val_ds, self.opts["batch"], self.val_pairs)
        return validate(self._generate, batches, self.device, self.train_ds.size,
                        pckh=self.opts["select_by"] == "pckh")

    def save_grid(self) -> Path:
        from engine.images import save_image

        from .validation import grid_rows, image_grid

        batch = to_device(self._grid_batch_cached, self.device)
        with preserved_rng():
            with self.amp.step({}):
                out = self.recipe.generate(batch)
                extra = self.recipe.extra_images(batch)
        path = self.run_dir / "grids" / f"grid-{self.step:07d}.png"
        with writing(path, "image grid"):
            path.parent.mkdir(exist_ok=True)
            save_image(path, image_grid(grid_rows(batch, out, extra)))
        return path

    def export_best(self, metrics: dict) -> None:
        from .export import export_generator

        prov = {"data": Path(self.opts["data"]).name, "steps": self.step, "step": self.step,
                "run": self.run_dir.name, "selected_by": self.opts["select_by"],
                "metric": metrics.get(self.opts["select_by"]), "val_split": self.val_split,
                "command": self.opts.get("command"), "perceptual": S.perceptual_backbone(self.recipe)}
        label = self.opts.get("label") or f"{self.opts['backend']} {self.run_dir.name} step {self.step}"
        path = self.run_dir / "best.safetensors"
        with writing(path, "best weights"):
            export_generator(path, self.recipe.generator.state_dict(), self.opts["backend"], self.net_config, prov,
                             label)

    def save_checkpoint(self, elapsed: float, used: float = 0.0) -> Path | None:
        rngs = self.dist.gather(ckpt.rng_state())
        if not self.dist.main:
            return None
        state = {"backend": self.opts["backend"], "net_config": self.net_config,
                 "recipe": self.recipe.state_dict(), "rng": rngs, "data_position": list(self.position),
                 "best": self.best, "elapsed": float(elapsed), "amp": self.amp.state_dict(),
                 "clock_used": float(self.used_before + used), "stale": self.stale,
                 "precision": self.amp.precision}
        return ckpt.save_checkpoint(self.run_dir / "checkpoints", self.step, state, int(self.opts["keep_checkpoints"]))

    # ----- the loop -----------------------------------------------------------------------------------------
    def run(self) -> Path:
        from .datasets import make_loader
        from .metrics import HIGHER_IS_BETTER
        from .validation import grid_batch

        opts = self.opts
        total = int(opts["steps"])
        main = self.dist.main
        if main:
            self.write_options()
        stats = Stats(self.run_dir, keep_until_step=self.step if self.resumed_from else None, enabled=main)
        bar = ProgressBar(total, opts["progress_bar"] if main else "off")
        from .validation import val_indices

        # pairs unlike the training ones (a validation on the training split itself needs no such choice)
        self.val_pairs = val_indices(self.val_ds, int(opts["val_pairs"]),
                                     self.train_ds if self.val_split != "train" else None)
        self._grid_batch_cached = grid_batch(self.val_ds, int(opts["grid_size"]), self.val_pairs)
        loader = make_loader(self.train_ds, int(opts["batch"]), shuffle=True, seed=int(opts["seed"]),
                             num_workers=int(opts["workers"]), start=self.position, rank=self.dist.rank,
                             world_size=self.dist.world, pin_memory=self.device.type == "cuda")
        if len(loader) == 0:
            raise TrainingError(f"{opts['data']}: fewer training pairs ({len(self.train_ds)}) than one batch "
                                f"({opts['batch']}) per process")
        batches = loader.batches()
        budget = float(opts["time_budget"]) * 60 if opts.get("time_budget") else None
        stop_after = int(opts["stop_after"]) if opts.get("stop_after") else None
        patience = int(opts["patience"]) if opts.get("patience") else None
        clock = CLOCKS[opts.get("clock") or "wall"]
        optimizers = list(self.recipe.optimizers().values())
        for opt in optimizers:  # the schedule scales each group's own rate (kept in its state across a resume)
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])
        start_step = self.step
        t0 = time.monotonic()
        c0, cpu0 = clock(), time.process_time()
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
                used = clock() - c0
                scale = float(opts["lr_mult"]) * lr_scale(opts["schedule"], self.step, total, self.used_before + used,
                                                          self.used_before + budget if budget else None)
                for opt in optimizers:
                    for group in opt.param_groups:
                        group["lr"] = group["base_lr"] * scale
                with self.amp.step(self.recipe.optimizers()):
                    losses = self.recipe.train_step(batch, self.step)
                self.step += 1
                self.position = loader.position
                now = time.monotonic()
                run_s = now - t0
                used = clock() - c0
                row = {"kind": "train", "step": self.step, "total_steps": total, "epoch": self.position[0],
                       "elapsed": round(self.elapsed_before + run_s, 3),
                       "cpu_s": round(time.process_time() - cpu0, 3),
                       "it_s": round((self.step - start_step) / max(run_s, 1e-9), 4), "data_s": round(data_s, 4)}
                if scale != 1.0:
                    row["lr_scale"] = round(scale, 5)
                row.update({k: float(v) for k, v in losses.items()})
                if not math.isfinite(row.get("loss", 0.0)):
                    raise TrainingError(f"the loss became {row['loss']} at step {self.step}; lower the learning "
                                        f"rate (--config) or resume from an earlier checkpoint")
                stats.write(row)
                # the budget is on the run's clock (CPU seconds with --clock cpu): in wall seconds at this pace
                bar.update(row, budget_left=None if budget is None else (budget - used) * run_s / max(used, 1e-6))
                stop_cb = bool(self.progress(row)) if self.progress else False

                finishing = self.step >= total
                if stop_cb:
                    self.stop.reason = self.stop.reason or "cancelled"
                if budget is not None and used >= budget:
                    self.stop.reason = self.stop.reason or "time budget"
                if patience is not None and self.stale >= patience:
                    self.stop.reason = self.stop.reason or "no better validation"
                if stop_after is not None and self.step - start_step >= stop_after:
                    self.stop.reason = self.stop.reason or "stop_after"
                stopping = self.dist.any(self.stop.reason is not None)
                if stopping and self.stop.reason is None:
                    self.stop.reason = "another process stopped"
                final = finishing or stopping

                # a final validation (so best.safetensors reflects the end), except when a signal asks for speed
                end_val = final and self.stop.reason not in ("signal", "no better validation")
                if main and (self.step % int(opts["val_every"]) == 0 or (end_val and last_val != self.step)):
                    m = self.validate()
                    key = opts["select_by"]
                    prev = self.best["value"] if self.best and self.best.get("metric") == key else None
                    gain = (m[key] - prev) * (1 if HIGHER_IS_BETTER[key] else -1) if prev is not None else math.inf
                    better = gain > 0
                    self.stale = 0 if gain > PATIENCE_MIN_GAIN else self.stale + 1
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
                    p = self.save_checkpoint(self.elapsed_before + time.monotonic() - t0, clock() - c0)
                    if p is not None:
                        stats.write({"kind": "checkpoint", "step": self.step,
                                     "path": str(p.relative_to(self.run_dir))})
                    last_ckpt = self.step
                if stopping:
                    reason = self.stop.reason
                    break
            if last_ckpt != self.step:  # the run was already complete: make sure its state is on disk
                self.save_checkpoint(self.elapsed_before + time.monotonic() - t0, clock() - c0)
        except BaseException:
            bar.close()  # a failed run (NaN loss, full disk) still ends its progress line and closes its stats
            stats.close()
            raise
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
        if self.lock is not None:
            self.lock.release()
            self.lock = None


# what --time-budget counts: the wall clock (the app's minutes), or this process's CPU time, which gives every run
# the same compute on a machine shared with other jobs
CLOCKS = {"wall": time.monotonic, "cpu": time.process_time}
WARMUP_STEPS = 10
PATIENCE_MIN_GAIN = 1e-4  # a validation must beat the best by this much to reset --patience (noise is not progress)


def lr_scale(schedule: str, step: int, total: int, used: float, budget: float | None) -> float:
    """The factor on every learning rate at ``step``: 1 for "constant"; for "cosine", a linear warm-up over the
    first WARMUP_STEPS (fresh Adam moments on fine-tuned weights), then half a cosine from 1 to 0.05 over the run,
    whichever ends first of the steps and the time budget (``used`` of ``budget`` seconds on the run's clock)."""
    if schedule != "cosine":
        return 1.0
    warm = min(1.0, (step + 1) / WARMUP_STEPS)
    return warm * cosine_factor(step, total, used, budget)


def cosine_factor(step: int, total: int | None, used: float, budget: float | None) -> float:
    """Half a cosine from 1 to 0.05 over a run, by how far it has gone: the further of ``step`` of ``total`` steps
    (None: no step ceiling) and ``used`` of ``budget`` seconds (None: no time budget). The fit's schedule
    (lr_scale, after its warm-up) and the person's refiner (training/refine.py) both."""
    frac = step / max(total, 1) if total is not None else 0.0
    if budget:
        frac = max(frac, used / budget)
    frac = min(max(frac, 0.0), 1.0)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))


def freeze_norm_stats(module: torch.nn.Module) -> int:
    """Make every batch norm in ``module`` normalise with its running statistics in training too, and keep them.

    A starter's statistics come from many people; a batch of one person's frames has others, so in training
    mode the starter drew that person with L1 0.52 where it draws 0.19 at inference (attention, measured), and
    the first steps of a fine-tune went into undoing that instead of learning the person. The affine weights
    still learn. Returns how many layers it froze."""
    def eval_mode(m, _inputs):
        m.training = False

    layers = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in layers:
        m.register_forward_pre_hook(eval_mode)
    return len(layers)


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
    except BaseException:
        if getattr(trainer, "run_dir", None) is not None and trainer.lock is not None:
            sweep_parts(trainer.run_dir)  # a write that failed (a full disk) leaves no temporary file
        raise
    finally:
        trainer.close()
