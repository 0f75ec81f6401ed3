"""Files dropped on the main window: where a drop goes, the highlight that says so while files are dragged
over the window, and what is done with them.

A drop on the photo panes (or anywhere but the reference strip) opens what is dropped, as Open Photos does: the
first photo is the one edited, the others its reference photos; a drop on the reference strip adds reference
photos to the photo open. JSON files are a session (opened) or a pose (imported), wherever they land.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from engine.errors import PoseEditorError
from engine.images import IMAGE_SUFFIXES

from .session import is_session_file


def _openable(paths) -> list[Path]:
    """The files the window opens when dropped: photos, and JSON (a session or a pose)."""
    return [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() == ".json"]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


class DropHighlight(QWidget):
    """Drawn over the part of the window a drop will go to while files are dragged over it, saying what the
    drop will do ("Open a.jpg", "Add 2 reference photos"). Transparent to the mouse, so the widget under it
    stays the drop target."""

    def __init__(self, parent):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.text = ""
        self.hide()

    def show_over(self, rect, text: str):
        self.text = text
        self.setGeometry(rect)
        self.raise_()
        self.show()
        self.update()

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = QColor(80, 160, 255)
        fill = QColor(accent)
        fill.setAlpha(48)
        pen = QPen(accent, 3, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(self.rect()).adjusted(2, 2, -2, -2), 8, 8)
        f = p.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        p.setFont(f)
        fm = p.fontMetrics()
        lines = self.text.split("\n")
        w = min(self.width() - 24, max(fm.horizontalAdvance(t) for t in lines) + 32)
        h = min(self.height() - 12, fm.height() * len(lines) + 16)
        box = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(20, 40, 70, 225))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(QColor(235, 244, 255))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, self.text)
        p.end()


class _DropTargets(QObject):
    """Event filter on the widgets that take drops themselves (the photo's view, the reference strip's list):
    their drags go to the window (the filter's parent), which says and does what the drop means there. A
    reorder drag inside the strip is the list's own. It holds no Python reference to the window or the widgets:
    a cycle through Qt objects left for the garbage collector crashed it at exit."""

    ZONE = "dropZone"  # the watched widget's property: where a drop on it goes, "open" | "refs"

    def eventFilter(self, obj, e):
        t = e.type()
        if t not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.DragLeave, QEvent.Type.Drop):
            return False
        window = self.parent()
        if t == QEvent.Type.DragLeave:
            window.hide_drop_highlight()
            return False
        if e.source() is not None and e.source() is obj.parent():  # the strip's own reorder
            return False
        zone = obj.property(self.ZONE)
        if t == QEvent.Type.Drop:
            window.drop_files(e, zone)
        else:
            window.drag_files_over(e, zone)
        return True


class DropsMixin:
    """Mixed into MainWindow through FilesMixin (window_files.py); uses the window's widgets and state."""

    def _connect_drops(self):
        # where a drop goes: the photo panes open it, the reference strip adds it (drop_files)
        self._drop_open = DropHighlight(self.centralWidget())
        self._drop_refs = DropHighlight(self.strip)
        # {(json path, mtime, size): is a session, or the PoseEditorError reading it gave} for the drag in progress:
        # a drag-move comes many times a second and the drop after it, and each read the file on the UI thread
        # (slow on a network folder); cleared when the highlight hides (drag left, or dropped)
        self._drop_sniffed = {}
        self._dropped = []  # (paths, zone, what the drag read) dropped, to handle once the drop has returned
        targets = _DropTargets(self)
        for w, zone in ((self.canvas.viewport(), "open"), (self.strip.list.viewport(), "refs")):
            w.setProperty(_DropTargets.ZONE, zone)
            w.installEventFilter(targets)

    def _dropped_paths(self, mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        return _openable(Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile())

    def _zone_at(self, pos) -> str:
        """Where a drop at ``pos`` (the window's coordinates) goes: "refs" over the docked reference strip,
        else "open"."""
        dock = self.refs_dock
        if dock.isVisible() and not dock.isFloating() and dock.geometry().contains(pos):
            return "refs"
        return "open"

    @staticmethod
    def _sniffed(p: Path, cache: dict):
        """Whether the JSON file ``p`` is a session, or the PoseEditorError reading it gives: read once while its
        modification time and size stay the same (``cache``, a drag's ``_drop_sniffed``)."""
        try:
            st = p.stat()
            key = (p, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None  # gone or unreadable: is_session_file says why, every time
        if key is None or key not in cache:
            try:
                found = is_session_file(p)
            except PoseEditorError as e:
                found = e
            if key is None:
                return found
            cache[key] = found
        return cache[key]

    def _sessions_among(self, paths: list[Path]) -> dict:
        """{JSON path: whether it is a session} for the files dragged, read once per drag."""
        # a file that cannot be read is no session here; the drop says why
        return {p: self._sniffed(p, self._drop_sniffed) is True for p in paths if p.suffix.lower() == ".json"}

    def drop_meaning(self, paths: list[Path], zone: str) -> str:
        """What dropping ``paths`` on ``zone`` will do, in the words the highlight shows."""
        images = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
        jsons = self._sessions_among(paths)
        sessions = [p for p, yes in jsons.items() if yes]
        lines = [f"Import the pose {p.name}" for p, yes in jsons.items() if not yes]
        if sessions:
            lines.insert(0, f"Open the session {sessions[0].name}")
            if images:
                lines.append(f"with {plural(len(images), 'more photo')} as its references")
        elif images and zone == "refs" and self.doc.main is not None:
            lines.append(f"Add {plural(len(images), 'reference photo')} of the same person")
        elif images:
            lines.append(f"Open {images[0].name}")
            if len(images) > 1:
                lines.append(f"with {plural(len(images) - 1, 'more photo')} as its references")
        if (sessions or images and (zone != "refs" or self.doc.main is None)) and self.has_unsaved_edits():
            lines.append("(asks to save your edits first)")
        return "\n".join(lines)

    def _show_drop_highlight(self, paths: list[Path], zone: str):
        images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in paths)
        if zone == "refs" and self.doc.main is not None and images and not any(self._sessions_among(paths).values()):
            self._drop_open.hide()
            self._drop_refs.show_over(self.strip.rect(), self.drop_meaning(paths, zone))
        else:
            self._drop_refs.hide()
            self._drop_open.show_over(self.splitter.geometry(), self.drop_meaning(paths, zone))

    def hide_drop_highlight(self):
        self._drop_open.hide()
        self._drop_refs.hide()
        self._drop_sniffed = {}  # the drag is over: the next one reads the files afresh

    def drop_highlight(self) -> str:
        """The highlight's words while files are dragged over the window ("" when none shows)."""
        shown = [h for h in (self._drop_open, self._drop_refs) if h.isVisible()]
        return shown[0].text if shown else ""

    def drag_files_over(self, e, zone: str):
        paths = self._dropped_paths(e.mimeData())
        if not paths:
            e.ignore()
            self.hide_drop_highlight()
            return
        e.acceptProposedAction()
        self._show_drop_highlight(paths, zone)

    def drop_files(self, e, zone: str):
        sniffed = self._drop_sniffed  # what the drag read, handed to the drop (hiding clears it)
        self.hide_drop_highlight()
        paths = self._dropped_paths(e.mimeData())
        if not paths:
            e.ignore()
            return
        e.acceptProposedAction()
        # handled once the drop has returned: a save prompt inside it kept the dragging application (a file
        # manager) waiting for the drop's end until the prompt was answered
        self._dropped.append((paths, zone, sniffed))
        QTimer.singleShot(0, self._handle_drops)

    def _handle_drops(self):
        while self._dropped:
            self.handle_dropped(*self._dropped.pop(0))

    def dragEnterEvent(self, e):
        self.drag_files_over(e, self._zone_at(e.position().toPoint()))

    def dragMoveEvent(self, e):
        self.drag_files_over(e, self._zone_at(e.position().toPoint()))

    def dragLeaveEvent(self, e):
        self.hide_drop_highlight()

    def dropEvent(self, e):
        self.drop_files(e, self._zone_at(e.position().toPoint()))

    def handle_dropped(self, paths: list[Path], zone: str = "open", sniffed: dict | None = None):
        """Images: opened, the first edited and the others its references (as Open Photos), or, dropped on the
        reference strip ("refs") of an open photo, added as its references. JSON: a session, else a target
        pose. ``sniffed``: what the drag found the JSON files to be (``_drop_sniffed``), not read again while
        they are unchanged."""
        images = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
        sniffed = dict(sniffed or {})
        kinds = {p: self._sniffed(p, sniffed) for p in paths if p.suffix.lower() == ".json"}
        for p, is_session in kinds.items():
            if isinstance(is_session, PoseEditorError):
                self.show_error(str(is_session))
                continue
            if is_session:
                if self.confirm_discard("Open Session", f"opening {p.name}"):
                    # the photos dropped with it join the session's, once those are in (opening is deferred
                    # until its first photo is read: added now, they went to the photos it replaces)
                    self.open_session(p, add=images)
                images = []
            else:
                self.import_pose(p)
        if not images:
            return
        if zone == "refs" and self.doc.main is not None:
            self.add_references(images)
            self.show_info(f"Added {plural(len(images), 'reference photo')} of the same person.")
            return
        if not self.confirm_discard("Open Photos", f"opening {images[0].name}"):
            return
        self.open_photos(images)
        if len(images) > 1:
            rest = ", ".join(p.name for p in images[1:])
            self.show_info(f"Opening {images[0].name} to edit; {rest} join it as reference photos (drop photos "
                           f"on the reference strip to add them to the photo open).", 10000)
