"""Import of the authors' Keras generator weights (AliaksandrSiarohin/pose-gan, ``*generator*.h5``).

The importer (``poseeditor-train import-weights --backend dgan``) flattens the .h5 into name -> array, e.g.
``model_weights/conv2d_7/conv2d_7/kernel:0``. Keras names layers by creation order with per-type counters
(``conv2d_N``, ``conv2d_transpose_N``, ``instance_normalization_N``), and pose-gan's make_generator creates them
in a fixed order:

    appearance encoder   conv2d  1 .. L        instance_normalization 1 .. L-2
    pose encoder         conv2d  L+1 .. 2L     instance_normalization L-1 .. 2L-4
    decoder              conv2d_transpose 1 .. L-1, instance_normalization 2L-3 .. 3L-5, last conv2d 2L+1

(L = levels: 6 for Market 128x64, 7 for DeepFashion 256x256.) The counters may start higher when other models
were built first in the same session, so layers are matched by their order within each type, never by number,
and every shape is checked.

Kernel layouts: Conv2D (kh, kw, in, out) -> torch (out, in, kh, kw); Conv2DTranspose (kh, kw, out, in) ->
torch ConvTranspose2d (in, out, kh, kw). Both frameworks' transposed convolution is the adjoint of their
(cross-correlation) convolution, so no kernel flip is needed; Keras' 'valid' transposed conv followed by
Cropping2D((1, 1)) equals torch's padding=1, and ZeroPadding2D(1) + 'valid' conv equals torch's padding=1.

What differs from the authors' pipeline and may cost some quality with imported weights: their released code
builds the part masks as boxes in the *target* pose applied after warping, while the engine masks the source
features before warping (the paper's eq. 3); and the image size of a 6-level file is taken to be Market's
128x64 (pose-gan's 128x128 DeepFashion variant has the same layers: set image_size by hand for it).
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import WeightsError

# ".../conv2d_7/kernel:0"; anchored at the end so optimiser slots (".../conv2d_7/kernel/m:0") never match
_NAME = re.compile(r"(conv2d_transpose|conv2d|instance_normalization)(?:_(\d+))?/(kernel|bias|gamma|beta)(?::\d+)?$")
_KINDS = ("conv2d", "conv2d_transpose", "instance_normalization")


def _layers_by_type(tensors: dict) -> dict[str, list[dict]]:
    """{kind: [ {param: array}, ... ] in creation order}."""
    found: dict[str, dict[int, dict]] = {k: {} for k in _KINDS}
    for key, arr in tensors.items():
        key = str(key)
        match = _NAME.search(key)
        if match is None or key.startswith("optimizer_weights"):
            continue
        kind, idx, param = match.groups()
        found[kind].setdefault(int(idx) if idx else 0, {})[param] = np.asarray(arr)
    return {k: [found[k][i] for i in sorted(found[k])] for k in _KINDS}


def _torch_names(levels: int) -> dict[str, list[str]]:
    """Our module prefixes in the Keras creation order of each layer type."""
    conv, norm = [], []
    for stream in ("appearance", "pose"):
        conv.append(f"{stream}.layers.0")
        conv += [f"{stream}.layers.{i}.1" for i in range(1, levels)]
        norm += [f"{stream}.layers.{i}.2" for i in range(1, levels - 1)]
    up = [f"decoder.blocks.{i}.1" for i in range(levels - 1)]
    norm += [f"decoder.blocks.{i}.2" for i in range(levels - 1)]
    conv.append("decoder.final.1")
    return {"conv2d": conv, "conv2d_transpose": up, "instance_normalization": norm}


def convert_keras_generator(tensors: dict):
    """(state dict of torch tensors, config) for a pose-gan generator; WeightsError when the layout differs."""
    import torch

    from .dgan_net import DganGenerator, resolve_config

    layers = _layers_by_type(tensors)
    n_conv = len(layers["conv2d"])
    if n_conv < 11 or n_conv % 2 == 0:
        raise WeightsError(f"not a pose-gan DGAN generator: {n_conv} conv2d layers (expected 13 or 15) and "
                           f"{len(layers['conv2d_transpose'])} transposed convs")
    levels = (n_conv - 1) // 2
    names = _torch_names(levels)
    for kind in _KINDS:
        if len(layers[kind]) != len(names[kind]):
            raise WeightsError(f"not a pose-gan DGAN generator with {levels} levels: {len(layers[kind])} {kind} "
                               f"layers, expected {len(names[kind])}")
    first = layers["conv2d"][0]["kernel"]
    if first.shape[:3] != (3, 3, 21):
        raise WeightsError(f"the first conv takes {first.shape[2]} channels, expected 21 (image + 18 heatmaps): "
                           "a generator trained without the input pose cannot be used")
    config = resolve_config({"image_size": [128, 64] if levels == 6 else [256, 256], "levels": levels,
                             "width": first.shape[3] / 64.0, "norm": "keras-instance"})
    out = {}
    for kind in _KINDS:
        for prefix, params in zip(names[kind], layers[kind]):
            if kind == "instance_normalization":
                out[f"{prefix}.weight"] = params["gamma"].reshape(1)
                out[f"{prefix}.bias"] = params["beta"].reshape(1)
                continue
            out[f"{prefix}.weight"] = params["kernel"].transpose(3, 2, 0, 1)
            if "bias" in params:
                out[f"{prefix}.bias"] = params["bias"]
    out = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}
    expected = DganGenerator(config).state_dict()
    for k, v in expected.items():
        if k not in out:
            raise WeightsError(f"the Keras file has no weights for {k}")
        if tuple(out[k].shape) != tuple(v.shape):
            raise WeightsError(f"{k}: Keras weights have shape {tuple(out[k].shape)}, expected {tuple(v.shape)}")
    extra = set(out) - set(expected)
    if extra:
        raise WeightsError(f"unexpected weights in the Keras file: {sorted(extra)[:3]}")
    return out, config


def to_keras_layout(state_dict: dict, levels: int, first_index: int = 1) -> dict[str, np.ndarray]:
    """Our generator's weights under pose-gan's Keras names (the inverse of the import; used by the tests)."""
    names = _torch_names(levels)
    out = {}
    for kind in _KINDS:
        for n, prefix in enumerate(names[kind]):
            layer = f"{kind}_{n + first_index}"
            w = state_dict[f"{prefix}.weight"].detach().cpu().numpy()
            if kind == "instance_normalization":
                out[f"model_weights/{layer}/{layer}/gamma:0"] = w
                out[f"model_weights/{layer}/{layer}/beta:0"] = state_dict[f"{prefix}.bias"].detach().cpu().numpy()
                continue
            out[f"model_weights/{layer}/{layer}/kernel:0"] = w.transpose(2, 3, 1, 0)
            if f"{prefix}.bias" in state_dict:
                out[f"model_weights/{layer}/{layer}/bias:0"] = state_dict[f"{prefix}.bias"].detach().cpu().numpy()
    return out
