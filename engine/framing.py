"""Framing a person for a fixed-size network: the crop box around the body, as an affine from photo to model.

The engine (at inference) and ``poseeditor-train prepare`` (for datasets) frame people the same way, so a
network sees at run time the kind of crop it was trained on: the body's joint box, grown so that the head top
and feet fit and the limbs have room to move, widened or heightened to the model's aspect, centred on the body.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from .pose import Pose

# How much room to leave around the joints, in units of the joint box's height (the head top is above the
# eyes and the feet reach below the ankles; poses edited later need room for raised arms).
MARGIN_TOP = 0.16
MARGIN_BOTTOM = 0.08
MARGIN_SIDE = 0.10
PASTE_FEATHER = 0.04  # of the crop's size: the soft edge where a network's crop meets the photo
HEAD_TOP = 1.4  # head sizes (ear to ear) above the highest joint
HIP_BELOW_SHOULDERS = 0.87  # of the torso size (its diagonal): how far below the shoulders the hips are
KNEE_BELOW_HIPS = 0.64      # ... and the knees below the hips (the standing preset's proportions)


@dataclass(frozen=True)
class Frame:
    """A crop of a photo: ``matrix`` maps photo pixels to model pixels (a scale and a translation)."""

    matrix: np.ndarray       # 2x3
    model_size: tuple[int, int]   # (H, W)
    photo_size: tuple[int, int]   # (H, W)

    @property
    def inverse(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.matrix)

    def crop(self, image: np.ndarray, interpolation=cv2.INTER_AREA) -> np.ndarray:
        """The model-sized crop. Where the box reaches past the photo, it is filled with the photo's median
        border colour: repeating the edge row streaks (and a video's dark edge line becomes a black band)."""
        h, w = self.model_size
        scale = self.matrix[0, 0]
        interp = interpolation if scale < 1 else cv2.INTER_CUBIC
        ring = np.concatenate([image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3), image[:, :4].reshape(-1, 3),
                               image[:, -4:].reshape(-1, 3)])
        fill = tuple(int(v) for v in np.median(ring, axis=0))
        return cv2.warpAffine(image, self.matrix, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=fill)

    def crop_mask(self, mask: np.ndarray) -> np.ndarray:
        h, w = self.model_size
        return cv2.warpAffine(mask.astype(np.float32), self.matrix, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def pose_to_model(self, pose: Pose) -> Pose:
        h, w = self.model_size
        return pose.transformed(self.matrix, w, h)

    def pose_to_photo(self, pose: Pose) -> Pose:
        h, w = self.photo_size
        return pose.transformed(self.inverse, w, h)

    @cached_property
    def paste_alpha(self) -> np.ndarray | None:
        """The blend mask of ``paste`` in photo pixels, or None where the box covers the whole photo.

        It depends only on the frame, so it is made once per reference, not on every drag: 1 inside the box,
        ramping to 0 over 4% of its size at edges that lie inside the photo."""
        ph, pw = self.photo_size
        h, w = self.model_size
        # where the box reaches past the photo's edge there is nothing to blend with: the result is opaque
        inside = cv2.warpAffine(np.ones((h, w), np.float32), self.inverse, (pw, ph), borderValue=0)
        if inside.min() > 0.999:
            return None
        ramp = max(1.0, PASTE_FEATHER * min(h, w))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        edge = np.minimum.reduce([xs + 0.5, ys + 0.5, w - 0.5 - xs, h - 0.5 - ys])
        a = np.clip(edge / ramp, 0, 1)
        return cv2.warpAffine(a, self.inverse, (pw, ph), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]

    def paste(self, photo: np.ndarray, crop: np.ndarray) -> np.ndarray:
        """Put a model-sized image back into the photo, with a soft edge where the crop box ends."""
        ph, pw = photo.shape[:2]
        back = cv2.warpAffine(crop, self.inverse, (pw, ph), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        alpha = self.paste_alpha
        if alpha is None:
            return back
        out = photo.astype(np.float32) * (1 - alpha) + back.astype(np.float32) * alpha
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _mean_length(pose: Pose, pairs) -> float | None:
    lengths = [np.linalg.norm(pose.point(a) - pose.point(b)) for a, b in pairs if pose.has(a, b)]
    return float(np.mean(lengths)) if lengths else None


def standing_height(pose: Pose) -> float | None:
    """Head top to ankle as if the person stood straight, from bone lengths (None when a bone is missing).

    Proportions of the standing preset: neck-nose 0.10, neck-hip 0.32, thigh 0.23, shin 0.22 of the height
    0.95 from the head top to the ankles; the head above the neck is 1.8 x neck-nose.
    """
    torso = _mean_length(pose, [("neck", "r_hip"), ("neck", "l_hip")])
    thigh = _mean_length(pose, [("r_hip", "r_knee"), ("l_hip", "l_knee")])
    shin = _mean_length(pose, [("r_knee", "r_ankle"), ("l_knee", "l_ankle")])
    neck_nose = _mean_length(pose, [("neck", "nose")])
    if None in (torso, thigh, shin):
        return None
    head = 1.8 * neck_nose if neck_nose is not None else 0.56 * torso
    return torso + thigh + shin + head


def body_box(pose: Pose) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) around the person, with room for the head top, the feet and moving limbs."""
    b = pose.bbox()
    if b is None:
        return 0.0, 0.0, float(pose.width), float(pose.height)
    x0, y0, x1, y1 = b
    y1 = max(y1, _visible_body_bottom(pose))
    head = pose.head_size()
    # Size the box by the person's standing height, not by the joint box alone: a crouching or bending person
    # then gets the same scale as standing, so a video's crops (a person-specific dataset) keep one scale.
    bh = max(y1 - y0, 0.93 * (standing_height(pose) or 0.0), head * 3, 8.0)
    # The head top is about one head size above the eyes whatever the pose: a crouching person has a short
    # joint box, and a margin in box heights alone would cut the top of the head off.
    top = max(MARGIN_TOP * bh, HEAD_TOP * head)
    return (x0 - MARGIN_SIDE * bh, y0 - top, x1 + MARGIN_SIDE * bh, y1 + MARGIN_BOTTOM * bh)


def _visible_body_bottom(pose: Pose) -> float:
    """Where the body the photo shows ends when its lower joints are not found (a half-body photo, a portrait,
    a photo cut at the thighs): the next joints down, estimated, or the photo's edge, whichever comes first.
    The box then frames the visible body: ending at the last joint, it drew a seam across the chest or hips."""
    from .encode import body_scale

    def level(*names):
        ys = [pose.point(n)[1] for n in names if pose.has(n)]
        return float(np.mean(ys)) if ys else None

    hips, knees, shoulders = level("r_hip", "l_hip"), level("r_knee", "l_knee"), level("r_shoulder", "l_shoulder")
    if hips is None and shoulders is not None:
        return min(shoulders + HIP_BELOW_SHOULDERS * body_scale(pose), float(pose.height))
    if hips is not None and knees is None:
        return min(hips + KNEE_BELOW_HIPS * body_scale(pose), float(pose.height))
    return 0.0


def box_height_for(pose: Pose, model_size: tuple[int, int]) -> float:
    """The crop height (photo pixels) frame_for would choose for this pose, before any whole-photo rule."""
    x0, y0, x1, y1 = body_box(pose)
    return max(y1 - y0, (x1 - x0) * model_size[0] / model_size[1])


WHOLE_IF_FITS = 0.9  # frame_for: a photo of the network's aspect is shown whole when its person fills this much


def fills_photo(pose: Pose, aspect: float, whole_if_fits: float = WHOLE_IF_FITS) -> bool:
    """Whether ``pose``'s photo has the aspect (width / height) and its person fills it: shown whole, as a
    DeepFashion or Market-1501 image or a prepared crop is (0: any photo of the aspect)."""
    ph, pw = pose.height, pose.width
    _, y0, _, y1 = body_box(pose)
    return abs(pw / ph - aspect) < 0.02 * aspect and y1 - y0 >= whole_if_fits * ph * 0.8


def frame_for(pose: Pose, model_size: tuple[int, int], whole_if_fits: float = WHOLE_IF_FITS,
              box_height: float | None = None) -> Frame:
    """The crop of ``pose``'s photo for a network of ``model_size`` (H, W).

    When the photo already has the model's aspect and the person fills most of it (DeepFashion, Market-1501,
    a prepared dataset), the whole photo is used, so such images are not re-cropped. ``box_height`` fixes the
    crop's height (one scale for all frames of a video, chosen by ``prepare``); it still grows to fit this
    pose's body.
    """
    ph, pw = pose.height, pose.width
    aspect = model_size[1] / model_size[0]
    x0, y0, x1, y1 = body_box(pose)
    if fills_photo(pose, aspect, whole_if_fits):
        return _frame_at(pw / 2, ph / 2, float(ph), model_size, (ph, pw))
    box_h = max(y1 - y0, (x1 - x0) / aspect, box_height or 0.0)
    return _frame_at((x0 + x1) / 2, (y0 + y1) / 2, box_h, model_size, (ph, pw))


def _frame_at(cx: float, cy: float, box_h: float, model_size: tuple[int, int],
              photo_size: tuple[int, int]) -> Frame:
    """The frame of ``model_size``'s aspect, ``box_h`` photo pixels high, centred on (cx, cy), moved inside the
    photo where it fits."""
    mh, mw = model_size
    ph, pw = photo_size
    box_w = box_h * (mw / mh)
    s = mh / box_h
    # photo pixel centre (u) to model pixel centre: m = s * (u + 0.5 - left) - 0.5
    left, top = cx - box_w / 2, cy - box_h / 2
    # keep the box inside the photo when it fits: padding is made-up pixels, a network should see few of them
    if box_w <= pw:
        left = min(max(left, 0.0), pw - box_w)
    if box_h <= ph:
        top = min(max(top, 0.0), ph - box_h)
    m = np.array([[s, 0, s * (0.5 - left) - 0.5], [0, s, s * (0.5 - top) - 0.5]], np.float64)
    return Frame(m, (mh, mw), (ph, pw))


# A joint the user moved must lie this far inside the network's crop (head sizes: the hand past the wrist, the
# paste's soft edge) for the reference's own frame to hold the target pose.
REACH = 0.6
FRAME_STEP = 1 / 16  # of the reference crop's height: a target frame's box snaps outwards to this grid


def person_box(pose: Pose, size: tuple[int, int] = (256, 128)) -> tuple[slice, slice]:
    """The person's box in photo pixels: the crop the engine frames a person with (room for the head top, feet
    and limbs) at ``size``'s aspect, clipped to the photo. A personal refiner works there (engine/refiner.py), and
    quality is scored there (benchmarks/eval_person.py)."""
    f = frame_for(pose, size)
    s = f.matrix[0, 0]
    left, top = 0.5 - (f.matrix[0, 2] + 0.5) / s, 0.5 - (f.matrix[1, 2] + 0.5) / s
    x0, y0 = max(0, int(round(left))), max(0, int(round(top)))
    x1 = min(pose.width, int(round(left + size[1] / s)))
    y1 = min(pose.height, int(round(top + size[0] / s)))
    return slice(y0, y1), slice(x0, x1)


def frame_holding(source: Frame, source_pose: Pose, target: Pose, cache: dict | None = None) -> Frame:
    """The frame a network draws ``target`` into, its reference having been framed by ``source``.

    While every joint the user moved stays inside ``source`` (with REACH head sizes of room) that is ``source``
    itself. A moved joint outside it (a raised hand leaving a crop framed on the reference) would have been
    drawn half by the network, half by the warp engine; the network is then given a frame around the target's
    body, as training frames a pair's target (engine.framing on its own pose), at least the reference crop's
    height, so the person keeps its scale. Only the target pose's frame changes, never the reference crop the
    network encoded. The box snaps outwards to a grid of FRAME_STEP crop heights, so a drag reuses a few
    frames (``cache``, keyed by the snapped box, keeps them with their blend masks) and renders steadily."""
    if source.paste_alpha is None:  # the reference crop is the whole photo: nothing of the photo lies outside
        return source
    mh, mw = source.model_size
    m = source.matrix
    moved = target.present & (~source_pose.present | (np.linalg.norm(target.xy - source_pose.xy, axis=1) > 0.5))
    if not moved.any():
        return source
    xy = target.xy[moved].astype(np.float64) @ m[:, :2].T + m[:, 2]
    pad = REACH * target.head_size() * m[0, 0] + PASTE_FEATHER * min(mh, mw)
    if (xy.min(axis=0) >= pad).all() and xy[:, 0].max() <= mw - 1 - pad and xy[:, 1].max() <= mh - 1 - pad:
        return source
    x0, y0, x1, y1 = body_box(target)
    src_h = mh / m[0, 0]
    step = FRAME_STEP * src_h
    x0, y0 = np.floor(x0 / step) * step, np.floor(y0 / step) * step
    x1, y1 = np.ceil(x1 / step) * step, np.ceil(y1 / step) * step
    key = (round(x0 / step), round(y0 / step), round(x1 / step), round(y1 / step))
    if cache is not None and key in cache:
        return cache[key]
    box_h = max(y1 - y0, (x1 - x0) * mh / mw, src_h)
    frame = _frame_at((x0 + x1) / 2, (y0 + y1) / 2, box_h, source.model_size, source.photo_size)
    if cache is not None:
        if len(cache) >= 64:  # a long session's drags: start again rather than grow without end
            cache.clear()
        cache[key] = frame
    return frame


# The standing preset's extent in body units (head top 0, feet ~1.0; hands at +-0.15, +-0.05 for the hands).
STANDING_HEIGHT = 1.0
STANDING_WIDTH = 0.4


def fallback_pose(image: np.ndarray, mask_or_box=None) -> Pose:
    """A standing skeleton for the user to move onto a person nobody was detected in, placed and sized from the
    photo: inside ``mask_or_box`` when given (a (H, W) person mask, or a box x0, y0, x1, y1 the user drew),
    else on the most person-like shape of ``engine.detect.person_mask``; in the middle of the photo, 80% of its
    height, only when nothing of a person is seen. Joints that fall outside the photo are left missing."""
    from .presets import fit_preset, load_preset

    h, w = image.shape[:2]
    box = None
    if mask_or_box is None:
        from .detect import person_mask

        mask_or_box = person_mask(image)
    if np.ndim(mask_or_box) == 2:
        box = _person_like_box(np.asarray(mask_or_box, np.float32))
    elif mask_or_box is not None:
        x0, y0, x1, y1 = (float(v) for v in mask_or_box)
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if box is None or box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return fit_preset("standing", w, h)
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    scale = min(bh / STANDING_HEIGHT, bw / (0.5 * STANDING_WIDTH))
    if y1 >= h - 1:  # cut by the photo's bottom edge: the person goes on below, size them by their width
        scale = max(scale, bw / STANDING_WIDTH)
    body = load_preset("standing")
    xy = body * scale + np.array([(x0 + x1) / 2, y0], np.float32)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    return Pose(xy, inside, w, h)


def _person_like_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """The bounding box of the mask's most person-like blob: large, and about as tall as a standing person
    is tall for its width (a segmentation also marks round or wide shapes next to people)."""
    import cv2

    m = (mask >= 0.5).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    best, best_score = None, 0.0
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < 30:
            continue
        aspect = bh / max(bw, 1)
        # a standing person is 2-4 times taller than wide; fill: a person covers about half of their box
        shape = np.exp(-abs(np.log(aspect / 2.6))) * min(1.0, 2.0 * (area / (bw * bh)))
        score = shape * np.sqrt(area)
        if score > best_score:
            best, best_score = (float(x), float(y), float(x + bw), float(y + bh)), score
    return best


def reduced_person(image: np.ndarray, mask: np.ndarray, pose: Pose, side: int):
    """(image, mask as float32 (h, w), pose) with the photo's long side at most ``side`` pixels: for checks that
    need no full size (engine.outfit's colours, engine.detect.another_person's people)."""
    h, w = image.shape[:2]
    mask = np.asarray(mask, np.float32).reshape(h, w)
    k = side / max(h, w)
    if k >= 1:
        return image, mask, pose
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.resize(mask, size, interpolation=cv2.INTER_AREA),
            pose.scaled(size[0] / w, size[1] / h, width=size[0], height=size[1]))
