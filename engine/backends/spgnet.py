"""SPGNet: semantic person image generation by region-adaptive normalisation (Lv et al., CVPR 2021).

Two stages, trained together (training/recipes/spgnet.py):
  1. SPATN predicts the target parsing from the source parsing (or, as the paper's SPATN*, the source image),
     the source pose and the target pose; poses are 18 heatmaps + 12 limb distance maps exp(-0.1 d).
  2. SPGNet, a dual-path U-Net: pose blocks on the target pose, appearance blocks on the source image; the
     appearance features are deformed toward the target pose; per-region style codes (a style encoder averaged
     over each source region) are broadcast onto the target regions; the decoder's UpBlocks and SPGBlocks
     modulate their features with SEAN (a learned blend of semantic and style modulation).

Stage 2 has two layouts (config "layout"): "authors", the authors' released generator module for module (the
paper configurations; spgnet_authors.py, their weights import), and "compact", a smaller reconstruction from the
paper's text that the CPU configurations and the starter weights use (docs/backends/spgnet.md lists every
difference and why).

Feature deformation: the paper warps with a pretrained Intr-Flow model (3D flow + visibility), which cannot be
had offline. Here the appearance features are warped with DGAN's 10 part affine transforms
(layers.part_warp_tensors + layers.warp_features, max over parts), and Intr-Flow's visibility gating becomes a
residual that sees where any warped part lands (see spgnet_layers.VisibilityResidual).

Parsing: 11 labels of engine.parsing. Training reads the dataset's parsing maps; at inference the engine has no
parsing for the user's photo, so encode_sources computes engine.parsing.coarse_parsing from the person mask
(or a mask drawn from the skeleton) in model crop coordinates. Stage 2 sees the true target parsing in training
and SPATN's prediction at inference.

Multi-shot: the style codes average each region over every reference; the warped appearance features are
merged by a max over references (as DGAN merges parts); stage 1 reads the first reference, whose crop frames
the output.

Caching: everything that depends only on the references (the appearance features of every scale, the region
style codes, SPATN's encoding of the source parsing, the source pose maps) is computed in encode_sources; render
predicts the target parsing and runs stage 2.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..errors import PoseEditorError
from . import layers
from .base import NeuralBackend, SourceState
from .spgnet_authors import AuthorsStage2
from .spgnet_layers import (SEAN, SPATN, EncoderStream, SPGBlock, StyleEncoder, UpBlock, VisibilityResidual,
                            labels_at, norm2d, one_hot, scaled)

POSE_CHANNELS = 18 + 12
# engine.parsing's 11 labels -> the 20 CIHP labels of the authors' networks (0 background, 13 face, 5 upper
# clothes, 15 / 14 right / left arm, 9 pants, 17 / 16 right / left leg), and back for display only (CIHP's
# clothing labels have no coarse equivalent: pants and skirts show as the right thigh, shoes as the shins).
COARSE_TO_CIHP = (0, 13, 5, 15, 15, 14, 14, 9, 17, 9, 16)
CIHP_TO_COARSE = (0, 1, 1, 4, 1, 2, 2, 2, 8, 7, 2, 2, 7, 1, 5, 3, 10, 8, 10, 8)

# The paper's settings (width 1.0; nf/max_nf and scale counts from the authors' options for Market-1501 and
# DeepFashion) and the small CPU configuration the app and the starter weights use.
BASE_CONFIG = {
    "image_size": [128, 64],
    "width": 1.0,
    "num_labels": 11,          # engine.parsing labels (the authors use 20 CIHP labels)
    "nf": 32, "max_nf": 128,   # channels of scale l: min(nf * (l + 1), max_nf), times width
    "num_scales": None,        # stride-2 steps of the U-Net; None: as many as leave >= 2 px on the short side
    "num_warp_scales": None,   # scales whose appearance features are warped; None: those >= 8 px
    "res_blocks": 2,           # residual blocks per scale in the pose and appearance encoders
    "spg_blocks": 2,           # SPGBlocks per scale in the decoder
    "style_nf": 32, "style_dim": 128, "sean_hidden": 64,
    "spatn_ngf": 64, "spatn_blocks": 9, "spatn_input": "parsing",   # "image": the paper's SPATN*
    "norm": "batch", "spectral_norm": True,
    "sigma": 6.0, "kappa": -0.1,
    "deformation": "part_affine",
    # "compact": the CPU configurations' stage 2 (the starter weights); "authors": the released generator's
    # layout (spgnet_authors.py): 18 binary joint discs of ``joint_radius`` px, 20 ACE style projections per
    # layer, noise, two skips per scale, the Zencoder; ``ace_kernel`` / ``ace_before_upsample`` for DeepFashion
    "layout": "compact", "joint_radius": 4, "ace_kernel": 3, "ace_before_upsample": False,
    "label_map": None,         # "cihp": inputs in engine.parsing labels are mapped to CIHP's 20 (num_labels 20)
    "spatn_block": "compact",  # "patn": PATN's pose-attention block (spgnet_layers.PATBlock)
    "stage1": "spatn",         # "pose_rule": no stage 1, the target parsing drawn from the target pose
}
_AUTHORS = dict(layout="authors", num_labels=20, label_map="cihp", spatn_block="patn")
CONFIGS = {
    "paper-128x64": dict(BASE_CONFIG, image_size=[128, 64], num_scales=5, num_warp_scales=4, **_AUTHORS),
    "paper-256x256": dict(BASE_CONFIG, image_size=[256, 256], num_scales=7, num_warp_scales=5, joint_radius=8,
                          ace_kernel=5, ace_before_upsample=True, **_AUTHORS),
    "cpu-small": dict(BASE_CONFIG, image_size=[128, 64], width=0.5, num_scales=5, num_warp_scales=4,
                      res_blocks=1, spg_blocks=1, spatn_ngf=32, spatn_blocks=4),
}


def resolve_config(config: dict) -> dict:
    """The full config with the automatic scale counts filled in; ValueError on an unusable one."""
    c = dict(BASE_CONFIG, **config)
    h, w = (int(v) for v in c["image_size"])
    if h % 4 or w % 4 or min(h, w) < 16:
        raise ValueError(f"image_size {h}x{w}: both sides must be multiples of 4 and at least 16")
    n = c["num_scales"]
    if n is None:
        n = 1
        while n < 7 and h % 2 ** (n + 1) == 0 and w % 2 ** (n + 1) == 0 and min(h, w) // 2 ** (n + 1) >= 2:
            n += 1
    n = int(n)
    if n < 1 or h % 2 ** n or w % 2 ** n:
        raise ValueError(f"image_size {h}x{w} cannot be halved {n} times")
    nw = c["num_warp_scales"]
    if nw is None:
        nw = sum(1 for l in range(n) if min(h, w) // 2 ** l >= 8)
    if not 0 <= int(nw) <= n:
        raise ValueError(f"num_warp_scales {nw} must be between 0 and num_scales {n}")
    if c["spatn_input"] not in ("parsing", "image"):
        raise ValueError(f"spatn_input {c['spatn_input']!r} (parsing or image)")
    if c["deformation"] != "part_affine":
        raise ValueError(f"deformation {c['deformation']!r}: only part_affine is implemented")
    choices = {"layout": ("compact", "authors"), "spatn_block": ("compact", "patn"), "stage1": ("spatn", "pose_rule"),
               "label_map": (None, "cihp"), "ace_kernel": (3, 5)}
    for key, allowed in choices.items():
        if c[key] not in allowed:
            raise ValueError(f"{key} {c[key]!r} (one of {', '.join(map(str, allowed))})")
    if c["label_map"] == "cihp" and int(c["num_labels"]) != len(CIHP_TO_COARSE):
        raise ValueError(f"label_map cihp needs num_labels {len(CIHP_TO_COARSE)}")
    c.update(image_size=[h, w], num_scales=n, num_warp_scales=int(nw))
    return c


def coarse_parsing_tensor(poses: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Parsing (N, H, W) from poses (N, 18, 3) alone: engine.parsing on a mask drawn from each skeleton.

    The fallback when a caller gives no source parsing (the plain PoseTransferNet call net(src, pose, tgt))."""
    from ..detect import pose_mask
    from ..parsing import coarse_parsing

    out = [coarse_parsing(p, pose_mask(p)) for p in (layers.tensor_to_pose(t, size) for t in poses)]
    return torch.from_numpy(np.stack(out).astype(np.int64)).to(poses.device)


class SPGNetwork(nn.Module):
    """Both stages; the PoseTransferNet contract with optional parsing arguments.

        state = net.encode_sources(src_img (B,M,3,H,W), src_pose (B,M,18,3), src_parsing (B,M,H,W) | None)
        img, logits = net.render_all(state, tgt_pose (B,18,3), tgt_parsing (B,H,W) | None)
        img = net.render(state, tgt_pose) == net(src_img, src_pose, tgt_pose)
    """

    def __init__(self, config: dict):
        super().__init__()
        c = resolve_config(config)
        self.config = c
        wd = float(c["width"])
        h, w = c["image_size"]
        self.size = (h, w)
        self.num_labels = L = int(c["num_labels"])
        n, self.num_warp = c["num_scales"], c["num_warp_scales"]
        self.num_scales = n
        nf, max_nf = scaled(c["nf"], wd), scaled(c["max_nf"], wd)
        chans = [min(nf * (l + 1), max_nf) for l in range(n + 1)]
        self.chans = chans
        norm, sn = c["norm"], bool(c["spectral_norm"])
        sd, hid = scaled(c["style_dim"], wd), scaled(c["sean_hidden"], wd)

        self.authors = c["layout"] == "authors"
        if self.authors:
            self._build_spatn(c, norm)
            self.stage2 = AuthorsStage2(chans, self.num_warp, int(c["res_blocks"]), L, 18, int(c["ace_kernel"]),
                                        bool(c["ace_before_upsample"]))
        else:
            self._build_compact(c, chans, norm, sn, sd, hid)
        # index tables (plain tensors, not buffers: they are not weights)
        self._to_net = torch.tensor(COARSE_TO_CIHP) if c["label_map"] == "cihp" else None
        self._to_engine = torch.tensor(CIHP_TO_COARSE) if c["label_map"] == "cihp" else None
        self._noise_gen = None

    def _build_spatn(self, c, norm):
        if c["stage1"] == "spatn":
            L = self.num_labels
            self.spatn = SPATN(L if c["spatn_input"] == "parsing" else 3, POSE_CHANNELS, L,
                               scaled(c["spatn_ngf"], float(c["width"])), int(c["spatn_blocks"]), norm,
                               c["spatn_block"] == "patn")

    def _build_compact(self, c, chans, norm, sn, sd, hid):
        n, L, wd = self.num_scales, self.num_labels, float(c["width"])
        self.pose_enc = EncoderStream(POSE_CHANNELS, chans, int(c["res_blocks"]), norm)
        self.app_enc = EncoderStream(3, chans, int(c["res_blocks"]), norm)
        self.visibility = nn.ModuleList(VisibilityResidual(chans[l], norm) for l in range(self.num_warp))
        self.style = StyleEncoder(scaled(c["style_nf"], wd), sd, L, norm)
        self._build_spatn(c, norm)  # here, so a fresh compact network draws its initial weights as before
        self.fuse = nn.Sequential(nn.Conv2d(2 * chans[n], chans[n], 1, bias=False), norm2d(norm, chans[n]))
        self.ups = nn.ModuleList(UpBlock(chans[l + 1], chans[l], L, sd, hid, norm, sn) for l in range(n))
        self.spg = nn.ModuleList(
            nn.ModuleList(SPGBlock(chans[l], L, sd, hid, norm, sn) for _ in range(int(c["spg_blocks"])))
            for l in range(n))
        self.out = nn.Sequential(nn.ReLU(), nn.ReflectionPad2d(3), nn.Conv2d(chans[0], 3, 7), nn.Tanh())
        # every SEAN layer, numbered: the state holds one style kernel per layer, in this order
        self.seans = [m for m in self.modules() if isinstance(m, SEAN)]
        for i, m in enumerate(self.seans):
            m.index = i

    # ----- label spaces ------------------------------------------------------------------------------------
    def net_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """engine.parsing labels -> the network's (CIHP with ``label_map`` "cihp"; else the same)."""
        if self._to_net is None:
            return labels.long()
        return self._to_net.to(labels.device)[labels.long().clamp(0, len(self._to_net) - 1)]

    def engine_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The network's labels -> engine.parsing's, for display (engine.parsing.colorize)."""
        if self._to_engine is None:
            return labels
        return self._to_engine.to(labels.device)[labels.long()].to(labels.dtype)

    # ----- encodings -----------------------------------------------------------------------------------------
    def pose_maps(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, 30, H, W): 18 joint heatmaps + 12 limb distance maps exp(kappa d) (paper Sec. 3.1)."""
        c = self.config
        return torch.cat([layers.heatmaps(poses, self.size, c["sigma"]),
                          layers.limb_distance_maps(poses, self.size, c["kappa"])], 1)

    def joint_discs(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, 18, H, W): 1 within ``joint_radius`` px of each present joint (the authors' stage-2 pose input)."""
        h, w = self.size
        ys = torch.arange(h, device=poses.device, dtype=poses.dtype).view(1, 1, h, 1)
        xs = torch.arange(w, device=poses.device, dtype=poses.dtype).view(1, 1, 1, w)
        d2 = (xs - poses[..., 0, None, None]) ** 2 + (ys - poses[..., 1, None, None]) ** 2
        return (d2 <= float(self.config["joint_radius"]) ** 2).to(poses.dtype) * poses[..., 2, None, None]

    def _check(self, name, t, shape):
        if tuple(t.shape[-len(shape):]) != tuple(shape):
            raise PoseEditorError(f"{name}: expected (..., {', '.join(map(str, shape))}), got {tuple(t.shape)}")

    # ----- the two calls -------------------------------------------------------------------------------------
    def encode_sources(self, src_img, src_pose, src_parsing=None) -> dict:
        h, w = self.size
        self._check("source images", src_img, (3, h, w))
        self._check("source poses", src_pose, (18, 3))
        b, m = src_img.shape[:2]
        flat_img = src_img.reshape(b * m, 3, h, w)
        flat_pose = src_pose.reshape(b * m, 18, 3)
        if src_parsing is None:
            labels = coarse_parsing_tensor(flat_pose, self.size)
        else:
            self._check("source parsing", src_parsing, (h, w))
            labels = src_parsing.reshape(b * m, h, w).long()
        top = self.num_labels if self._to_net is None else len(self._to_net)  # engine labels with a label map
        if int(labels.max()) >= top or int(labels.min()) < 0:
            raise PoseEditorError(f"parsing labels must be 0..{top - 1}, got {int(labels.min())}..{int(labels.max())}")
        labels = self.net_labels(labels)
        state = {"src_pose": src_pose}
        if self.config["stage1"] == "spatn":
            first = labels.view(b, m, h, w)[:, 0]
            spatn_in = one_hot(first, self.num_labels, src_img.dtype) if self.config["spatn_input"] == "parsing" \
                else src_img[:, 0]
            state["spatn_img"], state["spatn_pose"] = self.spatn.encode_source(spatn_in, self.pose_maps(src_pose[:, 0]))
        if self.authors:
            state.update(self.stage2.encode(flat_img, labels, m))
            return state
        codes = self.style(flat_img, labels, m)                       # (B, L, D) region style codes
        state.update(app=self.app_enc(flat_img),                      # per scale (B*M, C_l, h_l, w_l)
                     codes=codes, style_kernels=[s.style_kernel(codes) for s in self.seans])
        return state

    def predict_parsing(self, state: dict, tgt_pose, tgt_maps=None) -> torch.Tensor:
        """Stage 1: target parsing logits (B, L, H, W); with ``stage1`` "pose_rule", the one-hot parsing that
        engine.parsing draws from the target pose alone (for imported stage-2 weights: SPATN was not released)."""
        if self.config["stage1"] == "pose_rule":
            labels = self.net_labels(coarse_parsing_tensor(tgt_pose, self.size))
            return one_hot(labels, self.num_labels, state["src_pose"].dtype)
        if tgt_maps is None:
            tgt_maps = self.pose_maps(tgt_pose)
        return self.spatn((state["spatn_img"], state["spatn_pose"]), tgt_maps)

    def _part_fits(self, state: dict, tgt_pose):
        """DGAN's part affines and masks from every reference to the target, in float32 (torch.linalg.inv has
        no half precision); None when no scale is warped."""
        if not self.num_warp:
            return None
        src_pose = state["src_pose"]
        m = src_pose.shape[1]
        return layers.part_warp_tensors(src_pose.reshape(-1, 18, 3).float(),
                                        tgt_pose.repeat_interleave(m, 0).float(), self.size)

    def _warp(self, feat, l: int, fits, b: int, m: int):
        """Scale-l features (B*M, C, h, w) moved to the target (max over parts, then over references) and where
        any part of any reference lands (B, 1, h, w), in [0, 1]."""
        affines, masks = fits
        c, h, w = feat.shape[1:]
        aff = (layers.scale_affines(affines, 0.5 ** l) if l else affines).to(feat.dtype)
        msk = layers.resize_masks(masks, (h, w)).to(feat.dtype)
        warped = layers.warp_features(feat, aff, msk).view(b, m, c, h, w).amax(1)
        landed = layers.warp_features(feat.new_ones(b * m, 1, h, w), aff, msk).view(b, m, 1, h, w).amax(1)
        return warped, landed

    def _warped_appearance(self, state: dict, tgt_pose, pose_feats) -> list[torch.Tensor]:
        """Per scale: appearance features moved to the target pose (the feature deformation of Sec. 3.2)."""
        b, m = state["src_pose"].shape[:2]
        fits = self._part_fits(state, tgt_pose)
        out = []
        for l, feat in enumerate(state["app"]):
            if l < self.num_warp:
                warped, visible = self._warp(feat, l, fits, b, m)
                out.append(self.visibility[l](warped, visible, pose_feats[l]))
            else:  # too coarse to warp (the authors do the same): the references' features as they are
                out.append(feat.view(b, m, *feat.shape[1:]).mean(1))
        return out

    def _authors_appearance(self, state: dict, tgt_pose, labels) -> list[list[torch.Tensor]]:
        """The authors' skips [l][i] moved to the target. Intr-Flow's three-way visibility becomes: visible where
        a warped part lands, invisible where the target parsing has the person but no part lands, background
        elsewhere; where no part lands the features stay where they are (the authors' flow is zero on the
        background), from the first reference, whose crop frames the output."""
        b, m = state["src_pose"].shape[:2]
        fits = self._part_fits(state, tgt_pose)
        out = []
        for l, scale in enumerate(state["app"]):
            c, h, w = scale[0].shape[1:]
            if l >= self.num_warp:
                out.append([f.view(b, m, c, h, w).mean(1) for f in scale])
                continue
            person = (labels_at(labels, (h, w)) != 0)[:, None]
            warped_scale = []
            for i, feat in enumerate(scale):
                warped, landed = self._warp(feat, l, fits, b, m)
                landed = landed > 0.5
                x_w = torch.where(landed, warped, feat.view(b, m, c, h, w)[:, 0])
                invisible = (~landed & person).to(x_w.dtype)
                x_we = torch.cat([x_w * landed.to(x_w.dtype), x_w * invisible], 1)
                warped_scale.append(self.stage2.vis[l][i](x_w, x_we))
            out.append(warped_scale)
        return out

    def _noise_generator(self, device):
        """None in training (the global generator); in eval a generator reseeded for every render, so the ACE
        noise is the same for the same inputs (a drag does not flicker)."""
        if self.training:
            return None
        from .spgnet_authors import NOISE_SEED

        if self._noise_gen is None or self._noise_gen.device != torch.device(device):
            self._noise_gen = torch.Generator(device=device)
        return self._noise_gen.manual_seed(NOISE_SEED)

    def generate(self, state: dict, tgt_pose, labels, tgt_maps=None) -> torch.Tensor:
        """Stage 2: the target image (B, 3, H, W) for target parsing labels (B, H, W) in the network's labels."""
        if self.authors:
            app = self._authors_appearance(state, tgt_pose, labels)
            joints = self.joint_discs(tgt_pose).to(state["codes"].dtype)
            return self.stage2.decode(state, joints, app, labels, self._noise_generator(joints.device))
        if tgt_maps is None:
            tgt_maps = self.pose_maps(tgt_pose)
        pose_feats = self.pose_enc(tgt_maps)
        app = self._warped_appearance(state, tgt_pose, pose_feats)
        kernels = state["style_kernels"]
        n = self.num_scales
        x = self.fuse(torch.cat([pose_feats[n], app[n]], 1))
        for l in reversed(range(n)):
            seg = one_hot(labels_at(labels, pose_feats[l].shape[-2:]), self.num_labels, x.dtype)
            x = self.ups[l](x, seg, kernels)
            for block in self.spg[l]:
                x = block(x, pose_feats[l], app[l], seg, kernels)
        return self.out(x)

    def render_all(self, state: dict, tgt_pose, tgt_parsing=None):
        """(image, parsing logits); stage 2 uses ``tgt_parsing`` (engine labels) when given (training), else the
        prediction."""
        self._check("target poses", tgt_pose, (18, 3))
        tgt_maps = self.pose_maps(tgt_pose)
        logits = self.predict_parsing(state, tgt_pose, tgt_maps)
        labels = logits.argmax(1) if tgt_parsing is None else self.net_labels(tgt_parsing)
        return self.generate(state, tgt_pose, labels, tgt_maps), logits

    def render(self, state: dict, tgt_pose, tgt_parsing=None) -> torch.Tensor:
        return self.render_all(state, tgt_pose, tgt_parsing)[0]

    def forward(self, src_img, src_pose, tgt_pose, src_parsing=None, tgt_parsing=None):
        return self.render(self.encode_sources(src_img, src_pose, src_parsing), tgt_pose, tgt_parsing)


class SpgnetBackend(NeuralBackend):
    name = "spgnet"
    title = "SPGNet"
    summary = ("Two stages: predicts the body-part layout of the new pose, then paints each part with the "
               "style of the same part in the photo(s) (region-adaptive normalisation).")
    multi_shot = True
    default_config = CONFIGS["cpu-small"]

    def __init__(self, *args, **kwargs):
        self.last_parsing = None   # (H, W) uint8 labels of the last render, in model crop coordinates
        self._parsing_memo = None  # (state id, target pose, labels)
        super().__init__(*args, **kwargs)

    @classmethod
    def build_network(cls, config: dict):
        return SPGNetwork(dict(cls.default_config, **config))

    @classmethod
    def convert_foreign(cls, tensors: dict) -> tuple[dict, dict]:
        """The authors' released stage 2 (the state dict of their DualUnetGenerator_SEAN, Market-1501 or
        DeepFashion) -> (engine tensors, config). Names map one to one (spgnet_authors.foreign_to_ours); the
        scale count tells the two apart. Their stage 1 was not released, so the imported network draws the
        target parsing from the target pose (``stage1`` "pose_rule")."""
        import re

        from ..errors import WeightsError
        from .spgnet_authors import foreign_to_ours

        out = {}
        for name, value in tensors.items():
            ours = foreign_to_ours(name)
            if ours is not None:
                out["stage2." + ours] = torch.as_tensor(np.asarray(value))
        if "stage2.pose.pre.0.weight" not in out:
            raise WeightsError("not SPGNet's stage-2 generator (no encp_pre_conv)")
        scales = {int(m.group(1)) for k in out if (m := re.match(r"stage2\.pose\.down\.(\d+)\.", k))}
        paper = {5: "paper-128x64", 7: "paper-256x256"}.get(len(scales))
        if paper is None:
            raise WeightsError(f"{len(scales)} scales: the authors' generators have 5 (Market) or 7 (DeepFashion)")
        return out, dict(CONFIGS[paper], stage1="pose_rule")

    # ----- sources: parsing from the person mask ---------------------------------------------------------------
    @staticmethod
    def _model_mask(frame, mask, model_pose, photo_shape) -> np.ndarray:
        from ..detect import pose_mask

        if mask is None:
            return pose_mask(model_pose)
        mask = np.asarray(mask)
        if mask.shape[:2] != tuple(photo_shape[:2]):
            raise PoseEditorError(f"person mask is {mask.shape[1]}x{mask.shape[0]}, photo is "
                                  f"{photo_shape[1]}x{photo_shape[0]}")
        m = mask.astype(np.float32)
        if m.ndim == 3:
            m = m[..., 0]
        if mask.dtype == np.uint8 and m.max() > 1:
            m /= 255.0
        return frame.crop_mask(m)

    def source_inputs(self, state: SourceState, frames, model_poses) -> tuple:
        """The references' parsing (engine.parsing from each person mask, in the model's crop)."""
        from ..parsing import coarse_parsing

        parsings = [coarse_parsing(mp, self._model_mask(f, m, mp, img.shape))
                    for f, m, mp, img in zip(frames, state.masks, model_poses, state.images)]
        state.cache["parsings"] = parsings
        return (torch.from_numpy(np.stack(parsings).astype(np.int64)).to(self.device)[None],)

    # ----- render: remembers the predicted parsing -------------------------------------------------------------
    def render_crop(self, state: SourceState, target) -> np.ndarray:
        self._require_net()
        t = self._pose_tensor([self.target_frame(state, target).pose_to_model(target)])
        with self.running():
            out, logits = self.net.render_all(state.cache["tensors"], t)
        self.last_parsing = self.net.engine_labels(logits[0].argmax(0)).to(torch.uint8).cpu().numpy()
        self._parsing_memo = (id(state), target.copy(), self.last_parsing)
        return ((out[0].float().clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).cpu().numpy()

    def predict_parsing(self, state: SourceState, target) -> np.ndarray:
        """Stage 1 alone: the target's part labels (H, W) in model crop coordinates."""
        memo = self._parsing_memo
        if memo is not None and memo[0] == id(state) and memo[1] == target:
            return memo[2]
        self._require_net()
        t = self._pose_tensor([self.target_frame(state, target).pose_to_model(target)])
        with self.running():
            logits = self.net.predict_parsing(state.cache["tensors"], t)
        labels = self.net.engine_labels(logits[0].argmax(0)).to(torch.uint8).cpu().numpy()
        self._parsing_memo = (id(state), target.copy(), labels)
        return labels

    def parsing_overlay(self, state: SourceState, target) -> np.ndarray:
        """The predicted parsing of ``target`` coloured (engine.parsing.colorize) at the first photo's size;
        black (the background label's colour) outside the model's crop."""
        from ..parsing import colorize

        labels = self.predict_parsing(state, target)
        return self.target_frame(state, target).paste(np.zeros_like(state.images[0]), colorize(labels))
