"""The contract every backend follows, so that the app, the CLI and the trainer treat them alike.

    state = backend.encode_sources(images, poses, masks)   # once per set of reference photos
    image = backend.render(state, target_pose)              # on every drag: only target-dependent work

``images`` are RGB uint8 photos of the same person, ``poses`` their detected (or edited) poses in their own
pixels, ``masks`` optional person masks (0..1). The target pose is in the pixels of the first photo, and
``render`` returns an RGB uint8 image of the first photo's size.

Neural backends derive from ``NeuralBackend``: they supply a torch network with the same two calls on tensors
(``PoseTransferNet``) and get framing (person crop to the network's size and back), device and dtype handling,
weights loading and checks, and starter weights for free.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import PoseEditorError, WeightsError
from ..pose import Pose

STARTER_DIR = Path(__file__).resolve().parents[2] / "resources" / "weights"


@dataclass
class WeightsInfo:
    """What the app shows about a backend's weights."""

    kind: str            # "built-in" (needs none), "starter", "file", "none"
    label: str = ""      # human description, e.g. "starter weights, trained on synthetic people"
    path: str | None = None
    meta: Any = None     # WeightsMeta when loaded from a file


@dataclass
class SourceState:
    """What encode_sources keeps. Backends subclass it or store their tensors in ``cache``."""

    images: list
    poses: list
    masks: list
    cache: dict = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.images[0].shape[:2]


class Backend(abc.ABC):
    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = True
    multi_shot: ClassVar[bool] = False  # False: uses the first reference only (the app says so)
    # The network's native image size (H, W); None: works at any size (the warp backend).
    image_size: tuple[int, int] | None = None

    def __init__(self, device: str = "cpu", dtype=None):
        self.device = device
        self.dtype = dtype

    # ----- weights ----------------------------------------------------------------------------------------
    @property
    def weights_info(self) -> WeightsInfo:
        return WeightsInfo("built-in", "needs no weights")

    @property
    def ready(self) -> bool:
        """True when render can run (weights loaded, or none needed)."""
        return True

    def load_weights(self, path):
        raise WeightsError(f"the {self.name} backend takes no weights")

    # ----- the two calls ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def encode_sources(self, images: list, poses: list, masks: list | None = None) -> SourceState: ...

    @abc.abstractmethod
    def render(self, state: SourceState, target: Pose) -> np.ndarray: ...

    # ----- helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def check_sources(images: list, poses: list, masks: list | None):
        if not images:
            raise PoseEditorError("no reference photo")
        if len(images) != len(poses):
            raise PoseEditorError(f"{len(images)} photos but {len(poses)} poses")
        masks = list(masks) if masks is not None else [None] * len(images)
        for i, (img, pose) in enumerate(zip(images, poses)):
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise PoseEditorError(f"reference {i + 1}: expected an RGB uint8 image, got {img.shape} {img.dtype}")
            if (pose.height, pose.width) != img.shape[:2]:
                raise PoseEditorError(f"reference {i + 1}: pose is for a {pose.width}x{pose.height} image, "
                                      f"photo is {img.shape[1]}x{img.shape[0]}")
        return masks


class PoseTransferNet:
    """The tensor-level contract of a neural backend's network (a torch.nn.Module that also has these).

    Pose tensors are (B, 18, 3): x, y in model pixels and 1/0 for present/missing. Images are (B, 3, H, W) in
    [-1, 1]; sources come stacked as (B, M, 3, H, W) and (B, M, 18, 3), M >= 1 reference photos.

        state = net.encode_sources(src_images, src_poses)   # dict of tensors, cached by the engine
        out = net.render(state, tgt_poses)                  # (B, 3, H, W) in [-1, 1]
        out = net(src_images, src_poses, tgt_poses)         # the two together: what training calls

    ``net.config`` is a JSON-able dict that rebuilds the same network through the backend's ``build_network``.
    """


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
                 composite: str = "person"):
        import torch

        super().__init__(device, dtype or torch.float32)
        if composite not in self.COMPOSITES:
            raise ValueError(f"composite must be one of {', '.join(self.COMPOSITES)}, not {composite!r}")
        self.composite = composite
        self.config = dict(self.default_config, **(config or {}))
        self.net = None
        self._weights = WeightsInfo("none", f"no weights: train some with `poseeditor-train fit --backend "
                                            f"{self.name}` or load a .safetensors file")
        if load_starter:
            starter = STARTER_DIR / f"{self.name}.safetensors"
            if starter.is_file():
                try:
                    self.load_weights(starter)
                    self._weights.kind = "starter"
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
        from ..weights import check_state_dict, load_weights

        tensors, meta = load_weights(path, backend=type(self))  # the class: its config is checked first
        config = dict(self.default_config, **meta.config)
        try:
            net = self.build_network(config)
        except (TypeError, ValueError, KeyError) as e:
            raise WeightsError(f"{path}: its network configuration cannot be built ({e})") from None
        state = check_state_dict(net.state_dict(), tensors, path)
        net.load_state_dict(state)
        self.config = config
        self.net = net.eval().to(self.device, self.dtype)
        data = meta.provenance.get("data", "unknown data")
        self._weights = WeightsInfo("file", meta.label or f"{Path(path).name} (trained on {data})", str(path), meta)
        return meta

    def use_network(self, net, label: str = "in-memory network"):
        """Use a network object directly (tests, the trainer's validation)."""
        self.net = net.eval().to(self.device, self.dtype)
        self.config = dict(getattr(net, "config", self.config))
        self._weights = WeightsInfo("file", label)

    # ----- tensors ----------------------------------------------------------------------------------------
    def _image_tensor(self, images: list):
        import torch

        arr = np.stack(images).astype(np.float32) / 127.5 - 1.0
        return torch.from_numpy(arr).permute(0, 3, 1, 2).to(self.device, self.dtype)

    def _pose_tensor(self, poses: list):
        import torch

        arr = np.stack([np.concatenate([p.xy, p.present[:, None].astype(np.float32)], 1) for p in poses])
        return torch.from_numpy(arr.astype(np.float32)).to(self.device, self.dtype)

    def _require_net(self):
        if self.net is None:
            raise WeightsError(self._weights.label)

    def frame(self, pose: Pose):
        """How a reference photo is cropped for the network (a backend trained on another framing overrides it)."""
        from ..framing import frame_for

        return frame_for(pose, self.image_size)

    def encode_sources(self, images, poses, masks=None) -> SourceState:
        import torch

        self._require_net()
        masks = self.check_sources(images, poses, masks)
        if not self.multi_shot:
            images, poses, masks = images[:1], poses[:1], masks[:1]
        frames = [self.frame(p) for p in poses]
        crops = [f.crop(img) for f, img in zip(frames, images)]
        mposes = [f.pose_to_model(p) for f, p in zip(frames, poses)]
        state = SourceState(list(images), list(poses), masks)
        extra = self.source_inputs(state, frames, mposes)
        with torch.inference_mode():
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

    def render_crop(self, state: SourceState, target: Pose) -> np.ndarray:
        """The network's output at its own size, for the first reference's crop of ``target``."""
        import torch

        self._require_net()
        frame = state.cache["frames"][0]
        t = self._pose_tensor([frame.pose_to_model(target)])
        with torch.inference_mode():
            out = self.net.render(state.cache["tensors"], t)
        img = ((out[0].float().clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).cpu().numpy()
        return img

    def render(self, state: SourceState, target: Pose) -> np.ndarray:
        crop = self.render_crop(state, target)
        frame = state.cache["frames"][0]
        backdrop = state.cache.get("backdrop")
        if backdrop is None:
            return frame.paste(state.images[0], crop)
        from ..compositing import composite_person, person_alpha

        warp, warp_state = backdrop
        around, silhouette = warp.render_with_silhouette(warp_state, target)
        return composite_person(around, crop, frame, person_alpha(silhouette, target, frame))
