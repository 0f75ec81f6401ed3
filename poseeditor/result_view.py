"""The result pane: the generated image, which backend and tier drew it, how long it took, and a busy spinner.

The image is painted by a plain QWidget: it is redrawn on every live render, and a custom paintEvent is the
cheapest way to show a new frame. In the window the pane follows the photo's view (``follow``): it draws the
result where the canvas beside it draws the photo, at the canvas's zoom and pan, so the two panes show the same
region at the same scale, and its wheel and drags zoom and pan the canvas (and so both). There is one view
transform, the canvas's: with a layout rule of its own the pane drifted from the photo (it kept its place
for a banner while the canvas re-fitted under it). ``painted`` is emitted once a new result has actually been
drawn, which is where the latency benchmark stops its clock.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from .canvas import to_qimage
from .render_tiers import NOTHING_TO_REPAINT
from .widgets import ElidedLabel, Spinner

PLACEHOLDER = "The person, reposed, appears here."
TIER_TEXT = {"live": "Live", "final": "Final", "preview": "Warp preview",
             "fallback": "Warp stand-in"}
ORIGINAL_TEXT = ("Original", "the photo as it was, before your edits",
                 "Original: the photo as it was, before your edits (release Original to see the result again).")


class ImagePane(QWidget):
    painted = Signal(int)   # sequence number of the result just drawn

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.qimage = None
        self.seq = 0
        self._painted_seq = 0
        self.placeholder = PLACEHOLDER
        self.view = None       # the PoseCanvas whose view of the photo this pane shows (follow)
        self._pan_from: QPointF | None = None  # where a drag here began
        self._panned = QPointF()                # and how far it has panned the view so far (whole pixels)

    def follow(self, view):
        """Show the image where ``view`` (a PoseCanvas) shows its photo, whatever size the image is (a render at
        another resolution is the whole photo all the same), and let the wheel and drags here zoom and pan it."""
        self.view = view
        view.viewChanged.connect(self.update)

    def _following(self) -> bool:
        return self.view is not None and not self.view.photo_rect().isEmpty()

    def _offset(self) -> QPointF:
        """From the view's viewport to this pane: the two are centred on each other (the same height, side by
        side; a narrower or wider pane shows the same centre)."""
        return QRectF(self.rect()).center() - QRectF(self.view.viewport().rect()).center()

    def set_image(self, rgb: np.ndarray | None, seq: int = 0, qimage=None):
        self.qimage = qimage if qimage is not None else to_qimage(rgb) if rgb is not None else None
        self.seq = seq
        if self._pan_from is None:  # a hand where a drag pans the photo's view
            self.setCursor(Qt.CursorShape.OpenHandCursor if self.view is not None and self.qimage is not None
                           else Qt.CursorShape.ArrowCursor)
        self.update()

    def target_rect(self) -> QRectF:
        """Where the whole image is drawn, in the pane's pixels (it may run past the pane when zoomed in)."""
        if self.qimage is None:
            return QRectF()
        if self._following():
            return self.view.photo_rect().translated(self._offset())
        # no photo to follow (the pane on its own): fitted, with the canvas's 8-pixel margin
        iw, ih = self.qimage.width(), self.qimage.height()
        s = min((self.width() - 16) / iw, (self.height() - 16) / ih)
        w, h = iw * s, ih * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    # the wheel and a drag here zoom and pan the photo's view, which this pane follows
    def wheelEvent(self, e):
        steps = e.angleDelta().y() / 120.0
        if steps and self._following():
            self.view.zoom_by(1.2 ** steps, at=e.position() - self._offset())
        e.accept()

    def mousePressEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton and self._following():
            self._pan_from, self._panned = e.position(), QPointF()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            e.accept()
            return
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e):
        if self._pan_from is not None:
            # the view scrolls in whole pixels: pan by what the whole drag has moved, less what is done, so the
            # rounding of many small moves does not add up
            d = e.position() - self._pan_from
            step = QPointF(round(d.x()), round(d.y())) - self._panned
            self._panned += step
            self.view.pan_by(step.x(), step.y())
            e.accept()
            return
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e):
        if self._pan_from is not None and e.button() == Qt.MouseButton.LeftButton:
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            e.accept()
            return
        super().mouseReleaseEvent(e)

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
            # only the part on screen: zoomed in on a large photo, the whole image would be scaled to many
            # times the pane's size on every live frame
            r = self.target_rect()
            shown = r.intersected(QRectF(self.rect()))
            if not shown.isEmpty():
                sx, sy = self.qimage.width() / r.width(), self.qimage.height() / r.height()
                src = QRectF((shown.left() - r.left()) * sx, (shown.top() - r.top()) * sy,
                             shown.width() * sx, shown.height() * sy)
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                p.drawImage(shown, self.qimage, src)
        p.end()
        if self.seq != self._painted_seq:
            self._painted_seq = self.seq
            self.painted.emit(self.seq)


def _ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def describe(res) -> tuple[str, str, str]:
    """(badge, short line, full explanation) for a RenderResult: the header shows the first two, the tooltip and
    the status bar the third. Between them, the badge and the short line always say which backend drew the
    image, in which tier, and how long it took; the warp tiers name the warp backend in the badge."""
    tier, chosen, ms = res.tier, res.chosen, _ms(res.ms)
    if tier == "preview":
        short = f"{ms} · {chosen} draws on release"
        full = (f"Live preview: the fast warp backend follows the drag because {chosen} is too slow for that; "
                f"{chosen} draws the final image when you let go of the joint.")
    elif tier == "fallback" and "starting" in res.note:
        short = f"{ms} · loading {chosen}…"
        full = f"Stand-in: drawn by the warp backend while the {chosen} backend loads."
    elif tier == "fallback":
        short = f"{ms} · {chosen} has no weights"
        full = (f"Stand-in: drawn by the warp backend because {chosen} has no weights. Load weights or use "
                f"Engine > Train on This Person.")
    elif res.note == NOTHING_TO_REPAINT:
        # the picture is the warp backend's, pixel for pixel: a newcomer took five identical pictures for a fault
        short = f"{res.backend} · {ms} · nothing to repaint: as warp"
        full = (f"{'Live' if tier == 'live' else 'Final'} render by {chosen}, which had nothing to repaint: the "
                f"edit moves only parts it leaves to the photo (with starter weights, all but a torso whose shape "
                f"changes; the head always), moved as the warp backend moves them.")
    elif tier == "live":
        short = f"{res.backend} · {ms}"
        full = f"Live: drawn by {chosen} while you drag (it is fast enough to follow)."
    else:
        short = f"{res.backend} · {ms}"
        full = f"Final render by {chosen}."
    full += f" Render time {ms}"
    if res.encode_ms > 5:
        full += f", plus {_ms(res.encode_ms)} reading the reference photos (once for a set of photos, not each render)"
    return TIER_TEXT[tier], short, full + "."


class ResultView(QWidget):
    """Header (title, tier badge, backend and time, spinner, hold-to-compare) over the image pane.

    The header never grows with its text: the short line is elided to the room left between the badge and the
    buttons, and the whole explanation is in the tooltips (and the main window's status bar)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result = None
        self.image: np.ndarray | None = None
        self.details = ""    # the full explanation of what is shown (tooltip, status bar)
        header = QWidget()
        header.setObjectName("resultHeader")
        head = QHBoxLayout(header)
        head.setContentsMargins(10, 4, 6, 4)
        head.setSpacing(6)
        title = QLabel("<b>Result</b>")
        self.tier = QLabel("")
        self.tier.setObjectName("tierBadge")
        self.info = ElidedLabel("")
        # however narrow the pane, the render time stays readable ("1.14 s…"): the line starts with it or the name
        self.info.setMinimumWidth(self.info.fontMetrics().horizontalAdvance("dgan · 0.00 s…"))
        self.spinner = Spinner()
        keep = self.spinner.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # the text beside it must not jump when a render starts or ends
        self.spinner.setSizePolicy(keep)
        self._busy = False
        self.activity = ""   # what is loading ("Loading Deformable GAN…"): shown instead of the short line
        self.chosen = ("", "")  # (name, title) of the backend in use: a result another drew is the one before
        self._short = ""
        self._result_badge: tuple[str, QColor | None] = ("", None)
        self._badge_color: QColor | None = None
        self.original: np.ndarray | None = None
        self.holding = False  # Original is held: the pane shows the photo as it was, and the header says so
        self.compare = QToolButton()
        self.compare.setText("Original")
        self.compare.setToolTip("Hold to see the photo as it was, for comparison")
        self.compare.setAutoRaise(True)
        self.compare.pressed.connect(self._show_original)
        self.compare.released.connect(self._show_result)
        head.addWidget(title)
        head.addWidget(self.tier)
        head.addWidget(self.info, 1)
        head.addWidget(self.spinner)
        head.addWidget(self.compare)
        self.header = header
        self.pane = ImagePane()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(header)
        lay.addWidget(self.pane, 1)
        self._header()
        self._update_compare()

    def follow(self, view):
        """Draw the result where ``view`` (the PoseCanvas) draws the photo: one view of both (ImagePane.follow)."""
        self.pane.follow(view)

    def _header(self):
        """The badge, the short line and their tooltips for what the pane shows: the result, or the original
        while it is held (the result's words over the photo as it was said the photo was the render)."""
        if self.holding:
            badge, short, tip = ORIGINAL_TEXT
            color = QColor(96, 100, 112)
        elif self.activity and self.result is not None:
            # another backend loads: the badge names who drew the picture still shown ("Final" beside "Loading
            # Deformable GAN…" read as the network's final render)
            badge, short, color = self.result.backend, "", QColor(96, 100, 112)
            tip = f"{self.activity} Until then the picture is the last render. {self.details}"
        elif self._drawn_before():
            # loaded, its first picture not yet drawn: the old one's "Final" read as the new backend's
            badge, color = self.result.backend, QColor(96, 100, 112)
            short = f"rendering {self.chosen[1]}…" if self._busy else ""
            tip = f"Drawn before {self.chosen[1]} was chosen. {self.details}"
        else:
            (badge, color), short, tip = self._result_badge, self._short, self.details
        self._badge(badge, color)
        self.info.setText(self.activity or short)
        for w in (self.tier, self.info):
            w.setToolTip(tip)

    def _badge(self, text: str, color: QColor | None):
        self.tier.setText(text)
        self.tier.setVisible(bool(text))
        if color is not None and color != self._badge_color:  # a style sheet set is a restyle: not per render
            self._badge_color = QColor(color)
            self.tier.setStyleSheet(f"QLabel#tierBadge {{ background: {color.name()}; color: white; "
                                    f"border-radius: 4px; padding: 1px 6px; font-weight: 600; }}")

    def set_original(self, rgb: np.ndarray | None):
        self.original = rgb
        self._update_compare()

    def _update_compare(self):
        """Original can only be held up when there is a photo and a result to compare it with."""
        self.compare.setEnabled(self.original is not None and self.result is not None)

    def _show_original(self):
        if self.original is not None and self.result is not None:
            self.holding = True
            self.pane.set_image(self.original, self.pane.seq)
            self._header()

    def _show_result(self):
        if not self.holding:
            return
        self.holding = False
        if self.result is not None:
            self.pane.set_image(self.result.image, self.result.seq, self.result.qimage)
        self._header()

    def _drawn_before(self) -> bool:
        """The picture shown was drawn by the backend in use before the one chosen now (its first not yet here)."""
        return self.result is not None and bool(self.chosen[0]) and self.result.chosen != self.chosen[0]

    def set_busy(self, busy: bool):
        self._busy = busy
        self.spinner.set_busy(busy or bool(self.activity))
        if self._drawn_before():  # "rendering …" comes and goes with the render; else nothing to redo per render
            self._header()

    def set_chosen(self, name: str, title: str):
        """The backend now in use (``name`` as results carry it, ``title`` as the user reads it)."""
        self.chosen = (name, title)
        self._header()

    def set_activity(self, text: str):
        """A backend or weights file is loading: say so in the header, with the spinner, until "" comes."""
        self.activity = text
        self._header()
        self.spinner.set_busy(self._busy or bool(text))

    def final_pending(self):
        """The drag ended over a warp preview: say the chosen backend is now drawing the final image."""
        res = self.result
        if res is not None and res.tier == "preview":
            self._short = f"{_ms(res.ms)} · rendering {res.chosen}…"
            self._header()

    def show_result(self, res):
        """Show a RenderResult: the image, and in words which backend/tier drew it and how fast."""
        self.result, self.image = res, res.image
        self._update_compare()
        if not self.holding:  # while the original is held up, the new result (and its words) wait their turn
            self.pane.set_image(res.image, res.seq, res.qimage)
        colors = {"live": QColor(46, 125, 50), "final": QColor(21, 101, 192), "preview": QColor(230, 124, 0),
                  "fallback": QColor(150, 90, 30)}
        badge, self._short, self.details = describe(res)
        self._result_badge = (badge, colors[res.tier])
        self._header()

    def clear(self, message: str | None = None):
        self.result, self.image = None, None
        self._update_compare()
        if message:
            self.pane.placeholder = message
        self.pane.set_image(None)
        self.holding = False
        self._result_badge, self._short, self.details = ("", None), "", ""
        self._header()
