"""Pose presets (standing, walking, arms up, ...) stored as JSON in resources/presets.

Presets are kept in body units (x centred on 0, y from the top of the head at 0 to the ankles near 1) so that
one preset fits any image: ``fit_preset`` scales it to 80% of the image height and centres it, or, given a
reference pose, to that person's size and place.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import PoseFormatError
from .pose import NUM_JOINTS, Pose

PRESET_DIR = Path(__file__).resolve().parent.parent / "resources" / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def load_preset(name: str) -> np.ndarray:
    path = PRESET_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        xy = np.asarray(data["joints"], np.float32)
    except (OSError, KeyError, ValueError) as e:
        raise PoseFormatError(f"preset {name!r} cannot be read: {e}") from None
    if xy.shape != (NUM_JOINTS, 2):
        raise PoseFormatError(f"preset {name!r} has shape {xy.shape}, expected ({NUM_JOINTS}, 2)")
    return xy


def fit_preset(name: str, width: int, height: int, like: Pose | None = None) -> Pose:
    """The preset as a Pose in a width x height image, sized and placed like ``like`` when it has a torso."""
    body = load_preset(name)
    if like is not None and like.has("neck") and (like.has("r_hip") or like.has("l_hip")):
        hips = [like.point(n) for n in ("r_hip", "l_hip") if like.has(n)]
        hip = np.mean(hips, axis=0)
        neck = like.point("neck")
        scale = np.linalg.norm(hip - neck) / (0.50 - 0.18)  # neck->hip spans 0.32 body units in presets
        offset = neck - scale * body[1]
    else:
        scale = 0.8 * height
        offset = np.array([width / 2.0, 0.1 * height]) - scale * np.array([0.0, 0.0])
    xy = body * scale + offset
    return Pose(xy, np.ones(NUM_JOINTS, bool), width, height)


def standing(width: int, height: int) -> Pose:
    return fit_preset("standing", width, height)
