"""Resumable training checkpoints: written atomically, read without unpickling arbitrary objects.

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and dicts (models' and
optimisers' state dicts, the step, the random states of python / numpy / torch, the data order position), so
``torch.load(weights_only=True)`` reads it: a checkpoint from somewhere else cannot run code.

Writing goes through engine.fileio (a ``.part`` file beside it, fsynced, then renamed): a kill at any moment
leaves either the old set of checkpoints or the new one, a stray ``.part`` file is never taken for a
checkpoint, and a full disk is one line with no ``.part`` left behind.

Reading checks what a run's resume and export rely on (check_checkpoint: every field there and of its kind), so a
damaged or hand-edited checkpoint is one line naming the file and the field, never a traceback further on.
"""
from __future__ import annotations

import logging
import math
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from engine.errors import PoseEditorError
from engine.fileio import atomic_output

log = logging.getLogger(__name__)

FORMAT = "poseeditor-checkpoint"
CKPT_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


class CheckpointError(PoseEditorError):
    """A checkpoint or run folder that cannot be resumed from."""


# ----- random states ------------------------------------------------------------------------------------------
def rng_state() -> dict:
    """The global random states as plain data (weights_only-loadable: lists and tensors, no numpy objects)."""
    py = random.getstate()
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": [py[0], list(py[1]), py[2]],
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _rng_parts(state: dict) -> tuple:
    """One rank's saved random states as (python's, numpy's, torch's), in the forms their setters take."""
    v, keys, gauss = state["python"]
    kind, np_keys, pos, has_gauss, g = state["numpy"]
    return (v, tuple(keys), gauss), (kind, np_keys.numpy().astype(np.uint32), pos, has_gauss, g), state["torch"]


def set_rng_state(state: dict) -> None:
    py, nps, pt = _rng_parts(state)
    random.setstate(py)
    np.random.set_state(nps)
    torch.set_rng_state(pt)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _rng_problem(state) -> str | None:
    """Why one rank's saved random states cannot be restored, or None: each is given to a generator of its own
    kind made for the purpose, whose setter is the rule (the global ones are not touched)."""
    if not isinstance(state, dict):
        return f"holds {_shown(state)}, not the random states of a process"
    try:
        if not isinstance(state["numpy"][1], torch.Tensor):
            return "numpy's state has no tensor of keys"
        py, nps, pt = _rng_parts(state)
        random.Random().setstate(py)
        np.random.RandomState().set_state(nps)
        torch.Generator().set_state(pt)
    except KeyError as e:
        return f"has no {e.args[0]!r} state"
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError, RuntimeError) as e:
        return f"cannot be restored ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})"
    cuda = state.get("cuda", [])
    if not (isinstance(cuda, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in cuda)):
        return "its cuda states are not a list of tensors"
    return None


# ----- files --------------------------------------------------------------------------------------------------
def checkpoint_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"ckpt-{int(step):07d}.pt"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of the complete checkpoints in ``folder``, oldest first (``.part`` files are not)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CKPT_NAME.match(p.name)) and p.is_file()]
    return sorted(found)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows); the file itself is synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(folder: Path, step: int, state: dict, keep: int = 3) -> Path:
    """Write ``state`` (plus format and step) atomically as ``folder/ckpt-<step>.pt``; keep the newest ``keep``."""
    from .run_dir import writing

    folder = Path(folder)
    with writing(folder, "checkpoint folder"):
        folder.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(folder, step)
    with atomic_output(path, what="checkpoint") as tmp:
        with open(tmp, "wb") as f:
            try:
                torch.save({"format": FORMAT, "version": 1, "step": int(step), **state}, f)
            except RuntimeError as e:
                # torch's zip writer can answer a failed write (a full disk) with a RuntimeError raised while
                # handling the OSError: the OSError is what happened
                if isinstance(e.__context__, OSError):
                    raise e.__context__ from None
                raise
    _fsync_dir(folder)
    if keep > 0:
        for _, old in list_checkpoints(folder)[:-keep]:
            old.unlink(missing_ok=True)
    return path


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# what torch says around the reason it refused a pickle: how to load the file unsafely, where the documentation is
_ADVICE = re.compile(r"weights.?only|torch\.load|safe_globals|documentation|trust|still be loaded|alternatively|"
                     r"pytorch \d", re.I)
UNREADABLE = "not a readable checkpoint (damaged or not a PoseEditor checkpoint)"


def _why_unreadable(e: Exception) -> str:
    """What went wrong reading a checkpoint, short and on one line. torch's refusal of a pickle wraps its reason
    (the global it would not import) in paragraphs on loading the file unsafely, worded differently from one torch
    to the next: every sentence of advice is dropped, and no advice is passed on."""
    if isinstance(e, EOFError):
        return "the file ends too early"
    text = _ANSI.sub("", str(e))
    text = text.partition("WeightsUnpickler error:")[2] or text
    sentences = [x.strip() for x in re.split(r"(?<=[.!?])\s+|\n", text) if x.strip()]
    reason = next((x for x in sentences if not _ADVICE.search(x)), "")
    reason = re.sub(r"^Trying to load ", "", reason).rstrip(".")
    if len(reason) > 120:
        reason = reason[:117] + "..."
    return reason or type(e).__name__


def _shown(v) -> str:
    """A value as a message names it: short values as written, others by their kind."""
    if v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 40):
        return repr(v)
    return f"a {type(v).__name__}"


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _real(v) -> bool:
    return _finite(v) and v >= 0


def _state_dict_problem(v) -> str | None:
    if not isinstance(v, dict):
        return f"is {_shown(v)}, not a state dict"
    bad = next((k for k, t in v.items() if not isinstance(k, str) or not isinstance(t, torch.Tensor)), None)
    if bad is not None:
        return f"holds {_shown(v[bad])} under {str(bad)[:60]!r}, not a tensor"
    # a run stops at a non-finite loss before its checkpoint: NaN weights are damage, which resumed would train
    # on to "the loss became nan" and exported would render black
    bad = next((k for k, t in v.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
    return None if bad is None else f"holds NaN or infinite values in {bad[:60]!r}"


def _optimizer_problem(v) -> str | None:
    if not isinstance(v, dict) or not isinstance(v.get("state"), dict) or not isinstance(v.get("param_groups"), list):
        return "is not an optimiser's state (its \"state\" and \"param_groups\")"
    if not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in v["param_groups"]):
        return "has a parameter group without its list of \"params\""
    return None


def _recipe_problem(recipe) -> tuple[str, str] | str | None:
    """What is wrong with a checkpoint's "recipe" (its modules' and optimisers' state dicts): (the part at fault,
    why), or None."""
    if not isinstance(recipe, dict):
        return f"is {_shown(recipe)}, not the recipe's state (a table)"
    for part, problem in (("modules", _state_dict_problem), ("optimizers", _optimizer_problem)):
        if part not in recipe:
            return f".{part}", "is missing"
        if not isinstance(entries := recipe[part], dict):
            return f".{part}", f"is {_shown(entries)}, not a table"
        for name, v in entries.items():
            if (why := problem(v)) is not None:
                return f".{part}.{str(name)[:40]}", why
    if "generator" not in recipe["modules"]:
        return ".modules.generator", "is missing"
    return None


def _kind(test, wanted: str):
    """A field's check: None when ``test(value)`` holds, else what the field must be and what it holds."""
    return lambda v: None if test(v) else f"must be {wanted}, not {_shown(v)}"


def _rng_list_problem(v) -> tuple[str, str] | str | None:
    if not isinstance(v, (list, tuple)) or not v:
        return f"must be a list of random states (one a process), not {_shown(v)}"
    return next(((f"[{i}]", why) for i, r in enumerate(v) if (why := _rng_problem(r))), None)


# field -> (required, check): what resume (setup_run.py, loop.py) and export read, and the kinds they take. A check
# gives None, what is wrong, or (the part of the field at fault, what is wrong with it).
FIELDS = {
    "step": (True, _kind(_whole, "a whole number from 0")),
    "backend": (True, _kind(lambda v: isinstance(v, str) and bool(v.strip()), "a backend's name")),
    "net_config": (True, _kind(lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
                               "a network configuration (a table)")),
    "recipe": (True, _recipe_problem),
    "data_position": (True, _kind(lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(map(_whole, v)),
                                  "[epoch, index], two whole numbers from 0")),
    "rng": (True, _rng_list_problem),
    "best": (False, _kind(lambda v: v is None or (isinstance(v, dict) and isinstance(v.get("metric"), str)
                                                  and _finite(v.get("value")) and _whole(v.get("step"))),
                          '{"metric": name, "value": number, "step": whole number}')),
    "elapsed": (False, _kind(_real, "a number of seconds from 0")),
    "clock_used": (False, _kind(_real, "a number of seconds from 0")),
    "stale": (False, _kind(_whole, "a whole number from 0")),
    "amp": (False, _kind(lambda v: v is None or isinstance(v, dict), "the gradient scaler's state (a table)")),
}


def _field_problem(state: dict) -> tuple[str, str] | None:
    """(field, what is wrong) of the first field a reader of ``state`` relies on that is missing or of the wrong
    kind, or None."""
    for name, (required, check) in FIELDS.items():
        if name not in state:
            if required:
                return name, "is missing"
            continue
        why = check(state[name])
        if isinstance(why, tuple):
            return name + why[0], why[1]
        if why is not None:
            return name, why
    return None


def check_checkpoint(state: dict, path) -> dict:
    """``state`` if the fields its readers (resume, export) rely on are all there and of their kinds; else
    CheckpointError naming the file and the first field at fault. The one place those fields are checked: a
    hand-edited or damaged checkpoint is refused here (load_checkpoint's ``fields``), before any reader uses it."""
    found = _field_problem(state)
    if found is not None:
        field, why = found
        raise CheckpointError(f"{path}: damaged checkpoint: its field \"{field}\" {why}")
    return state


def load_checkpoint(path: Path, device="cpu", fields: bool = False) -> dict:
    """A checkpoint's state, read without unpickling any object; with ``fields``, check_checkpoint's too (what a
    run's resume and export read; a checkpoint of other content is only a format and a step)."""
    import warnings

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns of a legacy pickle in two lines before refusing it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 (our own file: a few changed bytes in its pickle raise anything)
        empty = path.is_file() and path.stat().st_size == 0
        raise CheckpointError(f"{path}: {UNREADABLE}: {'the file is empty' if empty else _why_unreadable(e)}") \
            from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a PoseEditor training checkpoint")
    return check_checkpoint(state, path) if fields else state


def find_resume(target) -> tuple[Path, Path]:
    """(run folder, checkpoint file) for ``--resume``: a run folder (its newest checkpoint) or a checkpoint."""
    target = Path(target)
    if target.is_file():
        from .protocol import OPTIONS_FILE

        run = target.parent.parent if target.parent.name == "checkpoints" else target.parent
        if not (run / OPTIONS_FILE).is_file():  # a checkpoint alone in a folder said ".: not a training run folder"
            raise CheckpointError(f"{target}: not a checkpoint of a training run (give the run folder, or a "
                                  f"checkpoint in its checkpoints folder)")
        return run, target
    if not target.is_dir():
        raise CheckpointError(f"{target}: no such run folder or checkpoint")
    found = list_checkpoints(target / "checkpoints")
    if not found:
        raise CheckpointError(f"{target}: the run has no checkpoint to resume from")
    return target, found[-1][1]


def load_latest(run_dir: Path, device="cpu", fields: bool = False) -> tuple[Path, dict]:
    """The newest checkpoint of a run that loads (load_checkpoint, ``fields`` as there); an unreadable newest one
    falls back to the one before, with a warning (none when there is none before: its error is the one said)."""
    found = list_checkpoints(Path(run_dir) / "checkpoints")
    if not found:
        raise CheckpointError(f"{run_dir}: the run has no checkpoint")
    for _, p in reversed(found[1:]):
        try:
            return p, load_checkpoint(p, device, fields)
        except CheckpointError as e:
            log.warning("%s; trying an older checkpoint", e)
    return found[0][1], load_checkpoint(found[0][1], device, fields)
