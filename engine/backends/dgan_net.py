"""The Deformable GAN generator (Siarohin et al., CVPR 2018) and its SA/SN variant (Horiuchi et al.), in torch.

Layout as in the authors' Keras code (pose-gan ``conditional_gan.py``):

    two encoder streams with the same layers, no shared weights:
        appearance: [source image, source heatmaps] (3 + 18 channels)      pose: target heatmaps (18)
        3x3 conv (bias) to 64, then LeakyReLU(0.2) -> 4x4 stride-2 conv (no bias) -> norm, filters
        128, 256, 512, 512, 512 (the deepest without norm); 256x256 adds one more 512 block
    skips: appearance skips 0-3 are part-warped (10 affines, masks, max), the deeper ones go as they are; each
        is concatenated with the pose stream's skip of the same scale
    decoder: ReLU -> 4x4 stride-2 transposed conv (no bias) -> norm (-> dropout 0.5 on the first three),
        filters 512, 512, 512, 256, 128 (one more 512 at 256x256), each after concatenating the next skip;
        last: concat skip 0 -> ReLU -> 3x3 conv (bias) -> tanh

Part masks come from engine.encode.part_warps (the region of each part in the source, the mirror limb for a
missing one), except the torso's, which covers the whole image as the paper says (``torso_whole_image``), so
that the background reaches the decoder through the torso's transform.

The paper's text writes "CN_64^1" for the first encoder layer; the released code (and so the released weights)
has a plain 3x3 conv there: we follow the code.

Normalisation: the authors used keras-contrib's ``InstanceNormalization()`` with its default ``axis=None``,
which normalises each sample over channels *and* pixels together with a single learned scale and shift, and
adds epsilon 1e-3 to the standard deviation (not to the variance). ``norm="keras-instance"`` (the default)
reproduces it, so that the authors' weights can be imported; ``norm="instance"`` is the per-channel instance
norm the paper's text names.

Variant switches (Horiuchi et al.): ``spectral_norm`` wraps every decoder convolution (and the discriminator's,
in training/recipes/dgan.py); ``self_attention`` adds a SAGAN attention layer after each of the decoder's last
two up-sampling layers (the paper's "last two layers of the decoder": the final 3-channel conv cannot carry
attention, so the last two feature layers are used). ``attention_pool`` > 1 max-pools the attention's keys and
values (as SAGAN's released code does with 2): the paper configurations keep 1 (the variant's equations), the
small CPU configuration of ``dgan-sa`` uses 2, a quarter of the score map.

encode_sources runs the appearance stream once and keeps its skips and the source pose; render runs the pose
stream, the warps (they need both poses) and the decoder.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from ..encode import PART_NAMES
from .layers import WARP_SAMPLING, heatmaps, part_warp_tensors, resize_masks, scale_affines, warp_features

NUM_JOINTS = 18
TORSO = PART_NAMES.index("torso")
# Paper / released-code filters of the 6-level (128x64, Market) generator; 7 levels add one 512 block.
BASE_ENCODER = (64, 128, 256)
BASE_DECODER_TAIL = (256, 128)
DEEP_FILTERS = 512
NORMS = ("keras-instance", "instance")


def filters_for(levels: int, width: float = 1.0) -> tuple[list[int], list[int]]:
    """Encoder filters (``levels`` entries) and decoder up-block filters (``levels - 1``), scaled by ``width``."""
    enc = list(BASE_ENCODER) + [DEEP_FILTERS] * (levels - len(BASE_ENCODER))
    dec = [DEEP_FILTERS] * (levels - 1 - len(BASE_DECODER_TAIL)) + list(BASE_DECODER_TAIL)
    scale = lambda c: max(1, int(round(c * width)))
    return [scale(c) for c in enc], [scale(c) for c in dec]


def auto_levels(image_size) -> int:
    """The authors' rule: 6 levels when the longest side is 128 or less, else one more (256x256 DeepFashion)."""
    return 6 if max(image_size) <= 128 else 7


def resolve_config(config: dict) -> dict:
    """A complete, JSON-able config with derived values filled in; ValueError on an unusable one."""
    cfg = dict(config)
    h, w = (int(v) for v in cfg["image_size"])
    cfg["image_size"] = [h, w]
    cfg["width"] = float(cfg.get("width", 1.0))
    if cfg.get("levels") in (None, "auto"):
        cfg["levels"] = auto_levels((h, w))
    cfg["levels"] = int(cfg["levels"])
    cfg.setdefault("norm", "keras-instance")
    cfg.setdefault("dropout", 0.5)
    cfg.setdefault("warped_skips", 4)
    cfg.setdefault("spectral_norm", False)
    cfg.setdefault("self_attention", False)
    cfg.setdefault("attention_pool", 1)
    cfg.setdefault("sigma", 6.0)
    cfg.setdefault("torso_whole_image", True)
    cfg["torso_whole_image"] = bool(cfg["torso_whole_image"])
    cfg.setdefault("warp_sampling", "bilinear")
    if cfg["warp_sampling"] not in WARP_SAMPLING:
        raise ValueError(f"warp_sampling must be one of {WARP_SAMPLING}, got {cfg['warp_sampling']!r}")
    cfg["spectral_norm"] = bool(cfg["spectral_norm"])
    cfg["self_attention"] = bool(cfg["self_attention"])
    cfg["attention_pool"] = int(cfg["attention_pool"])
    if cfg["attention_pool"] not in (1, 2, 4):
        raise ValueError(f"attention_pool must be 1, 2 or 4, got {cfg['attention_pool']}")
    levels = cfg["levels"]
    if not 5 <= levels <= 8:
        raise ValueError(f"levels must be 5..8, got {levels}")
    step = 2 ** (levels - 1)
    if h % step or w % step:
        raise ValueError(f"image size {h}x{w} must be a multiple of {step} for a {levels}-level DGAN generator")
    if cfg["norm"] not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {cfg['norm']!r}")
    if cfg["width"] <= 0:
        raise ValueError(f"width must be positive, got {cfg['width']}")
    if not 0 <= cfg["warped_skips"] <= levels:
        raise ValueError(f"warped_skips must be 0..{levels}")
    return cfg


class KerasInstanceNorm(nn.Module):
    """keras-contrib ``InstanceNormalization(axis=None)``: per sample over (C, H, W), scalar scale and shift,
    ``(x - mean) / (std + eps)`` with the biased standard deviation."""

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, x.dim()))
        mean = x.mean(dims, keepdim=True)
        std = x.var(dims, keepdim=True, unbiased=False).sqrt()
        return (x - mean) / (std + self.eps) * self.weight + self.bias


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "keras-instance":
        return KerasInstanceNorm()
    return nn.InstanceNorm2d(channels, affine=True)


def maybe_sn(module: nn.Module, on: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al.): W / sigma(W), sigma by one power iteration per training step."""
    return nn.utils.parametrizations.spectral_norm(module) if on else module


class SelfAttention(nn.Module):
    """SAGAN self-attention as Horiuchi et al. write it (their eqs. 5-6).

    s_uv = g(phi_u)^T h(phi_v), beta_v = softmax_u(s_uv), o_v = gamma * sum_u beta_vu W_o phi_u + phi_v, with
    W_g, W_h: C -> C/8 and W_o: C -> C (1x1 convs), gamma a scalar starting at 0 (the layer starts as identity).
    Scores are not scaled (SAGAN does not). The layers sit at 1/2 and full resolution, so a 128x64 generator
    attends over 8192 positions (a 67M-entry score map per image): queries go in chunks of at most ``CHUNK``
    scores, and while training each chunk is recomputed in the backward pass instead of being kept (the score
    maps of a batch of 8 would take several GB). On the CPU plain bmm + softmax measured about 6x faster than
    torch's fused attention at these small key sizes. ``pool`` > 1 max-pools keys and values by pool x pool
    (SAGAN's released code pools by 2): the score map shrinks by pool^2, the output keeps every position.
    """

    CHUNK = 1 << 24

    def __init__(self, channels: int, sn: bool = False, reduction: int = 8, pool: int = 1):
        super().__init__()
        self.pool = pool
        inner = max(1, channels // reduction)
        self.g = maybe_sn(nn.Conv2d(channels, inner, 1), sn)        # keys
        self.h = maybe_sn(nn.Conv2d(channels, inner, 1), sn)        # queries
        self.o = maybe_sn(nn.Conv2d(channels, channels, 1), sn)     # values
        self.gamma = nn.Parameter(torch.zeros(1))

    @staticmethod
    def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.bmm(torch.softmax(torch.bmm(q, k), dim=-1), v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        q = self.h(x).flatten(2).transpose(1, 2)    # (B, N, C/8): h(phi_v)
        k, v = self.g(x), self.o(x)
        if self.pool > 1:
            k, v = F.max_pool2d(k, self.pool), F.max_pool2d(v, self.pool)
        k = k.flatten(2)                            # (B, C/8, M): g(phi_u)
        v = v.flatten(2).transpose(1, 2)            # (B, M, C):   W_o phi_u
        n, m = q.shape[1], k.shape[2]
        step = max(1, self.CHUNK // (m * b))
        recompute = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
        parts = []
        for i in range(0, n, step):
            if recompute:
                parts.append(checkpoint(self._attend, q[:, i:i + step], k, v, use_reentrant=False))
            else:
                parts.append(self._attend(q[:, i:i + step], k, v))
        att = torch.cat(parts, dim=1)
        return x + self.gamma * att.transpose(1, 2).reshape(b, c, hh, ww)


class Encoder(nn.Module):
    """One encoder stream; returns every level's output (the skips), shallow to deep."""

    def __init__(self, in_ch: int, filters: list[int], norm: str):
        super().__init__()
        layers = [nn.Conv2d(in_ch, filters[0], 3, padding=1)]
        for i in range(1, len(filters)):
            last = i == len(filters) - 1
            layers.append(nn.Sequential(
                nn.LeakyReLU(0.2),
                nn.Conv2d(filters[i - 1], filters[i], 4, stride=2, padding=1, bias=False),
                nn.Identity() if last else make_norm(norm, filters[i])))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


class Decoder(nn.Module):
    """Up blocks from the deepest skip, each concatenating the next shallower skip first; 3x3 conv + tanh."""

    def __init__(self, skip_ch: list[int], filters: list[int], norm: str, dropout: float, sn: bool, sa: bool,
                 pool: int = 1):
        super().__init__()
        n = len(filters)
        blocks, attention = [], []
        prev = 0
        for i, f in enumerate(filters):
            in_ch = prev + skip_ch[-1 - i]
            blocks.append(nn.Sequential(
                nn.ReLU(),
                maybe_sn(nn.ConvTranspose2d(in_ch, f, 4, stride=2, padding=1, bias=False), sn),
                make_norm(norm, f),
                nn.Dropout(dropout) if i < 3 and dropout > 0 else nn.Identity()))
            attention.append(SelfAttention(f, sn, pool=pool) if sa and i >= n - 2 else nn.Identity())
            prev = f
        self.blocks = nn.ModuleList(blocks)
        self.attention = nn.ModuleList(attention)
        self.final = nn.Sequential(nn.ReLU(), maybe_sn(nn.Conv2d(prev + skip_ch[0], 3, 3, padding=1), sn))

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        x = None
        for i, (block, att) in enumerate(zip(self.blocks, self.attention)):
            s = skips[-1 - i]
            x = att(block(s if x is None else torch.cat([x, s], 1)))
        return torch.tanh(self.final(torch.cat([x, skips[0]], 1)))


class DganGenerator(nn.Module):
    """The DGAN generator with the engine's two calls (a PoseTransferNet, see engine/backends/base.py)."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = resolve_config(config)
        c = self.config
        enc, dec = filters_for(c["levels"], c["width"])
        self.image_size = tuple(c["image_size"])
        self.appearance = Encoder(3 + NUM_JOINTS, enc, c["norm"])
        self.pose = Encoder(NUM_JOINTS, enc, c["norm"])
        self.decoder = Decoder([2 * f for f in enc], dec, c["norm"], c["dropout"], c["spectral_norm"],
                               c["self_attention"], c["attention_pool"])

    def _heatmaps(self, poses: torch.Tensor) -> torch.Tensor:
        return heatmaps(poses, self.image_size, self.config["sigma"])

    def encode_sources(self, src_img: torch.Tensor, src_pose: torch.Tensor) -> dict:
        """Only the first reference is used (DGAN is single-shot)."""
        img, pose = src_img[:, 0], src_pose[:, 0]
        feats = self.appearance(torch.cat([img, self._heatmaps(pose).to(img.dtype)], 1))
        state = {f"app{i}": f for i, f in enumerate(feats)}
        state["src_pose"] = pose
        return state

    def warped_skips(self, state: dict, tgt_pose: torch.Tensor) -> list[torch.Tensor]:
        """The appearance skips, the first ``warped_skips`` of them moved into the target pose."""
        n = self.config["levels"]
        feats = [state[f"app{i}"] for i in range(n)]
        k = self.config["warped_skips"]
        if k == 0:
            return feats
        h = self.image_size[0]
        affines, masks = part_warp_tensors(state["src_pose"].float(), tgt_pose.float(), self.image_size)
        if self.config["torso_whole_image"]:
            # the paper (sec. 3.1): "for the torso ... a region which includes the whole image, in such a way to
            # shuttle texture information for the background pixels"; still empty when the torso is not valid
            valid = masks[:, TORSO].flatten(1).amax(1) > 0
            masks = masks.clone()
            masks[:, TORSO] = valid[:, None, None].to(masks.dtype)
        out = []
        for i, f in enumerate(feats):
            if i < k:
                factor = f.shape[-2] / h
                a = scale_affines(affines, factor).to(f.dtype)
                m = resize_masks(masks, tuple(f.shape[-2:])).to(f.dtype)
                f = warp_features(f, a, m, self.config["warp_sampling"])
            out.append(f)
        return out

    def render(self, state: dict, tgt_pose: torch.Tensor) -> torch.Tensor:
        pose_feats = self.pose(self._heatmaps(tgt_pose).to(state["app0"].dtype))
        app = self.warped_skips(state, tgt_pose)
        return self.decoder([torch.cat([a, p], 1) for a, p in zip(app, pose_feats)])

    def forward(self, src_img: torch.Tensor, src_pose: torch.Tensor, tgt_pose: torch.Tensor) -> torch.Tensor:
        return self.render(self.encode_sources(src_img, src_pose), tgt_pose)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def gflops_parts(config: dict) -> dict[str, float]:
    """GFLOP (2 x multiply-adds) of the convolutions of one pass: the appearance stream (what encode_sources
    runs once), the pose stream and the decoder (what every render runs). Attention and warps left out."""
    c = resolve_config(config)
    enc, dec = filters_for(c["levels"], c["width"])
    h, w = c["image_size"]
    parts = {}
    for name, in_ch in (("appearance", 3 + NUM_JOINTS), ("pose", NUM_JOINTS)):
        macs = in_ch * enc[0] * 9 * h * w
        for i in range(1, len(enc)):
            macs += enc[i - 1] * enc[i] * 16 * (h >> i) * (w >> i)
        parts[name] = 2 * macs / 1e9
    skip = [2 * f for f in enc]
    prev, macs, n = 0, 0, len(dec)
    for i, f in enumerate(dec):
        lvl_in = n - i  # input level of this up block (a transposed conv: 16 MACs per input pixel and pair)
        macs += (prev + skip[-1 - i]) * f * 16 * (h >> lvl_in) * (w >> lvl_in)
        prev = f
    macs += (prev + skip[0]) * 3 * 9 * h * w
    parts["decoder"] = 2 * macs / 1e9
    return parts


def gflops_estimate(config: dict) -> float:
    return sum(gflops_parts(config).values())


__all__ = ["DganGenerator", "SelfAttention", "KerasInstanceNorm", "Encoder", "Decoder", "resolve_config",
           "filters_for", "auto_levels", "count_parameters", "gflops_estimate", "gflops_parts", "maybe_sn",
           "make_norm"]
