"""People painted on a wall for the warp tests: a shirt, sleeves over the arms' bones, a head disc; one holding
a ball the segmentation saw part of."""
import cv2
import numpy as np

from engine.encode import torso_size
from engine.pose import J, Pose
from engine.presets import fit_preset

WALL, SHIRT, SLEEVE, BALL = (225, 225, 230), (60, 90, 200), (30, 30, 40), (230, 110, 40)
ARMS = (("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"))


def painted_on_wall(p, sleeve, shirt_shapes=(), legs=False):
    """A person painted on a wall for pose ``p`` (240x400): a shirt over the shoulders-hips quad (and
    ``shirt_shapes``, convex polygons), a head disc, sleeves ``sleeve`` torso sizes wide over the arms' bones,
    grey thighs with ``legs``. (image, mask, the quad, a joint's integer point)."""
    ts = torso_size(p)
    img = np.full((400, 240, 3), WALL, np.uint8)
    mask = np.zeros((400, 240), np.uint8)
    pt = lambda name: tuple(np.round(p.point(name)).astype(int))  # noqa: E731
    quad = np.round(p.xy[[J["r_shoulder"], J["l_shoulder"], J["l_hip"], J["r_hip"]]]).astype(np.int32)
    for m, c in ((mask, 1), (img, SHIRT)):
        cv2.fillConvexPoly(m, quad, c)
        for shape in shirt_shapes:
            cv2.fillConvexPoly(m, shape, c)
        cv2.circle(m, pt("nose"), int(round(0.25 * ts)), c, -1)
    bones = ARMS + ((("r_hip", "r_knee"), ("l_hip", "l_knee")) if legs else ())
    for a, b in bones:
        for m, c in ((mask, 1), (img, SLEEVE if "hip" not in a else (90, 90, 90))):
            cv2.line(m, pt(a), pt(b), c, int(round(sleeve * ts)))
    return img, mask, quad, pt


def filled(quad, shape):
    m = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(m, quad, 1)
    return m


def person_holding_ball(ball: bool, seen: float, seen_as: float = 1.0, colour=BALL):
    """A person on a wall (240x400), the left forearm held out with a ball at the hand (when ``ball``), the
    segmentation having seen the ball's top ``seen`` only (a fraction of its height), at ``seen_as``. (pose,
    image, mask, the ball's disc, its centre, its radius)."""
    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    wrist = p.point("l_elbow") + np.array([0.3, 0.35]) * ts
    p = p.moved("l_wrist", *wrist)
    img, mask, _, _ = painted_on_wall(p, 0.2)
    mask = mask.astype(np.float32)
    legs = [J[n] for n in ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle")]
    present = p.present.copy()
    present[legs] = False  # the legs not found, as in test_warp_parts' ball held beside the body
    p = Pose(p.xy.copy(), present, 240, 400, p.confidence.copy())
    centre, r = wrist + np.array([0.0, 0.25]) * ts, int(0.27 * ts)
    disc = np.zeros((400, 240), np.uint8)
    cv2.circle(disc, tuple(np.round(centre).astype(int)), r, 1, -1)
    if ball:
        img[disc > 0] = colour
        rows = np.arange(400)[:, None] < centre[1] - r + seen * 2 * r
        mask[(disc > 0) & rows] = seen_as
    return p, img, mask, disc > 0, centre, r


def painted_hand(p, side, img, mask, colour):
    """A hand painted beyond ``side``'s wrist along its forearm (fingers together, palm on), and its 21 landmarks
    as mediapipe numbers them ((21, 2) float32), as the detector's hand model would give them."""
    from engine.hands import HAND_BONES, PALM

    w, e = p.point(f"{side}_wrist").astype(np.float64), p.point(f"{side}_elbow").astype(np.float64)
    fore = float(np.hypot(*(w - e)))
    u = (w - e) / fore
    v = np.array([-u[1], u[0]])
    gap = 0.08 * fore  # between two fingers' bases
    pts = np.zeros((21, 2))
    pts[0] = w
    for j, t in enumerate((0.3, 0.55, 0.8, 1.0)):  # the thumb, from beside the wrist outwards
        pts[1 + j] = w + u * 0.35 * fore * t + v * gap * (1.5 + 1.2 * t)
    for f, off in enumerate((1.5, 0.5, -0.5, -1.5)):  # index to little finger: base, then three joints
        base = w + u * 0.4 * fore + v * gap * off
        pts[5 + 4 * f] = base
        for j in range(1, 4):
            pts[5 + 4 * f + j] = base + u * 0.11 * fore * j
    width = max(1, int(round(0.9 * gap)))
    for m, c in ((mask, 1), (img, colour)):
        for i, j in HAND_BONES:
            cv2.line(m, tuple(np.round(pts[i]).astype(int)), tuple(np.round(pts[j]).astype(int)), c, width)
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(pts[list(PALM)]).astype(np.int32)), c)
    return pts.astype(np.float32)


def raised_straight_up(p, side: str = "r"):
    """``p`` with ``side``'s arm raised straight up from its shoulder, its bones' lengths kept."""
    sh, el, wr = p.point(f"{side}_shoulder"), p.point(f"{side}_elbow"), p.point(f"{side}_wrist")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(wr - el)))
    return p.moved(f"{side}_elbow", sh[0], sh[1] - up).moved(f"{side}_wrist", sh[0], sh[1] - up - fore)


def raised_from_the_side(wide: float):
    """The standing person painted with sleeves ``wide`` torso sizes wide, its right arm raised straight up, drawn by
    the warp engine: (pose, target, image, mask, the shirt's quad, a joint's integer point, the render as int)."""
    from engine.backends.warp import WarpBackend

    p = fit_preset("standing", 240, 400)
    img, mask, quad, pt = painted_on_wall(p, wide)
    target = raised_straight_up(p)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), target).astype(int)
    return p, target, img, mask, quad, pt, out
