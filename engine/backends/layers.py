"""Torch building blocks shared by the neural backends.

Pose tensors are (B, 18, 3): x, y in pixels of the map being made and a 1/0 presence flag (see base.py).
The maps match engine.encode's numpy versions (tests check both agree), but run batched on the device.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..encode import DISTANCE_LIMBS, KAPPA, NUM_PARTS, SIGMA, part_warps
from ..pose import NUM_JOINTS, Pose


def _grid(h: int, w: int, like: torch.Tensor):
    ys = torch.arange(h, device=like.device, dtype=like.dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=like.device, dtype=like.dtype).view(1, 1, 1, w)
    return xs, ys


def scale_poses(poses: torch.Tensor, factor: float) -> torch.Tensor:
    """Poses for a map ``factor`` times the size (pixel centres kept aligned)."""
    out = poses.clone()
    out[..., :2] = (poses[..., :2] + 0.5) * factor - 0.5
    return out


def heatmaps(poses: torch.Tensor, size: tuple[int, int], sigma: float = SIGMA) -> torch.Tensor:
    """(B, 18, H, W) Gaussian maps; zero for missing joints."""
    h, w = size
    xs, ys = _grid(h, w, poses)
    x = poses[..., 0, None, None]
    y = poses[..., 1, None, None]
    g = torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
    return g * poses[..., 2, None, None]


def onehot_maps(poses: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 18, H, W) with a 1 at each present joint's nearest pixel."""
    h, w = size
    xs, ys = _grid(h, w, poses)
    x = torch.round(poses[..., 0, None, None])
    y = torch.round(poses[..., 1, None, None])
    return ((xs == x) & (ys == y)).to(poses.dtype) * poses[..., 2, None, None]


def limb_distance_maps(poses: torch.Tensor, size: tuple[int, int], kappa: float = KAPPA) -> torch.Tensor:
    """(B, 12, H, W) maps exp(kappa * distance to limb); zero for a limb with a missing end."""
    h, w = size
    xs, ys = _grid(h, w, poses)
    a_idx = torch.tensor([a for a, _ in DISTANCE_LIMBS], device=poses.device)
    b_idx = torch.tensor([b for _, b in DISTANCE_LIMBS], device=poses.device)
    a, b = poses[:, a_idx], poses[:, b_idx]                       # (B, 12, 3)
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]
    dx, dy = (b[..., 0] - a[..., 0])[..., None, None], (b[..., 1] - a[..., 1])[..., None, None]
    denom = (dx ** 2 + dy ** 2).clamp_min(1e-12)
    t = (((xs - ax) * dx + (ys - ay) * dy) / denom).clamp(0, 1)
    d = torch.sqrt((xs - (ax + t * dx)) ** 2 + (ys - (ay + t * dy)) ** 2)
    valid = (a[..., 2] * b[..., 2])[..., None, None]
    return torch.exp(kappa * d) * valid


def tensor_to_pose(t: torch.Tensor, size: tuple[int, int]) -> Pose:
    arr = t.detach().float().cpu().numpy()
    return Pose(arr[:, :2], arr[:, 2] > 0.5, size[1], size[0])


def part_warp_tensors(src_poses: torch.Tensor, tgt_poses: torch.Tensor, size: tuple[int, int]):
    """DGAN part warps for a batch: affines (B, 10, 2, 3) target->source in pixels, masks (B, 10, H, W).

    Computed with engine.encode.part_warps on the CPU (10 small least-squares fits per pair): cheap next to
    the network, and the same code as the warp backend and the tests use.
    """
    affines, masks = [], []
    for s, t in zip(src_poses, tgt_poses):
        pw = part_warps(tensor_to_pose(s, size), tensor_to_pose(t, size), size)
        affines.append(pw.affines)
        masks.append(pw.masks * pw.valid[:, None, None])
    dev, dt = src_poses.device, src_poses.dtype
    return (torch.from_numpy(np.stack(affines)).to(dev, dt), torch.from_numpy(np.stack(masks)).to(dev, dt))


def scale_affines(affines: torch.Tensor, factor: float) -> torch.Tensor:
    """Affines (target->source, pixels) for maps ``factor`` times the size: A' = S A S^-1."""
    # in float32 whatever the model's dtype: linalg.inv has no half-precision kernel, and pixel coordinates
    # need more than fp16's 11 bits of mantissa
    A = affines.float()
    c = 0.5 * factor - 0.5
    S = A.new_tensor([[factor, 0, c], [0, factor, c], [0, 0, 1]])
    Si = torch.linalg.inv(S)
    bottom = A.new_tensor([0, 0, 1]).expand(*A.shape[:-2], 1, 3)
    A3 = torch.cat([A, bottom], dim=-2)
    return (S @ A3 @ Si)[..., :2, :].to(affines.dtype)


WARP_SAMPLING = ("bilinear", "nearest")


def warp_features(feat: torch.Tensor, affines: torch.Tensor, masks: torch.Tensor,
                  sampling: str = "bilinear") -> torch.Tensor:
    """Deformable skip connection (DGAN eqs. 3-4): max over parts of f_h(F * M_h).

    ``sampling``: "bilinear", or "nearest" as the DGAN authors' transform layer samples (TensorFlow's image
    transform at its default interpolation).

    feat (B, C, H, W); affines (B, P, 2, 3) mapping target pixels to source pixels at this resolution;
    masks (B, P, H, W) in the source, at this resolution. Parts with empty masks contribute zeros.
    """
    b, c, h, w = feat.shape
    p = affines.shape[1]
    A = affines.float()  # sampling positions in float32 (fp16 cannot address pixels of a 256 map exactly)
    xs, ys = _grid(h, w, A)
    ones = torch.ones_like(xs.expand(1, 1, h, w))
    base = torch.stack([xs.expand(1, 1, h, w), ys.expand(1, 1, h, w), ones], dim=-1)  # (1,1,H,W,3)
    src = torch.einsum("bpij,xyhwj->bphwi", A, base)                                # (B,P,H,W,2)
    masked = feat[:, None] * masks[:, :, None]                                        # (B,P,C,H,W)
    # the features' dtype after the masks' (float32 under CPU bf16 autocast: positions stay unrounded)
    grid = torch.stack([(2 * src[..., 0] + 1) / w - 1, (2 * src[..., 1] + 1) / h - 1], dim=-1).to(masked.dtype)
    warped = F.grid_sample(masked.reshape(b * p, c, h, w), grid.reshape(b * p, h, w, 2),
                           mode=sampling, padding_mode="zeros", align_corners=False)
    return warped.view(b, p, c, h, w).amax(dim=1)


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if masks.shape[-2:] == tuple(size):
        return masks
    return (F.interpolate(masks, size=size, mode="area") > 0.25).to(masks.dtype)


__all__ = ["heatmaps", "onehot_maps", "limb_distance_maps", "part_warp_tensors", "scale_affines",
           "warp_features", "resize_masks", "scale_poses", "tensor_to_pose", "NUM_PARTS", "NUM_JOINTS"]
