"""Helpers that drive the real main window in tests and benchmarks: open, wait for the workers, drag joints."""
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, Slot
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

WAIT_MS = 30000  # generous: the machine may be busy; every wait ends as soon as its condition holds


def new_window(qtbot, photos=None, size=None):
    """The main window with ``photos`` opening; ``size`` (w, h) resizes it before it shows (the offscreen test
    screen is smaller than a real one)."""
    from poseeditor.main_window import MainWindow

    win = MainWindow()
    win.confirm_close = False
    qtbot.addWidget(win)
    if size:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    win.start_engine(photos_pending=bool(photos))
    if photos:
        win.open_photos([str(p) for p in photos])
    return win


def module_window(settings_dir, photo):
    """A window shared by a test module (its detector and engine start once), opening ``photo``; close it
    with close_window. Tests reopen photos as they need."""
    from poseeditor.main_window import MainWindow
    from poseeditor.settings import Settings

    w = MainWindow(Settings(Path(settings_dir) / "poseeditor.ini"))
    w.confirm_close = False
    w.show()
    w.start_engine(photos_pending=True)
    w.open_photos([str(photo)])
    return w


def close_window(win):
    win.confirm_close = False
    win.close()


def wait_idle_result(qtbot, win, timeout=WAIT_MS):
    """Wait until the newest requested render is the one shown and nothing is running."""
    qtbot.waitUntil(lambda: win.result.result is not None and not win.client.busy
                    and win.client.last_shown_seq == win.client.latest_seq, timeout=timeout)
    return win.result.result


def wait_loaded(qtbot, win, n=1, timeout=WAIT_MS):
    """Photos opened over others are read first (what was open stays until then): wait for the new ones too."""
    qtbot.waitUntil(lambda: win._opening is None and len(win.doc.refs) >= n
                    and all(r.image is not None for r in win.doc.refs), timeout=timeout)


def wait_engine(qtbot, win, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: win.backend_info is not None, timeout=timeout)


def move_held(vp, pos, modifiers=Qt.KeyboardModifier.NoModifier):
    """A mouse move with the left button held, as a real one arrives (QTest.mouseMove carries no modifiers)."""
    if modifiers == Qt.KeyboardModifier.NoModifier:
        QTest.mouseMove(vp, pos)
        return
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(vp.mapToGlobal(pos)), Qt.MouseButton.NoButton,
                     Qt.MouseButton.LeftButton, modifiers)
    QApplication.sendEvent(vp, ev)


def aim(qtbot, win, joint: int, settle_ms: int = 30, timeout_ms: int = 3000):
    """The joint's place on the viewport once pending layout (a banner closing, a dock resizing, the view
    re-fitting to a new result) has settled: the same place twice, ``settle_ms`` apart. On a busy machine a
    single short wait aimed at where the joint was before the view moved."""
    pos, waited = win.canvas.joint_view_pos(joint), 0
    while waited < timeout_ms:
        qtbot.wait(settle_ms)
        waited += settle_ms
        now = win.canvas.joint_view_pos(joint)
        if now == pos:
            return now
        pos = now
    return pos


def drag_joint(qtbot, win, joint: int, dx: int, dy: int, steps: int = 8, modifiers=Qt.KeyboardModifier.NoModifier):
    """Press on the joint's handle, move in steps, release: real mouse events on the canvas viewport.
    ``modifiers`` are held during the moves (Shift: move the joint alone)."""
    vp = win.canvas.viewport()
    start = aim(qtbot, win, joint)
    QTest.mouseMove(vp, start)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, steps + 1):
        move_held(vp, start + QPoint(round(dx * k / steps), round(dy * k / steps)), modifiers)
        qtbot.wait(5)
    end = start + QPoint(dx, dy)
    # where the drag went in photo pixels, read while the joint is still held: the view never re-fits under a
    # held joint, but may re-fit (a dock resizing under load) as soon as it is released
    win.scene_drag = win.canvas.mapToScene(end) - win.canvas.mapToScene(start)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    return start, end


def image_diff(a, b) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def untrained_weights(folder, data: str, label: str):
    """(backend, path) of a freshly initialised network's weights file for the first neural backend, saved as
    training would save them (provenance ``data``, ``label``); skips the test when no neural backend exists."""
    import pytest

    from engine import registry
    from engine.weights import WeightsMeta, save_weights

    neural = [n for n in registry.backend_names() if registry.backend_class(n).needs_weights]
    if not neural:
        pytest.skip("no neural backend is registered in this checkout")
    name = neural[0]
    cls = registry.backend_class(name)
    net = cls.build_network(dict(cls.default_config))
    path = Path(folder) / f"{name}-{data.split()[0]}.safetensors"
    save_weights(path, net.state_dict(), WeightsMeta(name, net.config, tuple(net.config["image_size"]),
                                                     {"data": data}, label))
    return name, path


def reopen_fitted(qtbot, win, photo):
    """``photo`` opened again in ``win`` (a new undo history), its result shown, no banner, fitted."""
    win.open_photos([str(photo)])
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    win.banner.dismiss()
    qtbot.waitUntil(lambda: not win.banner.isVisible())
    win.canvas.fit()
    return win


class Probe(QObject):
    """Calls ``fn`` on the UI thread for a signal from a worker thread. A plain function connected to such a
    signal would run at once in the worker thread, before the window's own (queued) slot has updated the UI."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    @Slot(object)
    def slot(self, value):
        self.fn(value)
