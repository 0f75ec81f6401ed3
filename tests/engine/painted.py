"""People painted on a wall for the warp tests: a shirt, sleeves over the arms' bones, a head disc."""
import numpy as np

from engine.encode import torso_size
from engine.pose import J


WALL, SHIRT, SLEEVE = (225, 225, 230), (60, 90, 200), (30, 30, 40)
ARMS = (("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"))


def painted_on_wall(p, sleeve, shirt_shapes=(), legs=False):
    """A person painted on a wall for pose ``p`` (240x400): a shirt over the shoulders-hips quad (and
    ``shirt_shapes``, convex polygons), a head disc, sleeves ``sleeve`` torso sizes wide over the arms' bones,
    grey thighs with ``legs``. (image, mask, the quad, a joint's integer point)."""
    import cv2

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
    import cv2

    m = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(m, quad, 1)
    return m
