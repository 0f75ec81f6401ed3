"""What the user is editing: the reference photos (each with its pose and person mask) and the target pose.

The target pose lives in the pixels of the first reference, the one shown on the canvas. Each reference's own
pose (the "source" pose the backends encode) is the detected one, or one the user placed or corrected by hand.
The document only holds state and says what changed; the main window turns user actions into undo commands.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.pose import Pose

_ids = itertools.count(1)


@dataclass
class Reference:
    path: str
    image: np.ndarray | None = None      # RGB uint8, None while loading
    pose: Pose | None = None             # the pose the backends get for this photo
    detected: Pose | None = None         # what the detector found (None: nobody found)
    mask: np.ndarray | None = None       # person mask 0..1 (detector's, or drawn from the pose)
    hand_placed: bool = False            # pose placed by the user because nobody was found
    error: str = ""                      # why the photo cannot be used (unreadable, ...)
    outfit: dict = field(default_factory=dict)  # engine.outfit's colours of the person found, {} if none
    unlike: bool | None = None           # looks like someone else than the first photo's person; None: not compared
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def ready(self) -> bool:
        return self.image is not None and self.pose is not None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the photo."""
        return (self.image.shape[1], self.image.shape[0]) if self.image is not None else (0, 0)


class Document(QObject):
    """References + target pose. Signals carry no data: views read the document."""

    referencesChanged = Signal()      # list order, membership, or a reference finished loading
    targetChanged = Signal()          # the target pose moved
    sourceChanged = Signal()          # the first reference's own pose changed (re-encode sources)

    def __init__(self):
        super().__init__()
        self.refs: list[Reference] = []
        self.target: Pose | None = None

    # ----- queries ---------------------------------------------------------------------------------------
    @property
    def main(self) -> Reference | None:
        return self.refs[0] if self.refs else None

    def ready_refs(self) -> list[Reference]:
        return [r for r in self.refs if r.ready]

    def by_id(self, ref_id: int) -> Reference | None:
        return next((r for r in self.refs if r.id == ref_id), None)

    def sources(self):
        """(images, poses, masks) of the usable references, the first one first; None when it is not ready."""
        if not self.main or not self.main.ready:
            return None
        refs = self.ready_refs()
        return [r.image for r in refs], [r.pose for r in refs], [r.mask for r in refs]

    # ----- edits -----------------------------------------------------------------------------------------
    def set_target(self, pose: Pose | None) -> None:
        self.target = pose.copy() if pose is not None else None
        self.targetChanged.emit()

    def set_main_pose(self, pose: Pose) -> None:
        """Change the first reference's own pose (correcting a detection, or a hand-placed skeleton)."""
        from engine.detect import pose_mask
        from engine.hands import keep_hands

        ref = self.main
        ref.pose = keep_hands(pose, ref.detected)  # a corrected knee keeps the hands found at unmoved wrists
        if ref.detected is None or ref.hand_placed:
            ref.mask = pose_mask(ref.pose)  # no segmentation exists: the mask follows the skeleton
        self.sourceChanged.emit()

    def add(self, ref: Reference) -> None:
        self.refs.append(ref)
        self.referencesChanged.emit()

    def remove(self, ref_id: int) -> Reference | None:
        ref = self.by_id(ref_id)
        if ref is not None:
            self.refs.remove(ref)
            self.referencesChanged.emit()
        return ref

    def reorder(self, ids: list[int]) -> None:
        order = {i: k for k, i in enumerate(ids)}
        self.refs.sort(key=lambda r: order.get(r.id, len(order)))
        self.referencesChanged.emit()

    def clear(self) -> None:
        self.refs.clear()
        self.target = None
        self.referencesChanged.emit()
        self.targetChanged.emit()
