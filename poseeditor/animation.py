"""Animation export helpers (Qt-free): joint interpolation between two poses and the GIF / MP4 writers.

The app renders the frames in its worker thread with the chosen backend; these functions only make the poses
and write the files. GIF goes through Pillow (one palette for all frames: gif_frames), MP4 through OpenCV's
VideoWriter with the
'mp4v' codec, which every OpenCV wheel can write without an external encoder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import PoseEditorError
from engine.pose import Pose

FORMATS = {".gif": "GIF", ".mp4": "MP4"}
# An animation's long side unless the person chooses another: the photo's own, brought into this range. A
# 64x128 Market photo's animation is a thumbnail at its own size; a 4096-pixel photo's is a GIF of hundreds of
# megabytes that a chat or a web page will not take.
DEFAULT_SIDES = (480, 1080)


def default_long_side(width: int, height: int) -> int:
    lo, hi = DEFAULT_SIDES
    return int(min(max(width, height, lo), hi))


def frame_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) of a frame whose longer side is ``long_side``, in the photo's proportions."""
    s = long_side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def resized(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` at ``size`` (w, h): averaged when made smaller, cubic when enlarged (clipped: no ringing past
    the photo's own range)."""
    import cv2

    h, w = frame.shape[:2]
    if (w, h) == tuple(size):
        return frame
    interpolation = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    return cv2.resize(frame, tuple(size), interpolation=interpolation)


def ease(t: float) -> float:
    """Smoothstep: the figure starts and stops gently instead of jerking at the ends."""
    return t * t * (3 - 2 * t)


def interpolate(a: Pose, b: Pose, t: float) -> Pose:
    """The pose a fraction ``t`` of the way from ``a`` to ``b``.

    Joints present in both move in a straight line. A joint present in only one stays where that pose has it
    and is shown for the half of the animation nearer to that pose (it appears or disappears midway).
    A joint at the same place in both keeps its coordinates bit for bit: (1 - t) * x + t * x is not always x in
    floating point, and a backend that keeps the photo where nothing moved would then redraw every part of
    every in-between frame (a band of inpainted background round the whole body, the "halo").
    """
    both = a.present & b.present
    moving = both & (a.xy != b.xy).any(axis=1)
    xy = np.where(a.present[:, None], a.xy, b.xy).astype(np.float32)
    xy[moving] = (1 - t) * a.xy[moving] + t * b.xy[moving]
    only_b = b.present & ~a.present
    xy[only_b] = b.xy[only_b]
    present = both | (a.present & ~b.present & (t < 0.5)) | (only_b & (t >= 0.5))
    confidence = np.where(a.present, a.confidence, b.confidence)  # as the photo's pose has them
    return Pose(xy, present, a.width, a.height, confidence)


def pose_sequence(a: Pose, b: Pose, frames: int, boomerang: bool = False) -> list[Pose]:
    if frames < 2:
        raise PoseEditorError("an animation needs at least 2 frames")
    poses = [interpolate(a, b, ease(i / (frames - 1))) for i in range(frames)]
    if boomerang:  # there and back, without repeating the two end frames
        poses += poses[-2:0:-1]
    return poses


def check_path(path) -> str:
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise PoseEditorError(f"{path}: choose a .gif or .mp4 file name for the animation")
    return kind


# A GIF holds 256 colours. Cut by median cut from a photo that is mostly one plain cloth and wall, its few vivid
# colours got a handful of them: a sweater's yellow print became khaki, its pinks salmon (the newcomer review: the
# colour strength of the vivid pixels 110 -> 49). The palette is cut from the frames with the vivid pixels (HSV
# saturation over VIVID) counted VIVID_WEIGHT times more than the others (every VIVID_WEIGHT-th of those is kept),
# one palette for all frames, which are mapped to it without dithering (dithering crawls from frame to frame). On
# fashion-real/47 at 480 px: the vivid pixels' colour error (CIELAB) 13.3 -> 8.5, all pixels' 1.1 -> 1.7.
VIVID, VIVID_WEIGHT = 60, 8
PALETTE_FRAMES, PALETTE_PIXELS = 8, 1 << 20  # the palette is cut from at most this many frames and pixels


def gif_frames(frames: list[np.ndarray]) -> list:
    """RGB uint8 ``frames`` as Pillow palette images sharing one palette (see VIVID)."""
    import cv2
    from PIL import Image

    picked = [frames[i] for i in np.unique(np.linspace(0, len(frames) - 1, PALETTE_FRAMES).round().astype(int))]
    px = np.concatenate([np.ascontiguousarray(f).reshape(-1, 3) for f in picked])
    vivid = cv2.cvtColor(px[None], cv2.COLOR_RGB2HSV)[0, :, 1] > VIVID
    sample = np.concatenate([px[vivid], px[~vivid][::VIVID_WEIGHT]])
    sample = sample[:: max(1, len(sample) // PALETTE_PIXELS)]
    width = 256
    sample = np.resize(sample, (max(1, -(-len(sample) // width)) * width, 3))  # whole rows (the last one repeats)
    palette = Image.fromarray(sample.reshape(-1, width, 3)).quantize(256, method=Image.Quantize.MEDIANCUT)
    return [Image.fromarray(np.ascontiguousarray(f)).quantize(palette=palette, dither=Image.Dither.NONE)
            for f in frames]


def write_animation(path, frames: list[np.ndarray], fps: float) -> Path:
    """Write RGB uint8 frames to ``path`` (.gif or .mp4); a temporary file is renamed at the end."""
    path = Path(path)
    kind = check_path(path)
    if not frames:
        raise PoseEditorError("no frames to write")
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    if kind == "GIF":
        images = gif_frames(frames)
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000.0 / fps),
                       loop=0)
    else:
        import cv2

        h, w = frames[0].shape[:2]
        w2, h2 = w + (w % 2), h + (h % 2)  # many players refuse odd frame sizes
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w2, h2))
        if not writer.isOpened():
            raise PoseEditorError(f"{path}: OpenCV cannot write MP4 video here")
        try:
            for f in frames:
                if (w2, h2) != (w, h):
                    f = np.pad(f, ((0, h2 - h), (0, w2 - w), (0, 0)), mode="edge")
                writer.write(np.ascontiguousarray(f[:, :, ::-1]))
        finally:
            writer.release()
    tmp.replace(path)
    return path
