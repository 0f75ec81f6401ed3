"""Setting a run up: the checkpoint it resumes, the network it trains, its data, its recipe, and its record.

Each function does one step of ``Trainer.setup`` (training/loop.py), in the order the loop calls them; the
order matters for a bit-exact resume (the recipe is built right after seeding, from the seed alone).
"""
from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path


from engine.errors import DatasetError

from . import checkpoint as ckpt
from .options import TrainingError

log = logging.getLogger(__name__)


def load_resume_state(opts: dict, run_dir: Path, resume_ckpt: Path, device) -> tuple[Path, dict]:
    """(checkpoint, its state): a run folder resumes from its newest checkpoint that loads."""
    if Path(opts["resume"]).is_dir():
        resume_ckpt, state = ckpt.load_latest(run_dir, device, fields=True)
    else:
        state = ckpt.load_checkpoint(resume_ckpt, device, fields=True)
    # its fields are there and of their kinds (checkpoint.check_checkpoint): what they say is checked here
    if state["backend"] != opts["backend"]:
        raise TrainingError(f"{resume_ckpt}: a checkpoint of the {state['backend']!r} backend, not {opts['backend']}")
    if int(opts["steps"]) < state["step"]:
        raise TrainingError(f"--steps {opts['steps']} is below the run's step {state['step']}; give at "
                            f"least {state['step']} to resume {run_dir}")
    return resume_ckpt, state


def network_config(opts: dict, recipe_cls, state: dict | None) -> tuple[dict, tuple | None]:
    """(network config, (init tensors, init backend) or None).

    A resumed run rebuilds exactly the network of its checkpoint (not --init's file again, which may be gone);
    a new one takes its config from --init's weights, then the net options and --width."""
    net_config = dict(opts.get("net") or {}) if state is None else dict(state["net_config"])
    init, init_keys = None, set()
    if opts.get("init") and state is None:
        from engine.weights import load_weights, read_meta

        init_backend = read_meta(opts["init"]).backend
        accepted = (recipe_cls.backend, *recipe_cls.init_from)
        if init_backend not in accepted:
            raise TrainingError(f"{opts['init']}: weights for the '{init_backend}' backend; {opts['backend']} "
                                f"starts from {' or '.join(repr(b) for b in accepted)} weights")
        init_tensors, meta = load_weights(opts["init"], backend=init_backend)
        from engine.refiner import network_tensors

        init_tensors = network_tensors(init_tensors)  # a refiner learnt one network's pictures: not the new one's
        init_keys = set(meta.config)
        net_config = {**recipe_cls.init_config(meta.config, init_backend), **net_config}
        init = (init_tensors, init_backend, meta.config.get("image_size", meta.image_size))
    if opts.get("width") is not None and state is None:
        net_config["width"] = float(opts["width"])
    if state is None:
        check_net_keys(opts.get("net") or {}, recipe_cls, init_keys)
    return net_config, init


def check_net_keys(net: dict, recipe_cls, init_keys: set) -> None:
    """A network option the backend does not have (a typo in --net or a config's "net") would be ignored
    silently by the network: refuse it, naming the ones it has (its defaults, the recipe's, --init's config)."""
    known = set(recipe_cls.full_net_config({})) | init_keys
    unknown = sorted(str(k) for k in net if k not in known)
    if unknown:
        raise TrainingError(f"the {recipe_cls.backend} network has no option {', '.join(map(repr, unknown))} "
                            f"(its options: {', '.join(sorted(known))})")


def check_image_size(size, source: str) -> None:
    """The engine's bound (engine.weights.MAX_IMAGE_SIDE): a run never trains weights the app would refuse."""
    from engine.weights import MAX_IMAGE_SIDE

    ok = (isinstance(size, (list, tuple)) and len(size) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in size))
    if not ok or not all(16 <= v <= MAX_IMAGE_SIDE for v in size):
        raise TrainingError(f"{source}: image size {size!r}: give two whole numbers from 16 to {MAX_IMAGE_SIDE}")


def check_network_size(recipe_cls, net_config: dict) -> None:
    """The engine's own check (engine.weights.check_config: bounded values, then a parameter count on the meta
    device, no memory) before the network is built for real, so what trains here always loads in the app."""
    from engine.errors import WeightsError
    from engine.registry import backend_class
    from engine.weights import check_config

    full = recipe_cls.full_net_config(net_config)
    try:
        check_config(backend_class(recipe_cls.backend), full, f"the {recipe_cls.backend} network")
    except WeightsError as e:
        width = full.get("width")
        large = "parameters" in str(e) or (isinstance(width, (int, float)) and width > 1)  # not width 0
        raise TrainingError(f"{e}{'; lower its width' if large else ''}") from None


def datasets(opts: dict, net_config: dict):
    """(training pairs, validation pairs, the split validated on); sets net_config's image size to the data's."""
    from .datasets import PairDataset

    size = opts.get("size") or net_config.get("image_size")
    if size is not None:
        check_image_size(list(size) if isinstance(size, (list, tuple)) else size,
                         "--size" if opts.get("size") else "the network config")
    train_ds = PairDataset(opts["data"], "train", int(opts["num_sources"]), bool(opts["augment"]),
                           tuple(size) if size else None, int(opts["seed"]), reframe=opts["reframe"])
    size = list(train_ds.size)
    net_config["image_size"] = size
    try:
        val_ds = PairDataset(opts["data"], "test", int(opts["num_sources"]), False, tuple(size), int(opts["seed"]))
        split = "test"
    except DatasetError as e:
        log.warning("no test pairs (%s): validating on training pairs", e)
        val_ds = PairDataset(opts["data"], "train", int(opts["num_sources"]), False, tuple(size), int(opts["seed"]))
        split = "train"
    return train_ds, val_ds, split


def build_recipe(recipe_cls, opts: dict, net_config: dict, device, init):
    """The recipe (call right after seeding: every rank and a resumed run build it alike), from --init's
    weights when given."""
    try:
        recipe_opts = dict(opts.get("recipe") or {})
        recipe_opts.setdefault("amp", bool(opts["amp"]))  # False keeps the recipe in fp32 whatever --precision says
        recipe = recipe_cls(net_config, recipe_opts, device)
    except (TypeError, ValueError, KeyError) as e:
        raise TrainingError(f"the {opts['backend']} network cannot be built from this config ({e})") from None
    if init is not None:
        from engine.errors import WeightsError
        from engine.weights import check_state_dict

        init_tensors, init_backend, init_size = init
        g = recipe.generator
        if init_backend != recipe.backend:
            try:
                init_tensors = recipe.adapt_init(init_tensors, init_backend)
            except ValueError as e:
                raise TrainingError(f"{opts['init']}: {e}") from None
        try:
            g.load_state_dict(check_state_dict(g.state_dict(), init_tensors, opts["init"]))
        except WeightsError as e:
            size = list(net_config.get("image_size") or [])
            if not init_size or list(init_size) == size:
                raise
            # a network whose layers depend on the image size cannot take weights trained at another size
            h, w = init_size
            raise TrainingError(f"{e}; the {opts['backend']} network at {size[0]}x{size[1]} cannot start from "
                                f"weights trained at {h}x{w}: train at --size {h}x{w}") from None
    return recipe


def restore_recipe(recipe, state: dict, resume_ckpt: Path, backend: str) -> None:
    """The recipe's modules and optimisers as the checkpoint left them (its kinds of values are checked where it
    is read: checkpoint.check_checkpoint); what does not fit this recipe is one line naming the checkpoint."""
    try:
        recipe.load_state_dict(state["recipe"])
        for name, opt in recipe.optimizers().items():
            optimizer_state_fits(opt, name)
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        # torch's load_state_dict says what differs on the lines after its first ("Error(s) in loading ...:")
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        msg = (" ".join(lines[:2]) if lines and lines[0].endswith(":") else lines[0]) if lines else type(e).__name__
        msg = msg if len(msg) <= 200 else msg[:197] + "..."
        raise TrainingError(f"{resume_ckpt}: does not fit the {backend} recipe ({msg})") from None


def optimizer_state_fits(opt, name: str) -> None:
    """ValueError when a loaded optimiser state holds a per-parameter tensor (Adam's moments) of another shape than
    its parameter: torch's load_state_dict takes it, and the first step after the resume would fail on it."""
    for group in opt.param_groups:
        for i, p in enumerate(group["params"]):
            for key, v in opt.state.get(p, {}).items():
                if hasattr(v, "shape") and v.dim() > 0 and tuple(v.shape) != tuple(p.shape):
                    raise ValueError(f"optimiser {name}: {key} of parameter {i} has shape {tuple(v.shape)}, "
                                     f"its parameter {tuple(p.shape)}")


# ----- the run's record (training_options.json) ------------------------------------------------------------------
def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("poseeditor", "torch", "torchvision", "numpy", "safetensors", "mediapipe"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
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


def run_record(t) -> dict:
    """What training_options.json holds for the Trainer ``t``: enough to understand and repeat the run."""
    from .run_dir import read_options

    ds = t.train_ds
    o = {k: v for k, v in t.opts.items() if not k.startswith("_")}
    o["data"] = str(Path(o["data"]).resolve())
    if o.get("init"):
        o["init"] = str(Path(o["init"]).resolve())
    o["size"] = list(ds.size)
    info = {
        "backend": t.opts["backend"],
        "net_config": t.net_config,
        "recipe_options": t.recipe.options,
        "dataset": {"path": o["data"], "name": Path(o["data"]).name, "info": ds.info,
                    "pairs_train": len(ds), "pairs_val": len(t.val_ds), "val_split": t.val_split},
        "perceptual_backbone": perceptual_backbone(t.recipe),
        "seed": int(t.opts["seed"]),
        "device": str(t.device),
        "world_size": t.dist.world,
        "amp": t.amp.description,
        "precision": t.amp.precision,
        "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in t.recipe.modules().items()},
        "versions": versions(),
        "command": t.opts.get("command") or f"fit({json.dumps(o, default=str)})",
        "options": o,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if t.resumed_from is not None:
        old = read_options(t.run_dir)
        info["started"] = old.get("started", info["started"])
        info["resumed"] = old.get("resumed", []) + [{"from": str(t.resumed_from), "step": t.step,
                                                     "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                     "command": info["command"]}]
        info["command"] = old.get("command", info["command"])
    return info
