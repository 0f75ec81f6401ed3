"""The warp backend: moves each body part of the photo itself with DGAN's part affine transforms.

No network, no weights, any image size, tens of milliseconds: the live preview and the default engine.

encode_sources (once per set of references)
    - split the person (segmentation mask) into 10 part layers with engine.parsing's nearest-limb labels;
      each limb layer also takes a disc of the body around its two joints, so a bent elbow or knee shows no
      wedge-shaped gap between the two limb layers; each layer reaches a little under the layers drawn in
      front of it (no background showing through where two soft part edges meet), and carries a thin ring of
      the photo around the person, drawn only while the part stays put: the unchanged pose gives back the
      photo itself, with no inpainted band round the body, and a moved part takes no rim of background along;
    - inpaint the person out of the first photo to get the background (OpenCV Telea at a reduced size, pasted
      back only inside the hole).
render (every drag)
    - fit each part's affine from the target pose to the source pose (engine.encode.part_warps, with the
      mirror-limb fallback), choose per part the reference whose part looks most like the target's (multi-shot),
    - warp only each layer's bounding box and composite back to front: legs, torso, head, arms (what a hand
      holds just behind its forearm, turned and moved with the wrist but never stretched).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..detect import pose_mask
from ..encode import (MIN_BODY_SCALE, MIRROR_PART, NUM_PARTS, PART_LIMBS, PART_NAMES, body_scale, part_warps,
                      torso_polygon)
from ..hair import hair_to_head
from ..held import held_objects
from ..parsing import (ARM_LABELS, LEG_LABELS, PERSON_MOVES, TORSO_LABEL, arms_take_thin_torso, coarse_parsing,
                       grow_labels, hand_regions, head_axis, merge_islands, torso_strays, unsure_hands)
from ..part_colours import arms_by_colour, arms_take_their_sleeves
from ..pose import J, Pose
from .contract import Backend, SourceState
from .warp_hands import behind_hands, closed
from .warp_layers import (ALL_PARTS, STILL_PX, Layer, beyond_similarity, held_layer, inpainted_under, is_still,
                          label_lut, max_at, part_layer, spread_colours, warp_layer)

# Back to front. Arms are drawn over the torso (they usually are in front of it in a photo); legs under it.
DEPTH_ORDER = ("r_thigh", "l_thigh", "r_shin", "l_shin", "torso", "head",
               "r_upper_arm", "l_upper_arm", "r_lower_arm", "l_lower_arm")
INPAINT_MAX_SIDE = 512
# A part that moved less than REPAINT_STILL pixels keeps the photo's pixels in a network's render; from there
# the network's share grows to all of it at a move of REPAINT_MOVE of the body's size (a gradual handover: a
# one-pixel nudge must not swap a sharp arm for a network's blurred one).
REPAINT_STILL = 0.5
REPAINT_MOVE = 0.2
# A torso that only shifted, turned or changed scale (a similarity) is the photo's own part, moved: a network's
# redraw of it is a blur of the same pixels. So the network's share where it lands follows how far its shape
# changed beyond the best similarity (a torso turning, a shoulder dragged), not how far it travelled; where it
# was, the network still fills what the move uncovered. A limb's transform is a similarity by construction (two
# joints), and a limb is where the warp tears at the joints: limbs keep the travelled distance. Measured on the
# dance pairs (eval_person, 24 held-out pairs, the personal models, head and torso together): SSIM / L1 / PCKh,
# spgnet 0.746 / 0.075 / 0.86 -> 0.746 / 0.074 / 0.88, attention 0.747 / 0.077 / 0.88 -> 0.746 / 0.077 / 0.91,
# dgan 0.743 / 0.077 / 0.85 -> 0.743 / 0.076 / 0.88; by eye the braces and the ball come back.
RIGID_PARTS = ("torso",)
# The head is the photo's own wherever it lands, whatever its change of shape: a face is ~10x8 pixels of a 128x64
# crop, and every network drew a turned or tilted head as a soft pink blob with no features, where the photo's
# head moved by the warp is a face (dance pairs, personal spgnet: SSIM / L1 / PCKh 0.750 / 0.071 / 0.89 with the
# network's share by the head's change of shape, 0.748 / 0.071 / 0.89 with the photo's head; docs/backends/warp.md).
PHOTO_PARTS = ("head",)
# A part the photo's edge cuts (its own pixels reach the edge) goes on past it by this much of the torso size,
# its end rounded (warp_layers.part_layer): about as far as a shoulder raised a fifth of the torso size
# moves the far end of a half-body photo's torso, or a head turned 25 degrees its crown
BEYOND_EDGE = 0.2
NETWORK, PHOTO, HELD = 0, 1, 2  # whose a placed layer's pixels are in a network's render: the network's to
# repaint where it moved, the photo's (``photo_parts``), or the photo's held thing, which no repaint covers
HELD_SCALE = 1.5  # a held thing is drawn at most this much larger or smaller than in the photo (_held_scale)
NECK_TUCK = 0.12  # of the torso size: how far the torso reaches under the head
ACROSS_TORSO = 0.12  # of the torso size: an arm across the torso this wide or less is closed over by it
ARM_EDGE = 0.04  # of the torso size: how far an arm's soft edge reaches past its part
ALONG_LEG = 0.2  # of the torso size: a leg closes round an arm in front of it this wide or less (twice this)
NECK_HALF_WIDTH = 0.08  # of the torso size: and how wide (a neck, not the hair or the collar beside it)
# The parts a limb meets at its joints, whose pixels its joint discs may take: the torso at the hips, not at the
# shoulders (an arm turns far about its shoulder, and a disc of shirt round the joint swung out under a raised arm
# as a round blob of sleeve).
_CHAIN_NEIGHBOURS = {
    "r_upper_arm": ("r_lower_arm",), "r_lower_arm": ("r_upper_arm",),
    "l_upper_arm": ("l_lower_arm",), "l_lower_arm": ("l_upper_arm",),
    "r_thigh": ("torso", "r_shin"), "r_shin": ("r_thigh",),
    "l_thigh": ("torso", "l_shin"), "l_shin": ("l_thigh",),
}
_CHAIN_NEIGHBOURS = {k: tuple(PART_NAMES.index(n) for n in v) for k, v in _CHAIN_NEIGHBOURS.items()}


def _inpaint_background(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` (uint8 0/1) from its surroundings. Inpainting runs at <= 512 px for speed."""
    h, w = hole.shape
    if not hole.any():
        return image.copy()
    s = min(1.0, INPAINT_MAX_SIDE / max(h, w))
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else image
    small_hole = cv2.resize(hole, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) if s < 1 else hole
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, max(3, int(6 * s + 0.5)), cv2.INPAINT_TELEA)
    if s < 1:
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    m = hole.astype(bool)
    out[m] = filled[m]
    return out


def _hole_radius(pose: Pose) -> int:
    """How far the background's hole reaches past the person mask (segmentation misses hands, hair fringes)."""
    ts = body_scale(pose)
    return max(1, int(round(ts / 12)))


def _part_labels(pose: Pose, mask: np.ndarray, box=(slice(None), slice(None))) -> np.ndarray:
    """1 + the part of each pixel of ``mask`` (0 outside) inside ``box``: the nearest bone, stray islands
    merged, the torso's thin pieces along an arm given to it. The layers and the hole both use it, so that a
    moved part uncovers exactly the pixels its layer carries."""
    origin = (box[0].start or 0, box[1].start or 0)
    labels = torso_strays(merge_islands(coarse_parsing(pose, mask)[box]), pose, origin)
    return arms_take_thin_torso(labels, pose, 2 * _hole_radius(pose), origin)


def _core_labels(image: np.ndarray, pose: Pose, mask: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
    """The part labels of the person's own pixels (the layers carry them); ``held`` (engine.held) gives what a
    hand holds to its forearm."""
    person = (mask >= 0.5) & ~unsure_hands(pose, mask)
    labels = arms_by_colour(_part_labels(pose, person.astype(np.float32)), image, pose)
    labels = hair_to_head(arms_take_their_sleeves(labels, image, pose), image, pose)
    return labels if held is None else np.where((held > 0) & (labels > 0), held, labels).astype(labels.dtype)


def _near_neck(pose: Pose, origin_xy, shape, half_width: float) -> np.ndarray:
    """(h, w) bool over a box at ``origin_xy``: within ``half_width`` of the line from the neck to the face
    (everywhere when the pose has neither)."""
    axis = head_axis(pose)
    if axis is None:
        return np.ones(shape, bool)
    neck, centre = axis
    u = (centre - neck) / max(float(np.hypot(*(centre - neck))), 1e-6)
    xs = np.arange(shape[1], dtype=np.float32)[None, :] + (origin_xy[0] - neck[0])
    ys = np.arange(shape[0], dtype=np.float32)[:, None] + (origin_xy[1] - neck[1])
    return np.abs(xs * u[1] - ys * u[0]) <= half_width


def _body_goes_on(pose: Pose) -> tuple:
    """(top, bottom, left, right): the photo's edges the torso's body goes on past, from the shoulders towards the
    hips (torso_polygon's, unseen hips included): a half-body photo's bottom edge. A torso the side edge cuts
    keeps a rounded end there (its cut column repeated out to the edge was a flat slab)."""
    poly = torso_polygon(pose)
    if poly is None:
        return (False,) * 4
    down = (poly[2] + poly[3] - poly[0] - poly[1]) / 2
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    return tuple(bool(down @ n > 0.7) for n in ((0, -1), (0, 1), (-1, 0), (1, 0)))


def _layers_for(image: np.ndarray, pose: Pose, core_labels: np.ndarray,
                held: np.ndarray | None = None) -> list[Layer | None]:
    """Part layers of one reference (None where the part is absent), from its _core_labels; what a hand holds
    (``held``, engine.held) is its forearm layer's ``held`` layer, not the forearm's own pixels."""
    ts = body_scale(pose)
    joint_r = max(2, int(round(ts / 6)))
    feather = max(1, int(round(ts / 40))) * 2 + 1
    # The ring: the layers carry the photo's pixels up to where the background's hole ends (plus the feather),
    # so an unmoved part covers the inpainted band exactly; a moved part takes a thin rim of its surroundings.
    ring_px = _hole_radius(pose) + feather // 2
    neck_px = int(round(NECK_TUCK * ts))
    # The tuck: where two parts meet, the one drawn behind reaches under the one in front by the feather's
    # reach, so the front layer's soft edge blends with the same pixels, not with the background.
    tuck = feather // 2 + 1
    # Work in the person's box, padded by everything that reaches past the mask (ring, tuck, blur): the same
    # layers as over the whole photo, since the pad is all zeros, but a person in a 1920x1080 video frame
    # costs a fraction of the time when the photo is opened.
    rows, cols = np.nonzero(np.any(core_labels, axis=1))[0], np.nonzero(np.any(core_labels, axis=0))[0]
    if not len(rows):
        return [None] * len(PART_NAMES)
    pad = ring_px + tuck + 2 * feather + 2
    photo_h, photo_w = image.shape[:2]
    by0, bx0 = max(0, rows[0] - pad), max(0, cols[0] - pad)
    by1, bx1 = min(image.shape[0], rows[-1] + 1 + pad), min(image.shape[1], cols[-1] + 1 + pad)
    core_labels = core_labels[by0:by1, bx0:bx1]
    held = None if held is None else held[by0:by1, bx0:bx1]
    image = image[by0:by1, bx0:bx1]
    ring_labels = grow_labels(core_labels, ring_px)
    under_hands = behind_hands(pose, core_labels, (by0, bx0), tuck)
    hands = np.zeros(core_labels.shape, bool)  # a hand's place is what it rests on (behind_hands), not a leg's closing
    for _, _, hbox, inside in hand_regions(pose, core_labels.shape, (by0, bx0)):
        hands[hbox] |= inside
    depth = {PART_NAMES.index(p): i for i, p in enumerate(DEPTH_ORDER)}
    img = image.astype(np.float32)
    layers: list[Layer | None] = []
    for k, part in enumerate(PART_NAMES):
        if part in PART_LIMBS:
            a, b = PART_LIMBS[part]
            if not (pose.present[a] and pose.present[b]):
                layers.append(None)
                continue
        front = label_lut([j + 1 for j in range(NUM_PARTS) if depth[j] > depth[k]])[core_labels]
        core = (core_labels == k + 1).astype(np.uint8)
        if part in PART_LIMBS:
            # the disc around each joint may only take pixels of the same limb chain (the neighbouring bone),
            # never clothing of another part that happens to touch the joint
            chain = label_lut([k + 1] + [n + 1 for n in _CHAIN_NEIGHBOURS[part]])[core_labels]
            discs = np.zeros_like(core)
            for j in (a, b):
                cv2.circle(discs, tuple(int(v) for v in np.round(pose.xy[j] - (bx0, by0))), joint_r, 1, -1)
            # nor what a hand holds (its own layer): an elbow's disc on a ball took a piece of it up the arm
            core |= discs & chain & (held == 0 if held is not None else 1)
        # what the hand holds is its own layer (Layer.held), not the forearm's pixels (engine.held gives a
        # forearm's label only); the hand holding it goes with it: the thing's part the segmentation gave the hand
        # went in a piece of its own, stretched with the forearm, away from the rest (dance 130 -> 40)
        piece = hand = None
        thing = None if held is None else (held == k + 1) & (core_labels == k + 1)
        if thing is not None and thing.any():
            hand = np.zeros(core.shape, bool)
            for el, wr, hbox, inside in hand_regions(pose, core.shape, (by0, bx0)):
                if (el, wr) == (a, b):
                    hand[hbox] = inside
            hand &= (core_labels == k + 1) & ~thing
            piece = thing | hand
            core &= ~piece
            piece, hand = piece.astype(np.uint8), hand.astype(np.uint8)
        if not core.any() and piece is None:
            layers.append(None)
            continue
        # the rest in the part's own box, padded past the tuck and the blur (so the same result as in the
        # person's box: a large tuck kernel over a 4096x4096 photo took seconds per part)
        ring = (ring_labels == k + 1).astype(np.uint8)
        reach = core | ring | under_hands[k + 1] if k + 1 in under_hands else core | ring
        rows, cols = np.nonzero(np.any(reach, axis=1))[0], np.nonzero(np.any(reach, axis=0))[0]
        ppad = tuck + feather + 2 + (neck_px if part == "torso" else 0)
        py0, px0 = max(0, rows[0] - ppad), max(0, cols[0] - ppad)
        py1, px1 = min(core.shape[0], rows[-1] + 1 + ppad), min(core.shape[1], cols[-1] + 1 + ppad)
        core, ring, front = core[py0:py1, px0:px1], ring[py0:py1, px0:px1], front[py0:py1, px0:px1]
        piece = None if piece is None else piece[py0:py1, px0:px1]
        hand = None if hand is None else hand[py0:py1, px0:px1]
        own = core.copy()
        # grown by the tuck as a distance (linear in the pixels; a disc kernel of a 4096-px photo's tuck is not)
        core |= (cv2.distanceTransform(1 - core, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= tuck) & (front > 0)
        if k + 1 in under_hands:  # and under a hand that rests on it
            core |= under_hands[k + 1][py0:py1, px0:px1]
        if part == "torso":
            # The torso reaches under what is in front of it, where a move uncovers the torso, not the background:
            # the neck (a turned head left a white wedge between chin and collar) and what the torso closes
            # round, an arm held across the chest (a white band where the forearm had been). Drawn in the
            # torso's own colours where that part moves (Layer.photo). Not all of its outline between shoulders
            # and hips: an arm hanging at the side is half inside it, and its place became a smear of the torso.
            origin_xy = (px0 + bx0, py0 + by0)
            head = (core_labels[py0:py1, px0:px1] == PART_NAMES.index("head") + 1).astype(np.uint8)
            if neck_px > 0:
                core |= (cv2.distanceTransform(1 - own, cv2.DIST_L2, 3) <= neck_px) & (head > 0) & \
                    _near_neck(pose, origin_xy, head.shape, NECK_HALF_WIDTH * ts)
            core |= closed(own, ACROSS_TORSO * ts) & (front > 0) & (head == 0)
        arm_over = None
        if k + 1 in LEG_LABELS:
            # a leg goes on under an arm hanging in front of it, where its outline closes round the arm: a
            # forearm along the thigh, raised, left a strip of wall on the trousers (dance frame 132)
            arm_over = closed(own, ALONG_LEG * ts) & np.isin(core_labels[py0:py1, px0:px1], ARM_LABELS) & \
                (own == 0) & ~hands[py0:py1, px0:px1]
            core |= arm_over
        ringed = core | ring
        alpha, outer = (cv2.GaussianBlur(m.astype(np.float32), (feather, feather), 0) if feather > 1
                        else m.astype(np.float32) for m in (core, ringed))
        ys, xs = np.nonzero(outer > 1e-3)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        a_core = alpha[y0:y1, x0:x1]
        rgb = img[py0 + y0:py0 + y1, px0 + x0:px0 + x1]
        # the part's own pixels, not those it reaches under (another part's, that show where that part moves)
        hard = (own if piece is None else own | piece)[y0:y1, x0:x1].astype(np.float32)
        fill, den = spread_colours(rgb, hard, 2 * feather + 1)
        need = (den[..., 0] < 0.05) & (outer[y0:y1, x0:x1] > 1e-3)  # wherever the layer can show
        if part == "torso" and need.any():  # the neck is deeper than the feather: the torso's colours from further
            nr, nc = np.nonzero(need.any(axis=1))[0], np.nonzero(need.any(axis=0))[0]
            reach = 2 * neck_px + 1
            crop = (slice(max(0, nr[0] - reach), nr[-1] + 1 + reach), slice(max(0, nc[0] - reach), nc[-1] + 1 + reach))
            wide, wide_den = spread_colours(rgb[crop], hard[crop], 2 * neck_px + 1)
            fill[crop] = np.where(need[crop][..., None], wide, fill[crop])
            den[crop] = np.where(need[crop][..., None], wide_den, den[crop])
        lost = (den[..., 0] < 1e-3) & (outer[y0:y1, x0:x1] > 1e-3)
        if lost.any() and hard.any():  # beyond any spread (the blur's weight is nothing there: black): the nearest
            _, idx = cv2.distanceTransformWithLabels((hard == 0).astype(np.uint8), cv2.DIST_L2, 3,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
            colour = np.zeros((int(idx.max()) + 1, 3), np.float32)
            colour[idx[hard > 0]] = rgb[hard > 0]
            fill[lost] = colour[idx[lost]]
        fill = np.where(hard[..., None] > 0, rgb, fill)
        if k + 1 in under_hands:  # what a hand rests on goes on under it, drawn from its pixels round the hand
            # and its soft edge past it (the colours spread from the part's own pixels do not reach there: black)
            beneath = under_hands[k + 1][py0:py1, px0:px1][y0:y1, x0:x1].astype(np.uint8)
            beneath = (cv2.distanceTransform(1 - beneath, cv2.DIST_L2, 3) <= feather) & (hard == 0)
            fill = inpainted_under(rgb, hard > 0, beneath, fill)
        if arm_over is not None and arm_over.any():
            # from the leg's pixels clear of the arm's soft edge (a blurred sleeve's was a dark band)
            over = arm_over[y0:y1, x0:x1] & (hard == 0)
            clear = cv2.distanceTransform((~over).astype(np.uint8), cv2.DIST_L2, 3) > ARM_EDGE * ts
            fill = inpainted_under(rgb, (hard > 0) & clear, over, fill)
        # what it reaches under: its tuck, and every pixel of a part in front that its soft edge or ring covers,
        # drawn in its own colours once that part moves (the photo's pixels there are the moved part's: a raised
        # hand would leave its outline at the hip)
        reached = (core > own) | ((front > 0) & (own == 0) & (outer > 1e-3))
        tucked = np.where(reached, core_labels[py0:py1, px0:px1], 0)[y0:y1, x0:x1].astype(np.uint8)
        X0, Y0 = int(x0 + px0 + bx0), int(y0 + py0 + by0)
        # the part goes on past the photo's edges its pixels reach; a limb only when its far joint is not in the
        # photo (a whole shoe whose sole touches the bottom edge grew a stub when the foot lifted)
        cut = (Y0 == 0 and a_core[0].max() > 0.5, Y0 + a_core.shape[0] == photo_h and a_core[-1].max() > 0.5,
               X0 == 0 and a_core[:, 0].max() > 0.5, X0 + a_core.shape[1] == photo_w and a_core[:, -1].max() > 0.5)
        cut = tuple(c and (part not in PART_LIMBS or not pose.present[PART_LIMBS[part][1]]) for c in cut)
        ring = np.maximum(outer[y0:y1, x0:x1] - a_core, 0)
        a_held = None
        if piece is not None:
            # drawn behind the forearm, it reaches under the hand by the tuck: where the two meet, the hand's
            # soft edge blends with the thing held, not with the background
            def tucked_alpha(m):
                m = m | (cv2.distanceTransform(1 - m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= tuck) & (own > 0)
                return (cv2.GaussianBlur(m.astype(np.float32), (feather, feather), 0) if feather > 1
                        else m.astype(np.float32))[y0:y1, x0:x1]
            a_held, a_hand = tucked_alpha(piece), tucked_alpha(hand)
            # the ring over it is the held layer's, whose alpha it fills up to one: a still forearm and its ball
            # give the photo back, and a forearm moved a little draws no second, fading ball over the first
            under = a_held > 1e-3
            ring, held_ring = np.where(under, 0, ring), np.where(under, ring * (1 - a_held), 0)
        layer = part_layer(rgb, fill, a_core, ring, X0, Y0, float(ring_px), tucked,
                           tuple(int(round(BEYOND_EDGE * ts)) * c for c in cut),
                           _body_goes_on(pose) if part == "torso" else (False,) * 4)
        if a_held is not None:
            layer.held = held_layer(layer, a_held, held_ring)
            layer.hand = held_layer(layer, a_hand) if hand.any() else None
        layers.append(layer)
    return layers


def _held_transform(src: Pose, src_part: str, tgt: Pose, part: str) -> np.ndarray:
    """The target -> source transform of what a forearm's hand holds: turned with the forearm, scaled with the
    body, about the wrist. Across the bone at the wrist it is the forearm's own transform (engine.encode's limb
    rectangles are as wide as the body's scale says), so the sleeve meets the hand where it did; along the bone
    the forearm stretches with its length in the photo, which a ball does not have."""
    (e_s, w_s), (e_t, w_t) = PART_LIMBS[src_part], PART_LIMBS[part]
    d_s, d_t = src.xy[w_s] - src.xy[e_s], tgt.xy[w_t] - tgt.xy[e_t]
    turn = 0.0
    if np.hypot(*d_s) > 1e-6 and np.hypot(*d_t) > 1e-6:
        turn = float(np.arctan2(d_s[1], d_s[0]) - np.arctan2(d_t[1], d_t[0]))
    c, s = np.cos(turn), np.sin(turn)
    R = _held_scale(src, tgt) * np.array([[c, -s], [s, c]])
    t = src.xy[w_s].astype(np.float64) - R @ tgt.xy[w_t].astype(np.float64)
    return np.concatenate([R, t[:, None]], axis=1)


def _held_scale(src: Pose, tgt: Pose) -> float:
    """How much larger a held thing is drawn in the target: the body's scale, within HELD_SCALE either way (a
    half-body pose's scale is its shoulders', which a turn of the body narrows; the thing held does not shrink
    with them, and a shoulder dragged onto the other made it zero)."""
    s, t = body_scale(src), body_scale(tgt)
    return 1.0 if min(s, t) <= MIN_BODY_SCALE else float(np.clip(s / t, 1 / HELD_SCALE, HELD_SCALE))


def _part_shape_cost(src: Pose, tgt: Pose, part: str) -> float:
    """How unlike the target's part the source's part looks, ignoring position, rotation and overall scale.

    Limbs: foreshortening (length relative to the torso) tells how far the limb turns out of the image plane.
    Torso: shoulder width relative to torso height, and which shoulder is on which side (facing direction).
    Head: which face joints are visible and where the nose sits between the ears.
    """
    ts_s, ts_t = body_scale(src), body_scale(tgt)
    if part in PART_LIMBS:
        a, b = PART_LIMBS[part]
        if not (src.present[a] and src.present[b]):
            return 5.0  # borrowed from the mirror limb: usable, but worse than a real view
        ls = np.linalg.norm(src.xy[b] - src.xy[a]) / ts_s
        lt = np.linalg.norm(tgt.xy[b] - tgt.xy[a]) / ts_t
        return float(abs(np.log((ls + 1e-3) / (lt + 1e-3))))

    def torso_desc(p: Pose, ts):
        d = p.point("l_shoulder") - p.point("r_shoulder")
        return np.array([d[0] / ts, d[1] / ts])

    if part == "torso":
        return float(np.linalg.norm(torso_desc(src, ts_s) - torso_desc(tgt, ts_t)))
    face = [J[n] for n in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")]
    cost = float(np.sum(src.present[face] != tgt.present[face]))
    return cost + float(np.linalg.norm(torso_desc(src, ts_s) - torso_desc(tgt, ts_t)))


def _still(state: SourceState, chosen) -> bool:
    """A part drawn from the first photo that stays where the photo has it (warp_layers.is_still)."""
    if chosen is None or chosen[0] != 0:
        return False
    layer = state.cache["layers"][0][chosen[1]]
    return layer is not None and is_still(layer, chosen[2])


def _moves(state: SourceState, target: Pose, k: int, chosen) -> bool:
    """Whether part ``k`` moves (or is not drawn): what it leaves is uncovered. A limb the first photo has no
    pixels of (all of them what its hand holds) stays while the target keeps its joints where the photo has them:
    its bone's band was inpainted in the unchanged pose."""
    if _still(state, chosen):
        return False
    part = PART_NAMES[k]
    if state.cache["layers"][0][k] is None and part in PART_LIMBS:
        src, joints = state.poses[0], list(PART_LIMBS[part])
        if src.present[joints].all() and target.present[joints].all() and \
                np.allclose(src.xy[joints], target.xy[joints], atol=STILL_PX):
            return False
    return True


def _head_bend(state: SourceState, chosen, target: Pose):
    """(the torso's transform, the target's neck, its face centre) for a head drawn from the same reference as
    the torso, where both poses have the neck and a face joint and the head moves; else None (it turns whole)."""
    head, torso = chosen[PART_NAMES.index("head")], chosen[PART_NAMES.index("torso")]
    if head is None or torso is None or head[0] != torso[0] or _still(state, head):
        return None  # a head that stays is the photo's, whatever the torso does (bent, it would carry its ring)
    axis = head_axis(target, state.poses[head[0]])
    return None if axis is None else (torso[2], *axis)


class WarpBackend(Backend):
    name = "warp"
    title = "Warp (instant)"
    summary = ("Moves the photo's own body parts with per-part affine transforms. No training needed; "
               "fast enough to follow every drag. Uses every reference: each part from the best-matching one.")
    needs_weights = False
    multi_shot = True

    def encode_sources(self, images, poses, masks=None, *, held=None) -> SourceState:
        """``held``: each reference's ``engine.held.held_objects`` where the caller has them (a person mask drawn
        as an image, training/selfpairs.py, must move with its photo's held things, which it cannot show)."""
        masks = self.check_sources(images, poses, masks)
        # what a hand holds joins the person, and the hand's part, where the segmentation saw only part of it
        if held is None:
            held = [held_objects(img, p, m) if m is not None else None for img, m, p in zip(images, masks, poses)]
        masks = [np.maximum(m, h > 0) if m is not None else pose_mask(p) for m, h, p in zip(masks, held, poses)]
        state = SourceState(list(images), list(poses), masks)
        cores = [_core_labels(img, p, m, h) for img, p, m, h in zip(images, poses, masks, held)]
        state.cache["layers"] = [_layers_for(img, p, c, h) for img, p, c, h in zip(images, poses, cores, held)]
        # the hole to fill: the segmentation, plus the skeleton's own limbs, which segmentation sometimes misses
        # at hands and feet (a hand left behind at the hip after the arm moved is the worst artefact)
        first_hole = ((masks[0] >= PERSON_MOVES) | (pose_mask(poses[0]) > 0)) & ~unsure_hands(poses[0], masks[0])
        first_hole = first_hole.astype(np.uint8)
        # grown by a disc of the hole radius: a distance transform, linear in the pixels (a dilation with a
        # disc kernel took 12 s on a 4096x4096 photo where the person fills the frame)
        outside = cv2.distanceTransform(1 - first_hole, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        first_hole = (outside <= max(1, _hole_radius(poses[0])) + 0.5).astype(np.uint8)
        state.cache["background"] = _inpaint_background(images[0], first_hole).astype(np.float32)
        # every pixel of the hole belongs to one part: a part that moves uncovers its own pixels and only those,
        # so what did not move stays the photo, edges, fringes and all. The person's pixels are the part whose
        # layer carries them; the band round them that the nearest bone gives the torso, the part of the nearest
        # person pixel (as the layers' rings); the rest (what the mask missed and the skeleton reaches, a hand)
        # the nearest bone's. By the bones alone a sleeve's edge past its arm's reach, and the band round it,
        # were the torso's in the hole while the arm's layer carried them: a dark line where a raised arm hung.
        rows, cols = np.nonzero(first_hole.any(axis=1))[0], np.nonzero(first_hole.any(axis=0))[0]
        if len(rows):
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            box = (slice(y0, y1), slice(x0, x1))
            core = cores[0][box]
            bones = _part_labels(poses[0], first_hole.astype(np.float32), box)
            grown = grow_labels(core, 2 * _hole_radius(poses[0]) + 2)
            band = (bones == TORSO_LABEL) & (grown > 0) & (masks[0][box] < 0.5)
            labels = np.where(core > 0, core, np.where(band, grown, bones)).astype(np.uint8)
            if held[0] is not None and held[0][box].any():
                # a held thing's soft edge that the mask left out goes with it: a ball blurred by its bounce left
                # an orange crescent where it had been (the nearest bone there was a leg's, which stayed)
                rim = grow_labels(held[0][box], 2 * _hole_radius(poses[0]) + 2)
                labels = np.where((rim > 0) & (core == 0) & (masks[0][box] < 0.5), rim, labels).astype(np.uint8)
            state.cache["hole_labels"] = (labels, y0, x0)
        state.cache["photo"] = images[0].astype(np.float32)
        return state

    def choose_sources(self, state: SourceState, target: Pose) -> list[tuple[int, int, np.ndarray] | None]:
        """Per part: (reference index, layer part index, target->source affine), or None when not drawn."""
        # masks unused: a 1x1 size is enough; only the first photo is in the target's own pixels
        warps = [part_warps(p, target, (1, 1), same_frame=i == 0) for i, p in enumerate(state.poses)]
        chosen = []
        for k, part in enumerate(PART_NAMES):
            best = None
            for i, (pw, layers, src) in enumerate(zip(warps, state.cache["layers"], state.poses)):
                if not pw.valid[k]:
                    continue
                layer_k = PART_NAMES.index(MIRROR_PART[part]) if pw.borrowed[k] else k
                if layers[layer_k] is None:
                    continue
                cost = _part_shape_cost(src, target, part) + (0.5 if pw.borrowed[k] else 0.0) + 1e-3 * i
                if best is None or cost < best[0]:
                    best = (cost, i, layer_k, pw.affines[k])
            chosen.append(None if best is None else best[1:])
        return chosen

    def _uncovered(self, state: SourceState, moving: np.ndarray) -> np.ndarray:
        """The photo with the parts that move (or are not drawn; ``moving``, a label lookup table) taken out:
        their pixels of the hole replaced by the inpainted background. Parts that stay put keep every pixel."""
        out = state.cache["photo"].copy()
        if "hole_labels" not in state.cache or not moving.any():
            return out
        labels, y0, x0 = state.cache["hole_labels"]
        gone = moving[labels].astype(bool)
        box = (slice(y0, y0 + labels.shape[0]), slice(x0, x0 + labels.shape[1]))
        out[box][gone] = state.cache["background"][box][gone]
        return out

    def render(self, state: SourceState, target: Pose) -> np.ndarray:
        return self.render_with_silhouette(state, target, silhouette=False)[0]

    def render_with_silhouette(self, state: SourceState, target: Pose, silhouette: bool = True, *,
                               photo_parts: tuple[str, ...] = PHOTO_PARTS, vacated: bool = True):
        """(RGB uint8 image, (H, W) float32 repaint mask, (H, W) float32 inpainted share, (H, W) float32 kept
        share), the last three None without ``silhouette``. The repaint mask is what a network should repaint: each
        moved part where it lands, and where it was less what the layers drawn now cover there, weighted from 0
        (still) to 1 (moved by REPAINT_MOVE of the body's size or more; a torso where it lands by how far its shape
        changed, RIGID_PARTS; one of ``photo_parts``, the head unless a caller names more, or what a hand holds,
        nowhere it lands, nor where it was); a part the target drops, where it was. The pixels a still part shows
        are not in it, even where the moved part's layer took them (its joint discs reach into the torso): the
        unchanged pose gives the photo back, and an unmoved torso beside a raised arm stays the photo's. The
        inpainted share is how much of each pixel is the inpainted background (a guess, with seams at its edge): no
        detail is taken from it. The kept share is how much of each pixel shows a ``photo_parts`` or held layer
        (nothing drawn over it): the network's share, grown past what moved, must not reach into it, and the repaint
        mask is nothing there. Without ``vacated`` the repaint mask holds no place a part left: what a move uncovers
        is the warp engine's inpainted background; with it, none a photo part left."""
        h, w = state.size
        if (target.height, target.width) != (h, w):
            raise ValueError(f"target pose is for {target.width}x{target.height}, the photo is {w}x{h}")
        full_move = max(1.0, REPAINT_MOVE * body_scale(target))
        chosen = self.choose_sources(state, target)
        # the parts that move (or are not drawn); another reference's layers are never still
        moving = label_lut([k + 1 for k, c in enumerate(chosen) if _moves(state, target, k, c)])
        out = self._uncovered(state, moving)
        placed = []
        # what a hand holds comes from one reference, the lowest-numbered of the chosen forearms' that hold
        # something (two photos holding the ball in different hands gave the target two balls); the other hand is
        # drawn without it
        forearms = [PART_NAMES.index(f) for f in ("r_lower_arm", "l_lower_arm")]
        holding = [chosen[k][0] for k in forearms if chosen[k] is not None and chosen[k][1] == k
                   and state.cache["layers"][chosen[k][0]][k].held is not None]
        repaint = inpainted = kept = None
        if silhouette:
            repaint = np.zeros((h, w), np.float32)
            inpainted = np.zeros((h, w), np.float32)
            kept = np.zeros((h, w), np.float32)
            if "hole_labels" in state.cache:
                labels, y0, x0 = state.cache["hole_labels"]
                inpainted[y0:y0 + labels.shape[0], x0:x0 + labels.shape[1]] = moving[labels]
        for part in DEPTH_ORDER:
            k = PART_NAMES.index(part)
            c = chosen[k]
            own = state.cache["layers"][0][k]  # the part where the photo has it
            if c is None:  # dropped by the target (a hidden joint): the network repaints where it was
                if silhouette and vacated and own is not None:
                    max_at(repaint, own.alpha, own.x0, own.y0)
                continue
            i, layer_k, A = c
            layer = state.cache["layers"][i][layer_k]
            # what the hand holds, with the hand: behind its forearm, moved rigidly about the wrist, and the photo's
            # own in a network's render, as the head is (a personal model erased the ball from the hand holding it
            # and drew an orange blur where its video's dribble had the ball most); a forearm borrowed from the
            # other side, or one whose ball another reference gives, brings its hand alone (two balls)
            sub = layer.held if layer_k == k and i == min(holding, default=i) else layer.hand
            if sub is not None:
                held = warp_layer(sub, _held_transform(state.poses[i], PART_NAMES[layer_k], target, part), w, h)
                if held is not None:
                    placed.append((held, 0.0, HELD))
            res = warp_layer(layer, A, w, h, _head_bend(state, chosen, target) if part == "head" else None,
                             moving if i == 0 else ALL_PARTS)
            if res is None:
                continue
            weight = float(np.clip((res[5] - REPAINT_STILL) / full_move, 0.0, 1.0))
            lands = weight
            if part in photo_parts:
                lands = 0.0
            elif part in RIGID_PARTS:
                change = beyond_similarity(state.cache["layers"][i][layer_k], A)
                lands = float(np.clip((change - REPAINT_STILL) / full_move, 0.0, 1.0))
            placed.append((res, lands, PHOTO if part in photo_parts else NETWORK))
            # where a photo part was is the warp render's too: a network repainting a turned head's old place
            # drew a second, blurred head there (a personal model's, dance frame 141 turned 20 degrees)
            if silhouette and vacated and weight > 0 and own is not None and not _still(state, c) \
                    and part not in photo_parts:
                max_at(repaint, weight * own.alpha, own.x0, own.y0)
        held_shown = np.zeros((h, w), np.float32) if silhouette and any(p[2] == HELD for p in placed) else None
        for (rgb, alpha, x0, y0, core, moved), _, whose in placed:
            box = (slice(y0, y0 + alpha.shape[0]), slice(x0, x0 + alpha.shape[1]))
            out[box] *= (1.0 - alpha)[..., None]
            out[box] += rgb
            if silhouette:  # what a layer drawn here covers of where a part was needs no repainting
                inpainted[box] *= 1.0 - alpha
                repaint[box] *= 1.0 - alpha
                kept[box] *= 1.0 - alpha
                if whose != NETWORK:
                    kept[box] += alpha
                if held_shown is not None:
                    held_shown[box] *= 1.0 - alpha
                    if whose == HELD:
                        held_shown[box] += alpha
        if silhouette:  # each moved part where it lands, its own pixels only (no ring of surroundings)
            for (rgb, alpha, x0, y0, core, moved), weight, _ in placed:
                if weight > 0:
                    max_at(repaint, weight * core, x0, y0)
            if held_shown is not None:  # nor where a held thing shows (a moved thigh's took a ball held over it);
                repaint *= 1.0 - held_shown  # a head's soft edge is left as it was measured (docs/backends/warp.md)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8), repaint, inpainted, kept


assert len(DEPTH_ORDER) == NUM_PARTS
