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
from typing import ClassVar

import torch


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
        unknown = sorted(set(options) - set(self.common_options) - set(self.default_options))
        if unknown:  # a misspelt loss weight would otherwise train with the default in silence
            from ..options import TrainingError

            raise TrainingError(f"the {self.backend} recipe has no option {unknown[0]!r} (its options: "
                                f"{', '.join(sorted({**self.common_options, **self.default_options}))})")
        self.options = {**self.common_options, **self.default_options, **options}
        self.device = torch.device(device)
        self.generator = self.backend_cls.build_network(self.net_config).to(self.device)
        self.amp = bool(self.options["amp"])

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
