"""Hair lying over a shoulder or an arm belongs to the head.

Long hair falling over a shoulder lies within the upper arm's reach of its bone, and below the neck nearer the
torso's bones than the head's joints: the nearest-bone labels (engine.parsing) give the strand to the arm and the
torso. A raised arm would carry its share up, and the torso's share round the shoulder with it (an arm's layer
takes its chain's pixels round its joints), a blob of hair swung round the shoulder and the hair left cut off
there (fashion-real/29). Hair is told by colour and by where it hangs: a strand is hair joined to the head's part
that lies over an arm. Labels are made once, when the photo is encoded.
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import HEAD_JOINTS, PART_NAMES, body_scale, segment_distance
from .part_colours import ARM_CORE, colour_distance, main_colours
from .parsing import ARM_LABELS, HEAD_LABEL, HEAD_REACH, TORSO_LABEL
from .pose import J, Pose

# How much nearer (CIELAB units, lightness weighed by HAIR_LIGHTNESS) a pixel's colour must be to one of the
# head's main colours than to any of the arm's, the face's and the torso's cloth's for it to be hair
HAIR_MARGIN = 6.0
# Lightness weighs this much against the two colour axes: blond or brown hair and the shaded side of a bare arm
# differ more in hue than in lightness (OpenCV's 8-bit L is 2.55 per CIELAB unit, its a and b 1)
HAIR_LIGHTNESS = 0.4
# of the body's size: colours are smoothed this much first (a strand is streaks of light and dark), and gaps
# this wide between hair pixels are closed
HAIR_BLUR = 0.01
FACE_SAMPLE = 0.05  # of the body's size: the face's skin is sampled this near the nose
HAIR_RIM = 0.015  # of the body's size: the person's outline this deep blends with the wall, and is no path
# Hair is found with the body's size at this many pixels (a larger person is looked at scaled down: the colours
# and their paths are as plain, and a 1920x1080 frame's dancer took 150 ms at full size)
HAIR_SIZE = 160.0


def hair_to_head(labels: np.ndarray, image: np.ndarray, pose: Pose) -> np.ndarray:
    """Labels with the hair over the arms, and over the torso where it joins them, given to the head. The head's
    colours are sampled over its part above the shoulders (hair and face), the face's skin round the nose, the
    torso's cloth over its part beyond the head's reach (HEAD_REACH: where hair hangs, one of the torso's colours
    was the hair's), an arm's along its forearm (without a wrist, the upper arm's lower half: a strand over the
    shoulder reaches down the upper arm, and sampled there it was the arm's colour). A pixel of an arm's part, or of
    the torso's within the head's reach of its joints, is hair when it is HAIR_MARGIN nearer one of the head's
    colours than any of the others'. A strand, hair that touches the head's part and lies over that arm, is the
    head's, its outline with it. A bare arm is the face's colour, a sleeve the hair's colour the arm's own, a top
    the hair's colour the torso's: none of them is taken. Without the nose (a back view) there is no skin to tell a
    bare back from hair: nothing is taken."""
    rows, cols = np.nonzero((labels != 0).any(axis=1))[0], np.nonzero((labels != 0).any(axis=0))[0]
    if not len(rows) or not pose.present[J["nose"]]:
        return labels
    y0, x0 = rows[0], cols[0]
    box = (slice(y0, rows[-1] + 1), slice(x0, cols[-1] + 1))
    sub = labels[box]
    ts = body_scale(pose)
    s = min(1.0, HAIR_SIZE / ts)
    small_sub, rgb = sub, image[box]
    if s < 1:
        size = (max(1, round(sub.shape[1] * s)), max(1, round(sub.shape[0] * s)))
        small_sub = cv2.resize(sub, size, interpolation=cv2.INTER_NEAREST)
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    joints = {j: (pose.xy[j] - (x0, y0)) * s for j in range(len(pose.xy)) if pose.present[j]}
    take = _strands(small_sub, np.ascontiguousarray(rgb), joints, ts * s)
    if take is None or not take.any():
        return labels
    if s < 1:
        take = cv2.resize(take.astype(np.float32), (sub.shape[1], sub.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5
        take &= np.isin(sub, [TORSO_LABEL] + ARM_LABELS)
    out = labels.copy()
    out[box][take] = HEAD_LABEL
    return out


def _strands(sub: np.ndarray, rgb: np.ndarray, joints: dict, ts: float) -> np.ndarray | None:
    """(h, w) bool: the strands of hair_to_head in the labels ``sub`` of the photo ``rgb``, the pose's
    ``joints`` (index: x, y) and body size ``ts`` in their pixels; None when something to tell them by is missing."""
    ys, xs = np.mgrid[0:sub.shape[0], 0:sub.shape[1]].astype(np.float32)
    nose = joints[J["nose"]]
    near_nose = (sub > 0) & (np.hypot(xs - nose[0], ys - nose[1]) <= FACE_SAMPLE * ts)
    head = (sub == HEAD_LABEL) & _above_shoulders(joints, xs, ys)
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(head.astype(np.uint8), connectivity=8)
    if count > 2:  # the head itself, not a piece of the head's part by a hand (dance frame 90's, on the ball)
        head = pieces == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    torso = sub == TORSO_LABEL
    if head.sum() < 50 or torso.sum() < 50 or near_nose.sum() < 5:
        return None
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = cv2.GaussianBlur(lab, (0, 0), max(0.5, HAIR_BLUR * ts))
    lab[..., 0] *= HAIR_LIGHTNESS
    head_c = main_colours(lab[head], 3)
    near_head = np.min([np.hypot(xs - p[0], ys - p[1]) for j, p in joints.items() if j in HEAD_JOINTS], axis=0)
    near_head = near_head <= HEAD_REACH * ts
    cloth = torso & ~near_head if (torso & ~near_head).sum() >= 50 else torso
    others = np.vstack([np.median(lab[near_nose], axis=0)[None], main_colours(lab[cloth], 3)])
    rim = max(1, int(round(HAIR_RIM * ts)))
    inner = cv2.erode((sub > 0).astype(np.uint8), np.ones((2 * rim + 1,) * 2, np.uint8)) > 0
    by_head = cv2.dilate(head.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    gap = np.ones((2 * max(1, int(round(HAIR_BLUR * ts))) + 1,) * 2, np.uint8)
    take = np.zeros(sub.shape, bool)
    for side in "rl":
        sh, el, wr = (joints.get(J[f"{side}_{n}"]) for n in ("shoulder", "elbow", "wrist"))
        if sh is None or el is None:
            continue
        up = PART_NAMES.index(f"{side}_upper_arm") + 1
        arm = (sub == up) | (sub == up + 1)
        core = arm & (segment_distance(xs, ys, el, wr if wr is not None else (sh + el) / 2) <= ARM_CORE * ts)
        if core.sum() < 20:
            continue
        region = (inner & (arm | (torso & near_head))).astype(np.uint8)
        py, px = np.nonzero(region)
        colours, not_hair = lab[py, px], np.vstack([main_colours(lab[core], 3), others])
        hair = np.zeros(sub.shape, np.uint8)
        hair[py, px] = colour_distance(colours, head_c) + HAIR_MARGIN < colour_distance(colours, not_hair)
        hair = cv2.morphologyEx(hair, cv2.MORPH_CLOSE, gap) & region
        _, comp = cv2.connectedComponents(hair, connectivity=8)
        strands = np.intersect1d(comp[by_head & (hair > 0)], comp[arm & (hair > 0)])
        take |= np.isin(comp, strands[strands > 0])
    if take.any():  # and the strands' own outline, where they meet the wall
        grown = cv2.dilate(take.astype(np.uint8), np.ones((2 * rim + 1,) * 2, np.uint8)) > 0
        take |= grown & ~inner & np.isin(sub, [TORSO_LABEL] + ARM_LABELS)
    return take


def _above_shoulders(joints: dict, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Whether the points lie on the face's side of the line through the shoulders (all of them without it)."""
    a, b = joints.get(J["r_shoulder"]), joints.get(J["l_shoulder"])
    face = [p for j, p in joints.items() if j in HEAD_JOINTS]
    if a is None or b is None:
        return np.ones(xs.shape, bool)
    centre = np.mean(face, axis=0)

    def side(x, y):
        return (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])

    return np.sign(side(xs, ys)) == np.sign(side(centre[0], centre[1]))
