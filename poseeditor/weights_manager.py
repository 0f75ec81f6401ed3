"""The weights manager: every weights file of the user's data dir plus the starter weights, with what each is
(backend, image size, training data, date, label) and what can be done with it: use, rename, delete, import,
export. The file logic is weights_library.py (Qt-free); this is its view.

A PyTorch or Keras file offered for import is converted by the training package's importer
(`poseeditor-train import-weights`), run as a child process so a large file never freezes the window.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QLineEdit, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from engine.errors import PoseEditorError, WeightsError

from . import weights_library as lib

COLUMNS = ("Label", "Backend", "Image size", "Trained on", "Created", "File size", "File", "Kind")
IMPORT_FILTER = ("Weights (*.safetensors *.pth *.pt *.ckpt *.bin *.h5 *.hdf5);;PoseEditor weights (*.safetensors);;"
                 "All files (*)")


class RenameDialog(QDialog):
    def __init__(self, parent, label: str, name: str):
        super().__init__(parent)
        self.setWindowTitle("Rename Weights")
        self.label = QLineEdit(label)
        self.label.setMinimumWidth(320)
        self.name = QLineEdit(name)
        form = QFormLayout(self)
        form.addRow("Label (shown in the engine panel)", self.label)
        form.addRow("File name", self.name)
        form.addRow("", QLabel(".safetensors is added to the file name."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class WeightsManagerDialog(QDialog):
    useRequested = Signal(str)   # load this file into the backend it is for

    def __init__(self, parent=None, folder: Path | None = None, starters: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Manage Weights")
        self.folder = Path(folder) if folder else lib.user_weights_dir()
        self.starters = Path(starters) if starters else lib.starter_dir()
        self.entries: list[lib.WeightsEntry] = []
        self.in_use: str | None = None
        self.backends: list[str] = []   # names offered to the importer (set by the main window)
        self.last_message = ""
        self._proc: QProcess | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        # bound methods, not lambdas: PySide keeps a connected lambda alive, and with it the closed window
        self.table.itemDoubleClicked.connect(self._on_double_clicked)

        self.use_btn = QPushButton("Use")
        self.use_btn.setToolTip("Load into the backend these weights are for")
        self.rename_btn = QPushButton("Rename…")
        self.delete_btn = QPushButton("Delete…")
        self.import_btn = QPushButton("Import…")
        self.import_btn.setToolTip("Copy a .safetensors file in, or convert a PyTorch / Keras file")
        self.export_btn = QPushButton("Export…")
        self.export_btn.setToolTip("Save a copy elsewhere (to share it, or to keep it safe)")
        self.folder_btn = QPushButton("Open Folder")
        self.folder_btn.setToolTip(str(self.folder))
        close = QPushButton("Close")
        self.use_btn.clicked.connect(self.use_selected)
        self.rename_btn.clicked.connect(self._on_rename_clicked)
        self.delete_btn.clicked.connect(self._on_delete_clicked)
        self.import_btn.clicked.connect(self.import_dialog)
        self.export_btn.clicked.connect(self._on_export_clicked)
        self.folder_btn.clicked.connect(self._open_folder)
        close.clicked.connect(self.close)
        row = QHBoxLayout()
        for b in (self.use_btn, self.rename_btn, self.delete_btn, self.export_btn):
            row.addWidget(b)
        row.addStretch(1)
        for b in (self.import_btn, self.folder_btn, close):
            row.addWidget(b)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        where = QLabel(f"Your weights: <code>{self.folder}</code>. Starter weights ship with PoseEditor and are "
                       f"read-only.")
        where.setWordWrap(True)
        where.setStyleSheet("color: palette(placeholder-text);")
        lay = QVBoxLayout(self)
        lay.addWidget(where)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.message)
        lay.addLayout(row)
        self.resize(1120, 440)
        self.refresh()

    # ----- the list ---------------------------------------------------------------------------------------
    def refresh(self, in_use: str | None = ..., select: Path | None = None):
        if in_use is not ...:
            self.in_use = in_use
        keep = select or (self.selected().path if self.selected() else None)
        self.entries = lib.list_weights(self.folder, self.starters)
        self.table.setRowCount(len(self.entries))
        used = Path(self.in_use).resolve() if self.in_use else None
        for i, e in enumerate(self.entries):
            # a starter file's own label is a line of training details (kept in the tooltip); say what it is, and
            # leave what it learnt from to "Trained on" (not all starters learnt synthetic people only)
            label = "Starter weights, a rough figure" if e.starter and not e.error else e.title
            if e.error:
                label = f"{e.name}: unreadable"
            size = f"{e.image_size[0]}×{e.image_size[1]}" if e.image_size else ""
            cells = (label, e.backend, size, e.trained_on, e.created[:16].replace("T", " "),
                     lib.human_size(e.file_size), e.path.name, "starter, read-only" if e.starter else "yours")
            in_use = used is not None and e.path.resolve() == used
            for j, text in enumerate(cells):
                it = QTableWidgetItem(text)
                tip = e.error or f"{e.title}\n{e.path}"
                it.setToolTip(tip + ("\nIn use now" if in_use else ""))
                if in_use or e.starter:
                    f = QFont(it.font())
                    f.setBold(in_use)
                    f.setItalic(e.starter)
                    it.setFont(f)
                self.table.setItem(i, j, it)
            if in_use:
                self.table.item(i, 0).setText("● " + label)
        if keep is not None:
            self.select(keep)
        if self.table.currentRow() < 0 and self.entries:
            self.table.selectRow(0)
        self._update_buttons()

    def select(self, path) -> bool:
        path = Path(path).resolve()
        for i, e in enumerate(self.entries):
            if e.path.resolve() == path:
                self.table.selectRow(i)
                return True
        return False

    def selected(self) -> lib.WeightsEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None

    def _update_buttons(self):
        e = self.selected()
        self.use_btn.setEnabled(bool(e and e.meta))
        self.rename_btn.setEnabled(bool(e and not e.starter and e.meta))
        self.delete_btn.setEnabled(bool(e and not e.starter))
        self.export_btn.setEnabled(bool(e))
        self.import_btn.setEnabled(self._proc is None)

    def _say(self, text: str, error: bool = False):
        self.last_message = text
        color = "#ff8a8a" if error else "palette(text)"
        self.message.setStyleSheet(f"color: {color};")
        self.message.setText(text)

    # ----- actions ----------------------------------------------------------------------------------------
    # the buttons' clicked(bool) and the table's item must not reach the methods' own optional arguments
    def _on_double_clicked(self, _item):
        self.use_selected()

    def _on_rename_clicked(self):
        self.rename_selected()

    def _on_delete_clicked(self):
        self.delete_selected()

    def _on_export_clicked(self):
        self.export_selected()

    def use_selected(self) -> bool:
        e = self.selected()
        if e is None or e.meta is None:
            return False
        self.useRequested.emit(str(e.path))
        self.in_use = str(e.path)
        self.refresh()
        self._say(f"{e.title} is being loaded into the {e.backend} backend.")
        return True

    def rename_selected(self, label: str | None = None, name: str | None = None) -> Path | None:
        """Without arguments, asks for the new label and file name."""
        e = self.selected()
        if e is None:
            return None
        if label is None and name is None:
            d = RenameDialog(self, e.label, e.name)
            if d.exec() != QDialog.DialogCode.Accepted:
                return None
            label, name = d.label.text(), d.name.text()
        try:
            new = lib.rename(e.path, label, name, self.starters)
        except (PoseEditorError, OSError) as err:
            self._say(str(err), error=True)
            return None
        if self.in_use and Path(self.in_use).resolve() == e.path.resolve():
            self.in_use = str(new)
        self.refresh(select=new)
        self._say(f"Renamed: {new.name}.")
        return new

    def delete_selected(self, confirm: bool = True) -> bool:
        e = self.selected()
        if e is None:
            return False
        if confirm:
            r = QMessageBox.question(self, "Delete Weights", f"Delete {e.path.name} ({e.title})?\n\nThe file is "
                                     f"removed from {e.path.parent}; this cannot be undone.",
                                     QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                     QMessageBox.StandardButton.Cancel)
            if r != QMessageBox.StandardButton.Yes:
                return False
        try:
            lib.delete(e.path, self.starters)
        except (PoseEditorError, OSError) as err:
            self._say(str(err), error=True)
            return False
        self.refresh()
        self._say(f"Deleted {e.path.name}." + (" The backend keeps it loaded until you choose other weights."
                                              if self.in_use and Path(self.in_use) == e.path else ""))
        return True

    def import_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Import Weights", str(Path.home()), IMPORT_FILTER)
        if path:
            self.import_path(path)

    def import_path(self, path, backend: str | None = None) -> Path | None:
        """Copy a PoseEditor weights file in; a foreign one (PyTorch, Keras, bare safetensors) is converted by the
        training package's importer for ``backend`` (asked for when not given). Returns the new file, or None
        (an error is shown; a conversion reports when its process ends)."""
        path = Path(path)
        try:
            new = lib.import_file(path, self.folder)
        except WeightsError as err:
            if not (lib.looks_foreign(path) or "import-weights" in str(err)):
                self._say(str(err), error=True)
                return None
            if backend is None:
                backend = self._ask_backend(path)
                if backend is None:
                    self._say(str(err), error=True)
                    return None
            self._convert(path, backend)
            return None
        except (PoseEditorError, OSError) as err:
            self._say(str(err), error=True)
            return None
        self.refresh(select=new)
        self._say(f"Imported {path.name} as {new.name}.")
        return new

    def _ask_backend(self, path: Path) -> str | None:
        names = self.backends or ["dgan", "attention", "spgnet", "pnr"]
        name, ok = QInputDialog.getItem(
            self, "Convert Weights", f"{path.name} is not in PoseEditor's format (it may be the authors' release).\n"
            f"Convert it with the importer (poseeditor-train import-weights)? For which backend:", names, 0, False)
        return name if ok else None

    def _convert(self, path: Path, backend: str):
        out = lib.unique_path(self.folder, lib.safe_name(path.stem) or "imported")
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = lib.importer_command(path, backend, out)
        self._say(f"Converting {path.name} for the {backend} backend…")
        p = QProcess(self)
        p.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        p.finished.connect(lambda code, status: self._converted(p, out, code))
        self._proc = p
        self._update_buttons()
        p.start(argv[0], argv[1:])

    def _converted(self, p: QProcess, out: Path, code: int):
        from .personalize import last_error_line

        err = bytes(p.readAllStandardError()).decode("utf-8", "replace")
        self._proc = None  # the finished process stays the dialog's child until the dialog goes
        if code == 0 and out.is_file():
            self.refresh(select=out)
            self._say(f"Converted and imported as {out.name}.")
        else:
            self._say(f"The importer could not convert it: {last_error_line(err) or 'it stopped without a message'}",
                      error=True)
        self._update_buttons()

    @property
    def converting(self) -> bool:
        return self._proc is not None

    def export_selected(self, dest=None) -> Path | None:
        e = self.selected()
        if e is None:
            return None
        if dest is None:
            dest, _ = QFileDialog.getSaveFileName(self, "Export Weights", str(Path.home() / e.path.name),
                                                  "PoseEditor weights (*.safetensors)")
            if not dest:
                return None
        try:
            out = lib.export_file(e.path, dest)
        except (PoseEditorError, OSError) as err:
            self._say(str(err), error=True)
            return None
        self._say(f"Exported to {out}.")
        return out

    def _open_folder(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))
