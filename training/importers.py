"""Converting the authors' released weights into the engine's format.

    poseeditor-train import-weights FILE --backend NAME -o OUT.safetensors [--label TEXT]

FILE may be
- a PyTorch file (torch.save of a state dict, possibly nested as {"state_dict": ...} or {"netG": ...}): read with
  ``torch.load(weights_only=True)``, which rebuilds tensors and plain containers only and refuses anything
  that would run code;
- a Keras .h5 / .hdf5 file: read with h5py as plain arrays (every dataset, by its path in the file);
- a .safetensors file without PoseEditor metadata.
The file is flattened to name -> numpy array and handed to the backend class's ``convert_foreign(tensors)``,
which returns (engine tensors, network config). The result is checked against the network that config builds,
then written in the engine format with provenance {"imported_from": file name}.
"""
from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np

from engine.errors import WeightsError
from engine.fileio import check_input, named_path

H5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _flatten(obj, prefix: str, out: dict) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        out[prefix] = obj.detach().cpu().numpy()
    elif isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    # numbers, strings, optimiser settings ... are not weights: left out


def _unwrap(obj):
    """A checkpoint that holds the state dict under one well-known key (or is the state dict)."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "netG", "generator", "G", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
    return obj


def read_torch(path: Path) -> dict[str, np.ndarray]:
    import torch

    with open(path, "rb") as f:
        head = f.read(2)
    if head != b"PK" and head[:1] != b"\x80":  # neither torch.save's zip nor a pickle's protocol mark
        raise WeightsError(f"{path}: not a readable PyTorch file (neither a zip archive nor a pickle)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr; the error says enough
            warnings.simplefilter("ignore")
            with open(path, "rb") as f:  # a file, not its name: torch.load took a name ending .safetensors as one
                obj = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        why = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
        after = next((why[i + 1] for i, ln in enumerate(why[:-1]) if "WeightsUnpickler error" in ln), None)
        detail = next((ln for ln in why if "GLOBAL" in ln.upper()), after)
        if detail is None:  # not refused for its content: the file is not a pickle at all
            raise WeightsError(f"{path}: not a readable PyTorch file ({(why[0] if why else '')[:160]})") from None
        raise WeightsError(f"{path}: holds Python objects beyond a plain state dict, which are never unpickled "
                           f"here ({detail[:160]}); save model.state_dict() instead") from None
    except Exception as e:  # noqa: BLE001 - torch.load fails in many types on a damaged file: all are the file's
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"{path}: not a readable PyTorch file ({first[:160]})") from None
    out: dict = {}
    _flatten(_unwrap(obj), "", out)
    return out


def read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict = {}
    try:
        with h5py.File(path, "r") as f:
            def visit(name, node):
                if isinstance(node, h5py.Dataset):
                    out[name] = np.asarray(node[()])
            f.visititems(visit)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:  # h5py's ways of meeting a damaged file
        raise WeightsError(f"{path}: not a readable HDF5 file ({str(e).splitlines()[0][:160] if str(e) else ''})") \
            from None
    return out


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(path)))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: not a readable safetensors file ({e})") from None


def _refuse_our_own(path: Path) -> None:
    """PoseEditor's own weights need no import: a newcomer's import of an exported 128x64 model was accepted and
    reported at the paper's 256x176."""
    from engine.weights import has_our_metadata, read_meta

    if not has_our_metadata(path):
        return  # a safetensors file of someone else's (or unreadable: read_safetensors says what it is): imported
    try:
        meta = read_meta(path)
        what = f" ({meta.backend}, {meta.image_size[0]}x{meta.image_size[1]})"
    except WeightsError:
        what = " (their metadata damaged or of a newer PoseEditor)"
    raise WeightsError(f"{path}: already PoseEditor weights{what}; use the file as it is (--weights, --init, or "
                       f"the app's Load Weights)")


def read_foreign(path) -> dict[str, np.ndarray]:
    """name -> numpy array of a foreign weights file, chosen by its first bytes (not by its name)."""
    path = check_input(path, WeightsError, "weights file")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(H5_MAGIC):
        tensors = read_h5(path)
    elif len(head) > 8 and head[8:9] == b"{":  # safetensors: an 8-byte header length, then the JSON header
        _refuse_our_own(path)
        tensors = read_safetensors(path)
    else:  # a torch file (a zip, or a legacy pickle), whatever its name: a pickle renamed .safetensors too
        tensors = read_torch(path)
    tensors = {k: v for k, v in tensors.items() if np.asarray(v).dtype.kind in "fiub"}
    if not tensors:
        raise WeightsError(f"{path}: holds no arrays of weights")
    return tensors


def _check_builds(cls, tensors: dict, config: dict, path: Path) -> None:
    """The converted tensors must be finite and exactly the state dict of the network their config builds,
    a config within engine.weights.check_config's bounds."""
    import torch

    from engine.weights import check_config, check_finite, check_state_dict

    check_config(cls, config, path)
    check_finite(tensors, path)
    try:
        with torch.device("meta"):  # shapes only, no allocation (paper networks are hundreds of MB)
            net = cls.build_network(dict(cls.default_config, **config))
    except Exception:  # noqa: BLE001 - some networks cannot be built on the meta device: build for real
        net = cls.build_network(dict(cls.default_config, **config))
    check_state_dict(net.state_dict(), tensors, path, cast_dtype=False)


def import_weights(path, backend: str, out, label: str | None = None) -> tuple[Path, dict]:
    """Convert ``path`` for ``backend`` and write ``out``; returns (out path, summary)."""
    import torch

    from engine.fileio import check_output
    from engine.registry import backend_class
    from engine.weights import WeightsMeta, save_weights

    path, out = Path(path), Path(out)
    check_output(out, [path], "weights file")
    cls = backend_class(backend)
    convert = getattr(cls, "convert_foreign", None)
    if not getattr(cls, "needs_weights", True) or not hasattr(cls, "build_network"):
        raise WeightsError(f"the {backend} backend takes no weights")
    if convert is None:
        raise WeightsError(f"the {backend} backend has no converter for foreign weights (no convert_foreign)")
    foreign = read_foreign(path)
    try:
        tensors, config = convert(foreign)
    except WeightsError as e:
        raise WeightsError(f"{path.name}: {e}") from None
    except (KeyError, ValueError, IndexError, TypeError, RuntimeError) as e:
        raise WeightsError(f"{path.name}: the layout does not match the {backend} network ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    tensors = {k: (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))) for k, v in tensors.items()}
    config = dict(config)
    _check_builds(cls, tensors, config, path.name)
    full = dict(cls.default_config, **config)
    size = full.get("image_size", (256, 256))
    meta = WeightsMeta(backend=backend, config=full, image_size=(int(size[0]), int(size[1])),
                       provenance={"imported_from": path.name, "data": "the authors' release"},
                       label=label or f"{backend} imported from {path.name}")
    save_weights(out, tensors, meta)
    params = sum(int(t.numel()) for t in tensors.values() if t.is_floating_point())
    return out, {"tensors": len(tensors), "parameters": params, "image_size": list(meta.image_size),
                 "foreign_arrays": len(foreign)}


# ----- CLI ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.description = ("Convert released weights (PyTorch state dict, Keras .h5) into engine weights for a backend. "
                     "Nothing is unpickled beyond plain tensors.")
    p.add_argument("file", type=Path, help="the foreign weights file")
    p.add_argument("--backend", required=True, help="backend the weights are for (e.g. dgan, attention)")
    p.add_argument("-o", "--out", type=named_path, required=True, help="output .safetensors")
    p.add_argument("--label", help="human name shown by the app")


def run(args) -> int:
    if args.out.suffix != ".safetensors":
        raise WeightsError(f"{args.out}: the output must end in .safetensors")
    out, s = import_weights(args.file, args.backend, args.out, args.label)
    print(f"{out}: {args.backend} weights from {args.file.name}: {s['tensors']} tensors, "
          f"{s['parameters'] / 1e6:.1f}M parameters, {s['image_size'][0]}x{s['image_size'][1]}")
    return 0
