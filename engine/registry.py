"""The backend registry: one table gives each backend its engine class and its training recipe.

    BACKENDS["dgan"] = Entry("engine.backends.dgan:DganBackend", "training.recipes.dgan:DganRecipe")

Both are named by dotted paths and imported on first use: torch is heavy, the engine never imports training/
(only ``poseeditor-train`` asks for a recipe), and a module that fails to import is reported as unavailable
with the reason instead of breaking the others. The table's order is the order the app lists the backends in.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import PoseEditorError


@dataclass(frozen=True)
class Entry:
    engine: str                 # "module:Class" of the engine backend
    recipe: str | None = None   # "module:Class" of its training recipe (training/); None: not trainable


BACKENDS: dict[str, Entry] = {
    "warp": Entry("engine.backends.warp:WarpBackend"),
    "dgan": Entry("engine.backends.dgan:DganBackend", "training.recipes.dgan:DganRecipe"),
    "dgan-sa": Entry("engine.backends.dgan:DganSaBackend", "training.recipes.dgan:DganSaRecipe"),
    "attention": Entry("engine.backends.attention:AttentionBackend", "training.recipes.attention:AttentionRecipe"),
    "spgnet": Entry("engine.backends.spgnet:SpgnetBackend", "training.recipes.spgnet:SpgnetRecipe"),
    "pnr": Entry("engine.backends.pnr:PnrBackend", "training.recipes.pnr:PnrRecipe"),
}

_registry: dict[str, type] = {}    # engine classes imported so far
_failed: dict[str, str] = {}       # backend -> why its module cannot be imported


class Unavailable(PoseEditorError):
    """A backend (or its recipe) whose module exists in the table but cannot be imported here."""


def resolve(path: str):
    """The object a "module:name" path names; Unavailable (one line) when its module cannot be imported."""
    mod, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except ModuleNotFoundError as e:
        raise Unavailable(f"cannot import {e.name}") from None
    except AttributeError:
        raise Unavailable(f"{mod} has no {attr}") from None
    except Exception as e:  # a broken module must not take the others down
        raise Unavailable(f"{type(e).__name__}: {e}") from None


def register(name: str, engine: str, recipe: str | None = None) -> None:
    """Add a backend at run time (a plug-in, a test): the same two dotted paths as the table's."""
    BACKENDS[name] = Entry(engine, recipe)
    _registry.pop(name, None)
    _failed.pop(name, None)


def _load(name: str) -> type | None:
    if name in _registry:
        return _registry[name]
    if name in _failed or name not in BACKENDS:
        return None
    try:
        cls = resolve(BACKENDS[name].engine)
    except Unavailable as e:
        _failed[name] = str(e)
        return None
    _registry[name] = cls
    return cls


def backend_names() -> list[str]:
    """The backends that import here, in the table's order."""
    return [n for n in list(BACKENDS) if _load(n) is not None]


def backend_class(name: str):
    cls = _load(name)
    if cls is None:
        why = f" ({_failed[name]})" if name in _failed else ""
        raise PoseEditorError(f"unknown backend '{name}'{why}; available: {', '.join(backend_names())}")
    return cls


def trainable_names() -> list[str]:
    """The backends the table gives a training recipe, in its order. Nothing is imported: a refusal names them
    without loading torch (training.recipes.recipe_names keeps those whose recipe imports here)."""
    return [n for n, e in BACKENDS.items() if e.recipe is not None]


def unavailable() -> dict[str, str]:
    backend_names()
    return dict(_failed)


def create(name: str, device: str = "cpu", dtype=None, **kwargs):
    return backend_class(name)(device=device, dtype=dtype, **kwargs)
