"""The limb-weighted reconstruction of DGAN, pNR and attention (recipe options ``limb_weight`` / ``leg_weight``): off by default,
it adds to the loss exactly where the target has arms (legs); DGAN's charges for the faint arm the full NN loss lets
pass, pNR's and attention's weigh those pixels 1 + w in their L1 and perceptual terms."""
from __future__ import annotations

import pytest
import torch

from training.bench import make_batch
from training.loop import seed_everything
from training.losses import ARM_LABELS, LEG_LABELS, l1, limb_maps, nn_loss, weighted_l1
from training.recipes.attention import AttentionRecipe
from training.recipes.dgan import DganRecipe, limb_nn_loss
from training.recipes.pnr import PnrRecipe

TINY = {"image_size": [64, 32], "width": 0.0625}


def _recipe(**options):
    seed_everything(0)
    return DganRecipe(dict(TINY), {"amp": False, **options}, "cpu")


def test_off_by_default_the_papers_loss():
    recipe = _recipe()
    assert recipe.options["limb_weight"] == 0 and recipe.options["leg_weight"] == 0
    out = recipe.train_step(make_batch((64, 32), batch=2), 0)
    assert "nn_limbs" not in out
    assert out["loss"] == pytest.approx(0.01 * out["nn"] + out["g_gan"], rel=1e-4)


def test_the_masks_are_the_targets_arms_and_legs():
    parsing = make_batch((64, 32), batch=2)["tgt_parsing"]
    (wa, arms), (wl, legs) = limb_maps(parsing, 8.0, 2.0)
    assert (wa, wl) == (8.0, 2.0)
    assert arms.shape == (2, 1, 64, 32) and arms.any() and legs.any()
    assert torch.equal(arms[:, 0], torch.isin(parsing, torch.tensor(ARM_LABELS)))
    assert torch.equal(legs[:, 0], torch.isin(parsing, torch.tensor(LEG_LABELS)))
    assert [w for w, _ in limb_maps(parsing, 8.0, 0.0)] == [8.0]
    assert limb_maps(parsing, 0.0, 0.0) == []


def test_the_loss_changes_where_and_only_where_the_target_has_arms():
    """The gradient of the limb term on the image reaches the target's arm pixels (and the backbone's 3x3
    stride-2 first layer's reach around them), nothing farther; and the term's value is the recipe's."""
    recipe = _recipe()
    batch = make_batch((64, 32), batch=2, seed=1)
    ((w, arms),) = limb_maps(batch["tgt_parsing"], 1.0, 0.0)
    fake = batch["src_img"][:, 0].clone().requires_grad_(True)  # another pose than the target's: arms differ
    with torch.no_grad():
        target_feat = recipe._features(batch["tgt_img"])
    term = limb_nn_loss(recipe._features(fake), target_feat, arms, 3, "sum")
    term.backward()
    touched = fake.grad.abs().sum(1) > 0
    near = torch.nn.functional.max_pool2d(arms.float(), 7, stride=1, padding=3)[:, 0] > 0
    assert touched.any() and not (touched & ~near).any(), "gradient outside the arms' reach"
    assert touched[arms[:, 0]].float().mean() > 0.5, "most arm pixels get a gradient"


def test_the_recipe_adds_the_weighted_term_to_the_loss():
    batch = make_batch((64, 32), batch=2)
    recipe = _recipe(limb_weight=8.0, leg_weight=2.0)
    out = recipe.train_step(batch, 0)
    assert out["nn_limbs"] > 0
    assert out["loss"] == pytest.approx(0.01 * (out["nn"] + out["nn_limbs"]) + out["g_gan"], rel=1e-4)
    # with the L1 term on, the arm pixels weigh 1 + w there too: the reported L1 grows by w x their share
    plain = _recipe(l1_weight=1.0, gan_start_step=5).train_step(batch, 0)
    weighted = _recipe(l1_weight=1.0, gan_start_step=5, limb_weight=8.0).train_step(batch, 0)
    assert weighted["l1"] > 1.05 * plain["l1"]


def test_a_faint_arm_costs_in_the_limb_term_not_in_the_full_nn_loss():
    """Why the option exists: a one-position arm drawn as the background beside it is matched to that background
    by the full NN loss's 3x3 search (no cost) but not by the limb term, which searches the arm only."""
    target = torch.zeros(1, 4, 8, 8)
    target[:, :, 1:7, 4] = 1.0           # a vertical arm, one feature position wide
    faint = torch.zeros(1, 4, 8, 8)      # the same picture with the arm left out
    arm = (target[:, :1] > 0)
    assert float(nn_loss(faint, target, 3, "sum")) == 0.0
    assert float(limb_nn_loss(faint, target, arm, 3, "sum")) == pytest.approx(6 * 4.0)
    assert float(limb_nn_loss(target.clone(), target, arm, 3, "sum")) == 0.0  # the arm drawn: no cost


# ----- pNR --------------------------------------------------------------------------------------------------
def _pnr(**options):
    seed_everything(0)
    return PnrRecipe(dict(TINY), {"amp": False, **options}, "cpu")


def test_weighted_l1_weighs_the_limb_pixels_1_plus_w():
    a, b = torch.zeros(1, 3, 8, 4), torch.zeros(1, 3, 8, 4)
    a[:, :, 2, 1] = 1.0                  # one wrong pixel, on the arm
    a[:, :, 6, 3] = 1.0                  # one wrong pixel, off it
    arm = torch.zeros(1, 1, 8, 4, dtype=torch.bool)
    arm[:, :, 1:4, 1] = True
    assert float(weighted_l1(a, b)) == float(l1(a, b)) == pytest.approx(6 / 96)
    assert float(weighted_l1(a, b, [(8.0, arm)])) == pytest.approx((6 + 8 * 3) / 96)
    # a feature map at half the size takes the mask by max pooling: the arm keeps its positions
    half = torch.zeros(1, 2, 4, 2)
    half[:, :, 1, 0] = 1.0
    assert float(weighted_l1(half, torch.zeros_like(half), [(8.0, arm)])) == pytest.approx((2 + 8 * 2) / 16)


def test_pnr_off_by_default_and_needs_no_parsing():
    recipe = _pnr()
    assert recipe.options["limb_weight"] == 0 and recipe.options["leg_weight"] == 0
    batch = {k: v for k, v in make_batch((64, 32), batch=2).items() if "parsing" not in k}
    out = recipe.train_step(batch, 0)
    assert out["loss"] == pytest.approx(5 * out["l1"] + 5 * out["perceptual"] + 10 * (out["gan_k"] + out["gan_i"]),
                                        rel=1e-4)


@pytest.mark.parametrize("limb", ["arm", "leg"])
def test_pnr_loss_changes_where_and_only_where_the_target_has_the_limb(limb):
    """The weighted minus the plain reconstruction, as a function of the generated image: its gradient reaches
    the target's arm (leg) pixels and the backbone's first stage's reach around them, nothing farther."""
    weights = (8.0, 0.0) if limb == "arm" else (0.0, 2.0)
    recipe = _pnr(limb_weight=weights[0], leg_weight=weights[1])
    batch = make_batch((64, 32), batch=2, seed=1)
    limbs = recipe.target_limbs(batch, recipe.options["unsupervised"])
    ((w, mask),) = limbs
    assert torch.equal(mask, limb_maps(batch["tgt_parsing"], *weights)[0][1])
    fake = batch["src_img"][:, 0].clone().requires_grad_(True)  # another pose than the target's: limbs differ
    total = lambda parts: 5 * parts["l1"] + 5 * parts["perceptual"]  # noqa: E731
    extra = total(recipe.reconstruction(fake, batch["tgt_img"], limbs)) - \
        total(recipe.reconstruction(fake, batch["tgt_img"]))
    assert float(extra.detach()) > 0
    extra.backward()
    # the two passes through the backbone round differently in fp32: the plain terms cancel to ~1e-9, not to 0
    grad = fake.grad.abs().sum(1)
    touched = grad > 1e-4 * grad.max()
    near = torch.nn.functional.max_pool2d(mask.float(), 7, stride=1, padding=3)[:, 0] > 0
    assert touched.any() and not (touched & ~near).any(), "gradient outside the limb's reach"
    assert touched[mask[:, 0]].float().mean() > 0.9, "the limb's pixels get a gradient"
    # and the recipe's step reports the weighted terms: the same first output, a larger L1 and perceptual
    plain, weighted = _pnr().train_step(batch, 0), recipe.train_step(batch, 0)
    assert weighted["l1"] > 1.05 * plain["l1"] and weighted["perceptual"] > 1.05 * plain["perceptual"]


def test_pnr_unsupervised_weighs_the_reconstructed_sources_limbs():
    """Unsupervised, the image drawn is the first source: its parsing gives the limbs, not the target's."""
    batch = make_batch((64, 32), batch=2, seed=2)
    ((_, mask),) = _pnr(limb_weight=8.0, unsupervised=True).target_limbs(batch, unsupervised=True)
    assert torch.equal(mask[:, 0], torch.isin(batch["src_parsing"][:, 0], torch.tensor(ARM_LABELS)))
    assert not torch.equal(mask[:, 0], torch.isin(batch["tgt_parsing"], torch.tensor(ARM_LABELS)))


# ----- attention --------------------------------------------------------------------------------------------
def test_attention_weighs_the_targets_limbs_in_its_l1_and_perceptual_terms():
    """Off by default (a batch without parsing trains); on, the same first output costs more in both terms (the
    where of weighted_l1 and Perceptual's limbs is the pNR test's above)."""
    def recipe(**options):
        seed_everything(0)
        return AttentionRecipe(dict(TINY), {"amp": False, **options}, "cpu")

    batch = make_batch((64, 32), batch=2, seed=1)
    off = recipe()
    assert off.options["limb_weight"] == 0 and off.options["leg_weight"] == 0
    plain = off.train_step({k: v for k, v in batch.items() if "parsing" not in k}, 0)
    weighted = recipe(limb_weight=8.0, leg_weight=2.0).train_step(batch, 0)
    assert weighted["l1"] > 1.05 * plain["l1"] and weighted["perceptual"] > 1.05 * plain["perceptual"]
    assert weighted["loss"] == pytest.approx(5 * weighted["l1"] + 5 * weighted["perceptual"] + weighted["gan_g"],
                                             rel=1e-4)
