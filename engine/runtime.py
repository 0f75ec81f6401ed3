"""The runtime the app and the CLI talk to: device, precision and dtype choice, the current backend, cached sources.

    engine = Engine("warp")                    # precision="auto": bf16 where the CPU computes it natively
    engine.set_sources(images, poses, masks)   # encodes lazily, once
    image = engine.render(target_pose)         # re-runs only target-dependent work

Not thread-safe by itself: the app owns one Engine inside its render worker thread.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable

from . import registry
from .errors import PoseEditorError

log = logging.getLogger(__name__)
_said: set = set()


def log_once(key: str, message: str) -> None:
    """One warning line per ``key`` and process: a fallback that repeats on every load says so once."""
    if key not in _said:
        _said.add(key)
        log.warning(message)


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


def pick_dtype(device: str, half: str = "auto", precision: str = "auto"):
    """The networks' weight dtype: float16 on CUDA (our generators are conv/norm nets that run safely in half),
    float32 on the CPU, where float16 is slower and less precise (bf16 there is autocast over float32 weights,
    see resolve_precision), and float32 whenever fp32 precision is asked."""
    import torch

    if half == "off" or precision == "fp32" or not device.startswith("cuda"):
        return torch.float32
    return torch.float16


PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_ENV = "POSEEDITOR_PRECISION"       # auto | fp32 | bf16: what "auto" means for every entry point
CPU_BF16_ENV = "POSEEDITOR_CPU_BF16"         # 1 | 0: overrides the CPU bf16 detection (tests)
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
APP_NAME = "PoseEditor"                      # the per-user folders' name (the app's settings and weights too)


@functools.lru_cache(maxsize=None)
def _cpuinfo(field: str) -> str:
    """The first ``field`` line of /proc/cpuinfo ("flags", "model name"), "" where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX-512 BF16), so bf16 autocast runs faster than
    float32 rather than emulated and slower. ``POSEEDITOR_CPU_BF16=0|1`` overrides the detection."""
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    flags = frozenset(_cpuinfo("flags").split())
    if flags:
        return any(f in flags for f in _BF16_FLAGS)
    try:  # no /proc/cpuinfo (macOS, Windows): oneDNN's own check of the instruction set
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):
        return False


def requested_precision(requested: str | None = "auto") -> str:
    """auto | fp32 | bf16 as asked: an explicit value wins, then ``POSEEDITOR_PRECISION``, else "auto"."""
    choice = (requested or "auto").strip().lower()
    if choice not in PRECISIONS:
        raise PoseEditorError(f"unknown precision '{requested}' (use {', '.join(PRECISIONS)})")
    if choice == "auto":
        choice = (os.environ.get(PRECISION_ENV) or "auto").strip().lower()
        if choice not in PRECISIONS:
            raise PoseEditorError(f"{PRECISION_ENV}={choice!r} is not one of {', '.join(PRECISIONS)}")
    return choice


def resolve_precision(requested: str | None = "auto", device: str = "cpu") -> str:
    """The precision the device offers: "fp32", "bf16" (CPU autocast) or "fp16" (CUDA half).

    ``requested`` is auto | fp32 | bf16 (see requested_precision); "auto" picks bf16 on a CPU that has it and
    fp32 on one that does not. bf16 asked of a CPU without it falls back to fp32 quietly (emulated bf16 is slower
    than fp32). CUDA keeps its half choice (``pick_dtype``) unless fp32 is asked. Training runs at this value;
    a network loaded for rendering with "auto" goes on to ``network_precision``.
    """
    choice = requested_precision(requested)
    if choice == "fp32":
        return "fp32"
    if str(device).startswith("cuda"):
        return "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


# ----- the per-network choice of "auto" ------------------------------------------------------------------------
# bf16 is kept for a network only when its cached render is at least this much faster than fp32: below it the
# pictures lose precision for a gain inside a busy machine's noise.
BF16_MIN_GAIN = 1.10
PRECISION_CACHE = "precision.json"


CACHE_ENV = "POSEEDITOR_CACHE_DIR"          # a folder instead of the user's cache folder (the tests use one)


def user_cache_dir() -> Path:
    """The user's cache folder (appdirs: ``$XDG_CACHE_HOME/PoseEditor`` on Linux), for what the engine measures
    once per machine; ``POSEEDITOR_CACHE_DIR`` names another. Not made here: only a write makes it."""
    import appdirs

    return Path(os.environ.get(CACHE_ENV) or appdirs.user_cache_dir(APP_NAME))


def cpu_model() -> str:
    import platform

    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown CPU"


def precision_key(backend: str, config: dict) -> str:
    """What a measured choice depends on: the network (backend, configuration), torch and the CPU."""
    import torch

    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{backend} {digest} torch {torch.__version__} {cpu_model()}"


def _read_choices(path: Path) -> dict:
    from .fileio import read_bounded

    try:
        data = json.loads(read_bounded(path, what="precision cache"))
    except (PoseEditorError, ValueError):  # missing or damaged: measured again and rewritten
        return {}
    return data if isinstance(data, dict) else {}


def network_precision(requested: str | None, device: str, backend: str, config: dict,
                      measure: Callable[[], tuple[float, float]]) -> str:
    """The precision a loaded network renders at: ``resolve_precision``, except that "auto" on a CPU with bf16
    keeps bf16 only for a network whose cached render ``measure()`` -> (fp32 ms, bf16 ms) finds at least
    BF16_MIN_GAIN faster. The answer is kept in the user cache folder under ``precision_key``, so a network is
    measured once per machine; an explicit precision or ``POSEEDITOR_PRECISION`` is never measured. A
    ``measure()`` that raises (the bf16 path fails on this machine) is fp32, kept so and logged once."""
    resolved = resolve_precision(requested, device)
    if resolved != "bf16" or requested_precision(requested) != "auto":
        return resolved
    path = user_cache_dir() / PRECISION_CACHE
    key = precision_key(backend, config)
    entry = _read_choices(path).get(key)
    if isinstance(entry, dict) and entry.get("precision") in ("fp32", "bf16"):
        return entry["precision"]
    try:
        fp32_ms, bf16_ms = measure()
    except Exception as e:  # noqa: BLE001  (any failure of the optional fast path: the network still loads)
        choice = "fp32"
        entry = {"precision": choice, "bf16_failed": f"{type(e).__name__}: {e}"[:300]}
        log_once(key, f"{backend}: the bf16 path failed while it was measured ({entry['bf16_failed']}); "
                      "this network renders in fp32")
    else:
        choice = "bf16" if fp32_ms >= BF16_MIN_GAIN * bf16_ms else "fp32"
        entry = {"precision": choice, "fp32_ms": round(fp32_ms, 2), "bf16_ms": round(bf16_ms, 2)}
    try:
        from .fileio import atomic_write_text

        path.parent.mkdir(parents=True, exist_ok=True)
        choices = _read_choices(path)  # again: another process may have added its own since
        choices[key] = dict(entry, measured=time.strftime("%Y-%m-%d %H:%M"))
        atomic_write_text(path, json.dumps(choices, indent=1, sort_keys=True) + "\n", "precision cache")
    except (OSError, PoseEditorError):
        pass  # a read-only home: the choice holds for this session and is measured again next time
    return choice


def describe(device: str, precision: str | None, refiner: str | None = None) -> str:
    """What the app's engine panel shows, e.g. "CPU · bf16" ("CPU" alone for a backend with no network), and a
    personal file's refiner where it runs at another precision than its network ("CPU · fp32, refiner bf16")."""
    where = "GPU" if str(device).startswith("cuda") else "CPU"
    text = where if precision is None else f"{where} \u00b7 {precision}"
    return text if refiner in (None, precision) else f"{text}, refiner {refiner}"


def refiner_precision(backend) -> str | None:
    """The precision a backend's refiner runs at (engine.refiner.speed_up's), None without one."""
    return getattr(getattr(backend, "refiner", None), "precision", None)


class Engine:
    def __init__(self, backend: str = "warp", device: str = "auto", weights=None, half: str = "auto",
                 precision: str = "auto"):
        self.dtype = None
        self.half = half
        self.requested_precision = precision
        self._choose(device)
        self.backend = None
        self._sources = None
        self._state = None
        self.last_render_ms = None
        self.set_backend(backend, weights)

    def set_backend(self, name: str, weights=None) -> None:
        cls = registry.backend_class(name)
        if cls.needs_weights:
            dtype = pick_dtype(self.device, self.half, self._offered)
            # the backend resolves the request itself: "auto" is then chosen per network as it loads
            request = "fp32" if self._offered == "fp32" else self.requested_precision
            backend = cls(device=self.device, dtype=dtype, precision=request)
        else:
            dtype = None
            backend = cls(device=self.device, dtype=dtype)
        if weights:
            backend.load_weights(weights)
        self.backend, self.dtype = backend, dtype
        self._state = None

    def load_weights(self, path):
        meta = self.backend.load_weights(path)
        self._state = None
        return meta

    def _choose(self, device: str) -> None:
        self.device = pick_device(device)
        self._offered = resolve_precision(self.requested_precision, self.device)
        if self._offered == "fp16" and self.half == "off":
            self._offered = "fp32"

    @property
    def precision(self) -> str:
        """What the networks run at: the neural backend's choice for its network (see network_precision), else
        what the device offers."""
        return getattr(self.backend, "precision", None) or self._offered

    def _rebuild(self, device: str, precision: str) -> None:
        """The same backend and weights file on another device or precision (sources re-encoded on next use)."""
        name = self.backend.name
        weights = self.backend.weights_info.path if self.backend.weights_info.kind == "file" else None
        self.requested_precision = precision
        self._choose(device)
        self.set_backend(name, weights)

    def set_device(self, device: str) -> None:
        self._rebuild(device, self.requested_precision)

    def set_precision(self, precision: str) -> None:
        """auto | fp32 | bf16 (see requested_precision)."""
        self._rebuild(self.device, precision)

    def describe(self) -> str:
        """"CPU \u00b7 bf16", "CPU \u00b7 fp32", "GPU \u00b7 fp16": the device and the precision the networks run at."""
        return describe(self.device, self.precision, refiner_precision(self.backend))

    def set_sources(self, images, poses, masks=None, state=None) -> None:
        """``state``: these sources already encoded by a backend of this engine's kind (the app's start-up warp),
        taken as this engine's encoding instead of encoding them again."""
        self._sources = (list(images), list(poses), list(masks) if masks is not None else None)
        self._state = state

    @property
    def state(self):
        if self._state is None:
            if self._sources is None:
                raise PoseEditorError("no reference photo loaded")
            self._state = self.backend.encode_sources(*self._sources)
        return self._state

    def render(self, target, live: bool = False):
        """The person in ``target``'s pose; ``live``: a render during a drag (Backend.render_live)."""
        t = time.perf_counter()
        out = (self.backend.render_live if live else self.backend.render)(self.state, target)
        self.last_render_ms = (time.perf_counter() - t) * 1000
        return out
