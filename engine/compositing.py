"""Putting a network's person back into the photo: the network repaints only what moved.

A pose-transfer network draws a whole crop, person and background, at its own small size (128x64 for the CPU
models). Pasting that crop back shows a blurred rectangle in a sharp photo (and the background a network
guesses is not the photo's); even its person is a blurred redraw of the photo's. So the engine keeps the photo
and lets the network draw only the body parts that moved:

    result = around * (1 - a) + crop pasted back * a

``around`` is the warp backend's render of the target pose: the photo itself where nothing moved, the person
inpainted out where it did, and the photo's own body parts moved where the network cannot draw (past the edge
of its crop box). ``a`` is the warp backend's repaint mask (each moved part where it lands, and where it was
less what a still part's layer covers there, weighted by how far it moved), grown by a margin so that the
generated part's own edges (hair, loose clothes, a limb drawn a little wide) are inside it, then feathered, and
limited to the crop box the network saw. The unchanged pose has an empty mask: it returns the photo, whatever
the network.

The crop is enlarged 2-8x onto the photo, a blur beside the photo's sharp pixels, and the transposed
convolutions leave a checkerboard at the model's pixel pitch. So before it is pasted: a [-1 4 10 4 -1] / 16
filter at the model's size (zero response at the checkerboard's period of 2 model pixels, 0.75 at twice that),
and where the warp render agrees with it and is not the inpainted background, the warp render's fine detail
on the network's coarse shapes (``photo_detail``).
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import body_scale
from .framing import Frame
from .pose import Pose

# With only the moved parts repainted and the photo's detail (benchmarks' eval_person, 5-minute SPGNet): margin
# 0.06 with warp.REPAINT_MOVE 0.2 gave L1 0.081 against 0.084 at 0.12 and 0.05, SSIM level (0.740 / 0.739).
# (When the whole person was repainted a tighter margin had lost: the network's edges beat the warp's.)
MARGIN = 0.06   # of the torso size: how far the pasted region reaches past the silhouette
FEATHER = 0.10  # of the torso size: the soft edge's width
DETAIL_SIGMA = 0.75  # model pixels: where the network's picture stops and the photo's detail starts
AGREE_SIGMA = 1.5   # model pixels: the neighbourhood over which the two pictures are compared
AGREE_LOW, AGREE_HIGH = 8.0, 24.0  # mean grey-level difference: agree fully below, not at all above
# Measured on dance frames 115-149 (eval_person, app res), SPGNet personalised for 5 minutes: SSIM / L1 / PCKh
# 0.719 / 0.084 / 0.83 pasted plain, 0.727 / 0.084 / 0.84 with the photo's detail, 0.736 / 0.084 / 0.84 with
# the 5-tap filter too; [1 2 1] (0.739 / 0.084 / 0.83) blurred the attention starter's limbs out of the
# detector's reach (PCKh 0.71 -> 0.64; 0.72 with the 5-tap). By eye the detail brings back the braces, seams
# and the face's edges. Detail at 0.5 or 1.5 model pixels and agreement bands 4-12 or 16-48 lost (docs/backends/warp.md).
# model pixels: the reach of the colour correction of a network that leans on the photo (photo_colours). A starter
# has never seen a real person: the attention starter drew fashion-real/50's white dress red, and its torso's small
# share tinted it pink. Wider (24) left half the tint; on personal models, whose colours are the person's, the
# correction lost 0.004 SSIM and 0.004 L1 on the dance pairs (the warp's colours there are its misplaced parts').
COLOUR_SIGMA = 8.0
INPAINTED_SIGMA = 0.5  # model pixels: how far past the inpainted area the photo's detail fades out
DETAIL_WORK = 2.0  # samples per model pixel at which photo_detail low-passes and compares
WORK_SIDE = 384  # the mask is grown and feathered at this size at most (it is smooth: full size would be waste)


def person_alpha(silhouette: np.ndarray, target: Pose, frame: Frame, kept: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 1) float32 weight of the generated image: ``silhouette`` (what to repaint) grown, feathered,
    inside the crop box, and not grown into the inside of ``kept`` ((H, W) share where the photo's own part
    shows: the warp engine's head, whose face the margin round a raised forearm took into a network's blur)."""
    h, w = silhouette.shape
    ts = body_scale(target) or 0.1 * max(h, w)
    s = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))

    def work(m):
        return cv2.resize(m, size, interpolation=cv2.INTER_AREA) if s < 1 else m

    grow = max(1, int(round(MARGIN * ts * s)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    sigma = max(0.5, FEATHER * ts * s / 2)
    small = cv2.GaussianBlur(cv2.dilate(work(silhouette), disc), (0, 0), sigma)
    if kept is not None and kept.any():
        # the margin stays off the kept part's inside; its outline (hair against the wall, the edge of a raised arm
        # drawn over it) is blended as before, so that the network's picture meets it without a seam
        small = small * (1.0 - cv2.GaussianBlur(cv2.erode(work(kept), disc), (0, 0), sigma))
    a = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if s < 1 else small
    a = np.clip(a, 0.0, 1.0)[..., None]
    box = frame.paste_alpha
    return a if box is None else a * box


def composite_person(around: np.ndarray, crop: np.ndarray, frame: Frame, alpha: np.ndarray,
                     detail: bool = True, inpainted: np.ndarray | None = None, colours: bool = False) -> np.ndarray:
    """The network's ``crop`` (model size) put back into ``around`` (photo size, RGB) with ``alpha``; with
    ``detail``, sharpened by ``around``'s fine detail where the two agree (``photo_detail``), except where
    ``around`` is ``inpainted`` ((H, W) share, the warp engine's: a guess whose only detail is its seams); with
    ``colours``, in ``around``'s colours where it paints (``photo_colours``: a network that leans on the photo)."""
    ph, pw = around.shape[:2]
    rows, cols = np.nonzero(alpha[..., 0].max(axis=1) > 0)[0], np.nonzero(alpha[..., 0].max(axis=0) > 0)[0]
    if not len(rows):
        return around.copy()
    # everything below is local: only the box where the network's share is not zero, padded for the blurs
    scale = 1.0 / frame.matrix[0, 0]  # photo pixels per model pixel
    pad = int(np.ceil(3 * (DETAIL_SIGMA + AGREE_SIGMA) * scale)) + 2
    y0, y1 = max(0, rows[0] - pad), min(ph, rows[-1] + 1 + pad)
    x0, x1 = max(0, cols[0] - pad), min(pw, cols[-1] + 1 + pad)
    inv = frame.inverse.copy()
    inv[:, 2] -= (x0, y0)
    if scale > 1:  # the checkerboard shows only enlarged
        k = np.array([-1, 4, 10, 4, -1], np.float32) / 16
        crop = cv2.sepFilter2D(crop, -1, k, k, borderType=cv2.BORDER_REPLICATE)
    back = cv2.warpAffine(crop, inv, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    near = around[y0:y1, x0:x1].astype(np.float32)
    a = alpha[y0:y1, x0:x1]
    if colours:
        real = a[..., 0] if inpainted is None else a[..., 0] * (1.0 - inpainted[y0:y1, x0:x1])
        back = photo_colours(near, back, real, scale)
    if detail:
        back = photo_detail(near, back, scale, None if inpainted is None else inpainted[y0:y1, x0:x1])
    out = around.copy()
    out[y0:y1, x0:x1] = np.clip(near * (1.0 - a) + back * a + 0.5, 0, 255).astype(np.uint8)
    return out


def photo_colours(photo: np.ndarray, net: np.ndarray, weight: np.ndarray, scale: float) -> np.ndarray:
    """``net`` (enlarged ``scale`` times onto the photo) shifted, channel by channel, by the smooth difference of
    ``photo`` from it: their difference averaged over COLOUR_SIGMA model pixels with ``weight`` ((H, W), where the
    network paints and ``photo`` shows the photo's own pixels), fading out where that weight is thin. The network
    keeps its shapes and shading; their colours are the photo's. Smooth at the network's pitch: made at the work
    scale (``_work_scale``)."""
    k, down, up = _work_scale(photo.shape, scale)
    weight = weight.astype(np.float32)
    diff, weight = down((photo - net) * weight[..., None]), down(weight)
    sigma = max(0.5, COLOUR_SIGMA * scale * k)
    num, den = cv2.GaussianBlur(diff, (0, 0), sigma), cv2.GaussianBlur(weight, (0, 0), sigma)
    # the mean where the weight is ample; towards none where only its faint edge reaches
    return net + up(num / np.maximum(den, 1e-3)[..., None] * np.clip(den / 0.05, 0.0, 1.0)[..., None])


def _work_scale(shape, scale: float):
    """(k, down, up) for a photo-sized box of ``shape`` under a network's picture enlarged ``scale`` times: what is
    smooth at the network's pitch is made at DETAIL_WORK samples per model pixel (k of the box's size, ``down``)
    and enlarged back (``up``), not blurred at the photo's full size (~30-tap Gaussians on every drag)."""
    h, w = shape[:2]
    k = min(1.0, DETAIL_WORK / scale)
    if k >= 1:
        return 1.0, (lambda a: a), (lambda a: a)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return k, (lambda a: cv2.resize(a, size, interpolation=cv2.INTER_AREA)), \
        (lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR))


def photo_detail(photo: np.ndarray, net: np.ndarray, scale: float,
                 inpainted: np.ndarray | None = None) -> np.ndarray:
    """``net`` (a network's picture enlarged ``scale`` times onto the photo) with the fine detail of ``photo``
    (the warp engine's render of the same pose) where the two agree and ``photo`` is not ``inpainted``,
    float32.

    Both are split at the network's resolution: low = Gaussian blur of DETAIL_SIGMA model pixels, high = the
    rest. Where the low-passed pictures agree (their local mean difference under AGREE_LOW grey levels) the
    result is the network's low frequencies plus the photo's high ones: the network decides shape and shading,
    the photo gives texture, edges, the face's features. Where they disagree by AGREE_HIGH or more (a limb the
    warp tore, an area the moved part uncovered, which the warp engine inpaints smoothly) the network's
    picture is kept as it is; in between, a linear mix. The agreement is itself smoothed over AGREE_SIGMA
    model pixels, so it has no edges of its own to show.

    The inpainted background has no detail of its own but its seams: the thin lines where it meets the photo
    or a moved part's soft edge. On a plain wall both pictures agree there, and those lines were put on the
    network's smooth wall as a light and dark outline along a moved arm; so the detail is taken only where
    ``photo`` shows the photo's own pixels (weighted by 1 - ``inpainted``, softened over INPAINTED_SIGMA
    model pixels)."""
    sigma = DETAIL_SIGMA * scale
    if sigma < 0.5:  # the network draws at the photo's resolution: there is no finer detail to add
        return net
    # the low-passed pictures and the agreement are smooth at the network's pitch: made at the work scale
    k, down, full = _work_scale(photo.shape, scale)

    def low(img):
        return cv2.GaussianBlur(down(img), (0, 0), sigma * k)

    photo_low, net_low = low(photo), low(net)
    diff = cv2.GaussianBlur(np.abs(photo_low - net_low).mean(axis=2), (0, 0), max(0.5, AGREE_SIGMA * scale * k))
    agree = np.clip((AGREE_HIGH - diff) / (AGREE_HIGH - AGREE_LOW), 0.0, 1.0)
    if inpainted is not None and inpainted.any():
        agree *= cv2.GaussianBlur(down(1.0 - inpainted), (0, 0), max(0.5, INPAINTED_SIGMA * scale * k))
    return net + full(agree)[..., None] * ((photo - full(photo_low)) - (net - full(net_low)))
