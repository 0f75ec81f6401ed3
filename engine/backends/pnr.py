"""pNR: pose-guided person generation by hidden p-norm regression (Hu & Hauptmann), multi-shot.

The paper's assumption: in a hidden space, appearance is a linear function of pose, H ~= P F, where
    H (rows, D) = f_a(image)    one row of D appearance features per region of the quarter-resolution grid
    P (rows, d) = f_p(heatmaps) one row of d pose features per region
    F (d, D)    a pose-invariant description of the person, found by regression (eq. 1):
                F = argmin ||H_s - P_s F||_p
p = 2 is least squares (closed form, eq. 2); p = 1 is least absolute deviation by iteratively re-weighted
least squares (IRLS, eq. 3), robust to the rows where a source does not fit (occlusion, background clutter).
Then H_t = P_t F and the generator G turns H_t into the image.

Multi-shot is free: the rows of M source photos are stacked into one larger regression. Nothing else in the
network knows M, so M may differ between training and inference. This is why the engine encodes F once from
every reference (encode_sources) and a drag costs only f_p on the target pose and G (render).

Architecture (paper section 3.1): f_a, f_p = two stride-2 convolutions + N residual blocks (Johnson et al.)
+ reshape; f_p adds a linear layer to d. G = N residual blocks + two upsampling transposed convolutions. d = 20,
D = 256, N = 4 supervised / 2 unsupervised. The pose input is the 18 Gaussian keypoint heatmaps (sigma 6).
The paper does not say what turns G's last deconvolution into RGB: a 3x3 convolution and tanh here.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ..errors import PoseEditorError
from .base import NeuralBackend, SourceState
from .layers import NUM_JOINTS, heatmaps

# ================================================================================================================
# The p-norm regression, batched over the batch and over the D columns of H
# ================================================================================================================
# Least squares solves the normal equations (P^T P) F = P^T H. Their condition number is that of P squared, so
# a collapsed pose feature (two nearly equal columns of P, or fewer usable rows than d) makes them
# ill-conditioned; a ridge term lambda * I is then added, just large enough to bring the condition number down
# to MAX_CONDITION. A well-conditioned system gets no ridge at all (the exact least-squares answer).
MAX_CONDITION = 1e4


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float32 at least: torch.linalg has no half-precision solvers, and float64 inputs stay float64."""
    dt = torch.float32
    for t in tensors:
        dt = torch.promote_types(dt, t.dtype)
    return dt


@torch.no_grad()
def ridge_for(gram: torch.Tensor, max_condition: float = MAX_CONDITION) -> torch.Tensor:
    """The smallest lambda >= 0 with cond(gram + lambda I) <= max_condition, for a batch of PSD (..., d, d).

    (ev_max + l) / (ev_min + l) = c  gives  l = (ev_max - c ev_min) / (c - 1). The ridge is a constant of the
    solve, not a function of the features: no gradient flows through it (eigenvalue gradients are undefined at
    repeated eigenvalues, which a collapsed P produces).
    """
    ev = torch.linalg.eigvalsh(gram)
    lo, hi = ev[..., 0].clamp_min(0), ev[..., -1]
    lam = ((hi - max_condition * lo) / (max_condition - 1)).clamp_min(0)
    return torch.where(hi > 0, lam, torch.ones_like(lam))  # an all-zero P: any lambda > 0 gives F = 0


def _solve_spd(gram: torch.Tensor, rhs: torch.Tensor, max_condition: float) -> torch.Tensor:
    lam = ridge_for(gram, max_condition)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    return torch.linalg.solve(gram + lam[..., None, None] * eye, rhs)


def solve_lse(P: torch.Tensor, H: torch.Tensor, row_weights: torch.Tensor | None = None,
              max_condition: float = MAX_CONDITION) -> torch.Tensor:
    """p = 2 (eq. 2): F = (P^T V P)^-1 P^T V H for P (B, n, d), H (B, n, D), optional row weights V (B, n).

    Binary row weights are the unsupervised mode's masked rows (eq. 4).
    """
    dt = _compute_dtype(P, H)
    P, H = P.to(dt), H.to(dt)
    Pv = P if row_weights is None else P * row_weights.to(dt)[..., None]
    gram = Pv.transpose(1, 2) @ P                   # (B, d, d)
    rhs = Pv.transpose(1, 2) @ H                    # (B, d, D)
    return _solve_spd(gram, rhs, max_condition)


def solve_column_weighted(P: torch.Tensor, H: torch.Tensor, W: torch.Tensor,
                          max_condition: float = MAX_CONDITION) -> torch.Tensor:
    """One IRLS step (eq. 3): column i of F from the least squares with its own row weights W[:, :, i].

    P (B, n, d), H (B, n, D), W (B, n, D) -> F (B, d, D). All D systems are solved as one batch:
    gram_i = sum_n W[n, i] p_n p_n^T is (W^T)(p p^T), one matrix product over the rows.
    """
    b, n, d = P.shape
    outer = (P[..., :, None] * P[..., None, :]).reshape(b, n, d * d)
    gram = (W.transpose(1, 2) @ outer).view(b, -1, d, d)            # (B, D, d, d)
    rhs = (W * H).transpose(1, 2) @ P                                # (B, D, d)
    F = _solve_spd(gram, rhs[..., None], max_condition)[..., 0]      # (B, D, d)
    return F.transpose(1, 2)


def irls_weights(P: torch.Tensor, H: torch.Tensor, F: torch.Tensor, row_weights: torch.Tensor | None,
                 eps: float) -> torch.Tensor:
    """IRLS weights 1 / |H - P F| per element, (B, n, D).

    Residuals are floored at eps times the column's mean absolute residual: the rows that the fit passes through
    exactly would otherwise get infinite weight. Weights are then divided by their column mean (a column's
    solution does not change when its weights are scaled, but the float range of its normal equations does).
    """
    r = (H - P @ F).abs()
    if row_weights is not None:
        v = row_weights.to(r.dtype)[..., None]
        mean_r = (r * v).sum(1, keepdim=True) / v.sum(1, keepdim=True).clamp_min(1)
    else:
        v, mean_r = None, r.mean(1, keepdim=True)
    w = 1.0 / torch.maximum(r, eps * mean_r + torch.finfo(r.dtype).tiny)
    if v is not None:
        w = w * v
    return w / w.mean(1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)


def solve_lad(P: torch.Tensor, H: torch.Tensor, iters: int, row_weights: torch.Tensor | None = None,
              max_condition: float = MAX_CONDITION, eps: float = 1e-3) -> torch.Tensor:
    """p = 1 by IRLS from the least-squares start, a fixed number of iterations.

    The gradient goes through the last iteration only, as the paper does: the weights that iteration uses are
    computed without a graph (dF/dW is ignored), and the earlier iterations run without one at all.
    """
    dt = _compute_dtype(P, H)
    P, H = P.to(dt), H.to(dt)
    if iters <= 0:
        return solve_lse(P, H, row_weights, max_condition)
    with torch.no_grad():
        Pd, Hd = P.detach(), H.detach()
        F = solve_lse(Pd, Hd, row_weights, max_condition)
        for _ in range(iters - 1):
            F = solve_column_weighted(Pd, Hd, irls_weights(Pd, Hd, F, row_weights, eps), max_condition)
        W = irls_weights(Pd, Hd, F, row_weights, eps)
    return solve_column_weighted(P, H, W, max_condition)


def pnr_solve(P: torch.Tensor, H: torch.Tensor, p: int = 1, iters: int = 5, row_weights=None,
              max_condition: float = MAX_CONDITION, eps: float = 1e-3) -> torch.Tensor:
    """F = argmin ||H - P F||_p (eq. 1), p in {1, 2}; returned in the dtype of H."""
    if p == 2:
        F = solve_lse(P, H, row_weights, max_condition)
    elif p == 1:
        F = solve_lad(P, H, iters, row_weights, max_condition, eps)
    else:
        raise ValueError(f"pNR supports p = 1 or p = 2, not {p}")
    return F.to(H.dtype)


# ================================================================================================================
# The networks
# ================================================================================================================
def _norm(ch: int) -> nn.Module:
    # instance norm: a render is a batch of one, and statistics must not depend on what else is in a batch
    return nn.InstanceNorm2d(ch, affine=True)


class ResBlock(nn.Module):
    """Johnson et al.'s residual block: reflect-pad 3x3 conv, norm, ReLU, reflect-pad 3x3 conv, norm, + input."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch))

    def forward(self, x):
        return x + self.body(x)


class FeatureExtractor(nn.Module):
    """Two stride-2 convolutions and N residual blocks, then the reshape to one row per region: (B, h*w, C).

    With ``out_dim`` (the pose extractor) a linear layer maps each row from C to out_dim = d features.
    """

    def __init__(self, in_ch: int, ch: int, n_res: int, out_dim: int | None = None):
        super().__init__()
        half = max(1, ch // 2)
        # 4x4 kernels with stride 2 cover every input pixel equally (3x3 would weight alternate pixels twice)
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, half, 4, 2, 1), _norm(half), nn.ReLU(True),
            nn.Conv2d(half, ch, 4, 2, 1), _norm(ch), nn.ReLU(True),
            *[ResBlock(ch) for _ in range(n_res)])
        self.linear = nn.Linear(ch, out_dim) if out_dim else None

    def forward(self, x):
        f = self.body(x)
        rows = f.flatten(2).transpose(1, 2)          # (B, h*w, C), row-major over the grid
        return self.linear(rows) if self.linear is not None else rows


class Generator(nn.Module):
    """N residual blocks on the predicted feature map, two 2x transposed convolutions, RGB out."""

    def __init__(self, ch: int, n_res: int):
        super().__init__()
        c2, c4 = max(1, ch // 2), max(1, ch // 4)
        self.body = nn.Sequential(
            *[ResBlock(ch) for _ in range(n_res)],
            nn.ConvTranspose2d(ch, c2, 4, 2, 1), _norm(c2), nn.ReLU(True),
            nn.ConvTranspose2d(c2, c4, 4, 2, 1), _norm(c4), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c4, 3, 3), nn.Tanh())

    def forward(self, x):
        return self.body(x)


def _feature_dims(config: dict) -> tuple[int, int, int, int]:
    """(h, w, D, d) of the hidden space for a config; ValueError for a config that cannot work."""
    H, W = (int(v) for v in config["image_size"])
    if H % 4 or W % 4 or H <= 0 or W <= 0:
        raise ValueError(f"pNR needs an image size divisible by 4, got {H}x{W}")
    D = max(8, int(round(config["D"] * config["width"])))
    d = int(config["d"])
    h, w = H // 4, W // 4
    if d < 1 or d > h * w:
        raise ValueError(f"d = {d} needs at least d regions, the {H}x{W} image has {h * w}")
    if int(config["p"]) not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {config['p']}")
    return h, w, D, d


class PnrNet(nn.Module):
    """f_a, f_p, the pNR module and G; the tensor contract of engine.backends.base.PoseTransferNet."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = copy.deepcopy(config)
        self.h, self.w, self.D, self.d = _feature_dims(config)
        self.image_size = tuple(int(v) for v in config["image_size"])
        n_res = int(config["n_res"])
        self.appearance = FeatureExtractor(3, self.D, n_res)
        self.pose = FeatureExtractor(NUM_JOINTS, self.D, n_res, out_dim=self.d)
        self.generator = Generator(self.D, n_res)

    # ----- the parts ------------------------------------------------------------------------------------------
    def pose_features(self, poses: torch.Tensor) -> torch.Tensor:
        """P (B, h*w, d) for poses (B, 18, 3) in model pixels."""
        return self.pose(heatmaps(poses, self.image_size, float(self.config["sigma"])))

    def solve(self, H: torch.Tensor, P: torch.Tensor, row_weights: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        with torch.autocast(H.device.type, enabled=False):  # the solve runs in float32 at least, never half
            return pnr_solve(P, H, int(c["p"]), int(c["irls_iters"]), row_weights, float(c["max_condition"]),
                             float(c["irls_eps"]))

    def random_row_mask(self, batch: int, num_sources: int = 1, keep: float = 0.5, generator=None,
                        device=None) -> torch.Tensor:
        """The unsupervised mode's binary row weights v_j ~ Bernoulli(keep) (eq. 4), (B, M*h*w)."""
        rows = num_sources * self.h * self.w
        return (torch.rand(batch, rows, generator=generator, device=device) < keep).float()

    # ----- the contract ---------------------------------------------------------------------------------------
    def encode_sources(self, src_img: torch.Tensor, src_pose: torch.Tensor,
                       row_weights: torch.Tensor | None = None) -> dict:
        """F (B, d, D) from all M sources of each batch element: their rows stacked into one regression."""
        b, m = src_img.shape[:2]
        H = self.appearance(src_img.flatten(0, 1))                   # (B*M, hw, D)
        P = self.pose_features(src_pose.flatten(0, 1))               # (B*M, hw, d)
        H = H.reshape(b, m * H.shape[1], H.shape[2])
        P = P.reshape(b, m * P.shape[1], P.shape[2])
        return {"F": self.solve(H, P, row_weights)}

    def predict_features(self, state: dict, poses: torch.Tensor) -> torch.Tensor:
        """H_t = P_t F as a (B, D, h, w) feature map."""
        Ht = self.pose_features(poses) @ state["F"].to(poses.dtype)  # (B, hw, D)
        return Ht.transpose(1, 2).reshape(Ht.shape[0], self.D, self.h, self.w)

    def render(self, state: dict, tgt_pose: torch.Tensor) -> torch.Tensor:
        return self.generator(self.predict_features(state, tgt_pose))

    def forward(self, src_img, src_pose, tgt_pose, row_weights=None):
        return self.render(self.encode_sources(src_img, src_pose, row_weights), tgt_pose)


# ================================================================================================================
# Configurations
# ================================================================================================================
_PAPER = {"d": 20, "D": 256, "n_res": 4, "p": 1, "irls_iters": 5, "sigma": 6.0, "max_condition": MAX_CONDITION,
          "irls_eps": 1e-3, "max_references": 16}
CONFIGS = {
    # Market-1501, supervised, LAD (the paper's best)
    "paper-128x64": dict(_PAPER, image_size=[128, 64], width=1.0),
    # unsupervised training uses N = 2
    "paper-128x64-unsupervised": dict(_PAPER, image_size=[128, 64], width=1.0, n_res=2),
    # the paper's architecture at DeepFashion's size (the paper itself reports Market only)
    "paper-256x256": dict(_PAPER, image_size=[256, 256], width=1.0),
    # what the app and starter weights use: D = 64, live on a 2-core CPU
    "cpu-small": dict(_PAPER, image_size=[256, 128], width=0.25),
}


class PnrBackend(NeuralBackend):
    name = "pnr"
    title = "pNR (multi-shot)"
    summary = ("Hidden p-norm regression: solves for a pose-independent description of the person from every "
               "reference photo at once, then draws it in the new pose. More references, more detail.")
    multi_shot = True
    default_config = CONFIGS["cpu-small"]

    @classmethod
    def build_network(cls, config: dict):
        return PnrNet(dict(cls.default_config, **config))

    def encode_sources(self, images, poses, masks=None) -> SourceState:
        limit = int(self.config.get("max_references", 16))
        if not images:
            raise PoseEditorError("no reference photo")
        masks = list(masks)[:limit] if masks is not None else None
        state = super().encode_sources(list(images)[:limit], list(poses)[:limit], masks)
        state.cache["references_used"] = len(state.cache["crops"])
        state.cache["references_given"] = len(images)
        return state

    def references_used(self, state: SourceState) -> int:
        """How many reference photos the regression for F was solved from (the app shows it)."""
        return int(state.cache.get("references_used", len(state.images)))
