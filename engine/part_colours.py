"""What a person's parts' colours say about their pixels: the rules that move a pixel from the part its nearest
bone gives it (engine.parsing) to the part it looks like. An arm's part is every pixel within its reach of the
bone: a bare arm beside a dress is thinner than that (the dress goes to the torso), and a sleeve blurred by a
move is wider (its edge over the trousers goes to the arm). Colours are compared in CIELAB (OpenCV's 8-bit
scale), each part's as its main colours (k-means) and their blends.
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import PART_LIMBS, PART_NAMES, body_scale, segment_distance, torso_polygon
from .hands import hand_measure
from .parsing import ARM_LABELS, LEG_LABELS, TORSO_LABEL, arm_reach, grow_labels, hand_regions, merge_islands
from .pose import J, Pose

# A piece the colour rule would give the torso is the hand when this much of it is in a hand's region and at most
# HAND_BEFORE of it before the wrist (arms_by_colour)
HAND_PIECE = 0.5
HAND_BEFORE = 0.1
# of the body's size: an arm's own colours are sampled this near its bone; a pixel of its part goes to the torso
# when its colour is this much nearer (CIELAB units of OpenCV's 8-bit scale) the torso's than the arm's
ARM_CORE = 0.04
COLOUR_MARGIN = 20.0
# a leg's pixel within this many of an arm's reaches from its bone, of the arm's colours, goes to the arm
SLEEVE_REACH = 2.0
MAIN_COLOUR = 0.05  # the share of an arm's or the torso's samples a colour needs to count as theirs
# an arm's colour seen on one side of its bone only is another part's beside it, unless it is this near the other
# colour (CIELAB, OpenCV's 8-bit scale): a bare arm's shade and light side are 48 apart on fashion-real/15
SHADE_DISTANCE = 70.0
# and one seen on one side only is the part's beside unless it is this far from all of that part's colours: the
# dress's dark blue along a bare arm, a shade off the torso's own blue (20.5 from it, fashion-real/4), stayed the
# arm's at 20 (COLOUR_MARGIN), and raised arms carried strips of the dress's stripes or print (0, 3, 4, 52); at 40
# a hand blurred grey by motion (39 from the torso's colours, dance frame 123) was left behind
BESIDE_MARGIN = 30.0
# a colour sampled along an upper arm's bone this far from every colour along its outline on the wall's side is not
# the arm's shade: the lit and shaded sides of a denim sleeve are 82 apart (fashion-real/38), the black top under a
# bare arm's bone 103 from its skin (fashion-real/0)
NOT_A_SHADE = 95.0
# A colour could be a bare arm's skin when its hue (CIELAB a, b) is within SKIN_HUE degrees of the face's and its
# chroma at least SKIN_CHROMA of the face's: the faces of the fashion photos are 45-71 degrees, their arms in light
# and shade within a few degrees of their face, black, white, grey and navy cloth and red or blue prints far off
SKIN_HUE, SKIN_CHROMA = 20.0, 0.4
FACE_CHROMA = 12.0  # a face sample greyer than this tells no skin by hue (the back of a grey head, grey light)
# an arm meets the background on one side of its bone when this share of its outline's pixels lie on that side
OUTLINE_ONE_SIDE = 0.8
OUTLINE_SHOULDERS = 0.45  # of the body's size: shoulders this far apart or more are a person seen from front or back


def main_colours(pixels: np.ndarray, k: int) -> np.ndarray:
    """The main colours of ``pixels`` ((n, 3) float32): the k-means centres holding at least MAIN_COLOUR of
    them. A centre of a few stray pixels (the arm's rim among the torso's labels) made the arm's shaded side the
    torso's. The same pixels give the same colours: the sample and the k-means++ starts come from a generator of
    its own (OpenCV's k-means draws from the process's RNG, which other code may rely on), the best of two
    starts by compactness."""
    rng = np.random.default_rng(0)
    if len(pixels) > 4000:
        pixels = pixels[rng.choice(len(pixels), 4000, replace=False)]
    k, n = min(k, len(pixels)), len(pixels)
    wide = pixels.astype(np.float64)

    def to(c: np.ndarray) -> np.ndarray:  # squared distances of the pixels to one colour
        d = wide - c
        return np.einsum("ij,ij->i", d, d)

    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    best = None
    for _ in range(2):
        starts = [wide[rng.integers(n)]]
        d2 = to(starts[0])
        for _ in range(1, k):
            # k-means++ as OpenCV's: of three candidates drawn by their squared distance to the nearest start,
            # the one that leaves the least total
            total = d2.sum()
            tries = rng.choice(n, 3, p=d2 / total) if total > 0 else rng.integers(n, size=3)
            after = [np.minimum(d2, to(wide[t])) for t in tries]
            pick = int(np.argmin([a.sum() for a in after]))
            starts.append(wide[tries[pick]])
            d2 = after[pick]
        first = np.argmin([to(c) for c in starts], axis=0).astype(np.int32)[:, None]
        # from given labels and one attempt OpenCV draws nothing from its RNG
        compactness, which, c = cv2.kmeans(pixels, k, first, criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
        if best is None or compactness < best[0]:
            best = (compactness, which, c)
    _, which, c = best
    share = np.bincount(which.ravel(), minlength=len(c)) / len(pixels)
    return c[share >= MAIN_COLOUR]


def colour_distance(pixels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(n,): each of ``pixels`` ((n, 3)) distance to the nearest of ``colours`` ((k, 3))."""
    return np.sqrt(((pixels[:, None, :] - colours[None]) ** 2).sum(axis=2)).min(axis=1)


def blend_distance(pixels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(n,): each of ``pixels`` ((n, 3)) distance to the nearest of ``colours`` ((k, 3)) or of their blends (the
    segments between two of them). A two-colour pattern's pixels where its colours meet, and the shades between a
    limb's lit and shaded side, are blends of its main colours, far from both."""
    best = colour_distance(pixels, colours)
    for i in range(len(colours)):
        for j in range(i + 1, len(colours)):
            a, d = colours[i], colours[j] - colours[i]
            t = np.clip((pixels - a) @ d / max(float(d @ d), 1e-6), 0, 1)
            best = np.minimum(best, np.linalg.norm(pixels - a - t[:, None] * d[None], axis=1))
    return best


def arm_colours(lab: np.ndarray, sub: np.ndarray, k: int, pose: Pose, origin_rc, ts: float,
                beside: np.ndarray | None = None, skin: np.ndarray | None = None, outline=None):
    """Arm ``k``'s pixels in ``sub`` (labels over a box at the photo's (row, column) ``origin_rc``, ``lab`` its CIELAB
    pixels) and its own colours: (rows, columns, which of them are the arm's whatever their colour (along its bone,
    within ARM_CORE, but for what the rules below make the arm's only by its colour), their colours, the arm's one
    or two main colours, sampled along the bone, and, with ``beside``, which of its pixels are the arm whatever their
    colour past the bone (None: none are) and, with ``skin`` too (the face's, face_skin), which are not the arm
    whatever their colour), or None for an arm not there or too small to tell. Of those colours, one seen on one
    side of the bone only and near one of the colours ``beside`` (the part the arm lies against) is that part's,
    not the arm's. ``outline``: ``outline_maps(sub)`` where the caller looks at several arms of one box."""
    a, b = PART_LIMBS[PART_NAMES[k - 1]]
    if not (pose.present[a] and pose.present[b]):
        return None
    ys, xs = np.nonzero(sub == k)
    if len(ys) < 30:
        return None
    along = segment_distance(xs + float(origin_rc[1]), ys + float(origin_rc[0]), pose.xy[a], pose.xy[b]) \
        <= ARM_CORE * ts
    if along.sum() < 20:
        return None
    colours = lab[ys, xs].astype(np.float32)
    (ax, ay), (bx, by) = pose.xy[a], pose.xy[b]
    px, py = xs + float(origin_rc[1]) - ax, ys + float(origin_rc[0]) - ay
    ux, uy = bx - ax, by - ay
    t = (px * ux + py * uy) / max(ux * ux + uy * uy, 1e-6)
    side = ux * py - uy * px
    middle = (t > 0.15) & (t < 0.85)
    # Past the bone on the side where an upper arm meets the background, nothing of the torso it lies against
    # shows: whatever its colour, that is the arm. A bone detected along a bare arm's inner edge, over the dress,
    # sampled the lace and the shaded skin; the lit outer half went to the torso and stayed beside it as a strip of
    # skin when the arm was raised (fashion-real/3, 50). Not past a forearm: a skirt or a shirt's tail flares out
    # past a hanging forearm and hand.
    past = rim_c = None
    off_skin = np.zeros(len(ys), bool)
    upper = PART_NAMES[k - 1].endswith("upper_arm")
    torso_side = _beside_torso(pose, (ax, ay), (ux, uy), ts) if beside is not None else None
    if torso_side is not None:
        near_bg, depth = outline if outline is not None else outline_maps(sub)
        outer = _outline_side(near_bg, ys, xs, middle, side)
        if outer is not None and outer != torso_side:
            outer_half = (side >= 0) == bool(outer)
            if upper:
                past = (t > 0) & (t <= 1) & outer_half  # from the shoulder's joint to the elbow's
            d = depth[ys, xs]  # not on the outline itself: the mask's soft edge there is the wall's colour blended in
            rim = (d > 1.5) & (d <= ARM_CORE * ts + 1.5) & middle & outer_half
            rim_c = main_colours(colours[rim], 2) if upper and rim.sum() >= 20 else None  # read with ``past`` only
            if skin is not None and rim.sum() >= 20 and skin_like(np.median(colours[rim], axis=0)[None], skin)[0]:
                # The arm is bare where it meets the wall: on the torso's side of its bone, what is not skin is the
                # cloth beside it, whatever its colour, even along the bone. A hanging forearm's bone lies off its
                # middle towards the body, and the stripes, the print or the shorts beside it were the arm's (the
                # torso's three main colours miss a print's others): raised, the arm carried a strip of them
                # (fashion-real/14, 29, 44, 52). Not at the joint the bone starts from (a sleeve's cuff by the
                # elbow). Past the wrist too (the cloth beside a hand went up round it: 14, 15, 21, 44, 52); the
                # hand itself is its landmarks' or the hand's piece's (arms_by_colour), whatever its colour.
                off_skin = ~outer_half & ~skin_like(colours, skin) & (t > 0.05)
    own = main_colours(colours[along], 2)
    if past is not None and rim_c is not None and len(own) > 1:
        # A colour sampled along the bone that is the torso's and far from the arm's along its outline on the wall's
        # side is the torso's: a bone detected over the top's edge (fashion-real/0) sampled the top's black as the
        # arm's on both its sides, and the raised arm carried a strip of it. A pixel nearer that colour than the
        # arm's others (by COLOUR_MARGIN) is then the arm's only by its colour, along the bone and past it (the top's
        # edge lay a few pixels past the bone); hair there is nearer the skin, and stays the arm's for engine.hair.
        cloth = (colour_distance(own, beside) <= BESIDE_MARGIN) & (colour_distance(own, rim_c) > NOT_A_SHADE)
        if cloth.any() and not cloth.all():
            by_colour = colour_distance(colours, own[cloth]) + COLOUR_MARGIN < colour_distance(colours, own[~cloth])
            along, past, own = along & ~by_colour, past & ~by_colour, own[~cloth]
    if len(own) > 1 and beside is not None and len(beside):
        # A colour of the arm's shows on both sides of its bone (along its middle: at its ends the elbow meets the
        # torso's cloth and the hand what it rests on, on both sides); cloth beside a thin forearm only on one. The
        # black shorts beside a bare forearm (fashion-real/0) were a quarter of its samples: the shorts beside the
        # hand counted as the arm's and went up with it. Only a colour of the part beside: a motion-blurred
        # sleeve's grey edge over the trousers is the arm's (dance frame 123).
        middle, side = middle[along], side[along]
        nearest = np.argmin(((colours[along][:, None] - own[None]) ** 2).sum(2), axis=1)
        both = [c for c in range(len(own))
                if all((nearest[half] == c).mean() >= MAIN_COLOUR
                       for half in (middle & (side < 0), middle & (side >= 0)) if half.sum() >= 10)
                or colour_distance(own[c:c + 1], beside)[0] > BESIDE_MARGIN]
        # but a shade of the other (a bare arm lit on one side) is the arm's
        if len(both) == 1 and np.linalg.norm(own[0] - own[1]) < SHADE_DISTANCE:
            both = [0, 1]
        own = own[both] if both else own
    return ys, xs, along & ~off_skin, colours, own, past, off_skin


def skin_like(colours: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(n,) whether each of ``colours`` (CIELAB, OpenCV's 8-bit scale, (n, 3)) could be the skin ``skin`` (the
    face's) in light or shade: its hue within SKIN_HUE degrees, its chroma at least SKIN_CHROMA of the face's, and not
    near black (lightness 30 of 255: hue means nothing there)."""
    a, b = colours[:, 1] - 128.0, colours[:, 2] - 128.0
    sa, sb = skin[1] - 128.0, skin[2] - 128.0
    dh = np.abs((np.degrees(np.arctan2(b, a) - np.arctan2(sb, sa)) + 180.0) % 360.0 - 180.0)
    return (dh <= SKIN_HUE) & (np.hypot(a, b) >= SKIN_CHROMA * np.hypot(sa, sb)) & (colours[:, 0] >= 30)


def face_skin(lab: np.ndarray, mask: np.ndarray, pose: Pose, origin_rc) -> np.ndarray | None:
    """The face's skin (the CIELAB median of ``lab`` over ``mask``, a box at the photo's (row, column)
    ``origin_rc``) on the cheeks below the eyes, or None without a face or with too little colour to tell skin by
    (FACE_CHROMA). Below means from the eyes towards the nose, so a tilted head is sampled on its cheeks too. Seen
    from the back, mediapipe still places the eyes, and the sample is the hair: skin-coloured in hue where the hair
    is brown or blond, so a bare arm beside a striped back is told as on the front. (engine.hair samples the face
    round the nose for its own test, whole colours blurred, lightness and all.)"""
    n, er, el = J["nose"], J["r_eye"], J["l_eye"]
    if not (pose.present[n] and pose.present[er] and pose.present[el]):
        return None
    down = pose.xy[n] - (pose.xy[er] + pose.xy[el]) / 2
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    discs = []
    for e in (er, el):
        dv = float(np.linalg.norm(pose.xy[e] - pose.xy[n]))
        discs.append((pose.xy[e] + 0.9 * dv * down - (origin_rc[1], origin_rc[0]), max(1.5, 0.35 * dv)))
    samples = []
    for (cx, cy), r in discs:  # each cheek's window only: the whole person's box took 4-14 ms on a 1080p frame
        y0, y1 = max(0, int(cy - r)), min(mask.shape[0], int(cy + r) + 1)
        x0, x1 = max(0, int(cx - r)), min(mask.shape[1], int(cx + r) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        on = mask[y0:y1, x0:x1] & (np.hypot(xs - cx, ys - cy) <= r)
        samples.append(lab[y0:y1, x0:x1][on])
    pixels = np.concatenate(samples) if samples else np.zeros((0, 3))
    if len(pixels) < 10:
        return None
    med = np.median(pixels.astype(np.float32), axis=0)
    return med if np.hypot(med[1] - 128.0, med[2] - 128.0) >= FACE_CHROMA else None


def _beside_torso(pose: Pose, a, u, ts: float) -> int | None:
    """The side of an arm's bone (from ``a`` along ``u``) the torso's middle lies on (0: side < 0, 1: side >= 0), for
    a person seen from the front or the back (shoulders OUTLINE_SHOULDERS of the body's size apart); None in a
    side view, where the torso's back shows past an arm hanging over it."""
    poly = torso_polygon(pose)
    if poly is None or float(np.linalg.norm(poly[0] - poly[1])) < OUTLINE_SHOULDERS * ts:
        return None
    c = poly.mean(axis=0)
    return int(u[0] * (c[1] - a[1]) - u[1] * (c[0] - a[0]) >= 0)


def outline_maps(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which pixels of ``sub`` touch its background, how far each of its person's pixels lies from it), outside
    the box counting as background: where an arm meets the wall, and its rim along it (arm_colours)."""
    person = (sub != 0).astype(np.uint8)
    near_bg = cv2.dilate(1 - person, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return near_bg, cv2.distanceTransform(np.pad(person, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]


def _outline_side(near_bg: np.ndarray, ys, xs, middle, side) -> int | None:
    """Which side of its bone (0: side < 0, 1: side >= 0) an arm's part meets the background (``near_bg``,
    outline_maps) along its middle, or None where it meets it on both (an arm hanging apart from the body) or not
    at all (an arm across the chest)."""
    edge = middle & (near_bg[ys, xs] > 0)
    if edge.sum() < 10:
        return None
    pos = float((side[edge] >= 0).mean())
    return 1 if pos >= OUTLINE_ONE_SIDE else 0 if pos <= 1 - OUTLINE_ONE_SIDE else None


def person_view(labels: np.ndarray, image: np.ndarray):
    """(box, CIELAB uint8 crop) of the labelled person's bounding box, or None without one: what the colour
    rules look at (``view`` of each rule; the rules move labels within the box, so one view serves them all)."""
    rows, cols = np.nonzero((labels != 0).any(axis=1))[0], np.nonzero((labels != 0).any(axis=0))[0]
    if not len(rows):
        return None
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return box, cv2.cvtColor(np.ascontiguousarray(image[box]), cv2.COLOR_RGB2LAB)  # uint8: cast per part, not whole


def colour_rules(labels: np.ndarray, image: np.ndarray, pose: Pose) -> np.ndarray:
    """``labels`` after the colour rules, in their order (arms_by_colour, then arms_take_their_sleeves), on one
    view of the person; what of an arm they leave apart from it is the part it touches (merge_islands): a print's
    skin-pink dots beside a bare forearm, left the arm's when the cloth round them went to the dress, went up with
    the raised arm as flecks in the air."""
    view = person_view(labels, image)
    if view is None:
        return labels
    out = arms_take_their_sleeves(arms_by_colour(labels, image, pose, view), image, pose, view)
    return merge_islands(out, ARM_LABELS)


def arms_by_colour(labels: np.ndarray, image: np.ndarray, pose: Pose, view=None) -> np.ndarray:
    """Labels with an arm's pixels that look like the torso and not like the arm given to the torso, where they
    join it. An arm's part is every pixel within its reach of the bone, and a bare arm hanging beside a dress is
    thinner than that reach: the dress beside it was the arm's, went up with the arm raised and left a gap in
    the dress. The arm's colours are sampled along its bone (ARM_CORE), the torso's over its pixels; a pixel
    goes to the torso only when it is nearer one of the torso's colours than any of the arm's by COLOUR_MARGIN
    (a sleeve of the dress's cloth stays the arm's)."""
    view = view or person_view(labels, image)
    if view is None:
        return labels
    box, lab = view
    r0, c0 = box[0].start, box[1].start
    sub = labels[box]
    torso = sub == TORSO_LABEL
    if torso.sum() < 50:
        return labels

    torso_c = main_colours(lab[torso].astype(np.float32), 3)
    ts = body_scale(pose)
    skin = face_skin(lab, sub > 0, pose, (r0, c0))
    outline = outline_maps(sub)
    out = labels.copy()
    changed = np.zeros(sub.shape, bool)
    d_arm_at = np.zeros(sub.shape, np.float32)  # a taken pixel's distance to its arm's colours
    for k in ARM_LABELS:
        arm = arm_colours(lab, sub, k, pose, (r0, c0), ts, beside=torso_c, skin=skin, outline=outline)
        if arm is None:
            continue
        ys, xs, along, colours, arm_c, past, off_skin = arm
        b = PART_LIMBS[PART_NAMES[k - 1]][1]
        d_arm, d_torso = blend_distance(colours, arm_c), colour_distance(colours, torso_c)
        take = (~along & (d_torso + COLOUR_MARGIN < d_arm)) | off_skin
        if past is not None:
            take &= ~past
        if b in pose.hands:  # the hand is its fingers and palm, whatever their colour (a bare hand below a sleeve);
            # its rim (the landmarks' error) as the rest of the part: cloth there went up round the raised hand
            take &= hand_measure(pose.hands[b], xs + float(c0), ys + float(r0), with_rim=False) >= 1
        changed[ys[take], xs[take]] = True
        d_arm_at[ys[take], xs[take]] = d_arm[take]
    if not changed.any():
        return labels
    # only what joins the torso, or a leg and looks like it (the trousers round a hand resting on a thigh; not the
    # shirt-dark rim of a sleeve beside the trousers, which stayed down the thigh as a dark line), and it goes to
    # the nearest of them: a patch of the arm's own shade inside it stays the arm's
    n, comp = cv2.connectedComponents(changed.astype(np.uint8), connectivity=8)
    body = np.isin(sub, [TORSO_LABEL] + LEG_LABELS)

    def touching(mask):
        t = np.unique(comp[(cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & changed])
        return t[t > 0]
    ids = touching(torso)
    legs = body & ~torso
    if legs.sum() >= 50:
        leg_c = main_colours(lab[legs].astype(np.float32), 2)
        for i in np.setdiff1d(touching(legs), ids):
            piece = comp == i
            d_leg = colour_distance(lab[piece].astype(np.float32), leg_c)
            if (d_leg + COLOUR_MARGIN < d_arm_at[piece]).mean() >= 0.5:
                ids = np.append(ids, i)
    # nor the hand: a piece lying mostly in a hand's region and beyond its wrist, whose colour is not the torso's
    # main one. A bare hand below a sleeve is not the sleeve's colour and, where the torso shows skin or trousers of
    # its shade, is one of the torso's: it went to the torso and stayed at the hip when the arm was raised
    # (fashion-real/19, 20, 45). Cloth beside a bare hand is the torso's: of its main colour (a dress), or reaching
    # back along the forearm (a skirt of another colour than the bodice: a quarter of it before the wrist, where
    # the hands of those photos have at most 3%)
    regions = list(hand_regions(pose, sub.shape, (r0, c0)))
    if regions and len(ids) and len(torso_c) > 1:
        # only pieces that may be (HAND_PIECE in all hands' regions together) are looked at one by one
        in_hands = np.zeros(sub.shape, bool)
        for _, _, hbox, inside in regions:
            in_hands[hbox] |= inside
        size, held = np.bincount(comp.ravel(), minlength=n), np.bincount(comp[in_hands], minlength=n)
        sample = lab[torso][:: max(1, int(torso.sum()) // 4000)].astype(np.float32)  # as main_colours samples
        shares = np.bincount(np.argmin(((sample[:, None] - torso_c[None]) ** 2).sum(2), 1), minlength=len(torso_c))
        cloth = int(np.argmax(shares))
        hand = []
        for i in ids[held[ids] >= HAND_PIECE * size[ids]]:
            piece = comp == i
            colour = np.median(lab[piece].astype(np.float32), axis=0)
            if _is_hand(piece, regions, pose, (r0, c0)) and \
                    int(np.argmin(((colour - torso_c) ** 2).sum(1))) != cloth:
                hand.append(i)
        ids = np.setdiff1d(ids, hand)
    keep = np.isin(comp, ids)
    out[box][keep] = grow_labels(np.where(body, sub, 0).astype(sub.dtype), max(sub.shape))[keep]
    return out


def _is_hand(piece: np.ndarray, regions: list, pose: Pose, origin) -> bool:
    """Whether ``piece`` ((h, w) bool over a box at the photo's (row, column) ``origin``) lies HAND_PIECE or more in
    one of the hand ``regions`` (hand_regions over that box) and at most HAND_BEFORE of it before that hand's
    wrist along its forearm."""
    best, where = 0, None
    for el, wr, box, inside in regions:
        n = int((piece[box] & inside).sum())
        if n > best:
            best, where = n, (el, wr)
    size = int(piece.sum())
    if where is None or best < HAND_PIECE * size:
        return False
    ys, xs = np.nonzero(piece)
    e, w = pose.xy[where[0]].astype(np.float64), pose.xy[where[1]].astype(np.float64)
    u = w - e
    n = float(np.hypot(*u))
    u = u / n if n > 1e-6 else np.array([0.0, 1.0])  # as hand_ellipse: a forearm seen end on points down
    before = (xs + origin[1] - w[0]) * u[0] + (ys + origin[0] - w[1]) * u[1] < 0
    return float(before.mean()) <= HAND_BEFORE


def arms_take_their_sleeves(labels: np.ndarray, image: np.ndarray, pose: Pose, view=None) -> np.ndarray:
    """Labels with a leg's pixels that look like an arm lying over it, and not like the leg, given to that arm
    where they join it, within SLEEVE_REACH of its reach from its bone. A sleeve blurred by a move (a dribble) is
    wider than an arm's reach: its edge over the trousers was the thigh's, and a forearm raised from along the
    thigh left two dark lines where it had hung (dance frame 132). The leg's colours come from its pixels clear of
    every arm (a forearm hanging along the thigh covers the thigh's bone, where the arm's own colours are sampled);
    the arm's along its bone, as arms_by_colour's."""
    view = view or person_view(labels, image)
    if view is None:
        return labels
    box, lab = view
    r0, c0 = box[0].start, box[1].start
    sub = labels[box]
    legs = np.isin(sub, LEG_LABELS)
    if legs.sum() < 50:
        return labels
    ts = body_scale(pose)
    ys, xs = np.nonzero(legs)
    px, py = xs + float(c0), ys + float(r0)
    arms = {}
    for k in ARM_LABELS:
        a, b = PART_LIMBS[PART_NAMES[k - 1]]
        if pose.present[a] and pose.present[b]:
            arms[k] = segment_distance(px, py, pose.xy[a], pose.xy[b]) / arm_reach(PART_NAMES[k - 1], ts)
    if not arms:
        return labels
    clear = np.min(list(arms.values()), axis=0) > SLEEVE_REACH
    legs_c = {}  # each leg's colours, from its pixels clear of every arm
    for leg in LEG_LABELS:
        own = (sub[ys, xs] == leg) & clear
        if own.sum() >= 30:
            legs_c[leg] = main_colours(lab[ys[own], xs[own]].astype(np.float32), 2)
    out = labels.copy()
    for k, d_bone in arms.items():
        near = d_bone <= SLEEVE_REACH
        arm = arm_colours(lab, sub, k, pose, (r0, c0), ts) if near.any() else None
        if arm is None:
            continue
        arm_c = arm[4]
        take = np.zeros(sub.shape, bool)
        for leg, leg_c in legs_c.items():
            on = (sub[ys, xs] == leg) & near
            if not on.any():
                continue
            colours = lab[ys[on], xs[on]].astype(np.float32)
            looks = blend_distance(colours, arm_c) + COLOUR_MARGIN < blend_distance(colours, leg_c)
            take[ys[on][looks], xs[on][looks]] = True
        if not take.any():
            continue
        _, comp = cv2.connectedComponents(take.astype(np.uint8), connectivity=8)
        joins = np.unique(comp[(cv2.dilate((sub == k).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & take])
        out[box][np.isin(comp, joins[joins > 0])] = k
        sub = out[box]
    return out
