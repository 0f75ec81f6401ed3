"""The keyboard's focus shows on the dark theme (poseeditor/theme.py): a light ring round the widget Tab reached,
none after a click, as Fusion itself decides."""
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QVBoxLayout, QWidget

from poseeditor.theme import RING


def ring_pixels(widget) -> int:
    """How many of the widget's own pixels are the ring's colour (within a few levels: antialiasing)."""
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3]
    a = a.reshape(img.height(), img.width(), 3).astype(int)
    return int((np.abs(a - [RING.red(), RING.green(), RING.blue()]).max(-1) <= 12).sum())


def test_tab_rings_the_focused_widget_and_a_click_does_not(qtbot, qapp):
    box = QWidget()
    lay = QVBoxLayout(box)
    first, button, combo, field = QPushButton("First"), QPushButton("Manage weights…"), QComboBox(), QLineEdit("x")
    combo.addItems(["Warp (instant)", "DGAN"])
    for w in (first, button, combo, field):
        lay.addWidget(w)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    unfocused = {w: ring_pixels(w) for w in (button, combo, field)}
    assert max(unfocused.values()) < 10, unfocused          # the light blue is nowhere without the focus
    box.activateWindow()
    qtbot.waitUntil(box.isActiveWindow)     # a key sent to a window not yet active moves no focus
    first.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(first.hasFocus)
    for w in (button, combo, field):
        QTest.keyClick(box.focusWidget(), Qt.Key.Key_Tab)
        qtbot.waitUntil(lambda w=w: w.hasFocus())
        # a ring round the whole widget: at least its perimeter, once
        assert ring_pixels(w) > w.width() + w.height(), (w, ring_pixels(w))
    # a click gives the focus without the ring (Fusion's own rule: the keyboard asked for it, or not)
    box2 = QWidget()
    b2 = QPushButton("Clicked", box2)
    qtbot.addWidget(box2)
    box2.show()
    qtbot.waitExposed(box2)
    box2.activateWindow()
    qtbot.waitUntil(box2.isActiveWindow)
    QTest.mouseClick(b2, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(b2.hasFocus)
    assert ring_pixels(b2) < 10
