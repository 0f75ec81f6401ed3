"""The main window: wires the document, the canvas, the result view, the panels and the worker together.

User actions become undo commands on the document (commands.py); document changes update the views and ask
the render client for a new image (live while a joint is dragged, final otherwise). Nothing slow runs here:
photos are loaded and detected in the detect thread, images rendered in the render thread (worker.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap, QUndoStack
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDockWidget, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QMainWindow, QMenu,
                               QMessageBox, QProgressDialog, QPushButton, QScrollArea, QSpinBox, QSplitter,
                               QToolButton, QVBoxLayout, QWidget)

from engine.errors import PoseEditorError
from engine.images import IMAGE_SUFFIXES
from engine.pose import JOINT_COLORS, NUM_JOINTS, Pose

from . import icons
from .banner import Banner
from .canvas import PoseCanvas
from .commands import SOURCE, TARGET, DragJointCommand, PoseCommand, joint_label
from .document import Document, Reference
from .engine_panel import EnginePanel
from .references import ReferenceStrip
from .result_view import PLACEHOLDER, ResultView
from .settings import Settings, weights_dir
from .widgets import ElidedLabel
from .worker import RenderClient

APP_TITLE = "PoseEditor"
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"
SESSION_FILTER = "PoseEditor sessions (*.pose-session.json *.json);;All files (*)"
POSE_FILTER = "OpenPose JSON (*.json);;All files (*)"


class AnimationDialog(QDialog):
    """Where to write the animation, how many frames, how fast."""

    def __init__(self, parent, start_dir: str, backend: str):
        super().__init__(parent)
        self.setWindowTitle("Export Animation")
        self.path = QLineEdit(str(Path(start_dir) / "pose-animation.gif"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.frames = QSpinBox(minimum=2, maximum=240, value=16)
        self.fps = QSpinBox(minimum=1, maximum=60, value=12)
        self.boomerang = QCheckBox("Play forward, then back (loops smoothly)")
        form = QFormLayout(self)
        form.addRow("File (.gif or .mp4)", row)
        form.addRow("Frames", self.frames)
        form.addRow("Frames per second", self.fps)
        form.addRow("", self.boomerang)
        form.addRow("", QLabel(f"From the detected pose to the edited pose, drawn by the <b>{backend}</b> "
                               f"backend."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self):
        path, _ = QFileDialog.getSaveFileName(self, "Export Animation", self.path.text(),
                                              "GIF animation (*.gif);;MP4 video (*.mp4)")
        if path:
            self.path.setText(path)


class MainWindow(QMainWindow):
    resultShown = Signal(object)   # RenderResult, after it is in the result view

    def __init__(self, settings: Settings | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.confirm_close = True
        self.doc = Document()
        self.undo = QUndoStack(self)
        self.client = RenderClient(self)
        self.mode = TARGET           # which pose the canvas edits
        self.placing = False         # the user is placing a skeleton on a photo nobody was found in
        self.session_path: Path | None = None
        self.backend_info: dict | None = None
        self.last_error = ""
        self._drag_id = 0
        self._dragging = False
        self._pending_session = None  # poses to apply once a session's photos are loaded
        self._save_after_render: str | None = None
        self._progress: QProgressDialog | None = None
        self._closing = False
        self._hold_render = False
        self._render_error_shown = False
        self._nudge = None  # (joint, undo index, mode) after the last arrow-key move
        self._detect_status = ""  # what the detect thread is doing now (worker.DetectWorker.status)
        self._equal_panes = False
        self._default_docks = False
        self.personalizer = None   # personalize.Personalizer, made when first needed
        self.train_dialog = None
        self.weights_dialog = None

        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self._build_central()
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_statusbar()
        self._connect()
        self._restore_geometry()
        self._update_actions()

    # ===== construction =======================================================================================
    def _build_central(self):
        self.canvas = PoseCanvas()
        self.result = ResultView()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        self.canvas_header = QWidget()
        head = QHBoxLayout(self.canvas_header)
        head.setContentsMargins(10, 4, 10, 4)
        self.canvas_title = QLabel("<b>Pose</b>")
        self.canvas_hint = ElidedLabel("Drag the joints. Wheel: zoom · drag the photo: pan · right-click: joint menu")
        self.canvas_hint.setStyleSheet("color: palette(placeholder-text);")  # elided, so it never widens the pane
        head.addWidget(self.canvas_title)
        head.addSpacing(8)
        head.addWidget(self.canvas_hint, 1)
        # both headers one height: with the splitter halves equal, the photo and the result are drawn the same size
        h = max(self.canvas_header.sizeHint().height(), self.result.header.sizeHint().height())
        self.canvas_header.setFixedHeight(h)
        self.result.header.setFixedHeight(h)
        ll.addWidget(self.canvas_header)
        ll.addWidget(self.canvas, 1)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.result)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.banner = Banner()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

    def _build_docks(self):
        self.engine_panel = EnginePanel()
        self.engine_dock = QDockWidget("Engine", self)
        self.engine_dock.setObjectName("engineDock")
        scroll = QScrollArea()  # the panel's wrapped texts scroll rather than squeeze when the dock is short
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.engine_panel)
        self.engine_dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.engine_dock)

        self.joint_list = QListWidget()
        self.joint_list.setToolTip("Tick a joint to show it, untick to hide it: a hidden joint is 'missing' "
                                   "for the backends.")
        for j in range(NUM_JOINTS):
            pm = QPixmap(12, 12)
            pm.fill(QColor(*JOINT_COLORS[j]))
            item = QListWidgetItem(QIcon(pm), joint_label(j).capitalize())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.joint_list.addItem(item)
        self.joints_dock = QDockWidget("Joints", self)
        self.joints_dock.setObjectName("jointsDock")
        self.joints_dock.setWidget(self.joint_list)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.joints_dock)

        self.strip = ReferenceStrip()
        self.refs_dock = QDockWidget("Reference photos", self)
        self.refs_dock.setObjectName("refsDock")
        self.refs_dock.setWidget(self.strip)
        self.refs_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable |
                                   QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.refs_dock)
        # the right column runs the full height (the reference strip sits under the two panes only), so the
        # engine panel and all 18 joints fit without scrolling and without a strip-wide empty band at the bottom
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.engine_dock], [320], Qt.Orientation.Horizontal)

    def _default_dock_heights(self):
        """The joints dock gets what its 18 rows need and the engine panel the rest (its text grows with the
        backend). Done once the window has its size: before that, resizeDocks only sets proportions."""
        rows = self.joint_list.sizeHintForRow(0) * NUM_JOINTS + 2 * self.joint_list.frameWidth() + 2
        title = self.joints_dock.height() - self.joint_list.height() if self.joints_dock.height() else 22
        total = self.engine_dock.height() + self.joints_dock.height()
        joints = min(rows + max(title, 0), total // 2)
        self.resizeDocks([self.engine_dock, self.joints_dock], [total - joints, joints], Qt.Orientation.Vertical)

    def _act(self, text, slot=None, shortcut=None, tip="", icon=None, checkable=False):
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(f"{tip} ({a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                         if a.shortcut().toString() else tip)
        if icon:
            a.setIcon(icons.icon(icon))
        a.setCheckable(checkable)
        if slot is not None:
            a.triggered.connect(slot)
        return a

    def _build_actions(self):
        K = QKeySequence
        self.a_open = self._act("&Open Photos…", self.open_dialog, K.StandardKey.Open,
                                "Open photos of one person (the first is the one you edit)", "open")
        self.a_add = self._act("&Add Reference Photos…", self.add_dialog, "Ctrl+Shift+O",
                               "Add more photos of the same person for multi-shot backends", "add-photo")
        self.a_open_session = self._act("Open &Session…", self.open_session_dialog, "Ctrl+Shift+P",
                                        "Reopen a saved session", "session")
        self.a_save_session = self._act("&Save Session", self.save_session_action, K.StandardKey.Save,
                                        "Save photos, poses, backend and weights as a session file", "save")
        self.a_save_session_as = self._act("Save Session &As…", self.save_session_dialog, "Ctrl+Shift+S",
                                           "Save the session under a new name")
        self.a_import_pose = self._act("&Import Pose JSON…", self.import_pose_dialog, "Ctrl+I",
                                       "Load a target pose from an OpenPose JSON file", "import")
        self.a_export_pose = self._act("E&xport Pose JSON…", self.export_pose_dialog, "Ctrl+Shift+E",
                                       "Save the edited pose as OpenPose JSON", "export")
        self.a_save_result = self._act("Save &Result Image…", self.save_result_dialog, "Ctrl+E",
                                       "Save the generated image as PNG or JPEG", "save-image")
        self.a_animation = self._act("Export A&nimation…", self.animation_dialog, "Ctrl+Shift+A",
                                     "Export a GIF or MP4 from the detected pose to the edited pose", "animation")
        self.a_quit = self._act("&Quit", self.close, K.StandardKey.Quit)
        # fixed labels (the toolbar must not change width on every edit); what would be undone is in the tooltip
        self.a_undo = self._act("&Undo", self.undo.undo, K.StandardKey.Undo, icon="undo")
        self.a_redo = self._act("&Redo", self.undo.redo, [K("Ctrl+Shift+Z"), K("Ctrl+Y")], icon="redo")
        self.a_undo.setEnabled(False)
        self.a_redo.setEnabled(False)
        self.undo.canUndoChanged.connect(self.a_undo.setEnabled)
        self.undo.canRedoChanged.connect(self.a_redo.setEnabled)
        self.undo.undoTextChanged.connect(lambda t: self.a_undo.setToolTip(f"Undo {t} (Ctrl+Z)" if t else "Undo"))
        self.undo.redoTextChanged.connect(lambda t: self.a_redo.setToolTip(
            f"Redo {t} (Ctrl+Shift+Z)" if t else "Redo"))
        self.a_mirror = self._act("&Mirror Pose", self.mirror_pose, "M", "Swap left and right, in place", "mirror")
        self.a_reset = self._act("Re&set Pose", self.reset_pose, "Ctrl+R", "Back to the detected pose", "reset")
        self.a_hide = self._act("&Hide/Show Selected Joint", self.toggle_selected_joint, "H",
                                "A hidden joint is 'missing' for the backends")
        self.a_adjust = self._act("&Correct the Photo's Skeleton", self.toggle_adjust_mode, "Ctrl+K",
                                  "Edit the skeleton of the person as they stand in the photo (fix a detection)",
                                  checkable=True)
        self.a_fit = self._act("&Fit to Window", self.canvas.fit, "F", "Show the whole photo", "fit")
        self.a_zoom_in = self._act("Zoom &In", lambda: self.canvas.zoom_by(1.25), [K(K.StandardKey.ZoomIn),
                                                                                   K("Ctrl+=")])
        self.a_zoom_out = self._act("Zoom &Out", lambda: self.canvas.zoom_by(0.8), K.StandardKey.ZoomOut)
        self.a_actual = self._act("&Actual Size", self.canvas.actual_size, "Ctrl+0")
        self.a_ghost = self._act("Show &Original Pose", self.canvas.set_show_ghost, "G",
                                 "Draw the detected pose as a dashed outline under the edited one", checkable=True)
        self.a_ghost.setChecked(True)
        self.a_train = self._act("&Train on This Person…", self.open_train_dialog, None,
                                 "Fine-tune a backend on the reference photos or a video of this person")
        self.a_weights = self._act("&Manage Weights…", self.open_weights_manager, None,
                                   "Your weights files and the starter weights: use, rename, delete, import, export")
        self.a_shortcuts = self._act("&Keyboard Shortcuts", self.show_shortcuts, K.StandardKey.HelpContents)
        self.a_about = self._act("&About PoseEditor", self.show_about)
        self.addActions([self.a_undo, self.a_redo])  # shortcuts work even with the toolbar hidden

    def _build_menus(self):
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.a_open, self.a_add])
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
        m.addActions([self.a_open_session, self.a_save_session, self.a_save_session_as])
        m.addSeparator()
        m.addActions([self.a_import_pose, self.a_export_pose])
        m.addSeparator()
        m.addActions([self.a_save_result, self.a_animation])
        m.addSeparator()
        m.addAction(self.a_quit)
        m = mb.addMenu("&Edit")
        m.addActions([self.a_undo, self.a_redo])
        m.addSeparator()
        m.addActions([self.a_mirror, self.a_reset, self.a_hide])
        self.preset_menu = m.addMenu("&Pose Presets")
        m.addSeparator()
        m.addAction(self.a_adjust)
        m = mb.addMenu("&View")
        m.addActions([self.a_fit, self.a_zoom_in, self.a_zoom_out, self.a_actual])
        m.addSeparator()
        m.addAction(self.a_ghost)
        m.addSeparator()
        for d in (self.engine_dock, self.joints_dock, self.refs_dock):
            m.addAction(d.toggleViewAction())
        m = mb.addMenu("E&ngine")
        m.addActions([self.a_train, self.a_weights])
        m = mb.addMenu("&Help")
        m.addActions([self.a_shortcuts, self.a_about])
        self._fill_presets()
        self._fill_recent()

    def _fill_presets(self):
        from engine.presets import preset_names

        self.preset_menu.clear()
        for name in preset_names():
            a = self.preset_menu.addAction(name.replace("-", " ").capitalize())
            a.triggered.connect(lambda _=False, n=name: self.apply_preset(n))

    def _build_toolbar(self):
        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        tb.setIconSize(QSize(22, 22))
        tb.setMovable(False)
        tb.addActions([self.a_open, self.a_add, self.a_save_result])
        tb.addSeparator()
        tb.addActions([self.a_undo, self.a_redo])
        tb.addSeparator()
        tb.addActions([self.a_mirror, self.a_reset])
        self.preset_button = QToolButton()
        self.preset_button.setText("Presets")
        self.preset_button.setIcon(icons.icon("preset"))
        self.preset_button.setToolTip("Start from a ready-made pose")
        self.preset_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.preset_button.setMenu(self.preset_menu)
        tb.addWidget(self.preset_button)
        tb.addSeparator()
        tb.addActions([self.a_fit, self.a_animation])

    def _build_statusbar(self):
        sb = self.statusBar()
        self.joints_label = QLabel("")
        self.zoom_label = QLabel("")
        self.render_label = QLabel("")
        for w in (self.joints_label, self.zoom_label, self.render_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)
        sb.showMessage("Open a photo of a person to start (Ctrl+O), or drop one on the window.")

    def _connect(self):
        c = self.canvas
        c.dragStarted.connect(self._on_drag_started)
        c.jointDragged.connect(self._on_joint_dragged)
        c.dragFinished.connect(self._on_drag_finished)
        c.jointMenuRequested.connect(self._joint_menu)
        c.canvasMenuRequested.connect(self._canvas_menu)
        c.jointSelected.connect(self._on_joint_selected)
        c.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        c.jointNudged.connect(self._on_joint_nudged)
        c.filesDropped.connect(lambda paths: self.handle_dropped(
            [p for p in map(Path, paths) if p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() == ".json"]))
        self.doc.targetChanged.connect(self._on_target_changed)
        self.doc.sourceChanged.connect(self._on_source_changed)
        self.doc.referencesChanged.connect(self._on_references_changed)
        self.joint_list.itemChanged.connect(self._on_joint_item_changed)
        self.joint_list.currentRowChanged.connect(lambda r: self.canvas.select(r))
        self.undo.cleanChanged.connect(self._on_clean_changed)
        self.undo.indexChanged.connect(self._update_actions)

        cl = self.client
        cl.photoLoaded.connect(self._on_photo_loaded)
        cl.detector.imageReady.connect(self._on_image_ready)
        cl.detector.status.connect(self._on_detect_status)
        cl.worker.status.connect(self._on_engine_status)
        cl.resultReady.connect(self._on_result)
        cl.renderError.connect(self._on_render_error)
        cl.busyChanged.connect(self.result.set_busy)
        cl.worker.catalogue.connect(self.engine_panel.set_catalogue)
        cl.worker.backendChanged.connect(self._on_backend_changed)
        cl.worker.error.connect(self.show_error)  # a bound slot, so Qt queues it to the UI thread (a lambda ran in the worker)
        cl.worker.progress.connect(self._on_anim_progress)
        cl.worker.animationDone.connect(self._on_anim_done)
        cl.worker.animationFailed.connect(self._on_anim_failed)

        self.engine_panel.backendChosen.connect(self.set_backend)
        self.engine_panel.deviceChosen.connect(self.client.set_device)
        self.engine_panel.loadWeightsClicked.connect(self.load_weights_dialog)
        self.engine_panel.trainClicked.connect(self.open_train_dialog)
        self.engine_panel.manageWeightsClicked.connect(self.open_weights_manager)
        self.strip.addRequested.connect(self.add_dialog)
        self.strip.removeRequested.connect(self.remove_reference)
        self.strip.orderChanged.connect(self.reorder_references)
        self.banner.actionTriggered.connect(self._on_banner_action)

    def start_engine(self, photos_pending: bool = False):
        """Start the worker threads' imports (torch, mediapipe) and build the Engine: call once shown.

        ``photos_pending``: photos are about to be opened; the engine's heavy imports then wait for their first
        result so that detection does not compete with them."""
        self.client.start(self.settings.backend(), self.settings.device(), self.settings.all_weights(),
                          photos_pending)

    # ===== messages ===========================================================================================
    def show_error(self, message: str, action: str = "", action_id: str = ""):
        """A problem the user should know about: banner above the canvas + status bar; never a crash."""
        self.last_error = message
        self.banner.show_message(message, "error", action, action_id)
        self.statusBar().showMessage(message, 10000)

    def _on_render_error(self, message: str):
        self._render_error_shown = True
        self.show_error(f"Cannot render: {message}")

    def show_info(self, message: str, timeout_ms: int = 6000):
        self.statusBar().showMessage(message, timeout_ms)

    def _on_banner_action(self, action_id: str):
        if action_id == "done-placing":
            self.finish_placing()
        elif action_id == "use-warp":
            self.set_backend("warp")
        self.banner.dismiss()

    # ===== start-up and loading feedback ======================================================================
    def _main_loading(self) -> bool:
        return self.doc.main is not None and self.doc.main.image is None

    def _on_detect_status(self, text: str):
        """The detect thread's step ("Loading the pose detector…", "Finding the person in a.jpg…"): over the photo
        and in the result pane while the photo being edited waits for its skeleton, else in the status bar."""
        self._detect_status = text
        if self._main_loading():
            if text:  # "" between two steps would flash "Open a photo"; _on_photo_loaded clears the message
                self.canvas.set_message(text)
                if self.result.result is None:
                    self.result.clear(text)
        elif not text and self.canvas.message:
            self.canvas.set_message("")
        elif text:
            self.statusBar().showMessage(text, 5000)
        elif self.statusBar().currentMessage().startswith(("Opening ", "Finding the person", "Loading the pose")):
            self.statusBar().clearMessage()  # done: it would still say so for seconds

    def _on_image_ready(self, out):
        """The photo is read but not yet searched: show it at once, the skeleton follows."""
        ref = self.doc.by_id(out["ref_id"])
        if ref is not None and ref is self.doc.main and ref.image is None:
            self.canvas.set_image(out["image"])

    def _on_engine_status(self, text: str):
        self.engine_panel.set_status(text)
        if self.backend_info is not None:  # switching backend or weights: the result pane says it too
            self.result.set_activity(text)
        if text:
            self.statusBar().showMessage(text, 8000)
        elif self.statusBar().currentMessage().startswith(("Loading ", "Moving ")):  # the worker's own words
            self.statusBar().clearMessage()  # done: a stale "Loading…" would say it is still busy

    # ===== photos and references ==============================================================================
    def open_dialog(self):
        paths, _ = QFileDialog.getOpenFileNames(self, "Open Photos of One Person", self.settings.last_dir(),
                                                IMAGE_FILTER)
        if paths:
            self.open_photos(paths)

    def add_dialog(self):
        paths, _ = QFileDialog.getOpenFileNames(self, "Add Reference Photos", self.settings.last_dir(),
                                                IMAGE_FILTER)
        if paths:
            self.add_references(paths)

    def open_photos(self, paths):
        """Start over with these photos (the first is the one edited)."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        self.doc.clear()
        self.undo.clear()
        self.session_path = None
        self._set_mode(TARGET)
        self.placing = False
        self.banner.dismiss()
        self.canvas.set_image(None)
        name = Path(paths[0]).name
        # the detector may still be loading (opened during the start-up warm-up): say that rather than "Opening"
        self.canvas.set_message(self._detect_status or f"Opening {name}…")
        self.result.clear(self._detect_status or f"Finding the person in {name}…")
        self.add_references(paths)
        self.settings.add_recent(paths[0])
        self.settings.set_last_dir("photos", paths[0])
        self._fill_recent()
        self._update_title()

    def add_references(self, paths):
        if not self.doc.refs:
            self.undo.clear()
        for p in paths:
            ref = Reference(str(p))
            self.doc.add(ref)
            self.client.detect(ref.id, ref.path)
        self.statusBar().showMessage(f"Finding the person in {len(paths)} photo{'s' * (len(paths) > 1)}…")

    def _on_photo_loaded(self, out):
        ref = self.doc.by_id(out["ref_id"])
        if ref is None:
            return  # removed while it was loading
        name = Path(out["path"]).name
        is_main = ref is self.doc.main
        pending = (self._pending_session or {}).get(ref.id)
        if is_main:
            self.canvas.set_message("")  # the photo is searched: its "Finding the person…" is over either way
        if out["image"] is None:
            self.doc.remove(ref.id)
            self.show_error(f"Cannot open {name}: {out['error']}")
            if is_main and self.result.result is None:
                self.result.clear(PLACEHOLDER)  # not "Finding the person" for a photo that is not there
            return
        ref.image = out["image"]
        det = out["detection"]
        if det is not None:
            ref.detected, ref.pose, ref.mask = det.pose, det.pose, det.mask
        if pending is not None and pending[0] is not None:
            ref.pose, ref.hand_placed = pending[0], pending[1]
            if det is None or ref.hand_placed:
                from engine.detect import pose_mask

                ref.mask = pose_mask(ref.pose)
        elif det is None:  # nobody found
            if not is_main:
                self.doc.remove(ref.id)
                self.show_error(f"No person found in {name}; it was not added as a reference.")
                return
            self._start_placing(ref, out["error"])
        if is_main:
            self.canvas.set_image(ref.image)
            self.result.set_original(ref.image)
            target = (self._pending_session or {}).get("target") if self._pending_session else None
            self._hold_render = True  # the engine gets the new sources first (referencesChanged, below)
            try:
                if target is not None and (target.width, target.height) == ref.size:
                    self.doc.set_target(target)
                else:
                    self.doc.set_target(ref.pose)
            finally:
                self._hold_render = False
            self._sync_canvas()
            if not self.placing:
                self.show_info(f"{name}: {ref.pose.count} of 18 joints found. Drag a joint to repose.")
        self.doc.referencesChanged.emit()
        if self._pending_session is not None and all(r.image is not None for r in self.doc.refs):
            self._pending_session = None

    def _start_placing(self, ref: Reference, reason: str):
        """Nobody was found: put a standing skeleton on the photo for the user to move onto the person."""
        from engine.detect import pose_mask
        from engine.presets import fit_preset

        w, h = ref.size
        ref.pose = fit_preset("standing", w, h)
        ref.mask = pose_mask(ref.pose)
        ref.hand_placed = True
        self.placing = True
        self._set_mode(SOURCE)
        msg = (f"No person found in {Path(ref.path).name}. A standing skeleton was placed: drag its joints "
               f"onto the person (hide joints you cannot see), then press Done.")
        self.last_error = msg
        self.banner.show_message(msg, "warning", "Done", "done-placing")
        self.statusBar().showMessage(reason, 10000)

    def finish_placing(self):
        if not self.placing:
            return
        self.placing = False
        self._set_mode(TARGET)
        self.doc.set_target(self.doc.main.pose)
        self.undo.clear()  # the placed skeleton is the starting point now
        self.show_info("Skeleton placed. Now drag joints to repose the person.")

    def remove_reference(self, ref_id: int):
        was_main = self.doc.main is not None and self.doc.main.id == ref_id
        self._hold_render = True  # no render of the old target against the new first photo
        try:
            self.doc.remove(ref_id)
            if was_main:
                self._main_changed()
        finally:
            self._hold_render = False
        self._request("final")

    def reorder_references(self, ids: list[int]):
        old_main = self.doc.main
        self._hold_render = True
        try:
            self.doc.reorder(ids)
            if self.doc.main is not old_main:
                self._main_changed()
        finally:
            self._hold_render = False
        self._request("final")

    def _main_changed(self):
        """Another photo became the first: it is now the one shown and edited, from its own pose."""
        self.undo.clear()
        self.placing = False
        self._set_mode(TARGET)
        main = self.doc.main
        if main is None or not main.ready:
            self.canvas.set_image(main.image if main is not None else None)
            self.doc.set_target(None)
            self.result.clear()
            return
        self.canvas.set_image(main.image)
        self.result.set_original(main.image)
        self.doc.set_target(main.pose)
        self.show_info(f"Now editing {Path(main.path).name}.")

    def _on_references_changed(self):
        refs = self.doc.refs
        note = ""
        info = self.backend_info
        if info and len(refs) > 1 and not info["multi_shot"]:
            note = f"{info['title']} uses the first photo only."
        self.strip.set_references(refs, note)
        self.engine_panel.set_reference_count(max(1, len(self.doc.ready_refs())))
        self._push_sources()
        self._update_actions()
        self._update_title()
        self._refresh_train_dialog()

    def _push_sources(self):
        src = self.doc.sources()
        if src is None:
            return
        self.client.set_sources(src)
        self._request("final")

    # ===== pose editing =======================================================================================
    def current_pose(self) -> Pose | None:
        if self.mode == SOURCE:
            return self.doc.main.pose if self.doc.main is not None else None
        return self.doc.target

    def _push(self, after: Pose, text: str):
        before = self.current_pose()
        if before is None or after is None:
            return
        self.undo.push(PoseCommand(self.doc, before, after, text, self.mode))

    def _on_drag_started(self, joint: int):
        self._drag_id += 1
        self._dragging = True

    def _on_joint_dragged(self, joint: int, x: float, y: float):
        cur = self.current_pose()
        if cur is None:
            return
        self.undo.push(DragJointCommand(self.doc, cur, cur.moved(joint, x, y), joint, self._drag_id, self.mode))

    def _on_joint_nudged(self, joint: int, dx: float, dy: float):
        """Arrow-key moves of one joint in a row merge into one undo step, like a drag."""
        cur = self.current_pose()
        if cur is None:
            return
        if self._nudge != (joint, self.undo.index(), self.mode):
            self._drag_id += 1
        x = float(np.clip(cur.xy[joint, 0] + dx, 0, cur.width - 1))
        y = float(np.clip(cur.xy[joint, 1] + dy, 0, cur.height - 1))
        self.undo.push(DragJointCommand(self.doc, cur, cur.moved(joint, x, y), joint, self._drag_id, self.mode))
        self._nudge = (joint, self.undo.index(), self.mode)

    def _on_drag_finished(self, joint: int):
        self._dragging = False
        if self.mode == SOURCE:
            self._push_sources()  # the photo's skeleton moved: re-encode the references once, now
        else:
            self._request("final")
            self.result.final_pending()

    def _on_target_changed(self):
        self._sync_canvas()
        self._request("live" if self._dragging else "final")

    def _on_source_changed(self):
        if self.placing:
            self.doc.target = self.doc.main.pose.copy()  # while placing, show the photo's own pose
        self._sync_canvas()
        if self._dragging:
            # re-encoding the references on every mouse move would be slow: do it when the drag ends
            return
        self._push_sources()

    def _sync_canvas(self):
        pose = self.current_pose()
        self.canvas.set_pose(pose)
        main = self.doc.main
        self.canvas.set_ghost(main.pose if (self.mode == TARGET and main is not None) else None)
        self.joint_list.blockSignals(True)
        for j in range(NUM_JOINTS):
            on = pose is not None and bool(pose.present[j])
            self.joint_list.item(j).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.joint_list.blockSignals(False)
        self.joints_label.setText(f"{pose.count}/18 joints" if pose is not None else "")
        self._update_actions()

    def _request(self, kind: str):
        if self._hold_render or self.doc.target is None or self.doc.sources() is None:
            return
        if self.mode == SOURCE and self._dragging and not self.placing:
            return
        if self.mode == SOURCE and self._dragging:
            kind = "live"
        self.client.request(self.doc.target, kind)

    def _restore_xy(self, joint: int) -> tuple[float, float]:
        """Where a hidden joint reappears: the photo's own position for it, else where a preset puts it."""
        main = self.doc.main
        if main is not None and main.pose is not None and main.pose.present[joint] and self.mode == TARGET:
            return tuple(map(float, main.pose.xy[joint]))
        from engine.presets import fit_preset

        cur = self.current_pose()
        p = fit_preset("standing", cur.width, cur.height, like=cur)
        x, y = p.xy[joint]
        return float(np.clip(x, 0, cur.width - 1)), float(np.clip(y, 0, cur.height - 1))

    def set_joint_visible(self, joint: int, visible: bool, at: tuple[float, float] | None = None):
        cur = self.current_pose()
        if cur is None or bool(cur.present[joint]) == visible and at is None:
            return
        if visible:
            x, y = at if at is not None else self._restore_xy(joint)
            self._push(cur.moved(joint, x, y), f"Show {joint_label(joint)}")
        else:
            self._push(cur.with_present(joint, False), f"Hide {joint_label(joint)}")

    def toggle_selected_joint(self):
        j = self.canvas.selected if self.canvas.selected >= 0 else self.joint_list.currentRow()
        if j is None or j < 0 or self.current_pose() is None:
            self.show_info("Select a joint first (click it, or pick it in the Joints list).")
            return
        self.set_joint_visible(j, not bool(self.current_pose().present[j]))

    def _on_joint_item_changed(self, item):
        j = self.joint_list.row(item)
        self.set_joint_visible(j, item.checkState() == Qt.CheckState.Checked)

    def _on_joint_selected(self, j: int):
        self.joint_list.blockSignals(True)
        self.joint_list.setCurrentRow(j if j >= 0 else -1)
        self.joint_list.blockSignals(False)
        if j >= 0:
            self.statusBar().showMessage(joint_label(j).capitalize(), 2000)

    def mirror_pose(self):
        cur = self.current_pose()
        if cur is None:
            return
        m = cur.mirrored()
        b0, b1 = cur.bbox(), m.bbox()
        if b0 and b1:  # mirror about the person's own centre, not the photo's: the figure stays in place
            dx = (b0[0] + b0[2]) / 2 - (b1[0] + b1[2]) / 2
            xy = m.xy.copy()
            xy[m.present, 0] = np.clip(xy[m.present, 0] + dx, 0, cur.width - 1)
            m = Pose(xy, m.present, m.width, m.height, m.confidence)
        self._push(m, "Mirror pose")

    def reset_pose(self):
        main = self.doc.main
        if main is None or not main.ready:
            return
        if self.mode == SOURCE:
            if main.detected is not None:
                self._push(main.detected, "Reset to the detected skeleton")
            return
        self._push(main.pose, "Reset pose")

    def apply_preset(self, name: str):
        from engine.presets import fit_preset

        cur = self.current_pose()
        if cur is None:
            self.show_info("Open a photo first.")
            return
        p = fit_preset(name, cur.width, cur.height, like=cur)
        xy = p.xy.copy()
        xy[:, 0] = np.clip(xy[:, 0], 0, cur.width - 1)
        xy[:, 1] = np.clip(xy[:, 1], 0, cur.height - 1)
        self._push(Pose(xy, p.present, p.width, p.height), f"Preset: {name.replace('-', ' ')}")

    def toggle_adjust_mode(self, on: bool):
        if self.placing and not on:
            self.finish_placing()
            return
        self._set_mode(SOURCE if on else TARGET)

    def _set_mode(self, mode: str):
        self.mode = mode
        self.a_adjust.blockSignals(True)
        self.a_adjust.setChecked(mode == SOURCE)
        self.a_adjust.blockSignals(False)
        if mode == SOURCE:
            self.canvas_title.setText("<b>Photo's skeleton</b>")
            self.canvas_hint.setText("Move the joints onto the person as they stand in the photo.")
        else:
            self.canvas_title.setText("<b>Pose</b>")
            self.canvas_hint.setText("Drag the joints. Wheel: zoom · drag the photo: pan · right-click: joint menu")
        if self.doc.main is not None:
            self._sync_canvas()

    def _joint_menu(self, joint: int, global_pos):
        m = QMenu(self)
        m.addSection(joint_label(joint).capitalize())
        a = m.addAction(f"Hide {joint_label(joint)}")
        a.triggered.connect(lambda: self.set_joint_visible(joint, False))
        main = self.doc.main
        if self.mode == TARGET and main is not None and main.pose is not None and main.pose.present[joint]:
            a = m.addAction("Put back where it is in the photo")
            a.triggered.connect(lambda: self._push(self.current_pose().moved(joint, *main.pose.xy[joint]),
                                                   f"Reset {joint_label(joint)}"))
        m.popup(global_pos)
        self._menu = m

    def _canvas_menu(self, scene_pos, global_pos):
        cur = self.current_pose()
        m = QMenu(self)
        if cur is not None:
            hidden = [j for j in range(NUM_JOINTS) if not cur.present[j]]
            if hidden:
                sub = m.addMenu("Show joint here")
                x = float(np.clip(scene_pos.x(), 0, cur.width - 1))
                y = float(np.clip(scene_pos.y(), 0, cur.height - 1))
                for j in hidden:
                    a = sub.addAction(joint_label(j).capitalize())
                    a.triggered.connect(lambda _=False, j=j: self.set_joint_visible(j, True, (x, y)))
            m.addActions([self.a_mirror, self.a_reset])
            m.addMenu(self.preset_menu)
            m.addSeparator()
        m.addActions([self.a_fit, self.a_ghost])
        m.popup(global_pos)
        self._menu = m

    # ===== results ============================================================================================
    def _on_result(self, res):
        self.result.show_result(res)
        t = f"{res.ms:.0f} ms" if res.ms < 1000 else f"{res.ms / 1000:.2f} s"
        if res.encode_ms > 5:  # the detail the result header leaves out for room; its tooltip says the rest
            t += f" (+{res.encode_ms:.0f} ms encoding)"
        self.render_label.setText(f"{res.backend}: {t}")
        self.render_label.setToolTip(self.result.details)
        if res.backend == res.chosen:
            self.engine_panel.set_timing(res.ms)
        if self._render_error_shown:  # rendering works again: the old render error no longer applies
            self._render_error_shown = False
            if self.banner.kind == "error":
                self.banner.dismiss()
        if self._save_after_render and res.seq == self.client.latest_seq and res.kind == "final":
            path, self._save_after_render = self._save_after_render, None
            self.save_result(path)
        self.resultShown.emit(res)

    def _on_backend_changed(self, info: dict):
        first = self.backend_info is None
        self.backend_info = info
        self.engine_panel.set_backend_info(info)
        self.settings.set_value("engine/backend", info["name"])
        self.settings.set_value("engine/device", "cuda" if str(info["device"]).startswith("cuda") else "cpu")
        if info.get("weights_path"):
            self.settings.set_weights_for(info["name"], info["weights_path"])
        self._on_references_changed() if not first else self.strip.set_references(self.doc.refs)
        if first:
            src = self.doc.sources()
            if src is not None:
                self.client.set_sources(src)
            shown = self.result.result
            if shown is None or shown.backend != info["name"] or not (shown.pose == self.doc.target):
                self._request("final")  # else the start-up render already shows what this backend draws
        else:
            self._request("final")
        if not info["ready"]:
            self.show_info(f"{info['title']} has no weights yet: the result is drawn by the warp backend.", 8000)
        self._refresh_train_dialog()

    def set_backend(self, name: str):
        self.client.set_backend(name, self.settings.weights_for(name))

    def load_weights_dialog(self):
        start = weights_dir() if weights_dir().is_dir() else Path(self.settings.last_dir("weights"))
        path, _ = QFileDialog.getOpenFileName(self, "Load Weights", str(start),
                                              "Weights (*.safetensors);;All files (*)")
        if path:
            self.load_weights(path)

    def load_weights(self, path: str):
        self.settings.set_last_dir("weights", path)
        self.client.load_weights(path)

    # ===== train on this person, weights manager (personalize.py, train_dialog.py, weights_manager.py) =========
    def _weights_for(self, name: str) -> tuple[str | None, str]:
        """The weights file a backend uses now (or would use when chosen), and how to call it."""
        from .weights_library import starter_dir

        # the starter files' own labels run to a line of training details; what matters here is what they are
        starter_label = "starter weights, synthetic people only"
        info = self.backend_info or {}
        starter = starter_dir() / f"{name}.safetensors"
        if info.get("name") == name:
            if info.get("weights_kind") == "file" and info.get("weights_path"):
                return info["weights_path"], info.get("weights_label") or Path(info["weights_path"]).name
            if info.get("weights_kind") == "starter" and starter.is_file():
                return str(starter), starter_label
            return None, ""
        path = self.settings.weights_for(name)
        if path:
            return path, Path(path).stem
        return (str(starter), starter_label) if starter.is_file() else (None, "")

    def _train_context(self):
        from .train_dialog import TrainContext

        neural = [b for b in self.engine_panel.catalogue.values() if b.get("needs_weights")]
        photos = [r.path for r in self.doc.ready_refs()]
        return TrainContext(photos, [(b["name"], b["title"]) for b in neural], (self.backend_info or {}).get("name"),
                            self._weights_for, self.settings.last_dir("videos"),
                            {b["name"]: b["network"] for b in neural if b.get("network")})

    def _refresh_train_dialog(self):
        """Photos or backends changed: an open training dialog that is not running shows the new choices."""
        if self.train_dialog is not None and self.train_dialog.isVisible() and not self.personalizer.running:
            self.train_dialog.set_context(self._train_context())

    def open_train_dialog(self):
        """Show the training dialog (one per window: it keeps its run while hidden)."""
        from .personalize import Personalizer
        from .settings import data_dir
        from .train_dialog import TrainDialog

        if self.personalizer is None:
            self.personalizer = Personalizer(data_dir(), self)
            self.personalizer.finished.connect(self._on_trained)
            self.personalizer.failed.connect(lambda m: self.show_error(f"Train on This Person: {m}"))
        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self, self._train_context(), self.personalizer)
        elif not self.personalizer.running:
            self.train_dialog.set_context(self._train_context())
        self.train_dialog.show()
        self.train_dialog.raise_()
        self.train_dialog.activateWindow()
        return self.train_dialog

    def _on_trained(self, path: str):
        self.load_weights(path)
        self.banner.show_message(f"Training done: {Path(path).name} is saved in your weights folder and now "
                                 f"drawing the result.", "info", timeout_ms=12000)

    def open_weights_manager(self):
        from .weights_manager import WeightsManagerDialog

        if self.weights_dialog is None:
            self.weights_dialog = WeightsManagerDialog(self)
            self.weights_dialog.useRequested.connect(self.load_weights)
        self.weights_dialog.backends = [n for n, b in self.engine_panel.catalogue.items() if b.get("needs_weights")]
        in_use = (self.backend_info or {}).get("weights_path")
        self.weights_dialog.refresh(in_use)
        self.weights_dialog.show()
        self.weights_dialog.raise_()
        self.weights_dialog.activateWindow()
        return self.weights_dialog

    # ===== files ==============================================================================================
    def _ask_save(self, title: str, default_name: str, filt: str, kind: str) -> str:
        start = str(Path(self.settings.last_dir(kind)) / default_name)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filt)
        if path:
            self.settings.set_last_dir(kind, path)
        return path

    def _stem(self) -> str:
        return Path(self.doc.main.path).stem if self.doc.main is not None else "pose"

    def import_pose_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Import Pose JSON", self.settings.last_dir("poses"), POSE_FILTER)
        if path:
            self.settings.set_last_dir("poses", path)
            self.import_pose(path)

    def import_pose(self, path) -> bool:
        cur = self.current_pose()
        if cur is None:
            self.show_error("Open a photo before importing a pose.")
            return False
        try:
            pose = Pose.load_json(path, cur.width, cur.height)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        if (pose.width, pose.height) != (cur.width, cur.height):  # made for another canvas: scale to the photo
            pose = pose.scaled(cur.width / pose.width, cur.height / pose.height, cur.width, cur.height)
        if pose.count == 0:
            self.show_error(f"{Path(path).name}: the pose has no joints.")
            return False
        self._push(pose, f"Import {Path(path).name}")
        self.show_info(f"Imported the pose from {Path(path).name}.")
        return True

    def export_pose_dialog(self):
        path = self._ask_save("Export Pose JSON", f"{self._stem()}-pose.json", POSE_FILTER, "poses")
        if path:
            self.export_pose(path)

    def export_pose(self, path) -> bool:
        if self.doc.target is None:
            self.show_error("There is no pose to export yet.")
            return False
        try:
            self.doc.target.save_json(path)
        except OSError as e:
            self.show_error(f"Cannot write {path}: {e.strerror or e}")
            return False
        self.show_info(f"Pose saved to {path}")
        return True

    def save_result_dialog(self):
        path = self._ask_save("Save Result Image", f"{self._stem()}-reposed.png",
                              "PNG image (*.png);;JPEG image (*.jpg *.jpeg)", "results")
        if path:
            if not Path(path).suffix:
                path += ".png"
            self.save_result(path)

    def save_result(self, path) -> bool:
        """Save the result; if the final render of the current pose is not there yet, save it when it is."""
        from engine.images import save_image

        res = self.result.result
        if res is None:
            self.show_error("There is no result to save yet.")
            return False
        if self.client.busy or res.seq != self.client.latest_seq or res.kind != "final":
            self._save_after_render = str(path)
            self._request("final")
            self.show_info("Saving when the final render is ready…")
            return True
        try:
            save_image(path, res.image)
        except (PoseEditorError, OSError, ValueError) as e:
            self.show_error(f"Cannot save the image: {e}")
            return False
        self.show_info(f"Result saved to {path}")
        return True

    def animation_dialog(self):
        if self.doc.target is None or self.doc.sources() is None:
            self.show_error("Open a photo and edit the pose before exporting an animation.")
            return
        d = AnimationDialog(self, self.settings.last_dir("results"),
                            (self.backend_info or {}).get("name", "warp"))
        if d.exec() == QDialog.DialogCode.Accepted:
            self.settings.set_last_dir("results", d.path.text())
            self.export_animation(d.path.text(), d.frames.value(), d.fps.value(), d.boomerang.isChecked())

    def export_animation(self, path, frames: int = 16, fps: int = 12, boomerang: bool = False) -> bool:
        from .animation import check_path, pose_sequence

        try:
            check_path(path)
            poses = pose_sequence(self.doc.main.pose, self.doc.target, frames, boomerang)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        self._progress = QProgressDialog("Rendering the animation…", "Cancel", 0, len(poses), self)
        self._progress.setWindowTitle("Export Animation")
        self._progress.setWindowModality(Qt.WindowModality.NonModal)
        self._progress.setMinimumDuration(300)
        self._progress.canceled.connect(self.client.cancel_animation)
        self.client.export_animation(dict(path=str(path), poses=poses, fps=fps))
        return True

    def _on_anim_progress(self, done: int, total: int):
        if self._progress is not None:
            self._progress.setMaximum(total)
            self._progress.setValue(done)
            self.statusBar().showMessage(f"Animation: frame {done} of {total}")

    def _close_progress(self):
        if self._progress is not None:
            self._progress.canceled.disconnect()
            self._progress.close()
            self._progress = None

    def _on_anim_done(self, info):
        self._close_progress()
        if info is None:
            self.show_info("Animation export cancelled.")
        else:
            self.show_info(f"Animation saved: {info['path']} ({info['frames']} frames, {info['backend']}, "
                           f"{info['ms'] / 1000:.1f} s)", 10000)

    def _on_anim_failed(self, message: str):
        self._close_progress()
        self.show_error(f"Animation export failed: {message}")

    # ===== sessions ===========================================================================================
    def save_session_action(self):
        if self.session_path is None:
            self.save_session_dialog()
        else:
            self.save_session(self.session_path)

    def save_session_dialog(self):
        from .session import SUFFIX

        path = self._ask_save("Save Session", f"{self._stem()}{SUFFIX}", SESSION_FILTER, "sessions")
        if path:
            if not path.endswith(".json"):
                path += SUFFIX
            self.save_session(path)

    def save_session(self, path) -> bool:
        from .session import Session, SessionRef, save_session

        if not self.doc.refs:
            self.show_error("Nothing to save: open a photo first.")
            return False
        info = self.backend_info or {}
        s = Session([SessionRef(r.path, r.pose, r.hand_placed) for r in self.doc.refs if r.image is not None],
                    self.doc.target, info.get("name", "warp"), info.get("weights_path"),
                    "cuda" if str(info.get("device", "cpu")).startswith("cuda") else "cpu")
        try:
            save_session(path, s)
        except OSError as e:
            self.show_error(f"Cannot save the session: {e.strerror or e}")
            return False
        self.session_path = Path(path)
        self.undo.setClean()
        self.settings.add_recent(path)
        self._fill_recent()
        self._update_title()
        self.show_info(f"Session saved to {path}")
        return True

    def open_session_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open Session", self.settings.last_dir("sessions"),
                                              SESSION_FILTER)
        if path:
            self.settings.set_last_dir("sessions", path)
            self.open_session(path)

    def open_session(self, path) -> bool:
        from .session import load_session

        try:
            s = load_session(path)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        missing = [r.path for r in s.references if not Path(r.path).is_file()]
        refs = [r for r in s.references if Path(r.path).is_file()]
        if not refs:
            self.show_error(f"{Path(path).name}: none of its photos exist any more ({', '.join(missing)})")
            return False
        self.open_photos([r.path for r in refs])
        self._pending_session = {ref.id: (r.pose, r.hand_placed) for ref, r in zip(self.doc.refs, refs)}
        self._pending_session["target"] = s.target
        self.session_path = Path(path)
        if s.weights and Path(s.weights).is_file():
            self.client.set_backend(s.backend, s.weights)
        elif (self.backend_info or {}).get("name") != s.backend:
            self.client.set_backend(s.backend, self.settings.weights_for(s.backend))
        if s.device != "cpu":
            self.client.set_device(s.device)
        self.settings.add_recent(path)
        self._fill_recent()
        self._update_title()
        if missing:
            self.show_error(f"Some photos of the session are missing: {', '.join(missing)}")
        return True

    # ===== recent files =======================================================================================
    def _fill_recent(self):
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for i, p in enumerate(files):
            a = self.recent_menu.addAction(f"&{i + 1} {Path(p).name}")
            a.setToolTip(p)
            a.setStatusTip(p)
            a.triggered.connect(lambda _=False, p=p: self.open_recent(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear List", lambda: (self.settings.clear_recent(), self._fill_recent()))
        self.recent_menu.setEnabled(bool(files))

    def open_recent(self, path: str):
        if not Path(path).exists():
            self.show_error(f"{path} no longer exists.")
            return
        if path.endswith(".json"):
            self.open_session(path)
        else:
            self.open_photos([path])

    # ===== drag and drop of files =============================================================================
    def _dropped_paths(self, mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        return [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() == ".json"]

    def dragEnterEvent(self, e):
        if self._dropped_paths(e.mimeData()):
            e.acceptProposedAction()

    def dragMoveEvent(self, e):
        if self._dropped_paths(e.mimeData()):
            e.acceptProposedAction()

    def dropEvent(self, e):
        paths = self._dropped_paths(e.mimeData())
        if not paths:
            return
        e.acceptProposedAction()
        self.handle_dropped(paths)

    def handle_dropped(self, paths: list[Path]):
        """Images: references (the first photo when none is open). JSON: a session, else a target pose."""
        images = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
        for p in (p for p in paths if p.suffix.lower() == ".json"):
            try:
                import json

                is_session = json.loads(p.read_text(encoding="utf-8")).get("format") == "poseeditor-session"
            except Exception:
                is_session = False
            if is_session:
                self.open_session(p)
            else:
                self.import_pose(p)
        if images:
            if self.doc.main is None:
                self.open_photos(images)
            else:
                self.add_references(images)
                self.show_info(f"Added {len(images)} reference photo{'s' * (len(images) > 1)}.")

    # ===== window =============================================================================================
    def _on_clean_changed(self, clean: bool):
        self.setWindowModified(not clean)

    def _update_actions(self, *_):
        has_pose = self.current_pose() is not None
        for a in (self.a_mirror, self.a_reset, self.a_hide, self.a_export_pose, self.a_import_pose,
                  self.a_animation, self.a_save_session, self.a_save_session_as, self.a_adjust):
            a.setEnabled(has_pose)
        self.preset_button.setEnabled(has_pose)
        self.a_save_result.setEnabled(self.result.result is not None or has_pose)

    def _update_title(self):
        name = self.session_path.name if self.session_path else (
            Path(self.doc.main.path).name if self.doc.main is not None else "")
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}" if name else APP_TITLE)

    def _restore_geometry(self):
        g = self.settings.geometry("geometry")
        if g is None or not self.restoreGeometry(g):
            screen = self.screen().availableGeometry() if self.screen() else None
            w, h = 1360, 860
            if screen is not None:
                w, h = min(w, int(screen.width() * 0.92)), min(h, int(screen.height() * 0.9))
                self.resize(w, h)
                self.move(screen.center() - self.rect().center())
            else:
                self.resize(w, h)
        s = self.settings.geometry("state")
        self._default_docks = s is None or not self.restoreState(s)
        sp = self.settings.geometry("splitter")
        # without a saved position the halves are made equal once the window is laid out (showEvent): sizes set
        # now would be scaled by the panes' size hints, leaving the result smaller than the photo
        self._equal_panes = sp is None or not self.splitter.restoreState(sp)

    def showEvent(self, e):
        super().showEvent(e)
        if self._default_docks:
            self._default_docks = False
            self._default_dock_heights()
        if self._equal_panes:
            self._equal_panes = False
            total = sum(self.splitter.sizes())
            self.splitter.setSizes([total - total // 2, total // 2])

    def show_shortcuts(self):
        rows = [(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for a in (self.a_open, self.a_add, self.a_save_session, self.a_save_result, self.a_import_pose,
                          self.a_export_pose, self.a_animation, self.a_undo, self.a_redo, self.a_mirror,
                          self.a_reset, self.a_hide, self.a_adjust, self.a_fit, self.a_zoom_in, self.a_zoom_out,
                          self.a_actual, self.a_ghost)]
        html = "<table>" + "".join(f"<tr><td>{t}</td><td>&nbsp;&nbsp;<b>{k}</b></td></tr>" for t, k in rows)
        html += "<tr><td>Zoom</td><td>&nbsp;&nbsp;<b>mouse wheel</b></td></tr>"
        html += "<tr><td>Pan</td><td>&nbsp;&nbsp;<b>drag the photo</b></td></tr></table>"
        QMessageBox.information(self, "Keyboard Shortcuts", html)

    def show_about(self):
        from . import __version__

        QMessageBox.about(self, "About PoseEditor",
                          f"<h3>PoseEditor {__version__}</h3><p>Repose people in photos: drag the skeleton, see "
                          f"the person re-rendered by a pose-transfer backend.</p>")

    def closeEvent(self, e):
        if self.confirm_close and not self.undo.isClean() and self.doc.refs:
            r = QMessageBox.question(self, "Quit PoseEditor",
                                     "The pose has unsaved edits. Save the session before quitting?",
                                     QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard |
                                     QMessageBox.StandardButton.Cancel)
            if r == QMessageBox.StandardButton.Cancel:
                e.ignore()
                return
            if r == QMessageBox.StandardButton.Save:
                self.save_session_action()
                if not self.undo.isClean():
                    e.ignore()
                    return
        self.settings.set_geometry("geometry", self.saveGeometry())
        self.settings.set_geometry("state", self.saveState())
        self.settings.set_geometry("splitter", self.splitter.saveState())
        self.settings.sync()
        if self.personalizer is not None:  # a training run stops with a checkpoint (resumable from the CLI)
            self.personalizer.shutdown()
        self.client.shutdown()
        for sig in (self.undo.cleanChanged, self.undo.indexChanged, self.undo.canUndoChanged,
                    self.undo.canRedoChanged, self.undo.undoTextChanged, self.undo.redoTextChanged):
            sig.disconnect()
        self.undo.clear()
        super().closeEvent(e)
