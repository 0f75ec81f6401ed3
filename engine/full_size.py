"""The result at the photo's own resolution.

A photo larger than ``images.MAX_SIDE`` is edited reduced (every backend works on the working photo that
``images.load_image`` reads). Its export puts the edit back into the full-size photo instead of saving the
reduced result: the original file's pixels wherever the edit changed nothing, and the edited region, enlarged
from the working resolution, blended in with a feathered edge. The region is where the result differs from
the working photo, grown a little (a changed pixel's neighbours take the result too, so the seam never runs
along the edit's own edge), then feathered to nothing.

Memory stays near one copy of the full-size photo: it is held as a PIL image (``images.load_full_size``, which
converts a 16-bit or RGBA photo to RGB a band of rows at a time, so the decoded file and the RGB copy are all
it holds) and changed in place, a band of rows at a time, so the float arithmetic of the blend never covers
more than a band.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ImageReadError
from .images import load_full_size, load_image, save_image, upright_size

# a pixel is changed when one of its channels differs from the working photo by more than this (the warp backend
# keeps unmoved pixels exactly; this leaves room for a backend's rounding)
TOLERANCE = 2
GROW = 0.004      # the changed region grows by this share of the working photo's longer side (16 px at 4096)
FEATHER = 0.008   # then fades to the original photo over this share (33 px at 4096; twice that at 8000)
BAND_ROWS = 256   # full-size rows blended at a time


@dataclass
class Export:
    """What was written: its size, the working size the edit was made at, and why it is not the photo's own
    size when it is not (``note``)."""
    path: str
    size: tuple[int, int]
    working: tuple[int, int]
    photo: tuple[int, int] | None
    note: str = ""

    @property
    def full_size(self) -> bool:
        return self.size != self.working


def edit_alpha(working: np.ndarray, result: np.ndarray):
    """Where the result takes over from the photo, at the working resolution: ``(alpha, (x0, y0, x1, y1))``,
    alpha (float32, 0..1) over that box only, 1 on every changed pixel and its grown neighbourhood, fading to 0
    at the box's edge; None when the result is the photo."""
    import cv2

    changed = cv2.absdiff(working, result).max(axis=2) > TOLERANCE
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return None
    side = max(working.shape[:2])
    grow, feather = max(2.0, GROW * side), max(3.0, FEATHER * side)
    reach = int(np.ceil(grow + feather)) + 1
    h, w = changed.shape
    x0, x1 = max(0, cols[0] - reach), min(w, cols[-1] + 1 + reach)
    y0, y1 = max(0, rows[0] - reach), min(h, rows[-1] + 1 + reach)
    # distance of every pixel of the box to the nearest changed pixel (distanceTransform measures to zeros)
    dist = cv2.distanceTransform(np.where(changed[y0:y1, x0:x1], 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    a = np.clip((grow + feather - dist) / feather, 0.0, 1.0)
    return (a * a * (3.0 - 2.0 * a)).astype(np.float32), (int(x0), int(y0), int(x1), int(y1))


def paste_back(full, working: np.ndarray, result: np.ndarray) -> bool:
    """Blend the edit (``result`` against ``working``, both at the working resolution) into ``full``, the
    PIL image of the photo at its own size, in place. False when the result is the photo (nothing to do)."""
    import cv2
    from PIL import Image

    found = edit_alpha(working, result)
    if found is None:
        return False
    alpha, (x0, y0, x1, y1) = found
    h, w = working.shape[:2]
    fw, fh = full.size
    sx, sy = w / fw, h / fh
    # the full-size pixels whose centres fall in the box (outside it alpha is 0: the original stays)
    fx0, fx1 = max(0, int(np.floor(x0 / sx))), min(fw, int(np.ceil(x1 / sx)))
    fy0, fy1 = max(0, int(np.floor(y0 / sy))), min(fh, int(np.ceil(y1 / sy)))
    patch = np.ascontiguousarray(result[y0:y1, x0:x1])
    # a full-size pixel's centre in the working photo's pixels, relative to the box (as cv2.resize maps them)
    mx = ((np.arange(fx0, fx1) + 0.5) * sx - 0.5 - x0).astype(np.float32)
    for top in range(fy0, fy1, BAND_ROWS):
        bottom = min(fy1, top + BAND_ROWS)
        my = ((np.arange(top, bottom) + 0.5) * sy - 0.5 - y0).astype(np.float32)
        map_x, map_y = np.broadcast_to(mx, (my.size, mx.size)), np.broadcast_to(my[:, None], (my.size, mx.size))
        map_x, map_y = np.ascontiguousarray(map_x), np.ascontiguousarray(map_y)
        a = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if not a.any():
            continue
        up = cv2.remap(patch, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        orig = np.asarray(full.crop((fx0, top, fx1, bottom)), dtype=np.float32)
        # where alpha is 0 this is the original exactly (integers in float32, rounded back)
        out = orig + (up.astype(np.float32) - orig) * a[:, :, None]
        full.paste(Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8)), (fx0, top))
    return True


def export_result(out_path, photo_path, working: np.ndarray, result: np.ndarray,
                  max_side: int | None = None) -> Export:
    """Write ``result`` (made from ``working``, the photo ``photo_path`` as load_image read it at ``max_side``,
    by default the working size) to ``out_path``: at the photo's own size when it is larger than the working
    photo, the edit pasted into the original pixels (paste_back); else as it is. When the original cannot be
    used (gone, changed since it was opened, too large to decode) the working-size result is written and
    ``note`` says why."""
    size = (working.shape[1], working.shape[0])
    if result.shape != working.shape:  # not a picture of the working photo: nothing to paste it into
        save_image(out_path, result)
        return Export(str(out_path), (result.shape[1], result.shape[0]), size, None)
    try:
        photo = upright_size(photo_path)
    except ImageReadError:
        photo = None
    if photo is None or photo == size:
        save_image(out_path, result)
        note = "" if photo is not None else f"{Path(photo_path).name} can no longer be read"
        return Export(str(out_path), size, size, photo, note)
    try:
        # the file must still be the photo that was edited: read again as it was read, it is the working photo
        same = np.array_equal(load_image(photo_path, max_side), working)
        full = load_full_size(photo_path) if same else None
    except ImageReadError as e:
        same, full, why = False, None, str(e).split(": ", 1)[-1]
    else:
        why = "the photo file has changed since it was opened"
    if full is None or full.size != photo:
        save_image(out_path, result)
        return Export(str(out_path), size, size, photo, why)
    paste_back(full, working, result)
    save_image(out_path, full)
    return Export(str(out_path), full.size, size, photo)
