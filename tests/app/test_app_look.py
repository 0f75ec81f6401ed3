"""How the window looks and what it says, checked on the real widgets: the result header fits its pane, the
default layout gives the photo and the result the same room, start-up and backend loads are explained on
screen, the starter weights are labelled for what they are, and the result says preview or final."""
from dataclasses import replace

import pytest
from PySide6.QtCore import QObject, QPoint, QRectF, Qt, Slot
from PySide6.QtTest import QTest

from engine.pose import J
from tests.app.driver import close_window, wait_engine, wait_idle_result, wait_loaded
from tests.conftest import shared

DEFAULT_SIZE = (1360, 860)   # MainWindow's first-run size on a screen big enough for it


class Probe(QObject):
    """Calls ``fn`` on the UI thread for a signal from a worker thread. A plain function connected to such a
    signal would run at once in the worker thread, before the window's own (queued) slot has updated the UI."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    @Slot(str)
    def slot(self, text):
        self.fn(text)


def big_window(qtbot, photos=(), size=DEFAULT_SIZE):
    """A first-run window at the default size (the offscreen test screen is smaller than a real one)."""
    from poseeditor.main_window import MainWindow

    win = MainWindow()
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    win.start_engine(photos_pending=bool(photos))
    if photos:
        win.open_photos([str(p) for p in photos])
    return win


@pytest.fixture
def women1():
    return shared("fashion-sources", "women1.jpg")


def header_fits(view):
    """The result header's line is cut to its own room, never under the spinner or the Original button."""
    info = view.info
    room = info.contentsRect().width()
    assert info.fontMetrics().horizontalAdvance(info.text()) <= room, (info.text(), room)
    assert info.text() == info.full_text() or info.text().endswith("…")
    assert info.geometry().right() < view.spinner.geometry().left() < view.compare.geometry().left()
    assert view.tier.geometry().right() < info.geometry().left()


def test_result_header_fits_at_the_default_size_and_when_narrowed(qtbot, women1):
    win = big_window(qtbot, [women1])
    wait_loaded(qtbot, win)
    res = wait_idle_result(qtbot, win)
    # the longest case: a warp preview standing in for a slow backend, with the sources' encoding time
    long = replace(res, backend="warp", chosen="attention", kind="live", note="live preview while dragging",
                   ms=18.0, encode_ms=206.0)
    win.client.resultReady.emit(long)  # as the render thread hands a result over
    qtbot.wait(50)
    assert win.result.tier.text() == "Warp preview"
    header_fits(win.result)
    assert win.result.info.text() == win.result.info.full_text()  # at the default size all of it shows
    assert "18 ms" in win.result.info.text() and "attention" in win.result.info.text()
    # the details it leaves out are in the tooltip and the status bar
    assert "206 ms encoding" in win.result.info.toolTip() and "206 ms" in win.render_label.text()
    for width in (1000, 820):
        win.resize(width, 700)
        qtbot.waitUntil(lambda: win.width() == width)
        qtbot.wait(50)
        header_fits(win.result)
    close_window(win)


def test_result_says_warp_preview_while_dragging_then_final(qtbot, women1, monkeypatch):
    """A chosen backend too slow for a drag: the header names the warp preview, then the final render."""
    from poseeditor import worker

    monkeypatch.setattr(worker, "LIVE_BUDGET_MS", 0.0)  # every backend counts as too slow to follow
    win = big_window(qtbot, [women1])
    wait_loaded(qtbot, win)
    wait_engine(qtbot, win)
    win.set_backend("dgan")
    qtbot.waitUntil(lambda: win.backend_info["name"] == "dgan", timeout=60000)
    res = wait_idle_result(qtbot, win, timeout=60000)
    assert win.result.tier.text() == "Final" and win.result.info.text().startswith("dgan ·")
    vp = win.canvas.viewport()
    start = win.canvas.joint_view_pos(J["r_wrist"])
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 6):
        QTest.mouseMove(vp, start + QPoint(-6 * k, -8 * k))
        qtbot.wait(5)
    qtbot.waitUntil(lambda: win.result.result is not res and win.result.result.tier == "preview", timeout=60000)
    assert win.result.tier.text() == "Warp preview"
    assert "dgan" in win.result.info.text() and "release" in win.result.info.text()
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(-30, -40))
    # until the final image comes, the header says it is being drawn (the preview is still on screen)
    if win.result.result.tier == "preview":
        assert win.result.info.text().endswith("rendering dgan…")
    final = wait_idle_result(qtbot, win, timeout=60000)
    assert final.tier == "final" and win.result.tier.text() == "Final"
    assert win.result.info.text().startswith("dgan ·")
    close_window(win)
