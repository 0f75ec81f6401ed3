"""The user's weights library: the .safetensors files of the data dir's weights/ folder plus the starter weights.

Qt-free (the weights manager dialog is a view on these functions; tests run them without a window):

    entries = list_weights()                       # user files, then the starters (read-only)
    rename(path, label="Anna, 10 min", new_name="anna")
    delete(path)
    import_file("downloaded.safetensors")          # validated by engine.weights.read_meta, copied in
    export_file(path, "/media/usb/")               # copied out

Renaming a label rewrites only the safetensors header (the tensor bytes are copied unchanged), so it works for
every dtype and needs neither torch nor the memory of the tensors.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import appdirs

from engine.backends.base import is_starter  # numpy only
from engine.errors import PoseEditorError, WeightsError
from engine.fileio import check_input
from engine.runtime import APP_NAME  # the per-user folders' one name
from engine.weights import META_KEY, WeightsMeta, read_meta
# one numbering rule and one accent rule for the app's weights and training's datasets
from training.names import plain_if_unwritable, unique_path  # noqa: F401
from training.protocol import is_video

SUFFIX = ".safetensors"
# files the engine never loads but the training package's importer converts (PyTorch, Keras)
FOREIGN_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin", ".tar", ".h5", ".hdf5", ".keras"}
_PICKLE_HEADS = (b"PK", b"\x80")
_H5_HEAD = b"\x89HDF\r\n\x1a\n"


class WeightsLibraryError(PoseEditorError):
    """A library action that cannot be done (read-only starter, name taken, ...)."""


def user_weights_dir() -> Path:
    return Path(appdirs.user_data_dir(APP_NAME)) / "weights"


def starter_dir() -> Path:
    from engine.backends.base import STARTER_DIR  # numpy only; torch is imported lazily by the backends

    return STARTER_DIR


@dataclass
class WeightsEntry:
    path: Path
    file_size: int
    starter: bool                 # shipped with PoseEditor: read-only
    meta: WeightsMeta | None      # None when the file cannot be read (then ``error`` says why)
    error: str = ""

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def backend(self) -> str:
        return self.meta.backend if self.meta else ""

    @property
    def label(self) -> str:
        return self.meta.label if self.meta else ""

    @property
    def image_size(self) -> tuple[int, int] | None:
        return tuple(self.meta.image_size) if self.meta else None

    @property
    def data(self) -> str:
        """What it was trained on (provenance "data"), or where it was imported from."""
        if not self.meta:
            return ""
        p = self.meta.provenance
        if p.get("data") or p.get("imported_from"):
            return str(p.get("data") or f"imported from {p['imported_from']}")
        return starter_learnt(self.meta) if self.starter else ""

    @property
    def trained_on(self) -> str:
        """What the weights learnt from, in one plain phrase per kind (see trained_on)."""
        return trained_on(self.meta, self.starter)

    @property
    def created(self) -> str:
        return self.meta.created if self.meta else ""

    @property
    def title(self) -> str:
        return self.label or self.name


def starter_learnt(meta: WeightsMeta | None) -> str:
    """What starter weights learnt from, in words that go mid-sentence: "synthetic people, then real photos"
    (SPGNet's, trained on its prior: synthetic people, then real photos' self-pairs), else "synthetic people" (a
    starter exported from a checkpoint keeps no "data", dgan's: every starter learnt synthetic people). The one
    rule the weights manager's "Trained on", the engine panel and the training dialog all say it by."""
    data = str(meta.provenance.get("data") or "") if meta is not None else ""
    return "synthetic people, then real photos" if data.startswith("prior") else "synthetic people"


def starter_label(path) -> str:
    """Starter weights named in a few words: "starter weights (synthetic people, then real photos)". Their file's
    own label is a line of training details."""
    try:
        meta = _meta(path)
    except (WeightsError, OSError):
        meta = None
    return f"starter weights ({starter_learnt(meta)})"


def trained_on(meta: WeightsMeta | None, starter: bool = False) -> str:
    """What weights learnt from, in one plain phrase per kind, from their metadata: "Synthetic people (starter)",
    "Your photos: Anna", "Video: dance.mp4", "Imported: model.pth", "Dataset: NAME". The provenance's own "data"
    is a folder's name (synth-256x128, prior-256x128, a person's dataset), which said little and differently for
    each kind; the dataset's own record (dataset.json, when the folder the training read is still there) tells a
    video from photos."""
    if meta is None:
        return ""
    p = meta.provenance
    data = str(p.get("data") or "")
    if p.get("imported_from"):  # converted by the importer (the authors' release)
        return f"Imported: {p['imported_from']}"
    if starter:
        learnt = starter_learnt(meta)
        return f"{learnt[0].upper()}{learnt[1:]} (starter)"
    source = _dataset_source(p.get("command"))
    videos = [Path(s).name for s in source.split("; ") if s and is_video(s)]
    if videos:
        return "Video: " + ", ".join(videos)
    # the app's photos are trained on their self-pairs, or copied beside the dataset as <name>.photos/
    if source.startswith("self-pairs:") or ".photos" in source:
        return f"Your photos: {meta.label or data}"
    if source.startswith("poseeditor-train synth") or data.startswith("synth"):
        return "Synthetic people"
    return f"Dataset: {data}" if data else ""


def _dataset_source(command) -> str:
    """The "source" of the dataset a training command read (``--data DIR``: DIR/dataset.json), "" when unknown."""
    import shlex

    try:
        args = shlex.split(str(command or ""))
        folder = Path(args[args.index("--data") + 1])
    except (ValueError, IndexError):
        return ""
    return _unchanged_or_read("dataset", folder / "dataset.json", _read_source, gone="")


def _read_source(path: Path) -> str:
    """The "source" a dataset.json records, "" when it cannot be read."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError, RecursionError):
        return ""
    return str(info.get("source") or "") if isinstance(info, dict) else ""


# {(what, path): ((mtime, ctime, size, inode), what was read)}: the weights manager refills its table after every
# action and each refill read every row's header and its dataset.json on the UI thread (slow on a network
# folder); a file unchanged since is not read again. The inode catches a file replaced within one tick of the
# file system's clock (rename's rewrite of a header keeps its size when the label keeps its length); the ctime a
# file made readable again (chmod), whose error was kept.
_reads: dict = {}


def _unchanged_or_read(what: str, path: Path, read, gone=None):
    """``read(path)``, or what it gave last time while ``path`` has not changed; ``gone`` when there is no such
    file (None: the reader says what that means)."""
    try:
        st = os.stat(path)
    except OSError:
        return read(path) if gone is None else gone
    stamp, key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino), (what, str(path))
    hit = _reads.get(key)
    if hit is None or hit[0] != stamp:
        hit = _reads[key] = (stamp, read(path))
    return hit[1]


def _read_meta_or_error(path: Path):
    try:
        return read_meta(path)
    except WeightsError as e:
        return e


def _meta(path) -> WeightsMeta:
    """read_meta(path), not read again while the file is unchanged; a copy, which the caller may change."""
    import copy

    got = _unchanged_or_read("meta", Path(path), _read_meta_or_error)
    if isinstance(got, WeightsError):
        raise got.with_traceback(None)
    return copy.deepcopy(got)


def _entry(path: Path, starter: bool) -> WeightsEntry:
    size = path.stat().st_size
    try:
        return WeightsEntry(path, size, starter, _meta(path))
    except WeightsError as e:  # listed anyway, so the user can see why and delete it
        return WeightsEntry(path, size, starter, None, str(e))


def list_weights(folder: Path | None = None, starters: Path | None = None) -> list[WeightsEntry]:
    """The user's files (newest first), then the starter weights (by backend)."""
    folder = Path(folder) if folder is not None else user_weights_dir()
    starters = Path(starters) if starters is not None else starter_dir()
    mine = [_entry(p, False) for p in sorted(folder.glob(f"*{SUFFIX}")) if p.is_file()] if folder.is_dir() else []
    mine.sort(key=lambda e: (e.created, e.path.stat().st_mtime), reverse=True)
    shipped = ([_entry(p, True) for p in sorted(starters.glob(f"*{SUFFIX}")) if p.is_file()]
               if starters.is_dir() else [])
    return mine + shipped


# ----- names ----------------------------------------------------------------------------------------------------
def safe_name(text: str, for_file: bool = True) -> str:
    """A file name stem from what the user typed: letters (any alphabet's), digits, '.', '-', '_' and spaces
    kept. ``for_file``: letters the file system's encoding cannot write are spelt without their accents
    ("phötö" -> "photo"), or dropped ("weights" when nothing is left); False keeps them (the name as a label,
    e.g. the training dialog's)."""
    s = text.strip()
    if s.lower().endswith(SUFFIX):
        s = s[: -len(SUFFIX)]
    s = re.sub(r"[^\w .-]+", "-", s, flags=re.UNICODE).strip(" .-")[:80]
    if for_file and (plain := plain_if_unwritable(s)) != s:
        s = re.sub(r"[^\w .-]+", "-", plain).strip(" .-")[:80] or "weights"  # a name, just none it can write
    return s


def _check_writable(path: Path, starters: Path | None, what: str) -> None:
    if is_starter(path, starters):
        raise WeightsLibraryError(f"{Path(path).name}: starter weights ship with PoseEditor and cannot be {what}; "
                                  f"export a copy and change that")
    check_input(path, WeightsLibraryError, "weights file")


# ----- actions --------------------------------------------------------------------------------------------------
def _write_with_metadata(src: Path, dest: Path, meta_json: str) -> None:
    """Copy ``src`` to ``dest`` with PoseEditor's metadata replaced: a new header, the same tensor bytes."""
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        header.setdefault("__metadata__", {})[META_KEY] = meta_json
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-len(raw) % 8)  # keep the tensor data 8-byte aligned, as safetensors writes it
        tmp = dest.with_name(dest.name + ".part")
        try:
            with open(tmp, "wb") as out:
                out.write(struct.pack("<Q", len(raw)))
                out.write(raw)
                shutil.copyfileobj(f, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()


def rename(path, label: str | None = None, new_name: str | None = None, starters: Path | None = None) -> Path:
    """Change the label in the metadata and/or the file name; returns the (new) path."""
    path = Path(path)
    _check_writable(path, starters, "renamed")
    meta = read_meta(path)
    target = path
    if new_name is not None and new_name.strip() and safe_name(new_name) != path.stem:
        stem = safe_name(new_name)
        if not stem:
            raise WeightsLibraryError(f"'{new_name}' cannot be a file name")
        target = path.with_name(stem + SUFFIX)
        if target.exists() and target.resolve() != path.resolve():
            raise WeightsLibraryError(f"a weights file named {target.name} already exists")
    if label is not None and label.strip() != meta.label:
        meta.label = label.strip()
        _write_with_metadata(path, target, meta.to_json())
        if target != path:
            path.unlink()
    elif target != path:
        os.replace(path, target)
    return target


def delete(path, starters: Path | None = None) -> None:
    path = Path(path)
    _check_writable(path, starters, "deleted")
    path.unlink()


def looks_foreign(path) -> bool:
    """A PyTorch / Keras file (by its first bytes or its suffix): for the importer, never for read_meta. Not
    when ``path`` is no regular file: nothing to convert (import_file has said why), and opening a pipe to read
    its first bytes would wait for a writer forever, on the UI thread of the weights manager."""
    try:
        path = check_input(path, WeightsLibraryError, "weights file")
    except WeightsLibraryError:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return path.suffix.lower() in FOREIGN_SUFFIXES
    return head.startswith(_PICKLE_HEADS) or head.startswith(_H5_HEAD) or path.suffix.lower() in FOREIGN_SUFFIXES


def import_file(src, folder: Path | None = None, name: str | None = None) -> Path:
    """Copy a PoseEditor weights file into the library (after checking it is one); returns its new path.

    A pickle, Keras or foreign file raises engine.weights' own WeightsError, which says how to convert it."""
    src = Path(src)
    folder = Path(folder) if folder is not None else user_weights_dir()
    read_meta(src)
    if src.resolve().parent == folder.resolve():
        raise WeightsLibraryError(f"{src.name} is already in the weights library")
    folder.mkdir(parents=True, exist_ok=True)
    dest = unique_path(folder, safe_name(name or src.stem) or "weights")
    _copy(src, dest)
    return dest


def export_file(path, dest) -> Path:
    """Copy a weights file out; ``dest`` is a file or a folder (the file keeps its name there)."""
    path, dest = check_input(path, WeightsLibraryError, "weights file"), Path(dest)
    if dest.is_dir():
        dest = dest / path.name
    if dest.suffix != SUFFIX:
        dest = dest.with_name(dest.name + SUFFIX)
    if dest.exists() and dest.resolve() == path.resolve():
        raise WeightsLibraryError(f"{dest} is the file itself; choose another place")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _copy(path, dest)
    return dest


def _copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as e:
        raise WeightsLibraryError(f"cannot copy to {dest}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def importer_command(src, backend: str, out, label: str | None = None) -> list[str]:
    """argv of the training package's importer (`poseeditor-train import-weights`) for a PyTorch/Keras file."""
    args = [sys.executable, "-m", "training.cli", "import-weights", str(src), "--backend", backend, "-o", str(out)]
    if label:
        args += ["--label", label]
    return args


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
