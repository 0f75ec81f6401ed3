"""A person's outfit in a few colours, to tell when a reference photo shows someone else (or other clothes).

Several photos of one person are references for one picture: the warp engine and pNR take each part from the
photo that shows it best. A photo of someone else, added by mistake, gives the picture their sleeve or their
trousers; the app warns when a reference's outfit is unlike the first photo's. An outfit is the main colours
(CIELAB) of the torso's pixels (engine.parsing's coarse parts of the person's mask); two outfits differ by the
largest distance over the parts both show, lightness counted at half (one person's
photos differ in light more than in hue). Qt-free; computed where the photo is detected, off the UI thread.
"""
from __future__ import annotations

import cv2
import numpy as np

from .framing import reduced_person
from .part_colours import main_colours
from .parsing import coarse_parsing
from .pose import Pose

# the coarse parts an outfit is made of (engine.parsing's labels): the torso alone. The legs' colours moved with
# how much skin a pose shows under shorts (the procedural person's differed by 16 from one photo to the next)
PARTS = {"torso": (2,)}
MIN_PIXELS = 40        # a part shown by fewer pixels is not compared
LIGHTNESS_WEIGHT = 0.5
WORK_SIDE = 384        # the photo's long side the colours are taken at, at most
# outfits further apart than this (CIELAB units, lightness at half) are another person's or other clothes: one
# person's frames of a video differ by at most 8 (15 dance frames, 11 walk frames), 79% of the pairs of different
# people by more than 12 (fashion-real, market-real; measured 2026-12-06)
DIFFERENT = 12.0


def outfit(image: np.ndarray, pose: Pose | None, mask: np.ndarray | None) -> dict:
    """part name -> its main colours ((k, 3) CIELAB: L in 0..100, a and b signed) and their shares ((k,)), for
    the parts the person shows; {} without a pose or a mask. Main colours, not a median: the median of a
    checked shirt flips between its two colours from one photo to the next."""
    if pose is None or mask is None:
        return {}
    image, mask, pose = reduced_person(image, mask, pose, WORK_SIDE)  # colours need no full-size parsing
    labels = coarse_parsing(pose, mask)
    out = {}
    for name, ids in PARTS.items():
        on = np.isin(labels, ids)
        if on.sum() < MIN_PIXELS:
            continue
        px = np.ascontiguousarray(image[on].reshape(-1, 1, 3), np.uint8)
        lab = cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
        lab = lab * np.float32([100 / 255, 1, 1]) - np.float32([0, 128, 128])
        centres = main_colours(lab, 3)
        nearest = np.argmin(((lab[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        out[name] = (centres, np.bincount(nearest, minlength=len(centres)) / len(lab))
    return out


def _one_way(a, b) -> float:
    """How far ``a``'s colours lie from ``b``'s: each of a's main colours' distance to the nearest of b's,
    weighted by its share."""
    w = np.float32([LIGHTNESS_WEIGHT, 1, 1])
    (ca, sa), (cb, _) = a, b
    d = np.sqrt((((ca[:, None, :] - cb[None]) * w) ** 2).sum(-1)).min(axis=1)
    return float((d * sa).sum() / max(sa.sum(), 1e-6))


def outfit_distance(a: dict, b: dict) -> float | None:
    """The largest distance between the two outfits over the parts both show (each part's both ways, the
    larger); None if they share none."""
    shared = [k for k in a if k in b]
    if not shared:
        return None
    return max(max(_one_way(a[k], b[k]), _one_way(b[k], a[k])) for k in shared)


def looks_different(a: dict, b: dict) -> bool:
    d = outfit_distance(a, b)
    return d is not None and d > DIFFERENT
