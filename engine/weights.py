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
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import WeightsError

FORMAT = "poseeditor-weights"
FORMAT_VERSION = 1
META_KEY = "poseeditor"


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
        except json.JSONDecodeError:
            raise WeightsError(f"{path}: PoseEditor metadata is not valid JSON") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT or "backend" not in d:
            raise WeightsError(f"{path}: metadata is not PoseEditor weights metadata")
        if int(d.get("format_version", 0)) > FORMAT_VERSION:
            raise WeightsError(f"{path}: weights format version {d['format_version']} is newer than this "
                               f"PoseEditor understands ({FORMAT_VERSION}); update PoseEditor")
        return cls(backend=str(d["backend"]), config=dict(d.get("config") or {}),
                   image_size=tuple(int(v) for v in d.get("image_size", (256, 256))),
                   provenance=dict(d.get("provenance") or {}), label=str(d.get("label", "")),
                   created=str(d.get("created", "")), format_version=int(d.get("format_version", 1)))


def _sniff(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(16)


def _refuse_non_safetensors(path: Path, head: bytes) -> None:
    # safetensors starts with an 8-byte little-endian header length and then the JSON header's "{". Check that
    # first: the length's low byte can be 0x80 or its first two bytes "PK", which alone would look like pickles.
    if len(head) > 8 and head[8:9] == b"{":
        return
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise WeightsError(
            f"{path}: this is a PyTorch pickle file (torch.save), which PoseEditor never loads because a pickle "
            f"can run code. Convert it: poseeditor-train import-weights {path.name} --backend NAME -o OUT.safetensors")
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        raise WeightsError(f"{path}: this is a Keras .h5 file. Convert it: "
                           f"poseeditor-train import-weights {path.name} --backend dgan -o OUT.safetensors")


def _read_header(path: Path) -> dict:
    """Read and validate the safetensors header without loading tensors (cheap: for listings and checks)."""
    size = path.stat().st_size
    if size < 8:
        raise WeightsError(f"{path}: file is empty or truncated ({size} bytes)")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        if n <= 0 or n > min(size - 8, 100_000_000):
            raise WeightsError(f"{path}: not a safetensors file (or it is truncated)")
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise WeightsError(f"{path}: not a safetensors file (header is not JSON)") from None
    end = 8 + n + max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    if end > size:
        raise WeightsError(f"{path}: file is truncated ({size} of {end} bytes); download or copy it again")
    return header


def read_meta(path) -> WeightsMeta:
    """Only the metadata of a weights file (no tensors read): for the weights manager and checks."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    _refuse_non_safetensors(path, _sniff(path))
    header = _read_header(path)
    meta = (header.get("__metadata__") or {}).get(META_KEY)
    if meta is None:
        raise WeightsError(f"{path}: a safetensors file without PoseEditor metadata; convert it with "
                           f"poseeditor-train import-weights")
    return WeightsMeta.from_json(meta, path)


def load_weights(path, backend: str | None = None) -> tuple[dict, WeightsMeta]:
    """Load tensors (as torch tensors on the CPU) and metadata; check the backend when one is given."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_meta(path)
    if backend is not None and meta.backend != backend:
        raise WeightsError(f"{path}: these are weights for the '{meta.backend}' backend, not '{backend}'")
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: cannot read tensors ({e})") from None
    return tensors, meta


def save_weights(path, tensors: dict, meta: WeightsMeta) -> Path:
    """Write atomically (temporary file, then rename): a killed process never leaves a half-written file."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: (v.detach().to("cpu").contiguous() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)))
             for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".part")
    save_file(clean, str(tmp), metadata={META_KEY: meta.to_json()})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)
    return path


def check_state_dict(expected: dict, got: dict, path, cast_dtype=True) -> dict:
    """Compare a model's state dict with loaded tensors; raise WeightsError naming what differs.

    Returns the tensors cast to the model's dtypes (fp16 starter weights load into fp32 models).
    """
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    wrong = [f"{k} {tuple(got[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in got and tuple(got[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{len(extra)} unexpected (e.g. {', '.join(extra[:3])})")
    if wrong:
        problems.append(f"{len(wrong)} with other shapes (e.g. {'; '.join(wrong[:2])})")
    if problems:
        raise WeightsError(f"{path}: weights do not fit this network: " + ", ".join(problems))
    if cast_dtype:
        return {k: got[k].to(expected[k].dtype) for k in expected}
    return got
