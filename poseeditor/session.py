"""Sessions: a small JSON file that reopens an editing session where it was left.

    {"format": "poseeditor-session", "version": 1,
     "references": [{"path": "photo.jpg", "pose": {OpenPose JSON}, "hand_placed": false}, ...],
     "target": {OpenPose JSON} | null, "backend": "warp", "weights": "/path/w.safetensors" | null,
     "device": "cpu"}

Photo paths are stored relative to the session file when they sit beside it or below it (so a folder can be
moved as a whole), absolute otherwise. Photos are not copied into the session; poses are, so a reopened
session shows the poses the user had even if detection would now find something else.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import PoseEditorError
from engine.fileio import atomic_write_text, check_input, read_bounded
from engine.pose import Pose

FORMAT = "poseeditor-session"
VERSION = 1
SUFFIX = ".pose-session.json"


@dataclass
class SessionRef:
    path: str
    pose: Pose | None = None
    hand_placed: bool = False


@dataclass
class Session:
    references: list[SessionRef] = field(default_factory=list)
    target: Pose | None = None
    backend: str = "warp"
    weights: str | None = None
    device: str = "cpu"


def _rel(path: str, base: Path) -> str:
    p = Path(path).resolve()
    try:
        return p.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(p)


def save_session(path, s: Session) -> Path:
    path = Path(path)
    base = path.parent
    data = {"format": FORMAT, "version": VERSION,
            "references": [{"path": _rel(r.path, base), "pose": r.pose.to_openpose() if r.pose else None,
                            "hand_placed": r.hand_placed} for r in s.references],
            "target": s.target.to_openpose() if s.target is not None else None,
            "backend": s.backend, "weights": str(Path(s.weights).resolve()) if s.weights else None,
            "device": s.device}
    return atomic_write_text(path, json.dumps(data, indent=1), "session")


def _read_json(path: Path, what: str):
    """The JSON value of a regular file (a dropped pipe or device is refused, not read: fileio.check_input), read
    up to fileio's bound; a byte-order mark is taken, as the pose reader takes it. PoseEditorError when it cannot
    be read; the decoding and JSON errors as they come."""
    data = read_bounded(check_input(path, PoseEditorError, what), PoseEditorError, what)
    return json.loads(data.decode("utf-8-sig"))


def is_session_file(path) -> bool:
    """Whether ``path`` (a JSON file dropped on the window, say) is a PoseEditor session; PoseEditorError when it
    is not a regular file of a JSON's size."""
    try:
        data = _read_json(Path(path), "pose or session")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _pose(value, path: Path, what: str) -> Pose | None:
    if not value:
        return None
    try:
        return Pose.from_openpose(value)
    except PoseEditorError as e:
        raise PoseEditorError(f"{path}: {what}: {e}") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise PoseEditorError(f"{path}: {what} is not an OpenPose pose") from None


def load_session(path) -> Session:
    path = Path(path)
    try:
        data = _read_json(path, "session")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise PoseEditorError(f"{path}: not a PoseEditor session (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PoseEditorError(f"{path}: not a PoseEditor session file")
    version = data.get("version", 0)
    if not isinstance(version, int):
        raise PoseEditorError(f"{path}: the session version is {version!r}, not a number")
    if version > VERSION:
        raise PoseEditorError(f"{path}: made by a newer PoseEditor (session version {version})")
    entries = data.get("references") or []
    if not isinstance(entries, list):
        raise PoseEditorError(f"{path}: 'references' is not a list of photos")
    refs = []
    for r in entries:
        if not isinstance(r, dict) or not isinstance(r.get("path"), str):
            raise PoseEditorError(f"{path}: a reference entry has no photo path")
        p = _path_text(r["path"], path, "a reference's photo path")
        if not os.path.isabs(p):
            # joined, not resolved: the file system is asked nothing here (a symlink loop raised from resolve)
            p = os.path.normpath(os.path.join(path.parent, p))
        refs.append(SessionRef(p, _pose(r.get("pose"), path, "a reference's pose"), bool(r.get("hand_placed"))))
    if not refs:
        raise PoseEditorError(f"{path}: the session has no reference photo")
    target = _pose(data.get("target"), path, "the edited pose")
    weights = data.get("weights") or None
    if weights is not None:
        weights = _path_text(weights, path, "the weights file")
    for key in ("backend", "device"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise PoseEditorError(f"{path}: the session's {key} is {data.get(key)!r}, not a name")
    return Session(refs, target, str(data.get("backend") or "warp"), weights, str(data.get("device") or "cpu"))


def _path_text(value, session: Path, what: str) -> str:
    """``value`` as a path the file system can be asked about: text without NUL characters."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise PoseEditorError(f"{session}: {what} is {str(value)[:80]!r}, not a file path")
    return value
