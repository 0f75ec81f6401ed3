"""The torch backends' common base, on the contract of engine/backends/contract.py (Backend, SourceState).

Neural backends derive from ``NeuralBackend``: they supply a torch network with the same two calls on tensors
(``PoseTransferNet``) and get framing (person crop to the network's size and back), device, dtype and precision
handling (bf16 autocast and channels-last on a CPU that has bf16, see ``optimise_network``), weights loading and
checks, and starter weights for free.
"""
from __future__ import annotations

import abc
import contextlib
import copy
import functools
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..encode import PART_NAMES
from ..errors import WeightsError
from ..framing import WHOLE_IF_FITS
from ..pose import Pose
from .contract import Backend, SourceState, WeightsInfo  # noqa: F401  (re-exported: backends import them here)

STARTER_DIR = Path(__file__).resolve().parents[2] / "resources" / "weights"


def starter_path(backend: str) -> Path:
    """Where ``backend``'s starter weights ship (whether or not they do)."""
    return STARTER_DIR / f"{backend}.safetensors"


def is_starter(path, starters=None) -> bool:
    """Whether ``path`` is one of the starter weights (in ``starters``, by default the shipped folder)."""
    return Path(path).resolve().parent == Path(starters if starters is not None else STARTER_DIR).resolve()


class PoseTransferNet:
    """The tensor-level contract of a neural backend's network (a torch.nn.Module that also has these).

    Pose tensors are (B, 18, 3): x, y in model pixels and 1/0 for present/missing. Images are (B, 3, H, W) in
    [-1, 1]; sources come stacked as (B, M, 3, H, W) and (B, M, 18, 3), M >= 1 reference photos.

        state = net.encode_sources(src_images, src_poses)   # dict of tensors, cached by the engine
        out = net.render(state, tgt_poses)                  # (B, 3, H, W) in [-1, 1]
        out = net(src_images, src_poses, tgt_poses)         # the two together: what training calls

    ``net.config`` is a JSON-able dict that rebuilds the same network through the backend's ``build_network``.
    """


def fold_batchnorm(net) -> int:
    """Fold every BatchNorm2d (eval statistics) that directly follows a plain (transposed) convolution inside an
    nn.Sequential into that convolution's weights and bias, leaving an Identity; returns how many. For an eval
    network only: the folded one computes the same function in one pass over the activations instead of two.
    A network whose code reaches into a Sequential's parts (a conv's weight alone) names it in its
    ``keep_batchnorm`` tuple, and that one is left as it is."""
    import torch.nn as nn
    from torch.nn.utils import parametrize
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    keep = set(getattr(net, "keep_batchnorm", ()))
    for name, seq in list(net.named_modules()):
        if not isinstance(seq, nn.Sequential) or name in keep:
            continue
        keys = list(seq._modules)
        for a, b in zip(keys, keys[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if (type(conv) in (nn.Conv2d, nn.ConvTranspose2d) and type(bn) is nn.BatchNorm2d
                    and bn.running_mean is not None and not conv.training and not bn.training
                    and not parametrize.is_parametrized(conv) and conv.groups == 1):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn, transpose=type(conv) is nn.ConvTranspose2d)
                seq._modules[b] = nn.Identity()
                folded += 1
    return folded


def _bf16_weights(net) -> None:
    """Convolution and linear weights stored in bfloat16: autocast would round them to the same values on every
    call (8% of a cached render, measured); norms, embeddings and the rest stay float32."""
    import torch
    import torch.nn as nn
    from torch.nn.utils import parametrize

    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and not parametrize.is_parametrized(m):
            for p in (m.weight, m.bias):
                if p is not None:
                    p.data = p.data.to(torch.bfloat16)


@functools.lru_cache(maxsize=None)
def _packed_classes() -> dict:
    """Convolutions that run on weights reordered once into oneDNN's blocked layout, with the activation after
    them applied by the same call. An eager bf16 convolution reorders its weights on every call (a paper-size
    attention render: 816 -> 749 ms with both, the same pixels); made here, not at import: torch loads lazily."""
    import torch
    import torch.nn as nn

    mkldnn = torch.ops.mkldnn

    class PackedConv2d(nn.Conv2d):
        def forward(self, x):
            x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)  # what autocast would pass
            return mkldnn._convolution_pointwise(x, self.packed, self.bias, self.padding, self.stride,
                                                 self.dilation, self.groups, *self.post)

    class PackedConvTranspose2d(nn.ConvTranspose2d):
        def forward(self, x, output_size=None):
            if output_size is not None:  # an output size chosen per call: the plain path
                return _activation(super().forward(x, output_size), self.post)
            x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
            return mkldnn._convolution_transpose_pointwise(x, self.packed, self.bias, self.padding,
                                                           self.output_padding, self.stride, self.dilation,
                                                           self.groups, *self.post)

    return {nn.Conv2d: PackedConv2d, nn.ConvTranspose2d: PackedConvTranspose2d}


def _activation(x, post):
    import torch.nn.functional as F

    attr, scalars, _ = post
    return F.relu(x) if attr == "relu" else F.leaky_relu(x, scalars[0]) if attr == "leaky_relu" else x


@functools.lru_cache(maxsize=None)
def _padding_classes() -> dict:
    """Reflection and replication padding that run in their input's dtype. Autocast lists these pads as float32
    operations, so under bf16 each one cast its bf16 input up and the convolution after it cast the result back
    down, forward and backward (pnr's training step: 144 pads, 1-3% of it); a pad only copies values, so in
    bf16 it gives the same values."""
    import torch
    import torch.nn as nn

    def make(base):
        def forward(self, x):
            with torch.autocast(x.device.type, enabled=False):
                return base.forward(self, x)
        return type(base.__name__, (base,), {"forward": forward, "__module__": __name__})

    return {c: make(c) for c in (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReplicationPad1d, nn.ReplicationPad2d)}


def keep_padding_dtype(net) -> int:
    """Every reflection/replication pad module of ``net`` made one that keeps its input's dtype under autocast
    (``_padding_classes``), in place; returns how many. For bf16 inference and training alike."""
    classes = _padding_classes()
    swapped = 0
    for m in net.modules():
        if type(m) in classes:
            m.__class__ = classes[type(m)]
            swapped += 1
    return swapped


def _narrow_in_fp32(conv, args, out):
    """Forward hook of ``guard_narrow_convolutions``: the convolution again in float32 when it is strided and its
    input or output is one pixel wide or tall, given back in the dtype the bf16 path gave."""
    import torch
    import torch.nn.functional as F

    x = args[0]
    if out.dtype != torch.bfloat16 or x.device.type != "cpu" or min(*x.shape[-2:], *out.shape[-2:]) > 1:
        return None
    with torch.autocast("cpu", enabled=False):
        w = conv.weight.float()
        b = None if conv.bias is None else conv.bias.float()
        if isinstance(conv, torch.nn.ConvTranspose2d):
            pad = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in zip(
                out.shape[-2:], x.shape[-2:], conv.stride, conv.padding, conv.dilation, conv.kernel_size)]
            y = F.conv_transpose2d(x.float(), w, b, conv.stride, conv.padding, pad, conv.groups, conv.dilation)
        else:
            y = torch.nn.Conv2d._conv_forward(conv, x.float(), w, b)
        if getattr(conv, "post", None):  # a packed convolution applies its activation itself
            y = _activation(y, conv.post)
    return y.to(out.dtype)


def guard_narrow_convolutions(net) -> int:
    """Every strided convolution of ``net`` recomputed in float32 where its input or output is one pixel wide or
    tall (``_narrow_in_fp32``, a forward hook; nothing else changes); returns how many. oneDNN's bf16 kernels
    (torch 2.14, on AMX) give such a convolution's output, or its input's gradient, as garbage or NaN: a 4x2 map
    convolved to 2x1, a 2x1 map upsampled to 4x2 (what the 64x32 tests' deepest DGAN and SPGNet layers are). At
    128x64 and above no network of ours has one; where one has, it costs a few pixels' worth of float32.
    For bf16 inference and training alike; the hook does nothing outside bf16 on the CPU."""
    import torch.nn as nn

    guarded = 0
    for m in net.modules():
        if (isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and max(m.stride) > 1
                and _narrow_in_fp32 not in m._forward_hooks.values()):
            m.register_forward_hook(_narrow_in_fp32)
            guarded += 1
    return guarded


def pack_convolutions(net) -> int:
    """Every plain bf16 convolution of an eval network made a packed one (``_packed_classes``), in place, and a
    ReLU or LeakyReLU that follows it in an nn.Sequential (past folded BatchNorms) done by it; returns how many.
    The modules keep their class's attributes and their weight and bias, for code that reads them."""
    import torch
    import torch.nn as nn
    from torch.nn.utils import parametrize

    classes = _packed_classes()
    mkldnn = torch.ops.mkldnn
    packed = 0
    for parent in list(net.modules()):
        names = list(parent._modules)
        for i, name in enumerate(names):
            conv = parent._modules[name]
            if (type(conv) not in classes or conv.padding_mode != "zeros" or isinstance(conv.padding, str)
                    or conv.weight.dtype != torch.bfloat16 or parametrize.is_parametrized(conv)
                    or conv._forward_pre_hooks):  # a hook that remakes the weight per call (old spectral_norm)
                continue
            post = ("none", [], "")
            if isinstance(parent, nn.Sequential):
                after = [n for n in names[i + 1:] if type(parent._modules[n]) is not nn.Identity][:1]
                act = parent._modules[after[0]] if after else None
                if type(act) is nn.ReLU:
                    post = ("relu", [], "")
                elif type(act) is nn.LeakyReLU:
                    post = ("leaky_relu", [act.negative_slope], "")
                if post[0] != "none":
                    parent._modules[after[0]] = nn.Identity()
            args = [list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups]
            if type(conv) is nn.ConvTranspose2d:
                args.insert(1, list(conv.output_padding))
                conv.packed = mkldnn._reorder_convolution_transpose_weight(conv.weight.detach(), *args)
            else:
                conv.packed = mkldnn._reorder_convolution_weight(conv.weight.detach(), *args)
            conv.post = post
            conv.__class__ = classes[type(conv)]
            packed += 1
    return packed


def optimise_network(net, precision: str, device: str = "cpu"):
    """The eval network as it runs at ``precision`` (engine.runtime's resolved value), in place.

    "bf16" on the CPU: BatchNorm folded into the convolution before it, weights in channels-last layout (oneDNN's
    fast convolution layout; images from numpy are channels-last already), convolution and linear weights in
    bf16, convolutions packed with their activation (``pack_convolutions``), padding kept in bf16
    (``keep_padding_dtype``); it is then called under ``running(precision)``'s bfloat16 autocast: convolutions
    and matrix products in bf16, norms in the dtype they are given, float32-listed operations in float32.
    Anything else: the network unchanged (fp32 gives exactly the float32 pictures). Callers turn outputs to
    float32 (``.float()``) before they become pixels."""
    import torch

    if precision != "bf16" or not str(device).startswith("cpu"):
        return net
    fold_batchnorm(net)
    keep_padding_dtype(net)
    net = net.to(memory_format=torch.channels_last)
    _bf16_weights(net)
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pack_convolutions(net)
    guard_narrow_convolutions(net)
    return net


def fitted_network(cls, tensors: dict, config: dict, path, meta: bool = False):
    """(network, its state dict from ``tensors``, the person's refiner they hold or None, the full configuration):
    the one check that a weights file's tensors are backend ``cls``'s network with ``config`` (WeightsError naming
    ``path``), after load_weights has checked the configuration and that every tensor is finite. The engine builds
    the network to load it; export checks what it is about to write, on torch's meta device (``meta``: shapes
    only, no memory; the tensors are not cast to the network's dtype)."""
    import torch

    from ..refiner import from_tensors, network_tensors
    from ..weights import check_state_dict

    refiner = from_tensors(tensors, path)
    config = dict(cls.default_config, **config)
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            net = cls.build_network(config)
    except (TypeError, ValueError, KeyError) as e:
        raise WeightsError(f"{path}: its network configuration cannot be built ({e})") from None
    return net, check_state_dict(net.state_dict(), network_tensors(tensors), path, cast_dtype=not meta), refiner, config


@contextlib.contextmanager
def running(precision: str, device: str = "cpu"):
    """Where a backend calls its network: inference mode, and bf16 autocast for a network optimised for "bf16"
    on the CPU (its bf16 weights need it). Entered once per call into the network, around all its methods."""
    import torch

    with torch.inference_mode():
        if precision == "bf16" and str(device).startswith("cpu"):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        else:
            yield


def render_timings(backend, nets: dict, rounds: int = 5) -> dict:
    """CPU ms of each network's cached render (``net.render`` from encoded sources) at ``backend``'s size and
    device, on a standing person moved a little: {precision: min ms}.

    Timed on one torch thread by that thread's own CPU time: then the whole computation runs in the calling
    thread, and neither the neighbours' processes nor the app's other threads count. Wall-clock minima of five
    interleaved renders, measured on this shared machine at load 12-17, put spgnet's starter anywhere from
    0.82x to 1.42x at one thread and the five starters from 0.23x to 5.45x at two; a network's bf16 gain is a
    property of its arithmetic, which one thread measures. The networks take turns (A B A B) after one untimed
    call each (oneDNN prepares its kernels on the first)."""
    import time

    import torch

    from ..presets import fit_preset

    h, w = backend.image_size
    pose = fit_preset("standing", w, h)
    target = pose.moved("r_wrist", *(pose.point("r_wrist") + (0.05 * w, -0.1 * h)))
    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    src_img, src_pose = backend._image_tensor([img])[None], backend._pose_tensor([pose])[None]
    tgt = backend._pose_tensor([target])
    states, times = {}, {k: [] for k in nets}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for k, net in nets.items():
            with running(k, backend.device):
                states[k] = net.encode_sources(src_img, src_pose)
                net.render(states[k], tgt)
        for _ in range(rounds):
            for k, net in nets.items():
                with running(k, backend.device):
                    t = time.thread_time()
                    net.render(states[k], tgt)
                    times[k].append(1000 * (time.thread_time() - t))
    finally:
        torch.set_num_threads(threads)
    return {k: min(v) for k, v in times.items()}


class NeuralBackend(Backend):
    """Base of the torch backends: framing, tensors, device/dtype, weights, starter weights.

    ``composite`` says what ``render`` returns: "person" (the app's default) puts the generated person into the
    photo, whose background and any body part outside the network's crop the warp engine provides
    (engine.compositing); "crop" pastes the network's whole output crop back, the
    image the papers evaluate.
    """

    needs_weights = True
    default_config: ClassVar[dict] = {}
    COMPOSITES = ("person", "crop")

    def __init__(self, device: str = "cpu", dtype=None, config: dict | None = None, load_starter: bool = True,
                 composite: str = "person", precision: str = "fp32"):
        import torch

        from ..runtime import resolve_precision

        super().__init__(device, dtype or torch.float32)
        self.requested_precision = precision
        self.precision = resolve_precision(precision, device)  # until a network is loaded (see _adopt)
        if composite not in self.COMPOSITES:
            raise ValueError(f"composite must be one of {', '.join(self.COMPOSITES)}, not {composite!r}")
        self.composite = composite
        self.config = dict(self.default_config, **(config or {}))
        self.net = None
        self.refiner = None  # a personal file's refiner (engine.refiner), applied after the compositing
        self._weights = WeightsInfo("none", f"no weights: train some with `poseeditor-train fit --backend "
                                            f"{self.name}` or load a .safetensors file")
        if load_starter:
            starter = starter_path(self.name)
            if starter.is_file():
                try:
                    self.load_weights(starter)
                except WeightsError:
                    pass  # a bad shipped file must not stop the app; the backend shows "no weights"

    # subclasses implement: build the network from a config (also used by the trainer)
    @classmethod
    @abc.abstractmethod
    def build_network(cls, config: dict):
        """Return the torch module (a PoseTransferNet) for ``config``."""

    @property
    def weights_info(self) -> WeightsInfo:
        return self._weights

    @property
    def ready(self) -> bool:
        return self.net is not None

    @property
    def image_size(self):  # type: ignore[override]
        return tuple(self.config.get("image_size", (256, 256)))

    def load_weights(self, path):
        from ..weights import load_weights

        tensors, meta = load_weights(path, backend=type(self))  # the class: its config is checked first
        from ..refiner import placed
        from ..runtime import resolve_precision

        net, state, refiner, config = fitted_network(type(self), tensors, meta.config, path)
        net.load_state_dict(state)
        self.config = config
        self.net = self._adopt(net)
        # the refiner on the network's device, at the precision the device offers (bf16 where the CPU computes
        # it natively: not measured per file as the network's is, its render is 1.7-3x faster in it everywhere)
        self.refiner = None if refiner is None else placed(refiner, resolve_precision(self.requested_precision,
                                                                                      self.device), self.device)
        data = meta.provenance.get("data", "unknown data")
        kind = "starter" if Path(path).resolve() == starter_path(self.name).resolve() else "file"
        self._weights = WeightsInfo(kind, meta.label or f"{Path(path).name} (trained on {data})", str(path), meta)
        return meta

    def use_network(self, net, label: str = "in-memory network"):
        """Use a network object directly (tests, the trainer's validation). A fast path works on a copy: the
        caller's network keeps its layout, its BatchNorm and its weights' dtype."""
        self.config = dict(getattr(net, "config", self.config))
        self.net = self._adopt(net)
        self.refiner = None
        self._weights = WeightsInfo("file", label)

    def _adopt(self, net):
        """The eval network at this backend's precision, which is chosen here: "auto" on a CPU with bf16 keeps
        bf16 only where this network's cached render measures faster in it (engine.runtime.network_precision,
        measured once per machine, in the thread that loads the network: the app's worker, never its UI).
        A bf16 path that fails (in that measurement or in ``optimise_network``) leaves the network in fp32,
        logged once: the fast path is optional, the network's load is not."""
        from ..runtime import log_once, network_precision

        net = net.eval().to(self.device, self.dtype)
        made = {}

        def measure():
            made["bf16"] = optimise_network(copy.deepcopy(net), "bf16", self.device)
            t = render_timings(self, {"fp32": net, "bf16": made["bf16"]})
            return t["fp32"], t["bf16"]

        self.precision = network_precision(self.requested_precision, self.device, self.name, self.config, measure)
        if self.precision == "bf16" and "bf16" in made:
            return made["bf16"]
        if self.precision != "bf16" or not str(self.device).startswith("cpu"):
            return optimise_network(net, self.precision, self.device)  # as it is: no fast path to take
        try:  # on a copy: a failure half-way must leave the float32 network whole
            return optimise_network(copy.deepcopy(net), "bf16", self.device)
        except Exception as e:  # noqa: BLE001
            log_once(f"{self.name} optimise {type(e).__name__}",
                     f"{self.name}: the bf16 path failed ({type(e).__name__}: {e}); this network renders in fp32")
            self.precision = "fp32"
            return net

    # ----- tensors ----------------------------------------------------------------------------------------
    def _image_tensor(self, images: list):
        import torch

        arr = np.stack(images).astype(np.float32) / 127.5 - 1.0
        return torch.from_numpy(arr).permute(0, 3, 1, 2).to(self.device, self.dtype)

    def _pose_tensor(self, poses: list):
        import torch

        arr = np.stack([np.concatenate([p.xy, p.present[:, None].astype(np.float32)], 1) for p in poses])
        return torch.from_numpy(arr.astype(np.float32)).to(self.device, self.dtype)

    def running(self):
        """The context every call into the network goes under (see ``running``)."""
        return running(self.precision, self.device)

    def _require_net(self):
        if self.net is None:
            raise WeightsError(self._weights.label)

    # framing.fills_photo's share: 0 shows every photo of the network's aspect whole (training.evaluate: a
    # prepared set's crops are framed already)
    whole_if_fits = WHOLE_IF_FITS

    def frame(self, pose: Pose):
        """How a reference photo is cropped for the network (a backend trained on another framing overrides it)."""
        from ..framing import frame_for

        return frame_for(pose, self.image_size, whole_if_fits=self.whole_if_fits)

    def encode_sources(self, images, poses, masks=None) -> SourceState:
        self._require_net()
        masks = self.check_sources(images, poses, masks)
        if not self.multi_shot:
            images, poses, masks = images[:1], poses[:1], masks[:1]
        frames = [self.frame(p) for p in poses]
        crops = [f.crop(img) for f, img in zip(frames, images)]
        mposes = [f.pose_to_model(p) for f, p in zip(frames, poses)]
        state = SourceState(list(images), list(poses), masks)
        extra = self.source_inputs(state, frames, mposes)
        with self.running():
            tensors = self.net.encode_sources(self._image_tensor(crops)[None], self._pose_tensor(mposes)[None], *extra)
        state.cache.update(frames=frames, crops=crops, model_poses=mposes, tensors=tensors)
        self.add_backdrop(state)
        return state

    def source_inputs(self, state: SourceState, frames: list, model_poses: list) -> tuple:
        """Further arguments of the network's encode_sources made from the framed references (SPGNet's
        parsing); it may keep what it made in ``state.cache``. None here."""
        return ()

    def add_backdrop(self, state: SourceState) -> None:
        """With ``composite="person"``: the first photo with its person inpainted out, and its body parts to
        place the new person by (a warp engine state). Every ``encode_sources`` override must call this, or
        ``render`` falls back to pasting the crop."""
        if self.composite != "person":
            return
        from .warp import WarpBackend

        warp = WarpBackend()
        masks = state.masks[:1] if state.masks is not None else None
        state.cache["backdrop"] = (warp, warp.encode_sources(state.images[:1], state.poses[:1], masks))

    def target_frame(self, state: SourceState, target: Pose):
        """The frame the network draws ``target`` into: the first reference's, or one that also holds the
        joints the user moved out of it (engine.framing.frame_holding, cached in the state)."""
        from ..framing import frame_holding

        return frame_holding(state.cache["frames"][0], state.poses[0], target,
                             state.cache.setdefault("target_frames", {}))

    def leans_on_the_photo(self) -> bool:
        """Whether the network draws only what the warp engine cannot (a torso's change of shape), leaving the
        photo's limbs wherever they land (``photo_parts``) and the background they uncover to the warp engine:
        while its weights are the starter's. Those were trained on procedural people, nobody in particular: they
        drew a moved arm or leg as a blur a pose detector misses and painted a ghost of the old limb where it
        was (kept-out photos, raised arm: 8-9 of 10 read raised, 10 of 10 so; dance pairs, eval_person
        --starters: 0.700-0.718 SSIM against warp's 0.726, 0.721-0.726 so). Weights trained on the person draw
        all but the head themselves: their limbs beat the warp's torn ones there (the photo's limbs cost personal
        spgnet 0.013 SSIM; docs/personalize-measured.md)."""
        return self._weights.kind == "starter"

    def photo_parts(self) -> tuple[str, ...]:
        """The parts the photo keeps wherever they land (moved by the warp engine), the network drawing around
        them: the head always (warp.PHOTO_PARTS), every part but the torso (warp.RIGID_PARTS) while
        ``leans_on_the_photo``."""
        from .warp import PHOTO_PARTS, RIGID_PARTS

        if not self.leans_on_the_photo():
            return PHOTO_PARTS
        return tuple(p for p in PART_NAMES if p not in RIGID_PARTS)

    def warp_backdrop(self, state: SourceState, target: Pose):
        """The warp engine's picture of ``target`` around the person and what the network repaints in it:
        (image, repaint mask, inpainted share, kept share) of ``warp.render_with_silhouette``, with this
        network's ``photo_parts`` and, while it ``leans_on_the_photo``, no place a part left."""
        warp, warp_state = state.cache["backdrop"]
        lean = self.leans_on_the_photo()
        return warp.render_with_silhouette(warp_state, target, photo_parts=self.photo_parts(), vacated=not lean)

    def render_crop(self, state: SourceState, target: Pose) -> np.ndarray:
        """The network's output at its own size, for ``target_frame``'s crop of ``target``."""
        self._require_net()
        t = self._pose_tensor([self.target_frame(state, target).pose_to_model(target)])
        with self.running():
            out = self.net.render(state.cache["tensors"], t)
        img = ((out[0].float().clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).cpu().numpy()
        return img

    def render_live(self, state: SourceState, target: Pose) -> np.ndarray:
        """While dragging, without the refiner: it costs about as much as the network's render, and drags a
        backend renders slower than the live budget fall back to the warp preview (poseeditor/render_tiers.py)."""
        return self.render(state, target, refine=False)

    def composed(self, state: SourceState, target: Pose):
        """(the app's picture before a refiner, the warp render around the person, the network's share) of the
        person composited into the warp render; share None where the network paints nothing (the unchanged pose,
        or a whole-crop composite without the warp backdrop). training/refine.py learns on exactly these."""
        frame = self.target_frame(state, target)
        self.last_painted = True  # whether the network painted any of the last picture (the app's badge says)
        if "backdrop" not in state.cache:
            return frame.paste(state.images[0], self.render_crop(state, target)), None, None
        from ..compositing import composite_person, person_alpha

        around, silhouette, inpainted, kept = self.warp_backdrop(state, target)
        if not silhouette.any():  # nothing to repaint: the warp's picture, without running the network for nothing
            self.last_painted = False
            return around, around, None
        share = person_alpha(silhouette, target, frame, kept)
        crop = self.render_crop(state, target)
        return composite_person(around, crop, frame, share, inpainted=inpainted,
                                colours=self.leans_on_the_photo()), around, share

    def render(self, state: SourceState, target: Pose, refine: bool = True) -> np.ndarray:
        self.last_refine_ms = 0.0  # what the refiner took of this render (the live rule leaves it out)
        out, around, share = self.composed(state, target)
        if self.refiner is None or not refine or share is None:
            return out
        from ..refiner import refine as apply_refiner

        t = time.perf_counter()
        out = apply_refiner(self.refiner, out, around, share, target)
        self.last_refine_ms = (time.perf_counter() - t) * 1000
        return out
