"""Putting a network's person back into the photo: the network repaints only what moved.

A pose-transfer network draws a whole crop, person and background, at its own small size (128x64 for the CPU
models). Pasting that crop back shows a blurred rectangle in a sharp photo (and the background a network
guesses is not the photo's); even its person is a blurred redraw of the photo's. So the engine keeps the photo
and lets the network draw only the body parts that moved:

    result = around * (1 - a) + crop pasted back * a

``around`` is the warp backend's render of the target pose: the photo itself where nothing moved, the person
inpainted out where it did, and the photo's own body parts moved where the network cannot draw (past the edge
of its crop box). ``a`` is the warp backend's repaint mask (each moved part where it lands and where it was,
weighted by how far it moved), grown by a margin so that the generated part's own edges (hair, loose clothes, a
limb drawn a little wide) are inside it, then feathered, and limited to the crop box the network saw. The
unchanged pose has an empty mask: it returns the photo, whatever the network.
"""
from __future__ import annotations

import cv2
import numpy as np

from .encode import body_scale
from .framing import Frame
from .pose import Pose

# Measured on the dance video with the networks tuned for 10 minutes, when the whole person was repainted: a
# tighter margin (0.04 or 0, feather 0.08 or 0.06) lowered SSIM by 0.006-0.010 (attention, SPGNet); a trained
# network's own edges and nearby background beat the warp engine's there.
MARGIN = 0.12   # of the torso size: how far the pasted region reaches past the silhouette
FEATHER = 0.10  # of the torso size: the soft edge's width
WORK_SIDE = 384  # the mask is grown and feathered at this size at most (it is smooth: full size would be waste)


def person_alpha(silhouette: np.ndarray, target: Pose, frame: Frame) -> np.ndarray:
    """(H, W, 1) float32 weight of the generated image: ``silhouette`` (what to repaint) grown, feathered,
    inside the crop box."""
    h, w = silhouette.shape
    ts = body_scale(target) or 0.1 * max(h, w)
    s = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(silhouette, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) \
        if s < 1 else silhouette
    grow = max(1, int(round(MARGIN * ts * s)))
    small = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    sigma = max(0.5, FEATHER * ts * s / 2)
    small = cv2.GaussianBlur(small, (0, 0), sigma)
    a = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if s < 1 else small
    a = np.clip(a, 0.0, 1.0)[..., None]
    box = frame.paste_alpha
    return a if box is None else a * box


def composite_person(around: np.ndarray, crop: np.ndarray, frame: Frame, alpha: np.ndarray) -> np.ndarray:
    """The network's ``crop`` (model size) put back into ``around`` (photo size, RGB) with ``alpha``."""
    ph, pw = around.shape[:2]
    back = cv2.warpAffine(crop, frame.inverse, (pw, ph), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    out = around.astype(np.float32) * (1.0 - alpha) + back.astype(np.float32) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
