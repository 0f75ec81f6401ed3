"""The DGAN recipes' L1 and perceptual terms: on before the GAN starts (the personal plan never starts it), off
once it runs (the papers' losses), scaled by the NN term's weight, and what they are for: the image nears the
target faster than with the NN loss alone."""
from __future__ import annotations

import pytest
import torch

from training.bench import make_batch
from training.loop import seed_everything
from training.losses import l1
from training.recipes.dgan import DganRecipe, DganSaRecipe

TINY = {"image_size": [64, 32], "width": 0.0625}


def _recipe(cls=DganRecipe, **options):
    seed_everything(0)
    return cls(dict(TINY), {"gan_start_step": 2, **options}, "cpu")


@pytest.mark.parametrize("cls", [DganRecipe, DganSaRecipe])
def test_the_terms_run_before_the_gan_and_stop_when_it_starts(cls):
    recipe = _recipe(cls, amp=False)
    batch = make_batch((64, 32), batch=2)
    before = recipe.train_step(batch, 1)   # before gan_start_step: NN + L1 + perceptual
    w = recipe.options["nn_weight"]
    g = cls.GANLESS
    assert w == (1.0 if cls is DganSaRecipe else 0.01)
    assert before["loss"] == pytest.approx(w * before["nn"] + g["l1_weight"] * w * before["l1"]
                                           + g["perc_weight"] * w * before["perc"], rel=1e-4)
    assert before["l1"] > 0 and before["perc"] > 0
    after = recipe.train_step(batch, 2)    # the GAN runs: the papers' losses only
    assert "l1" not in after and "perc" not in after
    assert after["loss"] == pytest.approx(w * after["nn"] + recipe.options["gan_weight"] * after["g_gan"], rel=1e-4)


def test_explicit_weights_hold_whatever_the_gan():
    recipe = _recipe(l1_weight=0, perc_weight=3.0, amp=False)
    batch = make_batch((64, 32), batch=2)
    before = recipe.train_step(batch, 1)
    assert "l1" not in before and before["loss"] == pytest.approx(0.01 * before["nn"] + 3.0 * before["perc"], rel=1e-4)
    after = recipe.train_step(batch, 2)
    assert "perc" in after and "l1" not in after


def test_the_terms_bring_the_image_nearer_the_target_than_the_nn_loss_alone():
    batch = make_batch((64, 32), batch=4, seed=3)
    dist = {}
    for name, opts in {"nn alone": {"l1_weight": 0, "perc_weight": 0}, "with the terms": {}}.items():
        recipe = _recipe(lr=1e-3, gan_start_step=100, amp=False, **opts)
        start = float(l1(recipe.generate(batch), batch["tgt_img"]))
        for step in range(16):
            recipe.train_step(batch, step)
        dist[name] = float(l1(recipe.generate(batch), batch["tgt_img"])) / start
    assert dist["with the terms"] < 0.9 * dist["nn alone"], dist
