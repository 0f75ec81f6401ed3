"""gan_start_step, an option of every recipe: before it the discriminators are neither trained nor asked, and the
generator learns from its reconstruction losses alone; from it on, the recipe's own adversarial training runs."""
from __future__ import annotations

import pytest
import torch

from training.bench import make_batch
from training.loop import get_recipe_class, seed_everything
from training.recipes import recipe_names


def _snapshot(modules: dict) -> dict:
    return {name: [p.detach().clone() for p in m.parameters()] for name, m in modules.items()}


def _changed(before: dict, modules: dict) -> dict[str, bool]:
    return {name: any(not torch.equal(a, p.detach()) for a, p in zip(before[name], m.parameters()))
            for name, m in modules.items()}


@pytest.mark.parametrize("backend", recipe_names())
def test_no_discriminator_work_before_gan_start_step(backend):
    seed_everything(0)
    cls = get_recipe_class(backend)
    # every default given again as an option (a --config file may repeat them) plus the common option
    recipe = cls({"image_size": [64, 32], "width": 0.125}, {**cls.default_options, "gan_start_step": 2}, "cpu")
    recipe.train(True)
    batch = make_batch((64, 32), batch=2)
    discriminators = {k: m for k, m in recipe.modules().items() if k != "generator"}
    assert discriminators, f"{backend}: a recipe without a discriminator needs no gan_start_step test"

    calls = []
    hooks = [m.register_forward_hook(lambda *_: calls.append(1)) for m in discriminators.values()]
    before = _snapshot(recipe.modules())
    out = recipe.train_step(batch, 1)                     # step 1 < gan_start_step: reconstruction only
    changed = _changed(before, recipe.modules())
    assert changed["generator"] and not any(changed[k] for k in discriminators), changed
    assert not calls, f"{backend}: the discriminator ran {len(calls)} times before gan_start_step"
    assert torch.isfinite(torch.tensor(out["loss"]))

    before = _snapshot(recipe.modules())
    recipe.train_step(batch, 2)                           # from gan_start_step on: the recipe's own GAN
    changed = _changed(before, recipe.modules())
    assert all(changed.values()), changed
    assert calls
    for h in hooks:
        h.remove()
