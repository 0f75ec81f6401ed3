"""What a part shows where something in front of it moved away: its own cloth, filled in.

A hand resting on a dress hides the dress under it (a forearm hanging along a thigh, the trousers); raised, its
place must show the dress. The layer behind (engine.backends.warp_parts) reaches under the hand, and these fill
that place from the layer's own pixels round it: one shifted copy of the cloth where one fits (stripes and prints go
on through the hole), else OpenCV's Telea inpainting (on a print, a smooth disc of its colours: a patch-by-patch
copy and copies of the hole's halves were tried, docs/backends/warp-parts.md).
"""
from __future__ import annotations

import cv2
import numpy as np

# the place a hand left on its cloth is a shifted copy of the cloth round it when the copy's surroundings match the
# hole's within this many times their variance (2 is what a random shift scores), plus a floor of squared
# differences (3 channels of 20 levels) under which plain cloth always matches; else it is inpainted (Telea)
SHIFT_MATCH = 2.0
SHIFT_FLOOR = 3 * 20.0 ** 2
SHIFT_DRIFT = 35.0  # levels: how far the copy's cloth colour, averaged, may be from the ring's
SHIFT_DRIFT_WEIGHT = 4.0


def inpainted_under(rgb: np.ndarray, known: np.ndarray, hole: np.ndarray, fill: np.ndarray,
                    margin: float = 0.0) -> np.ndarray:
    """``fill`` with the ``hole`` pixels inpainted (Telea) from the ``known`` pixels of ``rgb`` round them, in a
    box round the hole: a hand's place on a patterned dress, where the mean colour of the cloth round it was a
    dark blot. Only known pixels more than ``margin`` from the hole and from the known's own outline are used:
    Telea carries the colours at the rim of what it fills inward, and there a photo blends the part with what
    was in front of it (skin or a sleeve blurred into black trousers: a brown blot) or beside it (the wall
    blurred into their edge: grey streaks)."""
    if not hole.any():
        return fill
    ys, xs = np.nonzero(hole)
    m = max(4, int(max(np.ptp(ys), np.ptp(xs))))
    box = (slice(max(0, ys.min() - m), ys.max() + 1 + m), slice(max(0, xs.min() - m), xs.max() + 1 + m))
    if margin > 0:
        # the distances only where they are read (the shifted copy's reach, the margin beyond it): over the whole
        # photo they were two transforms of 16 million pixels per hole on a 4096-px photo
        pad = int(2 * max(np.ptp(ys), np.ptp(xs)) + 5 * margin + 16)  # _shifted_copy's reach, plus the margin
        near = (slice(max(0, ys.min() - pad), ys.max() + 1 + pad), slice(max(0, xs.min() - pad), xs.max() + 1 + pad))
        clear = known.copy()
        clear[near] &= (cv2.distanceTransform((~hole[near]).astype(np.uint8), cv2.DIST_L2, 3) > margin) \
            & (cv2.distanceTransform(known[near].astype(np.uint8), cv2.DIST_L2, 3) > margin)
        if clear[box].any():  # a part thinner than twice the margin there keeps all its pixels
            known = clear
    unknown = (~known[box]).astype(np.uint8)
    if unknown.all():
        return fill
    out = fill.copy()
    copied = _shifted_copy(rgb, known, hole, margin)
    if copied is not None:
        out[hole] = copied
        return out
    painted = cv2.inpaint(np.clip(rgb[box], 0, 255).astype(np.uint8), unknown, 3, cv2.INPAINT_TELEA)
    out[box][hole[box]] = painted[hole[box]]
    return out


def _shifted_copy(rgb: np.ndarray, known: np.ndarray, hole: np.ndarray, margin: float) -> np.ndarray | None:
    """The ``hole`` pixels of ``rgb`` as one shifted copy of ``known`` pixels: the shift whose copy of the hole's
    known surroundings matches them best, so that stripes, a print or pleats go on through the hole (Telea smeared
    them into streaks of their colours), corrected by the mean colour difference of those surroundings. None when
    no shift within twice the hole's size lands it and its surroundings on known pixels, or the best one matches
    them worse than SHIFT_MATCH (a large hole by the cloth's edge: Telea's smear is the lesser harm there)."""
    ys, xs = np.nonzero(hole)
    band = margin + max(3.0, margin) + 1  # the surroundings compared: known pixels this near the hole
    reach = int(2 * max(np.ptp(ys), np.ptp(xs)) + 2 * band + 2)
    y0, x0 = max(0, ys.min() - reach), max(0, xs.min() - reach)
    box = (slice(y0, ys.max() + 1 + reach), slice(x0, xs.max() + 1 + reach))
    hole, known = hole[box], known[box]
    near = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    ring = known & ~hole & (near <= band)
    if ring.sum() < 10:
        return None
    ry, rx = np.nonzero(hole | ring)
    t = (slice(ry.min(), ry.max() + 1), slice(rx.min(), rx.max() + 1))
    if t[0].stop - t[0].start >= hole.shape[0] or t[1].stop - t[1].start >= hole.shape[1]:
        return None
    img = np.ascontiguousarray(rgb[box], dtype=np.float32)
    weight = np.ascontiguousarray(np.repeat(ring[t][..., None].astype(np.float32), 3, 2))
    cost = cv2.matchTemplate(img, np.ascontiguousarray(img[t]), cv2.TM_SQDIFF, mask=weight)
    # the same for the cloth's colours averaged over a few pattern repeats: on a fine print every shift matches
    # the ring about as badly, and the best of them took skin of the leg the print's layer also holds
    # (fashion-real/39: a blue patch once its colour was corrected)
    k = int(2 * band) | 1
    mean = cv2.GaussianBlur(img * known[..., None], (k, k), 0) / \
        np.maximum(cv2.GaussianBlur(known.astype(np.float32), (k, k), 0), 1e-3)[..., None]
    drift = cv2.matchTemplate(mean, np.ascontiguousarray(mean[t]), cv2.TM_SQDIFF, mask=weight)
    # where the shifted hole or ring would take pixels that are not the part's own (the hole itself included)
    off = cv2.matchTemplate((~known).astype(np.float32), (hole | ring)[t].astype(np.float32), cv2.TM_CCORR)
    n = ring.sum()
    cost[(off > 0.5) | (drift > n * 3 * SHIFT_DRIFT ** 2)] = np.inf
    y, x = np.unravel_index(int(np.argmin(cost + SHIFT_DRIFT_WEIGHT * drift)), cost.shape)
    # a shift of unrelated pixels costs twice the ring's variance on average; plain cloth is let through by the floor
    if not cost[y, x] <= n * (SHIFT_MATCH * img[ring].var(0).sum() + SHIFT_FLOOR):
        return None
    dy, dx = y - t[0].start, x - t[1].start
    hy, hx = np.nonzero(hole)
    qy, qx = np.nonzero(ring)
    tint = (img[qy, qx] - img[qy + dy, qx + dx]).mean(0)
    return np.clip(img[hy + dy, hx + dx] + tint, 0, 255)
