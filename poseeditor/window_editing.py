"""The main window's pose editing: joint drags and nudges as undo commands, hiding and showing joints, mirror,
reset and presets, the two editing modes (the target pose, the photo's own skeleton) and the canvas menus."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMenu

from engine.pose import J, NUM_JOINTS, Pose

from .commands import SOURCE, TARGET, CorrectionCommand, PoseCommand, joint_label
from .posing import carry_gained, drag_pose

# arrow presses of one joint closer together than this are one burst, as a drag is one gesture: one undo step,
# live renders while it lasts, the final render when it ends. Longer than a held key's usual delay before it
# repeats (660 ms under X by default); a repeat after a longer one goes on with its burst all the same.
NUDGE_BURST_MS = 800


class EditingMixin:
    """Mixed into MainWindow (main_window.py), whose widgets and state it uses."""

    def _connect_editing(self):
        c = self.canvas
        # moving joints: a drag is one undo step pushed at release, a burst of arrow-key nudges one step too
        c.dragStarted.connect(self._on_drag_started)
        c.jointDragged.connect(self._on_joint_dragged)
        c.dragFinished.connect(self._on_drag_finished)
        c.jointNudged.connect(self._on_joint_nudged)
        self._nudge_timer = QTimer(self, singleShot=True, interval=NUDGE_BURST_MS)
        self._nudge_timer.timeout.connect(self._end_nudge)
        self._hidden_at = {}  # (photo, skeleton, joint): where a joint was when hidden, where showing it puts it
        self.undo.indexChanged.connect(self._on_undo_moved)
        # one selected joint, shown in the canvas and the joint list; the list's check boxes hide and show joints
        c.jointSelected.connect(self._on_joint_selected)
        self.joint_list.currentRowChanged.connect(self.canvas.select)
        self.joint_list.itemPressed.connect(self._on_joint_item_pressed)
        self.joint_list.itemChanged.connect(self._on_joint_item_changed)
        c.jointMenuRequested.connect(self._joint_menu)
        c.canvasMenuRequested.connect(self._canvas_menu)
        # the poses changed (an edit, undo, a loaded file): views and the render follow
        self.doc.targetChanged.connect(self._on_target_changed)
        self.doc.sourceChanged.connect(self._on_source_changed)

    # ===== pose editing =======================================================================================
    def current_pose(self) -> Pose | None:
        if self.mode == SOURCE:
            return self.doc.main.pose if self.doc.main is not None else None
        return self.doc.target

    def _push(self, after: Pose, text: str):
        before = self.current_pose()
        if before is None or after is None:
            return
        target = self.doc.target
        carried = None
        if self.mode == SOURCE and not self.placing and target is not None:
            carried = carry_gained(target, before, after)
        if carried is None:
            self.undo.push(PoseCommand(self.doc, before, after, text, self.mode))
            return
        # a joint added to the photo's skeleton goes into the pose being edited too, in the same undo step
        self.undo.push(CorrectionCommand(self.doc, (before, after), (target, carried), text))

    def _moving(self) -> bool:
        """A joint is being moved (a drag, or a burst of nudges): renders are live, and the references wait."""
        return self._dragging or self._nudge is not None

    def _on_drag_started(self, joint: int):
        self._end_nudge(render=False)  # the drag's own final render follows its release
        self._dragging = True
        cur = self.current_pose()
        self._drag_before = cur.copy() if cur is not None else None
        self._drag_free = None  # the status bar says how the joint moves, again whenever that changes

    def _on_joint_dragged(self, joint: int, x: float, y: float):
        """Show the dragged pose live; the undo command is pushed once, when the drag ends."""
        start = self._drag_before
        if start is None:
            return
        # fitting the photo's own skeleton onto the person (a correction, a placed skeleton) sets the bone lengths
        # themselves: those drags move the joint alone
        fitting = self.mode == SOURCE
        free = self.canvas.free_drag or fitting
        if free != self._drag_free:
            self._drag_free = free
            name = joint_label(joint)
            self.statusBar().showMessage(
                f"Moving the {name} alone, to fit the photo's skeleton onto the person." if fitting else
                f"Moving the {name} alone (Shift or Alt held)." if free else
                f"Moving the {name}: the bones keep their lengths. Hold Shift (or Alt) to move it alone.")
        self._show_pose(drag_pose(start, joint, x, y, free))

    def _show_pose(self, pose: Pose):
        """Put ``pose`` in the document with no undo step (a drag in progress)."""
        if self.mode == TARGET:
            self.doc.set_target(pose)
        else:
            self.doc.set_main_pose(pose)

    def _on_joint_nudged(self, joint: int, dx: float, dy: float, repeat: bool = False):
        """An arrow-key nudge moves the joint alone (with its bones kept, an arrow along a bone would do
        nothing). The burst's first nudge pushes its undo command and the next ones extend it in place, so the
        undo stack is right at every moment; each renders live, and its end (NUDGE_BURST_MS without a press)
        the final image. A held key's repeats go on with the burst they began even where the system waits longer
        than NUDGE_BURST_MS before repeating (up to a second on some desktops)."""
        cur = self.current_pose()
        if cur is None:
            return
        x = float(np.clip(cur.xy[joint, 0] + dx, 0, cur.width - 1))
        y = float(np.clip(cur.xy[joint, 1] + dy, 0, cur.height - 1))
        after = cur.moved(joint, x, y)
        if after == cur:  # against the photo's edge: nothing moved, so no undo step and nothing unsaved
            return
        last = self._last_burst
        if self._nudge is None and repeat and last is not None and last[:2] == (joint, self.mode):
            self._nudge = last  # nothing was done since (that clears it): its command is still the undo stack's top
        burst = self._nudge
        if burst is not None and burst[:2] == (joint, self.mode):
            burst[2].after = after.copy()
            burst[2].redo()
        else:
            self._end_nudge(render=False)  # another joint's burst: this one's end renders for both
            cmd = PoseCommand(self.doc, cur, after, f"Move {joint_label(joint)}", self.mode)
            self._nudge = (joint, self.mode, None)  # a burst from now on (live renders); None: being pushed
            self.undo.push(cmd)
            self._nudge = (joint, self.mode, cmd)
        self._nudge_timer.start()

    def _on_undo_moved(self, *_):
        if self._nudge is not None and self._nudge[2] is None:
            return  # the burst's own command being pushed
        if self._nudge is not None:
            self._end_nudge()  # an undo, a redo or another edit: the next nudge is a new step
        self._last_burst = None

    def _end_nudge(self, render: bool = True):
        """The burst of nudges is over: as at the end of a drag, the final image is rendered, or, for the photo's
        own skeleton, the references are encoded again."""
        burst, self._nudge = self._nudge, None
        self._nudge_timer.stop()
        if burst is not None:
            self._last_burst = burst
        if burst is None or not render:
            return
        if burst[1] == SOURCE:
            self._push_sources()
        else:
            self._request("final")
            self.result.final_pending()

    def _on_drag_finished(self, joint: int):
        self._dragging = False
        if self.statusBar().currentMessage().startswith("Moving the "):
            self.statusBar().clearMessage()  # it says how a drag moves the joint: over with the drag
        before, self._drag_before = self._drag_before, None
        after = self.current_pose()
        if before is not None and after is not None and not (after == before):
            # one undo step for the whole drag; its redo puts the same pose back, which (no longer dragging)
            # renders the final image or re-encodes the references
            self.undo.push(PoseCommand(self.doc, before, after, f"Move {joint_label(joint)}", self.mode))
            if self.mode == TARGET:
                self.result.final_pending()
            return
        if self.mode == SOURCE:
            self._push_sources()  # the photo's skeleton moved: re-encode the references once, now
        else:
            self._request("final")
            self.result.final_pending()

    def _on_target_changed(self):
        self._sync_canvas()
        self._request("live" if self._moving() else "final")

    def _on_source_changed(self):
        if self.placing:
            self.doc.target = self.doc.main.pose.copy()  # while placing, show the photo's own pose
        self._sync_canvas()
        if self._moving():
            # re-encoding the references on every mouse move or nudge would be slow: do it when the move ends
            return
        self._push_sources()

    def _sync_canvas(self):
        pose = self.current_pose()
        self.canvas.set_pose(pose)
        main = self.doc.main
        self.canvas.set_ghost(main.pose if (self.mode == TARGET and main is not None) else None)
        self.joint_list.blockSignals(True)
        for j in range(NUM_JOINTS):
            on = pose is not None and bool(pose.present[j])
            self.joint_list.item(j).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.joint_list.blockSignals(False)
        self.joints_label.setText(f"{pose.count}/18 joints" if pose is not None else "")
        self._update_actions()

    def _request(self, kind: str):
        if self._hold_render or self.doc.target is None or self.doc.sources() is None:
            return
        if self.mode == SOURCE and self._moving() and not self.placing:
            return
        if self.mode == SOURCE and self._moving():
            kind = "live"
        self.client.request(self.doc.target, kind)

    def _restore_xy(self, joint: int) -> tuple[float, float]:
        """Where a hidden joint reappears: where it was when hidden (H twice put an elbow dragged up by the head
        back at the hip, and the arm stretched from there), else the photo's own position for it, else where a
        preset puts it."""
        main = self.doc.main
        was = self._hidden_at.get((main.id, self.mode, joint)) if main is not None else None
        if was is not None:
            return was
        if main is not None and main.pose is not None and main.pose.present[joint] and self.mode == TARGET:
            return tuple(map(float, main.pose.xy[joint]))
        from engine.presets import fit_preset

        cur = self.current_pose()
        p = fit_preset("standing", cur.width, cur.height, like=cur)
        x, y = p.xy[joint]
        return float(np.clip(x, 0, cur.width - 1)), float(np.clip(y, 0, cur.height - 1))

    def set_joint_visible(self, joint: int, visible: bool, at: tuple[float, float] | None = None):
        cur = self.current_pose()
        if cur is None or bool(cur.present[joint]) == visible and at is None:
            return
        if visible:
            x, y = at if at is not None else self._restore_xy(joint)
            self._push(cur.moved(joint, x, y), f"Show {joint_label(joint)}")
            main = self.doc.main
            if self.mode == TARGET and main is not None and main.pose is not None and not main.pose.present[joint]:
                # the engines move what the photo's skeleton knows is there: a newcomer dragged a joint shown in
                # the pose alone and nothing moved
                self.hint(
                    f"The photo's skeleton has no {joint_label(joint)}, so the picture cannot move that part. "
                    f"Show it in the photo's skeleton too, where it is in the photo; then it moves.", "info",
                    "Correct the Photo's Skeleton", "adjust")
        else:
            self._hidden_at[(self.doc.main.id, self.mode, joint)] = tuple(map(float, cur.xy[joint]))
            self._push(cur.with_present(joint, False), f"Hide {joint_label(joint)}")
            # a hidden joint is missing for the backends, which leave out the limb it ends; a newcomer took the
            # vanished forearm for a fault
            self.statusBar().showMessage(f"{joint_label(joint).capitalize()} hidden: the picture leaves out the part "
                                         f"it ends, as if out of view. H shows it again.", 8000)

    def toggle_selected_joint(self):
        j = self.canvas.selected if self.canvas.selected >= 0 else self.joint_list.currentRow()
        if j is None or j < 0 or self.current_pose() is None:
            self.show_info("Select a joint first (click it, or pick it in the Joints list).")
            return
        self.set_joint_visible(j, not bool(self.current_pose().present[j]))

    def _on_joint_item_changed(self, item):
        j = self.joint_list.row(item)
        self.set_joint_visible(j, item.checkState() == Qt.CheckState.Checked)

    def _on_joint_item_pressed(self, item):
        # a joint chosen with the mouse in the list: the arrow keys now nudge it (the canvas has the keyboard)
        self.canvas.setFocus(Qt.FocusReason.MouseFocusReason)

    def _on_joint_selected(self, j: int):
        self.joint_list.blockSignals(True)
        self.joint_list.setCurrentRow(j if j >= 0 else -1)
        self.joint_list.blockSignals(False)
        if j >= 0:
            self.statusBar().showMessage(joint_label(j).capitalize(), 2000)

    def mirror_pose(self):
        cur = self.current_pose()
        if cur is None:
            return
        m = cur.mirrored()
        a0, a1 = _axis_x(cur), _axis_x(m)
        if a0 is not None and a1 is not None:  # about the person's own axis, not the photo's: the figure stays
            dx = a0 - a1
            xy = m.xy.copy()
            xy[m.present, 0] = np.clip(xy[m.present, 0] + dx, 0, cur.width - 1)
            m = Pose(xy, m.present, m.width, m.height, m.confidence)
        self._push(m, "Mirror pose")

    def reset_pose(self):
        main = self.doc.main
        if main is None or not main.ready:
            return
        if self.mode == SOURCE:
            if main.detected is not None:
                self._push(main.detected, "Reset to the detected skeleton")
            return
        self._push(main.pose, "Reset pose")

    def apply_preset(self, name: str):
        from engine.presets import fit_preset

        cur = self.current_pose()
        if cur is None:
            self.show_info("Open a photo first.")
            return
        p = fit_preset(name, cur.width, cur.height, like=cur)
        xy = p.xy.copy()
        xy[:, 0] = np.clip(xy[:, 0], 0, cur.width - 1)
        xy[:, 1] = np.clip(xy[:, 1], 0, cur.height - 1)
        present = p.present.copy()
        if self.mode == TARGET and self.doc.main is not None:
            # a joint the photo's skeleton lacks has no part to draw (a portrait's elbows): Arms up added elbow
            # handles beside the head and the picture stayed the same
            cannot = ~self.doc.main.pose.present & ~cur.present
            present[cannot], xy[cannot] = False, cur.xy[cannot]
        label = name.replace("-", " ")
        if np.array_equal(present, cur.present) and np.allclose(xy[present], cur.xy[present], atol=0.5):
            # said, not an undo step of nothing after a click that did nothing
            self.show_info(_unchanged_by(name, label, cur))
            return
        self._push(Pose(xy, present, p.width, p.height), f"Preset: {label}")

    def toggle_adjust_mode(self, on: bool):
        if self.placing and not on:
            self.finish_placing()
            return
        self._set_mode(SOURCE if on else TARGET)
        if on and not self.placing:  # entered from the menu or Ctrl+K: the way out is on screen, as when placing
            self.banner.show_message("Correcting the photo's skeleton: drag its joints onto the person as they "
                                     "stand in the photo, then press Done.", "warning", "Done", "done-adjust")
        elif not on and self.banner.action_id == "done-adjust":
            self.banner.dismiss()

    def _set_mode(self, mode: str):
        self._end_nudge()  # the burst's renders are for the pose it moved
        self.mode = mode
        self.a_adjust.blockSignals(True)
        self.a_adjust.setChecked(mode == SOURCE)
        self.a_adjust.blockSignals(False)
        if mode == SOURCE:
            self.canvas_title.setText("<b>Photo's skeleton</b>")
            self.canvas_hint.setText("Move the joints onto the person as they stand in the photo.")
        else:
            self.canvas_title.setText("<b>Pose</b>")
            self.canvas_hint.setText("Drag the joints. Wheel: zoom · drag the photo: pan · right-click: joint menu")
        if self.doc.main is not None:
            self._sync_canvas()

    def _joint_menu(self, joint: int, global_pos):
        # the menus' actions call bound methods with what the menu was opened on (a lambda connected to them
        # would keep the closed window alive, main_window.py says why)
        self._menu_joint = joint
        m = self._new_menu()
        m.addSection(joint_label(joint).capitalize())
        m.addAction(f"Hide {joint_label(joint)}", self._hide_menu_joint)
        main = self.doc.main
        if self.mode == TARGET and main is not None and main.pose is not None and main.pose.present[joint]:
            m.addAction("Put back where it is in the photo", self._reset_menu_joint)
        m.popup(global_pos)

    def _new_menu(self) -> QMenu:
        """A context menu replacing the last one (deleted, not kept as one more child of the window)."""
        if self._menu is not None:
            self._menu.deleteLater()
        self._menu = QMenu(self)
        return self._menu

    def _hide_menu_joint(self):
        self.set_joint_visible(self._menu_joint, False)

    def _reset_menu_joint(self):
        j, main, cur = self._menu_joint, self.doc.main, self.current_pose()
        if cur is not None and main is not None and main.pose is not None and main.pose.present[j]:
            self._push(cur.moved(j, *main.pose.xy[j]), f"Reset {joint_label(j)}")

    def _show_menu_joint(self, action):
        self.set_joint_visible(action.data(), True, self._menu_place)

    def _canvas_menu(self, scene_pos, global_pos):
        cur = self.current_pose()
        m = self._new_menu()
        if cur is not None:
            hidden = [j for j in range(NUM_JOINTS) if not cur.present[j]]
            if hidden:
                sub = m.addMenu("Show joint here")
                self._menu_place = (float(np.clip(scene_pos.x(), 0, cur.width - 1)),
                                    float(np.clip(scene_pos.y(), 0, cur.height - 1)))
                sub.triggered.connect(self._show_menu_joint)  # each action's data is its joint
                for j in hidden:
                    sub.addAction(joint_label(j).capitalize()).setData(j)
            m.addActions([self.a_mirror, self.a_reset])
            # the shared presets menu by its action: added as a menu, it was deleted with this one (the next
            # context menu deletes it), and every later update of the actions raised
            m.addAction(self.preset_menu.menuAction())
            m.addSeparator()
        m.addActions([self.a_fit, self.a_ghost])
        m.popup(global_pos)

    # ===== view ===============================================================================================
    def zoom_in(self):
        self.canvas.zoom_by(1.25)

    def person_box(self):
        """(x0, y0, x1, y1): the box the engine frames the edited person with (engine.framing.person_box: room
        round the head, feet and arms), within the photo; None without a person."""
        main = self.doc.main
        if main is None or main.image is None or main.pose is None or main.pose.count < 2:
            return None
        from engine.framing import person_box

        rows, cols = person_box(main.pose)
        return float(cols.start), float(rows.start), float(cols.stop), float(rows.stop)

    def zoom_to_person(self):
        box = self.person_box()
        if box is not None:
            self.canvas.fit_box(*box)

    def zoom_out(self):
        self.canvas.zoom_by(0.8)

    def _on_zoom_changed(self, z: float):
        self.zoom_label.setText(f"{z * 100:.0f}%")


def _axis_x(pose: Pose) -> float | None:
    """The x of a person's own upright axis: the middle of the torso's joints seen (the bounding box's, with a
    raised arm or a leg kicked out, moved the whole figure sideways when mirrored), else of all joints."""
    torso = [J[n] for n in ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip") if pose.present[J[n]]]
    if torso:
        return float(pose.xy[torso, 0].mean())
    box = pose.bbox()
    return None if box is None else (box[0] + box[2]) / 2


def _unchanged_by(name: str, label: str, pose: Pose) -> str:
    """What to say when preset ``name`` leaves ``pose`` as it is: the limbs it sets that the pose lacks, or that
    the pose is the preset already."""
    from engine.presets import preset_limbs

    ends = {"arm": ("elbow", "wrist"), "leg": ("knee", "ankle")}
    lacking = sorted({limb[2:] for limb in preset_limbs(name)
                      if not any(pose.present[J[f"{limb[0]}_{j}"]] for j in ends[limb[2:]])})
    if not lacking:
        return f"The pose is {label} already."
    words = [w for k in lacking for w in {"arm": ("elbows", "hands"), "leg": ("knees", "feet")}[k]]
    return f"{label.capitalize()} changes nothing: the pose has no {', '.join(words[:-1])} or {words[-1]} to " \
           f"move (the photo does not show them, or they are hidden)."
