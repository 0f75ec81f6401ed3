"""Small widgets shared by the panels: a busy spinner, a label that elides instead of clipping, and the rule
that tells a bar appearing above a pane from any other resize (TopEdge)."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt, QTimer
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class Spinner(QWidget):
    """A small rotating arc: shown while a render is running."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedSize(18, 18)
        self._angle = 0
        self._timer = QTimer(self, interval=60, timeout=self._tick)
        self.setVisible(False)
        self.setToolTip("Working: rendering, or loading a backend")

    def set_busy(self, busy: bool):
        self.setVisible(busy)
        (self._timer.start if busy else self._timer.stop)()

    def _tick(self):
        self._angle = (self._angle + 30) % 360
        self.update()

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.palette().highlight().color(), 2.5)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        r = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        p.drawArc(r, -self._angle * 16, 270 * 16)


class ElidedLabel(QLabel):
    """One line of plain text, cut with "…" to the width the layout gives it (QLabel would clip it mid-letter
    and let it run under its neighbours). ``full_text`` keeps the whole text; it also goes to the tooltip unless
    one is set."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        # a longer text must not widen the pane (the splitter would move the canvas under the user's drag)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str):
        self._full = text
        self._elide()

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self._elide()

    def _elide(self):
        width = max(0, self.contentsRect().width())
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width))


class TopEdge:
    """Tells a resize that only moved a widget's top edge in its window (a bar above it, the banner, appeared
    or went; the bottom and the width stayed) from any other resize (the window, the splitter, a dock).

    The photo and the result keep their place on screen for the first kind: re-fitting, or even keeping the
    view's centre, moved the photo under the cursor of someone about to drag a joint or draw a box."""

    def __init__(self, widget: QWidget):
        self.widget = widget
        self.y: int | None = None

    def shift(self, e) -> int:
        """For the resize event ``e``: how far down the top edge moved if that is all that changed, else 0."""
        y = self.widget.mapTo(self.widget.window(), QPoint(0, 0)).y()
        moved, self.y = (0 if self.y is None else y - self.y), y
        old, new = e.oldSize(), e.size()
        if moved and old.isValid() and new.width() == old.width() and new.height() == old.height() - moved:
            return moved
        return 0
