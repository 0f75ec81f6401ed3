"""What a hand holds, completed where the segmentation saw only part of it.

The person segmentation can take a held ball with the hand only in part (the dance video's frame 141: its upper
half). The warp layers would carry that part with the hand and inpaint the hole from the part the mask missed.
A held thing is told by colour: round each hand, OpenCV's GrabCut, seeded by the segmentation (sure where the
mask is sure, likely person where it is at least 0.5, likely background elsewhere within the hand's reach),
grows the person into pixels coloured like it. What it adds is kept only as a solid piece, joined to the hand,
whose colour is far from the background round it, near the person's pixels beside it (the part of the object
the mask saw) and far from the body's own colours (what cannot be told from the body is left as it was). The
object whole (the piece, the seen pixels of its colour next to it, the person's pixels inside its outline or
the circle a round one's outline continues) is labelled as the hand's forearm: the warp backend adds it to the
mask and moves it as that forearm's held layer, rigidly about the wrist (engine.backends.warp). A person smaller
than MIN_BODY pixels is left alone: a hand's window there is too few pixels for colours.
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from .encode import PART_NAMES, body_scale
from .part_colours import main_colours
from .parsing import HAND_SURE, PERSON_MOVES
from .pose import J, Pose

# how far from the wrist a held thing reaches: this many forearms (or 0.35 body sizes, for a foreshortened one)
REACH = 1.3
WORK_SIDE = 160  # GrabCut runs on a hand's window at this many pixels at most (~0.1 s a 1080p frame, both hands)
OPEN = 0.05  # of the body's size: a piece thinner than this is a sliver of background, not an object
MIN_SIDE = 0.15  # of the body's size: a piece smaller than a square of this side is not an object
# CIELAB (OpenCV's 8-bit scale) medians: the piece's colour at least BACKGROUND_DISTANCE from the background
# round it and CONTRAST times farther from it than from the person's pixels beside it, and at least
# BODY_DISTANCE from all but BODY_SHARE percent of the body's sure pixels away from the hands (its clothes, skin
# and hair: what has their colour cannot be told from them). docs/backends/warp-parts.md has the measurements.
BACKGROUND_DISTANCE = 50.0
CONTRAST = 2.5
BODY_DISTANCE = 25.0
BODY_SHARE = 5.0
BODY_COLOURS = 6  # the body's main colours (k-means): a seen pixel joins the object nearer its colour than all
ROUND_GROWTH = 2.5  # a circle continuing a held thing's outline may be this many times its area, no more
ROUND_FIT = 0.05  # of its radius: the outline's points this near a circle, by their root mean square, are round
ROUND_SEEN = 1.2  # radians of a circle's way round its outline must show, at least, to tell its centre
MIN_BODY = 60.0  # pixels of body size: below it (64x128 street crops) the window is too few pixels for colours


def held_objects(image: np.ndarray, pose: Pose, mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8: what a hand holds, where the segmentation ``mask`` (float, 0-1) left part of it out (below
    0.5): the whole object, each pixel the part label (engine.parsing) of the forearm whose hand holds it (an
    object is the hand's whole, not split between the bones it lies nearest); 0 elsewhere."""
    h, w = mask.shape
    out = np.zeros((h, w), np.uint8)
    ts = body_scale(pose)
    if ts < MIN_BODY:
        return out
    hands = []
    for side in "rl":
        el, wr = J[f"{side}_elbow"], J[f"{side}_wrist"]
        if not (pose.present[el] and pose.present[wr]):
            continue
        fore = float(np.hypot(*(pose.xy[wr] - pose.xy[el])))
        reach = REACH * max(0.35 * ts, fore)
        cx, cy = (float(v) for v in pose.xy[wr])
        y0, y1 = max(0, int(cy - reach) - 2), min(h, int(np.ceil(cy + reach)) + 3)
        x0, x1 = max(0, int(cx - reach) - 2), min(w, int(np.ceil(cx + reach)) + 3)
        if y1 - y0 >= 8 and x1 - x0 >= 8:
            hands.append((side, (cx - x0, cy - y0), reach, (y0, y1, x0, x1)))
    body = _body_colours(image, mask, [hand[3] for hand in hands]) if hands else None
    if body is not None:
        body = (body, main_colours(body, BODY_COLOURS))  # its colours, and its main ones
    for side, wrist, reach, (y0, y1, x0, x1) in hands:
        piece = _held_in(image[y0:y1, x0:x1], mask[y0:y1, x0:x1], wrist, reach, ts, body)
        if piece is not None:
            window = out[y0:y1, x0:x1]
            window[piece & (window == 0)] = PART_NAMES.index(f"{side}_lower_arm") + 1
    return out


def _body_colours(image: np.ndarray, mask: np.ndarray, windows: list) -> np.ndarray | None:
    """CIELAB colours of the person's sure pixels away from the hands' ``windows`` (its clothes, skin and hair; at
    most 4096 of them, spread evenly), or None when there are too few."""
    away = mask >= HAND_SURE
    for y0, y1, x0, x1 in windows:
        away[y0:y1, x0:x1] = False
    ys, xs = np.nonzero(away)
    if len(ys) < 16:
        return None
    pick = np.linspace(0, len(ys) - 1, min(len(ys), 4096)).astype(int)
    rgb = np.ascontiguousarray(image[ys[pick], xs[pick]][None])
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0].astype(np.float32)


def _circle(pts: np.ndarray):
    """(cx, cy, r) of the least-squares circle through ``pts`` ((n, 2) x, y), or None when they are not round
    (ROUND_FIT) or span too little of it to tell."""
    x, y = pts[:, 0], pts[:, 1]
    A = np.stack([x, y, np.ones_like(x)], 1)
    (a, b, c), *_ = np.linalg.lstsq(A, x * x + y * y, rcond=None)
    cx, cy = a / 2, b / 2
    r2 = c + cx * cx + cy * cy
    if r2 <= 0:
        return None
    r = float(np.sqrt(r2))
    d = np.hypot(x - cx, y - cy) - r
    angles = np.sort(np.arctan2(y - cy, x - cx))
    seen = 2 * np.pi - np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi])).max()  # of the way round
    if np.sqrt(np.mean(d * d)) > ROUND_FIT * r or seen < ROUND_SEEN:
        return None
    return cx, cy, r


def _whole(objects: np.ndarray, ms: np.ndarray, person: np.ndarray) -> np.ndarray:
    """``objects`` (bool) made whole, in a window whose mask is ``ms`` and GrabCut's person ``person``: the
    person's pixels inside each object's convex outline are its too (a rim the mask saw in the shadow's or the
    skin's colours, the fingers over it), and inside the circle a round one's outline against the background
    continues (a ball's rim blurred beside a leg, seen in the leg's colours, went with the leg in shards); so the
    hand's layer moves it in one piece."""
    n, comp = cv2.connectedComponents(objects.astype(np.uint8))
    inside = np.zeros(objects.shape, np.uint8)
    open_wall = cv2.dilate((~person).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # GrabCut's background
    for j in range(1, n):
        one = comp == j
        cv2.fillConvexPoly(inside, cv2.convexHull(np.argwhere(one)[:, ::-1].astype(np.int32)), 1)
        rim = np.argwhere(one & open_wall)[:, ::-1].astype(np.float64)
        circle = _circle(rim) if len(rim) >= 12 else None
        if circle is not None and np.pi * circle[2] ** 2 <= ROUND_GROWTH * one.sum():
            # its rim pixels are half a pixel inside the outline, and the outline blurred past them
            cv2.circle(inside, (int(round(circle[0])), int(round(circle[1]))), int(round(circle[2] + 1)), 1, -1)
    return objects | ((inside > 0) & (ms >= PERSON_MOVES))


def _grab_cut(small: np.ndarray, seeds: np.ndarray) -> bool:
    """OpenCV's GrabCut on ``seeds`` in place (4 iterations), in a thread of its own:
    GrabCut draws its k-means starts from OpenCV's random generator, which is per thread and takes no seed of
    ours; a new thread's starts from OpenCV's default seed, so the same photo gives the same result and the
    caller's generator is left alone. False where GrabCut cannot model the window."""
    done = []

    def run():
        try:
            cv2.grabCut(small, seeds, None, np.zeros((1, 65)), np.zeros((1, 65)), 4, cv2.GC_INIT_WITH_MASK)
            done.append(True)
        except cv2.error:
            pass
    t = threading.Thread(target=run, name="poseeditor-grabcut")
    t.start()
    t.join()
    return bool(done)


def _held_in(crop: np.ndarray, m: np.ndarray, wrist, reach: float, ts: float, body):
    """The held object in one hand's window (bool, the window's shape), or None. ``body``: the body's colours
    (_body_colours) and their main ones, or None."""
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
    if not _grab_cut(np.ascontiguousarray(small), seeds):
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
        # the person's pixels beside it (>= 0.5: a held ball is segmented at 0.5-0.8) are the object's part the
        # mask saw, the hand, or the sleeve
        beside, background = ring & (ms >= 0.5), ring & (ms < 0.2) & ~person
        if beside.sum() < 3 or background.sum() < 3:
            continue
        colour = np.median(lab[piece > 0], 0)
        to_bg = float(np.linalg.norm(colour - np.median(lab[background], 0)))
        to_person = float(np.linalg.norm(colour - np.median(lab[beside], 0)))
        # the nearest of the body's colours, but for a few pixels of it (a fleck of the shirt's print)
        to_body = np.inf if body is None else \
            float(np.percentile(np.linalg.norm(body[0] - colour, axis=1), BODY_SHARE))
        if to_bg < BACKGROUND_DISTANCE or to_bg < CONTRAST * to_person or to_body < BODY_DISTANCE:
            continue
        # the object whole: the person's pixels round the piece (as far again as it is wide) nearer its colour
        # than half way to the background's, so that the hand takes all of it
        reach_px = int(np.ceil(np.sqrt(stats[i, cv2.CC_STAT_AREA])))
        round_it = cv2.dilate(piece, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach_px + 1,) * 2))
        to_piece = np.linalg.norm(lab - colour, axis=2)
        alike = to_piece < 0.5 * to_bg
        if body is not None:  # and nearer the piece's colour than any of the body's main ones
            for c in body[1]:
                alike &= to_piece < np.linalg.norm(lab - c, axis=2)
        objects |= (piece > 0) | ((round_it > 0) & person & alike)
    if not objects.any():
        return None
    _, comp = cv2.connectedComponents(objects.astype(np.uint8))  # only what joins a completed piece
    joined = np.unique(comp[(pieces > 0) & objects])
    got = _whole(np.isin(comp, joined[joined > 0]), ms, person).astype(np.float32)
    if s < 1:
        # its outline found at 1/fx of the photo's pixels: the person's pixels within that of it are its too (a
        # rim left out went to the torso by the nearest bone, and the torso's colours turned orange beside it)
        got = cv2.resize(got, (ww, hh), interpolation=cv2.INTER_LINEAR) >= 0.5
        r = int(np.ceil(max(fx, fy)))
        grown = cv2.dilate(got.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
        return got | ((grown > 0) & (m >= PERSON_MOVES))
    return got >= 0.5
