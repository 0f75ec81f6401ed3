"""The pose canvas: the reference photo with the skeleton on top; joints are handles the user drags.

Built on QGraphicsView rather than pyqtgraph's ViewBox, because what the canvas needs is exactly what the plain
graphics view does well and pyqtgraph would have to be worked around for:
- handles that keep their screen size at any zoom are ordinary items with ItemIgnoresTransformations, and limb
  lines keep their width with cosmetic pens; each handle gets its own hover cursor, tooltip, context menu and
  mouse grab, with no hit-testing of our own;
- a press on a handle grabs the mouse for that item and a press on the photo pans (ScrollHandDrag), so the two
  never fight; pyqtgraph's own drag state machine (drag thresholds, its mouse-event classes) gets in between
  and is awkward to drive with real synthetic mouse events in tests;
- wheel zoom under the cursor and fit-to-view are two built-in calls (AnchorUnderMouse, fitInView).
The canvas only shows a pose and reports drags; the main window turns drags into undo commands.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (QGraphicsEllipseItem, QGraphicsItem, QGraphicsLineItem, QGraphicsPixmapItem,
                               QGraphicsRectItem, QGraphicsScene, QGraphicsView)

from engine.pose import JOINT_COLORS, LIMB_COLORS, LIMBS, NUM_JOINTS, Pose

from .commands import joint_label
from .widgets import TopEdge

HANDLE_RADIUS = 6.5      # screen pixels, whatever the zoom
LIMB_WIDTH = 4.0         # screen pixels
ZOOM_RANGE = (0.05, 40.0)
NUDGE_STEPS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
NUDGE_SHIFT = 10         # screen pixels per arrow press with Shift; 1 without
# the keys the canvas handles itself, for the shortcut list (F1), which reads every other key from the menus
KEYS = [("Nudge the selected joint 1 screen pixel (10 with Shift)", "arrow keys"),
        ("Nudge it from the Joints list", "Alt+arrow keys"),
        ("Choose a joint in the Joints list", "Up / Down"),
        ("Move a joint alone, stretching its bones", "Shift or Alt while dragging"),
        ("Zoom the photo and the result", "mouse wheel over either"),
        ("Pan the photo and the result", "drag either")]


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: own the pixels


class JointHandle(QGraphicsEllipseItem):
    def __init__(self, canvas: "PoseCanvas", joint: int):
        r = HANDLE_RADIUS
        super().__init__(-r, -r, 2 * r, 2 * r)
        self.canvas, self.joint = canvas, joint
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip(joint_label(joint).capitalize())
        self.setZValue(10)
        self.set_selected(False)

    def set_selected(self, on: bool):
        c = QColor(*JOINT_COLORS[self.joint])
        self.setBrush(QBrush(c))
        pen = QPen(QColor(255, 255, 255) if on else QColor(20, 20, 20), 3.0 if on else 1.5)
        pen.setCosmetic(True)
        self.setPen(pen)
        r = HANDLE_RADIUS * (1.35 if on else 1.0)
        self.setRect(-r, -r, 2 * r, 2 * r)

    def hoverEnterEvent(self, e):
        self.setScale(1.25)
        super().hoverEnterEvent(e)

    def hoverLeaveEvent(self, e):
        self.setScale(1.0)
        super().hoverLeaveEvent(e)

    def mousePressEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton:
            e.accept()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            self.canvas._begin_drag(self.joint, e.scenePos())
        else:
            e.ignore()

    def mouseMoveEvent(self, e):
        # where the pointer is on screen, in the scene as the view shows it now: when the view scrolls under a
        # still pointer (a banner appearing mid-drag), Qt replays the last move at its old place in the view, and
        # the joint jumped by the banner's height
        v = self.canvas
        self.canvas._drag_to(self.joint, v.mapToScene(v.viewport().mapFromGlobal(e.screenPos())), e.modifiers())

    def mouseReleaseEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.canvas._end_drag(self.joint, e.scenePos())

    def sceneEvent(self, e):
        # the grab was taken mid-drag (a popup, a stray pointer event): end the drag as a release would, or the
        # canvas would stay "dragging" (no final render, fit and zoom refused) until the next press. (Caught
        # here: PySide6 does not route QGraphicsItem.ungrabMouseEvent to a Python override.)
        if e.type() == QEvent.Type.UngrabMouse and self.canvas.dragging == self.joint:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.canvas._end_drag(self.joint, None)
        return super().sceneEvent(e)

    def contextMenuEvent(self, e):
        e.accept()
        self.canvas.jointMenuRequested.emit(self.joint, e.screenPos())


class PoseCanvas(QGraphicsView):
    dragStarted = Signal(int)
    jointDragged = Signal(int, float, float)     # joint, x, y in photo pixels; free_drag says how it moves
    dragFinished = Signal(int)
    jointMenuRequested = Signal(int, object)      # joint, global QPoint
    canvasMenuRequested = Signal(object, object)  # scene QPointF, global QPoint
    jointSelected = Signal(int)
    zoomChanged = Signal(float)
    viewChanged = Signal()                        # the photo moved on the viewport: zoomed, panned, resized
    filesDropped = Signal(list)                   # local file paths (str) dropped on the canvas
    jointNudged = Signal(int, float, float, bool)  # joint, dx, dy in photo pixels, a held key's repeat (arrow keys)
    boxDrawn = Signal(object)                     # (x0, y0, x1, y1) photo pixels, or None: the box mode ended

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setBackgroundBrush(QColor(38, 40, 46))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        # panning is by dragging the photo; scroll bars would only take room from it
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(240, 240)
        self.setAcceptDrops(True)  # image files dropped on the photo are handed to the main window

        self.photo = QGraphicsPixmapItem()
        self.photo.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.photo)
        # the original pose as a dashed line with a dark under-stroke, readable on light and dark photos alike
        self.ghost_items = []
        for _ in LIMBS:
            pair = []
            for color, width, style, z in ((QColor(0, 0, 0, 120), 3.5, Qt.PenStyle.SolidLine, 3),
                                           (QColor(255, 255, 255, 230), 1.6, Qt.PenStyle.DashLine, 4)):
                item = QGraphicsLineItem()
                pen = QPen(color, width, style)
                pen.setCosmetic(True)
                item.setPen(pen)
                item.setZValue(z)
                item.setVisible(False)
                self.scene().addItem(item)
                pair.append(item)
            self.ghost_items.append(pair)
        self.limb_items = []
        for (a, b), c in zip(LIMBS, LIMB_COLORS):
            item = QGraphicsLineItem()
            pen = QPen(QColor(*c, 215), LIMB_WIDTH)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            item.setPen(pen)
            item.setZValue(5)
            item.setVisible(False)
            self.scene().addItem(item)
            self.limb_items.append(item)
        # the box the user draws round a person in box mode (set_box_mode)
        self.box_item = QGraphicsRectItem()
        pen = QPen(QColor(255, 210, 60), 2.0, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.box_item.setPen(pen)
        self.box_item.setBrush(QColor(255, 210, 60, 40))
        self.box_item.setZValue(20)
        self.box_item.setVisible(False)
        self.scene().addItem(self.box_item)
        self.box_mode = False
        self._box_start: QPointF | None = None
        self.handles = [JointHandle(self, j) for j in range(NUM_JOINTS)]
        for h in self.handles:
            h.setVisible(False)
            self.scene().addItem(h)

        self.pose: Pose | None = None
        self.ghost: Pose | None = None
        self.show_ghost = True
        self.selected = -1
        self.dragging = -1
        self.free_drag = False
        self._grab_offset = QPointF()
        self._auto_fit = True
        self._top_edge = TopEdge(self)
        self._rgb = None
        # what the pane says when it has no photo, and what it is busy with (drawn over the photo): an empty or
        # skeleton-less canvas always says why
        self.placeholder = "Open a photo of a person (Ctrl+O), or drop it here."
        self.message = ""

    # ----- content ----------------------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None):
        if rgb is None:
            self._rgb = None
            self.photo.setPixmap(QPixmap())
            self.set_pose(None)
            self.viewport().update()
            self.viewChanged.emit()
            return
        if rgb is not self._rgb:  # the photo shown before detection comes again with its skeleton: convert once
            self._rgb = rgb
            self.photo.setPixmap(QPixmap.fromImage(to_qimage(rgb)))
        h, w = rgb.shape[:2]
        m = 0.25 * max(w, h)  # room to pan past the edges and to drag a joint near them
        self.scene().setSceneRect(QRectF(-m, -m, w + 2 * m, h + 2 * m))
        self._auto_fit = True
        self.fit()

    def set_message(self, text: str):
        """Say what the pane is waiting for ("Finding the person…"); "" to clear."""
        if text != self.message:
            self.message = text
            self.viewport().update()

    def drawForeground(self, painter, rect):
        has_photo = not self.photo.pixmap().isNull()
        text = self.message or ("" if has_photo else self.placeholder)
        if not text:
            return
        painter.save()
        painter.resetTransform()  # viewport pixels
        vp = QRectF(self.viewport().rect())
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.1)
        painter.setFont(f)
        if not has_photo:  # the same look as the result pane's placeholder
            painter.setPen(QColor(170, 170, 178))
            painter.drawText(vp.adjusted(24, 24, -24, -24), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             text)
        else:  # a label over the top of the photo, readable on light and dark photos
            fm = painter.fontMetrics()
            w = min(fm.horizontalAdvance(text) + 28, vp.width() - 16)
            box = QRectF(vp.center().x() - w / 2, 12, w, fm.height() + 14)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(20, 22, 26, 215))
            painter.drawRoundedRect(box, box.height() / 2, box.height() / 2)
            painter.setPen(QColor(235, 238, 245))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                             fm.elidedText(text, Qt.TextElideMode.ElideRight, int(w - 20)))
        painter.restore()

    def image_size(self) -> tuple[int, int]:
        pm = self.photo.pixmap()
        return pm.width(), pm.height()

    def set_pose(self, pose: Pose | None):
        self.pose = pose.copy() if pose is not None else None
        self._sync()

    def set_ghost(self, pose: Pose | None):
        self.ghost = pose.copy() if pose is not None else None
        self._sync()

    def set_show_ghost(self, on: bool):
        self.show_ghost = on
        self._sync()

    def select(self, joint: int):
        if self.selected == joint:
            return
        if 0 <= self.selected < NUM_JOINTS:
            self.handles[self.selected].set_selected(False)
        self.selected = joint
        if 0 <= joint < NUM_JOINTS:
            self.handles[joint].set_selected(True)
        self.jointSelected.emit(joint)

    def _sync(self):
        p = self.pose
        for j, h in enumerate(self.handles):
            on = p is not None and bool(p.present[j])
            h.setVisible(on)
            if on:
                h.setPos(float(p.xy[j, 0]), float(p.xy[j, 1]))
        for (a, b), item in zip(LIMBS, self.limb_items):
            on = p is not None and bool(p.present[a] and p.present[b])
            item.setVisible(on)
            if on:
                item.setLine(*map(float, (*p.xy[a], *p.xy[b])))
        g = self.ghost if self.show_ghost else None
        differs = g is not None and p is not None and not (g == p)
        for (a, b), pair in zip(LIMBS, self.ghost_items):
            on = differs and bool(g.present[a] and g.present[b])
            for item in pair:
                item.setVisible(on)
                if on:
                    item.setLine(*map(float, (*g.xy[a], *g.xy[b])))

    # ----- geometry helpers (also used by tests to find where to click) ----------------------------------
    def joint_view_pos(self, joint: int):
        """Where joint ``joint`` is on the viewport, in viewport pixels (a QPoint)."""
        return self.mapFromScene(QPointF(*map(float, self.pose.xy[joint])))

    def zoom(self) -> float:
        return float(self.transform().m11())

    def photo_rect(self) -> QRectF:
        """Where the whole photo is on the viewport, in viewport pixels (fractions kept): the result pane draws
        its image there too, so the two panes show one view of the photo."""
        w, h = self.image_size()
        return self.viewportTransform().mapRect(QRectF(0, 0, w, h)) if w and h else QRectF()

    # ----- drag -------------------------------------------------------------------------------------------
    def _clamp(self, p: QPointF) -> tuple[float, float]:
        w, h = self.image_size()
        return float(min(max(p.x(), 0.0), w - 1.0)), float(min(max(p.y(), 0.0), h - 1.0))

    def _begin_drag(self, joint: int, scene_pos: QPointF):
        self.select(joint)
        self.dragging = joint
        self._grab_offset = self.handles[joint].pos() - scene_pos  # no jump when grabbed off-centre
        self.dragStarted.emit(joint)

    def _drag_to(self, joint: int, scene_pos: QPointF, modifiers=Qt.KeyboardModifier.NoModifier):
        if self.dragging != joint:
            return
        # Shift (or Alt) moves the joint alone; without, the skeleton keeps its bone lengths (posing.py)
        self.free_drag = bool(modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier))
        x, y = self._clamp(scene_pos + self._grab_offset)
        self.jointDragged.emit(joint, x, y)

    def _end_drag(self, joint: int, scene_pos: QPointF | None):
        if self.dragging != joint:
            return
        self.dragging = -1
        self.dragFinished.emit(joint)

    # ----- view -------------------------------------------------------------------------------------------
    def fit(self):
        w, h = self.image_size()
        if w and h and self.dragging < 0:
            # an 8-pixel screen margin, as the result pane has (a margin in photo pixels would grow with the zoom
            # and draw the photo smaller than the result beside it)
            vp = self.viewport().rect()
            z = min((vp.width() - 16) / w, (vp.height() - 16) / h)
            z = min(max(z, ZOOM_RANGE[0]), ZOOM_RANGE[1])
            self.setTransform(QTransform.fromScale(z, z))
            self.centerOn(w / 2, h / 2)
            self._auto_fit = True
            self.zoomChanged.emit(self.zoom())
            self.viewChanged.emit()

    def fit_box(self, x0: float, y0: float, x1: float, y1: float):
        """Show the photo's box (x0, y0)-(x1, y1) as large as the view holds it, centred (Zoom to Person)."""
        if self.dragging >= 0 or x1 <= x0 or y1 <= y0:
            return
        vp = self.viewport().rect()
        z = min((vp.width() - 16) / (x1 - x0), (vp.height() - 16) / (y1 - y0))
        z = min(max(z, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.setTransform(QTransform.fromScale(z, z))
        self.centerOn((x0 + x1) / 2, (y0 + y1) / 2)
        self._auto_fit = False
        self.zoomChanged.emit(self.zoom())
        self.viewChanged.emit()

    def zoom_by(self, factor: float, at: QPointF | None = None):
        """Zoom by ``factor`` about the pointer on the viewport (Qt's anchor), or about the viewport point ``at``
        (the wheel over the result pane, where the pointer is not on this viewport)."""
        if self.dragging >= 0:
            return
        z = self.zoom()
        factor = min(max(z * factor, ZOOM_RANGE[0]), ZOOM_RANGE[1]) / max(z, 1e-9)
        if at is None:
            self.scale(factor, factor)
        else:
            fixed = self.viewportTransform().inverted()[0].map(at)  # the photo point to keep under ``at``
            anchor = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            self.scale(factor, factor)
            self.setTransformationAnchor(anchor)
            d = self.viewportTransform().map(fixed) - at
            self.pan_by(-d.x(), -d.y())
        self._auto_fit = False
        self.zoomChanged.emit(self.zoom())
        self.viewChanged.emit()

    def pan_by(self, dx: float, dy: float):
        """Move the photo by (dx, dy) viewport pixels, as dragging it does (within its room to pan)."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(dx))
        v.setValue(v.value() - round(dy))

    def scrollContentsBy(self, dx: int, dy: int):
        super().scrollContentsBy(dx, dy)
        self.viewChanged.emit()

    def actual_size(self):
        self.zoom_by(1.0 / max(self.zoom(), 1e-9))

    def wheelEvent(self, e):
        steps = e.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.2 ** steps)
        e.accept()

    def resizeEvent(self, e):
        shift = self._top_edge.shift(e)
        if shift and self._rgb is not None:
            # a bar above the view (the banner) appeared or went: the photo stays where it is on screen, at its
            # zoom, and the bar covers or uncovers a strip of it (widgets.TopEdge says why)
            z = self.zoom()
            top = self.mapToScene(0, 0).y() + shift / z  # the photo's row the new top edge shows
            sr, height = self.sceneRect(), e.size().height() / z
            if top < sr.top() or top + height > sr.bottom():
                # a photo shorter than the view is centred in it by Qt: let the scene hold what stays on screen
                self.scene().setSceneRect(sr.united(QRectF(sr.left(), top, sr.width(), height)))
            self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            super().resizeEvent(e)
            self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.verticalScrollBar().setValue(round(top * z))
            self.viewChanged.emit()
            return
        super().resizeEvent(e)
        # never re-fit under a dragged joint: a transform change replays the last mouse event through the new
        # transform, which would throw the joint to a wrong place
        if self._auto_fit and self.dragging < 0:
            self.fit()
        self.viewChanged.emit()

    # ----- box mode: drag a box round a person ---------------------------------------------------------------
    def set_box_mode(self, on: bool):
        """While on, a left drag on the photo draws a box (not a pan, not a joint drag); its release emits
        boxDrawn and ends the mode. Escape ends it with boxDrawn(None)."""
        self.box_mode = on
        self._box_start = None
        self.box_item.setVisible(False)
        self.setDragMode(QGraphicsView.DragMode.NoDrag if on else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.OpenHandCursor)
        for h in self.handles:
            h.setAcceptedMouseButtons(Qt.MouseButton.NoButton if on else
                                      Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton)

    def _box_rect(self, end: QPointF) -> QRectF:
        w, h = self.image_size()
        return QRectF(self._box_start, end).normalized().intersected(QRectF(0, 0, w, h))

    def mouseMoveEvent(self, e):
        if self.box_mode and self._box_start is not None:
            self.box_item.setRect(self._box_rect(self.mapToScene(e.position().toPoint())))
            e.accept()
            return
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e):
        if self.box_mode and self._box_start is not None and e.button() == Qt.MouseButton.LeftButton:
            r = self._box_rect(self.mapToScene(e.position().toPoint()))
            self.set_box_mode(False)
            e.accept()
            self.boxDrawn.emit((r.left(), r.top(), r.right(), r.bottom()) if r.width() >= 1 and r.height() >= 1
                               else None)
            return
        super().mouseReleaseEvent(e)

    def mousePressEvent(self, e):
        if self.box_mode:
            if e.button() == Qt.MouseButton.LeftButton and self._rgb is not None:
                self._box_start = self.mapToScene(e.position().toPoint())
                self.box_item.setRect(QRectF(self._box_start, self._box_start))
                self.box_item.setVisible(True)
            e.accept()
            return
        item = self.itemAt(e.position().toPoint())
        if not isinstance(item, JointHandle) and e.button() == Qt.MouseButton.LeftButton:
            self.select(-1)
        super().mousePressEvent(e)

    def nudge_key(self, e) -> bool:
        """An arrow key press moves the selected joint by one screen pixel (ten with Shift), whatever the zoom:
        each press visibly moves the handle, and zooming in gives finer steps. True if it did."""
        d = NUDGE_STEPS.get(e.key())
        if d is None or self.pose is None or not 0 <= self.selected < NUM_JOINTS \
                or not self.pose.present[self.selected] or self.dragging >= 0:
            return False
        k = (NUDGE_SHIFT if e.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1) / max(self.zoom(), 1e-9)
        self.jointNudged.emit(self.selected, d[0] * k, d[1] * k, e.isAutoRepeat())
        e.accept()
        return True

    def keyPressEvent(self, e):
        if self.box_mode and e.key() == Qt.Key.Key_Escape:
            self.set_box_mode(False)
            self.boxDrawn.emit(None)
            e.accept()
            return
        if not self.nudge_key(e):
            super().keyPressEvent(e)

    # the scene has no drop targets: files dropped on the photo are for the window (open / add references)
    def dragEnterEvent(self, e):
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dragMoveEvent(self, e):
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e):
        paths = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if paths:
            e.acceptProposedAction()
            self.filesDropped.emit(paths)

    def contextMenuEvent(self, e):
        item = self.itemAt(e.pos())
        if isinstance(item, JointHandle):
            super().contextMenuEvent(e)  # the handle emits jointMenuRequested
            return
        self.canvasMenuRequested.emit(self.mapToScene(e.pos()), e.globalPos())


class NudgeFromList(QObject):
    """Installed on the Joints list: Alt+arrows nudge the selected joint there, as the arrows do on the photo,
    while the list keeps its plain Up/Down for choosing the joint."""

    def __init__(self, canvas: PoseCanvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas

    def eventFilter(self, obj, e):
        return (e.type() == QEvent.Type.KeyPress and bool(e.modifiers() & Qt.KeyboardModifier.AltModifier)
                and self.canvas.nudge_key(e))
