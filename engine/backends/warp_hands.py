"""What a hand rests on, for the warp backend: the part that goes on under a hand (its landmarks, engine.hands)
when the hand moves away, so a raised hand uncovers the dress or thigh it rested on, not the wall. And the
closing that finds it, which the torso's layer uses too for the arm it closes round (warp_parts.layers_for)."""
from __future__ import annotations

import cv2
import numpy as np

from ..encode import NUM_PARTS, PART_NAMES, body_scale
from ..parsing import ARM_LABELS, HEAD_LABEL, hand_ellipse, hand_ellipse_axes, hand_measure
from ..pose import J, Pose

# A hand whose outline lies this much on one part, the rest on the person, lies over that part
BEHIND_HAND = 0.6


def behind_hands(pose: Pose, labels: np.ndarray, origin_rc, ring: int) -> dict[int, np.ndarray]:
    """{label: (h, w) bool} the hands (their landmarks, ``pose.hands``), or the pieces of them, that lie over the
    part ``label``, over ``labels`` (a box at the photo's (row, column) ``origin_rc``). A hand whose outline
    (``ring`` pixels round it) lies BEHIND_HAND on one part, the rest on the person, lies over that part: the
    dress or thigh it rests on goes on under it. Else the body goes on under the hand where its outline closes
    over it (a closing the hand's size wide; each pixel the nearest part's): the notch a hand cuts into a thigh's
    edge at the body's side is filled (not left as wall cut into the trousers), and nothing grows past a straight
    edge the hand only hangs beside (a bump of trousers in the air)."""
    under: dict[int, np.ndarray] = {}
    body_labels = [k for k in range(1, NUM_PARTS + 1) if k not in ARM_LABELS and k != HEAD_LABEL]
    ts = body_scale(pose)
    for side in "rl":
        wrist, elbow = J[f"{side}_wrist"], J[f"{side}_elbow"]
        landmarks = pose.hands.get(wrist)
        if landmarks is None:  # a hand mediapipe's hand model missed (a blurred one): the parsing's ellipse
            if not (pose.present[wrist] and pose.present[elbow]):
                continue
            centre, radius, _ = hand_ellipse_axes(pose, elbow, wrist, ts)
            span = 2 * radius
            lo, hi = centre - radius, centre + radius
        else:
            span = float(np.ptp(landmarks, axis=0).max())
            lo, hi = landmarks.min(0), landmarks.max(0)
        fore = PART_NAMES.index(f"{side}_lower_arm") + 1
        reach = int(np.ceil(span)) + 1
        (x0, y0), (x1, y1) = lo - 2 * ring - reach, hi + 2 * ring + reach
        box = (slice(max(0, int(y0) - origin_rc[0]), max(0, int(y1) + 2 - origin_rc[0])),
               slice(max(0, int(x0) - origin_rc[1]), max(0, int(x1) + 2 - origin_rc[1])))
        sub = labels[box]
        if not sub.size:
            continue
        ys, xs = np.mgrid[box[0].start:box[0].start + sub.shape[0], box[1].start:box[1].start + sub.shape[1]]
        px, py = (xs + origin_rc[1]).astype(np.float32), (ys + origin_rc[0]).astype(np.float32)
        inside = (hand_measure(landmarks, px, py) if landmarks is not None
                  else hand_ellipse(pose, elbow, wrist, ts, px, py))
        hand = (sub == fore) & (inside < 1)
        if hand.sum() < 10:
            continue
        around = cv2.dilate(hand.astype(np.uint8), np.ones((2 * ring + 1,) * 2, np.uint8)) > 0
        own = np.isin(sub, [fore, fore - 1])  # the hand's own arm
        seen = sub[around & ~hand & ~own]
        parts = seen[seen > 0]
        if len(parts) >= BEHIND_HAND * len(seen) and len(parts):
            best = int(np.bincount(parts).argmax())
            if best not in ARM_LABELS and best != HEAD_LABEL and (parts == best).mean() >= BEHIND_HAND:
                under.setdefault(best, np.zeros(labels.shape, bool))[box] |= hand
                continue
        body = np.isin(sub, body_labels).astype(np.uint8)
        piece = hand & closed(body, reach)
        if piece.sum() < 10:
            continue
        _, idx = cv2.distanceTransformWithLabels(1 - body, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        by_index = np.zeros(int(idx.max()) + 1, sub.dtype)
        by_index[idx[body > 0]] = sub[body > 0]
        nearest = by_index[idx]
        for part in np.unique(nearest[piece]):
            under.setdefault(int(part), np.zeros(labels.shape, bool))[box] |= piece & (nearest == part)
    return under


def closed(mask: np.ndarray, reach: float) -> np.ndarray:
    """``mask`` (uint8 0/1) closed by a disc of radius ``reach``: grown by ``reach``, then shrunk back by it. By two
    distance transforms (linear in the pixels: a disc kernel as wide as a hand on a 3200-px photo took 27 s),
    exact ones: the 3x3 mask's steps of 0.955 px reach a twentieth further than ``reach`` along the rows and
    columns, and a gap just wider than the disc was bridged. Nothing past the array is the mask: a photo's edge
    near a thigh does not close over the hand beside it, nor a photo's edge under a torso over the arm hanging
    beside it. That takes a pad wider than ``reach``: OpenCV counts no pixel past the array as background, so a
    narrower pad, grown over to its outer edge, is never shrunk back from there, and the border closes as if it
    were the mask."""
    pad = int(np.ceil(reach)) + 1
    grown = (cv2.distanceTransform(1 - np.pad(mask, pad), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= reach)
    shut = cv2.distanceTransform(grown.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) > reach
    return shut[pad:-pad, pad:-pad]
