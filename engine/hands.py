"""The hands of a detected pose: mediapipe's hand landmark model (21 points a hand, fingertips included), run on a
crop round each wrist the pose has.

The body model's wrist says where a hand starts, not where it ends nor how wide it is; the warp engine's parts
took the hand as an ellipse beyond the wrist, and with it the trousers or the thigh beside a hanging hand (they
went up with a raised arm and left a hand-shaped gap at the hip). With the landmarks the hand is its fingers and
palm (``hand_measure``, which ``engine.parsing`` uses). Landmarks belong to the wrist they were found at:
``Pose`` drops a side's when its wrist or elbow moves, and ``keep_hands`` gives an edited pose those of the
detection whose wrists it kept.

The model ships inside the mediapipe wheel (modules/hand_landmark, palm_detection): nothing is downloaded.
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import inside_convex, segment_distance
from .pose import J, Pose

CROP_PX = 256  # the crop round a wrist is resized to this (the palm detector's input is 192)
# half the crop's side, in forearm lengths, centred a third of a forearm past the wrist; where the first finds no
# hand, the second, wider: the model missed a hand on a hip filling the first crop (fashion-real/7), and of the
# 97 wrists of fashion-real it finds 70 with both, 64 with the first alone (1.6 and 1.8 found fewer)
CROP_FOREARMS = (1.3, 2.0)
MIN_FOREARM_PX = 8.0  # a smaller arm's hand is a few pixels: no landmarks are looked for
WRIST_MATCH = 0.4  # of the forearm: how near the pose's wrist the landmarks' wrist must be
IN_MASK = 0.6  # the share of a hand's landmarks the person mask must hold (a hand found on the wall is not)
SIDES = (("r_elbow", "r_wrist"), ("l_elbow", "l_wrist"))
# mediapipe's hand: the wrist (0), four joints a finger from the thumb (1-4) to the little finger (17-20)
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
              (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))
PALM = (0, 1, 5, 9, 13, 17)
FINGER = 0.14  # a finger's half-width, of the palm's length (wrist to the middle finger's knuckle)
HAND_RIM_PX = 2.5  # and this many pixels more: the hand's soft edge and the landmarks' error (a rim left at the hip)
# or this much of the palm's length where that is more: both grow with the hand's size in pixels (a 256-pixel
# photo's palm is ~10 pixels, where the 2.5 pixels hold; enlarged 12 times, a fixed rim left the fingers' edges
# at the hip when the arm was raised)
RIM_OF_PALM = 0.2


def hand_measure(landmarks: np.ndarray, xs: np.ndarray, ys: np.ndarray, with_rim: bool = True) -> np.ndarray:
    """Each point's place in the hand its 21 ``landmarks`` give (< 1 inside): inside the palm 0, else the
    distance to the nearest bone of a finger or of the palm's outline over a finger's half-width (FINGER of the
    palm's length, or a fifth of the knuckles' width seen palm on), and ``with_rim`` its rim (HAND_RIM_PX or
    RIM_OF_PALM, whichever is more): without it, the fingers and palm alone."""
    pts = landmarks.astype(np.float64)
    palm_length = float(np.hypot(*(pts[0] - pts[9])))
    knuckles = float(np.hypot(*(pts[5] - pts[17])))
    rim = max(HAND_RIM_PX, RIM_OF_PALM * palm_length) if with_rim else 0.0
    half = max(FINGER * palm_length, knuckles / 5, 0.5) + rim
    out = np.full(np.shape(xs), 2.0, np.float32)
    (x0, y0), (x1, y1) = pts.min(0) - half, pts.max(0) + half
    near = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)  # only the hand's box is measured
    if near.any():
        px, py = xs[near], ys[near]
        d = np.min([segment_distance(px, py, pts[i], pts[j]) for i, j in HAND_BONES], axis=0) / half
        hull = cv2.convexHull(pts[list(PALM)].astype(np.float32))[:, 0, :].astype(np.float64)
        if len(hull) >= 3:
            d = np.where(inside_convex(hull, px, py), 0.0, d)
        out[near] = d
    return out


class HandFinder:
    """Finds the hands of a pose in its photo. Not re-entrant (one mediapipe graph): one per thread, or behind
    the caller's lock (PoseDetector holds it)."""

    def __init__(self):
        from .detect import native_stderr_silenced

        with native_stderr_silenced():
            import mediapipe as mp

            self._graph = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=1,
                                                   min_detection_confidence=0.3)

    def close(self) -> None:
        from .detect import native_stderr_silenced

        with native_stderr_silenced():
            self._graph.close()

    def find(self, image: np.ndarray, pose: Pose, mask: np.ndarray | None = None) -> dict[int, np.ndarray]:
        """{wrist joint index: (21, 2) float32 landmarks in the photo's pixels} for each hand found at a wrist of
        ``pose`` (whose elbow is present too): its landmarks' wrist within WRIST_MATCH of a forearm of that wrist
        and nearer it than the other wrist, and IN_MASK of its landmarks on the person (``mask`` >= 0.5)."""
        out = {}
        for el_name, wr_name in SIDES:
            el, wr = J[el_name], J[wr_name]
            if not (pose.present[el] and pose.present[wr]):
                continue
            fore = pose.xy[wr].astype(np.float64) - pose.xy[el]
            length = float(np.hypot(*fore))
            if length < MIN_FOREARM_PX:
                continue
            for forearms in CROP_FOREARMS:
                found = self._find_one(image, pose, mask, wr, pose.xy[wr] + 0.35 * fore, forearms * length, length)
                if found is not None:
                    out[wr] = found
                    break
        return out

    def _find_one(self, image, pose: Pose, mask, wr: int, centre, half: float, length: float):
        """The landmarks of the hand at wrist ``wr`` in the crop of half-side ``half`` round ``centre``, or None."""
        from .detect import native_stderr_silenced

        h, w = image.shape[:2]
        # the crop as an affine map (photo -> crop): the photo's edge is replicated, as the detector pads
        scale = CROP_PX / (2 * half)
        m = np.array([[scale, 0, CROP_PX / 2 - scale * centre[0]], [0, scale, CROP_PX / 2 - scale * centre[1]]])
        crop = cv2.warpAffine(image, m, (CROP_PX, CROP_PX), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        with native_stderr_silenced():
            result = self._graph.process(np.ascontiguousarray(crop))
        other = J["l_wrist"] if wr == J["r_wrist"] else J["r_wrist"]
        best = None
        for found in result.multi_hand_landmarks or ():
            pts = np.array([(q.x * CROP_PX, q.y * CROP_PX) for q in found.landmark], np.float64)
            pts = ((pts - m[:, 2]) / scale).astype(np.float32)  # back to the photo's pixels
            d = float(np.hypot(*(pts[0] - pose.xy[wr])))
            if d > WRIST_MATCH * length or best is not None and d >= best[0]:
                continue
            if pose.present[other] and float(np.hypot(*(pts[0] - pose.xy[other]))) < d:
                continue  # the other hand, in this crop too
            if mask is not None:
                xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
                yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
                if (mask[yi, xi] >= 0.5).mean() < IN_MASK:
                    continue
            best = (d, pts)
        return None if best is None else best[1]


def keep_hands(pose: Pose, detected: Pose | None) -> Pose:
    """``pose`` (an edit of ``detected``'s photo) with the landmarks of ``detected``'s hands whose wrist and elbow
    it has where the detection put them; the others' are dropped (they belong to where the detector saw them)."""
    out = pose.copy()
    out.hands = {}
    for wr, pts in ((detected.hands if detected is not None else None) or {}).items():
        el = J["r_elbow"] if wr == J["r_wrist"] else J["l_elbow"]
        if all(pose.present[j] and detected.present[j] and np.allclose(pose.xy[j], detected.xy[j], atol=0.5)
               for j in (el, wr)):
            out.hands[wr] = pts.copy()
    return out
