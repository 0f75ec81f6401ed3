"""The keyboard and the banner on the real window: the arrow keys nudge the selected joint (one screen pixel, a
burst rendered live then final and undone as one step) wherever it was chosen, the Joints list keeps Up/Down,
and a banner appearing or going leaves the photo and the result where they are on screen."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.pose import J
from tests.app.driver import aim, close_window, module_window, reopen_fitted, wait_idle_result

ALT, SHIFT, NONE = Qt.KeyboardModifier.AltModifier, Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.NoModifier


@pytest.fixture(scope="module")
def win(qapp, procedural_photos, tmp_path_factory):
    w = module_window(tmp_path_factory.mktemp("cfg"), procedural_photos[0][0])
    yield w
    close_window(w)


@pytest.fixture
def fresh(qtbot, win, procedural_photos):
    """The photo opened again (a new undo history), fitted, no joint chosen, the window active."""
    reopen_fitted(qtbot, win, procedural_photos[0][0])
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    return win


def press(win, key, modifiers=NONE):
    """A key press as the keyboard makes it: to the window, which gives it to the widget with the focus."""
    QTest.keyClick(win.windowHandle(), key, modifiers)


def click_list_row(qtbot, win, joint):
    lst = win.joint_list
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(lst.item(joint)).center())


def test_a_joint_chosen_in_the_list_or_on_the_photo_is_nudged_one_screen_pixel(qtbot, fresh):
    # the arrows moved the Joints list's selection, not the joint chosen there; a nudge is one screen pixel (ten
    # with Shift) at any zoom, so each press visibly moves the handle and zooming in gives finer steps
    win = fresh
    win.canvas.zoom_by(2.0)
    z = win.canvas.zoom()
    knee, before = J["l_knee"], win.doc.target.copy()
    click_list_row(qtbot, win, knee)
    assert win.canvas.selected == knee and QApplication.focusWidget() is win.canvas
    press(win, Qt.Key.Key_Right)
    press(win, Qt.Key.Key_Down, SHIFT)
    assert win.canvas.selected == knee and win.joint_list.currentRow() == knee
    assert np.allclose(win.doc.target.xy[knee] - before.xy[knee], (1 / z, 10 / z), atol=1e-4)
    # on the photo: a click on the handle, then the arrows
    wrist, before = J["r_wrist"], win.doc.target.copy()
    win.canvas.centerOn(QPointF(*map(float, before.xy[wrist])))  # in view at this zoom
    qtbot.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, pos=aim(qtbot, win, wrist))
    press(win, Qt.Key.Key_Left)
    press(win, Qt.Key.Key_Up)
    assert np.allclose(win.doc.target.xy[wrist] - before.xy[wrist], (-1 / z, -1 / z), atol=1e-4)


def test_in_the_joints_list_up_down_choose_the_joint_and_alt_arrows_nudge_it(qtbot, fresh):
    win = fresh
    win.canvas.select(J["neck"])
    win.joint_list.setFocus(Qt.FocusReason.TabFocusReason)
    before = win.doc.target.copy()
    press(win, Qt.Key.Key_Down)
    assert win.canvas.selected == J["r_shoulder"] and win.doc.target == before  # a list, as lists are
    press(win, Qt.Key.Key_Right, ALT)
    press(win, Qt.Key.Key_Up, ALT | SHIFT)
    z = win.canvas.zoom()
    d = win.doc.target.xy[J["r_shoulder"]] - before.xy[J["r_shoulder"]]
    assert np.allclose(d, (1 / z, -10 / z), atol=1e-4) and QApplication.focusWidget() is win.joint_list
    press(win, Qt.Key.Key_Space)            # Space ticks the joint off: hidden
    assert not win.doc.target.present[J["r_shoulder"]]
    win.a_undo.trigger()
    # a combo box keeps its arrows: no joint moves
    after = win.doc.target.copy()
    win.engine_panel.device.setFocus(Qt.FocusReason.TabFocusReason)
    press(win, Qt.Key.Key_Down)
    press(win, Qt.Key.Key_Up)
    assert win.doc.target == after


def test_a_burst_of_nudges_renders_live_then_final_and_undoes_as_one_step(qtbot, fresh, monkeypatch):
    win = fresh
    asked = []
    request = win.client.request

    def spy(pose, kind="final"):
        asked.append(kind)
        return request(pose, kind)

    monkeypatch.setattr(win.client, "request", spy)
    j, start = J["l_elbow"], win.doc.target.copy()
    qtbot.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, pos=aim(qtbot, win, j))
    asked.clear()                           # the click's own final render
    for _ in range(4):
        press(win, Qt.Key.Key_Right)
    assert asked == ["live"] * 4            # like a drag: the newest wins, nothing waits for a final render
    qtbot.waitUntil(lambda: asked[-1:] == ["final"], timeout=10000)  # when the keys pause (NUDGE_BURST_MS)
    res = wait_idle_result(qtbot, win)
    assert res.kind == "final" and res.pose == win.doc.target
    assert win.undo.count() == 1 and win.undo.undoText() == "Move left elbow"
    first = win.doc.target.copy()
    press(win, Qt.Key.Key_Down)             # after a pause: a burst of its own, its own undo step
    assert win.undo.count() == 2
    win.a_undo.trigger()
    assert win.doc.target == first
    win.a_undo.trigger()
    assert win.doc.target == start


def screen_rects(win):
    """Where a joint and the result image are on screen, and the canvas zoom."""
    c, pane = win.canvas, win.result.pane
    joint = c.viewport().mapToGlobal(c.joint_view_pos(J["nose"]))
    r = pane.target_rect()
    return joint, pane.mapToGlobal(r.topLeft().toPoint()), r.size(), c.zoom()


def settled(qtbot, win):
    """screen_rects once the window's layout has stopped moving (a dismissed banner's room is handed back over
    a few event-loop turns; on a loaded machine more of them)."""
    last = screen_rects(win)
    for _ in range(40):
        qtbot.wait(50)
        now = screen_rects(win)
        if close_to(now, last):
            return now
        last = now
    return last


def close_to(a, b):
    (ja, ra, sa, za), (jb, rb, sb, zb) = a, b
    return ((ja - jb).manhattanLength() <= 1 and (ra - rb).manhattanLength() <= 1
            and abs(sa.width() - sb.width()) < 1 and abs(sa.height() - sb.height()) < 1 and za == pytest.approx(zb))


def test_a_banner_leaves_the_photo_and_the_result_where_they_are(qtbot, fresh):
    # the banner takes its height from the panes: the canvas re-fitted (or kept its centre) and the photo jumped
    # under the cursor, as the result beside it did; both stay where they are on screen, at their size
    win = fresh
    seen = settled(qtbot, win)
    h = win.canvas.height()
    win.show_error("A message above the canvas, as after opening a photo.")
    qtbot.waitUntil(lambda: win.canvas.height() < h)
    qtbot.wait(50)
    assert close_to(screen_rects(win), seen), (screen_rects(win), seen)
    win.banner.dismiss()
    qtbot.waitUntil(lambda: win.canvas.height() == h)
    qtbot.wait(50)
    assert close_to(screen_rects(win), seen), (screen_rects(win), seen)
    # any other resize (here the window's) still fits the photo to the pane
    size = win.size()
    win.resize(size.width() + 400, size.height())
    qtbot.waitUntil(lambda: win.canvas.zoom() > seen[3] * 1.1)
    centre = win.canvas.mapToScene(win.canvas.viewport().rect().center()) - QPointF(*win.canvas.image_size()) / 2
    assert centre.manhattanLength() < 3   # the whole photo, centred
    win.resize(size)
    qtbot.waitUntil(lambda: win.canvas.zoom() == pytest.approx(seen[3]))


def _canvas_under_a_bar(qtbot, size):
    """(a shown window, a hidden two-line bar in it, a canvas below the bar showing a black photo of ``size`` (w, h));
    the caller keeps the window, which owns the other two."""
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    from poseeditor.canvas import PoseCanvas

    box = QWidget()
    qtbot.addWidget(box)
    lay = QVBoxLayout(box)
    bar, canvas = QLabel("a banner\ntwo lines high"), PoseCanvas()
    bar.hide()
    lay.addWidget(bar)
    lay.addWidget(canvas, 1)
    box.resize(520, 560)
    box.show()
    qtbot.waitExposed(box)
    canvas.set_image(np.zeros((size[1], size[0], 3), np.uint8))
    return box, bar, canvas


@pytest.mark.parametrize("size", [(320, 480), (1920, 640)], ids=["portrait", "wide"])  # (w, h)
def test_a_bar_above_the_canvas_leaves_the_photo_where_it_is(qtbot, qapp, size):
    # a wide photo is shorter than the view even with its room to pan: Qt centres such a scene, which moved it
    # by half the bar's height however the scroll bars were set
    box, bar, canvas = _canvas_under_a_bar(qtbot, size)

    def corner():
        return canvas.viewport().mapToGlobal(canvas.mapFromScene(QPointF(0, 0)))

    seen, z, h = corner(), canvas.zoom(), canvas.height()
    bar.show()
    qtbot.waitUntil(lambda: canvas.height() < h)
    assert (corner() - seen).manhattanLength() <= 1 and canvas.zoom() == z
    bar.hide()
    qtbot.waitUntil(lambda: canvas.height() == h)
    assert (corner() - seen).manhattanLength() <= 1 and canvas.zoom() == z
    canvas.set_image(np.zeros((100, 200, 3), np.uint8))  # the next photo pans within its own room
    assert canvas.sceneRect() == QRectF(-50, -50, 300, 200)


def test_a_banner_appearing_mid_drag_leaves_the_held_joint_under_the_pointer(qtbot, qapp):
    # the view scrolls under a still pointer when the banner comes (the photo stays put on screen), and Qt replays
    # the last move at its old place in the view: the held joint jumped by the banner's height
    from PySide6.QtCore import QPoint

    from engine.presets import fit_preset

    box, bar, canvas = _canvas_under_a_bar(qtbot, (320, 480))
    pose = fit_preset("standing", 320, 480)
    canvas.set_pose(pose)
    canvas.zoom_by(2.0)
    canvas.centerOn(QPointF(*map(float, pose.xy[J["l_wrist"]])))
    moves = []
    canvas.jointDragged.connect(lambda j, x, y: moves.append((x, y)))
    vp = canvas.viewport()
    start = canvas.joint_view_pos(J["l_wrist"])
    QTest.mouseMove(vp, start)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 4):
        QTest.mouseMove(vp, start + QPoint(0, 4 * k))
        qtbot.wait(5)
    held, n, h = moves[-1], len(moves), canvas.height()
    bar.show()
    qtbot.waitUntil(lambda: canvas.height() < h)
    qtbot.wait(50)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(0, 12))
    jumps = [abs(m[1] - held[1]) for m in moves[n:]]
    assert all(j < 1 for j in jumps), f"the held joint moved {max(jumps):.1f} photo pixels with the pointer still"


def test_a_nudge_against_the_photos_edge_is_no_undo_step(qtbot, fresh):
    # a joint on the photo's left edge pressed further left does not move: it made an undo step that undid
    # nothing and marked the edit unsaved
    win = fresh
    knee = J["l_knee"]
    click_list_row(qtbot, win, knee)
    press(win, Qt.Key.Key_Left)
    steps = win.undo.count()
    win.doc.target = win.doc.target.moved(knee, 0.0, float(win.doc.target.xy[knee, 1]))
    win._end_nudge(render=False)  # the next press starts a burst of its own
    win.undo.setClean()
    press(win, Qt.Key.Key_Left)
    assert win.undo.count() == steps and win.undo.isClean()
    assert win.doc.target.xy[knee, 0] == 0.0


def test_a_held_key_repeating_after_a_long_wait_is_still_one_undo_step(qtbot, fresh):
    # some desktops wait up to a second before a held key repeats, longer than a burst's pause: the first press
    # and its repeats were two undo steps. A repeat goes on with the burst it began; a fresh press after the pause
    # is a step of its own
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    from poseeditor.window_editing import NUDGE_BURST_MS

    win = fresh
    knee = J["l_knee"]
    click_list_row(qtbot, win, knee)
    start = win.undo.count()

    def key(repeat):
        QApplication.sendEvent(win.canvas, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Right, NONE, "", repeat))

    key(False)
    qtbot.wait(NUDGE_BURST_MS + 300)  # the burst ended: its final render asked for
    for _ in range(3):
        key(True)
    assert win.undo.count() == start + 1
    qtbot.wait(NUDGE_BURST_MS + 300)
    key(False)
    assert win.undo.count() == start + 2
