"""Resumable training checkpoints: written atomically, read without unpickling arbitrary objects.

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and dicts (models' and
optimisers' state dicts, the step, the random states of python / numpy / torch, the data order position), so
``torch.load(weights_only=True)`` reads it: a checkpoint from somewhere else cannot run code.

Writing goes through engine.fileio (a ``.part`` file beside it, fsynced, then renamed): a kill at any moment
leaves either the old set of checkpoints or the new one, a stray ``.part`` file is never taken for a
checkpoint, and a full disk is one line with no ``.part`` left behind.
"""
from __future__ import annotations

import logging
import os
import pickle
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


def set_rng_state(state: dict) -> None:
    v, keys, gauss = state["python"]
    random.setstate((v, tuple(keys), gauss))
    kind, keys, pos, has_gauss, g = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, g))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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


def _why_unreadable(e: Exception) -> str:
    """What went wrong reading a checkpoint, one plain line. torch's refusal of a pickle holds terminal colour
    codes and a paragraph on loading the file unsafely before its reason: the reason is kept."""
    text = _ANSI.sub("", str(e))
    _, found, reason = text.partition("WeightsUnpickler error:")
    line = next((ln.strip() for ln in (reason if found else text).splitlines() if ln.strip()), "")
    if found:
        line = line.split(". ")[0]  # then advice on allow-listing what the file holds
    if isinstance(e, (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError)) and line:
        return line
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def load_checkpoint(path: Path, device="cpu") -> dict:
    import warnings

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns of a legacy pickle in two lines before refusing it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 (our own file: a few changed bytes in its pickle raise anything)
        raise CheckpointError(f"{path}: not a readable checkpoint ({_why_unreadable(e)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a PoseEditor training checkpoint")
    return state


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


def load_latest(run_dir: Path, device="cpu") -> tuple[Path, dict]:
    """The newest checkpoint of a run that loads; an unreadable newest one falls back to the one before."""
    found = list_checkpoints(Path(run_dir) / "checkpoints")
    if not found:
        raise CheckpointError(f"{run_dir}: the run has no checkpoint")
    err = None
    for _, p in reversed(found):
        try:
            return p, load_checkpoint(p, device)
        except CheckpointError as e:
            log.warning("%s; trying an older checkpoint", e)
            err = e
    raise err
