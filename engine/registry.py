"""The backend registry: every backend module registers its class; the app and the CLI list them from here.

Backend modules are imported on first use (torch is heavy), and a module that fails to import is reported as
unavailable with the reason instead of breaking the others.
"""
from __future__ import annotations

import importlib

from .errors import PoseEditorError

# One module per backend, in the order the app lists them.
BACKEND_MODULES = (
    "engine.backends.warp",
    "engine.backends.dgan",
    "engine.backends.attention",
    "engine.backends.spgnet",
    "engine.backends.pnr",
)

_registry: dict[str, type] = {}
_failed: dict[str, str] = {}
_loaded = False


def register(cls):
    """Class decorator: ``@register class MyBackend(Backend): name = "mine"``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _registry[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in BACKEND_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # the module exists but something it needs does not
                _failed[mod.rsplit(".", 1)[-1]] = f"cannot import {e.name}"
        except Exception as e:  # a broken backend must not take the others down
            _failed[mod.rsplit(".", 1)[-1]] = f"{type(e).__name__}: {e}"
    _loaded = True


def backend_names() -> list[str]:
    _load_all()
    return list(_registry)


def backend_class(name: str):
    _load_all()
    if name not in _registry:
        why = f" ({_failed[name]})" if name in _failed else ""
        raise PoseEditorError(f"unknown backend '{name}'{why}; available: {', '.join(_registry)}")
    return _registry[name]


def unavailable() -> dict[str, str]:
    _load_all()
    return dict(_failed)


def create(name: str, device: str = "cpu", dtype=None, **kwargs):
    return backend_class(name)(device=device, dtype=dtype, **kwargs)
