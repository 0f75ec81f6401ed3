"""The editor on a real photo: open, drag a joint with the mouse, see pose and result change, undo/redo,
pose JSON round trip, hide a joint, mirror/preset/reset, zoom, a second reference, backends, saving."""
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from engine import registry
from engine.images import load_image
from engine.pose import J, Pose
from tests.app.driver import (aim, close_window, drag_joint, image_diff, module_window, untrained_weights,
                              wait_engine, wait_idle_result, wait_loaded)


@pytest.fixture(scope="module")
def photos(procedural_photos):
    """Two photos of one procedural person (tests/conftest.py): the editor's tests run on any clone."""
    return [p for p, _ in procedural_photos[:2]]


@pytest.fixture(scope="module")
def win(qapp, photos, tmp_path_factory):
    w = module_window(tmp_path_factory.mktemp("cfg"), photos[0])
    yield w
    close_window(w)


def reopen(qtbot, win, *paths):
    win.open_photos([str(p) for p in paths])
    wait_loaded(qtbot, win, len(paths))
    return wait_idle_result(qtbot, win)


def bone(pose, a, b):
    return float(np.linalg.norm(pose.xy[J[a]] - pose.xy[J[b]]))


def changed_outside(a, b, pose_a, pose_b, joints, margin=30):
    """(pixels that changed between two renders, the share of them outside the box around ``joints`` in both
    poses): what a drag of one arm may change is that arm's neighbourhood."""
    changed = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1) > 40
    pts = np.concatenate([pose_a.xy[joints], pose_b.xy[joints]])
    x0, y0 = np.maximum(pts.min(0) - margin, 0).astype(int)
    x1, y1 = (pts.max(0) + margin).astype(int)
    inside = np.zeros_like(changed)
    inside[y0:y1 + 1, x0:x1 + 1] = True
    n = int(changed.sum())
    return n, float((changed & ~inside).sum()) / max(n, 1)


def test_photo_is_found_where_the_procedural_person_was_drawn(qtbot, win, photos, procedural_photos):
    reopen(qtbot, win, photos[0])
    found, drawn = win.doc.main.pose, procedural_photos[0][1]
    both = found.present & drawn.present
    assert both.sum() >= 16
    assert np.median(np.linalg.norm(found.xy[both] - drawn.xy[both], axis=1)) < 8   # pixels, on a 480-high photo


def test_wrist_drag_bends_the_elbow_keeping_the_arm_bones_then_undo_redo(qtbot, win, photos):
    res0 = reopen(qtbot, win, photos[0])
    before = win.doc.target.copy()
    assert before.count >= 16 and res0.image.shape == load_image(photos[0]).shape
    seen, cursor = [], []
    win.resultShown.connect(seen.append)
    win.canvas.jointDragged.connect(lambda j, x, y: cursor.append((x, y)))
    w, e = J["r_wrist"], J["r_elbow"]
    drag_joint(qtbot, win, w, 20, -40)
    expect = win.scene_drag  # the mouse's path in photo pixels, by the view's mapping during the drag
    res = wait_idle_result(qtbot, win)
    win.resultShown.disconnect(seen.append)
    after = win.doc.target
    moved = after.xy[w] - before.xy[w]
    # the wrist is where the cursor is (within reach: the elbow bends); the cursor followed the mouse's path
    # to a few pixels (right after a photo opens, a panel's text can still shift the layout by a few pixels)
    assert np.allclose(after.xy[w], cursor[-1], atol=1e-3)
    assert moved[0] == pytest.approx(expect.x(), abs=0.2 * abs(expect.x()) + 5 / win.canvas.zoom())
    assert moved[1] == pytest.approx(expect.y(), abs=0.2 * abs(expect.y()) + 5 / win.canvas.zoom())
    assert np.hypot(*moved) > 20 / win.canvas.zoom()
    # the forearm and the upper arm keep their lengths; the elbow bent; nothing else moved
    assert bone(after, "r_wrist", "r_elbow") == pytest.approx(bone(before, "r_wrist", "r_elbow"), rel=1e-3)
    assert bone(after, "r_elbow", "r_shoulder") == pytest.approx(bone(before, "r_elbow", "r_shoulder"), rel=1e-3)
    assert np.linalg.norm(after.xy[e] - before.xy[e]) > 3
    others = [k for k in range(18) if k not in (w, e)]
    assert np.allclose(after.xy[others], before.xy[others])
    assert win.canvas.pose == after                      # the canvas shows what the document holds
    assert res.pose == after and res.kind == "final"
    # the generated image changed around the right arm, and hardly anywhere else
    arm = [J["r_shoulder"], e, w]
    n, outside = changed_outside(res.image, res0.image, before, after, arm)
    assert n > 200 and outside < 0.05, (n, outside)
    assert any(r.kind == "live" for r in seen)             # rendered while the joint moved
    assert win.undo.count() == 1                           # the whole drag is one undo step

    win.a_undo.trigger()
    assert win.doc.target == before
    res_undo = wait_idle_result(qtbot, win)
    assert image_diff(res_undo.image, res0.image) < 0.5    # back to the picture of the original pose
    win.a_redo.trigger()
    assert win.doc.target == after
    res_redo = wait_idle_result(qtbot, win)
    assert image_diff(res_redo.image, res.image) < 0.5


def test_shift_drag_moves_the_joint_alone_and_the_status_bar_says_so(qtbot, win, photos):
    reopen(qtbot, win, photos[0])
    before = win.doc.target.copy()
    w = J["l_wrist"]
    messages = []
    win.statusBar().messageChanged.connect(messages.append)
    drag_joint(qtbot, win, w, 25, 30, modifiers=Qt.KeyboardModifier.ShiftModifier)
    win.statusBar().messageChanged.disconnect(messages.append)
    wait_idle_result(qtbot, win)
    after = win.doc.target
    others = [k for k in range(18) if k != w]
    assert np.allclose(after.xy[others], before.xy[others])         # the elbow stayed: the forearm stretched
    assert bone(after, "l_wrist", "l_elbow") > bone(before, "l_wrist", "l_elbow") + 5
    assert any("alone" in m and "Shift" in m for m in messages), messages
    assert win.undo.count() == 1


def test_losing_the_mouse_grab_mid_drag_ends_the_drag_with_a_final_render(qtbot, win, photos):
    from PySide6.QtTest import QTest

    reopen(qtbot, win, photos[0])
    j = J["l_elbow"]
    vp = win.canvas.viewport()
    start = aim(qtbot, win, j)
    QTest.mouseMove(vp, start)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 5):
        QTest.mouseMove(vp, start + QPoint(6 * k, -5 * k))
        qtbot.wait(5)
    assert win.canvas.dragging == j
    moved = win.doc.target.copy()
    win.canvas.handles[j].ungrabMouse()   # what a popup or a stray pointer event does to the grab
    assert win.canvas.dragging == -1 and not win._dragging
    res = wait_idle_result(qtbot, win)
    assert res.kind == "final" and res.pose == moved == win.doc.target
    assert win.undo.count() == 1
    z = win.canvas.zoom()
    win.canvas.zoom_by(1.25)                # no longer refused as "dragging"
    assert win.canvas.zoom() == pytest.approx(z * 1.25, rel=0.01)
    win.a_fit.trigger()
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)


def test_keyboard_shortcuts_undo_and_mirror(qtbot, win, photos):
    reopen(qtbot, win, photos[0])
    drag_joint(qtbot, win, J["r_wrist"], -50, -60, modifiers=Qt.KeyboardModifier.ShiftModifier)  # lopsided
    wait_idle_result(qtbot, win)
    before = win.doc.target.copy()
    qtbot.keyClick(win.canvas, Qt.Key.Key_M)
    mirrored = win.doc.target.copy()
    assert not (mirrored == before)
    # the figure is flipped about its own upright axis (its torso's middle; not its bounding box's, which the
    # arm held out moves) and the sides swapped: the torso stays where it was, and the right wrist takes the
    # left wrist's height and its mirrored place, so the person does the pose with the other arm, in place
    torso = [J[n] for n in ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip")]
    c = float(before.xy[torso, 0].mean())
    assert float(mirrored.xy[torso, 0].mean()) == pytest.approx(c, abs=1.0)
    rw, lw = J["r_wrist"], J["l_wrist"]
    assert mirrored.xy[rw, 1] == pytest.approx(before.xy[lw, 1], abs=0.5)
    assert mirrored.xy[rw, 0] - c == pytest.approx(c - before.xy[lw, 0], abs=1.5)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.doc.target == before
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.doc.target == mirrored


def test_pose_json_export_and_reimport(qtbot, win, photos, tmp_path):
    reopen(qtbot, win, photos[0])
    drag_joint(qtbot, win, J["l_elbow"], 30, -20)
    wait_idle_result(qtbot, win)
    edited = win.doc.target.copy()
    path = tmp_path / "pose.json"
    assert win.export_pose(path)
    data = json.loads(path.read_text())
    assert len(data["people"][0]["pose_keypoints_2d"]) == 54 and data["canvas_width"] == edited.width
    win.reset_pose()
    assert not (win.doc.target == edited)
    assert win.import_pose(path)
    assert win.doc.target == edited
    res = wait_idle_result(qtbot, win)
    assert res.pose == edited
    # a broken pose file is a message, not a crash, and changes nothing
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert not win.import_pose(bad)
    assert "not valid JSON" in win.last_error and win.doc.target == edited
    # a pose made on a canvas of another shape goes onto the person, by one scale (it was stretched apart)
    other = edited.scaled(2.0, 2.0, edited.width * 2, edited.height * 2)
    other = Pose(other.xy + np.float32([40, 0]), other.present, other.width + 80, other.height)
    other.save_json(tmp_path / "other.json")
    assert win.import_pose(tmp_path / "other.json")
    assert np.allclose(win.doc.target.xy[edited.present], edited.xy[edited.present], atol=0.01)
    # one from a photo cut at the thighs keeps the person's own knees and ankles (they were dropped: legs erased)
    legs = [J[n] for n in ("r_knee", "l_knee", "r_ankle", "l_ankle")]
    cut = Pose(other.xy, other.present.copy(), other.width, other.height)
    cut.present[legs] = False
    cut.save_json(tmp_path / "cut.json")
    assert win.import_pose(tmp_path / "cut.json")
    had = [j for j in legs if edited.present[j]]
    assert had and win.doc.target.present[had].all()
    assert np.allclose(win.doc.target.xy[had], edited.xy[had], atol=0.01)  # the hips are where they were
    res = wait_idle_result(qtbot, win)
    assert res.pose == win.doc.target


def test_hide_and_show_a_joint(qtbot, win, photos):
    reopen(qtbot, win, photos[0])
    j = J["l_wrist"]
    # pick the joint with the mouse, then hide it with the keyboard
    vp = win.canvas.viewport()
    pos = win.canvas.joint_view_pos(j)
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=pos)
    assert win.canvas.selected == j
    qtbot.keyClick(win.canvas, Qt.Key.Key_H)
    assert not win.doc.target.present[j]
    assert "left wrist hidden: the picture leaves out" in win.statusBar().currentMessage().lower()
    assert not win.canvas.handles[j].isVisible()
    assert win.joint_list.item(j).checkState() == Qt.CheckState.Unchecked
    res = wait_idle_result(qtbot, win)
    assert not res.pose.present[j]                         # the backend got it as missing
    # show it again from the joint list: it comes back where it was
    win.joint_list.item(j).setCheckState(Qt.CheckState.Checked)
    assert win.doc.target.present[j]
    assert np.allclose(win.doc.target.xy[j], win.doc.main.pose.xy[j])
    assert win.undo.count() == 2
    # moved, then hidden and shown with H twice: where it was moved to, not back at the photo's place for it (an
    # elbow dragged up by the head came back at the hip, and the arm stretched from there)
    drag_joint(qtbot, win, j, 25, -35)
    wait_idle_result(qtbot, win)
    moved = win.doc.target.xy[j].copy()
    assert not np.allclose(moved, win.doc.main.pose.xy[j], atol=5)
    win.canvas.select(j)
    qtbot.keyClick(win.canvas, Qt.Key.Key_H)
    assert not win.doc.target.present[j]
    qtbot.keyClick(win.canvas, Qt.Key.Key_H)
    assert win.doc.target.present[j] and np.allclose(win.doc.target.xy[j], moved)


def test_the_context_menus_leave_the_presets_menu_and_the_renders_alone(qtbot, win, photos):
    # The canvas's menu holds the Pose Presets menu as a submenu; each new context menu deletes the last. The
    # shared presets menu went with it (a newcomer: right-click the photo, then a joint, then drag: the result
    # stayed the old picture marked "Final", Undo stayed grey, a save wrote the old picture, and the next photo
    # hung at "Preparing…": "Internal C++ object (QMenu) already deleted" in every update of the actions).
    from PySide6.QtCore import QCoreApplication, QEvent

    reopen(qtbot, win, photos[0])
    win._canvas_menu(QPointF(30, 40), QPoint(50, 50))
    assert any(a.menu() is win.preset_menu for a in win._menu.actions())  # the presets, as a submenu
    win._menu.close()
    win._joint_menu(J["r_wrist"], QPoint(50, 50))
    win._menu.close()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    win._joint_menu(J["l_wrist"], QPoint(50, 50))  # and once more: the menu deleted now was the joint's
    win._menu.close()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert win.preset_menu.actions() and win.preset_menu.isEnabled()
    n, first = win.undo.count(), win.result.result.seq
    before = win.current_pose().xy[J["r_wrist"]].copy()
    drag_joint(qtbot, win, J["r_wrist"], 20, -25)
    qtbot.waitUntil(lambda: (win.current_pose().xy[J["r_wrist"]] != before).any(), timeout=10000)
    res = wait_idle_result(qtbot, win)
    assert win.undo.count() == n + 1 and res.seq > first and res.pose == win.current_pose()


def test_presets_reset_and_zoom(qtbot, win, photos):
    reopen(qtbot, win, photos[0])
    detected = win.doc.main.pose
    win.apply_preset("arms-up")
    up = win.doc.target
    assert up.xy[J["r_wrist"], 1] < up.xy[J["nose"], 1]     # hands above the head
    wait_idle_result(qtbot, win)
    win.a_reset.trigger()
    assert win.doc.target == detected
    # wheel zoom: the photo grows, the handles keep their size on screen
    z0 = win.canvas.zoom()
    h = win.canvas.handles[J["neck"]]
    size0 = win.canvas.mapFromScene(h.mapToScene(h.rect()).boundingRect()).boundingRect().width()
    center = QPointF(win.canvas.viewport().rect().center())
    ev = QWheelEvent(center, win.canvas.viewport().mapToGlobal(center), QPoint(0, 0), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(win.canvas.viewport(), ev)
    assert win.canvas.zoom() == pytest.approx(z0 * 1.44, rel=0.01)
    assert h.deviceTransform(win.canvas.viewportTransform()).m11() == pytest.approx(1.0)
    win.a_fit.trigger()
    assert win.canvas.zoom() == pytest.approx(z0, rel=0.01)
    assert size0 > 8


def test_a_preset_on_a_portrait_moves_nothing_it_cannot_draw_and_says_why(qtbot, win, procedural_photos,
                                                                          tmp_path):
    # A photo cut at the shoulders has no elbows or hands: Arms up added elbow handles beside the head with the
    # picture unchanged, T-pose did nothing and said nothing (and left an undo step of nothing).
    import cv2

    from engine.images import save_image

    path, drawn = procedural_photos[0]
    img = load_image(path)
    x0, x1 = max(0, int(drawn.xy[:, 0].min()) - 60), int(drawn.xy[:, 0].max()) + 60
    crop = img[:int(drawn.point("r_shoulder")[1]) + 10, x0:x1]
    portrait = tmp_path / "portrait.png"
    save_image(portrait, cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
    reopen(qtbot, win, portrait)
    before = win.doc.target
    assert before is not None and not before.present[[J["r_elbow"], J["l_elbow"], J["r_wrist"], J["l_wrist"]]].any()
    for name, words in (("arms-up", "Arms up"), ("t-pose", "T pose")):
        steps = win.undo.count()
        win.apply_preset(name)
        assert win.doc.target == before and win.undo.count() == steps, name
        said = win.statusBar().currentMessage()
        assert said.startswith(f"{words} changes nothing") and "elbows or hands" in said, said
    from poseeditor.window_editing import _unchanged_by

    assert _unchanged_by("arms-up", "arms up", drawn) == "The pose is arms up already."  # arms there, not moved


def test_second_reference_is_passed_to_the_backend(qtbot, win, photos):
    reopen(qtbot, win, photos[0])
    first = win.doc.main
    win.add_references([str(photos[1])])
    wait_loaded(qtbot, win, 2)
    wait_idle_result(qtbot, win)
    assert win.strip.list.count() == 2
    assert win.client.worker.sources is not None and len(win.client.worker.sources[0]) == 2
    assert win.doc.main is first                           # the edited photo stays the first
    # reorder: the second photo becomes the one edited, with its own pose
    ids = win.strip.ids()
    win.reorder_references(ids[::-1])
    assert win.doc.main.path == str(photos[1])
    assert (win.doc.target.width, win.doc.target.height) == win.doc.main.size
    res = wait_idle_result(qtbot, win)
    assert res.image.shape == win.doc.main.image.shape
    win.remove_reference(win.doc.refs[1].id)
    assert len(win.doc.refs) == 1 and win.strip.list.count() == 1
    wait_idle_result(qtbot, win)
    assert len(win.client.worker.sources[0]) == 1


def test_another_photo_made_the_first_asks_before_the_edited_pose_goes(qtbot, win, photos, monkeypatch):
    # Reordering the strip made another photo the one edited and dropped the pose edited on the first without a
    # word (a newcomer's review), where Open asks. With the pose edited it asks; Cancel keeps photos and pose.
    from PySide6.QtWidgets import QMessageBox

    reopen(qtbot, win, photos[0])
    win.add_references([str(photos[1])])
    wait_loaded(qtbot, win, 2)
    first = win.doc.main
    drag_joint(qtbot, win, J["r_wrist"], -10, -30)
    assert not win.undo.isClean()
    edited = win.doc.target.copy()
    asked = []
    answer = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: (asked.append(a[2]), answer[0])[1])
    win.confirm_close = True
    try:
        ids = win.strip.ids()
        wait_idle_result(qtbot, win)
        gen = win.client.worker._sources_gen
        # the second photo dragged before the first in the strip (the order is asked once the drop returns)
        from PySide6.QtCore import QModelIndex

        assert win.strip.list.model().moveRow(QModelIndex(), 1, QModelIndex(), 0)
        qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
        assert Path(photos[1]).name in asked[0] and Path(photos[0]).name in asked[0]
        assert win.doc.main is first and win.doc.target == edited and win.strip.ids() == ids
        qtbot.wait(200)
        assert win.client.worker._sources_gen == gen  # the same photos: nothing sent to be encoded again
        win.remove_reference(first.id)  # the first photo removed: its edit goes too
        assert len(asked) == 2 and win.doc.main is first and len(win.doc.refs) == 2
        answer[0] = QMessageBox.StandardButton.Yes
        win.reorder_references(ids[::-1])
        assert len(asked) == 3 and win.doc.main.path == str(photos[1])
        win.reorder_references(win.strip.ids()[::-1])  # the new first's pose is not edited: nothing to ask
        assert len(asked) == 3 and win.doc.main is first
    finally:
        win.confirm_close = False
    wait_idle_result(qtbot, win)


def test_every_registered_backend_is_listed_and_switchable(qtbot, win, photos):
    reopen(qtbot, win, photos[0])
    wait_engine(qtbot, win)
    panel = win.engine_panel
    names = registry.backend_names()
    listed = [panel.backend.itemData(i) for i in range(panel.backend.count())]
    assert listed[:len(names)] == names
    for name in registry.unavailable():
        assert name in listed
    others = [n for n in names if n != win.backend_info["name"]]
    if not others:
        pytest.skip("only one backend is registered in this checkout")
    target = others[0]
    panel.backend.setCurrentIndex(listed.index(target))
    panel.backend.activated.emit(listed.index(target))
    # at once, before it has loaded: the panel describes the backend chosen, not the one before it
    assert panel.summary.text() == panel.catalogue[target]["summary"]
    assert panel.weights.text().startswith("Loading") and not panel.load_btn.isEnabled()
    qtbot.waitUntil(lambda: win.backend_info["name"] == target, timeout=30000)
    res = wait_idle_result(qtbot, win, timeout=60000)
    assert res.chosen == target
    # the panel says what the network computes in: the engine's own choice for this network (auto/env/CPU flags,
    # the measured choice the app's engine left in the cache)
    from engine.runtime import Engine

    runs_on = Engine(target, "cpu").describe()
    assert panel.runs_on.text() == (runs_on if win.backend_info["needs_weights"] else "CPU")
    if not win.backend_info["ready"]:
        assert res.backend == "warp" and "no weights" in res.note
        assert "poseeditor-train fit --backend" in panel.weights.text()
    win.set_backend("warp")
    qtbot.waitUntil(lambda: win.backend_info["name"] == "warp", timeout=30000)


def test_rejected_weights_are_a_message(qtbot, win, photos, tmp_path):
    reopen(qtbot, win, photos[0])
    wait_engine(qtbot, win)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x80\x02}q\x00garbage")             # a pickle, which is never loaded
    win.last_error = ""
    win.load_weights(str(bad))
    qtbot.waitUntil(lambda: win.last_error != "", timeout=10000)
    assert "pickle" in win.last_error and win.banner.isVisible()
    assert win.backend_info["name"] == "warp"              # still working on what it had


def test_save_result_and_animation(qtbot, win, photos, tmp_path):
    import cv2
    import imageio.v3 as iio

    reopen(qtbot, win, photos[0])
    drag_joint(qtbot, win, J["r_wrist"], -30, -50)
    res = wait_idle_result(qtbot, win)
    png = tmp_path / "out.png"
    assert win.save_result(png)
    qtbot.waitUntil(png.exists, timeout=10000)
    assert image_diff(load_image(png), res.image) < 0.01
    done = []
    win.client.worker.animationDone.connect(done.append)
    gif, mp4 = tmp_path / "a.gif", tmp_path / "a.mp4"
    assert win.export_animation(gif, frames=4, fps=8)
    qtbot.waitUntil(lambda: len(done) == 1, timeout=30000)
    assert win.export_animation(mp4, frames=4, fps=8)
    qtbot.waitUntil(lambda: len(done) == 2, timeout=30000)
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 4 and image_diff(frames[0], frames[-1]) > 0.3   # the arm moves
    cap = cv2.VideoCapture(str(mp4))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 4
    assert not win.export_animation(tmp_path / "a.avi")    # unsupported type: a message
    assert ".gif or .mp4" in win.last_error


def test_loaded_weights_draw_the_result_and_the_live_tier_follows_render_time(qtbot, win, photos, tmp_path):
    """Load a real (freshly initialised, untrained) network's weights through the app, as a user would load
    trained ones: the chosen backend then draws the final image, and while dragging the live tier is that
    backend only if its last render took under the live budget, else the warp backend."""
    from poseeditor.render_tiers import LIVE_BUDGET_MS

    name, path = untrained_weights(tmp_path, "none (untrained)", "untrained test network")
    reopen(qtbot, win, photos[0])
    wait_engine(qtbot, win)
    win.load_weights(str(path))
    qtbot.waitUntil(lambda: win.backend_info["name"] == name and win.backend_info["ready"], timeout=60000)
    assert win.backend_info["weights_kind"] == "file" and "Loaded" in win.engine_panel.weights.text()
    assert win.settings.weights_for(name) == str(path)     # remembered for the next run
    res = wait_idle_result(qtbot, win, timeout=60000)
    assert res.backend == name and res.tier == "final"
    full_ms = win.client.worker.full_ms[name]
    seen = []
    win.resultShown.connect(seen.append)
    drag_joint(qtbot, win, J["r_wrist"], -20, -30, steps=4)
    res = wait_idle_result(qtbot, win, timeout=60000)
    win.resultShown.disconnect(seen.append)
    assert res.backend == name and res.kind == "final" and res.pose == win.doc.target
    live = [r for r in seen if r.kind == "live"]
    assert live
    expected = name if full_ms < LIVE_BUDGET_MS else "warp"
    assert live[0].backend == expected, (full_ms, [(r.backend, r.ms) for r in live])
    win.set_backend("warp")
    qtbot.waitUntil(lambda: win.backend_info["name"] == "warp", timeout=30000)


def test_hold_original_shows_the_photo_then_the_result_again(qtbot, win, photos):
    from poseeditor.canvas import to_qimage

    reopen(qtbot, win, photos[0])
    drag_joint(qtbot, win, J["r_wrist"], -30, -40)
    res = wait_idle_result(qtbot, win)
    qtbot.mousePress(win.result.compare, Qt.MouseButton.LeftButton)
    assert win.result.pane.qimage == to_qimage(win.doc.main.image)
    qtbot.mouseRelease(win.result.compare, Qt.MouseButton.LeftButton)
    assert win.result.pane.qimage == to_qimage(res.image)


def test_a_real_photo_opens_and_a_wrist_drag_keeps_the_forearm(qtbot, win):
    """The same editing on a real photo (shared data; skipped on a fresh clone)."""
    from tests.conftest import shared

    res0 = reopen(qtbot, win, shared("fashion-sources", "women1.jpg"))
    before = win.doc.target.copy()
    assert before.count >= 14 and res0.image.shape == win.doc.main.image.shape
    drag_joint(qtbot, win, J["l_wrist"], -15, -30)
    res = wait_idle_result(qtbot, win)
    after = win.doc.target
    assert not np.allclose(after.xy[J["l_wrist"]], before.xy[J["l_wrist"]])
    assert bone(after, "l_wrist", "l_elbow") == pytest.approx(bone(before, "l_wrist", "l_elbow"), rel=1e-3)
    assert res.pose == after and res.kind == "final"
