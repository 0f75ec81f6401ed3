"""Pose encodings shared by the backends and the trainer.

- ``heatmaps``: 18 Gaussian maps exp(-d^2 / 2 sigma^2), sigma 6 px (DGAN).
- ``onehot_maps``: a single 1 at each present joint (MAGPT, PATN in practice).
- ``limb_distance_maps``: 12 limb maps exp(kappa * d), kappa = -0.1, d the distance to the limb segment (SPGNet).
- ``part_warps``: DGAN's 10 body-part affine transforms and masks (pose-gan's pose_transform, paper Sec. 3.2 and
  appendix B), with the mirror-limb fallback.

All numpy functions take poses in the pixel coordinates of the map they make. Torch versions of the maps, for
batches on the training device, are in ``engine.backends.layers``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .pose import J, NUM_JOINTS, Pose

SIGMA = 6.0
KAPPA = -0.1

# The 12 limb segments of SPGNet's distance maps: both arms, both legs, and the neck-shoulder / neck-hip links.
DISTANCE_LIMBS = (
    (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
)

# DGAN's 10 rigid parts. Limbs are (joint, joint); head and torso are listed by name.
PART_NAMES = ("head", "torso", "r_upper_arm", "r_lower_arm", "l_upper_arm", "l_lower_arm",
              "r_thigh", "r_shin", "l_thigh", "l_shin")
NUM_PARTS = len(PART_NAMES)
PART_LIMBS = {
    "r_upper_arm": (J["r_shoulder"], J["r_elbow"]), "r_lower_arm": (J["r_elbow"], J["r_wrist"]),
    "l_upper_arm": (J["l_shoulder"], J["l_elbow"]), "l_lower_arm": (J["l_elbow"], J["l_wrist"]),
    "r_thigh": (J["r_hip"], J["r_knee"]), "r_shin": (J["r_knee"], J["r_ankle"]),
    "l_thigh": (J["l_hip"], J["l_knee"]), "l_shin": (J["l_knee"], J["l_ankle"]),
}
MIRROR_PART = {"r_upper_arm": "l_upper_arm", "l_upper_arm": "r_upper_arm", "r_lower_arm": "l_lower_arm",
               "l_lower_arm": "r_lower_arm", "r_thigh": "l_thigh", "l_thigh": "r_thigh",
               "r_shin": "l_shin", "l_shin": "r_shin"}
TORSO_JOINTS = (J["r_hip"], J["l_hip"], J["l_shoulder"], J["r_shoulder"])
HEAD_JOINTS = (J["nose"], J["r_eye"], J["l_eye"], J["r_ear"], J["l_ear"])
LIMB_WIDTH = 1.0 / 3.0   # of the mean torso diagonal (paper Sec. 3.2)
HEAD_HALF_BOX = 0.4      # half side of the head box, of the mean torso diagonal (pose-gan)


def _grid(h: int, w: int):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def heatmaps(pose: Pose, sigma: float = SIGMA, size: tuple[int, int] | None = None) -> np.ndarray:
    """(18, H, W) float32 Gaussian maps; a missing joint's map is all zero."""
    h, w = size or (pose.height, pose.width)
    xs, ys = _grid(h, w)
    out = np.zeros((NUM_JOINTS, h, w), np.float32)
    for i in np.flatnonzero(pose.present):
        x, y = pose.xy[i]
        out[i] = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
    return out


def onehot_maps(pose: Pose, size: tuple[int, int] | None = None) -> np.ndarray:
    """(18, H, W) float32 with a single 1 at each present joint (rounded to the nearest pixel)."""
    h, w = size or (pose.height, pose.width)
    out = np.zeros((NUM_JOINTS, h, w), np.float32)
    for i in np.flatnonzero(pose.present):
        x, y = np.round(pose.xy[i]).astype(int)
        if 0 <= x < w and 0 <= y < h:
            out[i, y, x] = 1.0
    return out


def segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the segment a-b."""
    ab = b - a
    denom = float(ab @ ab)
    if denom < 1e-12:
        return np.hypot(xs - a[0], ys - a[1])
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / denom, 0.0, 1.0)
    return np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))


def inside_convex(poly: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Whether the points (xs, ys) lie inside the convex polygon ``poly`` ((n, 2), either winding)."""
    signs = []
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        signs.append((bx - ax) * (ys - ay) - (by - ay) * (xs - ax) >= 0)
    signs = np.stack(signs)
    return signs.all(axis=0) | (~signs).all(axis=0)


def limb_distance_maps(pose: Pose, kappa: float = KAPPA, size: tuple[int, int] | None = None) -> np.ndarray:
    """(12, H, W) float32 maps exp(kappa * d) to each limb segment; zero for a limb with a missing end."""
    h, w = size or (pose.height, pose.width)
    xs, ys = _grid(h, w)
    out = np.zeros((len(DISTANCE_LIMBS), h, w), np.float32)
    for k, (a, b) in enumerate(DISTANCE_LIMBS):
        if pose.present[a] and pose.present[b]:
            out[k] = np.exp(kappa * segment_distance(xs, ys, pose.xy[a].astype(np.float32),
                                                     pose.xy[b].astype(np.float32)))
    return out


# ----- DGAN part transforms ---------------------------------------------------------------------------------
def torso_size(pose: Pose) -> float | None:
    """Mean of the torso's two diagonals, or None when the torso is incomplete."""
    if not pose.torso_valid():
        return None
    d1 = np.linalg.norm(pose.point("r_shoulder") - pose.point("l_hip"))
    d2 = np.linalg.norm(pose.point("l_shoulder") - pose.point("r_hip"))
    return float((d1 + d2) / 2)


MIN_BODY_SCALE = 1.0  # pixels: body_scale's floor, the size of a body with no size


def body_scale(pose: Pose) -> float:
    """The person's size for part geometry: the torso size, or, for a person whose hips are outside the photo
    or undetected (half-body photos, portraits), the same length estimated from the shoulders (a torso
    diagonal is ~1.6 shoulder widths) or the head (~3.5 head sizes, the standing preset's proportions)."""
    ts = torso_size(pose)
    if ts is None and pose.has("r_shoulder", "l_shoulder"):
        ts = float(1.6 * np.linalg.norm(pose.point("r_shoulder") - pose.point("l_shoulder")))
    elif ts is None:
        ts = 3.5 * pose.head_size()
    # at least a pixel: a pose whose joints all lie on one point (a pose file of zeros) divided by zero, and the
    # render printed numpy's warnings
    return max(float(ts), MIN_BODY_SCALE)


def _limb_rect(p: np.ndarray, q: np.ndarray, width: float) -> np.ndarray:
    """The 4 corners of the rectangle whose major axis is p-q and whose minor axis is ``width`` long."""
    d = q - p
    n = np.linalg.norm(d)
    perp = np.array([-d[1], d[0]]) / n if n > 1e-6 else np.array([1.0, 0.0])
    off = perp * width / 2
    return np.stack([p + off, q + off, q - off, p - off]).astype(np.float64)


def _region_points(pose: Pose, part: str, other: Pose) -> np.ndarray | None:
    """Points of ``part`` in ``pose`` (matched one to one with the same call on ``other``), None when absent.

    Head and torso use joints present in both poses (so the two point lists correspond); limbs use the
    rectangle corners, which exist when both limb joints are present.
    """
    if part == "torso":
        if pose.torso_valid() and other.torso_valid():
            return pose.xy[list(TORSO_JOINTS)].astype(np.float64)
        # a torso cut by the photo (no hips) or half seen: the torso joints both poses have, the neck too
        shared = [i for i in TORSO_JOINTS + (J["neck"],) if pose.present[i] and other.present[i]]
        return pose.xy[shared].astype(np.float64) if len(shared) >= 2 else None
    if part == "head":
        shared = [i for i in HEAD_JOINTS if pose.present[i] and other.present[i]]
        if not shared:
            return None
        # the neck is the head's pivot (the shoulders where it is missing): the app turns the face about it
        anchor = [J["neck"]] if pose.present[J["neck"]] and other.present[J["neck"]] else [
            i for i in (J["r_shoulder"], J["l_shoulder"]) if pose.present[i] and other.present[i]]
        return pose.xy[shared + anchor].astype(np.float64)
    a, b = PART_LIMBS[part]
    if not (pose.present[a] and pose.present[b]):
        return None
    return _limb_rect(pose.xy[a].astype(np.float64), pose.xy[b].astype(np.float64), LIMB_WIDTH * body_scale(pose))


# Points whose spread across their main direction is under this share of their spread along it are a line: an
# affine fitted to them is free across it and amplifies a fraction of a pixel into any shear. A portrait's torso
# (neck and shoulders only, the neck a pixel off the shoulders' line) turned into streaks over the whole photo
# when its pose came back from a JSON file rounded to a thousandth of a pixel. A side view's torso (neck,
# shoulders and hips near one line) gets the similarity too: its stretch across the body is not there to fit.
MIN_SPREAD = 0.1


def _well_spread(pts: np.ndarray) -> bool:
    s = np.linalg.svd(pts - pts.mean(0), compute_uv=False)
    return bool(s[0] > 1e-6 and s[1] > MIN_SPREAD * s[0])


def fit_similarity(dst_pts: np.ndarray, src_pts: np.ndarray) -> np.ndarray:
    """Least-squares rotation, uniform scale and translation with A @ [dst, 1] ~ src (closed form)."""
    a, b = dst_pts - dst_pts.mean(0), src_pts - src_pts.mean(0)
    den = float((a * a).sum())
    if den < 1e-12:
        t = src_pts.mean(0) - dst_pts.mean(0)
        return np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]])
    c = float((a * b).sum()) / den
    s = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()) / den
    R = np.array([[c, -s], [s, c]])
    t = src_pts.mean(0) - R @ dst_pts.mean(0)
    return np.concatenate([R, t[:, None]], axis=1)


def fit_affine(dst_pts: np.ndarray, src_pts: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 affine A with A @ [dst, 1] ~ src (paper eq. 2, mapping target onto source); a
    similarity (rotation, scale, translation) where the points are too few or lie on a line, where it is well
    posed and an affine is not."""
    n = len(dst_pts)
    dst_pts, src_pts = np.asarray(dst_pts, np.float64), np.asarray(src_pts, np.float64)
    if n >= 3 and _well_spread(dst_pts) and _well_spread(src_pts):
        X = np.concatenate([dst_pts, np.ones((n, 1))], axis=1)
        sol, *_ = np.linalg.lstsq(X, src_pts, rcond=None)
        return sol.T.astype(np.float64)
    if n:
        return fit_similarity(dst_pts, src_pts)
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def part_mask(pose: Pose, part: str, points: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Binary mask (H, W) float32 of a part region drawn from its points in ``pose``."""
    h, w = size or (pose.height, pose.width)
    m = np.zeros((h, w), np.uint8)
    if part == "head":
        ts = body_scale(pose)
        c = pose.xy[[i for i in HEAD_JOINTS if pose.present[i]]].mean(0)
        r = HEAD_HALF_BOX * ts
        box = np.array([[c[0] - r, c[1] - r], [c[0] + r, c[1] - r], [c[0] + r, c[1] + r], [c[0] - r, c[1] + r]])
        cv2.fillConvexPoly(m, np.round(box).astype(np.int32), 1)
    else:
        hull = cv2.convexHull(np.round(points).astype(np.int32))
        cv2.fillConvexPoly(m, hull, 1)
    return m.astype(np.float32)


@dataclass
class PartWarps:
    """DGAN's local deformation: per part an affine from target pixels to source pixels and a source mask."""

    affines: np.ndarray   # (10, 2, 3) float32: [x_src, y_src] = A @ [x_tgt, y_tgt, 1]
    valid: np.ndarray     # (10,) bool: the part is in both poses (possibly through its mirror limb)
    masks: np.ndarray     # (10, H, W) float32: the part's region in the source image (zero when not valid)
    borrowed: np.ndarray  # (10,) bool: the source region is the mirror limb's (appendix B)

    def scaled(self, factor: float) -> "PartWarps":
        """The same warps for a feature map ``factor`` times the size (e.g. 0.5 after a stride-2 conv).

        Pixel centres map as x' = (x + 0.5) * f - 0.5, so A' = S A S^-1 with S that map.
        """
        S = np.array([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5], [0, 0, 1]])
        Si = np.linalg.inv(S)
        A3 = np.concatenate([self.affines.astype(np.float64), np.tile([[[0, 0, 1]]], (NUM_PARTS, 1, 1))], axis=1)
        out = (S @ A3 @ Si)[:, :2]
        h, w = self.masks.shape[1:]
        nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
        masks = np.stack([cv2.resize(m, (nw, nh), interpolation=cv2.INTER_AREA) for m in self.masks])
        masks = (masks > 0.25).astype(np.float32)
        return PartWarps(out.astype(np.float32), self.valid.copy(), masks, self.borrowed.copy())


def torso_polygon(pose: Pose) -> np.ndarray | None:
    """(4, 2) x, y: the shoulders and the hips; where the hips are not seen (a half-body photo), as far below
    the shoulders, away from the face, as 1.6 shoulder widths (body_scale's torso). None without shoulders."""
    rs, ls = J["r_shoulder"], J["l_shoulder"]
    if not (pose.present[rs] and pose.present[ls]):
        return None
    a, b = pose.xy[rs].astype(np.float64), pose.xy[ls].astype(np.float64)
    if pose.present[J["r_hip"]] and pose.present[J["l_hip"]]:
        return np.stack([a, b, pose.xy[J["l_hip"]], pose.xy[J["r_hip"]]]).astype(np.float64)
    across = b - a
    down = np.array([-across[1], across[0]])
    face = [i for i in HEAD_JOINTS if pose.present[i]]
    towards = (pose.xy[face].mean(0) - (a + b) / 2) if face else np.array([0.0, -1.0])
    if down @ towards > 0:
        down = -down
    down *= 1.6  # |down| is the shoulder width
    return np.stack([a, b, b + down, a + down])


def part_warps(src: Pose, tgt: Pose, size: tuple[int, int] | None = None, same_frame: bool = False) -> PartWarps:
    """The 10 part transforms (target -> source) and source masks for a (source, target) pose pair.

    A part missing in the source but present in the target borrows the mirror limb's source region (appendix
    B); still missing, or missing in the target, gives an empty mask and an identity transform.
    ``size`` (H, W) is the mask size, by default the source image size; poses must be in those pixels.
    ``same_frame``: the target is in the source photo's own pixels (the photo being edited, not another reference
    nor a network's crop), so a torso the photo cuts above the hips keeps its cut end on the photo's edge.
    """
    h, w = size or (src.height, src.width)
    affines = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (NUM_PARTS, 1, 1))
    valid = np.zeros(NUM_PARTS, bool)
    borrowed = np.zeros(NUM_PARTS, bool)
    masks = np.zeros((NUM_PARTS, h, w), np.float32)
    for k, part in enumerate(PART_NAMES):
        tgt_pts = _region_points(tgt, part, src)
        if tgt_pts is None:
            continue
        src_pts = _region_points(src, part, tgt)
        if src_pts is None and part in MIRROR_PART:
            src_pts = _region_points(src, MIRROR_PART[part], tgt)
            borrowed[k] = src_pts is not None
        if src_pts is None:
            continue
        fit_tgt, fit_src = tgt_pts, src_pts
        if part == "torso" and same_frame and not any(p.present[J[n]] for p in (src, tgt)
                                                      for n in ("r_hip", "l_hip")):
            # a torso the photo cuts above the hips: its cut end (where torso_polygon puts the unseen hips) stays
            # on the edge, sliding along it with the shoulders' shift across the body; the shoulders move. Fitted
            # to the shoulders alone it turned whole about its middle, and a raised shoulder swung its cut end
            # away from the photo's edge, a wedge of wall in its place. Held still, a body moved sideways sheared
            poly = torso_polygon(src)
            shoulders = [J["r_shoulder"], J["l_shoulder"]]
            if poly is not None and all(tgt.present[j] for j in shoulders):
                across = (poly[1] - poly[0]) / max(float(np.linalg.norm(poly[1] - poly[0])), 1e-6)
                shift = float((tgt.xy[shoulders] - src.xy[shoulders]).mean(0) @ across)
                fit_tgt = np.vstack([tgt_pts, poly[2:] + shift * across])
                fit_src = np.vstack([src_pts, poly[2:]])
        # a head turns and moves whole: an affine fitted to a face turned about the neck sheared it (a tilted
        # head came out slanted and squashed into the collar)
        affines[k] = fit_similarity(fit_tgt, fit_src) if part == "head" else fit_affine(fit_tgt, fit_src)
        masks[k] = part_mask(src, part, src_pts, (h, w))
        valid[k] = True
    return PartWarps(affines, valid, masks, borrowed)


def target_part_masks(tgt: Pose, src: Pose, size: tuple[int, int] | None = None) -> np.ndarray:
    """(10, H, W) masks of the parts' regions in the target pose (where each warped part lands)."""
    h, w = size or (tgt.height, tgt.width)
    out = np.zeros((NUM_PARTS, h, w), np.float32)
    for k, part in enumerate(PART_NAMES):
        pts = _region_points(tgt, part, src)
        if pts is not None:
            out[k] = part_mask(tgt, part, pts, (h, w))
    return out
