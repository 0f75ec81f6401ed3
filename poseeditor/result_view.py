"""The result pane: the generated image, which backend and tier drew it, how long it took, and a busy spinner.

The image is painted scaled to fit (aspect kept) by a plain QWidget: it is redrawn on every live render, and
a custom paintEvent is the cheapest way to show a new frame. ``painted`` is emitted once a new result has
actually been drawn, which is where the latency benchmark stops its clock.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from .canvas import to_qimage

TIER_TEXT = {"live": "Live", "final": "Final", "preview": "Live preview", "fallback": "Stand-in"}


class Spinner(QWidget):
    """A small rotating arc: shown while a render is running."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedSize(18, 18)
        self._angle = 0
        self._timer = QTimer(self, interval=60, timeout=self._tick)
        self.setVisible(False)
        self.setToolTip("Rendering...")

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


class ImagePane(QWidget):
    painted = Signal(int)   # sequence number of the result just drawn

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.qimage = None
        self.seq = 0
        self._painted_seq = 0
        self.placeholder = "Open a photo of a person (File > Open, or drop it here)."

    def set_image(self, rgb: np.ndarray | None, seq: int = 0, qimage=None):
        self.qimage = qimage if qimage is not None else to_qimage(rgb) if rgb is not None else None
        self.seq = seq
        self.update()

    def target_rect(self) -> QRectF:
        if self.qimage is None:
            return QRectF()
        iw, ih = self.qimage.width(), self.qimage.height()
        s = min((self.width() - 16) / iw, (self.height() - 16) / ih)
        w, h = iw * s, ih * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, e):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(38, 40, 46))
        if self.qimage is None:
            p.setPen(QColor(170, 170, 178))
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.1)
            p.setFont(f)
            p.drawText(self.rect().adjusted(24, 24, -24, -24),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(self.target_rect(), self.qimage)
        p.end()
        if self.seq != self._painted_seq:
            self._painted_seq = self.seq
            self.painted.emit(self.seq)


class ResultView(QWidget):
    """Header (title, tier badge, timing, spinner) over the image pane."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result = None
        self.image: np.ndarray | None = None
        head = QHBoxLayout()
        head.setContentsMargins(10, 6, 10, 6)
        title = QLabel("<b>Result</b>")
        self.tier = QLabel("")
        self.tier.setObjectName("tierBadge")
        self.info = QLabel("")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # a longer text must not widen the pane (the splitter would move the canvas under the user's drag)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setMinimumWidth(40)
        self.spinner = Spinner()
        self.original: np.ndarray | None = None
        self.compare = QToolButton()
        self.compare.setText("Original")
        self.compare.setToolTip("Hold to see the photo as it was, for comparison")
        self.compare.setAutoRaise(True)
        self.compare.pressed.connect(self._show_original)
        self.compare.released.connect(self._show_result)
        head.addWidget(title)
        head.addSpacing(6)
        head.addWidget(self.tier)
        head.addWidget(self.info, 1)
        head.addWidget(self.spinner)
        head.addWidget(self.compare)
        self.pane = ImagePane()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addWidget(self.pane, 1)
        self._badge("", None)

    def _badge(self, text: str, color: QColor | None):
        self.tier.setText(text)
        self.tier.setVisible(bool(text))
        if color is not None:
            self.tier.setStyleSheet(f"QLabel#tierBadge {{ background: {color.name()}; color: white; "
                                    f"border-radius: 4px; padding: 1px 6px; font-weight: 600; }}")

    def set_original(self, rgb: np.ndarray | None):
        self.original = rgb

    def _show_original(self):
        if self.original is not None and self.result is not None:
            self.pane.set_image(self.original, self.pane.seq)

    def _show_result(self):
        if self.result is not None:
            self.pane.set_image(self.result.image, self.result.seq, self.result.qimage)

    def set_busy(self, busy: bool):
        self.spinner.set_busy(busy)

    def show_result(self, res):
        """Show a RenderResult: the image, and in words which backend/tier drew it and how fast."""
        self.result, self.image = res, res.image
        if not self.compare.isDown():  # while the original is held up, the new result waits its turn
            self.pane.set_image(res.image, res.seq, res.qimage)
        tier = res.tier
        colors = {"live": QColor(46, 125, 50), "final": QColor(21, 101, 192), "preview": QColor(230, 124, 0),
                  "fallback": QColor(150, 90, 30)}
        self._badge(TIER_TEXT[tier], colors[tier])
        ms = f"{res.ms:.0f} ms" if res.ms < 1000 else f"{res.ms / 1000:.2f} s"
        text = f"{res.backend} · {ms}"
        if res.encode_ms > 5:
            text += f" (+{res.encode_ms:.0f} ms encoding the references)"
        if res.note:
            text += f" · {res.note}"
        self.info.setText(text)
        self.info.setToolTip(f"Drawn by the '{res.backend}' backend; you chose '{res.chosen}'.")

    def clear(self, message: str | None = None):
        self.result, self.image = None, None
        if message:
            self.pane.placeholder = message
        self.pane.set_image(None)
        self._badge("", None)
        self.info.setText("")
