"""The photo and the result are one view: the same region of the photo at the same scale in both panes, whatever
zooms or pans it (the wheel, a drag, F, Shift+F, on either pane), a banner coming or going, or a result drawn
at another size than the photo; and while Original is held the result's header says it shows the original."""
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.app.driver import close_window, module_window, new_window, reopen_fitted, wait_idle_result, wait_loaded


@pytest.fixture(scope="module")
def win(qapp, procedural_photos, tmp_path_factory):
    w = module_window(tmp_path_factory.mktemp("cfg"), procedural_photos[0][0])
    w.resize(1360, 860)
    yield w
    close_window(w)


@pytest.fixture
def shown(qtbot, win, procedural_photos):
    """The person's photo with its result, fitted, no banner."""
    reopen_fitted(qtbot, win, procedural_photos[0][0])
    return win


def on_screen(win) -> tuple[QRectF, QRectF]:
    """(the photo's rectangle, the result image's rectangle) in global screen pixels, each taken about its own
    pane's centre line: side by side panes showing one view have the two equal."""
    c, pane = win.canvas, win.result.pane
    vp = c.viewport()
    w, h = c.image_size()
    photo = c.viewportTransform().mapRect(QRectF(0, 0, w, h))
    photo.translate(-vp.width() / 2, vp.mapToGlobal(QPoint(0, 0)).y())
    result = pane.target_rect()
    result.translate(-pane.width() / 2, pane.mapToGlobal(QPoint(0, 0)).y())
    return photo, result


def assert_one_view(win, tol=1.0):
    photo, result = on_screen(win)
    for a, b in ((photo.left(), result.left()), (photo.top(), result.top()), (photo.width(), result.width()),
                 (photo.height(), result.height())):
        assert abs(a - b) <= tol, f"photo {photo} but result {result}"


def wheel(widget, pos: QPoint, steps: int = 1):
    """A mouse wheel turn over ``widget`` at ``pos`` (its own pixels), as the mouse sends it."""
    g = widget.mapToGlobal(pos)
    ev = QWheelEvent(QPointF(pos), QPointF(g), QPoint(), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def test_zooming_the_photo_zooms_the_result_with_it(qtbot, shown):
    # the result stayed the whole photo's fit while the photo zoomed: on a real-size photo the person being
    # edited was ~100 px tall in the result beside a photo zoomed to them
    win = shown
    assert_one_view(win)
    vp = win.canvas.viewport()
    wheel(vp, QPoint(vp.width() // 3, vp.height() // 3), 3)
    assert win.canvas.zoom() > 1.5
    assert_one_view(win)
    win.a_zoom_person.trigger()
    assert_one_view(win)
    win.a_zoom_in.trigger()
    assert_one_view(win)
    win.a_fit.trigger()
    assert_one_view(win)


def test_the_wheel_over_the_result_zooms_both_about_the_pointer(qtbot, shown):
    win = shown
    pane = win.result.pane
    at = QPoint(pane.width() // 2 + 40, pane.height() // 2 - 30)
    r = pane.target_rect()
    under = ((at.x() - r.left()) / r.width(), (at.y() - r.top()) / r.height())  # the photo point under the pointer
    z = win.canvas.zoom()
    wheel(pane, at, 2)
    assert win.canvas.zoom() == pytest.approx(z * 1.2 ** 2)
    assert_one_view(win)
    r = pane.target_rect()
    assert (r.left() + under[0] * r.width() - at.x(), r.top() + under[1] * r.height() - at.y()) \
        == pytest.approx((0, 0), abs=1.0), "the point under the pointer moved"


def test_dragging_the_result_pans_both(qtbot, shown):
    win = shown
    win.canvas.zoom_by(3.0)
    assert_one_view(win)
    pane = win.result.pane
    before = pane.target_rect()
    start = QPoint(pane.width() // 2, pane.height() // 2)
    QTest.mousePress(pane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 5):
        QTest.mouseMove(pane, start + QPoint(-10 * k, 6 * k))
    QTest.mouseRelease(pane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(-40, 24))
    moved = pane.target_rect().topLeft() - before.topLeft()
    assert (moved.x(), moved.y()) == pytest.approx((-40, 24), abs=1.0)
    assert_one_view(win)
    assert win.doc.target == win.doc.main.pose  # a pan, not an edit


class Paints(QObject):
    """Counts the paint events a widget gets."""

    def __init__(self, widget):
        super().__init__()
        self.n = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, e):
        self.n += e.type() == QEvent.Type.Paint
        return False


def test_dragging_the_photo_pans_the_result_and_repaints_it(qtbot, shown):
    win = shown
    win.canvas.zoom_by(3.0)
    vp, pane = win.canvas.viewport(), win.result.pane
    paints = Paints(pane)
    qtbot.wait(50)
    before, n = pane.target_rect(), paints.n
    start = QPoint(20, 20)   # the photo, far from every joint
    assert not isinstance(win.canvas.itemAt(start), type(win.canvas.handles[0]))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 5):
        QTest.mouseMove(vp, start + QPoint(8 * k, 5 * k))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(32, 20))
    moved = pane.target_rect().topLeft() - before.topLeft()
    assert (moved.x(), moved.y()) == pytest.approx((32, 20), abs=1.0)
    assert_one_view(win)
    qtbot.waitUntil(lambda: paints.n > n)   # drawn where it now is, not only computed


def test_a_result_drawn_smaller_than_the_photo_is_laid_over_the_photos_place(qtbot, shown):
    # a render at a lower resolution (a live drag's, or a very large photo's) is the whole photo all the same
    win = shown
    res = win.result.result
    h, w = res.image.shape[:2]
    win.canvas.zoom_by(2.0)
    win.canvas.centerOn(w / 2, h / 2)
    small = np.zeros((h // 2, w // 2, 3), np.uint8)
    small[:, : w // 4] = (255, 0, 0)    # left half red, right half blue
    small[:, w // 4:] = (0, 0, 255)
    win.result.show_result(replace(res, image=small, qimage=None, seq=res.seq + 1000))
    assert_one_view(win)
    # the photo's column w / 2 is the line between red and blue in the result pane too
    c, pane = win.canvas, win.result.pane
    x = c.viewportTransform().map(QPointF(w / 2, h / 2)).x() - c.viewport().width() / 2 + pane.width() / 2
    y = round(pane.height() / 2)
    img = pane.grab().toImage()
    ratio = img.devicePixelRatio()
    left, right = img.pixelColor(round((x - 4) * ratio), round(y * ratio)), \
        img.pixelColor(round((x + 4) * ratio), round(y * ratio))
    assert (left.red(), left.blue()) == (255, 0) and (right.red(), right.blue()) == (0, 255), (left, right)
    win.result.show_result(res)


def test_holding_original_says_the_original_is_shown(qtbot, shown):
    # the badge kept reading "Final · warp · 25 ms" over the photo as it was
    win = shown
    view = win.result
    badge, line = view.tier.text(), view.info.full_text()
    assert badge == "Final"
    QTest.mousePress(view.compare, Qt.MouseButton.LeftButton)
    assert view.tier.text() == "Original" and "Final" not in view.info.full_text()
    assert "original" in view.info.full_text().lower() or "as it was" in view.info.full_text()
    QTest.mouseRelease(view.compare, Qt.MouseButton.LeftButton)
    assert (view.tier.text(), view.info.full_text()) == (badge, line)


def landscape(path, w=960, h=540):
    """A photo with nobody in it: a sky gradient over green ground."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[..., 0] = 255 * (1 - yy / h) + 0 * xx
    img[..., 1] = 40 + 60 * yy / h
    img[..., 2] = 255 * xx / w
    img[int(h * 0.67):] = (40, 120, 40)
    from PIL import Image

    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path)
    return path


def test_a_photo_with_nobody_in_it_opens_with_the_result_level_with_it(qtbot, qapp, tmp_path):
    # "no person found" brings a banner as the photo opens: the photo re-fitted to the pane under the banner
    # while the result kept the layout it had before it, and the result sat half the banner's height higher
    # until the window was resized
    win = new_window(qtbot, [landscape(tmp_path / "landscape.png")], (1360, 860))
    try:
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        assert win.placing and win.banner.isVisible()
        qtbot.wait(100)
        assert_one_view(win)
        win.a_fit.trigger()
        assert_one_view(win)
        win.banner.dismiss()
        qtbot.waitUntil(lambda: not win.banner.isVisible())
        qtbot.wait(100)
        assert_one_view(win)
    finally:
        close_window(win)
