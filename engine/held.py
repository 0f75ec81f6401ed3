"""What a hand holds, completed where the segmentation saw only part of it.

The person segmentation takes a held ball with the hand only in part (dance video, frame 141: its upper half,
patchily). The warp layers then carried that part with the hand, a half ball, and the hole left behind it was
inpainted from the half the mask missed: an orange smear where the ball had been, in every backend's picture.
A held thing is told by colour: round each hand, OpenCV's GrabCut, seeded by the segmentation (sure where the
hand is sure, likely person where the mask is at least 0.5, likely background elsewhere within the hand's
reach), grows the person into pixels coloured like it; what it adds is kept only as a solid piece joined to
the hand's sure pixels, whose colour is far from the background's round it and near the person's beside it.
The warp backend adds it to the mask (engine.backends.warp): the hand's layer carries the whole object and the
hole takes all of it. Cluttered scenes (Market-1501's street photos) are where colour lies: there GrabCut took
bicycles and passers-by, which the colour test refuses; a person smaller than MIN_BODY pixels is left alone.
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import PART_NAMES, body_scale
from .parsing import HAND_SURE
from .pose import J, Pose

# how far from the wrist a held thing reaches: this many forearms (or 0.35 body sizes, for a foreshortened one)
REACH = 1.3
WORK_SIDE = 160  # GrabCut runs on a hand's window at this many pixels at most (~0.1 s a 1080p frame, both hands)
OPEN = 0.05  # of the body's size: a piece thinner than this is a sliver of background, not an object
MIN_SIDE = 0.15  # of the body's size: a piece smaller than a square of this side is not an object
# CIELAB (OpenCV's 8-bit scale) medians: the piece's colour at least this far from the background round it, and
# CONTRAST times farther from it than from the person's sure pixels beside it. Measured on the shared photos:
# the dance video's ball 104-111 from the wall and 10-39 from the ball's segmented half; the refused pieces of
# fashion photos (the wall between a hand and a leg) 5-12 from their background
BACKGROUND_DISTANCE = 50.0
CONTRAST = 2.5
MIN_BODY = 60.0  # pixels of body size: below it (64x128 street crops) the window is too few pixels for colours


def held_objects(image: np.ndarray, pose: Pose, mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8: what a hand holds, where the segmentation ``mask`` (float, 0-1) left part of it out (below
    0.5): the whole object, each pixel the part label (engine.parsing) of the forearm whose hand holds it; 0
    elsewhere. The forearm's, not the nearest bone's: a ball held at the hip went in two pieces when its lower
    edge was the thigh's."""
    h, w = mask.shape
    out = np.zeros((h, w), np.uint8)
    ts = body_scale(pose)
    if ts < MIN_BODY:
        return out
    for side in "rl":
        el, wr = J[f"{side}_elbow"], J[f"{side}_wrist"]
        if not (pose.present[el] and pose.present[wr]):
            continue
        fore = float(np.hypot(*(pose.xy[wr] - pose.xy[el])))
        reach = REACH * max(0.35 * ts, fore)
        cx, cy = (float(v) for v in pose.xy[wr])
        y0, y1 = max(0, int(cy - reach) - 2), min(h, int(np.ceil(cy + reach)) + 3)
        x0, x1 = max(0, int(cx - reach) - 2), min(w, int(np.ceil(cx + reach)) + 3)
        if y1 - y0 < 8 or x1 - x0 < 8:
            continue
        piece = _held_in(image[y0:y1, x0:x1], mask[y0:y1, x0:x1], (cx - x0, cy - y0), reach, ts)
        if piece is not None:
            window = out[y0:y1, x0:x1]
            window[piece & (window == 0)] = PART_NAMES.index(f"{side}_lower_arm") + 1
    return out


def _held_in(crop: np.ndarray, m: np.ndarray, wrist, reach: float, ts: float):
    """The held object in one hand's window (bool, the window's shape), or None."""
    hh, ww = m.shape
    s = min(1.0, WORK_SIDE / max(hh, ww))
    sw, sh = max(8, round(ww * s)), max(8, round(hh * s))
    small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA) if s < 1 else np.ascontiguousarray(crop)
    ms = cv2.resize(m.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) if s < 1 else m.astype(np.float32)
    fx, fy = ww / sw, hh / sh
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    near = np.hypot((xs + 0.5) * fx - wrist[0], (ys + 0.5) * fy - wrist[1]) < reach
    sure = ms >= HAND_SURE
    if not (sure & near).any() or (near & ~sure).sum() < 16:
        return None
    seeds = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    seeds[near] = cv2.GC_PR_BGD
    seeds[near & (ms >= 0.5)] = cv2.GC_PR_FGD
    seeds[sure] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    # GrabCut draws its k-means starts from OpenCV's generator and takes none of ours: seeded, the same photo
    # gives the same render (OpenCV keeps that generator per thread: this is the encoding worker's)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(small, seeds, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a window GrabCut cannot model (a single colour): nothing is added
        return None
    person = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)) & near
    # joined to the hand's sure pixels, and what the mask left out only
    _, comp = cv2.connectedComponents(person.astype(np.uint8))
    joined = np.unique(comp[sure & person])
    added = np.isin(comp, joined[joined > 0]) & (ms < 0.5)
    r = max(1, int(round(OPEN * ts / fx)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)
    added = cv2.morphologyEx(added.astype(np.uint8), cv2.MORPH_OPEN, disc)
    n, pieces, stats, _ = cv2.connectedComponentsWithStats(added)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    ring_disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * r + 1,) * 2)
    objects = np.zeros((sh, sw), bool)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < (MIN_SIDE * ts / fx) ** 2:
            continue
        piece = (pieces == i).astype(np.uint8)
        ring = (cv2.dilate(piece, ring_disc) > 0) & (piece == 0)
        beside, background = ring & sure, ring & (ms < 0.2) & ~person
        if beside.sum() < 3 or background.sum() < 3:
            continue
        colour = np.median(lab[piece > 0], 0)
        to_bg = float(np.linalg.norm(colour - np.median(lab[background], 0)))
        to_person = float(np.linalg.norm(colour - np.median(lab[beside], 0)))
        if to_bg >= BACKGROUND_DISTANCE and to_bg >= CONTRAST * to_person:
            # the object whole: its part the segmentation saw is the person's pixels round the piece, as far
            # again as the piece is wide, nearer its colour than half way to the background's (that part went
            # by the nearest bone, a strip of it to the torso, left behind when the hand moved)
            reach_px = int(np.ceil(np.sqrt(stats[i, cv2.CC_STAT_AREA])))
            round_it = cv2.dilate(piece, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach_px + 1,) * 2))
            alike = np.linalg.norm(lab - colour, axis=2) < 0.5 * to_bg
            objects |= (piece > 0) | ((round_it > 0) & person & alike)
    if not objects.any():
        return None
    _, comp = cv2.connectedComponents(objects.astype(np.uint8))  # only what joins a completed piece
    joined = np.unique(comp[(pieces > 0) & objects])
    got = np.isin(comp, joined[joined > 0]).astype(np.float32)
    if s < 1:
        got = cv2.resize(got, (ww, hh), interpolation=cv2.INTER_LINEAR)
    return got >= 0.5
