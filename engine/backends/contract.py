"""The contract every backend follows (the warp engine and the neural backends alike), so that the app, the CLI
and the trainer treat them alike; engine/backends/base.py builds the torch backends on it.

    state = backend.encode_sources(images, poses, masks)   # once per set of reference photos
    image = backend.render(state, target_pose)              # on every drag: only target-dependent work

``images`` are RGB uint8 photos of the same person, ``poses`` their detected (or edited) poses in their own
pixels, ``masks`` optional person masks (0..1). The target pose is in the pixels of the first photo, and
``render`` returns an RGB uint8 image of the first photo's size.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import PoseEditorError, WeightsError
from ..pose import Pose


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

    def render_live(self, state: SourceState, target: Pose) -> np.ndarray:
        """A render while a joint is dragged: ``render``, unless a backend has a finishing step worth leaving to
        the render at the drag's end (a personal refiner)."""
        return self.render(state, target)

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
