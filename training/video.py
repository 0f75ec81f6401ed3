"""Reading frames of a video for ``poseeditor-train prepare``: which frames to take, and taking them in order.

Frames are read sequentially (grab every frame, decode to RGB only the wanted ones): seeking by frame number is
inexact for many codecs, and decoding in order is cheap next to pose detection.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from engine.errors import DatasetError
from engine.fileio import check_input

from .protocol import VIDEO_SUFFIXES, is_video  # noqa: F401  (the suffix rule is shared with the app)


def _open(path: Path) -> cv2.VideoCapture:
    path = check_input(path, DatasetError, "video")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        if _iso_without_tracks(path):
            raise DatasetError(f"{path}: the video has no frames (a recording stopped before its first)")
        raise DatasetError(f"{path}: cannot open the video (damaged, or a codec this build cannot read)")
    return cap


def _boxes(f, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(kind, body start, box end) of the ISO media boxes (MP4, MOV) from ``start`` to ``end`` of file ``f``."""
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        head = f.read(16)
        size, kind, body = int.from_bytes(head[:4], "big"), head[4:8], pos + 8
        if size == 1 and len(head) == 16:
            size, body = int.from_bytes(head[8:16], "big"), pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            return
        yield kind, body, pos + size
        pos += size


def _iso_without_tracks(path: Path) -> bool:
    """An MP4 or MOV whose movie box holds no track: what a phone or OpenCV leaves when the recording stopped
    before its first frame. OpenCV cannot open it, and "damaged" sent a user looking for a codec."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, 2)
            kinds = {k: (b, e) for k, b, e in _boxes(f, 0, end)}
            if b"ftyp" not in kinds or b"moov" not in kinds:
                return False
            return not any(k == b"trak" for k, _, _ in _boxes(f, *kinds[b"moov"]))
    except OSError:
        return False


def frame_count(path: Path) -> int:
    """Number of frames; counted by reading when the container does not say (or says nonsense)."""
    cap = _open(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if n <= 0 or n > 10_000_000:
            n = 0
            while cap.grab():
                n += 1
    finally:
        cap.release()
    if n == 0:
        raise DatasetError(f"{path}: the video has no frames")
    return n


def planned_frames(count: int, step: int = 1, max_frames: int | None = None) -> list[int]:
    """Every ``step``-th frame; at most ``max_frames`` of them, evenly spread over the whole video, so a short
    sample still covers every part of the motion (and the time split still has a later part to test on)."""
    if step < 1:
        raise DatasetError(f"frame step must be at least 1, not {step}")
    idx = list(range(0, count, step))
    if max_frames is not None:
        if max_frames < 1:
            raise DatasetError(f"max frames must be at least 1, not {max_frames}")
        if len(idx) > max_frames:
            pick = np.round(np.linspace(0, len(idx) - 1, max_frames)).astype(int)
            idx = [idx[i] for i in sorted(set(pick.tolist()))]
    return idx


def read_frames(path: Path, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, RGB uint8) for each wanted frame, in order. A video that ends early just stops."""
    want = sorted(set(wanted))
    if not want:
        return
    cap = _open(path)
    try:
        k, i = 0, 0
        while k < len(want):
            if not cap.grab():
                break
            if i == want[k]:
                ok, bgr = cap.retrieve()
                if ok and bgr is not None:
                    yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                k += 1
            i += 1
    finally:
        cap.release()
