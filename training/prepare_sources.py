"""What ``poseeditor-train prepare`` processes: its sources (videos, photos, folders of them) as Items, one per
image, each with its person's identity and a file name for its crop (training/prepare.py's module text says how
identities are read).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DatasetError
from engine.fileio import check_input
from engine.images import IMAGE_SUFFIXES

from .video import frame_count, is_video, planned_frames


@dataclass
class Item:
    source: Path           # the video or photo file
    frame: int | None      # frame index for a video
    identity: str
    name: str              # file name in images/
    order: tuple           # time order within the person: (zero-padded frame index,) or (photo name,)
    group: str             # the source the "nobody found at all" check counts over (video or folder)


def _identity_name(text: str) -> str:
    """An identity usable as a file-name prefix before the first '_' (so names stay Market-style)."""
    s = re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.")
    return s or "person"


def _safe_name(text: str) -> str:
    """A file-name part after the identity: '_' allowed (Market names keep their camera/frame fields)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "photo"


def _is_posegan_folder(folder: Path) -> bool:
    return any(folder.glob("*annotation*.csv")) and any(folder.glob("*pairs*.csv"))


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _photo_items(photos: list[Path], folder_identity: str | None, group: str) -> list[Item]:
    items = []
    for p in photos:
        if folder_identity is not None:
            ident = folder_identity
            name = f"{ident}_{_safe_name(p.stem)}.png"
        elif "_" in p.stem:  # Market-1501 style: <identity>_<camera, frame, ...>
            ident = _identity_name(p.stem.split("_", 1)[0])
            name = f"{ident}_{_safe_name(p.stem.split('_', 1)[1])}.png"
        else:
            ident = _identity_name(p.parent.name)
            name = f"{ident}_{_safe_name(p.stem)}.png"
        items.append(Item(p, None, ident, name, (p.name,), group))
    return items


def _video_items(path: Path, frame_step: int, max_frames: int | None) -> list[Item]:
    ident = _identity_name(path.stem)
    frames = planned_frames(frame_count(path), frame_step, max_frames)
    return [Item(path, f, ident, f"{ident}_f{f:06d}.png", (f"{f:09d}",), str(path)) for f in frames]


def collect_items(sources: list[Path], frame_step: int = 1, max_frames: int | None = None) -> list[Item]:
    items: list[Item] = []
    for src in sources:
        src = check_input(src, DatasetError, "video, photo or folder", folder=True)
        if src.is_file():
            if is_video(src):
                items += _video_items(src, frame_step, max_frames)
            elif src.suffix.lower() in IMAGE_SUFFIXES:
                items += _photo_items([src], None, str(src))
            else:
                raise DatasetError(f"{src}: neither a video nor a photo (by its suffix {src.suffix or '(none)'})")
            continue
        if _is_posegan_folder(src):
            raise DatasetError(f"{src}: already a pose-gan/PATN dataset (annotation + pairs CSVs); train on it as "
                               f"it is with `fit --data {src}`")
        subdirs = sorted(d for d in src.iterdir() if d.is_dir() and not d.name.startswith(".") and images_in(d))
        loose = images_in(src)
        videos = sorted(p for p in src.iterdir() if p.is_file() and is_video(p))
        if not (subdirs or loose or videos):
            raise DatasetError(f"{src}: no photos, person sub-folders or videos in this folder")
        for d in subdirs:  # one person per sub-folder
            items += _photo_items(images_in(d), _identity_name(d.name), str(d))
        if loose:
            items += _photo_items(loose, None, str(src))
        for v in videos:
            items += _video_items(v, frame_step, max_frames)
    # two sources giving the same name (same person and frame/photo name): keep them apart
    seen: dict[str, int] = {}
    for it in items:
        if it.name in seen:
            seen[it.name] += 1
            it.name = f"{Path(it.name).stem}-{seen[it.name]}.png"
        else:
            seen[it.name] = 0
    return items
