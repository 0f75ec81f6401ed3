"""The reference strip: thumbnails of the photos of the same person, in order (the first is the one edited).

Add with the + button, File > Add Reference, or by dropping image files on the strip; remove with the
button or the Delete key; reorder by dragging thumbnails or with the arrow buttons. The first photo is the
one shown on the canvas; the others are extra views the multi-shot backends read.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QStyledItemDelegate, QStyleOptionViewItem, QToolButton, QWidget)

from .canvas import to_qimage

THUMB = 60
# the caption beside a thumbnail ("✎ name.jpg" / "14/18 joints") is as wide as its text, within these bounds
# (a fixed 104 px cut "placed by ha…" and most file names while the strip stood empty beside them)
CAPTION_WIDTH = (104, 240)


class _SideCaptionDelegate(QStyledItemDelegate):
    """List mode (so drag-and-drop reorders rows) with the caption beside the thumbnail, not under it: the
    strip is then one thumbnail high instead of a thumbnail and two text lines."""

    def initStyleOption(self, option, index):
        super().initStyleOption(option, index)
        option.decorationPosition = QStyleOptionViewItem.Position.Left
        option.displayAlignment = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter

    def sizeHint(self, option, index):
        lines = str(index.data(Qt.ItemDataRole.DisplayRole) or "").split("\n")
        text = max(option.fontMetrics.horizontalAdvance(line) for line in lines) + 16
        return QSize(THUMB + min(max(text, CAPTION_WIDTH[0]), CAPTION_WIDTH[1]), THUMB + 8)


def _placeholder(text: str) -> QPixmap:
    pm = QPixmap(THUMB, THUMB)
    pm.fill(QColor(60, 62, 70))
    p = QPainter(pm)
    p.setPen(QColor(200, 200, 205))
    p.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pm


class _StripList(QListWidget):
    """The thumbnails; when there are none, says what goes here rather than showing an empty box."""

    placeholder = ("Photos of the same person go here: more views help the multi-shot backends. Add with +, or "
                   "drop photos here.")

    def paintEvent(self, e):
        super().paintEvent(e)
        if self.count() == 0:
            p = QPainter(self.viewport())
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.viewport().rect().adjusted(12, 0, -12, 0),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                       self.placeholder)
            p.end()


class ReferenceStrip(QWidget):
    addRequested = Signal()
    removeRequested = Signal(int)          # reference id
    orderChanged = Signal(list)            # reference ids, new order

    def __init__(self, parent=None):
        super().__init__(parent)
        self.marked: set[int] = set()
        self.list = _StripList()
        self.list.setViewMode(QListView.ViewMode.ListMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setItemDelegate(_SideCaptionDelegate(self.list))
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setSpacing(2)
        # one row of items plus room for the scroll bar that appears when the photos do not fit across
        self.list.setFixedHeight(THUMB + 8 + 4 + 2 * self.list.frameWidth()
                                 + self.list.style().pixelMetric(self.list.style().PixelMetric.PM_ScrollBarExtent))
        self.list.setToolTip("Photos of the same person. The first is the one you edit; drag to reorder.")
        # bound methods, not lambdas: PySide keeps a connected lambda alive, and with it the closed window
        self.list.model().rowsMoved.connect(self._on_rows_moved)
        self.list.itemSelectionChanged.connect(self._update_buttons)

        def button(text, tip, slot):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.add_btn = button("+", "Add a reference photo of the same person", self.addRequested.emit)
        self.remove_btn = button("−", "Remove the selected photo", self._remove_selected)
        self.left_btn = button("◀", "Move the selected photo earlier (first = the one you edit)", self._move_earlier)
        self.right_btn = button("▶", "Move the selected photo later", self._move_later)
        for b in (self.add_btn, self.remove_btn, self.left_btn, self.right_btn):
            f = b.font()
            f.setPointSizeF(f.pointSizeF() * 1.2)
            b.setFont(f)
        side = QGridLayout()  # 2x2: four buttons in a column would make the strip taller than a thumbnail
        side.setSpacing(0)
        for k, b in enumerate((self.add_btn, self.remove_btn, self.left_btn, self.right_btn)):
            side.addWidget(b, k // 2, k % 2)
        side.setRowStretch(2, 1)
        # beside the list, not under it: the strip keeps one height whether the note shows or not
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setMaximumWidth(260)
        self.note.setStyleSheet("color: palette(placeholder-text);")
        self.note.setVisible(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addLayout(side)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.note)
        QShortcut(QKeySequence.StandardKey.Delete, self.list, self._remove_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self._update_buttons()

    def ids(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def set_references(self, refs, note: str = ""):
        """Rebuild the strip from the document's references (keeps the selection)."""
        sel = self.selected_id()
        self.marked = {r.id for r in refs[1:] if r.unlike}  # what the captions say of someone else
        self.list.blockSignals(True)
        self.list.clear()
        for k, r in enumerate(refs):
            name = r.path.rsplit("/", 1)[-1]
            if r.error and not r.hand_placed:
                status = "no person" if r.image is not None else "unreadable"
            elif r.image is None:
                status = "loading..."
            elif r.hand_placed:
                status = "placed by hand"
            else:
                status = f"{r.pose.count}/18 joints" if r.pose is not None else ""
            if k > 0 and r.unlike:
                status = f"⚠ {status}"
            shown = self.list.fontMetrics().elidedText(f"{'✎ ' if k == 0 else ''}{name}",
                                                       Qt.TextElideMode.ElideMiddle, CAPTION_WIDTH[1] - 16)
            caption = f"{shown}\n{status}"
            if r.image is not None:
                pm = QPixmap.fromImage(to_qimage(r.image)).scaled(
                    THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            else:
                pm = _placeholder("…" if not r.error else "!")
            item = QListWidgetItem(QIcon(pm), caption)
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            tip = r.path + ("\nThe photo you edit (first)." if k == 0 else "\nAn extra view for multi-shot backends.")
            if r.error:
                tip += f"\n{r.error}"
            if k > 0 and r.unlike:
                tip += ("\nLooks like another person, or other clothes, than the first photo's: the picture may "
                        "take parts from it. Remove it if it is not the same person.")
            item.setToolTip(tip)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsDragEnabled)
            self.list.addItem(item)
            if r.id == sel:
                item.setSelected(True)
        self.list.blockSignals(False)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self._update_buttons()

    def selected_id(self) -> int | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _remove_selected(self):
        rid = self.selected_id()
        if rid is not None:
            self.removeRequested.emit(rid)

    def _on_rows_moved(self, *_):
        # once the drop that moved them has returned: what the order change asks (a question, the strip rebuilt)
        # must not run inside the list's drag and drop
        QTimer.singleShot(0, self._emit_order)

    def _emit_order(self):
        self.orderChanged.emit(self.ids())

    def _move_earlier(self):
        self._move(-1)

    def _move_later(self):
        self._move(1)

    def _move(self, step: int):
        rid = self.selected_id()
        ids = self.ids()
        if rid is None:
            return
        i = ids.index(rid)
        j = min(max(i + step, 0), len(ids) - 1)
        if i != j:
            ids.insert(j, ids.pop(i))
            self.orderChanged.emit(ids)

    def _update_buttons(self):
        has = self.selected_id() is not None
        self.remove_btn.setEnabled(has)
        self.left_btn.setEnabled(has and self.list.currentRow() > 0)
        self.right_btn.setEnabled(has and 0 <= self.list.currentRow() < self.list.count() - 1)
