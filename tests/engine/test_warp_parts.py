"""The warp engine's parts and what they hold: sleeves, a jacket's flap, a forearm across the chest, a held
ball, a bare arm over a dress, hair over a shoulder (engine.parsing, engine.hair)."""
import numpy as np
import pytest

from engine.backends.warp import WarpBackend
from engine.encode import PART_NAMES, torso_size
from engine.pose import J, Pose
from engine.presets import fit_preset

from tests.engine.painted import (ARMS, SHIRT, SLEEVE, WALL, filled, painted_hand, painted_on_wall,
                                  raised_from_the_side, raised_straight_up)


def test_a_raised_wide_sleeve_leaves_no_outline_where_it_hung():
    # A sleeve wider than an arm's reach from its bone (parsing.ARM_RADIUS): its outer edge, and the hole's band
    # round it, fell to the torso and stayed in the photo when the arm was raised, a dark line on the wall where
    # the arm had hung. The torso itself, and the other arm, stay the photo's.
    import cv2

    p, target, img, mask, quad, pt, out = raised_from_the_side(0.34)  # half-width 0.17 of the torso: past the reach
    ts = torso_size(p)
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    up = float(np.hypot(*(el - sh)))
    # where the right arm hung, from below the raised arm's shoulder to the wrist, clear of the torso (the
    # torso's layer tucks under the arms' edges by a few pixels, so that the two blend without background
    # between them): wall only
    hung = np.zeros((400, 240), np.uint8)
    cv2.line(hung, pt("r_elbow"), pt("r_wrist"), 1, int(round(0.5 * ts)))
    cv2.line(hung, pt("r_shoulder"), pt("r_elbow"), 1, int(round(0.5 * ts)))
    clear = int(round(0.15 * ts))
    hung[cv2.dilate(filled(quad, (400, 240)), np.ones((2 * clear + 1,) * 2, np.uint8)) > 0] = 0
    hung[: int(sh[1] + 0.3 * up)] = 0
    hung[int(wr[1]):] = 0  # the sleeve's round end below the wrist is the thigh's by the nearest bone
    dark = (out.max(axis=2) < 120) & (hung > 0)
    assert dark.sum() == 0, f"{dark.sum()} dark pixels of the sleeve left where the arm hung"
    # the torso (but where the raised arm's root is drawn over its corner) and the left arm are the photo's
    keep = cv2.erode(filled(quad, (400, 240)), np.ones((5, 5), np.uint8))
    cv2.circle(keep, pt("r_shoulder"), int(round(0.35 * ts)), 0, -1)
    keep = keep > 0
    assert np.abs(out - img.astype(int))[keep].max() <= 3
    left = np.zeros((400, 240), np.uint8)
    cv2.line(left, pt("l_elbow"), pt("l_wrist"), 1, int(round(0.2 * ts)))
    assert np.abs(out - img.astype(int))[left > 0].max() <= 3


def test_a_jacket_flap_beside_a_held_out_arm_stays_with_the_torso():
    # The jacket's hem flaring at the waist towards a forearm held out from the body: a thin piece of the
    # torso, nearest the forearm's pixels but far from its bone. Handed to the arm, its tip went up with the
    # raised arm, a fleck of jacket in the air beside it (dance frame 141). It is the torso's: it stays.
    import cv2

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    el, wr = p.point("r_elbow"), p.point("r_wrist")
    p = p.moved("r_elbow", el[0] - 0.2 * ts, el[1]).moved("r_wrist", wr[0] - 0.4 * ts, wr[1] - 0.1 * ts)
    sh, hip = p.point("r_shoulder"), p.point("r_hip")
    wy = hip[1] - 0.35 * (hip[1] - sh[1])
    ex = sh[0] + (hip[0] - sh[0]) * (wy - sh[1]) / (hip[1] - sh[1])
    flap = np.round([[ex + 2, wy - 0.06 * ts], [ex - 0.2 * ts, wy], [ex + 2, wy + 0.06 * ts]]).astype(np.int32)
    img, mask, quad, pt = painted_on_wall(p, 0.25, [flap], legs=True)
    target = raised_straight_up(p)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
    # no jacket in the air: shirt-blue only on the torso, the head and the flap where they were, and at the
    # raised arm's root (the torso's corner there goes with the arm)
    blue = (np.abs(out - np.array(SHIRT)).max(axis=2) < 40).astype(np.uint8)
    body = filled(quad, (400, 240))
    cv2.fillConvexPoly(body, flap, 1)
    cv2.circle(body, pt("nose"), int(round(0.25 * ts)), 1, -1)
    cv2.circle(body, pt("r_shoulder"), int(round(0.3 * ts)), 1, -1)
    stray = (blue > 0) & (cv2.dilate(body, np.ones((5, 5), np.uint8)) == 0)
    assert stray.sum() == 0, f"{stray.sum()} pixels of the jacket away from the body"
    tip = np.zeros((400, 240), np.uint8)
    cv2.fillConvexPoly(tip, flap, 1)
    tip = cv2.erode(tip, np.ones((3, 3), np.uint8)) > 0
    assert (blue[tip] > 0).mean() > 0.95, "the flap left the torso"
    # and no line of the sleeve where the arm hung: the hole's labels are the layers' (a sleeve's edge past the
    # arm's reach from its bone was the torso's in the hole, by the nearest bone, and stayed in the photo)
    hung = np.zeros((400, 240), np.uint8)
    cv2.line(hung, pt("r_shoulder"), pt("r_elbow"), 1, int(round(0.5 * ts)))
    cv2.line(hung, pt("r_elbow"), pt("r_wrist"), 1, int(round(0.5 * ts)))
    hung[cv2.dilate(filled(quad, (400, 240)), np.ones((7, 7), np.uint8)) > 0] = 0
    cv2.circle(hung, pt("r_shoulder"), int(round(0.3 * ts)), 0, -1)  # the raised arm's root
    dark = (out.max(axis=2) < 120) & (hung > 0)
    assert dark.sum() == 0, f"{dark.sum()} dark pixels of the sleeve left where the arm hung"


def test_a_forearm_held_across_the_chest_goes_up_whole_and_leaves_the_chest():
    # A forearm across the chest is nearer a torso diagonal than its own bone: it was the torso's, stayed
    # painted on the chest when the arm was raised, and the chest above it (as thin as a sleeve's rim) went up
    # with the arm. The forearm is in front of the torso; what it uncovers is the torso's colour, not the wall.
    import cv2

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    el, sh, lsh = p.point("r_elbow"), p.point("r_shoulder"), p.point("l_shoulder")
    p = p.moved("r_wrist", lsh[0] - 0.1 * ts, el[1] - 0.05 * ts)
    img, mask, quad, pt = painted_on_wall(p, 0.16)
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(p.point("r_wrist") - el)))
    target = p.moved("r_elbow", sh[0] - 0.2 * up, sh[1] - up).moved("r_wrist", sh[0] - 0.3 * up, sh[1] - up - fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
    place = np.zeros((400, 240), np.uint8)
    cv2.line(place, pt("r_elbow"), pt("r_wrist"), 1, int(round(0.16 * ts)) + 8)
    place = (place > 0) & (cv2.erode(filled(quad, (400, 240)), np.ones((9, 9), np.uint8)) > 0)
    assert place.sum() > 500
    # measured: 98% shirt-coloured, none dark; before, 15% shirt, 45% wall and 410 dark pixels of sleeve
    assert (np.abs(out - np.array(SHIRT)).max(axis=2) < 40)[place].mean() > 0.9
    assert not (out.max(axis=2) < 100)[place].any()
    # the chest above the forearm stays: shirt between the shoulders and where the forearm was
    chest = filled(quad, (400, 240)) > 0
    chest[int(el[1] - 0.1 * ts):] = False
    chest &= cv2.erode(filled(quad, (400, 240)), np.ones((9, 9), np.uint8)) > 0
    cv2.circle(chest.view(np.uint8), pt("r_shoulder"), int(round(0.3 * ts)), 0, -1)  # the raised arm's root
    assert (np.abs(out - np.array(SHIRT)).max(axis=2) < 40)[chest].mean() > 0.95


def test_a_ball_held_beside_the_body_goes_with_the_hand_whole():
    # A ball held out at the hip, apart from the body: its lower half is nearer the torso's bone than the
    # forearm's. Moved with the hand, it must go whole: none of it left where it was (61% of it stayed when the
    # torso kept its lower half).
    import cv2

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    wrist = p.point("l_elbow") + np.array([0.3, 0.35]) * ts
    p = p.moved("l_wrist", *wrist)
    img, mask, quad, pt = painted_on_wall(p, 0.2)
    legs = [J[n] for n in ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle")]
    present = p.present.copy()
    present[legs] = False  # the legs not found: the torso's middle reaches 1.6 shoulder widths down
    p = Pose(p.xy.copy(), present, 240, 400, p.confidence.copy())
    ball, centre, r = (230, 110, 40), wrist + np.array([0.0, 0.25]) * ts, int(0.27 * ts)
    for m, c in ((mask, 1), (img, ball)):
        cv2.circle(m, tuple(np.round(centre).astype(int)), r, c, -1)
    el, a = p.point("l_elbow"), np.deg2rad(30)  # the forearm swung in about the elbow
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    b = WarpBackend()
    state = b.encode_sources([img], [p], [mask.astype(np.float32)])
    out = b.render(state, p.moved("l_wrist", *(el + rot @ (wrist - el))))
    is_ball = np.abs(out.astype(int) - ball).sum(axis=2) < 60
    was, now = np.zeros((400, 240), np.uint8), np.zeros((400, 240), np.uint8)
    cv2.circle(was, tuple(np.round(centre).astype(int)), r - 3, 1, -1)
    cv2.circle(now, tuple(np.round(el + rot @ (centre - el)).astype(int)), r + 3, 1, -1)
    left = (was > 0) & (now == 0)
    assert is_ball[left].mean() < 0.02, f"{is_ball[left].mean():.0%} of the ball stayed where it was"
    assert is_ball.sum() > 0.85 * np.pi * r * r, "the ball did not go with the hand whole"


@pytest.mark.parametrize("skirt_from", [None, 170])
def test_a_bare_arm_raised_from_beside_a_dress_leaves_the_dress(skirt_from):
    # An arm's part is every pixel within its reach of the bone; a bare arm hanging over a wide dress is
    # thinner than that. The dress beside the arm looks like the torso and not like the arm: it stays, whole,
    # when the arm is raised. The arm's side towards the body is in shade: it is the arm's all the same, and
    # goes up with it (no strip of arm left down the dress). With a skirt of another colour from ``skirt_from``
    # down, the skirt beside the hand is not the torso's main colour: it stays all the same (it reaches back
    # along the forearm; a hand lies beyond its wrist: review of the hand rule)
    import cv2

    from engine.encode import segment_distance

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    dress = np.array([[80, 101], [160, 101], [185, 260], [55, 260]], np.int32)
    img, mask, quad, pt = painted_on_wall(p, 0.1, shirt_shapes=(dress,))
    if skirt_from is not None:
        img[skirt_from:][np.all(img[skirt_from:] == SHIRT, axis=2)] = (200, 60, 60)
    cloth = img.copy()
    skin, shade = np.array((225, 180, 150)), np.array((120, 85, 70))
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    centre = (p.point("r_hip") + p.point("l_hip") + p.point("r_shoulder") + p.point("l_shoulder")) / 4
    for a, b in ARMS:  # the bare arms over the dress, darker towards the body
        pa, pb = p.point(a), p.point(b)
        normal = np.array([pa[1] - pb[1], pb[0] - pa[0]]) / np.hypot(*(pb - pa))
        normal *= np.sign((centre - pa) @ normal)
        on = segment_distance(xs, ys, pa, pb) <= 0.07 * ts
        dark = np.clip(((xs - pa[0]) * normal[0] + (ys - pa[1]) * normal[1]) / (0.07 * ts), 0, 1)[..., None]
        img[on] = (skin * (1 - dark) + shade * dark)[on].astype(np.uint8)
        mask[on] = 1
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(wr - el)))
    target = p.moved("r_elbow", sh[0] - up, sh[1]).moved("r_wrist", sh[0] - up, sh[1] - fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
    hung, raised, inside = (np.zeros((400, 240), np.uint8) for _ in range(3))
    for (a_, b_), wide in zip(ARMS[:2], (0.3, 0.3)):
        cv2.line(hung, pt(a_), pt(b_), 1, int(round(wide * ts)))
        cv2.line(raised, tuple(np.round(target.point(a_)).astype(int)), tuple(np.round(target.point(b_)).astype(int)),
                 1, int(round(wide * ts)))
    cv2.fillConvexPoly(inside, dress, 1)
    # the dress where the arm hung, clear of the painted arm
    beside = (hung > 0) & (inside > 0) & np.all(img == cloth, axis=2)
    kept = np.abs(out - cloth.astype(int)).sum(axis=2) < 60
    assert kept[beside].mean() > 0.95, f"only {kept[beside].mean():.0%} of the dress beside the arm stayed"
    # and no arm where it hung, away from where it went
    t = np.clip((out - skin) @ (shade - skin) / float((shade - skin) @ (shade - skin)), 0, 1)[..., None]
    arm_like = np.abs(out - (skin + t * (shade - skin))).sum(axis=2) < 40  # on the arm's shades
    # but not the cloth's soft edge against the wall (a red skirt's blend with it is pink, on the skin's line)
    for c in {tuple(v) for v in cloth.reshape(-1, 3)[::7]} - {WALL}:
        c = np.array(c)
        s = np.clip((out - c) @ (np.array(WALL) - c) / float((np.array(WALL) - c) @ (np.array(WALL) - c)), 0, 1)
        arm_like &= np.abs(out - (c + s[..., None] * (np.array(WALL) - c))).sum(axis=2) >= 15
    left = arm_like & (hung > 0) & (raised == 0)
    assert left.sum() < 20, f"{left.sum()} pixels of the arm stayed where it hung"



TROUSERS, SKIN = (90, 90, 100), (225, 180, 150)


def _hand_on_the_trousers():
    """A painted person in grey trousers with bare arms, the right hand (its landmarks found) resting on the right
    thigh. (the pose, the same with the hand's landmarks, image, mask, the trousers' mask, the torso size)."""
    import cv2

    from engine.encode import segment_distance

    p = fit_preset("standing", 240, 400)
    p = p.moved("r_wrist", p.point("r_wrist")[0] + 14, p.point("r_wrist")[1] + 8)  # the hand on the thigh
    ts = torso_size(p)
    img, mask, _, pt = painted_on_wall(p, 0.1)
    legs = np.zeros((400, 240), np.uint8)
    for a, b in (("r_hip", "r_knee"), ("l_hip", "l_knee"), ("r_knee", "r_ankle"), ("l_knee", "l_ankle")):
        cv2.line(legs, pt(a), pt(b), 1, int(round(0.3 * ts)))
    img[legs > 0], mask[legs > 0] = TROUSERS, 1
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    for a, b in ARMS:
        on = segment_distance(xs, ys, p.point(a), p.point(b)) <= 0.07 * ts
        img[on], mask[on] = SKIN, 1
    seen = Pose(p.xy, p.present, 240, 400, p.confidence, {J["r_wrist"]: painted_hand(p, "r", img, mask, SKIN)})
    return p, seen, img, mask, legs, ts


def _raised_from_the_trousers(p, source, img, mask, ts):
    """The hand of _hand_on_the_trousers (its pose ``source``, with or without landmarks) raised straight up by
    its arm: (where the painted hand was, the render as ints, the raised arm's pixels, the target pose)."""
    import cv2

    from engine.parsing import hand_ellipse

    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    hand = np.all(img == SKIN, axis=2) & (hand_ellipse(p, J["r_elbow"], J["r_wrist"], ts, xs, ys) < 1.2)
    sh, el = p.point("r_shoulder"), p.point("r_elbow")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(p.point("r_wrist") - el)))
    target = source.moved("r_elbow", sh[0] - up, sh[1]).moved("r_wrist", sh[0] - up, sh[1] - fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [source], [mask.astype(np.float32)]), target).astype(int)
    raised = np.zeros((400, 240), np.uint8)
    for a_, b_ in ARMS[:2]:
        cv2.line(raised, tuple(np.round(target.point(a_)).astype(int)), tuple(np.round(target.point(b_)).astype(int)),
                 1, int(round(0.3 * ts)))
    return hand, out, raised, target


def test_a_hand_goes_up_whole_and_its_place_on_the_trousers_shows_the_trousers():
    # A bare hand resting on a trouser leg, its landmarks found (engine.hands): it is its fingers and palm, the
    # trousers round it are the thigh's and stay when the arm is raised, none of them round the raised hand, and
    # the trousers go on under the hand (no wall where it was: the thigh's layer reaches under it)
    import cv2

    from engine.parsing import hand_ellipse

    p, seen, img, mask, legs, ts = _hand_on_the_trousers()
    trousers, skin = TROUSERS, SKIN
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    hand, out, raised, target = _raised_from_the_trousers(p, seen, img, mask, ts)
    skin_left = (np.abs(out - skin).sum(axis=2) < 40) & hand & (raised == 0)
    assert skin_left.sum() < 10, f"{skin_left.sum()} pixels of the hand stayed where it hung"
    on_legs = np.abs(out - np.array(trousers)).sum(axis=2) < 40
    near = (hand_ellipse(p, J["r_elbow"], J["r_wrist"], ts, xs, ys) < 1.2) & (legs > 0) & (raised == 0)
    assert on_legs[near].mean() > 0.95, f"the trousers round the hand: only {on_legs[near].mean():.0%}"
    under = hand & (legs > 0) & (raised == 0)
    assert on_legs[under].mean() > 0.9, f"the trousers where the hand was: only {on_legs[under].mean():.0%}"
    up = np.zeros((400, 240), np.uint8)  # round the raised hand
    cv2.circle(up, tuple(np.round(target.point("r_wrist") + (target.point("r_wrist") - target.point("r_elbow"))
                                  * 0.4).astype(int)), int(0.2 * ts), 1, -1)
    assert (on_legs & (up > 0)).sum() < 5, f"{(on_legs & (up > 0)).sum()} pixels of the trousers round the raised hand"


def _long_haired(arms=(225, 180, 150), strand=True):
    """A painted person (240x400) with a face in brown hair, bare arms (or sleeves of ``arms``'s colour) and, with
    ``strand``, a strand of the hair from beside the face down over the right shoulder to a third of the upper arm.
    (pose, image, mask, the strand, the hair's own colour)."""
    from engine.encode import segment_distance

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    img, mask, _, _ = painted_on_wall(p, 0.1)
    skin, brown = np.array((225, 180, 150)), np.array((120, 75, 40))
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    for a, b in ARMS:
        on = segment_distance(xs, ys, p.point(a), p.point(b)) <= 0.07 * ts
        img[on], mask[on] = arms, 1
    nose, r = p.point("nose"), 0.25 * ts
    hair = np.clip(brown * (1 + 0.25 * np.sin(xs * 1.3 + ys * 0.4))[..., None], 0, 255).astype(np.uint8)  # streaks
    head = np.hypot(xs - nose[0], ys - nose[1]) <= r
    img[head] = hair[head]
    img[(np.hypot(xs - nose[0], (ys - nose[1]) * 0.8) <= 0.6 * r) & (ys > nose[1] - 0.5 * r)] = skin  # the face
    sh, el = p.point("r_shoulder"), p.point("r_elbow")
    lock = np.zeros((400, 240), bool)
    if strand:
        lock = segment_distance(xs, ys, np.array([nose[0] - 0.75 * r, nose[1]]), sh + 0.35 * (el - sh)) <= 0.09 * ts
        img[lock], mask[lock] = hair[lock], 1
    return p, img, mask.astype(np.float32), lock & (ys > nose[1] + r), brown


def test_a_strand_of_hair_over_the_shoulder_stays_with_the_head_when_the_arm_is_raised():
    # Long hair falling over a shoulder lies within the upper arm's reach of its bone: labelled by the nearest bone
    # it was the arm's and the torso's, and went up with the raised arm (the torso's share round the shoulder in
    # the arm's joint disc), a blob of hair swung round the shoulder and the strand cut. It is the head's: it stays.
    import cv2

    from engine.backends.warp_parts import own_labels

    p, img, mask, below, brown = _long_haired()  # below: the strand below the head, over the shoulder and arm
    labels = own_labels(img, p, mask)
    assert (labels[below] == 1).mean() > 0.95, f"only {(labels[below] == 1).mean():.0%} of the strand is the head's"
    # the arm raised beside the head: the strand stays where it hung, and no hair goes up with the arm
    ts = torso_size(p)
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(wr - el)))
    target = p.moved("r_elbow", sh[0] - 0.5 * up, sh[1] - 0.85 * up)
    target = target.moved("r_wrist", sh[0] - 0.6 * up, sh[1] - 0.85 * up - fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask]), target).astype(int)
    raised = np.zeros((400, 240), np.uint8)
    for a, b_ in ((sh, target.point("r_elbow")), (target.point("r_elbow"), target.point("r_wrist"))):
        cv2.line(raised, tuple(np.round(a).astype(int)), tuple(np.round(b_).astype(int)), 1, int(round(0.2 * ts)))
    hung = below & (raised == 0)
    kept = np.abs(out - img.astype(int)).max(axis=2) < 40
    assert kept[hung].mean() > 0.9, f"only {kept[hung].mean():.0%} of the strand stayed where it hung"
    hair = (labels == 1) | below
    away = cv2.dilate(hair.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    flying = (np.abs(out - brown).max(axis=2) < 50) & away
    assert flying.sum() < 20, f"{flying.sum()} pixels of hair away from where the hair was"


def test_sleeves_of_the_hairs_colour_stay_the_arms():
    # the arm's own colour is not hair, however like the hair it is: sleeves of the hair's brown, the strand of
    # hair lying on one, stay the arms' (the strand with them: nothing tells the two apart)
    from engine.backends.warp_parts import part_labels
    from engine.hair import hair_to_head
    from engine.part_colours import arms_by_colour

    p, img, mask, strand, _ = _long_haired(arms=(120, 75, 40))
    labels = arms_by_colour(part_labels(p, mask), img, p)
    sleeves = np.isin(labels, [3, 4, 5, 6]) & ~strand
    assert sleeves.sum() > 1000
    assert (hair_to_head(labels, img, p)[sleeves] == 1).sum() == 0


def test_a_bare_hand_below_a_sleeve_goes_up_with_the_arm():
    # Sleeves of the shirt's cloth, bare hands resting against the hips, the skin of a V-neck on the torso: the
    # hand is not the sleeve's colour and is one of the torso's, so the colour rule (arms_by_colour) gave it to
    # the torso, and a raised arm left its hand at the hip (fashion-real/20). A piece mostly in the hand's region
    # whose colour is not the torso's main one is the hand: it goes up with the arm.
    import cv2

    from engine.parsing import hand_ellipse

    p = fit_preset("standing", 240, 400)
    p = p.moved("r_wrist", p.point("r_hip")[0] - 4, p.point("r_wrist")[1] + 4) \
        .moved("l_wrist", p.point("l_hip")[0] + 4, p.point("l_wrist")[1] + 4)
    ts = torso_size(p)
    img, mask, quad, pt = painted_on_wall(p, 0.16)
    img[np.all(img == SLEEVE, axis=2)] = SHIRT
    skin = np.array((225, 180, 150), np.uint8)
    rs, ls = p.point("r_shoulder"), p.point("l_shoulder")
    neck = np.round([rs * 0.75 + ls * 0.25, ls * 0.75 + rs * 0.25, (rs + ls) / 2 + [0, 0.6 * ts]]).astype(np.int32)
    cv2.fillConvexPoly(img, neck, skin.tolist())
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    hands = {}
    for side in "rl":  # the hand: its region (parsing.hand_ellipse) beyond the sleeve's end at the wrist
        el, wr = J[f"{side}_elbow"], J[f"{side}_wrist"]
        u = p.xy[wr] - p.xy[el]
        beyond = (xs - p.xy[wr][0]) * u[0] + (ys - p.xy[wr][1]) * u[1] > 0.05 * (u @ u)
        hands[side] = (hand_ellipse(p, el, wr, ts, xs, ys) < 1.0) & beyond
        img[hands[side]], mask[hands[side]] = skin, 1
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(wr - el)))
    target = p.moved("r_elbow", sh[0] - up, sh[1]).moved("r_wrist", sh[0] - up, sh[1] - fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
    on_skin = np.abs(out - skin.astype(int)).sum(axis=2) < 60
    left = on_skin & hands["r"]
    assert left.sum() < 0.05 * hands["r"].sum(), f"{left.sum()} of the hand's {hands['r'].sum()} pixels stayed"
    assert on_skin[hands["l"]].mean() > 0.95  # the other hand did not move: the photo's
    # the raised hand is drawn, beyond the raised wrist
    tw, te = target.point("r_wrist"), target.point("r_elbow")
    raised = np.zeros((400, 240), np.uint8)
    cv2.circle(raised, tuple(np.round(tw + 0.35 * (tw - te)).astype(int)), int(round(0.06 * ts)), 1, -1)
    assert on_skin[raised > 0].mean() > 0.5


def test_a_hand_raised_from_beside_the_hip_leaves_no_outline_of_itself():
    # A bare arm hanging against the shirt's side, its hand found: the torso reaches under the arm's edge, and its
    # soft edge past that showed the photo's pixels there, the hand's and arm's skin, as an outline at the hip
    # after the arm was raised (fashion-real/45). Where a layer reaches under a part that moves it shows its own
    # colours.
    import cv2

    from engine.encode import segment_distance

    p = fit_preset("standing", 240, 400)
    p = p.moved("r_wrist", p.point("r_wrist")[0] + 20, p.point("r_wrist")[1])  # the hand against the hip
    ts = torso_size(p)
    img, mask, _, _ = painted_on_wall(p, 0.1)
    skin = np.array((225, 180, 150))
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    for a, b in ARMS:
        on = segment_distance(xs, ys, p.point(a), p.point(b)) <= 0.07 * ts
        img[on], mask[on] = skin, 1
    seen = Pose(p.xy, p.present, 240, 400, p.confidence,
                {J["r_wrist"]: painted_hand(p, "r", img, mask, tuple(int(v) for v in skin))})
    sh, el = p.point("r_shoulder"), p.point("r_elbow")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(p.point("r_wrist") - el)))
    target = seen.moved("r_elbow", sh[0] - up, sh[1]).moved("r_wrist", sh[0] - up, sh[1] - fore)
    b = WarpBackend()
    soft = cv2.GaussianBlur(mask.astype(np.float32), (5, 5), 0)  # a segmentation's soft edge
    out = b.render(b.encode_sources([img], [seen], [soft]), target).astype(int)
    raised = np.zeros((400, 240), np.uint8)
    for a_, b_ in ARMS[:2]:
        cv2.line(raised, tuple(np.round(target.point(a_)).astype(int)), tuple(np.round(target.point(b_)).astype(int)),
                 1, int(round(0.5 * ts)))
    cv2.circle(raised, tuple(np.round(target.point("r_wrist")).astype(int)), int(0.6 * ts), 1, -1)
    left = (np.abs(out - skin).sum(axis=2) < 90) & (raised == 0) & (xs < 120)  # the right side, less the arm
    assert left.sum() < 10, f"{left.sum()} skin-coloured pixels left where the arm hung"


def test_a_layer_shows_its_own_colours_wherever_it_can_show():
    # A layer reaching under what is in front of it is drawn there in its own colours, spread from its pixels; past
    # the spread's reach they were black: the thigh's under a hand resting on it (a dark arc where the hand had
    # been, fashion-real/7, 14) and the torso's soft edge under the chin (a faint dark line when the head turned).
    # A painted person, no pixel darker than the trousers (sum 280) anywhere.
    import cv2

    from engine.backends.warp_parts import layers_for, own_labels

    _, seen, img, mask, _, _ = _hand_on_the_trousers()
    soft = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0)
    layers = layers_for(img, seen, own_labels(img, seen, soft))
    for name, layer in zip(PART_NAMES, layers):
        if layer is None:
            continue
        shown = layer.alpha + layer.ring > 0.05
        dark = (layer.fill.sum(axis=2) < 270) & shown
        assert not dark.any(), f"{name}: {dark.sum()} black pixels where the layer can show"


def _hand_by_the_thigh(dx: float, cut_left: int = 0):
    """A painted person in grey trousers, the right hand (its landmarks found) moved ``dx`` pixels towards the body
    from beside the right thigh; the photo cut ``cut_left`` pixels from the left. (the parts under the hand as the
    warp engine finds them, the painted body (trousers and shirt) as a mask)."""
    import cv2

    from engine.backends.warp_parts import own_labels
    from engine.backends.warp_hands import behind_hands
    from engine.encode import segment_distance

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    hip, knee, el = p.point("r_hip"), p.point("r_knee"), p.point("r_elbow")
    x = min(hip[0], knee[0]) - 0.15 * ts - 0.12 * ts + dx  # the forearm hanging straight down beside the thigh
    p = p.moved("r_elbow", x, el[1]).moved("r_wrist", x, el[1] + 0.6 * ts)
    img, mask, quad, pt = painted_on_wall(p, 0.1)
    body = filled(quad, (400, 240))
    for a, b in (("r_hip", "r_knee"), ("l_hip", "l_knee"), ("r_knee", "r_ankle"), ("l_knee", "l_ankle")):
        cv2.line(body, pt(a), pt(b), 1, int(round(0.3 * ts)))
    img[(body > 0) & np.all(img != SHIRT, axis=2)], mask[body > 0] = (90, 90, 100), 1
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    for a, b in (("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist")):
        on = segment_distance(xs, ys, p.point(a), p.point(b)) <= 0.06 * ts
        img[on], mask[on] = (225, 180, 150), 1
    hand = painted_hand(p, "r", img, mask, (225, 180, 150))
    img, mask, body = img[:, cut_left:], mask[:, cut_left:], body[:, cut_left:]
    seen = Pose(p.xy - (cut_left, 0), p.present, img.shape[1], 400, p.confidence,
                {J["r_wrist"]: hand - (cut_left, 0)})
    labels = own_labels(img, seen, cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0))
    return behind_hands(seen, labels, (0, 0), 3), body > 0


def test_the_body_goes_on_under_a_hand_across_its_edge_and_nowhere_else():
    # A hand across the thigh's outer edge, half on the wall (no one part holds 60% of its outline): its place
    # showed the wall cut into the trousers when it was raised; the body now goes on under it where the body's
    # outline closes over it, inside the trousers. A hand hanging beside the straight edge grows no trousers into
    # the air, nor does one by the photo's edge (a closing that took the edge for body made the hand a "glove"
    # of trousers)
    across, body = _hand_by_the_thigh(14)
    piece = np.any([m for m in across.values()], axis=0) if across else np.zeros((400, 240), bool)
    assert piece.sum() >= 30, f"only {piece.sum()} pixels of the notch filled"
    assert body[piece].mean() > 0.9, f"{(piece & ~body).sum()} of {piece.sum()} pixels grown past the body"
    beside, _ = _hand_by_the_thigh(0)
    assert not beside, {k: int(v.sum()) for k, v in beside.items()}
    for cut in (20, 40):
        at_edge, _ = _hand_by_the_thigh(0, cut)
        assert not at_edge, (cut, {k: int(v.sum()) for k, v in at_edge.items()})


def test_an_arm_raised_over_the_head_takes_no_disc_of_shirt_from_the_shoulder():
    # The upper arm's joint discs took the shirt round the shoulder joint; an arm turned far about it swung that
    # disc out under the raised arm as a round blob of shirt in the air
    import cv2

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    img, mask, quad, pt = painted_on_wall(p, 0.1)
    sh = p.point("r_shoulder")
    up, fore = (float(np.hypot(*(p.point(b) - p.point(a)))) for a, b in (("r_shoulder", "r_elbow"),
                                                                          ("r_elbow", "r_wrist")))
    el = sh + up * np.array([-0.7, -0.71])  # up and out, 135 degrees from hanging
    target = p.moved("r_elbow", *el).moved("r_wrist", el[0] + 0.2 * fore, el[1] - 0.98 * fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
    body = cv2.dilate(filled(quad, (400, 240)), np.ones((9, 9), np.uint8))
    cv2.circle(body, pt("nose"), int(round(0.3 * ts)), 1, -1)
    shirt = (np.abs(out - np.array(SHIRT)).sum(axis=2) < 60) & (body == 0)  # the sleeves are not the shirt's
    assert shirt.sum() < 10, f"{shirt.sum()} pixels of shirt in the air beside the raised arm"


THIGH_TROUSERS = (120, 120, 130)


def forearm_along_the_thigh(sleeve: float):
    """A painted person (240x400) whose right forearm, in a sleeve ``sleeve`` torso sizes wide, hangs in front of
    the right thigh's grey trousers: (pose, image, mask, elbow, wrist, torso size)."""
    import cv2

    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    hip, knee = p.point("r_hip"), p.point("r_knee")
    el, wr = hip + 0.05 * (knee - hip), hip + 0.75 * (knee - hip)
    p = p.moved("r_elbow", *el).moved("r_wrist", *wr)
    img = np.full((400, 240, 3), WALL, np.uint8)
    mask = np.zeros((400, 240), np.uint8)

    def pt(v):
        return tuple(np.round(v).astype(int))
    quad = np.round(p.xy[[J["r_shoulder"], J["l_shoulder"], J["l_hip"], J["r_hip"]]]).astype(np.int32)
    for m, c in ((mask, 1), (img, SHIRT)):
        cv2.fillConvexPoly(m, quad, c)
        cv2.circle(m, pt(p.point("nose")), int(round(0.25 * ts)), c, -1)
    legs = (("r_hip", "r_knee"), ("l_hip", "l_knee"), ("r_knee", "r_ankle"), ("l_knee", "l_ankle"))
    for (a, b), c, wide in [(bone, THIGH_TROUSERS, 0.45) for bone in legs] + [(bone, SLEEVE, sleeve) for bone in ARMS]:
        cv2.line(img, pt(p.point(a)), pt(p.point(b)), c, int(round(wide * ts)))
        cv2.line(mask, pt(p.point(a)), pt(p.point(b)), 1, int(round(wide * ts)))
    return p, img, mask, el, wr, ts


def test_a_forearm_raised_from_along_the_thigh_leaves_the_trousers():
    # A forearm hanging in front of the thigh, its sleeve wider than an arm's reach from its bone (a sleeve blurred by
    # a move is): raised, its place showed the wall between two dark lines, the sleeve's edges, which were the
    # thigh's (dance frame 132). The sleeve's edge is the arm's (part_colours.arms_take_their_sleeves) and the thigh
    # goes on under the arm: where the forearm hung is trousers.
    import cv2

    for sleeve in (0.22, 0.28):
        p, img, mask, el, wr, ts = forearm_along_the_thigh(sleeve)
        trousers = np.array(THIGH_TROUSERS)
        target = raised_straight_up(p)
        b = WarpBackend()
        out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
        # where the forearm hung, from a third of the way down it (its top meets the hip, where the thigh's outline
        # is open upwards) to short of the hand (the hand's place is what it rests on, tested apart)
        u = (wr - el) / np.hypot(*(wr - el))
        v = np.array([-u[1], u[0]]) * sleeve * ts / 2
        a0, a1 = el + 0.35 * (wr - el), wr - 0.1 * (wr - el)
        hung = np.zeros((400, 240), np.uint8)
        cv2.fillConvexPoly(hung, np.round([a0 - v, a0 + v, a1 + v, a1 - v]).astype(np.int32), 1)
        hung = hung > 0
        like = np.abs(out - trousers).max(axis=2) < 25
        assert like[hung].mean() > 0.97, f"sleeve {sleeve}: only {like[hung].mean():.0%} of its place is trousers"
