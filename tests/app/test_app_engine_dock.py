"""The Engine dock on a small screen: never narrower than its panel (a narrower saved layout comes back widened),
nothing cut at the right edge or scrolled sideways when Tab walks into it, and the backend box cuts a long title
with "…" and says it whole in its tooltip."""
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

from poseeditor.main_window import MainWindow
from tests.app.driver import close_window

PNR = dict(name="pnr", title="pNR (multi-shot)", needs_weights=True, multi_shot=True, weights="starter",
           summary="Hidden p-norm regression: solves for a pose-independent description of the person from every "
                   "reference photo at once, then draws it in the new pose. More references, more detail.")
DGANSA = dict(name="dgan-sa", title="Deformable GAN + self-attention", needs_weights=True, multi_shot=False,
              weights="starter", summary="A deformable GAN with self-attention layers.")
WARP = dict(name="warp", title="Warp (instant)", needs_weights=False, multi_shot=True, weights="built-in",
            summary="Moves the photo's own body parts.")


def info(entry):
    return dict(name=entry["name"], title=entry["title"], multi_shot=entry["multi_shot"], ready=True,
                needs_weights=entry["needs_weights"], weights_kind=entry["weights"], weights_label="starter",
                weights_path=None, device="cpu", runs_on="CPU · bf16", image_size=[128, 64], last_ms=None)


def window(qtbot, size=(1280, 680)):
    """A window without its engine (nothing replaces the panel's texts under the test), filled as pNR with its
    starter weights, the longest texts the panel shows."""
    w = MainWindow()
    w.confirm_close = False
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    panel = w.engine_panel
    panel.set_catalogue(dict(backends=[dict(b) for b in (WARP, DGANSA, PNR)], unavailable={}, cuda=False))
    panel.set_backend_info(info(PNR))
    panel.set_timing(2200.0, 101.0)
    qtbot.wait(50)
    return w


def nothing_cut(w):
    """The panel fits the dock's scroll area: no sideways scrolling, no label running past the right edge."""
    scroll, panel = w.engine_dock.widget(), w.engine_panel
    vp = scroll.viewport()
    assert scroll.horizontalScrollBar().maximum() == 0 and scroll.horizontalScrollBar().value() == 0
    assert panel.width() <= vp.width(), (panel.width(), vp.width())
    for label in panel.findChildren(QLabel):
        if label.isVisibleTo(panel) and label.text():
            right = label.mapTo(vp, QPoint(label.width(), 0)).x()
            assert right <= vp.width(), (label.text()[:40], right, vp.width())


def test_a_narrow_saved_dock_comes_back_widened_and_nothing_is_cut(qtbot):
    w = window(qtbot)
    panel = w.engine_panel
    w.resizeDocks([w.engine_dock], [120], Qt.Orientation.Horizontal)  # dragged as narrow as it goes
    qtbot.wait(50)
    nothing_cut(w)
    assert w.engine_dock.width() >= panel.minimumWidth() > 150
    close_window(w)  # saves the layout, as quitting does
    qtbot.wait(50)

    w = window(qtbot)  # the next run restores it
    narrowest = w.engine_dock.width()
    assert narrowest >= w.engine_panel.minimumWidth()
    nothing_cut(w)
    # Tab walks through the window into the dock: it scrolls up and down, never sideways
    scroll, reached = w.engine_dock.widget(), set()
    w.activateWindow()
    w.canvas.setFocus()
    for _ in range(40):
        QTest.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_Tab)
        f = QApplication.focusWidget()
        if f is not None and w.engine_panel.isAncestorOf(f):
            reached.add(f)
            assert scroll.horizontalScrollBar().value() == 0, f
            top = f.mapTo(scroll.viewport(), QPoint(0, 0))
            assert 0 <= top.x() and top.x() + f.width() <= scroll.viewport().width()
    assert w.engine_panel.train_btn in reached and w.engine_panel.device in reached
    close_window(w)


def test_the_backend_box_cuts_a_long_title_with_an_ellipsis_and_says_it_whole(qtbot):
    w = window(qtbot)
    box = w.engine_panel.backend
    w.resizeDocks([w.engine_dock], [120], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    box.setCurrentIndex(box.findData("dgan-sa"))
    full = "Deformable GAN + self-attention · starter"
    assert box.currentText() == full
    shown = box.shown_text()
    assert shown.endswith("…") and full.startswith(shown[:-1]) and len(shown) < len(full)
    assert box.toolTip().startswith(full) and "self-attention layers" in box.toolTip()
    # a wide dock shows it whole
    w.resizeDocks([w.engine_dock], [500], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    assert box.shown_text() == full
    # the weights text names a loaded file without its folders (a path cannot wrap); the tooltip has the path
    path = "/home/someone/.local/share/PoseEditor/weights/a-rather-long-name-for-the-weights-of-anna.safetensors"
    w.engine_panel.set_backend_info(dict(info(PNR), weights_kind="file", weights_label="Anna", weights_path=path))
    w.resizeDocks([w.engine_dock], [120], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    assert "Anna" in w.engine_panel.weights.text() and path not in w.engine_panel.weights.text()
    assert path in w.engine_panel.weights.toolTip()
    nothing_cut(w)
    close_window(w)


def test_the_wheel_turns_the_backend_box_only_once_it_has_the_focus(qtbot):
    # Scrolling the panel over the box switched the engine (a network's load of seconds, mid-drag: a newcomer's
    # review). Without the focus the wheel goes past it; clicked or tabbed to, it turns it.
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    w = window(qtbot)
    box = w.engine_panel.backend
    box.activated.disconnect()  # the engine is not started here: what a choice asks of it is not this test's
    chosen = []
    box.activated.connect(chosen.append)
    box.setCurrentIndex(box.findData("warp"))
    w.canvas.setFocus()
    qtbot.waitUntil(lambda: not box.hasFocus(), timeout=2000)
    before = box.currentIndex()

    def wheel():
        centre = QPointF(box.rect().center())
        ev = QWheelEvent(centre, QPointF(box.mapToGlobal(box.rect().center())), QPoint(0, 0), QPoint(0, -120),
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                         False)
        QApplication.sendEvent(box, ev)

    wheel()
    assert box.currentIndex() == before and not chosen and box.focusPolicy() == Qt.FocusPolicy.StrongFocus
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    wheel()
    assert box.currentIndex() != before and chosen == [box.currentIndex()]
    close_window(w)
