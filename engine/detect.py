"""Pose detection on mediapipe's BlazePose, offline.

mediapipe 0.10.21 ships the BlazePose detector and the full landmark model (model_complexity=1) inside its
wheel, so nothing is downloaded; complexities 0 and 2 would try to download and are never used here.
BlazePose finds one person, the most prominent one, which is what the editor wants.

Small photos (Market-1501's 64x128) defeat BlazePose's person detector when passed as they are, so a photo
the first pass finds nobody in is retried padded to a square with a margin and enlarged: on the shared
Market photos this lifts detection from 7/20 to 16/20.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import NoPersonError, PoseEditorError
from .pose import J, NUM_JOINTS, Pose

# BlazePose landmark index for each COCO-18 joint (-1: computed, the neck is the shoulders' midpoint).
BLAZEPOSE_TO_COCO18 = (0, -1, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
VISIBILITY_THRESHOLD = 0.5
MIN_JOINTS = 4  # fewer present joints than this is "no person", not a pose
BOX_MARGIN = 0.15  # a user's box around a person is grown by this share of its longer side before detection
MIN_BOX_SIDE = 8


_SILENCE = threading.Lock()
_silenced = {"depth": 0, "saved": None, "python_stderr": None, "own": None}


@contextlib.contextmanager
def native_stderr_silenced():
    """mediapipe's C++ side prints TensorFlow Lite / absl notices straight to file descriptor 2, some of them
    from its graph threads at any moment until the graph is closed; they mean nothing to a user of the CLI.
    Point fd 2 at /dev/null for the duration, while Python's own sys.stderr keeps writing to the real stderr
    (errors are raised as exceptions, so nothing useful is lost). A CLI wraps a detector's whole life in it;
    each detector call is wrapped too. POSEEDITOR_DEBUG=1 shows everything.

    fd 2 and sys.stderr belong to the whole process and the app detects in one thread while others run:
    the redirection is counted (the first entry makes it, the last exit undoes it, under a lock), and the
    Python-level stream that stands in for stderr meanwhile is never closed while another thread may hold it."""
    if os.environ.get("POSEEDITOR_DEBUG"):
        yield
        return
    st = _silenced
    with _SILENCE:
        if st["depth"] == 0:
            try:
                sys.stderr.flush()
                st["saved"] = os.dup(2)
            except (OSError, ValueError, AttributeError):  # no real fd 2 (some GUI launchers): nothing to hide
                st["saved"] = None
            if st["saved"] is not None:
                st["python_stderr"] = sys.stderr
                try:
                    if sys.stderr.fileno() == 2:
                        if st["own"] is None:  # one stand-in for the process's life: never closed under a writer
                            st["own"] = open(os.dup(st["saved"]), "w", buffering=1, encoding=sys.stderr.encoding,
                                             errors="backslashreplace")
                        sys.stderr = st["own"]
                except (OSError, ValueError, AttributeError):  # a replaced sys.stderr (a test's capture): leave it
                    pass
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
        st["depth"] += 1
    try:
        yield
    finally:
        with _SILENCE:
            st["depth"] -= 1
            if st["depth"] == 0 and st["saved"] is not None:
                if st["own"] is not None:
                    st["own"].flush()
                os.dup2(st["saved"], 2)
                os.close(st["saved"])
                st["saved"] = None
                if sys.stderr is st["own"]:
                    sys.stderr = st["python_stderr"]


@dataclass
class Detection:
    pose: Pose
    mask: np.ndarray  # (H, W) float32 in 0..1, the person's segmentation
    score: float      # mean visibility of the present joints


class PoseDetector:
    """Detects the most prominent person. One instance per thread (mediapipe graphs are not re-entrant)."""

    def __init__(self, min_confidence: float = 0.5, hands: bool = True):
        """``hands``: also find the hand landmarks at the pose's wrists (``Pose.hands``, engine.hands), which the
        warp engine's parts use; a detector that only measures joints (PCKh) does without."""
        with native_stderr_silenced():
            import mediapipe as mp  # heavy import: only when a detector is built

        self._mp_pose = mp.solutions.pose
        with native_stderr_silenced():
            self._graph = self._mp_pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                             min_detection_confidence=min_confidence)
        self._hands = None
        if hands:
            from .hands import HandFinder

            self._hands = HandFinder()
        self._lock = threading.Lock()

    def close(self) -> None:
        with native_stderr_silenced():
            self._graph.close()
        if self._hands is not None:
            self._hands.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self, rgb: np.ndarray):
        # every call: the notices come whenever a model first runs (the landmark model only once a person
        # box is found, in any attempt) and with every frame whose landmarks are projected back
        with self._lock, native_stderr_silenced():
            return self._graph.process(np.ascontiguousarray(rgb))

    def detect(self, image: np.ndarray, name: str = "photo") -> Detection:
        """Return the pose and mask of the most prominent person; NoPersonError when there is none."""
        return self._with_hands(image, self._detect(image, name))

    def _with_hands(self, image: np.ndarray, det: Detection) -> Detection:
        if self._hands is not None:
            with self._lock:
                det.pose.hands = self._hands.find(image, det.pose, det.mask)
        return det

    def _detect(self, image: np.ndarray, name: str) -> Detection:
        h, w = image.shape[:2]
        attempts = []
        # 1. as it is, enlarged when small (BlazePose works on ~256 px crops internally)
        s = max(1.0, 384.0 / max(h, w))
        attempts.append((0, 0, s))
        # 2. padded to a square with a margin, enlarged: rescues small, tight crops. BlazePose first finds a
        #    person box; a small, soft person filling the whole photo (Market-1501's 64x128) often needs a wide
        #    margin for it (the shared Market photos: 19 of 56 found with 1.5x, 52 with 2x and 2.5x added)
        for pad, canvas in ((1.5, 512.0), (2.0, 512.0), (2.5, 640.0)):
            side = int(max(h, w) * pad)
            attempts.append(((side - w) // 2, (side - h) // 2, max(1.0, canvas / side)))
        for pad_x, pad_y, scale in attempts:
            canvas = image
            if pad_x or pad_y:
                canvas = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
            if scale != 1.0:
                canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            result = self._run(canvas)
            if result.pose_landmarks is None:
                continue
            det = self._to_detection(result, canvas.shape, pad_x, pad_y, scale, w, h)
            if det.pose.count >= MIN_JOINTS:
                return det
        # 3. small people in a large frame (a street): BlazePose's detector misses a person a few percent of
        #    the frame's height, and finds them in a tile around them (a 640x360 street with 75 px people:
        #    nobody in the whole frame, all three in half-height tiles). The best-seen person wins.
        best = None
        for x0, y0, side in _tiles(h, w):
            result = self._run(np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side]))
            if result.pose_landmarks is None:
                continue
            det = self._to_detection(result, (side, side), 0, 0, 1.0, side, side)
            if det.pose.count >= MIN_JOINTS and (best is None or det.score * det.pose.count > best[0]):
                best = (det.score * det.pose.count, det, x0, y0)
        if best is not None:
            _, det, x0, y0 = best
            mask = np.zeros((h, w), np.float32)
            mask[y0:y0 + det.mask.shape[0], x0:x0 + det.mask.shape[1]] = det.mask
            return Detection(_pose_in_photo(det.pose, x0, y0, w, h), mask, det.score)
        raise NoPersonError(f"{name}: no person found (place the skeleton by hand, or use another photo)")

    def detect_in_box(self, image: np.ndarray, box, name: str = "photo") -> Detection:
        """The person inside ``box`` (x0, y0, x1, y1 in photo pixels), for when the whole photo finds nobody or
        the wrong person: detection runs on that region, grown by a margin (BlazePose wants some room around a
        body) and enlarged as ``detect`` does; the pose and mask come back in the photo's pixels, with only the
        joints inside the grown region."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = _box_in_photo(box, w, h, name)
        grow = BOX_MARGIN * max(x1 - x0, y1 - y0)
        gx0, gy0 = int(max(0, np.floor(x0 - grow))), int(max(0, np.floor(y0 - grow)))
        gx1, gy1 = int(min(w, np.ceil(x1 + grow))), int(min(h, np.ceil(y1 + grow)))
        det = self._detect(np.ascontiguousarray(image[gy0:gy1, gx0:gx1]), name)
        pose = _pose_in_photo(det.pose, gx0, gy0, w, h)
        mask = np.zeros((h, w), np.float32)
        mask[gy0:gy1, gx0:gx1] = det.mask
        return self._with_hands(image, Detection(pose, mask, det.score))

    @staticmethod
    def _to_detection(result, canvas_shape, pad_x, pad_y, scale, w, h) -> Detection:
        ch, cw = canvas_shape[:2]
        lms = result.pose_landmarks.landmark
        xy = np.zeros((NUM_JOINTS, 2), np.float32)
        vis = np.zeros(NUM_JOINTS, np.float32)
        for coco, bp in enumerate(BLAZEPOSE_TO_COCO18):
            if bp < 0:
                continue
            lm = lms[bp]
            xy[coco] = (lm.x * cw / scale - pad_x, lm.y * ch / scale - pad_y)
            vis[coco] = lm.visibility
        present = vis >= VISIBILITY_THRESHOLD
        # joints that fall outside the photo are not usable as positions
        inside = (xy[:, 0] >= -0.02 * w) & (xy[:, 0] <= 1.02 * w) & (xy[:, 1] >= -0.02 * h) & (xy[:, 1] <= 1.02 * h)
        present &= inside
        rs, ls = J["r_shoulder"], J["l_shoulder"]
        if present[rs] and present[ls]:
            xy[J["neck"]] = (xy[rs] + xy[ls]) / 2
            vis[J["neck"]] = min(vis[rs], vis[ls])
            present[J["neck"]] = True
        xy[:, 0] = np.clip(xy[:, 0], 0, w - 1)
        xy[:, 1] = np.clip(xy[:, 1], 0, h - 1)
        pose = Pose(xy, present, w, h, np.where(present, vis, 0.0))
        mask = np.zeros((h, w), np.float32)
        seg = result.segmentation_mask
        if seg is not None:
            seg = cv2.resize(seg.astype(np.float32), (cw, ch), interpolation=cv2.INTER_LINEAR)
            s0x, s0y = int(round(pad_x * scale)), int(round(pad_y * scale))
            crop = seg[s0y:s0y + int(round(h * scale)), s0x:s0x + int(round(w * scale))]
            if crop.size:
                mask = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
        score = float(vis[present].mean()) if present.any() else 0.0
        return Detection(pose, np.clip(mask, 0, 1), score)


def _box_in_photo(box, w: int, h: int, name: str) -> tuple[float, float, float, float]:
    """``box`` as ordered (x0, y0, x1, y1) clipped to the photo; PoseEditorError when nothing of it is usable."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise PoseEditorError(f"{name}: a box is four numbers x0, y0, x1, y1, not {box!r}") from None
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        raise PoseEditorError(f"{name}: the box is smaller than {MIN_BOX_SIDE} pixels inside the photo; draw it "
                          f"around the whole person")
    return x0, y0, x1, y1


def _pose_in_photo(pose: Pose, x0: int, y0: int, w: int, h: int) -> Pose:
    """A pose found in a region whose top-left is (x0, y0), in the pixels of the w x h photo."""
    return Pose(pose.xy + np.array([x0, y0], np.float32), pose.present, w, h, pose.confidence)


def _tiles(h: int, w: int) -> list[tuple[int, int, int]]:
    """(x0, y0, side) squares of half the photo's shorter side, overlapping by half, for finding small people;
    none for photos under 256 px (a person there fills the photo, and the padded passes handle it)."""
    side = min(h, w) // 2
    if side < 128:
        return []
    step = side // 2
    xs = list(range(0, w - side + 1, step))
    ys = list(range(0, h - side + 1, step))
    if xs[-1] != w - side:
        xs.append(w - side)
    if ys[-1] != h - side:
        ys.append(h - side)
    return [(x, y, side) for y in ys for x in xs]


def person_mask(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 0..1: where people are, by mediapipe's selfie segmentation (shipped in its wheel), run on
    the whole photo and on tiles (small people vanish at the model's 256 px input). For placing a skeleton
    where the pose detector found nobody; it also marks some person-like shapes."""
    import mediapipe as mp

    h, w = image.shape[:2]
    out = np.zeros((h, w), np.float32)
    with native_stderr_silenced():
        seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    try:
        for x0, y0, side in [(0, 0, 0)] + _tiles(h, w):
            crop = image if side == 0 else image[y0:y0 + side, x0:x0 + side]
            m = seg.process(np.ascontiguousarray(crop)).segmentation_mask
            if m is None:
                continue
            ch, cw = crop.shape[:2]
            out[y0:y0 + ch, x0:x0 + cw] = np.maximum(out[y0:y0 + ch, x0:x0 + cw], m[:ch, :cw])
    finally:
        seg.close()
    return np.clip(out, 0, 1)


# a piece of people (person_mask) apart from the person found, this share of their size or more, is someone else
OTHER_PERSON_SHARE = 0.25
ANOTHER_PERSON_SIDE = 1024  # the photo's long side another_person looks at, at most


def another_person(image: np.ndarray, pose: Pose, mask: np.ndarray) -> bool:
    """Whether the photo seems to hold a person besides the one the detector found (``pose``, ``mask``; it
    finds one): a piece of person_mask's people clear of that person (their mask grown by 3% of the photo's
    diagonal, and their skeleton's box grown by 15%: a white dress on a white wall is missing from the mask, not
    from the box), at least OTHER_PERSON_SHARE of their size. The app says so, and how to pick the other (a
    newcomer's group photo got the right-hand person with no hint of the left)."""
    from .framing import reduced_person

    # people need no full size: a 12 MP photo's tiles took half a second
    image, mask, pose = reduced_person(image, mask, pose, ANOTHER_PERSON_SIDE)
    found = int((mask >= 0.5).sum())
    if found == 0:
        return False  # no outline to compare with (a skeleton placed by hand)
    people = person_mask(image) >= 0.5
    h, w = people.shape
    grow = max(1, int(round(0.03 * np.hypot(h, w))))
    mine = (mask >= 0.3).astype(np.uint8)
    mine = cv2.distanceTransform(1 - mine, cv2.DIST_L2, 3) <= grow
    box = pose.bbox()
    if box is not None:
        x0, y0, x1, y1 = box
        mx, my = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
        rows = slice(max(0, int(y0 - my)), max(0, int(np.ceil(y1 + my))))
        mine[rows, max(0, int(x0 - mx)):max(0, int(np.ceil(x1 + mx)))] = True
    n, _, stats, _ = cv2.connectedComponentsWithStats((people & ~mine).astype(np.uint8), connectivity=8)
    biggest = int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0
    return biggest >= OTHER_PERSON_SHARE * found


_local = threading.local()


def default_detector() -> PoseDetector:
    """A per-thread shared detector: building one costs ~0.5 s, so it is built once per thread."""
    det = getattr(_local, "detector", None)
    if det is None:
        det = _local.detector = PoseDetector()
    return det


def detect_pose(image: np.ndarray, name: str = "photo") -> Detection:
    return default_detector().detect(image, name)


def detect_in_box(image: np.ndarray, box, name: str = "photo") -> Pose:
    """The pose of the person inside ``box`` (x0, y0, x1, y1, photo pixels); NoPersonError when there is none.
    ``default_detector().detect_in_box`` gives the person's mask too."""
    return default_detector().detect_in_box(image, box, name).pose


def pose_mask(pose: Pose, thickness: float | None = None) -> np.ndarray:
    """A rough body mask drawn from the skeleton alone (limbs as thick lines, torso and head filled).

    Used where no segmentation exists (hand-placed skeletons, mask-SSIM on generated images).
    """
    from .pose import LIMBS

    m = np.zeros((pose.height, pose.width), np.uint8)
    t = thickness or max(2.0, 0.35 * pose.head_size())
    for a, b in LIMBS:
        if pose.present[a] and pose.present[b]:
            cv2.line(m, tuple(np.round(pose.xy[a]).astype(int)), tuple(np.round(pose.xy[b]).astype(int)), 1,
                     int(round(t * 1.6)))
    torso = [J[n] for n in ("r_shoulder", "l_shoulder", "l_hip", "r_hip")]
    if pose.present[torso].all():
        cv2.fillConvexPoly(m, np.round(pose.xy[torso]).astype(np.int32), 1)
    if pose.present[J["nose"]]:
        cv2.circle(m, tuple(np.round(pose.xy[J["nose"]]).astype(int)), int(round(pose.head_size() * 0.6)), 1, -1)
    return m.astype(np.float32)
