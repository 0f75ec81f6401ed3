"""Writing files the one way this project writes them: checked first, then a temporary file beside the
destination, fsynced and renamed over it.

Why one place: a killed process must never leave half a file, a full disk or a read-only folder must end in one
line a user can act on (not a traceback and not a stray ``.part``), and no output may ever land on one of the
inputs it was made from (``-o photo.jpg`` with ``--source photo.jpg`` must refuse, not replace the photo), nor
inside an input that is a folder (``-o DATASET/annotations.csv`` must refuse, not damage the dataset).

    check_output(out, inputs=[src])            # before any work: say what is wrong with the destination
    with atomic_output(out) as tmp:            # tmp is a Path beside out; write it however the format wants
        image.save(tmp)
    atomic_write_text(path, text)              # the common case
    read_bounded(path, PoseFormatError, "pose file")   # the reading side: an endless input ends in one line
    open_input(path, ImageReadError, "image")          # a reader that takes the file whole: a regular file
    text_lines(path, DatasetError, "annotation CSV")   # (line number, text) with the line's own error
    with removed_if_refused(out, keep=has_prepared):   # a folder the block makes goes if the block is refused
        ...
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import PoseEditorError


class OutputError(PoseEditorError):
    """A destination that cannot be written: a missing folder, a read-only one, a full disk, or an input."""


# Text inputs (pose JSON, dataset.json, configs) are small; anything larger is not one of them, and reading
# /dev/zero or an endless pipe must stop at a bound instead of filling memory.
MAX_TEXT_BYTES = 16 * 2 ** 20
MAX_LINE_BYTES = 2 ** 20
# The longest file name (bytes) of the common file systems (ext4, XFS, btrfs, APFS): a temporary name beside a
# legal output name must fit it too.
NAME_MAX = 255


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def inside(path, folder) -> bool:
    """Whether ``path`` is ``folder`` or lies anywhere under it, links resolved (a link into it counts)."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


# PoseEditor's own files (the starter weights, presets, icons): no output goes there, whatever the inputs say (a
# link named as personalize's output wrote a personal model over the starter it was trained from)
RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def not_ours(path, what: str) -> None:
    """OutputError (one line) when ``path`` lies among PoseEditor's own files (RESOURCES)."""
    if inside(path, RESOURCES):
        raise OutputError(f"{path}: the {what} would be written among PoseEditor's own files ({RESOURCES}); "
                          f"choose another place")


def usable_output_name(path, what: str) -> None:
    """OutputError (one line) for an empty name (which would mean the current folder) or one with a part longer
    than a file system takes (the OS's "[Errno 36] File name too long" quoted the whole name)."""
    if empty_name(path):
        raise OutputError(f"an empty name was given for {_a(what)}")
    for part in Path(path).parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise OutputError(f"{part[:40]}...: the name of the {what} is too long ({size} bytes; a file system "
                              f"takes at most {NAME_MAX})")


def check_output(path, inputs: Iterable = (), what: str = "output") -> Path:
    """Raise OutputError (one line) if ``path`` cannot be written, names one of ``inputs``, or lies inside an
    input that is a folder (a dataset, a run: a file written into it would replace or join what is read), or
    among PoseEditor's own files."""
    usable_output_name(path, what)
    path = Path(path)
    not_ours(path, what)
    for src in inputs:
        if src is None:
            continue
        src = Path(src)
        if _same_file(path, src):
            raise OutputError(f"{path}: the {what} would overwrite an input file; choose another name")
        if src.is_dir() and inside(path, src):
            raise OutputError(f"{path}: the {what} would be written inside the input {src}, which is a folder; "
                              f"choose a place outside it")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name for the {what}")
    if path.exists() and not path.is_file():
        # written beside and renamed over it (atomic_output), a pipe or a device (/dev/null) would be replaced
        raise OutputError(f"{path}: is a pipe, socket or device, not a file; give a file name for the {what}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        # A parent that is a file under some component: say which.
        for p in [parent, *parent.parents]:
            if p.exists() and not p.is_dir():
                raise OutputError(f"{path}: cannot write the {what}: {p} is a file, not a folder")
        raise OutputError(f"{path}: cannot write the {what}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write the {what}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write the {what}: folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: cannot write the {what}: the file exists and is read-only")
    return path


def check_output_folder(path, inputs: Iterable = (), what: str = "output folder") -> Path:
    """Like check_output for a folder that will be created if needed (with its parents): the nearest existing
    ancestor must be a writable folder, and the folder may neither hold an input nor lie inside an input folder
    (a dataset written into the photos it is made from would be read back as photos)."""
    usable_output_name(path, what)
    path = Path(path)
    not_ours(path, what)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file; the {what} must be a folder")
    for src in inputs:
        if src is None:
            continue
        if inside(src, path) or (Path(src).is_dir() and inside(path, src)):
            raise OutputError(f"{path}: the {what} would hold or be inside the input {src}; choose another folder")
    existing = next(p for p in [path, *path.absolute().parents] if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise OutputError(f"{path}: cannot make the {what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot make the {what}: folder {existing} is not writable")
    return path


def check_outputs(outputs: dict, inputs: Iterable = ()) -> None:
    """check_output for each ``{what: path}`` (None skipped), and no two outputs naming one file."""
    given = [(what, Path(p)) for what, p in outputs.items() if p is not None]
    for i, (what, path) in enumerate(given):
        check_output(path, inputs, what)
        for other_what, other in given[:i]:
            if _same_file(path, other):
                raise OutputError(f"{path}: named as both the {other_what} and the {what}; give two names")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def empty_name(name) -> bool:
    """Whether ``name`` names nothing: empty, or spaces only. Path("") is ".", the folder the command runs in: an
    empty source became "every photo here", and an empty --source said ".: is a folder"."""
    return not str(name).strip()


def named_path(text: str) -> Path:
    """An argparse type: a path, not an empty name (argparse's Path turns "" into "." before any check)."""
    import argparse

    if empty_name(text):
        raise argparse.ArgumentTypeError("an empty name")
    return Path(text)


def check_input(path, error: type = PoseEditorError, what: str = "file", *, regular: bool = True,
                folder: bool = False) -> Path:
    """``path`` as a Path if it can be opened as a ``what``; else ``error`` (one line): it does not exist, is a
    folder (unless ``folder``: an input that may be a file or a folder), is no name the system can take (a NUL
    byte, a lone surrogate from a damaged session), or (``regular``) is a pipe, socket or device, which a reader
    that takes the file whole must refuse (opening a pipe waits for a writer forever; /dev/zero never ends).

    A missing name with no suffix, given for a kind of file known by its suffix (``what`` starts with it:
    ".safetensors weights file"), is said to be no such ``what``: ``--weights anna`` is a label or a name typed
    without its suffix, and "anna: no such file" would say neither which input it is nor what file it wants. A name
    with a suffix says by itself what was meant."""
    if empty_name(path):
        raise error(f"an empty name was given for {_a(what)}")
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if folder:
            raise error(f"{path}: no such file or folder") from None
        raise error(f"{path}: no such {what if what.startswith('.') and not path.suffix else 'file'}") from None
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    except ValueError:  # UnicodeEncodeError is one; repr: the name itself cannot be printed as it is
        raise error(f"{str(path)!r}: not a usable file name") from None
    if stat.S_ISDIR(mode):
        if folder:
            return path
        raise error(f"{path}: is a folder, not {_a(what)}")
    if regular and not stat.S_ISREG(mode):
        raise error(f"{path}: is a pipe, socket or device, not {_a(what)}")
    return path


def open_input(path, error: type = PoseEditorError, what: str = "file", *, regular: bool = True):
    """``path`` opened for reading (binary), or ``error`` (one line): check_input, then the open. Opened without
    waiting for a writer: open() of a named pipe that no program writes to waits forever; one that is being
    written to (allowed without ``regular``) is read like /dev/zero, up to the caller's bound. Reads then block as
    usual (a pipe with no writer reads as empty at once)."""
    path = check_input(path, error, what, regular=regular)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.set_blocking(fd, True)
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    return os.fdopen(fd, "rb")


def _empty_pipe(f, path: Path, error: type, what: str) -> None:
    if stat.S_ISFIFO(os.fstat(f.fileno()).st_mode):
        raise error(f"{path}: a pipe nothing was written to, not {_a(what)}")


def read_bounded(path, error: type = PoseEditorError, what: str = "file", limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a small input file, at most ``limit`` of them; ``error`` (one line) for anything else."""
    path = Path(path)
    with open_input(path, error, what, regular=False) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
        if not data:
            _empty_pipe(f, path, error, what)
    if len(data) > limit:
        raise error(f"{path}: larger than {limit // 2 ** 20} MB, too large for {_a(what)}")
    return data


_SIGNATURES = ((b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
               (b"BM", "a BMP image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
               (b"\x00\x00\x01\x00", "an icon image"), (b"\x1aE\xdf\xa3", "a video"))


def _binary_kind(data: bytes) -> str:
    """What a file that is not text is, by its first bytes ("" when not known)."""
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"AVI "):
        return "a WebP image" if data[8:12] == b"WEBP" else "a video"
    if data[4:8] == b"ftyp":  # an ISO media file: a phone's HEIC or an AVIF photo, else a video
        return "a HEIF or AVIF image" if data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis") \
            else "a video"
    return next((kind for sig, kind in _SIGNATURES if data.startswith(sig)), "")


def read_text(path, error: type = PoseEditorError, what: str = "file", limit: int = MAX_TEXT_BYTES) -> str:
    """read_bounded, decoded as UTF-8 (a byte-order mark allowed)."""
    data = read_bounded(path, error, what, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        kind = _binary_kind(data)
        if kind:  # a photo named x.jfif given as a pose file read as "line 1: not UTF-8 text (byte 0xff)"
            raise error(f"{Path(path)}: is {kind}, not a {what}") from None
        line = data[:e.start].count(b"\n") + 1
        raise error(f"{Path(path)}: line {line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the {what} "
                    f"as UTF-8") from None


def text_lines(path, error: type = PoseEditorError, what: str = "file",
               max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(line number, text without its newline) of a UTF-8 text file of any length, each line bounded, so a
    bad byte or an endless line is reported with the line it is on."""
    path = Path(path)
    with open_input(path, error, what, regular=False) as f:
        lineno = 0
        while True:
            try:
                raw = f.readline(max_line + 1)
            except OSError as e:
                raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
            if not raw:
                if not lineno:
                    _empty_pipe(f, path, error, what)
                return
            lineno += 1
            if len(raw) > max_line:
                raise error(f"{path}: line {lineno}: longer than {max_line // 2 ** 20} MB; not {_a(what)}")
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise error(f"{path}: line {lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the {what} "
                            f"as UTF-8") from None
            yield lineno, text.rstrip("\r\n")


def describe_os_error(path, e: OSError, what: str = "output") -> str:
    """One line for an OSError met while writing ``path``."""
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EROFS: "the file system is read-only", errno.ENOENT: "the folder does not exist",
              errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.EISDIR: "it is a folder",
              errno.ENAMETOOLONG: "a name in it is too long for the file system"}.get(e.errno, e.strerror or str(e))
    return f"{path}: cannot write the {what}: {reason}"


def _temporary_name(path: Path, suffix: str = "") -> Path:
    """``.NAME.PID.part`` beside ``path`` (the same folder: the rename stays atomic). For a name near the
    file-name limit the temporary one would exceed it and the write fail after the work: it keeps as much of the
    name as fits and a hash of the whole, so two long names that share a start still differ."""
    tail = f".{os.getpid()}.part{suffix}"
    name = f".{path.name}{tail}"
    if len(os.fsencode(name)) <= NAME_MAX:
        return path.with_name(name)
    digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
    stem = path.name
    while stem and len(os.fsencode(f".{stem}~{digest}{tail}")) > NAME_MAX:
        stem = stem[:-1]
    return path.with_name(f".{stem}~{digest}{tail}")


@contextlib.contextmanager
def atomic_output(path, what: str = "output", suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync and rename it over ``path``.

    On any failure the temporary file is removed and an OSError becomes a one-line OutputError. ``suffix``
    keeps an extension at the end of the temporary name for writers that choose the format by it.
    """
    path = Path(path)
    tmp = _temporary_name(path, suffix)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(describe_os_error(path, e, what)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_bytes(path, data: bytes, what: str = "output") -> Path:
    with atomic_output(path, what) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def atomic_write_text(path, text: str, what: str = "output") -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), what)


@contextlib.contextmanager
def removed_if_refused(folder, keep: Callable[[Path], bool] = lambda folder: False, also: Iterable = (),
                       errors: tuple = (PoseEditorError,)) -> Iterator[Path]:
    """Run the block; if it is refused (``errors``) and ``folder`` did not exist before it, remove the folder it
    made (and the folders in ``also``), unless ``keep(folder)`` says it holds work a run again starts from. A
    newcomer found images/, masks/ and a journal of nothing after a refusal (nobody in the photos), and each failed
    run in one work folder left another empty dataset. An interrupt is no refusal: what it leaves is resumed."""
    folder = Path(folder)
    new = not folder.exists()
    try:
        yield folder
    except errors:
        if new and not (folder.is_dir() and keep(folder)):
            for d in (folder, *also):  # ``also`` may be made before ``folder`` (a plan's photos copied first)
                shutil.rmtree(d, ignore_errors=True)
        raise
