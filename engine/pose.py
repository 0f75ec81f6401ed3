"""The 18-joint pose (OpenPose COCO-18 order) and its file formats.

Coordinates are pixels of the image the pose belongs to, x to the right and y down. A joint is either present
(with a position) or missing. "Right" is the person's right, as in OpenPose: in a photo of a person facing the
camera the right wrist appears on the left side of the image.

Formats:
- OpenPose / ControlNet JSON: {"people": [{"pose_keypoints_2d": [x, y, c] * 18}], "canvas_width", "canvas_height"};
  missing joints are 0,0,0; some writers store x, y normalised to 0..1.
- pose-gan / PATN annotation CSV row: ``name: [y0, ..., y17]: [x0, ..., x17]`` with -1 for a missing joint.
"""
from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import PoseFormatError
from .fileio import atomic_write_text, read_text

# Bounds of what a pose file may say: a canvas beyond any photo the engine opens, coordinates far outside any
# canvas, are a damaged file (1e308 would overflow the first multiplication), not a pose.
MAX_CANVAS_SIDE = 65536
MAX_COORDINATE = 1e6

JOINT_NAMES = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)
NUM_JOINTS = len(JOINT_NAMES)
J = {name: i for i, name in enumerate(JOINT_NAMES)}

# Left <-> right partner of each joint, for mirroring.
MIRROR_INDEX = tuple(
    J[n.replace("r_", "l_", 1)] if n.startswith("r_") else J[n.replace("l_", "r_", 1)] if n.startswith("l_") else i
    for i, n in enumerate(JOINT_NAMES)
)

# the skeleton as a tree rooted at the neck (OpenPose's 18 joints): a drag turns a joint about its parent, and a
# joint a pose lacks hangs from its parent as the person holds it
PARENT = {J["nose"]: J["neck"], J["r_shoulder"]: J["neck"], J["l_shoulder"]: J["neck"],
          J["r_elbow"]: J["r_shoulder"], J["r_wrist"]: J["r_elbow"],
          J["l_elbow"]: J["l_shoulder"], J["l_wrist"]: J["l_elbow"],
          J["r_hip"]: J["neck"], J["r_knee"]: J["r_hip"], J["r_ankle"]: J["r_knee"],
          J["l_hip"]: J["neck"], J["l_knee"]: J["l_hip"], J["l_ankle"]: J["l_knee"],
          J["r_eye"]: J["nose"], J["l_eye"]: J["nose"], J["r_ear"]: J["r_eye"], J["l_ear"]: J["l_eye"]}


def _below(joint: int) -> tuple[int, ...]:
    out, todo = [], [joint]
    while todo:
        j = todo.pop()
        kids = [c for c, p in PARENT.items() if p == j]
        out += kids
        todo += kids
    return tuple(out)


# each joint's descendants in the tree, every one after its parent (a drag turns them with it)
DESCENDANTS = {j: _below(j) for j in range(len(JOINT_NAMES))}

# the joints that keep their places on the body whatever the limbs do: two poses are laid on each other by these
CORE_JOINTS = frozenset(J[n] for n in ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip", "nose", "r_eye", "l_eye",
                                       "r_ear", "l_ear"))

# The 17 limbs OpenPose draws, with its usual colours (RGB), in its drawing order.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
LIMB_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170),
)
JOINT_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)


@dataclass
class Pose:
    """18 joints in pixel coordinates of a ``width`` x ``height`` image.

    ``xy`` is (18, 2) float32; ``present`` is (18,) bool; ``confidence`` is (18,) float32 (1.0 for hand-placed
    joints). A missing joint's ``xy`` is meaningless and kept at 0. ``hands``: {wrist joint index: (21, 2)
    float32} the hand landmarks the detector found at that wrist (engine.hands); not part of any file format, and
    dropped with a side's wrist or elbow moved.
    """

    xy: np.ndarray
    present: np.ndarray
    width: int
    height: int
    confidence: np.ndarray = field(default=None)  # type: ignore[assignment]
    hands: dict = field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        self.xy = np.asarray(self.xy, dtype=np.float32).reshape(NUM_JOINTS, 2)
        self.present = np.asarray(self.present, dtype=bool).reshape(NUM_JOINTS)
        if self.confidence is None:
            self.confidence = self.present.astype(np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(NUM_JOINTS)
        self.xy[~self.present] = 0.0
        self.width, self.height = int(self.width), int(self.height)
        self.hands = {int(k): np.asarray(v, np.float32).reshape(21, 2) for k, v in (self.hands or {}).items()}

    # ----- construction -------------------------------------------------------------------------------------
    @classmethod
    def empty(cls, width: int, height: int) -> "Pose":
        return cls(np.zeros((NUM_JOINTS, 2)), np.zeros(NUM_JOINTS, bool), width, height)

    def copy(self) -> "Pose":
        return Pose(self.xy.copy(), self.present.copy(), self.width, self.height, self.confidence.copy(),
                    {k: v.copy() for k, v in self.hands.items()})

    # ----- queries ------------------------------------------------------------------------------------------
    def has(self, *names_or_ids) -> bool:
        return all(self.present[J[n] if isinstance(n, str) else n] for n in names_or_ids)

    def point(self, name_or_id) -> np.ndarray:
        return self.xy[J[name_or_id] if isinstance(name_or_id, str) else name_or_id]

    @property
    def count(self) -> int:
        return int(self.present.sum())

    def bbox(self) -> tuple[float, float, float, float] | None:
        """(x0, y0, x1, y1) of the present joints, or None when none is present."""
        if not self.present.any():
            return None
        p = self.xy[self.present]
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())

    def torso_valid(self) -> bool:
        """Both hips and both shoulders present: the condition for a usable training pair."""
        return self.has("r_hip", "l_hip", "r_shoulder", "l_shoulder")

    def head_size(self) -> float:
        """The PCKh reference length. Uses the head joints when possible, else a fraction of the torso.

        Estimated as in MPII's convention of head segment length, from what COCO-18 offers: the ear-to-ear
        distance (or eye distance x 2, or neck-nose x 1.3), falling back to 0.25 of the torso height.
        """
        if self.has("r_ear", "l_ear"):
            return float(np.linalg.norm(self.point("r_ear") - self.point("l_ear")))
        if self.has("neck", "nose"):
            return 1.3 * float(np.linalg.norm(self.point("neck") - self.point("nose")))
        if self.has("r_eye", "l_eye"):
            return 2.0 * float(np.linalg.norm(self.point("r_eye") - self.point("l_eye")))
        if self.has("neck") and (self.has("r_hip") or self.has("l_hip")):
            hip = self.point("r_hip") if self.has("r_hip") else self.point("l_hip")
            return 0.25 * float(np.linalg.norm(self.point("neck") - hip))
        return 0.1 * float(max(self.width, self.height))

    # ----- edits (each returns a new Pose) -----------------------------------------------------------------
    def moved(self, joint, x: float, y: float) -> "Pose":
        p = self.copy()
        i = J[joint] if isinstance(joint, str) else int(joint)
        p.xy[i] = (x, y)
        p.present[i] = True
        p.confidence[i] = 1.0
        p._drop_hand_of(i)
        return p

    def with_present(self, joint, present: bool) -> "Pose":
        p = self.copy()
        i = J[joint] if isinstance(joint, str) else int(joint)
        p.present[i] = present
        if not present:
            p.xy[i] = 0.0
        p._drop_hand_of(i)
        return p

    def _drop_hand_of(self, joint: int) -> None:
        """The hand landmarks were found at the detected wrist, along the detected forearm: an edit of either
        leaves them behind."""
        for side in "rl":
            if joint in (J[f"{side}_elbow"], J[f"{side}_wrist"]):
                self.hands.pop(J[f"{side}_wrist"], None)

    def mirrored(self) -> "Pose":
        """Flip the pose horizontally inside its image, swapping left and right joints.

        The result is the pose of the mirrored photo: its right wrist is still drawn on the image's left side
        when the mirrored person faces the camera.
        """
        idx = np.array(MIRROR_INDEX)
        xy = self.xy[idx].copy()
        xy[:, 0] = (self.width - 1) - xy[:, 0]
        hands = {int(MIRROR_INDEX[k]): np.stack([(self.width - 1) - v[:, 0], v[:, 1]], 1)
                 for k, v in self.hands.items()}
        return Pose(xy, self.present[idx], self.width, self.height, self.confidence[idx], hands)

    def scaled(self, sx: float, sy: float | None = None, width: int | None = None, height: int | None = None) -> "Pose":
        sy = sx if sy is None else sy
        xy = self.xy * np.array([sx, sy], np.float32)
        return Pose(xy, self.present, width or round(self.width * sx), height or round(self.height * sy),
                    self.confidence, {k: v * np.array([sx, sy], np.float32) for k, v in self.hands.items()})

    def transformed(self, matrix: np.ndarray, width: int, height: int) -> "Pose":
        """Apply a 2x3 affine matrix to every joint and hand landmark (e.g. a crop + resize) and give the new
        image size."""
        m = np.asarray(matrix, np.float64)
        xy = self.xy.astype(np.float64) @ m[:, :2].T + m[:, 2]
        hands = {k: v.astype(np.float64) @ m[:, :2].T + m[:, 2] for k, v in self.hands.items()}
        return Pose(xy, self.present, width, height, self.confidence, hands)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Pose):
            return NotImplemented
        return (self.width, self.height) == (other.width, other.height) and np.array_equal(
            self.present, other.present) and np.allclose(self.xy, other.xy, atol=1e-2)  # files keep 3 decimals

    # ----- OpenPose / ControlNet JSON ----------------------------------------------------------------------
    def to_openpose(self, normalized: bool = False) -> dict:
        kp = []
        for i in range(NUM_JOINTS):
            if self.present[i]:
                x, y = float(self.xy[i, 0]), float(self.xy[i, 1])
                if normalized:
                    x, y = x / max(self.width, 1), y / max(self.height, 1)
                kp += [round(x, 6 if normalized else 3), round(y, 6 if normalized else 3),
                       round(float(self.confidence[i]) or 1.0, 4)]
            else:
                kp += [0, 0, 0]
        return {"version": 1.3, "people": [{"pose_keypoints_2d": kp}],
                "canvas_width": self.width, "canvas_height": self.height}

    @classmethod
    def from_openpose(cls, data, width: int | None = None, height: int | None = None, person: int = 0) -> "Pose":
        """Read an OpenPose/ControlNet dict. ``width``/``height`` are used when the file has no canvas size."""
        if isinstance(data, list):  # some editors save a list of frames
            if not data:
                raise PoseFormatError("pose JSON is an empty list")
            data = data[0]
        if not isinstance(data, dict):
            raise PoseFormatError("pose JSON must be an object with a 'people' list")
        people = data.get("people")
        if not isinstance(people, list) or not people:
            raise PoseFormatError("pose JSON has no 'people' entry (no person in it)")
        if person >= len(people):
            raise PoseFormatError(f"pose JSON has {len(people)} people; person {person} asked for")
        entry = people[person]
        kp = entry.get("pose_keypoints_2d") if isinstance(entry, dict) else None
        if not isinstance(kp, list):
            raise PoseFormatError("pose JSON person has no 'pose_keypoints_2d' list")
        arr = _numbers(kp, "pose_keypoints_2d")
        if arr.ndim != 1:  # nested lists of the right count said "has 54 values; expected 54"
            raise PoseFormatError(f"pose_keypoints_2d is a list of lists; expected one flat list of "
                                  f"{NUM_JOINTS * 3} numbers (18 joints x [x, y, c])")
        if arr.size not in (NUM_JOINTS * 3, 25 * 3):
            raise PoseFormatError(
                f"pose_keypoints_2d has {arr.size} values; expected {NUM_JOINTS * 3} (18 joints x [x, y, c])")
        arr = arr.reshape(-1, 3)
        if len(arr) == 25:  # BODY_25: same first 8 joints; map the rest to COCO-18
            body25_to_coco = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
            arr = arr[body25_to_coco]
        present = arr[:, 2] > 0
        xy = arr[:, :2].copy()
        xy[~present] = 0.0  # a missing joint's numbers mean nothing (and 1e308 would overflow below)
        if np.abs(xy[present]).max(initial=0.0) > MAX_COORDINATE:
            raise PoseFormatError(f"pose_keypoints_2d holds a coordinate beyond {MAX_COORDINATE:.0e} pixels")
        w = _canvas_side(data.get("canvas_width", width), "canvas_width")
        h = _canvas_side(data.get("canvas_height", height), "canvas_height")
        normalized = present.any() and np.all(xy[present] <= 1.0) and np.all(xy[present] >= 0.0)
        if w is None or h is None:
            if normalized:
                raise PoseFormatError("pose JSON is normalised but has no canvas_width/canvas_height")
            b = xy[present]
            w = int(np.ceil(b[:, 0].max() + 1)) if present.any() else 512
            h = int(np.ceil(b[:, 1].max() + 1)) if present.any() else 512
            if not (0 < w <= MAX_CANVAS_SIDE and 0 < h <= MAX_CANVAS_SIDE):
                raise PoseFormatError(f"pose JSON has no canvas size and its joints span {w}x{h} pixels")
        if normalized:
            xy = xy * np.array([w, h])
        return cls(xy, present, w, h, np.where(present, np.minimum(arr[:, 2], 1.0), 0.0))

    def save_json(self, path, normalized: bool = False) -> None:
        atomic_write_text(path, json.dumps(self.to_openpose(normalized), indent=1), "pose file")

    @classmethod
    def load_json(cls, path, width: int | None = None, height: int | None = None) -> "Pose":
        path = Path(path)
        data = parse_json(read_text(path, PoseFormatError, "pose file"), path, PoseFormatError)
        try:
            return cls.from_openpose(data, width, height)
        except PoseFormatError as e:
            raise PoseFormatError(f"{path}: {e}") from None

    # ----- pose-gan / PATN annotation CSV -----------------------------------------------------------------
    def to_posegan_row(self, name: str) -> str:
        ys = [int(round(float(self.xy[i, 1]))) if self.present[i] else -1 for i in range(NUM_JOINTS)]
        xs = [int(round(float(self.xy[i, 0]))) if self.present[i] else -1 for i in range(NUM_JOINTS)]
        return f"{name}: {ys}: {xs}"

    @classmethod
    def from_posegan_row(cls, row: str, width: int, height: int) -> tuple[str, "Pose"]:
        """Parse ``name: [y...]: [x...]``. Returns (name, pose)."""
        parts = row.strip().split(":")
        if len(parts) != 3:
            raise PoseFormatError(f"expected 'name: [y0..y17]: [x0..x17]', got {len(parts)} ':'-separated fields")
        name = parts[0].strip()
        try:
            ys = json.loads(parts[1].strip())
            xs = json.loads(parts[2].strip())
        except (ValueError, RecursionError):
            raise PoseFormatError("joint lists are not of the form [v0, v1, ...]") from None
        if not (isinstance(ys, list) and isinstance(xs, list)):
            raise PoseFormatError("joint lists are not lists")
        if len(ys) != NUM_JOINTS or len(xs) != NUM_JOINTS:
            raise PoseFormatError(f"{len(ys)} y values and {len(xs)} x values; expected {NUM_JOINTS} each")
        y, x = _numbers(ys, "the y list"), _numbers(xs, "the x list")
        if y.ndim != 1 or x.ndim != 1:
            raise PoseFormatError("joint lists hold lists, not numbers")
        present = (x != -1) & (y != -1)
        if max(np.abs(x[present]).max(initial=0.0), np.abs(y[present]).max(initial=0.0)) > MAX_COORDINATE:
            raise PoseFormatError(f"a joint lies beyond {MAX_COORDINATE:.0e} pixels")
        return name, cls(np.stack([x, y], 1), present, width, height)


def parse_json(text: str, path, error: type = PoseFormatError):
    """json.loads whose every failure (syntax, 100,000-deep nesting, a 5,000-digit number) is one ``error``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise error(f"{path}: not valid JSON (nested too deeply)") from None
    except ValueError:  # an integer too long to convert (Python's message, cut short, ended mid-word)
        raise error(f"{path}: not valid JSON (a number with thousands of digits)") from None


def _numbers(values, what: str) -> np.ndarray:
    """A list of JSON numbers as float64; PoseFormatError for anything else, NaN and infinity included."""
    if any(isinstance(v, (str, bool)) or v is None for v in values):
        raise PoseFormatError(f"{what} holds values that are not numbers")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise PoseFormatError(f"{what} holds values that are not numbers") from None
    if not np.all(np.isfinite(arr)):
        raise PoseFormatError(f"{what} holds NaN or infinite values")
    return arr


def _canvas_side(value, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PoseFormatError(f"{key} is not a number")
    # compared as they are: a JSON integer may have any number of digits (np.isfinite refuses one beyond 64
    # bits), and NaN fails the comparison
    if not 1 <= value <= MAX_CANVAS_SIDE:
        shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:12]}... ({len(str(value))} digits)"
        raise PoseFormatError(f"{key} is {shown}; a canvas side must be 1..{MAX_CANVAS_SIDE} pixels")
    return int(value)


def faces_away(pose: Pose) -> bool:
    """Whether the person is seen from behind: their left side on the image's left (shoulders and hips; a person
    facing the camera has their right side there)."""
    spread = sum(float(pose.point(f"l_{p}")[0] - pose.point(f"r_{p}")[0])
                 for p in ("shoulder", "hip") if pose.has(f"r_{p}", f"l_{p}"))
    return spread < 0


def retarget(pose: Pose, like: Pose) -> Pose:
    """``pose`` (another photo's, or made on another canvas) moved and scaled, by one scale, so that its torso
    sits where ``like``'s does, in ``like``'s canvas: by the neck and hips where both have them, else by
    the joints of the head and shoulders both have, else their boxes (a pose stretched to the canvas's width and
    height apart squashed the person). Joints it lacks and ``like`` has keep ``like``'s bones, hung from their
    parents."""
    def torso(p: Pose):
        hips = [p.point(n) for n in ("r_hip", "l_hip") if p.has(n)]
        return (p.point("neck"), np.mean(hips, axis=0)) if p.has("neck") and hips else None

    a, b = torso(pose), torso(like)
    # else the joints of the head and the shoulders both have: a portrait's pose (no hips) fitted to a full body's
    # box drew a face the height of the person, and a full body's fitted to a portrait's squeezed it into the face
    shared = np.array([j in CORE_JOINTS for j in range(NUM_JOINTS)]) & pose.present & like.present
    spread = float(np.linalg.norm(pose.xy[shared] - pose.xy[shared].mean(axis=0))) if shared.sum() >= 2 else 0.0
    if a is not None and b is not None and np.linalg.norm(a[1] - a[0]) > 1e-3:
        c_src, c_dst = (a[0] + a[1]) / 2, (b[0] + b[1]) / 2
        s = float(np.linalg.norm(b[1] - b[0]) / np.linalg.norm(a[1] - a[0]))
    elif spread > 1e-3:
        c_src, c_dst = pose.xy[shared].mean(axis=0), like.xy[shared].mean(axis=0)
        s = float(np.linalg.norm(like.xy[shared] - c_dst)) / spread
    else:
        (x0, y0, x1, y1), (u0, v0, u1, v1) = pose.bbox() or (0, 0, 1, 1), like.bbox() or (0, 0, 1, 1)
        c_src, c_dst = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), np.array([(u0 + u1) / 2, (v0 + v1) / 2])
        s = max(v1 - v0, 1.0) / max(y1 - y0, 1.0)
    xy = ((pose.xy - c_src) * s + c_dst).astype(np.float32)
    xy[~pose.present] = 0.0
    present, confidence = pose.present.copy(), pose.confidence.copy()
    # a joint the pose lacks (another photo cut at the thighs) and the person has hangs from its parent as the
    # person holds it: a half-body photo's pose as the target erased the person's legs
    for c in DESCENDANTS[J["neck"]]:
        j = PARENT[c]
        if not present[c] and present[j] and like.present[c] and like.present[j]:
            xy[c] = xy[j] + like.xy[c] - like.xy[j]
            present[c], confidence[c] = True, like.confidence[c]
    return Pose(xy, present, like.width, like.height, confidence)


def for_photo(pose: Pose, like: Pose) -> Pose:
    """A pose read from a file for the photo whose person is ``like``: as it is when made for a canvas of the
    photo's size (exported from this photo), else retargeted onto the person."""
    if (pose.width, pose.height) == (like.width, like.height):
        return pose
    return retarget(pose, like)


def pose_distance(a: Pose, b: Pose) -> float:
    """Mean distance between joints present in both, in units of a's head size (inf when none is shared)."""
    both = a.present & b.present
    if not both.any():
        return float("inf")
    return float(np.linalg.norm(a.xy[both] - b.xy[both], axis=1).mean() / max(a.head_size(), 1e-6))
