"""The warp backend's part layers of a reference photo, built when the photos are opened: each pixel's part
(part_labels: the nearest bone's, refined by engine.parsing and engine.part_colours; own_labels: the person's own
pixels) and each part's layer (layers_for): its pixels, its own colours spread past its edge, what it reaches
under of the parts in front, a disc round a limb's joints, the ring of surroundings it carries while it stays put.
engine.backends.warp moves and composites them (warp_layers.Layer, warp_layer).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..encode import NUM_PARTS, PART_LIMBS, PART_NAMES, body_scale, torso_polygon
from ..hair import hair_to_head
from ..parsing import (ARM_LABELS, LEG_LABELS, arms_take_thin_torso, coarse_parsing, grow_labels, hand_regions,
                       head_axis, merge_islands, polygon_in_box, torso_strays, unsure_hands)
from ..part_colours import colour_rules
from ..pose import Pose, faces_away
from .warp_hands import behind_hands, closed
from .warp_fill import inpainted_under
from .warp_layers import Layer, held_layer, label_lut, part_layer, spread_colours

# Back to front. Arms are drawn over the torso (they usually are in front of it in a photo); legs under it.
DEPTH_ORDER = ("r_thigh", "l_thigh", "r_shin", "l_shin", "torso", "head",
               "r_upper_arm", "l_upper_arm", "r_lower_arm", "l_lower_arm")
# A part the photo's edge cuts (its own pixels reach the edge) goes on past it by this much of the torso size,
# its end rounded (warp_layers.part_layer): about as far as a shoulder raised a fifth of the torso size
# moves the far end of a half-body photo's torso, or a head turned 25 degrees its crown
BEYOND_EDGE = 0.2
EDGE_JOINT = 0.05  # of the torso size: a limb's far joint this near the photo's edge is on it (_far_joint_in)
NECK_TUCK = 0.12  # of the torso size: how far the torso reaches under the head
GOES_ON = 18.0  # CIELAB units: the torso goes on under the head where their colours, averaged, are this near
NECK_HALF_WIDTH = 0.08  # of the torso size: and how wide (a neck, not the hair or the collar beside it)
ACROSS_TORSO = 0.12  # of the torso size: an arm across the torso this wide or less is closed over by it
# of the torso size: a leg goes on under an arm in front of it where a closing of this radius joins the leg round
# it (an arm up to twice this wide)
ALONG_LEG = 0.2
# of the torso size: how far a photo's blurred sleeve edge reaches past the arm's part; the leg's colours under the
# arm are inpainted from its pixels farther than this from it (the feather, ts / 40, is the layers' own soft edge)
ARM_EDGE = 0.04
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


def _edge_goes_with(tucked: np.ndarray, edge: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """``tucked`` with the ``edge`` pixels given to the nearest part of ``parts`` (labels, 0 elsewhere): a layer's
    own pixels that are the soft edge of a hand or arm in front of it show its colours once that part moves."""
    _, idx = cv2.distanceTransformWithLabels((parts == 0).astype(np.uint8), cv2.DIST_L2, 3,
                                             labelType=cv2.DIST_LABEL_PIXEL)
    by_index = np.zeros(int(idx.max()) + 1, np.uint8)
    by_index[idx[parts > 0]] = parts[parts > 0]
    return np.where(edge, by_index[idx], tucked).astype(np.uint8)


def _far_joint_in(pose: Pose, j: int, ts: float) -> bool:
    """Whether a limb's far joint lies in the photo, more than EDGE_JOINT of the torso size inside its edges: a
    joint found on the edge (a portrait's elbow on the bottom edge) ends a limb the photo cuts there, whose cut
    end then swung up flat with the arm; a whole shoe's ankle lies well above the sole on the edge."""
    if not pose.present[j]:
        return False
    x, y = pose.xy[j]
    m = EDGE_JOINT * ts
    return m <= x <= pose.width - 1 - m and m <= y <= pose.height - 1 - m


def hole_radius(pose: Pose) -> int:
    """How far the background's hole reaches past the person mask (segmentation misses hands, hair fringes)."""
    ts = body_scale(pose)
    return max(1, int(round(ts / 12)))


def part_labels(pose: Pose, mask: np.ndarray, box=(slice(None), slice(None))) -> np.ndarray:
    """1 + the part of each pixel of ``mask`` (0 outside) inside ``box``: the nearest bone, stray islands
    merged, the torso's thin pieces along an arm given to it. The layers and the hole both use it, so that a
    moved part uncovers exactly the pixels its layer carries."""
    origin = (box[0].start or 0, box[1].start or 0)
    labels = torso_strays(merge_islands(coarse_parsing(pose, mask)[box]), pose, origin)
    return arms_take_thin_torso(labels, pose, 2 * hole_radius(pose), origin)


def own_labels(image: np.ndarray, pose: Pose, mask: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
    """The part labels of the person's own pixels (the layers carry them); ``held`` (engine.held) gives what a
    hand holds to its forearm."""
    person = (mask >= 0.5) & ~unsure_hands(pose, mask)
    labels = hair_to_head(colour_rules(part_labels(pose, person.astype(np.float32)), image, pose), image, pose)
    if held is None or not held.any():
        return labels
    labels = np.where((held > 0) & (labels > 0), held, labels).astype(labels.dtype)
    # a stray piece of another part that the held thing's forearm now touches most is the held thing's edge (a
    # bounced ball's blur the mask saw, nearer a still leg's bone): left to the leg, a speck of ball stayed on the
    # wall where the hand had been. Only pieces given to a holding forearm: other strays are other rules' to place.
    merged = merge_islands(labels)
    return np.where((merged != labels) & np.isin(merged, np.unique(held[held > 0])), merged, labels)


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


def body_goes_on(pose: Pose) -> tuple:
    """(top, bottom, left, right): the photo's edges the torso's body goes on past, from the shoulders towards the
    hips (torso_polygon's, unseen hips included): a half-body photo's bottom edge. A torso the side edge cuts
    keeps a rounded end there (its cut column repeated out to the edge was a flat slab)."""
    poly = torso_polygon(pose)
    if poly is None:
        return (False,) * 4
    down = (poly[2] + poly[3] - poly[0] - poly[1]) / 2
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    return tuple(bool(down @ n > 0.7) for n in ((0, -1), (0, 1), (-1, 0), (1, 0)))


def _joint_radius(chain: np.ndarray, centre, most: int) -> int:
    """The disc a limb's layer takes round a joint: as wide as the limb is there (the largest distance to a pixel
    not of its chain within half of ``most`` of the joint: the limb's half-width where its middle passes, for a
    detected joint lies off the middle, a hanging arm's towards the body), at most ``most``. The disc fills the
    wedge between two limb layers bent apart; wider than the limb, it carried the next bone's sleeve past the joint:
    a raised arm's bent elbow showed a stub of the forearm sticking out beyond it."""
    x, y = int(centre[0]), int(centre[1])
    h, w = chain.shape
    if not (0 <= x < w and 0 <= y < h):
        return most
    y0, y1, x0, x1 = max(0, y - most - 1), min(h, y + most + 2), max(0, x - most - 1), min(w, x + most + 2)
    inside = np.pad(chain[y0:y1, x0:x1] > 0, 1)  # outside the window counts as not the limb: at most ``most``
    d = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    near = np.zeros(d.shape, np.uint8)
    cv2.circle(near, (x - x0 + 1, y - y0 + 1), max(1, most // 2), 1, -1)
    return int(np.clip(np.ceil(d[near > 0].max()), 2, most))


def _goes_on(rgb: np.ndarray, own: np.ndarray, other: np.ndarray, near: np.ndarray, spread: int) -> np.ndarray:
    """The ``near`` pixels of part ``other`` whose colour, averaged round them, is within GOES_ON of ``own``'s
    colours spread there: where the part goes on into the other's label (long hair hanging past the head's lower
    edge onto the torso), not where it meets something else (a collar beside a jaw)."""
    mine, weight = spread_colours(rgb, own.astype(np.float32), 2 * spread + 1)
    theirs, _ = spread_colours(rgb, other.astype(np.float32), max(3, spread // 2) | 1)
    return near & _alike(mine, theirs) & (weight[..., 0] > 0.05)


def _alike(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two RGB pictures (float, 0-255) are within GOES_ON of each other in CIELAB."""
    lab = [cv2.cvtColor(np.clip(c / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab) for c in (a, b)]
    return np.linalg.norm(lab[0] - lab[1], axis=2) < GOES_ON


def _hair_shown_under_head(tucked: np.ndarray, rgb: np.ndarray, fill: np.ndarray, feather: int, pose: Pose,
                           origin_xy, ts: float) -> np.ndarray:
    """The torso's ``tucked`` labels without the pixels under the head, away from the neck, whose colours
    (averaged over a few pixels) are the torso's own spread there: long hair going on from the head onto the
    shoulders. There the layer shows the photo's hair, not its own colours: a tilted head uncovered a flat bar
    of the hair's mean colour above the hair on the shoulders. Under the chin (the neck's corridor) the photo's
    pixels are the face's, and the torso's colours stay."""
    under = tucked == PART_NAMES.index("head") + 1
    if not under.any():
        return tucked
    k = (feather // 4) | 1  # a few strands: the feather's width mixed the wall in at the hair's edge
    local = cv2.GaussianBlur(rgb, (k, k), 0) if k > 1 else rgb
    alike = _alike(local, fill)
    # seen from behind there is no jaw: the back of the head's hair goes on under the neck's column too
    away = True if faces_away(pose) else ~_near_neck(pose, origin_xy, tucked.shape, NECK_HALF_WIDTH * ts)
    return np.where(under & alike & away, 0, tucked).astype(tucked.dtype)


def layers_for(image: np.ndarray, pose: Pose, core_labels: np.ndarray,
                held: np.ndarray | None = None) -> list[Layer | None]:
    """Part layers of one reference (None where the part is absent), from its own_labels; what a hand holds
    (``held``, engine.held) is its forearm layer's ``held`` layer, not the forearm's own pixels."""
    ts = body_scale(pose)
    joint_r = max(2, int(round(ts / 6)))
    feather = max(1, int(round(ts / 40))) * 2 + 1
    # The ring: the layers carry the photo's pixels up to where the background's hole ends (plus the feather),
    # so an unmoved part covers the inpainted band exactly; a moved part takes a thin rim of its surroundings.
    ring_px = hole_radius(pose) + feather // 2
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
                centre = np.round(pose.xy[j] - (bx0, by0)).astype(int)
                cv2.circle(discs, tuple(int(v) for v in centre), _joint_radius(chain, centre, joint_r), 1, -1)
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
        ppad = tuck + feather + 2 + (2 * neck_px if part == "torso" else 0)
        py0, px0 = max(0, rows[0] - ppad), max(0, cols[0] - ppad)
        py1, px1 = min(core.shape[0], rows[-1] + 1 + ppad), min(core.shape[1], cols[-1] + 1 + ppad)
        core, ring, front = core[py0:py1, px0:px1], ring[py0:py1, px0:px1], front[py0:py1, px0:px1]
        piece = None if piece is None else piece[py0:py1, px0:px1]
        hand = None if hand is None else hand[py0:py1, px0:px1]
        own = core.copy()
        # grown by the tuck as a distance (linear in the pixels; a disc kernel of a 4096-px photo's tuck is not)
        band = (cv2.distanceTransform(1 - core, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= tuck) & (front > 0)
        middle = torso_polygon(pose) if part == "torso" else None
        if middle is not None:
            # not under an arm hanging beside the body (outside the shoulders and hips): raised, it left the band in
            # the torso's colours along the torso's side, a ragged dark strip on a patterned sweater
            inside = polygon_in_box(middle, band.shape, (py0 + by0, px0 + bx0))
            arms = np.isin(core_labels[py0:py1, px0:px1], ARM_LABELS)
            band &= ~arms | (inside > 0)
        core |= band
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
                near_torso = cv2.distanceTransform(1 - own, cv2.DIST_L2, 3)
                core |= (near_torso <= neck_px) & (head > 0) & \
                    _near_neck(pose, origin_xy, head.shape, NECK_HALF_WIDTH * ts)
                # and where the torso's colours go on into the head's part (long hair past the head's lower edge):
                # a tilted head left a pale patch of inpainted wall between its hair and the torso's
                core |= _goes_on(img[py0:py1, px0:px1], own, head, (near_torso <= 2 * neck_px) & (head > 0), neck_px)
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
        hand_edge = None
        if k + 1 in under_hands:  # what a hand rests on goes on under it, drawn from its pixels round the hand
            # and its soft edge past it (the colours spread from the part's own pixels do not reach there: black)
            on = under_hands[k + 1][py0:py1, px0:px1][y0:y1, x0:x1].astype(np.uint8)
            near = cv2.distanceTransform(1 - on, cv2.DIST_L2, 3)
            beneath = (near <= feather) & (hard == 0)
            # its own pixels at the hand's outline are the hand's soft edge too (skin blurred into the cloth): drawn
            # over as well once the hand moves, else a brown outline of it stays on black trousers
            hand_edge = (near <= tuck) & (hard > 0)
            fill = inpainted_under(rgb, (hard > 0) & ~hand_edge, beneath | hand_edge, fill, ARM_EDGE * ts)
        arm_edge = None
        if arm_over is not None and arm_over.any():  # from the leg's pixels clear of the arm's soft edge
            on_arm = arm_over[y0:y1, x0:x1]
            over = on_arm & (hard == 0)
            # its own pixels at the arm's outline are the arm's blurred edge (a fast forearm's dark rim on grey
            # trousers): drawn over too, and shown once the arm moves, else a dark crack stays where it had hung
            arm_edge = (cv2.distanceTransform((~on_arm).astype(np.uint8), cv2.DIST_L2, 3) <= tuck) & (hard > 0)
            fill = inpainted_under(rgb, (hard > 0) & ~arm_edge, over | arm_edge, fill, ARM_EDGE * ts)
        # what it reaches under: its tuck, and every pixel of a part in front that its soft edge or ring covers,
        # drawn in its own colours once that part moves (the photo's pixels there are the moved part's: a raised
        # hand would leave its outline at the hip)
        reached = (core > own) | ((front > 0) & (own == 0) & (outer > 1e-3))
        tucked = np.where(reached, core_labels[py0:py1, px0:px1], 0)[y0:y1, x0:x1].astype(np.uint8)
        for edge, under in ((hand_edge, hand_edge is not None and on), (arm_edge, arm_edge is not None and on_arm)):
            if edge is not None and edge.any():  # the edge goes with the nearest hand's or arm's part
                labels_there = core_labels[py0:py1, px0:px1][y0:y1, x0:x1]
                tucked = _edge_goes_with(tucked, edge, np.where(under > 0, labels_there, 0))
        X0, Y0 = int(x0 + px0 + bx0), int(y0 + py0 + by0)
        if part == "torso":
            tucked = _hair_shown_under_head(tucked, rgb, fill, feather, pose, (X0, Y0), ts)
        # the part goes on past the photo's edges its pixels reach; a limb only when its far joint is not in the
        # photo (a whole shoe whose sole touches the bottom edge grew a stub when the foot lifted)
        cut = (Y0 == 0 and a_core[0].max() > 0.5, Y0 + a_core.shape[0] == photo_h and a_core[-1].max() > 0.5,
               X0 == 0 and a_core[:, 0].max() > 0.5, X0 + a_core.shape[1] == photo_w and a_core[:, -1].max() > 0.5)
        cut = tuple(c and (part not in PART_LIMBS or not _far_joint_in(pose, PART_LIMBS[part][1], ts)) for c in cut)
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
                           body_goes_on(pose) if part == "torso" else (False,) * 4)
        if a_held is not None:
            layer.held = held_layer(layer, a_held, held_ring)
            layer.hand = held_layer(layer, a_hand) if hand.any() else None
        layers.append(layer)
    return layers
