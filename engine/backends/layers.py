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

    On the CPU each part is sampled only over the target pixels its mask's box can reach (part_windows), from that
    box alone: a limb covers a tenth of the map or less, and sampling all ten parts over all of it was half of a
    DGAN training step. Outside its window a part is zero, as it is when sampled everywhere, so the max is the
    same; where a pixel lies in every part's window (the zero of a part that misses it is then not known) the
    sample takes the plain path. Positions and sampling are float32 (the plain path rounds its grid to the
    features' dtype: in bf16, positions up to half a pixel off on a 128-pixel map).
    """
    A = affines.float()  # sampling positions in float32 (fp16 cannot address pixels of a 256 map exactly)
    # the authors' layer (nearest): a position's rounding to a pixel is kept exactly as it was; a GPU runs the
    # whole map in one kernel, where a loop of small ones would wait on the host
    if sampling == "nearest" or feat.device.type != "cpu":
        return _warp_everywhere(feat, A, masks, sampling)
    windows = part_windows(A, masks, feat.shape[2], feat.shape[3])
    if all(win is None for win in windows):
        return _warp_everywhere(feat, A, masks, sampling)
    return _WindowedWarp.apply(feat, A, masks, sampling, windows)


class _WindowedWarp(torch.autograd.Function):
    """warp_features over the parts' windows, its gradient to the features only (poses and masks are data): the
    autograd of the per-part crops built a zero map of the batch's size for each of them."""

    @staticmethod
    def forward(ctx, feat, A, masks, sampling, windows):
        b, c, h, w = feat.shape
        dtype = torch.promote_types(feat.dtype, masks.dtype)  # the plain path's: the features' after the masks'
        out = torch.empty((b, c, h, w), dtype=dtype, device=feat.device)
        coef = A.tolist()
        # which part gave each value, for the backward only: a render (no gradient) keeps none
        who = torch.full((b, c, h, w), -1, dtype=torch.int8, device=feat.device) if ctx.needs_input_grad[0] else None
        for i in range(b):
            if windows[i] is None:
                out[i] = _warp_everywhere(feat[i:i + 1], A[i:i + 1], masks[i:i + 1], sampling)[0]
                continue
            out[i].zero_()
            for k, win in enumerate(windows[i]):
                if win is None:
                    continue
                ty0, ty1, tx0, tx1, sy0, sy1, sx0, sx1 = win
                src = (feat[i, :, sy0:sy1, sx0:sx1] * masks[i, k, sy0:sy1, sx0:sx1]).float()
                part = F.grid_sample(src[None], _window_grid(coef, i, k, win, feat.device)[None], mode=sampling,
                                     padding_mode="zeros", align_corners=False)[0].to(dtype)
                region = out[i, :, ty0:ty1, tx0:tx1]
                if who is not None:
                    who[i, :, ty0:ty1, tx0:tx1].masked_fill_(part > region, k)
                torch.maximum(region, part, out=region)
        if who is not None:
            ctx.save_for_backward(feat, A, masks, who)
            ctx.sampling, ctx.windows, ctx.coef = sampling, windows, coef
        return out

    @staticmethod
    def backward(ctx, grad):
        feat, A, masks, who = ctx.saved_tensors
        out = torch.zeros_like(feat, dtype=torch.float32)
        for i, wins in enumerate(ctx.windows):
            if wins is None:
                with torch.enable_grad():
                    f = feat[i:i + 1].detach().requires_grad_()
                    y = _warp_everywhere(f, A[i:i + 1], masks[i:i + 1], ctx.sampling)
                    out[i] += torch.autograd.grad(y, f, grad[i:i + 1])[0][0].float()
                continue
            for k, win in enumerate(wins):
                if win is None:
                    continue
                ty0, ty1, tx0, tx1, sy0, sy1, sx0, sx1 = win
                grid = _window_grid(ctx.coef, i, k, win, feat.device)
                g = grad[i, :, ty0:ty1, tx0:tx1] * (who[i, :, ty0:ty1, tx0:tx1] == k)
                # the input's gradient needs its shape only (bilinear weights are the grid's)
                like = feat.new_empty((1, feat.shape[1], sy1 - sy0, sx1 - sx0), dtype=torch.float32)
                g_src = torch.ops.aten.grid_sampler_2d_backward(g[None].float(), like, grid[None], 0, 0, False,
                                                                 [True, False])[0][0]
                out[i, :, sy0:sy1, sx0:sx1] += g_src.float() * masks[i, k, sy0:sy1, sx0:sx1]
        return out.to(feat.dtype), None, None, None, None


def _window_grid(coef, i: int, k: int, win, device) -> torch.Tensor:
    """The sampling grid (float32) of part ``k``'s target window in its source box's terms; ``coef``: the affines
    as nested lists (Python floats: a grid from 0-d tensors cost more in dispatch than in arithmetic)."""
    ty0, ty1, tx0, tx1, sy0, sy1, sx0, sx1 = win
    ys = torch.arange(ty0, ty1, device=device, dtype=torch.float32)[:, None]
    xs = torch.arange(tx0, tx1, device=device, dtype=torch.float32)[None, :]
    (a, b, c), (d, e, f) = coef[i][k]
    bw, bh = sx1 - sx0, sy1 - sy0
    # (2 * position + 1) / size - 1, the position in the box's pixels
    gx = xs * (2 * a / bw) + (ys * (2 * b / bw) + ((2 * (c - sx0) + 1) / bw - 1))
    gy = xs * (2 * d / bh) + (ys * (2 * e / bh) + ((2 * (f - sy0) + 1) / bh - 1))
    return torch.stack([gx.expand(len(ys), -1), gy.expand(len(ys), -1)], dim=-1)


def part_windows(affines: torch.Tensor, masks: torch.Tensor, h: int, w: int) -> list:
    """Per sample, per part: (ty0, ty1, tx0, tx1, sy0, sy1, sx0, sx1), the target box whose samples can reach the
    part's mask (the bilinear taps of a position within a pixel of its box) and that box in the source, or None for
    an empty mask; a sample's list is None where one pixel lies in every part's window."""
    present = (masks != 0).cpu().numpy()
    rows, cols = present.any(axis=3), present.any(axis=2)  # (B, P, H), (B, P, W)
    has = rows.any(axis=2)
    sy0, sy1 = rows.argmax(axis=2), h - rows[..., ::-1].argmax(axis=2)
    sx0, sx1 = cols.argmax(axis=2), w - cols[..., ::-1].argmax(axis=2)
    a, b, c, d, e, f = np.moveaxis(affines.detach().double().cpu().numpy().reshape(*affines.shape[:2], 6), -1, 0)
    # a position strictly between x0 - 1 and x1 has a tap in [x0, x1 - 1]; the box's corners, back in the target
    # (the 2x2 inverse written out: numpy's inv calls a BLAS that may spin threads the training step does not have)
    xs = np.stack([sx0 - 1.0, sx1, sx0 - 1.0, sx1], axis=-1) - c[..., None]
    ys = np.stack([sy0 - 1.0, sy0 - 1.0, sy1, sy1], axis=-1) - f[..., None]
    with np.errstate(all="ignore"):
        det = (a * e - b * d)[..., None]
        tx, ty = (e[..., None] * xs - b[..., None] * ys) / det, (a[..., None] * ys - d[..., None] * xs) / det
    finite = np.isfinite(tx).all(axis=2) & np.isfinite(ty).all(axis=2)
    with np.errstate(invalid="ignore"):
        tx0 = np.where(finite, np.clip(np.floor(np.nan_to_num(tx.min(axis=2))) - 1, 0, w), 0).astype(int)
        tx1 = np.where(finite, np.clip(np.ceil(np.nan_to_num(tx.max(axis=2))) + 2, 0, w), w).astype(int)
        ty0 = np.where(finite, np.clip(np.floor(np.nan_to_num(ty.min(axis=2))) - 1, 0, h), 0).astype(int)
        ty1 = np.where(finite, np.clip(np.ceil(np.nan_to_num(ty.max(axis=2))) + 2, 0, h), h).astype(int)
    out = []
    for i in range(masks.shape[0]):
        wins, cover = [], np.zeros((h, w), np.int16)
        for k in range(masks.shape[1]):
            if not has[i, k] or ty1[i, k] <= ty0[i, k] or tx1[i, k] <= tx0[i, k]:
                wins.append(None)
                continue
            win = tuple(int(v[i, k]) for v in (ty0, ty1, tx0, tx1, sy0, sy1, sx0, sx1))
            wins.append(win)
            cover[win[0]:win[1], win[2]:win[3]] += 1
        out.append(None if cover.max() >= masks.shape[1] else wins)
    return out


def _warp_everywhere(feat: torch.Tensor, A: torch.Tensor, masks: torch.Tensor, sampling: str) -> torch.Tensor:
    """warp_features by sampling every part over the whole map."""
    b, c, h, w = feat.shape
    p = A.shape[1]
    xs, ys = _grid(h, w, A)
    ones = torch.ones_like(xs.expand(1, 1, h, w))
    base = torch.stack([xs.expand(1, 1, h, w), ys.expand(1, 1, h, w), ones], dim=-1)  # (1,1,H,W,3)
    src = torch.einsum("bpij,xyhwj->bphwi", A, base)                                # (B,P,H,W,2)
    masked = feat[:, None] * masks[:, :, None]                                        # (B,P,C,H,W)
    grid = torch.stack([(2 * src[..., 0] + 1) / w - 1, (2 * src[..., 1] + 1) / h - 1], dim=-1).to(masked.dtype)
    warped = F.grid_sample(masked.reshape(b * p, c, h, w), grid.reshape(b * p, h, w, 2),
                           mode=sampling, padding_mode="zeros", align_corners=False)
    return warped.view(b, p, c, h, w).amax(dim=1)


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if masks.shape[-2:] == tuple(size):
        return masks
    return (F.interpolate(masks, size=size, mode="area") > 0.25).to(masks.dtype)


__all__ = ["heatmaps", "onehot_maps", "limb_distance_maps", "part_warp_tensors", "scale_affines",
           "warp_features", "part_windows", "resize_masks", "scale_poses", "tensor_to_pose", "NUM_PARTS", "NUM_JOINTS"]
