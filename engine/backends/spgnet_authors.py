"""SPGNet's stage 2 in the layout of the authors' released generator (the paper configurations).

The authors released stage 2 only (``DualUnetGenerator_SEAN`` in their SPG_net_market.py and
SPG_net_deepfashion.py); this module rebuilds it module for module so that their state dict maps one to one onto
it (``foreign_to_ours`` renames; docs/backends/spgnet.md has the table), and their forward is ours on the same
inputs, apart from the feature deformation (Intr-Flow's flow there, DGAN's part affines here).

- Two streams (pose: 18 binary joint discs; appearance: the photo): a 1x1 conv + BN, then per scale two
  residual blocks (each block's output is a skip: two per scale) and a stride-2 conv + BN.
  Channels at scale l: min(nf (l + 1), max_nf).
- The appearance skips of the warped scales are moved to the target pose, then each goes through a residual
  block that also reads the warped features split by visibility ([x * (v == visible), x * (v == invisible)]).
- Style codes: the Zencoder (instance norm without affine, 3 -> 32 -> 64 -> 128 -> 256 (transposed) -> 128,
  tanh) averaged over each source region at half resolution.
- Decoder: 1x1 fusion of the two bottlenecks; per scale an up block (ReLU, 3x3 conv to 4 C, pixel shuffle) and
  an ACE norm (after the shuffle with 3x3 kernels for Market; before it, 5x5, with a BN after the shuffle for
  DeepFashion), then two SEAN residual blocks, each taking the concatenated pose and appearance skip of its
  scale through an ACE norm and a spectral-normed 1x1 conv, then [x, that] through an ACE norm and a
  spectral-normed 3x3 conv. No activation before the 7x7 output conv; tanh after it.
- ACE (the authors' SEAN layer): a per-pixel noise (one value per pixel, scaled per channel by ``noise_var``)
  before a parameter-free batch norm; gamma, beta = a learned blend of SPADE's (from the parsing) and the
  style branch's (per region: ReLU(fc_mu_j(code_j)), painted on the target regions, then a conv).
"""
from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from .spgnet_layers import labels_at, one_hot

STYLE_DIM = 128   # fixed in the authors' code
SPADE_HIDDEN = 64
NOISE_SEED = 2021  # eval renders draw the ACE noise from a generator reseeded with this: same pose, same image


class Spade(nn.Module):
    """SPADE's modulation branch: gamma, beta from the one-hot parsing."""

    def __init__(self, labels: int, ch: int, ks: int):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(labels, SPADE_HIDDEN, ks, padding=ks // 2), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(SPADE_HIDDEN, ch, ks, padding=ks // 2)
        self.mlp_beta = nn.Conv2d(SPADE_HIDDEN, ch, ks, padding=ks // 2)

    def forward(self, seg):
        a = self.mlp_shared(seg)
        return self.mlp_gamma(a), self.mlp_beta(a)


class ACE(nn.Module):
    """The authors' region-adaptive norm. The style branch is linear in the one-hot target parsing S:
    conv(sum_j S_j mu_j; W) = conv(S; V) with V[o, j] = sum_d W[o, d] mu_j[d], mu_j = ReLU(fc_mu_j(code_j)).
    ``style_kernel`` makes V once per set of references (encode_sources), so a render convolves 20 label
    channels instead of painting 128-channel codes (the same numbers: the tests check it against the
    per-region form)."""

    def __init__(self, ch: int, labels: int, ks: int):
        super().__init__()
        self.ch, self.ks = ch, ks
        self.index = -1  # position of its style kernel in the state (set by the network)
        self.noise_var = nn.Parameter(torch.zeros(ch))
        self.blending_gamma = nn.Parameter(torch.zeros(1))
        self.blending_beta = nn.Parameter(torch.zeros(1))
        self.param_free_norm = nn.BatchNorm2d(ch, affine=False)
        self.spade = Spade(labels, ch, ks)
        self.fc_mu = nn.ModuleList(nn.Linear(STYLE_DIM, STYLE_DIM) for _ in range(labels))
        self.conv_gamma = nn.Conv2d(STYLE_DIM, ch, ks, padding=ks // 2)
        self.conv_beta = nn.Conv2d(STYLE_DIM, ch, ks, padding=ks // 2)

    def region_styles(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, L, D) codes -> (B, L, D) ReLU(fc_mu_j(code_j)) per region j."""
        return F.relu(torch.stack([fc(codes[:, j]) for j, fc in enumerate(self.fc_mu)], 1))

    def style_kernel(self, codes: torch.Tensor) -> torch.Tensor:
        w = torch.cat([self.conv_gamma.weight, self.conv_beta.weight], 0)         # (2C, D, k, k)
        v = torch.einsum("odyx,bld->bolyx", w, self.region_styles(codes))       # (B, 2C, L, k, k)
        return v.reshape(-1, *v.shape[2:])

    def forward(self, x, seg, kernels, noise_gen=None):
        b, c, h, w = x.shape
        # one normal draw per pixel, scaled per channel (drawn as (B, W, H, 1) and transposed, as the authors do)
        n = torch.randn(b, w, h, 1, generator=noise_gen, device=x.device, dtype=x.dtype)
        x = self.param_free_norm(x + (n * self.noise_var).transpose(1, 3))
        l = seg.shape[1]
        style = F.conv2d(seg.reshape(1, b * l, h, w), kernels[self.index], padding=self.ks // 2, groups=b)
        g_avg, b_avg = style.view(b, 2 * c, h, w).split(c, 1)
        g_avg = g_avg + self.conv_gamma.bias.view(1, -1, 1, 1)
        b_avg = b_avg + self.conv_beta.bias.view(1, -1, 1, 1)
        g_sp, b_sp = self.spade(seg)
        ga, ba = torch.sigmoid(self.blending_gamma), torch.sigmoid(self.blending_beta)
        return x * (1 + ga * g_avg + (1 - ga) * g_sp) + ba * b_avg + (1 - ba) * b_sp


def conv_bn(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout))


class ResBlock(nn.Module):
    """x + BN(conv3x3(ReLU(r))), r = x, or [x, BN(conv1x1(ReLU(a)))] with a side input a (the visibility
    blocks)."""

    def __init__(self, ch: int, side: int = 0):
        super().__init__()
        if side:
            self.conv_a = conv_bn(side, ch, 1)
        self.conv = conv_bn(2 * ch if side else ch, ch, 3)

    def forward(self, x, a=None):
        r = x if a is None else torch.cat([x, self.conv_a(F.relu(a))], 1)
        return x + self.conv(F.relu(r))


class SeanResBlock(nn.Module):
    """The decoder's residual block: the skip a = [pose skip, appearance skip] (2 C) through ACE, ReLU and a
    1x1 conv; then [x, a] through ACE, ReLU and a 3x3 conv, added to x. Spectral norm on both convs."""

    def __init__(self, ch: int, labels: int, ks: int):
        super().__init__()
        self.conv_a = spectral_norm(nn.Conv2d(2 * ch, ch, 1, bias=False))
        self.conv_a_norm = ACE(2 * ch, labels, ks)
        self.conv = spectral_norm(nn.Conv2d(2 * ch, ch, 3, padding=1, bias=False))
        self.conv_norm = ACE(2 * ch, labels, ks)

    def forward(self, x, seg, kernels, a, gen=None):
        a = self.conv_a(F.relu(self.conv_a_norm(a, seg, kernels, gen)))
        return x + self.conv(F.relu(self.conv_norm(torch.cat([x, a], 1), seg, kernels, gen)))


class Zencoder(nn.Module):
    """The style encoder: features at half resolution, averaged over each source region (nearest-resized
    one-hot parsing; a region absent from every reference gets a zero code)."""

    def __init__(self, nf: int = 32, style_dim: int = STYLE_DIM):
        super().__init__()

        def down(a, b):
            return [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.InstanceNorm2d(b), nn.LeakyReLU(0.2)]

        self.model = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(3, nf, 3), nn.InstanceNorm2d(nf), nn.LeakyReLU(0.2),
            *down(nf, 2 * nf), *down(2 * nf, 4 * nf),
            nn.ConvTranspose2d(4 * nf, 8 * nf, 3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(8 * nf),
            nn.LeakyReLU(0.2),
            nn.ReflectionPad2d(1), nn.Conv2d(8 * nf, style_dim, 3), nn.Tanh())

    def forward(self, images, labels, num_labels: int, refs: int = 1):
        """(B*M, 3, H, W) images, (B*M, H, W) labels -> (B, L, D) codes pooled over the M references."""
        codes = self.model(images)
        bm, d, h, w = codes.shape
        seg = one_hot(labels_at(labels, (h, w)), num_labels, codes.dtype)
        sums = torch.einsum("nlhw,ndhw->nld", seg, codes).view(bm // refs, refs, num_labels, d).sum(1)
        counts = seg.sum((2, 3)).view(bm // refs, refs, num_labels).sum(1)
        return sums / counts.clamp_min(1.0)[..., None]


class Stream(nn.Module):
    """One encoder stream: ``pre`` (1x1 conv + BN), ``res[l][i]``, ``down[l]`` (ReLU, stride-2 conv, BN)."""

    def __init__(self, in_ch: int, chans: list[int], res: int):
        super().__init__()
        self.pre = conv_bn(in_ch, chans[0], 1)
        self.res = nn.ModuleList(nn.ModuleList(ResBlock(c) for _ in range(res)) for c in chans[:-1])
        self.down = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(b))
            for a, b in zip(chans[:-1], chans[1:]))

    def forward(self, x) -> tuple[list[list[torch.Tensor]], torch.Tensor]:
        """(skips[l][i], bottleneck)."""
        x = self.pre(x)
        skips = []
        for res, down in zip(self.res, self.down):
            scale = []
            for block in res:
                x = block(x)
                scale.append(x)
            skips.append(scale)
            x = down(x)
        return skips, x


class AuthorsStage2(nn.Module):
    """The generator with the engine's split: ``encode`` (sources only) and ``decode`` (per target)."""

    def __init__(self, chans: list[int], num_warp: int, res: int, labels: int, pose_ch: int,
                 ace_kernel: int = 3, ace_before_upsample: bool = False):
        super().__init__()
        n = len(chans) - 1
        self.num_scales, self.num_warp, self.labels = n, num_warp, labels
        self.ace_before_upsample = ace_before_upsample
        self.zencoder = Zencoder()
        self.pose = Stream(pose_ch, chans, res)
        self.app = Stream(3, chans, res)
        self.vis = nn.ModuleList(nn.ModuleList(ResBlock(chans[l], 2 * chans[l]) for _ in range(res))
                                 for l in range(num_warp))
        self.fuse = conv_bn(2 * chans[n], chans[n], 1)
        ups, norms = [], []
        for l in range(n):
            seq = [nn.ReLU(), nn.Conv2d(chans[l + 1], 4 * chans[l], 3, padding=1, bias=False), nn.PixelShuffle(2)]
            if ace_before_upsample:
                seq.append(nn.BatchNorm2d(chans[l]))
            ups.append(nn.Sequential(*seq))
            norms.append(ACE(chans[l + 1] if ace_before_upsample else chans[l], labels, ace_kernel))
        self.up = nn.ModuleList(ups)
        self.up_norm = nn.ModuleList(norms)
        self.dec = nn.ModuleList(nn.ModuleList(SeanResBlock(chans[l], labels, ace_kernel) for _ in range(res))
                                 for l in range(n))
        self.out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(chans[0], 3, 7))
        self.aces = [m for m in self.modules() if isinstance(m, ACE)]
        for i, m in enumerate(self.aces):
            m.index = i

    def encode(self, images, labels, refs: int) -> dict:
        codes = self.zencoder(images, labels, self.labels, refs)
        skips, bottleneck = self.app(images)
        return {"codes": codes, "app": skips, "app_bottleneck": bottleneck,
                "style_kernels": [m.style_kernel(codes) for m in self.aces]}

    def decode(self, state: dict, pose_maps, app_skips, labels, gen=None) -> torch.Tensor:
        """``app_skips[l][i]``: the appearance skips already warped (see SPGNetwork); labels (B, H, W)."""
        pose_skips, pose_bottleneck = self.pose(pose_maps)
        kernels = state["style_kernels"]
        b = pose_maps.shape[0]
        app_b = state["app_bottleneck"]
        app_b = app_b.view(b, -1, *app_b.shape[1:]).mean(1)
        x = self.fuse(torch.cat([pose_bottleneck, app_b], 1))
        segs = {}

        def seg_at(size):
            if size not in segs:
                segs[size] = one_hot(labels_at(labels, size), self.labels, x.dtype)
            return segs[size]

        for l in reversed(range(self.num_scales)):
            if self.ace_before_upsample:
                x = self.up[l](self.up_norm[l](x, seg_at(tuple(x.shape[-2:])), kernels, gen))
            else:
                x = self.up[l](x)
                x = self.up_norm[l](x, seg_at(tuple(x.shape[-2:])), kernels, gen)
            seg = seg_at(tuple(x.shape[-2:]))
            for i in reversed(range(len(self.dec[l]))):
                x = self.dec[l][i](x, seg, kernels, torch.cat([pose_skips[l][i], app_skips[l][i]], 1), gen)
        return torch.tanh(self.out(x))


# ----- the authors' state dict -> ours -------------------------------------------------------------------------
_RENAMES = [  # (their name, ours), applied in order to the part before the module's own parameter names
    (r"^Zencoder\.", "zencoder."),
    (r"^encp_pre_conv\.", "pose.pre."), (r"^enca_pre_conv\.", "app.pre."),
    (r"^encp_(\d+)_res_(\d+)\.", r"pose.res.\1.\2."), (r"^enca_(\d+)_res_(\d+)\.", r"app.res.\1.\2."),
    (r"^encp_(\d+)_downsample\.", r"pose.down.\1."), (r"^enca_(\d+)_downsample\.", r"app.down.\1."),
    (r"^enca_(\d+)_vis_(\d+)\.", r"vis.\1.\2."),
    (r"^dec_fuse\.", "fuse."), (r"^dec_(\d+)_upsample_norm\.", r"up_norm.\1."),
    (r"^dec_(\d+)_upsample\.", r"up.\1."), (r"^dec_(\d+)_res_(\d+)\.", r"dec.\1.\2."), (r"^dec_output\.", "out."),
    (r"\.Spade\.", ".spade."), (r"\.fc_mu(\d+)\.", r".fc_mu.\1."),
]
# SPADE's own param-free norm is built but never called in the authors' forward: its running statistics are
# the only tensors of their file with no place here.
UNUSED = re.compile(r"\.Spade\.param_free_norm\.")


def foreign_to_ours(name: str) -> str | None:
    """Our stage-2 name for one of the authors' state-dict names (None: an unused buffer)."""
    name = name[len("module."):] if name.startswith("module.") else name
    if UNUSED.search(name):
        return None
    for pattern, repl in _RENAMES:
        name = re.sub(pattern, repl, name)
    return name
