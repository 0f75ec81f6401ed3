"""The run folder of a training run, in the way of stylegan2-ada: ``runs/00000-<backend>-<dataset>/``.

    training_options.json   everything needed to understand and repeat the run (written once, then on resume)
    stats.jsonl             one JSON object per line, flushed as it is written: the machine-readable progress
    stats.csv               the same rows as a table (columns grow as new figures appear)
    grids/grid-0000100.png  source | target | output rows at a step
    checkpoints/ckpt-0000100.pt   resumable states (training/checkpoint.py)
    best.safetensors        the generator at the best validation figure, in the engine's weights format

stats.jsonl rows all have "kind" and "step":
    {"kind": "start", "step": 0, "total_steps": N, "run_dir": "...", "resumed": false}
    {"kind": "train", "step": 12, "total_steps": N, "epoch": 0, "elapsed": 3.2, "it_s": 4.1, "loss": 0.5, ...}
    {"kind": "val", "step": 100, "ssim": 0.61, "l1": 0.08, ..., "best": true}
    {"kind": "checkpoint", "step": 100, "path": "checkpoints/ckpt-0000100.pt"}
    {"kind": "done", "step": N, "reason": "steps" | "time budget" | "signal" | "stop_after", "best": "..."}
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
from pathlib import Path

from engine.errors import PoseEditorError
from engine.fileio import OutputError, atomic_write_text, describe_os_error, not_ours

from .protocol import OPTIONS_FILE, STATS_FILE, read_stats  # noqa: F401  (read_stats: this module's API)

RUN_NAME = re.compile(r"^(\d{5})-")


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return s[:40] or "data"


def output_folder(path, what: str = "output folder") -> Path:
    """Make the folder ``path`` (its parent must exist: a mistyped path is not created) or say in one line why
    it cannot be written to."""
    path = Path(path)
    not_ours(path, what)
    for p in [path, *path.parents]:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{path}: cannot write the {what}: {p} is a file, not a folder")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write the {what}: folder {parent} does not exist")
    with writing(path, what):
        path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def writing(path, what: str):
    """An OSError while writing ``path`` (full disk, read-only, ...) becomes a one-line OutputError."""
    try:
        yield
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(describe_os_error(path, e, what)) from None


def sweep_parts(run_dir) -> None:
    """Remove the temporary files of writes that failed (a full disk): a run folder keeps whole files only."""
    run_dir = Path(run_dir)
    for folder in (run_dir, run_dir / "grids", run_dir / "checkpoints"):
        if folder.is_dir():
            for p in folder.iterdir():
                if ".part" in p.name and p.is_file():
                    with contextlib.suppress(OSError):
                        p.unlink()


def new_run_dir(runs_dir, backend: str, dataset) -> Path:
    """Create the next numbered folder ``NNNNN-<backend>-<dataset name>`` under ``runs_dir``."""
    runs = output_folder(runs_dir, "runs folder")
    name = _slug(Path(str(dataset)).name)
    while True:
        ids = [int(m.group(1)) for p in runs.iterdir() if (m := RUN_NAME.match(p.name))]
        run = runs / f"{max(ids, default=-1) + 1:05d}-{_slug(backend)}-{name}"
        try:
            with writing(run, "run folder"):
                run.mkdir()  # not exist_ok: two runs started at once must not share a folder
            return run
        except OutputError:
            if run.exists():
                continue
            raise


def write_options(run_dir: Path, options: dict) -> None:
    atomic_write_text(Path(run_dir) / OPTIONS_FILE, json.dumps(options, indent=2, default=str) + "\n", "run record")


def read_json_object(path, what: str) -> dict:
    """A JSON object from a file, or one line saying why not (unreadable, not JSON, not an object)."""
    from engine.pose import parse_json  # every JSON failure, 100,000-deep nesting too, as one line

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise PoseEditorError(f"{p}: cannot read the {what} ({e.strerror or e})") from None
    except ValueError as e:
        raise PoseEditorError(f"{p}: not readable JSON ({e})") from None
    data = parse_json(text, p, PoseEditorError)
    if not isinstance(data, dict):
        raise PoseEditorError(f"{p}: the {what} must be a JSON object")
    return data


def read_options(run_dir: Path) -> dict:
    p = Path(run_dir) / OPTIONS_FILE
    if not p.is_file():
        raise PoseEditorError(f"{run_dir}: not a training run folder (no training_options.json)")
    data = read_json_object(p, "run record")
    if not isinstance(data.get("options", {}), dict):
        raise PoseEditorError(f"{p}: damaged (its \"options\" is not a JSON object)")
    return data


class Stats:
    """Appends rows to stats.jsonl (flushed per row) and keeps stats.csv in step with it."""

    CSV_KINDS = ("train", "val")

    def __init__(self, run_dir: Path, keep_until_step: int | None = None, enabled: bool = True):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.jsonl = self.run_dir / STATS_FILE
        self.csv_path = self.run_dir / "stats.csv"
        self.columns: list[str] = []
        self._f = None
        self._csv = None
        if not enabled:
            return
        rows = read_stats(self.run_dir)
        if keep_until_step is not None:
            # a resumed run repeats the steps after its checkpoint: drop the rows it will write again
            rows = [r for r in rows if int(r.get("step", 0)) <= keep_until_step and r.get("kind") != "done"]
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in rows), "training statistics")
        self._rewrite_csv(rows)
        self._f = open(self.jsonl, "a", encoding="utf-8")

    def _csv_rows(self, rows):
        return [r for r in rows if r.get("kind") in self.CSV_KINDS]

    def _rewrite_csv(self, rows) -> None:
        rows = self._csv_rows(rows)
        for r in rows:
            self.columns += [k for k in r if k not in self.columns]
        buf = io.StringIO()
        w = csv.DictWriter(buf, self.columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        if self._csv:
            self._csv.close()
        atomic_write_text(self.csv_path, buf.getvalue(), "training statistics")
        self._csv = open(self.csv_path, "a", encoding="utf-8", newline="")

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with writing(self.jsonl, "training statistics"):
            self._write(row)

    def _write(self, row: dict) -> None:
        self._f.write(json.dumps(row) + "\n")
        self._f.flush()  # a reader (the app) sees every step as it happens
        if row.get("kind") in self.CSV_KINDS:
            if any(k not in self.columns for k in row):
                self._csv.flush()
                self._rewrite_csv(read_stats(self.run_dir))  # new columns: rewrite the table once
            else:
                csv.DictWriter(self._csv, self.columns, extrasaction="ignore", lineterminator="\n").writerow(row)
                self._csv.flush()

    def close(self) -> None:
        for f in (self._f, self._csv):
            if f:
                f.close()
        self._f = self._csv = None


class RunLock:
    """An exclusive lock on a run folder while a process trains it: a second ``fit --resume`` of the same run
    refuses (one line) instead of both training and interleaving their rows. The operating system drops the
    lock when the process ends, however it ends, so a killed run never leaves a stale lock."""

    NAME = ".lock"

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / self.NAME
        try:
            self._f = open(self.path, "a+", encoding="utf-8")
        except OSError as e:
            raise PoseEditorError(f"{run_dir}: cannot lock the run folder ({e.strerror or e})") from None
        try:
            _lock(self._f)
        except OSError:
            self._f.seek(0)
            holder = self._f.read().strip()
            self._f.close()
            raise PoseEditorError(f"{run_dir}: the run is being trained by another process"
                                  f"{' (pid ' + holder + ')' if holder else ''}; wait for it or stop it") from None
        self._f.seek(0)
        self._f.truncate()
        self._f.write(str(os.getpid()))
        self._f.flush()

    def release(self) -> None:
        if self._f is not None:
            self._f.close()  # closing drops the lock
            self._f = None


if sys.platform == "win32":
    import msvcrt

    def _lock(f) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
else:
    import fcntl

    def _lock(f) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
