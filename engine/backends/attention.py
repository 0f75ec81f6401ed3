"""Multi-scale attention guided pose transfer (Roy, Bhattacharya, Ghosh, Pal; paper section 3.1).

Generator (NetG of the authors' prasunroy/pose-transfer, same module names so their released file loads):
  image stream  in1_conv1 (3x3 conv + BN + ReLU to Nf) then N Down2x blocks in1_down1..N
                (4x4 stride-2 conv + BN + ReLU + residual block), channels Nf * 2^k;
  pose stream   the same on 36 channels: one-hot maps of the source pose (18) then the target pose (18);
  decoder       y = image_N * sigmoid(pose_N); for each finer level k: y = Up2x(y) * sigmoid(pose_k) ...
                (N attention links, the last at half resolution), then out_conv1 = 4 residual blocks,
                1x1 conv, tanh. Up2x = 4x4 stride-2 transposed conv + BN + ReLU + residual block.
Every conv is bias-free, as in the paper's components (3.1.1).

Caching: the decoder starts from the image stream's deepest features only, so encode_sources keeps that one
tensor, plus the source maps' share of the pose stream's first convolution (that conv is linear, so
conv(cat(H_A, H_B)) = conv_A(H_A) + conv_B(H_B)). render runs the rest of the pose stream and the decoder.

DeepFashion geometry: the authors' network sees 256x256 images in which a 176-wide person crop is centred on
white (their api.py pads with 255). With ``pad_to_square`` the engine frames a 256x176 crop (image_size), the
network pads it (and shifts the poses) to 256x256 and cuts its output back to 256x176.
"""
from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import PoseEditorError, WeightsError
from ..framing import Frame, fills_photo
from ..pose import NUM_JOINTS, Pose
from . import layers
from .base import NeuralBackend

# The paper's section 3.4 (N = 4, Nf = 64) at the seeds' two geometries, and the small CPU configuration the
# app and the starter weights use (width scales Nf: 0.25 -> 16, so channels 16..256, about 5.6M parameters).
BASE_CONFIG = {
    "image_size": [256, 256],
    "width": 1.0,            # Nf = round(ngf * width)
    "ngf": 64,               # Nf of the paper
    "num_down": 4,           # N: Down2x blocks per encoder, Up2x blocks and attention links
    "out_res_blocks": 4,     # residual blocks before the 1x1 output conv
    "pad_to_square": False,  # pad the image_size crop to a square for the network, cut the output back
    "pad_value": 1.0,        # white in [-1, 1]: DeepFashion's background, what the authors pad with
}
CONFIGS = {
    "paper-128x64": dict(BASE_CONFIG, image_size=[128, 64]),
    # DeepFashion as the authors trained: the 176-wide person padded to 256x256; their weights import here
    "paper-256x256": dict(BASE_CONFIG, image_size=[256, 176], pad_to_square=True),
    "cpu-small": dict(BASE_CONFIG, image_size=[128, 64], width=0.25),
    "cpu-256x128": dict(BASE_CONFIG, image_size=[256, 128], width=0.25),
}
POSE_CHANNELS = 2 * NUM_JOINTS  # source maps then target maps, as the authors concatenate them


class AttentionConfigError(PoseEditorError, ValueError):
    """A configuration the network cannot be built with (ValueError too, so weights loading reports it)."""


def resolve_config(config: dict) -> dict:
    c = dict(BASE_CONFIG, **config)
    h, w = (int(v) for v in c["image_size"])
    n = int(c["num_down"])
    if n < 1:
        raise AttentionConfigError(f"num_down must be at least 1, got {n}")
    side = max(h, w) if c["pad_to_square"] else None
    nh, nw = (side, side) if side else (h, w)
    if nh % 2 ** n or nw % 2 ** n:
        raise AttentionConfigError(f"image size {nh}x{nw}: both sides must be multiples of {2 ** n} "
                                   f"for {n} downsampling blocks")
    if float(c["width"]) <= 0:
        raise AttentionConfigError(f"width must be positive, got {c['width']}")
    c["image_size"] = [h, w]
    return c


def feature_channels(config: dict) -> list[int]:
    """Channels at each level 0..N (level k has 1 / 2^k of the network's resolution)."""
    nf = max(1, int(round(config["ngf"] * config["width"])))
    return [nf * 2 ** k for k in range(int(config["num_down"]) + 1)]


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """The paper's initialisation, N(0, 0.02) for every (transposed) conv weight; batch norm scales N(1, 0.02)
    and shifts 0 as the authors' code does it."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


# ----- the paper's components (3.1.1); Sequential indices give the authors' parameter names -------------------
def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1, bias=False)


class ResidualBlock(nn.Module):
    """Conv3x3, BN, ReLU, Conv3x3, BN, plus the input."""

    def __init__(self, ch: int):
        super().__init__()
        self.layers = nn.Sequential(_conv3x3(ch, ch), nn.BatchNorm2d(ch), nn.ReLU(inplace=True),
                                    _conv3x3(ch, ch), nn.BatchNorm2d(ch))

    def forward(self, x):
        return x + self.layers(x)


def _in_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_conv3x3(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _down2x(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         ResidualBlock(cout))


def _up2x(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), ResidualBlock(cout))


class AttentionNet(nn.Module):
    """The generator, with the engine's two calls (see base.PoseTransferNet)."""

    keep_batchnorm = ("in2_conv1",)  # _pose_stream applies its conv's weight alone (base.fold_batchnorm)

    def __init__(self, config: dict):
        super().__init__()
        c = resolve_config(config)
        self.config = c
        self.num_down = n = int(c["num_down"])
        ch = feature_channels(c)
        h, w = c["image_size"]
        side = max(h, w)
        self.net_size = (side, side) if c["pad_to_square"] else (h, w)
        # padding (left, right, top, bottom) that centres the crop in the network's square, as the authors do
        ph, pw = self.net_size[0] - h, self.net_size[1] - w
        self.pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        self.pad_value = float(c["pad_value"])

        # registration order = the authors' state dict order
        for stream, cin in (("in1", 3), ("in2", POSE_CHANNELS)):
            setattr(self, f"{stream}_conv1", _in_block(cin, ch[0]))
            for k in range(1, n + 1):
                setattr(self, f"{stream}_down{k}", _down2x(ch[k - 1], ch[k]))
        for k in range(1, n + 1):  # out_up1 works at the coarsest level
            setattr(self, f"out_up{k}", _up2x(ch[n - k + 1], ch[n - k]))
        self.out_conv1 = nn.Sequential(*[ResidualBlock(ch[0]) for _ in range(int(c["out_res_blocks"]))],
                                       nn.Conv2d(ch[0], 3, 1, 1, 0, bias=False), nn.Tanh())
        init_weights(self)

    # ----- geometry ------------------------------------------------------------------------------------------
    def _pad_image(self, img: torch.Tensor) -> torch.Tensor:
        if not any(self.pad):
            return img
        return F.pad(img, self.pad, value=self.pad_value)

    def _pose_maps(self, poses: torch.Tensor) -> torch.Tensor:
        """One-hot joint maps (B, 18, H, W) at the network's size; poses are in image_size pixels."""
        if any(self.pad):
            poses = poses.clone()
            poses[..., 0] += self.pad[0]
            poses[..., 1] += self.pad[2]
        return layers.onehot_maps(poses, self.net_size)

    def cut_padding(self, out: torch.Tensor) -> torch.Tensor:
        if not any(self.pad):
            return out
        left, _, top, _ = self.pad
        h, w = self.config["image_size"]
        return out[..., top:top + h, left:left + w]

    # ----- streams -------------------------------------------------------------------------------------------
    def _image_stream(self, img: torch.Tensor, keep: list | None = None) -> torch.Tensor:
        x = self.in1_conv1(self._pad_image(img))
        if keep is not None:
            keep.append(x)
        for k in range(1, self.num_down + 1):
            x = getattr(self, f"in1_down{k}")(x)
            if keep is not None:
                keep.append(x)
        return x

    def _source_pose_share(self, src_pose: torch.Tensor) -> torch.Tensor:
        # the source maps' half of in2_conv1's 3x3 convolution (input channels 0..17)
        weight = self.in2_conv1[0].weight[:, :NUM_JOINTS]
        return F.conv2d(self._pose_maps(src_pose), weight, padding=1)

    def _pose_stream(self, src_share: torch.Tensor, tgt_pose: torch.Tensor) -> list[torch.Tensor]:
        """Pose features at levels 0..N from the cached source share and the target pose."""
        weight = self.in2_conv1[0].weight[:, NUM_JOINTS:]
        h = src_share + F.conv2d(self._pose_maps(tgt_pose), weight, padding=1)
        h = self.in2_conv1[2](self.in2_conv1[1](h))
        feats = [h]
        for k in range(1, self.num_down + 1):
            h = getattr(self, f"in2_down{k}")(h)
            feats.append(h)
        return feats

    def _decode(self, image_code: torch.Tensor, pose_feats: list, trace: dict | None = None) -> torch.Tensor:
        y = image_code
        for k in range(self.num_down, 0, -1):  # attention links at levels N .. 1
            gate = torch.sigmoid(pose_feats[k])
            y = y * gate
            if trace is not None:
                trace["gates"][k] = gate
            y = getattr(self, f"out_up{self.num_down - k + 1}")(y)
            if trace is not None:
                trace["decoder"][k - 1] = y
        return self.cut_padding(self.out_conv1(y))

    # ----- the engine's contract -------------------------------------------------------------------------------
    def encode_sources(self, src_img: torch.Tensor, src_pose: torch.Tensor) -> dict:
        """Single source (the first of the M axis): the image stream's deepest features + the source pose share."""
        return {"image_code": self._image_stream(src_img[:, 0]),
                "src_pose_share": self._source_pose_share(src_pose[:, 0])}

    def render(self, state: dict, tgt_pose: torch.Tensor) -> torch.Tensor:
        feats = self._pose_stream(state["src_pose_share"], tgt_pose)
        return self._decode(state["image_code"], feats)

    def forward(self, src_img, src_pose, tgt_pose):
        return self.render(self.encode_sources(src_img, src_pose), tgt_pose)

    def trace(self, src_img, src_pose, tgt_pose) -> dict:
        """Every level's tensors, for tests and the training grid: image/pose/decoder features by level and
        the attention gates by level (level k has 1 / 2^k of the network's resolution)."""
        image = []
        code = self._image_stream(src_img[:, 0], keep=image)
        pose = self._pose_stream(self._source_pose_share(src_pose[:, 0]), tgt_pose)
        out = {"image": image, "pose": pose, "gates": {}, "decoder": {}}
        out["output"] = self._decode(code, pose, trace=out)
        return out


def _strip_prefix(tensors: dict) -> dict:
    # nn.DataParallel checkpoints prefix every name with "module."
    if tensors and all(k.startswith("module.") for k in tensors):
        return {k[len("module."):]: v for k, v in tensors.items()}
    return dict(tensors)


class AttentionBackend(NeuralBackend):
    name = "attention"
    title = "Multi-scale attention"
    summary = ("Attention-guided encoder-decoder (Roy et al.): the pose stream gates the decoder at every "
               "resolution. One reference photo. Imports the authors' DeepFashion weights.")
    multi_shot = False
    default_config = CONFIGS["cpu-small"]

    @classmethod
    def build_network(cls, config: dict) -> AttentionNet:
        return AttentionNet(dict(cls.default_config, **config))

    def frame(self, pose: Pose) -> Frame:
        """The crop for the network. With ``pad_to_square``, a photo that already has the padded square's shape
        with the person filling it (a DeepFashion 256x256 image) is taken as the authors take it: scaled to the
        square's height and its centre columns cut to the crop's width. Any other photo: engine.framing."""
        f = super().frame(pose)
        if not self.config.get("pad_to_square"):
            return f
        h, w = self.image_size
        side = max(h, w)
        ph, pw = pose.height, pose.width
        if not fills_photo(pose, 1.0, self.whole_if_fits):  # a square photo the person fills
            return f
        s = side / ph
        left, top = (pw * s - w) / 2, (ph * s - h) / 2
        jx0, _, jx1, _ = pose.bbox()
        if jx0 * s < left or jx1 * s > left + w:  # the joints must lie in the centre band that is kept
            return f
        m = np.array([[s, 0, 0.5 * s - 0.5 - left], [0, s, 0.5 * s - 0.5 - top]], np.float64)
        return Frame(m, (h, w), (ph, pw))

    @classmethod
    def convert_foreign(cls, tensors: dict) -> tuple[dict, dict]:
        """The authors' NetG state dict (name -> numpy array) -> (engine tensors, config).

        Their names are this network's names. Nf and N are read from the shapes; the geometry is their
        DeepFashion one (a 256x176 crop padded to 256x256), the only one they released.
        """
        from ..weights import check_state_dict

        t = _strip_prefix(tensors)
        first = t.get("in1_conv1.0.weight")
        if first is None or np.ndim(first) != 4 or tuple(np.shape(first)[1:]) != (3, 3, 3):
            raise WeightsError("not a multi-scale attention generator (prasunroy/pose-transfer NetG): "
                               "no in1_conv1.0.weight of shape (Nf, 3, 3, 3)")
        ngf = int(np.shape(first)[0])
        num_down = sum(1 for k in t if re.fullmatch(r"in1_down\d+\.0\.weight", k))
        config = dict(CONFIGS["paper-256x256"], width=ngf / BASE_CONFIG["ngf"], num_down=num_down)
        out = {}
        for k, v in t.items():
            arr = np.asarray(v)
            if k.endswith("num_batches_tracked"):
                out[k] = torch.as_tensor(arr.astype(np.int64).reshape(()))
                continue
            if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
                raise WeightsError(f"the authors' weights: {k} is not finite floating-point data")
            if k.endswith("running_var") and (arr < 0).any():
                raise WeightsError(f"the authors' weights: {k} has negative variances")
            out[k] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        with torch.device("meta"):  # shapes only: no 360 MB allocation to check names
            expected = AttentionNet(config).state_dict()
        out = check_state_dict(expected, out, "the authors' weights")
        return out, config
