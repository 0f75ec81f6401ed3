"""Undo commands: every pose edit is one QUndoCommand; a whole joint drag is one step.

A command stores the pose before and after (poses are small: 18 joints), so undo and redo are exact whatever
the edit was (move, hide, mirror, preset, import, reset). ``which`` says which pose it edits: the target pose
(the usual case) or the first reference's own pose (when the user corrects a detection or places a skeleton by
hand).

A drag pushes its one command when the mouse is released (the live pose goes straight to the document while
the joint moves), and arrow-key nudges of one joint extend their command in place: no command per mouse move.
PySide6 (6.11) never frees a Python QUndoCommand that the stack merged into another, so merging one command
per move leaked two poses per move, about 3 MB per 1,000 moves.
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from engine.pose import JOINT_NAMES, Pose

TARGET = "target"
SOURCE = "source"


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


class CorrectionCommand(QUndoCommand):
    """A correction of the photo's skeleton that also gives the target pose the joints it added (posing.
    carry_gained): both poses in one step. One Python command, not Qt child commands, whose Python halves
    PySide6 lets go of (the stack then calls freed objects)."""

    def __init__(self, doc, photo: tuple[Pose, Pose], target: tuple[Pose, Pose], text: str):
        super().__init__(text)
        self.doc = doc
        self.photo, self.target = tuple(p.copy() for p in photo), tuple(p.copy() for p in target)

    # The pose first where the joint comes, the photo's skeleton first where it goes: between the two, the
    # joint is the pose's alone (which moves nothing), never the photo's alone (which erases its limb).
    def redo(self) -> None:
        self.doc.set_target(self.target[1])
        self.doc.set_main_pose(self.photo[1])

    def undo(self) -> None:
        self.doc.set_main_pose(self.photo[0])
        self.doc.set_target(self.target[0])
