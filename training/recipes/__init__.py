"""Training recipes, one per trainable backend; which recipe trains which backend is engine.registry's table."""
from __future__ import annotations

from engine.registry import BACKENDS, Unavailable, resolve, trainable_names

RecipeUnavailable = Unavailable


def recipe_class(name: str):
    """The recipe class of backend ``name``: KeyError when it has none, RecipeUnavailable when it cannot be
    imported here."""
    entry = BACKENDS.get(name)
    if entry is None or entry.recipe is None:
        raise KeyError(name)
    try:
        return resolve(entry.recipe)
    except Unavailable as e:
        raise RecipeUnavailable(f"its recipe {entry.recipe} cannot be imported: {e}") from None


def recipe_names() -> list[str]:
    """Backends whose recipe imports (a backend still being written is simply not listed)."""
    out = []
    for name in trainable_names():
        try:
            recipe_class(name)
            out.append(name)
        except RecipeUnavailable:
            pass
    return out
