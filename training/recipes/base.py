"""How a backend is trained: its networks, discriminators, losses and optimisers, behind one interface.

The training loop (training/loop.py) knows nothing about any backend. It builds the recipe, feeds it batches,
checkpoints ``modules()`` and ``optimizers()``, and exports ``generator`` through the engine's weights format.

A batch is a dict of tensors on the device (training/datasets.py makes it):
    src_img      (B, M, 3, H, W) in [-1, 1]   M >= 1 reference photos of the target's person
    src_pose     (B, M, 18, 3)   x, y in pixels, 1/0 present
    src_mask     (B, M, 1, H, W) person masks 0..1
    src_parsing  (B, M, H, W)    int64 part labels (engine.parsing's coarse labels or the dataset's own)
    tgt_img, tgt_pose, tgt_mask, tgt_parsing   the same for the one target (without the M axis)
"""
from __future__ import annotations

import abc
import math
from typing import Callable, ClassVar, NamedTuple

import torch

from engine.weights import shown
from training.losses import BACKBONE_STAGES, BACKBONES, GAN_KINDS, NN_REDUCTIONS, NN_SIZE_MAX


# ================================================================================================================
# What a recipe option may be
# ================================================================================================================
class Rule(NamedTuple):
    """An option's allowed values: ``what`` says them in the error line; ``norm(value)`` gives the value as the
    recipe reads it (whole numbers as int) and raises ValueError when it is not allowed."""
    what: str
    norm: Callable


def number(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    def norm(v):
        if (isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v))
                or not (low < v if low_open else low <= v) or not (v < high if high_open else v <= high)):
            raise ValueError(v)
        return float(v)  # Adam takes its betas as floats only

    return Rule(f"a number {'above' if low_open else 'at least'} {low:g} and {'below' if high_open else 'at most'} "
                f"{high:g}", norm)


def whole(low: int, high: int, odd: bool = False) -> Rule:
    def norm(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (
                isinstance(v, float) and not (math.isfinite(v) and v.is_integer())):
            raise ValueError(v)
        if not low <= v <= high or (odd and int(v) % 2 != 1):
            raise ValueError(v)
        return int(v)

    return Rule(f"{'an odd' if odd else 'a'} whole number from {low} to {high}", norm)


def choice(values) -> Rule:
    def norm(v):
        if not isinstance(v, str) or v not in values:
            raise ValueError(v)
        return v

    return Rule(f"one of {', '.join(values)}", norm)


def kind(types: type | tuple, what: str) -> Rule:
    def norm(v):
        if isinstance(v, bool) != (types is bool) or not isinstance(v, types):
            raise ValueError(v)
        return v

    return Rule(what, norm)


def list_of(item: Rule, what: str) -> Rule:
    def norm(v):
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError(v)
        return [item.norm(x) for x in v]

    return Rule(what, norm)


# A loss weight beyond this overflows a float32 loss within a few steps; the largest any recipe uses is 5e3 x its
# NN weight (dgan's GANLESS).
WEIGHT_MAX = 1e6
WEIGHT = number(0, WEIGHT_MAX)
# Learning rates: 0 is allowed (a step that leaves the weights as they are: tests and checks use it); beyond 1
# Adam's update overflows float32 (1e300 stopped the first step with a traceback).
RATE = number(0, 1)
CHANNELS = whole(1, 1024)  # engine.weights.MAX_CONFIG_INT, the bound on a network config's channel counts
# Options whose default's kind does not say enough, by name: a name means the same in every recipe. A default of
# None allows None too (the recipe then picks the value).
OPTION_RULES = {
    "lr": RATE, "lr_g": RATE, "lr_d": RATE,
    "beta1": number(0, 1, high_open=True), "beta2": number(0, 1, high_open=True),
    "eps": number(0, 1, low_open=True), "weight_decay": number(0, 1), "d_weight_decay": number(0, 1),
    "init_std": number(0, 1, low_open=True), "row_keep": number(0, 1, low_open=True),
    "nn_weight": WEIGHT, "gan_weight": WEIGHT, "d_weight": WEIGHT, "l1_weight": WEIGHT, "perc_weight": WEIGHT,
    "nn_size": whole(1, NN_SIZE_MAX, odd=True), "nn_reduction": choice(NN_REDUCTIONS),
    "backbone": choice(BACKBONES), "perceptual_backbone": choice(BACKBONES),
    "gan_kind": choice(GAN_KINDS), "gan": choice(GAN_KINDS),
    "perceptual_depths": list_of(whole(0, BACKBONE_STAGES - 1), f"a list of backbone depths from 0 to "
                                                                f"{BACKBONE_STAGES - 1}, e.g. [0, 1]"),
    "perc_weights": list_of(WEIGHT, f"a list of numbers from 0 to {WEIGHT_MAX:g}, one per depth"),
    "d_norm": choice(("batch", "instance")),
    "d_ndf": CHANNELS, "d_nf": CHANNELS, "d_channels": CHANNELS,
    "d_layers": whole(1, 8), "d_blocks": whole(0, 16), "unsupervised_n_res": whole(1, 16),
    "batch_size": whole(1, 4096),
    "gan_start_step": whole(0, 10 ** 9),
}
OPTION_RULES["perc_depths"] = OPTION_RULES["perceptual_depths"]


def default_rule(default) -> Rule | None:
    """The rule an option without one of its own follows: its default's kind (a float is a loss weight)."""
    if isinstance(default, bool):
        return kind(bool, "true or false")
    if isinstance(default, int):
        return whole(0, 10 ** 9)
    if isinstance(default, float):
        return WEIGHT
    if isinstance(default, str):
        return kind(str, "a text")
    if isinstance(default, (list, tuple)):
        return kind((list, tuple), "a list")
    return None


class Recipe(abc.ABC):
    backend: ClassVar[str] = ""
    # Options a user may set in --config (loss weights, learning rates, GAN kind, ...), with their defaults.
    default_options: ClassVar[dict] = {}
    # Network config defaults for training (merged over the backend's default_config).
    default_net_config: ClassVar[dict] = {}
    # Mixed precision is the loop's (training/precision.py: it wraps train_step in autocast and scales its
    # backward passes where fp16 needs it); a recipe does none of its own.

    # Other backends whose weights --init may start this one from (adapt_init turns them into this network's).
    init_from: ClassVar[tuple[str, ...]] = ()
    # Options every recipe has. gan_start_step: the adversarial losses (and the discriminators' updates, which
    # then cost nothing) begin at this step; before it the generator learns from its reconstruction losses only.
    # 0, the papers' schedule, by default. A short CPU run (starter weights, "train on this person") starts
    # late: a discriminator that wins in the first hundred steps can drive a small generator into stripes
    # before it has learned to copy anything (seen with the attention recipe's BCE loss at lr 1e-3).
    # amp: False trains this recipe in fp32 whatever --precision says.
    common_options: ClassVar[dict] = {"gan_start_step": 0, "amp": True}

    def __init__(self, net_config: dict, options: dict, device="cpu"):
        from engine.registry import backend_class

        self.backend_cls = backend_class(self.backend)
        self.net_config = self.full_net_config(net_config)
        self.options = {**self.common_options, **self.default_options, **self.check_options(options)}
        self.device = torch.device(device)
        self.generator = self.backend_cls.build_network(self.net_config).to(self.device)
        self.amp = bool(self.options["amp"])

    @classmethod
    def check_options(cls, options: dict, where: str = "") -> dict:
        """``options`` as the recipe reads them (whole numbers as int), or a TrainingError naming the first that
        is unknown or not allowed (OPTION_RULES, else its default's kind). ``where`` begins the error line (the
        flag or file they came from). Called when fit reads its options, before anything is built, and again by
        the constructor for every other caller."""
        from ..options import TrainingError

        head = f"{where}: " if where else ""
        defaults = {**cls.common_options, **cls.default_options}
        unknown = sorted(str(k) for k in options if k not in defaults)
        if unknown:  # a misspelt loss weight would otherwise train with the default in silence
            raise TrainingError(f"{head}the {cls.backend} recipe has no option {unknown[0]!r} (its options: "
                                f"{', '.join(sorted(defaults))})")
        out = {}
        for key, value in options.items():
            rule = OPTION_RULES.get(key) or default_rule(defaults[key])
            if rule is None or (value is None and defaults[key] is None):
                out[key] = value
                continue
            try:
                out[key] = rule.norm(value)
            except ValueError:
                null = ", or null" if defaults[key] is None else ""
                raise TrainingError(f"{head}the {cls.backend} recipe's {key!r} must be {rule.what}{null}, "
                                    f"not {shown(value)}") from None
        return out

    @classmethod
    def full_net_config(cls, net_config: dict) -> dict:
        """The generator's config: the backend's defaults, the recipe's, then the run's."""
        from engine.registry import backend_class

        return dict(backend_class(cls.backend).default_config, **cls.default_net_config, **net_config)

    # ----- what the loop checkpoints ----------------------------------------------------------------------
    @abc.abstractmethod
    def modules(self) -> dict[str, torch.nn.Module]:
        """Every trained module by name, the generator under "generator"."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        ...

    # ----- starting from another backend's weights -----------------------------------------------------------
    @classmethod
    def init_config(cls, config: dict, from_backend: str) -> dict:
        """The network config to build when starting from ``from_backend``'s weights of ``config``."""
        return dict(config)

    def adapt_init(self, tensors: dict, from_backend: str) -> dict:
        """``from_backend``'s generator tensors as this generator's full state dict (only for init_from)."""
        raise NotImplementedError(f"{self.backend} cannot start from {from_backend} weights")

    # ----- one step -----------------------------------------------------------------------------------------
    def adversarial(self, step: int) -> bool:
        """Whether this step trains with the GAN losses (see ``gan_start_step``)."""
        return step >= int(self.options.get("gan_start_step", 0))

    @abc.abstractmethod
    def train_step(self, batch: dict, step: int) -> dict[str, float]:
        """Forward, backward and optimiser steps for one batch; returns the losses as floats.

        Must include "loss" (the generator's total, the figure the loop reports as "the loss falls")."""

    @torch.no_grad()
    def generate(self, batch: dict) -> torch.Tensor:
        """The generator's output (B, 3, H, W) in [-1, 1] for a batch, in eval mode."""
        g = self.generator
        was = g.training
        g.eval()
        try:
            return g(*self.generator_inputs(batch))
        finally:
            g.train(was)

    def generator_inputs(self, batch: dict) -> tuple:
        """The generator's arguments at inference (a backend that needs more, e.g. parsing, adds them)."""
        return batch["src_img"], batch["src_pose"], batch["tgt_pose"]

    def extra_images(self, batch: dict) -> dict[str, torch.Tensor]:
        """Optional extra rows for the image grid (e.g. predicted parsing), name -> (B, 3, H, W) in [-1, 1]."""
        return {}

    def target_limbs(self, batch: dict, unsupervised: bool = False) -> list:
        """training.losses.limb_maps of the image the generator must draw (the target's parsing; the first
        source's when ``unsupervised``) with the recipe's ``limb_weight`` / ``leg_weight``. Both 0 (every recipe's
        default): [], and the batch needs no parsing."""
        arms, legs = self.options.get("limb_weight", 0.0), self.options.get("leg_weight", 0.0)
        if not (arms or legs):
            return []
        from training.losses import limb_maps

        return limb_maps(batch["src_parsing"][:, 0] if unsupervised else batch["tgt_parsing"], arms, legs)

    # ----- checkpoint helpers -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"modules": {k: m.state_dict() for k, m in self.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optimizers"][k])

    def train(self, mode: bool = True) -> None:
        for m in self.modules().values():
            m.train(mode)


# Which recipe trains which backend is engine.registry's table; training.recipes reads it.
from . import recipe_class, recipe_names  # noqa: E402,F401
