"""The runtime the app and the CLI talk to: device and dtype choice, the current backend, cached sources.

    engine = Engine("warp")
    engine.set_sources(images, poses, masks)   # encodes lazily, once
    image = engine.render(target_pose)         # re-runs only target-dependent work

Not thread-safe by itself: the app owns one Engine inside its render worker thread.
"""
from __future__ import annotations

import time

from . import registry
from .errors import PoseEditorError


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pick_device(preference: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is usable, else 'cpu'. 'cuda' without a GPU is an error, said plainly."""
    preference = (preference or "auto").lower()
    if preference == "auto":
        return "cuda" if cuda_available() else "cpu"
    if preference.startswith("cuda"):
        if not cuda_available():
            raise PoseEditorError("CUDA was asked for but no usable GPU is present; use --device cpu")
        return preference
    if preference == "cpu":
        return "cpu"
    raise PoseEditorError(f"unknown device '{preference}' (use auto, cpu or cuda)")


def pick_dtype(device: str, half: str = "auto"):
    """float16 on CUDA (our generators are conv/norm nets that run safely in half), float32 on the CPU,
    where half is slower and less precise."""
    import torch

    if half == "off" or not device.startswith("cuda"):
        return torch.float32
    return torch.float16


class Engine:
    def __init__(self, backend: str = "warp", device: str = "auto", weights=None, half: str = "auto"):
        self.device = pick_device(device)
        self.dtype = None
        self.half = half
        self.backend = None
        self._sources = None
        self._state = None
        self.last_render_ms = None
        self.set_backend(backend, weights)

    def set_backend(self, name: str, weights=None) -> None:
        cls = registry.backend_class(name)
        dtype = pick_dtype(self.device, self.half) if cls.needs_weights else None
        backend = cls(device=self.device, dtype=dtype)
        if weights:
            backend.load_weights(weights)
        self.backend, self.dtype = backend, dtype
        self._state = None

    def load_weights(self, path):
        meta = self.backend.load_weights(path)
        self._state = None
        return meta

    def set_device(self, device: str) -> None:
        name = self.backend.name
        weights = self.backend.weights_info.path if self.backend.weights_info.kind == "file" else None
        self.device = pick_device(device)
        self.set_backend(name, weights)

    def set_sources(self, images, poses, masks=None) -> None:
        self._sources = (list(images), list(poses), list(masks) if masks is not None else None)
        self._state = None

    @property
    def state(self):
        if self._state is None:
            if self._sources is None:
                raise PoseEditorError("no reference photo loaded")
            self._state = self.backend.encode_sources(*self._sources)
        return self._state

    def render(self, target):
        t = time.perf_counter()
        out = self.backend.render(self.state, target)
        self.last_render_ms = (time.perf_counter() - t) * 1000
        return out
