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
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def load_session(path) -> Session:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PoseEditorError(f"{path}: cannot read session ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PoseEditorError(f"{path}: not a PoseEditor session (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PoseEditorError(f"{path}: not a PoseEditor session file")
    if int(data.get("version", 0)) > VERSION:
        raise PoseEditorError(f"{path}: made by a newer PoseEditor (session version {data['version']})")
    refs = []
    for r in data.get("references") or []:
        if not isinstance(r, dict) or not isinstance(r.get("path"), str):
            raise PoseEditorError(f"{path}: a reference entry has no photo path")
        p = r["path"]
        if not os.path.isabs(p):
            p = str((path.parent / p).resolve())
        pose = Pose.from_openpose(r["pose"]) if r.get("pose") else None
        refs.append(SessionRef(p, pose, bool(r.get("hand_placed", False))))
    if not refs:
        raise PoseEditorError(f"{path}: the session has no reference photo")
    target = Pose.from_openpose(data["target"]) if data.get("target") else None
    return Session(refs, target, str(data.get("backend") or "warp"), data.get("weights") or None,
                   str(data.get("device") or "cpu"))
