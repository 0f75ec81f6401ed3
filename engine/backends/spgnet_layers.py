"""Building blocks of SPGNet (Lv et al., CVPR 2021): SPATN's pose-attention blocks, the region style encoder,
SEAN region-adaptive normalisation and the SPGBlock. The assembled network is in engine/backends/spgnet.py.

Written from the paper (Sec. 3, Fig. 1-2, eqs. 1-7); where the paper leaves a choice open the comment says
what was taken and why.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm


def scaled(channels: float, width: float, least: int = 4) -> int:
    """A channel count times the width multiplier (width 1.0 is the paper), never below ``least``."""
    return max(least, int(round(channels * width)))


def norm2d(kind: str, channels: int, affine: bool = True) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=affine)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=affine)
    raise ValueError(f"unknown norm {kind!r} (batch or instance)")


def one_hot(labels: torch.Tensor, num_labels: int, dtype=torch.float32) -> torch.Tensor:
    """(B, H, W) integer labels -> (B, L, H, W) one-hot maps."""
    return F.one_hot(labels.long().clamp(0, num_labels - 1), num_labels).permute(0, 3, 1, 2).to(dtype)


def labels_at(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Labels resampled to a feature map's size (nearest: a region keeps hard borders at every scale)."""
    if labels.shape[-2:] == tuple(size):
        return labels
    return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()


# ===== dual-path encoder ======================================================================================
class ResBlock(nn.Module):
    """x + conv(act(x)) with a norm, the residual unit of the PEBlocks and AEBlocks (two per scale)."""

    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.norm = norm2d(norm, ch)

    def forward(self, x):
        return x + self.norm(self.conv(F.relu(x)))


class EncoderStream(nn.Module):
    """PEBlocks (pose, 30 input channels) or AEBlocks (appearance, 3): the same architecture, as the paper says.

    A 1x1 stem to ``chans[0]``, then per scale ``res`` residual blocks (the scale's skip feature is the output of
    the last one) and a stride-2 conv to the next scale. Returns [skip_0, ..., skip_{n-1}, bottleneck].
    """

    def __init__(self, in_ch: int, chans: list[int], res: int, norm: str):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_ch, chans[0], 1, bias=False), norm2d(norm, chans[0]))
        self.blocks = nn.ModuleList(nn.Sequential(*[ResBlock(c, norm) for _ in range(res)]) for c in chans[:-1])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), norm2d(norm, b))
            for a, b in zip(chans[:-1], chans[1:]))

    def forward(self, x) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for block, down in zip(self.blocks, self.downs):
            x = block(x)
            feats.append(x)
            x = down(x)
        feats.append(x)
        return feats


class VisibilityResidual(nn.Module):
    """Stands in for Intr-Flow's visibility gating (paper Sec. 3.2, "a gating layer ... based on the visibility
    map V"). Our visibility is where any warped body part lands in the target; where none does, the warped
    features are empty and this residual may fill them from the target pose features."""

    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.conv = nn.Conv2d(2 * ch + 1, ch, 3, padding=1, bias=False)
        self.norm = norm2d(norm, ch)

    def forward(self, warped, visible, pose_feat):
        return warped + self.norm(self.conv(F.relu(torch.cat([warped, visible, pose_feat], 1))))


# ===== stage 1: SPATN ===========================================================================================
class PATBlock(nn.Module):
    """Pose-attentional transfer block: the pose code gates an update of the parsing code, and the next
    pose code is the concatenation of the updated parsing code with this block's pose logits.

    ``patn=True`` is PATN's block (Zhu et al. 2019): reflection padding, and a pose branch that keeps 2d channels
    through its first conv (2d -> 2d, norm, ReLU, 2d -> d) with no norm on the attention logits. ``False`` is
    the compact block the CPU configurations use: 2d -> d then d -> d with a norm after each (about 40% fewer
    parameters at d = 256; the starter weights were trained with it).
    """

    def __init__(self, dim: int, pose_in: int, norm: str, patn: bool = False):
        super().__init__()

        def conv(cin, cout):
            if patn:
                return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3, bias=False)]
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False)]

        self.img = nn.Sequential(*conv(dim, dim), norm2d(norm, dim), nn.ReLU(), *conv(dim, dim), norm2d(norm, dim))
        if patn:
            self.pose = nn.Sequential(*conv(pose_in, pose_in), norm2d(norm, pose_in), nn.ReLU(), *conv(pose_in, dim))
        else:
            self.pose = nn.Sequential(*conv(pose_in, dim), norm2d(norm, dim), nn.ReLU(), *conv(dim, dim),
                                      norm2d(norm, dim))

    def forward(self, img_code, pose_code):
        p = self.pose(pose_code)
        img_code = img_code + self.img(img_code) * torch.sigmoid(p)
        return img_code, torch.cat([p, img_code], 1)


def _down_stack(in_ch: int, ngf: int, norm: str, first: bool = True) -> nn.Sequential:
    """7x7 conv then two stride-2 convs: H x W -> H/4 x W/4 with 4 ngf channels (PATN's encoder).
    ``first=False`` leaves out the 7x7 conv (the pose stream applies it in two halves, see SPATN)."""
    head = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7, bias=False)] if first else []
    return nn.Sequential(
        *head, norm2d(norm, ngf), nn.ReLU(),
        nn.Conv2d(ngf, 2 * ngf, 3, stride=2, padding=1, bias=False), norm2d(norm, 2 * ngf), nn.ReLU(),
        nn.Conv2d(2 * ngf, 4 * ngf, 3, stride=2, padding=1, bias=False), norm2d(norm, 4 * ngf), nn.ReLU())


class SPATN(nn.Module):
    """Stage 1 (paper Sec. 3.1, eq. 1): target parsing logits from the source parsing (or, as SPATN*, the source
    image), the source pose and the target pose (each pose as 18 heatmaps + 12 limb distance maps).

    ``encode_source`` is the part that depends on the source alone (cached by the engine): the parsing stream's
    encoder and the source pose's half of the pose stream's first convolution (a convolution of the
    concatenation [source maps, target maps] is the sum of one convolution over each). ``forward`` adds the
    target half and runs the progressive blocks and the decoder.
    """

    def __init__(self, src_ch: int, pose_ch: int, num_labels: int, ngf: int, blocks: int, norm: str,
                 patn: bool = False):
        super().__init__()
        dim = 4 * ngf
        self.pose_ch = pose_ch
        self.src_enc = _down_stack(src_ch, ngf, norm)
        self.pose_first = nn.Conv2d(2 * pose_ch, ngf, 7, bias=False)   # on [source maps, target maps]
        self.pose_enc = _down_stack(2 * pose_ch, ngf, norm, first=False)
        self.blocks = nn.ModuleList(PATBlock(dim, dim if i == 0 else 2 * dim, norm, patn) for i in range(blocks))
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(dim, 2 * ngf, 3, stride=2, padding=1, output_padding=1, bias=False),
            norm2d(norm, 2 * ngf), nn.ReLU(),
            nn.ConvTranspose2d(2 * ngf, ngf, 3, stride=2, padding=1, output_padding=1, bias=False),
            norm2d(norm, ngf), nn.ReLU(),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, num_labels, 7))

    def _pose_half(self, maps, half: int):
        w = self.pose_first.weight[:, half * self.pose_ch:(half + 1) * self.pose_ch]
        return F.conv2d(F.pad(maps, (3, 3, 3, 3), mode="reflect"), w)

    def encode_source(self, src, src_pose_maps):
        return self.src_enc(src), self._pose_half(src_pose_maps, 0)

    def forward(self, src_code, tgt_pose_maps):
        img, src_pose_part = src_code
        pose = self.pose_enc(src_pose_part + self._pose_half(tgt_pose_maps, 1))
        for block in self.blocks:
            img, pose = block(img, pose)
        return self.dec(img)


# ===== region style codes =======================================================================================
class StyleEncoder(nn.Module):
    """The "general encoder-decoder" of Sec. 3.2 on the source image (two stride-2 convs down, one up, tanh), then
    per-region average pooling of its features over each source region and, per region, two linear layers of
    its own ("further encode each one by excluding the effect of the other irrelevant regions").

    Multi-shot: the pooling sums features and areas over all references before dividing, so a region's code is
    the average over every pixel of that region in every reference (a region seen in one photo only still gets
    that photo's style; a region seen nowhere gets a zero code).
    """

    def __init__(self, nf: int, style_dim: int, num_labels: int, norm: str = "batch"):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(3, nf, 3), norm2d(norm, nf), nn.LeakyReLU(0.2),
            nn.Conv2d(nf, 2 * nf, 3, stride=2, padding=1), norm2d(norm, 2 * nf), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * nf, 4 * nf, 3, stride=2, padding=1), norm2d(norm, 4 * nf), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(4 * nf, 4 * nf, 3, stride=2, padding=1, output_padding=1), norm2d(norm, 4 * nf),
            nn.LeakyReLU(0.2),
            nn.ReflectionPad2d(1), nn.Conv2d(4 * nf, style_dim, 3), nn.Tanh())
        self.num_labels = num_labels
        # per-region linear layers, stored as one (L, D, D) tensor so all regions run in one einsum
        self.w1 = nn.Parameter(torch.randn(num_labels, style_dim, style_dim) / style_dim ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(num_labels, style_dim))
        self.w2 = nn.Parameter(torch.randn(num_labels, style_dim, style_dim) / style_dim ** 0.5)
        self.b2 = nn.Parameter(torch.zeros(num_labels, style_dim))

    def features(self, images):
        return self.net(images)

    def pooled(self, feats, labels, refs: int):
        """Region averages (B, L, D) of feats (B*M, D, h, w) over labels (B*M, H, W), pooled over the M refs."""
        bm, d, h, w = feats.shape
        # area weights: the share of each feature cell covered by each region (exact at any downsampling)
        area = F.adaptive_avg_pool2d(one_hot(labels, self.num_labels, feats.dtype), (h, w))
        sums = torch.einsum("nlhw,ndhw->nld", area, feats).view(bm // refs, refs, self.num_labels, d).sum(1)
        counts = area.sum((2, 3)).view(bm // refs, refs, self.num_labels).sum(1)
        return sums / counts.clamp_min(1e-6)[..., None]

    def encode(self, pooled):
        x = F.leaky_relu(torch.einsum("bld,lde->ble", pooled, self.w1) + self.b1, 0.2)
        return torch.einsum("bld,lde->ble", x, self.w2) + self.b2

    def forward(self, images, labels, refs: int = 1):
        return self.encode(self.pooled(self.features(images), labels, refs))


def broadcast_styles(codes: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """The target style map C: each pixel takes the code of its (target) region. codes (B, L, D), onehot
    (B, L, h, w) -> (B, D, h, w)."""
    return torch.einsum("blhw,bld->bdhw", onehot, codes)


# ===== SEAN and the SPGBlock ====================================================================================
class SEAN(nn.Module):
    """Semantic region-adaptive normalisation (paper eqs. 6-7, Fig. 2).

        out = (h - mu_c) / sigma_c * alpha + beta
        alpha = 1 + theta_a * g_s + (1 - theta_a) * g_c,    beta = theta_b * b_s + (1 - theta_b) * b_c

    g_s, b_s: convolutions of the one-hot semantic map (through a shared hidden layer, SPADE's branch);
    g_c, b_c: 3x3 convolutions of the target style map C (``broadcast_styles``). theta = sigmoid(a learned
    scalar), so the blend stays in [0, 1] and starts at 0.5. alpha is written 1 + (...) as SEAN's code does, so
    a fresh layer starts near a plain normalisation instead of multiplying everything by ~0. mu, sigma: the
    parameter-free norm (batch, as the authors' "spadebatch3x3"; instance is a config option).

    Speed: C is the one-hot map S times the region codes, C(x) = sum_l S_l(x) c_l, so the style convolution
    is conv(C; W) = conv(S; V) with V[o, l] = sum_d W[o, d] c_l[d]: a convolution over L (11) label channels
    instead of D (style_dim) channels, and V depends only on the sources. ``style_kernel`` makes V once per
    set of references (encode_sources); ``forward`` takes it. ``style_from_map`` is the direct form, for
    checking one against the other.
    """

    def __init__(self, ch: int, num_labels: int, style_dim: int, hidden: int, norm: str = "batch"):
        super().__init__()
        self.ch = ch
        self.index = -1  # position in the network's list of SEAN layers (its style kernel in the state)
        self.norm = norm2d(norm, ch, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(num_labels, hidden, 3, padding=1), nn.ReLU())
        self.gamma_s = nn.Conv2d(hidden, ch, 3, padding=1)
        self.beta_s = nn.Conv2d(hidden, ch, 3, padding=1)
        self.gamma_c = nn.Conv2d(style_dim, ch, 3, padding=1)
        self.beta_c = nn.Conv2d(style_dim, ch, 3, padding=1)
        self.theta_alpha = nn.Parameter(torch.zeros(1))
        self.theta_beta = nn.Parameter(torch.zeros(1))

    def style_kernel(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, L, D) -> per-sample kernels (B * 2 ch, L, 3, 3) for [g_c, b_c] over the one-hot map."""
        w = torch.cat([self.gamma_c.weight, self.beta_c.weight], 0)        # (2ch, D, 3, 3)
        v = torch.einsum("odyx,bld->bolyx", w, codes)                     # (B, 2ch, L, 3, 3)
        return v.reshape(-1, *v.shape[2:])

    def style_from_kernel(self, segmap, kernel):
        b, l, h, w = segmap.shape
        out = F.conv2d(segmap.reshape(1, b * l, h, w), kernel, padding=1, groups=b).view(b, 2 * self.ch, h, w)
        g, bt = out.split(self.ch, 1)
        return g + self.gamma_c.bias.view(1, -1, 1, 1), bt + self.beta_c.bias.view(1, -1, 1, 1)

    def style_from_map(self, stylemap):
        return self.gamma_c(stylemap), self.beta_c(stylemap)

    def modulation(self, segmap, style_c):
        """(alpha, beta) of eq. 7 from the one-hot segmap and the style branch's (g_c, b_c)."""
        a = self.shared(segmap)
        ta, tb = torch.sigmoid(self.theta_alpha), torch.sigmoid(self.theta_beta)
        g_c, b_c = style_c
        return 1 + ta * self.gamma_s(a) + (1 - ta) * g_c, tb * self.beta_s(a) + (1 - tb) * b_c

    def forward(self, h, segmap, kernels):
        """``kernels``: the network's list of style kernels (``style_kernel`` of every SEAN layer)."""
        alpha, beta = self.modulation(segmap, self.style_from_kernel(segmap, kernels[self.index]))
        return self.norm(h) * alpha + beta


class SPGBlock(nn.Module):
    """Semantic person generation block (Fig. 1b): two SEANs.

    The first normalises [f_p, f_a^w] (target pose features and warped appearance features) and maps them to a
    preliminary target feature; the second normalises [f_t, that feature] and gives the residual of the
    decoder feature f_t. Spectral norm on the convolutions, as in the authors' blocks.
    """

    def __init__(self, ch: int, num_labels: int, style_dim: int, hidden: int, norm: str, sn: bool):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        self.sean1 = SEAN(2 * ch, num_labels, style_dim, hidden, norm)
        self.conv1 = wrap(nn.Conv2d(2 * ch, ch, 1, bias=False))
        self.sean2 = SEAN(2 * ch, num_labels, style_dim, hidden, norm)
        self.conv2 = wrap(nn.Conv2d(2 * ch, ch, 3, padding=1, bias=False))

    def forward(self, f_t, f_p, f_aw, segmap, kernels):
        pre = self.conv1(F.relu(self.sean1(torch.cat([f_p, f_aw], 1), segmap, kernels)))
        return f_t + self.conv2(F.relu(self.sean2(torch.cat([f_t, pre], 1), segmap, kernels)))


class UpBlock(nn.Module):
    """Conv + PixelShuffle to the next finer scale, then SEAN: each upsampling step of the decoder."""

    def __init__(self, cin: int, cout: int, num_labels: int, style_dim: int, hidden: int, norm: str, sn: bool):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        self.conv = wrap(nn.Conv2d(cin, 4 * cout, 3, padding=1, bias=False))
        self.sean = SEAN(cout, num_labels, style_dim, hidden, norm)

    def forward(self, x, segmap, kernels):
        return self.sean(F.pixel_shuffle(self.conv(F.relu(x)), 2), segmap, kernels)
