"""Undo commands: every pose edit is one QUndoCommand; a whole joint drag merges into one step.

A command stores the pose before and after (poses are small: 18 joints), so undo and redo are exact whatever
the edit was (move, hide, mirror, preset, import, reset). ``which`` says which pose it edits: the target pose
(the usual case) or the first reference's own pose (when the user corrects a detection or places a skeleton by
hand).
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from engine.pose import JOINT_NAMES, Pose

TARGET = "target"
SOURCE = "source"
_DRAG_ID = 1001


def joint_label(j: int) -> str:
    return JOINT_NAMES[j].replace("r_", "right ").replace("l_", "left ").replace("_", " ")


class PoseCommand(QUndoCommand):
    """Replace the target (or main reference) pose by ``after``; undo puts ``before`` back."""

    def __init__(self, doc, before: Pose, after: Pose, text: str, which: str = TARGET):
        super().__init__(text)
        self.doc, self.before, self.after, self.which = doc, before.copy(), after.copy(), which

    def _apply(self, pose: Pose) -> None:
        if self.which == TARGET:
            self.doc.set_target(pose)
        else:
            self.doc.set_main_pose(pose)

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)


class DragJointCommand(PoseCommand):
    """One mouse move of a drag. Moves of the same drag merge, so undo takes back the whole drag at once."""

    def __init__(self, doc, before: Pose, after: Pose, joint: int, drag: int, which: str = TARGET):
        super().__init__(doc, before, after, f"Move {joint_label(joint)}", which)
        self.joint, self.drag = joint, drag

    def id(self) -> int:
        return _DRAG_ID

    def mergeWith(self, other) -> bool:
        if not isinstance(other, DragJointCommand) or (other.drag, other.which) != (self.drag, self.which):
            return False
        self.after = other.after
        return True
