"""Choosing the person: a box drawn round someone runs the real detector there; where it finds nobody, the
skeleton to place by hand is sized and placed from the photo (the box), not a fixed figure in the middle."""
import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.images import load_image
from tests.app.driver import close_window, new_window, wait_idle_result, wait_loaded


def draw_box(qtbot, win, box):
    """Box mode from the menu action, then a real mouse drag from one corner to the other on the canvas."""
    win.a_box.trigger()
    assert win.canvas.box_mode and win.banner.isVisible()
    vp = win.canvas.viewport()
    a = win.canvas.mapFromScene(*box[:2])
    b = win.canvas.mapFromScene(*box[2:])
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(vp, (a + b) / 2)
    QTest.mouseMove(vp, b)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    assert not win.canvas.box_mode


def test_a_box_round_the_other_person_finds_that_one(qtbot, procedural_photos, tmp_path):
    left, right = load_image(procedural_photos[0][0]), load_image(procedural_photos[1][0])
    pair = tmp_path / "two-people.png"
    Image.fromarray(np.concatenate([left, right], 1)).save(pair)
    win = new_window(qtbot, [pair])
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    w = left.shape[1]
    first = win.doc.main.pose
    assert first.count >= 14
    # whoever the detector took first, draw the box round the other one
    on_left = np.median(first.xy[first.present, 0]) < w
    box = (w + 4, 4, 2 * w - 4, left.shape[0] - 4) if on_left else (4, 4, w - 4, left.shape[0] - 4)
    wrist = int(np.flatnonzero(first.present)[4])
    win.set_joint_visible(wrist, False)  # hidden on the first person: where it was is not the other one's
    assert (win.doc.main.id, win.mode, wrist) in win._hidden_at
    draw_box(qtbot, win, box)
    qtbot.waitUntil(lambda: not (win.doc.main.pose == first), timeout=30000)
    assert not any(k[0] == win.doc.main.id for k in win._hidden_at)
    found = win.doc.main.pose
    xs = found.xy[found.present, 0]
    assert found.count >= 14 and box[0] - 20 <= xs.min() and xs.max() <= box[2] + 20
    assert not win.placing and win.doc.target == found and win.undo.count() == 0
    mask = win.doc.main.mask
    assert win.doc.main.detected == found
    assert mask[:, int(box[0]):int(box[2])].sum() > 0.9 * mask.sum() > 0     # the mask is that person's
    res = wait_idle_result(qtbot, win)
    assert res.pose == found
    close_window(win)


def test_where_nobody_is_found_the_skeleton_fills_the_box(qtbot, tmp_path):
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    img = np.stack([120 + 60 * np.sin(xx / 17), 140 + 50 * np.cos(yy / 23), 110 + 40 * np.sin((xx + yy) / 31)], -1)
    photo = tmp_path / "no-one.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(photo)
    win = new_window(qtbot, [photo])
    wait_loaded(qtbot, win)
    assert win.placing
    before = win.doc.main.pose.copy()
    box = (250, 120, 300, 280)                        # a small person at the right, in the photo's lower half
    draw_box(qtbot, win, box)
    qtbot.waitUntil(lambda: not (win.doc.main.pose == before), timeout=30000)
    placed = win.doc.main.pose
    assert win.placing and win.mode == "source" and "No person found" in win.banner.message()
    x0, y0, x1, y1 = placed.bbox()
    assert box[0] - 10 <= x0 and x1 <= box[2] + 10 and box[1] - 10 <= y0 and y1 <= box[3] + 10
    assert y1 - y0 > 0.7 * (box[3] - box[1])          # sized to the box, not the photo
    close_window(win)


def test_escape_leaves_box_mode(qtbot, procedural_photos):
    win = new_window(qtbot, [procedural_photos[0][0]])
    wait_loaded(qtbot, win)
    pose = win.doc.main.pose.copy()
    win.a_box.trigger()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Escape)
    assert not win.canvas.box_mode and not win.banner.isVisible() and win.doc.main.pose == pose
    # joints drag again once the mode is over
    assert win.canvas.handles[0].acceptedMouseButtons() & Qt.MouseButton.LeftButton
    close_window(win)
