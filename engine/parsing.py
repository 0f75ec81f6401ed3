"""Coarse body-part parsing from a pose and a person mask.

Each person pixel goes to its nearest body part (head, torso, upper/lower arms and legs, left and right), the
stand-in for human parsing where a dataset has none (SPGNet) and the part layers of the warp backend.
Hands and feet belong to the lower arm / shin they end; hair and face to the head. The warp backend refines
the labels of a photo's person (grow_labels, merge_islands, arms_take_thin_torso; engine.part_colours by
the parts' colours, engine.hair for hair over a shoulder): its layers and the hole they leave are cut by them.

Labels (0 is background):
    1 head, 2 torso, 3 r_upper_arm, 4 r_lower_arm, 5 l_upper_arm, 6 l_lower_arm, 7 r_thigh, 8 r_shin,
    9 l_thigh, 10 l_shin
i.e. label = 1 + index in ``engine.encode.PART_NAMES``.
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import (HEAD_JOINTS, PART_LIMBS, PART_NAMES, body_scale, inside_convex, segment_distance,
                     torso_polygon)
from .hands import hand_measure
from .pose import J, Pose

NUM_LABELS = len(PART_NAMES) + 1
LABEL_NAMES = ("background",) + PART_NAMES
# A colour per label for overlays (RGB).
LABEL_COLORS = np.array([
    (0, 0, 0), (255, 200, 0), (220, 40, 40), (40, 160, 255), (40, 90, 200), (60, 220, 120), (20, 150, 80),
    (200, 80, 255), (130, 40, 200), (255, 120, 170), (200, 60, 110)], np.uint8)


# Arms are thin: a pixel farther than this (in torso sizes) from an arm's bone is not arm, whatever its
# nearest bone is (wide trousers or a skirt beside a hanging hand belong to the legs or torso, not the hand).
ARM_RADIUS = 0.09
ARM_MIN_PX = 4.0
# An upper arm reaches further: a sleeve is wider than a forearm, and no skirt hangs beside it (a procedural
# back view's sleeve, its bone detected 10 px off, kept its outer strip on the torso at 0.09)
UPPER_ARM_RADIUS = 0.12
HAND_RADIUS = 0.14
HAND_WIDTH = 0.5  # a hand region's width over its length (0.7 already took round bites of a dress in photos)
PERSON_MOVES = 0.35  # the mask's value from which a pixel is the person's, moved and inpainted (the warp's hole)
HAND_SURE = 0.8  # the segmentation's confidence a hand's pixel needs (a held ball is at 0.5-0.8 on the dance video)
# of the body's size: a piece of the torso apart from it this far outside its middle is not the torso's; a side
# view's middle is a sliver between its shoulders, and the dress beside it is the torso's all the same
STRAY_MARGIN = 0.25
HAND_FRINGE = 0.03  # of the body's size: how far past its sure pixels a hand's soft edge reaches
# A head reaches this far (torso sizes) from its nearest joint: long hair to the shoulders, not a ball held out
# at the side (nothing else near it but the torso, whose bones were farther: a wedge of the ball went with the
# head when the head was moved) nor the band over an arm held out
HEAD_REACH = 0.6
ISLAND_SHARE = 0.05  # a part's piece smaller than this share of its pixels, apart from the rest, is a stray
PARSE_FULL_PIXELS = 250_000  # a person's box up to this many pixels is labelled pixel by pixel (_box_labels)


# the far end of the limb below each upper limb
_LIMB_END = {"r_upper_arm": J["r_wrist"], "l_upper_arm": J["l_wrist"], "r_thigh": J["r_ankle"],
             "l_thigh": J["l_ankle"]}


def arm_reach(part: str, ts: float) -> float:
    """How far (pixels) an arm's part reaches from its bone, for a body of size ``ts`` (ARM_RADIUS, UPPER_ARM_RADIUS,
    at least ARM_MIN_PX)."""
    return max((ARM_RADIUS if part.endswith("lower_arm") else UPPER_ARM_RADIUS) * ts, ARM_MIN_PX)


def part_distances(pose: Pose, xs: np.ndarray, ys: np.ndarray, arm_slack: float = 0.0) -> np.ndarray:
    """(parts, *xs.shape) distances of the points (xs, ys) (float32 arrays of one shape) to each part; an arm's
    is 1e6 more beyond its reach, ``arm_slack`` pixels more than a bone's own (see ARM_RADIUS)."""
    ts = body_scale(pose)
    big = np.float32(1e9)
    dist = np.full((len(PART_NAMES),) + xs.shape, big, np.float32)
    # head: distance to the nearest head joint; the neck-nose segment covers the chin when both exist
    head_pts = [pose.xy[i] for i in HEAD_JOINTS if pose.present[i]]
    if head_pts:
        d = np.min([np.hypot(xs - p[0], ys - p[1]) for p in head_pts], axis=0)
        dist[0] = d * 0.8  # the head is wider than its joints are far apart: favour it around them
        dist[0] = np.where(d > HEAD_REACH * ts, dist[0] + 1e6, dist[0])
    # torso: the segments of its outline and its two diagonals, so the interior is near the torso
    neck = pose.xy[J["neck"]] if pose.present[J["neck"]] else None
    pts = []
    for n in ("r_shoulder", "l_shoulder", "l_hip", "r_hip"):
        if not pose.present[J[n]]:
            continue
        p = pose.xy[J[n]]
        if neck is not None and n.endswith("shoulder"):
            # the shoulder joints sit in the middle of the upper arms: the torso's outline starts an arm's
            # radius inwards, else the inner half of each upper arm is nearer the torso's side and stays behind
            # when the arm is raised (a strip of sleeve down the torso's side)
            p = p + (neck - p) * min(0.5, ARM_RADIUS * ts / max(float(np.hypot(*(p - neck))), 1e-6))
        pts.append(p)
    if neck is not None:
        pts.append(neck)
    if len(pts) >= 2:
        segs = [(pts[i], pts[j]) for i in range(len(pts)) for j in range(i + 1, len(pts))]
        dist[1] = np.min([segment_distance(xs, ys, a, b) for a, b in segs], axis=0)
    in_front = np.zeros(xs.shape, bool)  # within a forearm's reach of its bone
    for k, part in enumerate(PART_NAMES[2:], start=2):
        a, b = PART_LIMBS[part]
        if pose.present[a] and pose.present[b]:
            pa, pb = pose.xy[a], pose.xy[b]
            landmarks = pose.hands.get(b) if part.endswith("lower_arm") else None
            if part.endswith(("lower_arm", "shin")):
                if landmarks is None:  # the hand is its landmarks where the detector found them
                    pb = pb + 0.25 * (pb - pa)  # hand / foot beyond the wrist / ankle
            elif not pose.present[_LIMB_END[part]]:
                # the limb below is cut by the photo's edge or unseen: what shows of it goes with this bone
                # (else a raised upper arm leaves its forearm's stump behind), taken as straight and as long
                pb = pb + 0.9 * (pb - pa)
            d = segment_distance(xs, ys, pa, pb)
            if "arm" in part:
                # only when nothing else claims the pixel; at least ARM_MIN_PX: a small person's mask edge and
                # joints are a pixel or two off (an 80 px person's fingers stayed at the hip as the thigh's)
                reach = arm_reach(part, ts)
                if part.endswith("lower_arm"):
                    in_front |= d <= reach
                d = np.where(d > reach + arm_slack, d + 1e6, d)
            if part.endswith("lower_arm"):
                # a hand is wider than a forearm, and in front of what it rests on: inside its region it wins
                # over any bone's distance (else a hand on the hip stays with the torso when the arm is moved).
                # An ellipse, not a disc: a disc as wide as the hand is long took round bites of the dress or
                # trousers a hanging hand touches; its fingers and palm where the detector found its landmarks.
                d_hand = hand_ellipse(pose, a, b, ts, xs, ys) if landmarks is None else hand_measure(landmarks, xs, ys)
                d = np.where(d_hand < 1, d_hand - 1, d)
            dist[k] = d
    # a forearm over the torso's middle is in front of it: held across the chest, nearer a torso diagonal than
    # its own bone, it was the torso's and stayed painted on the chest when the arm was raised. Not the upper
    # arm (one hanging at the side reaches over the torso's side, which then went with it, a smear left in its
    # place), nor beside the middle (a side view's hanging forearm took the dress and the back with it).
    middle = torso_polygon(pose)
    if middle is not None and in_front.any():
        in_front &= inside_convex(middle, xs, ys)
    dist[1] = np.where(in_front, dist[1] + 1e7, dist[1])
    return dist


def hand_ellipse_axes(pose: Pose, elbow: int, wrist: int, ts: float) -> tuple[np.ndarray, float, np.ndarray]:
    """(centre, half-length, unit vector along the forearm) of hand_ellipse's ellipse."""
    fore = pose.xy[wrist] - pose.xy[elbow]
    length = float(np.hypot(*fore))
    u = fore / length if length > 1e-6 else np.array([0.0, 1.0], np.float32)
    return pose.xy[wrist] + 0.35 * fore, max(HAND_RADIUS * ts, 0.4 * length), u


def hand_ellipse(pose: Pose, elbow: int, wrist: int, ts: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Each pixel's place in the hand's ellipse (< 1 inside): along the forearm, centred a third of a forearm
    past the wrist and reaching the fingertips (a hand is about 0.7 of a forearm long; foreshortened forearms
    keep a floor from the torso), half as wide as long."""
    hand, radius, u = hand_ellipse_axes(pose, elbow, wrist, ts)
    along = ((xs - hand[0]) * u[0] + (ys - hand[1]) * u[1]) / radius
    across = ((ys - hand[1]) * u[0] - (xs - hand[0]) * u[1]) / max(HAND_WIDTH * radius, ARM_MIN_PX)
    return np.hypot(along, across)


def hand_regions(pose: Pose, shape, origin=(0, 0)):
    """Per hand the pose has: (its elbow's and wrist's joint indices, the (rows, columns) slices of its box in an
    array of ``shape`` whose first pixel is the photo's (row, column) ``origin``, (h, w) bool: inside the hand's
    ellipse there)."""
    h, w = shape
    ts = body_scale(pose)
    for side in "rl":
        el, wr = J[f"{side}_elbow"], J[f"{side}_wrist"]
        if not (pose.present[el] and pose.present[wr]):
            continue
        fore = float(np.hypot(*(pose.xy[wr] - pose.xy[el])))
        reach = int(np.ceil(max(HAND_RADIUS * ts, 0.4 * fore) * 1.2 + 0.35 * fore))
        cx, cy = np.round(pose.xy[wr]).astype(int) - (origin[1], origin[0])
        y0, y1, x0, x1 = max(0, cy - reach), min(h, cy + reach + 1), max(0, cx - reach), min(w, cx + reach + 1)
        if y1 <= y0 or x1 <= x0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        yield el, wr, (slice(y0, y1), slice(x0, x1)), hand_ellipse(pose, el, wr, ts, xs + origin[1], ys + origin[0]) < 1


def unsure_hands(pose: Pose, mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels in a hand's region that the segmentation is not sure are the person (below
    HAND_SURE). What a hand holds (a ball) is segmented with the hand at 0.5-0.8; it is not the hand's to
    carry: moved with the hand it went in shards and left a bite where it was."""
    out = np.zeros(mask.shape, bool)
    # the hand's own soft edge (fingertips, a few pixels of falling confidence) stays the hand's
    fringe = max(1, int(round(HAND_FRINGE * body_scale(pose))))
    for _, _, box, inside in hand_regions(pose, mask.shape):
        m = mask[box]
        own = cv2.dilate((inside & (m >= HAND_SURE)).astype(np.uint8), np.ones((2 * fringe + 1,) * 2, np.uint8))
        out[box] |= inside & (m < HAND_SURE) & (own == 0)
    return out


def _nearest_part(pose: Pose, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """1 + the nearest part of each point, 0 where no part reaches (uint8, xs.shape)."""
    dist = part_distances(pose, xs, ys)
    out = (np.argmin(dist, axis=0) + 1).astype(np.uint8)
    out[dist.min(axis=0) >= 1e9] = 0
    return out


def _box_labels(pose: Pose, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Nearest-part labels of every pixel of the box, coarse to fine on a large box: the labels are found on a
    grid of one sample per block of ``f`` x ``f`` pixels, and only the blocks next to a block of another label
    are labelled pixel by pixel. The parts are regions of smooth distances many blocks wide (an arm reaches at
    least ARM_MIN_PX either side of its bone, a block is at most a few pixels), so a block whose whole
    neighbourhood has one label is that label throughout. A 4096x4096 photo's person was 10 distance maps of
    16 million pixels each (670 MB, most of the 14 CPU-seconds its warp encoding took)."""
    h, w = y1 - y0, x1 - x0
    f = int(np.ceil(np.sqrt(h * w / PARSE_FULL_PIXELS)))
    if f <= 1:
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        return _nearest_part(pose, xs, ys)
    hc, wc = -(-h // f), -(-w // f)
    # each block's sample at its centre
    ys, xs = np.mgrid[0:hc, 0:wc].astype(np.float32) * f + (f - 1) / 2
    coarse = _nearest_part(pose, xs + x0, ys + y0)
    k = np.ones((3, 3), np.uint8)
    mixed = cv2.dilate(coarse, k) != cv2.erode(coarse, k)
    out = np.repeat(np.repeat(coarse, f, axis=0), f, axis=1)[:h, :w]
    near = np.repeat(np.repeat(mixed, f, axis=0), f, axis=1)[:h, :w]
    py, px = np.nonzero(near)
    out[py, px] = _nearest_part(pose, (px + x0).astype(np.float32), (py + y0).astype(np.float32))
    return out


def coarse_parsing(pose: Pose, mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(H, W) uint8 labels: 0 outside the mask, else 1 + the nearest part."""
    inside = np.asarray(mask)[..., 0] if np.ndim(mask) == 3 else np.asarray(mask)
    inside = inside >= threshold
    labels = np.zeros(inside.shape, np.uint8)
    rows, cols = np.any(inside, axis=1), np.any(inside, axis=0)
    if not rows.any():
        return labels
    # only the mask's bounding box: a person fills a small part of a video frame, and every part's distance
    # over all 2 million pixels of a 1920x1080 frame cost most of a second when a photo is opened
    y0, y1 = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
    x0, x1 = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
    box = _box_labels(pose, y0, y1, x0, x1)
    box[~inside[y0:y1, x0:x1]] = 0
    labels[y0:y1, x0:x1] = box
    return labels


def colorize(labels: np.ndarray) -> np.ndarray:
    return LABEL_COLORS[np.clip(labels, 0, NUM_LABELS - 1)]


HEAD_LABEL = PART_NAMES.index("head") + 1
TORSO_LABEL = PART_NAMES.index("torso") + 1
ARM_LABELS = [PART_NAMES.index(p) + 1 for p in ("r_upper_arm", "r_lower_arm", "l_upper_arm", "l_lower_arm")]
LEG_LABELS = [PART_NAMES.index(p) + 1 for p in ("r_thigh", "r_shin", "l_thigh", "l_shin")]


def grow_labels(labels: np.ndarray, steps: int) -> np.ndarray:
    """Labels spread ``steps`` pixels (chessboard distance) into the unlabelled (0) pixels around them, each
    taking its nearest label (ties, on one-pixel lines where two labels meet, go either way). One distance
    transform: growing by 3x3 dilations took a pass over the person's box per step, ~100 on a 4096-px photo."""
    empty = (labels == 0).astype(np.uint8)
    if not empty.any() or empty.all():
        return labels.copy()
    dist, nearest = cv2.distanceTransformWithLabels(empty, cv2.DIST_C, 3, labelType=cv2.DIST_LABEL_PIXEL)
    # DIST_LABEL_PIXEL numbers the labelled pixels 1, 2, ... in raster order
    values = np.concatenate([[0], labels[labels > 0]]).astype(np.uint8)
    grown = values[nearest]
    grown[dist > steps] = 0
    return np.where(empty > 0, grown, labels)


def merge_islands(labels: np.ndarray, parts=None) -> np.ndarray:
    """Labels with each part's (of ``parts``, default all) stray islands (pieces apart from its main piece, under
    ISLAND_SHARE of its pixels) given to the part they touch most. The nearest-bone rule leaves thin ones where a
    limb is wider than the arm's reach from a detected bone that is a few pixels off: a strip down a hanging
    forearm's edge went to the torso and stayed at the hip when the arm was raised (read there as the wrist)."""
    out = labels.copy()
    for k in np.unique(labels):
        if k == 0 or (parts is not None and k not in parts):
            continue
        n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == k).astype(np.uint8), connectivity=8)
        if n <= 2:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA]
        main = 1 + int(np.argmax(areas))
        for c in range(1, n):
            if c == main or areas[c - 1] >= ISLAND_SHARE * areas.sum():
                continue
            _to_neighbour(out, labels, comp, stats, c, k)
    return out


def _piece_box(comp: np.ndarray, stats: np.ndarray, c: int):
    """(the box round piece ``c`` of a connectedComponentsWithStats labelling, a pixel wider each way; the
    piece's uint8 mask in it)."""
    x, y, w, h = stats[c, :4]
    box = (slice(max(0, y - 1), y + h + 1), slice(max(0, x - 1), x + w + 1))
    return box, (comp[box] == c).astype(np.uint8)


def _to_neighbour(out: np.ndarray, labels: np.ndarray, comp: np.ndarray, stats: np.ndarray, c: int, k: int) -> None:
    """Give piece ``c`` of part ``k``'s pieces (``comp``, ``stats``) to the part it touches most in ``labels``,
    in ``out``; nothing when it touches no other part."""
    box, piece = _piece_box(comp, stats, c)
    around = labels[box][(cv2.dilate(piece, np.ones((3, 3), np.uint8)) > 0) & (piece == 0)]
    around = around[(around != 0) & (around != k)]
    if len(around):
        out[box][piece > 0] = np.bincount(around).argmax()


def torso_strays(labels: np.ndarray, pose: Pose, origin_rc=(0, 0)) -> np.ndarray:
    """Labels with the torso's pieces apart from its main one that lie mostly further than STRAY_MARGIN
    outside its middle (torso_polygon) given to the part they touch most. What a hand holds beside the body is
    the torso's where it is nearer the torso's bone than the forearm's: the hand moved, the thing held went in
    two pieces. A piece inside the middle (below a forearm held across the waist) stays the torso's.
    ``labels`` start at ``origin_rc`` (row, column) of the photo."""
    middle = torso_polygon(pose)
    margin = int(round(STRAY_MARGIN * body_scale(pose)))
    n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == TORSO_LABEL).astype(np.uint8), connectivity=8)
    if middle is None or n <= 2:
        return labels
    out = labels.copy()
    main = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    for c in range(1, n):
        if c == main:
            continue
        box, piece = _piece_box(comp, stats, c)
        # how far outside the middle, in the piece's box grown by the margin
        m = margin + 1
        near = polygon_in_box(middle, (piece.shape[0] + 2 * m, piece.shape[1] + 2 * m),
                               (box[0].start - m + origin_rc[0], box[1].start - m + origin_rc[1]))
        beyond = cv2.distanceTransform(1 - near, cv2.DIST_L2, 3)[m:-m, m:-m] > margin
        if beyond[piece > 0].mean() >= 0.5:
            _to_neighbour(out, labels, comp, stats, c, TORSO_LABEL)
    return out


def polygon_in_box(poly: np.ndarray, shape, origin_rc) -> np.ndarray:
    """(h, w) uint8: 1 inside the convex polygon ``poly`` (photo x, y) over a box of ``shape`` whose first pixel
    is the photo's (row, column) ``origin_rc``."""
    out = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(out, np.round(poly - [origin_rc[1], origin_rc[0]]).astype(np.int32), 1)
    return out


def head_axis(pose: Pose, other: Pose | None = None):
    """(the neck, the centre of the face joints) of ``pose`` (float64 x, y; only the joints ``other`` has too),
    or None without the neck or a face joint: the axis a head turns about and bends along."""
    face = [i for i in HEAD_JOINTS if pose.present[i] and (other is None or other.present[i])]
    neck = J["neck"]
    if not (face and pose.present[neck] and (other is None or other.present[neck])):
        return None
    return pose.xy[neck].astype(np.float64), pose.xy[face].mean(0).astype(np.float64)


def arms_take_thin_torso(labels: np.ndarray, pose: Pose, radius: int, origin_rc=(0, 0)) -> np.ndarray:
    """Labels with the torso's thin outer pieces beside an arm given to that arm. An arm claims pixels only
    within its reach of the detected bone (ARM_RADIUS: else a hanging hand takes bites of the dress);
    a sleeve wider than that, and the hole's band round it, fell to the torso, which claims every pixel nobody
    else does: a strip down the arm's outer edge, the sleeve's rim and the hole's band round it. It stayed in
    the photo when the arm was raised, the faint outline where the arm had hung. Such a piece is what an
    opening by ``radius`` (twice the hole's band: a band and as much sleeve again) takes off the torso where it
    touches the background; each of its pixels goes to the arm whose bone is nearest, when that bone is within
    its reach and ``radius`` more and no other part (the head at the neck, a thigh) is nearer. The bone, not
    the nearest arm pixel: the jacket's edge at the waist beside a hanging forearm is nearest the forearm's
    pixels but far from its bone, and went up with the raised forearm, a fleck in the air. A piece between two
    arms folded on the chest touches no background and stays the torso's. ``labels`` start at ``origin_rc``
    (row, column) of the photo."""
    rows, cols = np.nonzero((labels != 0).any(axis=1))[0], np.nonzero((labels != 0).any(axis=0))[0]
    if not len(rows):
        return labels.copy()
    # in the person's box (a person in a 4096-px photo: the transforms below over all of it cost half a second)
    pad = 2 * radius + 2
    y0, x0 = max(0, rows[0] - pad), max(0, cols[0] - pad)
    box = (slice(y0, rows[-1] + 1 + pad), slice(x0, cols[-1] + 1 + pad))
    out = labels.copy()
    labels = labels[box]
    torso = (labels == TORSO_LABEL).astype(np.uint8)
    if not torso.any():
        return out
    # the opening as two distance transforms (linear in the pixels; a disc kernel of a 4096-px photo's radius
    # takes seconds), on a zero pad: the box's edge is background, not more torso (the hole's labels are cut
    # to its box)
    inner = cv2.distanceTransform(np.pad(torso, 1), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) > radius
    opened = cv2.distanceTransform((~inner).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= radius
    thin = (torso > 0) & ~opened[1:-1, 1:-1]
    # never the torso's middle: the chest above a forearm held across it is as thin, and went up with the arm
    middle = torso_polygon(pose)
    if middle is not None:
        thin &= polygon_in_box(middle, torso.shape, (y0 + origin_rc[0], x0 + origin_rc[1])) == 0
    if not thin.any():
        return out
    _, pieces = cv2.connectedComponents(thin.astype(np.uint8), connectivity=8)
    outside = cv2.dilate((labels == 0).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                         borderValue=1) > 0
    touching = np.unique(pieces[thin & outside])
    thin &= np.isin(pieces, touching[touching > 0])
    arms = np.isin(labels, ARM_LABELS)
    others = (labels != 0) & (labels != TORSO_LABEL) & ~arms

    def distance(to):
        return cv2.distanceTransform((~to).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)

    # the arm when it is as near as any other part (a hand hangs beside the thigh: a tie there went either way)
    near = thin & (distance(arms) <= np.minimum(distance(others) + 1.5, 2 * radius + 1))
    ys, xs = np.nonzero(near)
    px, py = (xs + x0 + origin_rc[1]).astype(np.float32), (ys + y0 + origin_rc[0]).astype(np.float32)
    bones = part_distances(pose, px, py, arm_slack=radius)[np.array(ARM_LABELS) - 1]
    reached = bones.min(axis=0) < 1e6
    arm = np.zeros_like(labels)
    arm[ys[reached], xs[reached]] = np.array(ARM_LABELS, labels.dtype)[bones.argmin(axis=0)[reached]]
    for k in ARM_LABELS:
        if not (arm == k).any():
            continue
        # only where it joins that arm: a piece apart from it would float in the air beside the moved arm
        _, joined = cv2.connectedComponents(((labels == k) | (arm == k)).astype(np.uint8), connectivity=8)
        ids = np.unique(joined[labels == k])
        take = (arm == k) & np.isin(joined, ids[ids > 0])
        out[box][take] = k
    return out
