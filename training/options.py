"""The options of ``poseeditor-train fit``: their defaults, a --config file, their checks, and the command line.

Options are DEFAULTS below (the CLI's flags); a --config JSON file may hold any of them plus "net" (network
config overrides) and "recipe" (loss weights, learning rates, ...) dicts; flags given on the command line win.
Every value is checked for its type and range here, before anything is read or allocated, so a wrong one is
one line naming where it came from (the flag, the config file or a run's training_options.json).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from engine.errors import PoseEditorError

from .protocol import MAX_SOURCES

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
    "clock": "wall",          # what the time budget counts: wall (the app's) | cpu (this process's CPU time)
    "patience": None,         # stop after this many validations in a row without a better figure
    "schedule": "constant",   # learning rates: constant | cosine (warm-up, then down to 5% at the budget's end)
    "lr_mult": 1.0,           # times every learning rate of the recipe (fine-tuning wants less than the papers')
    "freeze_norm": False,     # the generator's batch norms keep their statistics (fine-tuning on one person)
    "init": None,             # engine weights to start from (fine-tuning)
    "augment": False,         # flip + colour jitter of the training pairs
    "reframe": 0.0,           # each image of a pair moved and scaled by up to this share of its size (0: off)
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
                   "reframe", "init", "freeze_norm")
# Options that apply to one invocation only: a resumed run does not inherit them.
PER_INVOCATION = ("stop_after", "time_budget", "resume", "command", "progress_bar")
METRICS = ("ssim", "mask_ssim", "l1", "psnr", "pckh")


class TrainingError(PoseEditorError):
    """Options or states a run cannot start from."""




# ================================================================================================================
# Reading and checking
# ================================================================================================================
def _read_config(config) -> dict:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    from .run_dir import read_json_object

    return read_json_object(config, "config file")


# Kinds of value, and the smallest allowed (None: no bound). Anything not listed is a string (or a path).
_INTS = {"steps": 1, "batch": 1, "num_sources": 1, "val_every": 1, "grid_every": 1, "ckpt_every": 1,
         "val_pairs": 1, "patience": 1, "grid_size": 1, "keep_checkpoints": 0, "workers": 0, "stop_after": 1,
         "seed": 0}
# whole numbers beyond which a run cannot start (torch's seed is 64 bits; the batches stack every source's images
# in memory: a thousand sources ran out of memory without a word)
_INT_MAX = {"seed": 2 ** 53, "num_sources": MAX_SOURCES}  # a rank's seed is seed * 1000 + rank (loop.py)


def max_workers() -> int:
    """The most data-loader processes a run may start: one per CPU this process may use. Each holds its own
    dataset reader and torch (~440 MB): more cannot load faster, and --workers 100000 ran the machine out of
    memory, leaving orphan workers behind."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_POSITIVE_FLOATS = ("width", "time_budget", "lr_mult")
# lr_mult times a recipe's rate (at most 1, recipes/base.py): 1e300 overflowed Adam's first step
_FLOAT_MAX = {"lr_mult": 100.0}
_BOOLS = ("augment", "amp", "freeze_norm")
_DICTS = ("net", "recipe")
CLOCKS = ("wall", "cpu")
SCHEDULES = ("constant", "cosine")
_CHOICES = {"select_by": METRICS, "progress_bar": ("auto", "on", "off"), "precision": ("auto", "fp32", "bf16"),
            "clock": CLOCKS, "schedule": SCHEDULES}


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def check_options(opts: dict, source=lambda key: _flag(key)) -> dict:
    """Check every option's type and range; integral floats become ints, sizes lists of two ints.

    ``source(key)`` names where a value came from, for the one-line error."""
    def bad(key, what):
        raise TrainingError(f"{source(key)} must be {what}, not {opts[key]!r}")

    for key, low in _INTS.items():
        v = opts.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
            bad(key, "a whole number")
        opts[key] = int(v)
        if low is not None and opts[key] < low:
            bad(key, f"at least {low}")
        if key in _INT_MAX and opts[key] > _INT_MAX[key]:
            bad(key, f"at most {_INT_MAX[key]}")
        if key == "workers" and opts[key] > max_workers():
            bad(key, f"at most {max_workers()}, one per CPU of this machine")
    for key in _POSITIVE_FLOATS:
        v = opts.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            bad(key, "a number above 0")
        if v > _FLOAT_MAX.get(key, math.inf):
            bad(key, f"a number above 0 and at most {_FLOAT_MAX[key]:g}")
    v = opts.get("reframe")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 0.5:
        bad("reframe", "a number from 0 to 0.5")
    opts["reframe"] = float(v)
    for key in _BOOLS:
        if not isinstance(opts.get(key), bool):
            bad(key, "true or false")
    for key in _DICTS:
        if opts.get(key) is None:
            opts[key] = {}
        if not isinstance(opts[key], dict):
            bad(key, "a JSON object")
    for key, choices in _CHOICES.items():
        if opts.get(key) not in choices:
            bad(key, f"one of {', '.join(choices)}")
    for key in ("backend", "data", "resume", "runs_dir", "device", "init", "label", "command"):
        v = opts.get(key)
        if v is not None and not isinstance(v, (str, os.PathLike)):
            bad(key, "a text")
    size = opts.get("size")
    if size is not None:
        if (not isinstance(size, (list, tuple)) or len(size) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 16 for v in size)):
            bad("size", "two whole numbers [height, width], each at least 16")
        opts["size"] = [int(v) for v in size]
    _check_recipe(opts, source)
    return opts


def _check_recipe(opts: dict, source) -> None:
    """The recipe options by the recipe's own rules (Recipe.check_options), as the options are read: a bad rate
    or loss setting otherwise stopped the first step with a traceback, after a run folder was made."""
    backend = opts.get("backend")
    if not isinstance(backend, str) or not opts["recipe"]:
        return
    from .recipes import RecipeUnavailable, recipe_class

    try:
        cls = recipe_class(backend)
    except (KeyError, RecipeUnavailable):
        return  # check_required and get_recipe_class say it, in their turn
    opts["recipe"] = cls.check_options(opts["recipe"], source("recipe"))


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
    for k in ("net", "recipe"):
        if k in cfg and not isinstance(cfg[k], dict):
            raise TrainingError(f"{given.get('config')}: \"{k}\" must be a JSON object, not {cfg[k]!r}")
    opts = dict(DEFAULTS)
    opts.update(cfg)
    for k in ("net", "recipe"):  # dicts merge: a flag like --width adds to the config's net dict
        if k in given:
            given[k] = {**(opts.get(k) or {}), **given[k]}
    opts.update(given)
    if opts["config"] is not None and not isinstance(opts["config"], dict):
        opts["config"] = str(opts["config"])
    opts["_given"] = sorted(given)
    check_options(opts, lambda k: _flag(k) if k in given or k not in cfg else f"{opts['config']}: \"{k}\"")
    return opts


def _norm(key: str, v):
    """An option's value in the form training_options.json keeps it, to compare a flag with a run's own."""
    if key in ("data", "init") and v is not None:
        return str(Path(v).resolve())
    if isinstance(v, tuple):
        return list(v)
    return v


def merge_resume(opts: dict) -> tuple[dict, Path, Path]:
    """A resumed run's options: its own for what defines the training, this invocation's for the rest.

    Returns (options, run folder, the checkpoint asked for)."""
    from . import checkpoint as ckpt
    from .run_dir import read_options

    run_dir, ck = ckpt.find_resume(opts["resume"])
    record = read_options(run_dir)
    saved = record.get("options", {})  # read_options refuses a record whose options are not an object
    given = set(opts.get("_given", []))
    for k in FIXED_ON_RESUME:
        if k in given and k in saved and _norm(k, opts[k]) != _norm(k, saved[k]):
            raise TrainingError(f"{_flag(k)} {opts[k]!r} differs from the run's {saved[k]!r}; "
                                f"a resumed run keeps what it trains (start a new run instead)")
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in saved.items() if k in DEFAULTS and k not in PER_INVOCATION})
    merged.update({k: opts[k] for k in given if k not in FIXED_ON_RESUME})
    workers = merged.get("workers")
    if "workers" not in given and isinstance(workers, int) and not isinstance(workers, bool):
        merged["workers"] = min(workers, max_workers())  # a run started on a machine with more CPUs
    merged["resume"] = str(opts["resume"])
    merged["_given"] = sorted(given)
    from .protocol import OPTIONS_FILE

    where = run_dir / OPTIONS_FILE
    check_options(merged, lambda k: _flag(k) if k in given else f"{where}: \"{k}\" (damaged?)")
    return merged, run_dir, ck


def check_required(opts: dict) -> None:
    # a resumed run's record lacking them is damaged: "give --backend NAME" named neither the run nor its file
    whose = f"{opts['resume']}: the run's record has no \"{{}}\" (damaged?); " if opts.get("resume") else ""
    if not opts.get("backend"):
        raise TrainingError(whose.format("backend") + "give --backend NAME")
    if not opts.get("data"):
        raise TrainingError(whose.format("data") + "give --data DATASET (a folder written by "
                            "`poseeditor-train prepare` or `synth`)")
    from engine.fileio import inside, not_ours

    runs, data = opts.get("runs_dir"), opts["data"]
    if runs and not opts.get("resume"):
        not_ours(runs, "runs folder")  # here, before networks are built (run_dir.output_folder says it again)
        if Path(data).is_dir() and inside(runs, data):
            # a run folder among the dataset's files: a later prepare or copy of the set would carry it
            raise TrainingError(f"{runs}: the runs folder would be inside the dataset {data}; give --runs-dir "
                                f"outside it")


# ================================================================================================================
# Recipes
# ================================================================================================================
def trainable_backends() -> list[str]:
    from .recipes import recipe_names

    return recipe_names()


def get_recipe_class(name: str):
    from .recipes import RecipeUnavailable, recipe_class

    try:
        return recipe_class(name)
    except KeyError:
        raise TrainingError(f"unknown backend '{name}' for training; trainable: "
                            f"{', '.join(trainable_backends()) or 'none yet'}") from None
    except RecipeUnavailable as e:
        raise TrainingError(f"backend '{name}' cannot be trained here ({e})") from None


# ================================================================================================================
# The command line
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
    p.add_argument("--clock", choices=CLOCKS,
                   help="what --time-budget counts: wall (default, the app's) or cpu, this process's CPU time "
                        "(every run gets the same compute on a shared machine)")
    p.add_argument("--patience", type=int, metavar="N",
                   help="stop after N validations in a row that are not better than the best (early stopping)")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help="learning rates: constant (default) or cosine (a short warm-up, then down to 5%% by the "
                        "end of the time budget or the steps)")
    p.add_argument("--lr-mult", type=float, metavar="F",
                   help="multiply every learning rate of the recipe (default 1, at most 100)")
    p.add_argument("--freeze-norm", action="store_const", const=True,
                   help="keep the generator's batch-norm statistics (normalise with the starting weights' running "
                        "statistics, as at inference): fine-tuning on one person's batches")
    p.add_argument("--init", metavar="WEIGHTS.safetensors", help="start from these engine weights (fine-tune)")
    p.add_argument("--augment", action="store_const", const=True, help="flip and colour-jitter training pairs")
    p.add_argument("--reframe", type=float, metavar="F",
                   help="move and scale each image of a training pair by up to F of its size, each on its own "
                        "(the framings the app gives a pose; default 0)")
    p.add_argument("--workers", type=int, help=f"data loader processes (default 0; at most one per CPU, "
                                               f"{max_workers()} here)")
    p.add_argument("--val-pairs", type=int, help="test pairs per validation (default 64)")
    p.add_argument("--stop-after", type=int, metavar="N", help="stop after N steps of this invocation, resumable")
    p.add_argument("--gan-start-step", type=int, metavar="N",
                   help="adversarial losses from step N on, reconstruction losses alone before (default 0, the "
                        "papers'; a short CPU fine-tune learns more without them)")
    p.add_argument("--net", type=json_object, metavar="JSON",
                   help="network config overrides as a JSON object, e.g. '{\"width\": 0.5}' (over --init's "
                        "config and --config's \"net\")")
    p.add_argument("--recipe", type=json_object, metavar="JSON",
                   help="recipe options (loss weights, rates, ...) as a JSON object, e.g. '{\"perceptual_depths\": "
                        "[0, 1]}' (over --config's \"recipe\")")
    p.add_argument("--label", help="label of the exported best weights")
    p.add_argument("--no-progress", dest="progress_bar", action="store_const", const="off",
                   help="no progress bar (stats.jsonl still has every step)")


def json_object(text: str) -> dict:
    """A command-line value that must be a JSON object (argparse reports the error as a usage error, with the
    value cut short: a 20,000-character one was echoed whole)."""
    import argparse
    import json

    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: 5,000-deep nesting
        value = None
    if not isinstance(value, dict):
        shown = text if len(text) <= 60 else text[:60] + "…"
        raise argparse.ArgumentTypeError(f"not a JSON object: {shown!r}")
    return value


json_object.__name__ = "JSON object"  # argparse's error names the type by it


def options_from_args(args) -> dict:
    """fit's options from its parsed command line (unset flags are None: the config's or the defaults' hold)."""
    options = {k: getattr(args, k) for k in DEFAULTS if hasattr(args, k) and k != "command"}
    options["command"] = getattr(args, "command_line", None)
    if getattr(args, "gan_start_step", None) is not None:  # a recipe option every recipe has (recipes/base.py)
        if args.gan_start_step < 0:
            raise TrainingError(f"--gan-start-step must be at least 0, not {args.gan_start_step}")
        options["recipe"] = {**(options.get("recipe") or {}), "gan_start_step": int(args.gan_start_step)}
    return options


def run(args) -> int:
    options = options_from_args(args)

    def announce(row):
        # stdout's one line: the run folder, as soon as it exists, so a caller (the app runs fit in a
        # subprocess) can follow its stats.jsonl from the first step
        if row["kind"] == "start":
            print(row["run_dir"], flush=True)

    from .loop import fit

    fit(options, progress=announce)
    return 0
