"""The one weights format of every backend: a safetensors file whose header carries PoseEditor's JSON metadata.

metadata (stored as the string value of the ``poseeditor`` key of the safetensors header):
    {"format": "poseeditor-weights", "format_version": 1, "backend": "dgan", "config": {...},
     "image_size": [H, W], "provenance": {"data": ..., "steps": ..., "command": ..., ...}, "created": ISO date,
     "label": "a human name for the file"}

Nothing here unpickles anything. A pickle (torch.save) file is recognised by its first bytes and refused with a
message that says how to convert it with ``poseeditor-train import-weights`` (which loads with
``torch.load(weights_only=True)``, safe for plain state dicts).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import numbers
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import WeightsError
from .fileio import atomic_output, check_input

FORMAT = "poseeditor-weights"
FORMAT_VERSION = 1
META_KEY = "poseeditor"

# What a network configuration may ask for, checked before anything is built or allocated (check_config).
# The largest paper network is 90M parameters at 256 pixels a side; these bounds leave room above that and
# refuse the 20 GB / 3 TB requests a damaged or hostile file can make.
MAX_PARAMETERS = 300_000_000
MAX_IMAGE_SIDE = 1024
MIN_IMAGE_SIDE = 16
MAX_WIDTH = 4.0
MAX_CONFIG_INT = 1024    # channel counts, block counts, references: the largest shipped is 256
MAX_HEADER_BYTES = 100_000_000
# The float settings the backends read, each within what it can mean (closed ranges): a Gaussian of 1e308 pixels
# overflows the first square, a dropout of 5 or a padding beyond [-1, 1] is no image. A float under any other
# key is held to MAX_CONFIG_FLOAT, as an integer is to MAX_CONFIG_INT.
FLOAT_RANGES = {
    "width": (1e-3, MAX_WIDTH),    # the width multiplier: 1.0 is the paper's, 0.25 the app's
    "sigma": (0.1, MAX_IMAGE_SIDE),  # joint heatmaps' Gaussian, in network pixels (6 shipped)
    "kappa": (-10.0, 0.0),         # limb maps exp(kappa * distance): positive would grow with the distance
    "dropout": (0.0, 1.0),         # a probability
    "pad_value": (-1.0, 1.0),      # a pixel value in the network's [-1, 1]
    "max_condition": (2.0, 1e8),   # pNR's ridge: cond(gram) at most this (1e4 shipped)
    "irls_eps": (1e-8, 1.0),       # pNR's IRLS floor on a residual (1e-3 shipped)
}
MAX_CONFIG_FLOAT = 1e6
# The tensor dtypes (safetensors' names) a network can use: floats and the integers and flags of buffers. Others
# (float8, complex, unsigned wider than 8 bits) are refused by name before any tensor is read.
USABLE_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64", "I8": "int8",
                 "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8", "BOOL": "bool"}


@dataclass
class WeightsMeta:
    backend: str
    config: dict = field(default_factory=dict)
    image_size: tuple[int, int] = (256, 256)
    provenance: dict = field(default_factory=dict)
    label: str = ""
    created: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "format_version": self.format_version, "backend": self.backend,
                           "config": self.config, "image_size": list(self.image_size),
                           "provenance": self.provenance, "label": self.label,
                           "created": self.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})

    @classmethod
    def from_json(cls, text: str, path) -> "WeightsMeta":
        try:
            d = json.loads(text)
        except (ValueError, RecursionError):
            raise WeightsError(f"{path}: PoseEditor metadata is not valid JSON") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT or "backend" not in d:
            raise WeightsError(f"{path}: metadata is not PoseEditor weights metadata")

        def field_of(key, kinds, default):
            v = d.get(key, default)
            if v is None:
                v = default
            if not isinstance(v, kinds) or isinstance(v, bool):  # no field is a flag: True is not 1 here
                raise WeightsError(f"{path}: metadata field {key!r} has the wrong type ({type(v).__name__})")
            return v

        version = field_of("format_version", int, 1)
        if version > FORMAT_VERSION:
            raise WeightsError(f"{path}: weights format version {version} is newer than this "
                               f"PoseEditor understands ({FORMAT_VERSION}); update PoseEditor")
        size = field_of("image_size", (list, tuple), [256, 256])
        why = _bad_value("image_size", size)  # the config's rule: the app frames and crops by this size
        if why:
            raise WeightsError(f"{path}: metadata {why}")
        if not isinstance(d["backend"], str) or not d["backend"]:
            raise WeightsError(f"{path}: metadata field 'backend' has the wrong type ({type(d['backend']).__name__})")
        return cls(backend=d["backend"], config=field_of("config", dict, {}),
                   image_size=(size[0], size[1]), provenance=field_of("provenance", dict, {}),
                   label=field_of("label", str, ""), created=field_of("created", str, ""), format_version=version)


def _sniff(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(16)


def _import_advice(path: Path, backend: str) -> str:
    """The command that converts ``path`` (the importer tells the formats by their first bytes, whatever the
    file's name)."""
    return f"Convert it: poseeditor-train import-weights {path.name} --backend {backend} -o OUT.safetensors"


def _refuse_non_safetensors(path: Path, head: bytes) -> None:
    # safetensors starts with an 8-byte little-endian header length and then the JSON header's "{". Check that
    # first: the length's low byte can be 0x80 or its first two bytes "PK", which alone would look like pickles.
    if len(head) > 8 and head[8:9] == b"{":
        return
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise WeightsError(f"{path}: this is a PyTorch pickle file (torch.save), which PoseEditor never loads "
                           f"because a pickle can run code. {_import_advice(path, 'NAME')}")
    if head[:8] == b"\x89HDF\r\n\x1a\n":  # the importer knows HDF5 by these bytes, whatever the name
        raise WeightsError(f"{path}: this is a Keras .h5 file. Convert it: "
                           f"poseeditor-train import-weights {path.name} --backend dgan -o OUT.safetensors")


def _read_header(path: Path) -> dict:
    """Read and validate the safetensors header without loading tensors (cheap: for listings and checks)."""
    size = path.stat().st_size
    if size < 8:
        raise WeightsError(f"{path}: file is empty or truncated ({size} bytes)")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        if n <= 0 or n > min(size - 8, MAX_HEADER_BYTES):
            if path.suffix.lower() == ".safetensors":
                raise WeightsError(f"{path}: not a safetensors file (or it is truncated)")
            # a file of another format by its name (anna.ckpt, anna.onnx) is told what weights are: it is not a
            # cut one. No "import-weights" in the line: the weights manager offers its importer any file whose
            # error names it, and the importer cannot read this one either
            raise WeightsError(f"{path}: not a safetensors file; weights are .safetensors files, made or "
                               f"converted by poseeditor-train")
        try:
            header = json.loads(f.read(n))
        except (ValueError, RecursionError):  # JSON, UTF-8 and too-long-integer errors are all ValueErrors
            raise WeightsError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: not a safetensors file (header is not a JSON object)")
    end = 8 + n
    for k, v in header.items():
        if k == "__metadata__":
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                raise WeightsError(f"{path}: safetensors __metadata__ must map names to strings")
            continue
        offsets = v.get("data_offsets") if isinstance(v, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
                and isinstance(v.get("dtype"), str) and isinstance(v.get("shape"), list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in v["shape"])):
            raise WeightsError(f"{path}: not a safetensors file (entry {str(k)[:60]!r} of the header is malformed)")
        if v["dtype"] not in USABLE_DTYPES:
            raise WeightsError(f"{path}: tensor {_key(k)[:60]} holds {_key(v['dtype'])[:20]} numbers, which "
                               f"PoseEditor cannot use ({', '.join(USABLE_DTYPES)}); save it in float32")
        end = max(end, 8 + n + offsets[1])
    if end > size:
        raise WeightsError(f"{path}: file is truncated ({size} of {end} bytes); download or copy it again")
    return header


def has_our_metadata(path) -> bool:
    """Whether a safetensors file carries PoseEditor's metadata key (read or not: a newer version's, a damaged
    one), from its header alone; False for a file whose header cannot be read."""
    try:
        return META_KEY in ((_read_header(Path(path)) or {}).get("__metadata__") or {})
    except (OSError, ValueError, WeightsError):
        return False


def read_meta(path) -> WeightsMeta:
    """Only the metadata of a weights file (no tensors read): for the weights manager and checks."""
    # the format in the name: a folder or a pipe given for the weights is told what to give instead
    path = check_input(path, WeightsError, ".safetensors weights file")
    try:
        _refuse_non_safetensors(path, _sniff(path))
        header = _read_header(path)
    except OSError as e:
        raise WeightsError(f"{path}: cannot read the weights file ({e.strerror or e})") from None
    meta = (header.get("__metadata__") or {}).get(META_KEY)
    if meta is None:
        raise WeightsError(f"{path}: a safetensors file without PoseEditor metadata; convert it with "
                           f"poseeditor-train import-weights")
    return WeightsMeta.from_json(meta, path)


def load_weights(path, backend=None) -> tuple[dict, WeightsMeta]:
    """Load tensors (as torch tensors on the CPU) and metadata; check the backend when one is given (a name,
    or the backend class, which also checks its network configuration: check_config).

    Everything that can be checked before the tensors are read is; then every tensor must be finite, since
    NaN or Inf weights would render a silent black box.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_meta(path)
    if backend is not None:
        name = backend if isinstance(backend, str) else backend.name
        if meta.backend != name:
            raise WeightsError(f"{path}: these are weights for the '{meta.backend}' backend, not '{name}'")
        cls = backend if not isinstance(backend, str) else _backend_class(name)
        if cls is not None:  # the class: its network can be checked before anything is read
            check_config(cls, meta.config, path)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise WeightsError(f"{path}: cannot read tensors ({str(e).splitlines()[0][:160] if str(e) else ''})") from None
    check_finite(tensors, path)
    return tensors, meta


def _backend_class(name: str):
    """The engine class of backend ``name``, or None when this installation has none (nothing to check by)."""
    from .errors import PoseEditorError
    from .registry import backend_class

    try:
        return backend_class(name)
    except PoseEditorError:  # unknown here, or its module cannot be imported
        return None


def check_finite(tensors: dict, path) -> None:
    """WeightsError naming the first floating-point tensor that holds NaN or infinity, or the first of a dtype
    no network can use (USABLE_DTYPES)."""
    import torch

    for k, t in tensors.items():
        if isinstance(t, torch.Tensor) and str(t.dtype).removeprefix("torch.") not in USABLE_DTYPES.values():
            raise WeightsError(f"{path}: tensor {_key(k)[:60]} holds {str(t.dtype).removeprefix('torch.')} numbers, "
                               f"which PoseEditor cannot use; save it in float32")
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise WeightsError(f"{path}: tensor {k} holds NaN or infinite values (a damaged file, or training "
                               f"that diverged); these weights cannot render")


def _key(name) -> str:
    """A configuration key as a message shows it: as written when printable, else escaped (a key holding a
    newline would break the one-line error)."""
    name = str(name)
    return name if name.isprintable() else ascii(name)


def _bad_value(key: str, value) -> str | None:
    """Why one configuration value is out of bounds, or None (``key`` as _key shows it)."""
    if key == "image_size":
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            return "image_size must be [height, width] in pixels"
        if not all(MIN_IMAGE_SIDE <= v <= MAX_IMAGE_SIDE for v in value):
            return f"image_size {value[0]}x{value[1]} is outside {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} a side"
        return None
    if key in FLOAT_RANGES:
        lo, hi = FLOAT_RANGES[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not lo <= value <= hi:
            return f"{key} {value!r} is outside [{lo:g}, {hi:g}]"
        return None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, numbers.Integral):
        return None if -MAX_CONFIG_INT <= value <= MAX_CONFIG_INT else f"{key} {value} is beyond {MAX_CONFIG_INT}"
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            return f"{key} is {value}"
        return None if abs(value) <= MAX_CONFIG_FLOAT else f"{key} {value!r} is beyond {MAX_CONFIG_FLOAT:g}"
    if isinstance(value, (list, tuple)):
        return next((why for v in value if (why := _bad_value(key, v))), None)
    if isinstance(value, dict):
        return next((why for k, v in value.items() if (why := _bad_value(f"{key}.{_key(k)}", v))), None)
    return f"{key} has a value of type {type(value).__name__}"


def _wrong_kind(key: str, value, default) -> str | None:
    """Why a switch (a key whose default is true or false) holds something else, or None. The networks read a
    switch with bool(), so "s" or [1] built one as if it said true; a text where a number belongs fails the
    build, which says so (and "levels" is "auto" or a number)."""
    if isinstance(default, bool) and not isinstance(value, bool):
        return f"{key} must be true or false, not {shown(value)}"
    return None


def shown(value) -> str:
    """A value as a one-line message shows it: its repr, cut at 40 characters, escaped if not printable."""
    text = repr(value)
    return _key(text if len(text) <= 40 else text[:40] + "…")


def check_config(cls, config: dict, where="configuration") -> dict:
    """Refuse a network configuration that is malformed or asks for an absurd network, before it is built.

    The one place the limits live: the engine calls it when loading weights, the importer before converting,
    training before building a network from --config. Values are bounded one by one (image size, width, every
    integer), then the network is built on torch's meta device (shapes only, no memory) and its parameters
    counted. ``cls`` is the backend class (engine.registry.backend_class(name) gives it). Returns the full
    configuration (the backend's defaults under ``config``).
    """
    import torch

    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise WeightsError(f"{where}: the network configuration must be a JSON object")
    backend = cls.name
    defaults = getattr(cls, "default_config", {})
    full = dict(defaults, **config)
    for k, v in full.items():
        why = _bad_value(_key(k), v) or _wrong_kind(_key(k), v, defaults.get(k))
        if why:
            raise WeightsError(f"{where}: network configuration refused: {why}")
    build = getattr(cls, "build_network", None)
    key = (backend, json.dumps(full, sort_keys=True, default=str))
    # the shipped configuration needs no count; a meta-device build costs ~0.1 s (3 s the first time a
    # spectral-norm network is built on it: torch imports its meta kernels), so each is counted once
    if build is None or full == getattr(cls, "default_config", None) or key in _COUNTED:
        return full
    try:
        with torch.device("meta"):
            net = build(full)
    except Exception as e:  # noqa: BLE001 - any failure to build is the configuration's fault
        first = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        what = "" if str(where).endswith(" network") else f"the {backend} network "  # not named twice
        raise WeightsError(f"{where}: {what}cannot be built from this configuration ({first})") from None
    count = sum(t.numel() for t in net.parameters()) + sum(t.numel() for t in net.buffers())
    if count > MAX_PARAMETERS:
        raise WeightsError(f"{where}: network configuration refused: {count / 1e6:.0f}M parameters "
                           f"(at most {MAX_PARAMETERS // 1_000_000}M)")
    _COUNTED.add(key)
    return full


_COUNTED: set = set()


def save_weights(path, tensors: dict, meta: WeightsMeta) -> Path:
    """Write atomically (engine.fileio): a killed process never leaves a half-written file."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    clean = {k: (v.detach().to("cpu").contiguous() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)))
             for k, v in tensors.items()}
    with atomic_output(path, "weights file") as tmp:
        # safetensors writes its file private (0600); the file made here first shows what the user's umask
        # gives a new file, and the weights get that, as every other file the user saves
        open(tmp, "wb").close()
        mode = tmp.stat().st_mode & 0o777
        save_file(clean, str(tmp), metadata={META_KEY: meta.to_json()})
        os.chmod(tmp, mode)
    return path


def state_dict_problems(expected: dict, got: dict) -> list[str]:
    """What differs between a model's state dict (``expected``: tensors, or meta tensors for the shapes alone) and
    loaded tensors: names missing, names unexpected (escaped when not printable), shapes; empty when they fit."""
    missing = [k for k in expected if k not in got]
    extra = [_key(k) for k in got if k not in expected]
    wrong = [f"{k} {tuple(got[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in got and tuple(got[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{len(extra)} unexpected (e.g. {', '.join(extra[:3])})")
    if wrong:
        problems.append(f"{len(wrong)} with other shapes (e.g. {'; '.join(wrong[:2])})")
    return problems


def check_state_dict(expected: dict, got: dict, path, cast_dtype=True) -> dict:
    """Compare a model's state dict with loaded tensors; raise WeightsError naming what differs.

    Returns the tensors cast to the model's dtypes (fp16 starter weights load into fp32 models).
    """
    problems = state_dict_problems(expected, got)
    if problems:
        raise WeightsError(f"{path}: weights do not fit this network: " + ", ".join(problems))
    # a float tensor stored as whole numbers or truth values loads and draws noise (a tester's int8 and bool casts)
    lost = [k for k in expected if expected[k].is_floating_point() and not got[k].is_floating_point()]
    if lost:
        more = f" and {len(lost) - 1} more" if len(lost) > 1 else ""
        raise WeightsError(f"{path}: weights hold {str(got[lost[0]].dtype).removeprefix('torch.')} tensors where the "
                           f"network needs floating-point ones ({lost[0]}{more})")
    if cast_dtype:
        return {k: got[k].to(expected[k].dtype) for k in expected}
    return got
