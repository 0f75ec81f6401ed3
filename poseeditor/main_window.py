"""The main window: wires the document, the canvas, the result view, the panels and the worker together.

User actions become undo commands on the document (commands.py); document changes update the views and ask
the render client for a new image (live while a joint is dragged, final otherwise). Nothing slow runs here:
photos are loaded and detected in the detect thread, images rendered in the render thread (worker.py; the
client's side in render_client.py).

This file builds the window (widgets, actions, menus, toolbar) and owns its messages and its geometry;
what the window does is in one mixin per responsibility, each connecting the signals it uses (``_connect_*``):
window_photos.py (opening photos, the references, placing a skeleton), window_editing.py (pose edits, modes,
menus), window_engine.py (results, backends, weights, training) and window_files.py (pose JSON, images,
animations, sessions, dropped files).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap, QUndoStack
from PySide6.QtWidgets import (QApplication, QDockWidget, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QMainWindow, QMessageBox, QProgressDialog, QScrollArea, QSplitter, QToolButton,
                               QVBoxLayout, QWidget)

from engine.pose import JOINT_COLORS, NUM_JOINTS

from . import icons
from .banner import Banner
from .canvas import KEYS, NudgeFromList, PoseCanvas
from .commands import TARGET, joint_label
from .document import Document
from .engine_panel import EnginePanel
from .references import ReferenceStrip
from .render_client import RenderClient
from .result_view import ResultView
from .settings import Settings
from .widgets import ElidedLabel
from .window_editing import EditingMixin
from .window_engine import EngineMixin
from .window_files import FilesMixin
from .window_photos import PhotosMixin

APP_TITLE = "PoseEditor"
SMALL_WINDOW = 1200  # px wide: below it the engine dock takes DOCK_SHARE of the window at most
DOCK_SHARE = 0.27


class MainWindow(PhotosMixin, EditingMixin, EngineMixin, FilesMixin, QMainWindow):
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
        self._dragging = False
        self._drag_before = None     # the pose when the current drag began (posing.drag_pose starts from it)
        self._drag_free = None
        self._pending_session = None  # poses to apply once a session's photos are loaded
        self._opening = None  # (Reference, paths, then): photos asked to be opened over what is open, being read
        self._save_after_render: str | None = None
        self._progress: QProgressDialog | None = None
        self._closing = False
        self._hold_render = False
        self._render_error_shown = False
        self._nudge = None  # (joint, mode, command) of the arrow-key burst in progress (window_editing.py)
        self._last_burst = None  # and of the last one, which a held key's repeat may go on with
        self._menu = None  # the last context menu (window_editing.py)
        self._refs_edited = False  # references added, removed or reordered since the photos opened or were saved
        self._detect_status = ""  # what the detect thread is doing now (detect_worker.DetectWorker.status)
        self._equal_panes = False
        self._default_docks = False
        self.personalizer = None   # personalize.Personalizer, made when first needed
        self.train_dialog = None
        self.learning_run = None   # the training run whose checks the photo shows as it learns (window_engine)
        self.before_learning = None  # (backend, weights kind, weights path) in use before its first check
        self.check_asked = None      # the check last asked for, until the person chooses an engine or weights
        self.learning_on = False     # the learning run's checks are shown (until the person chooses, or it is off)
        self.set_aside_run = None    # a stopped run whose check was put aside when the training window closed
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
        self.result.follow(self.canvas)  # one view of the photo in both panes: zoom and pan either, both move
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
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab went to the scroll area itself, a stop on nothing
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
        # the list takes the keyboard by Tab only, and then its Up/Down choose the joint; a click in it gives the
        # keyboard to the canvas (window_editing.py), so the arrows nudge the joint just chosen, as on the photo
        self.joint_list.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.joint_list.installEventFilter(NudgeFromList(self.canvas, self.joint_list))
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
        self.undo.undoTextChanged.connect(self._on_undo_text)
        self.undo.redoTextChanged.connect(self._on_redo_text)
        self.a_mirror = self._act("&Mirror Pose", self.mirror_pose, "M", "Swap left and right, in place", "mirror")
        self.a_reset = self._act("Re&set Pose", self.reset_pose, "Ctrl+R", "Back to the detected pose", "reset")
        self.a_hide = self._act("&Hide/Show Selected Joint", self.toggle_selected_joint, "H",
                                "A hidden joint is 'missing' for the backends")
        self.a_adjust = self._act("&Correct the Photo's Skeleton", self.toggle_adjust_mode, "Ctrl+K",
                                  "Edit the skeleton of the person as they stand in the photo (fix a detection)",
                                  checkable=True)
        self.a_box = self._act("Find the Person in a &Box", self.find_in_box, "Ctrl+B",
                               "Drag a box round the person to edit: detection runs inside it (for a person it "
                               "missed, or to pick another one)")
        self.a_fit = self._act("&Fit to Window", self.canvas.fit, "F", "Show the whole photo", "fit")
        self.a_zoom_in = self._act("Zoom &In", self.zoom_in, [K(K.StandardKey.ZoomIn), K("Ctrl+=")])
        self.a_zoom_out = self._act("Zoom &Out", self.zoom_out, K.StandardKey.ZoomOut)
        self.a_actual = self._act("&Actual Size", self.canvas.actual_size, "Ctrl+0")
        self.a_zoom_person = self._act("Zoom to &Person", self.zoom_to_person, "Shift+F",
                                       "Show the person as large as the view holds them")
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

    # Slots are bound methods, never lambdas or functools.partial: PySide keeps those alive with the connection,
    # and one that holds the window keeps the whole closed window (~125 MB) from being collected.
    def _on_undo_text(self, t: str):
        self.a_undo.setToolTip(f"Undo {t} (Ctrl+Z)" if t else "Undo")

    def _on_redo_text(self, t: str):
        self.a_redo.setToolTip(f"Redo {t} (Ctrl+Shift+Z)" if t else "Redo")

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
        self.preset_menu.triggered.connect(self._on_preset_chosen)  # each action's data is its preset's name
        m.addSeparator()
        m.addActions([self.a_adjust, self.a_box])
        m = mb.addMenu("&View")
        m.addActions([self.a_fit, self.a_zoom_person, self.a_zoom_in, self.a_zoom_out, self.a_actual])
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
        from engine.presets import preset_description, preset_names

        self.preset_menu.clear()
        for name in preset_names():
            a = self.preset_menu.addAction(name.replace("-", " ").capitalize())
            a.setData(name)
            a.setStatusTip(preset_description(name))  # which limbs it poses: the rest of the pose stays

    def _on_preset_chosen(self, action: QAction):
        self.apply_preset(action.data())

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
        self.preset_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # as the toolbar's other buttons: not a Tab stop
        self.preset_button.setText("Presets")
        self.preset_button.setIcon(icons.icon("preset"))
        self.preset_button.setToolTip("Start from a ready-made pose")
        self.preset_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.preset_button.setMenu(self.preset_menu)
        # the popup takes the mouse, so the button never gets its Leave event and stays drawn hovered: clear
        # the hover state when the menu closes (the next real mouse move over it sets it again)
        self.preset_menu.aboutToHide.connect(self._unhover_preset_button)
        tb.addWidget(self.preset_button)
        tb.addSeparator()
        tb.addActions([self.a_fit, self.a_animation])

    def _unhover_preset_button(self):
        b = self.preset_button
        b.setDown(False)
        b.setAttribute(Qt.WidgetAttribute.WA_UnderMouse, False)
        QApplication.sendEvent(b, QEvent(QEvent.Type.Leave))
        b.update()

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
        """The window's own signals here; each mixin connects what it uses in its ``_connect_*``."""
        self.canvas.zoomChanged.connect(self._on_zoom_changed)
        self.undo.cleanChanged.connect(self._on_clean_changed)
        self.undo.indexChanged.connect(self._update_actions)
        self.client.renderError.connect(self._on_render_error)
        self.banner.actionTriggered.connect(self._on_banner_action)
        self._connect_photos()
        self._connect_editing()
        self._connect_engine()
        self._connect_files()

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

    def show_done(self, message: str, timeout_ms: int = 6000):
        """A file saved, a photo added: said in the status bar, and an error banner without an action, which
        was about an earlier attempt, goes (a newcomer read a refused save's red banner above the next save's
        success). A banner that asks for something (Locate, Done, Use Warp) stays until it is answered."""
        self.clear_stale_error()
        self.show_info(message, timeout_ms)

    def hint(self, text: str, kind: str, action: str = "", action_id: str = "", timeout_ms: int = 0) -> None:
        """A banner that does not take the place of one asking for something (Done, Cancel, a button): then the
        status bar says it (a training's end replaced the Done of a skeleton being placed)."""
        if self.banner.isVisible() and self.banner.action_id:
            self.show_info(text, max(timeout_ms, 10000))
        else:
            self.banner.show_message(text, kind, action, action_id, timeout_ms)

    def clear_stale_error(self) -> None:
        """An error banner without an action goes: it was about an earlier attempt (a refused save, a photo with
        nobody in it) and something has worked since."""
        if self.banner.kind == "error" and not self.banner.action_id:
            self.banner.dismiss()

    def _on_banner_action(self, action_id: str):
        if action_id == "done-placing":
            self.finish_placing()
        elif action_id == "done-adjust":
            self.toggle_adjust_mode(False)
        elif action_id == "train":
            self.open_train_dialog()
        elif action_id == "cancel-box":
            self.canvas.set_box_mode(False)
        elif action_id == "use-warp":
            self.set_backend("warp")
        elif action_id == "box":
            self.banner.dismiss()
            self.find_in_box()  # which shows its own banner, with Cancel
            return
        elif action_id == "adjust":
            self.banner.dismiss()
            self.toggle_adjust_mode(True)  # which shows its own banner, with Done
            return
        self.banner.dismiss()

    # ===== window =============================================================================================
    def _on_clean_changed(self, clean: bool):
        self.setWindowModified(not clean)

    def _update_actions(self, *_):
        has_pose = self.current_pose() is not None
        for a in (self.a_mirror, self.a_reset, self.a_hide, self.a_export_pose, self.a_import_pose,
                  self.a_animation, self.a_save_session, self.a_save_session_as, self.a_adjust, self.a_box):
            a.setEnabled(has_pose)
        self.preset_button.setEnabled(has_pose)
        self.preset_menu.setEnabled(has_pose)  # the menu's, as the toolbar's button: nothing to fit them to
        has_photo = self.doc.main is not None and self.doc.main.image is not None
        for a in (self.a_fit, self.a_zoom_in, self.a_zoom_out, self.a_actual, self.a_zoom_person):
            a.setEnabled(has_photo)
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

    def resizeEvent(self, e):
        super().resizeEvent(e)
        # a small window's engine dock takes a quarter of it (no less than its panel needs), not its 320 px: at
        # 900 px wide it left the photo and the result 246 px each (a newcomer review)
        dock = self.engine_dock
        if self.width() < SMALL_WINDOW and dock.isVisible() and not dock.isFloating():
            room = max(dock.widget().minimumWidth(), int(DOCK_SHARE * self.width()))
            if dock.width() > room + 4:
                self.resizeDocks([dock], [room], Qt.Orientation.Horizontal)

    def showEvent(self, e):
        super().showEvent(e)
        if self._default_docks:
            self._default_docks = False
            self._default_dock_heights()
        if self._equal_panes:
            self._equal_panes = False
            total = sum(self.splitter.sizes())
            self.splitter.setSizes([total - total // 2, total // 2])

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) of every menu action with a shortcut, in menu order (read from the menus, so the list
        cannot miss one: a hand-kept list left out Open Session and Quit), then the keys no menu item has
        (canvas.KEYS: the canvas handles them itself)."""
        native = QKeySequence.SequenceFormat.NativeText
        rows, seen = [], set()

        def walk(menu):
            for a in menu.actions():
                if a.menu() is not None:
                    walk(a.menu())
                elif id(a) not in seen:
                    seen.add(id(a))
                    keys = [k.toString(native) for k in a.shortcuts() if k.toString(native)]
                    if keys:
                        rows.append((a.text().replace("&", "").rstrip("…").rstrip("."), " or ".join(keys)))
        for top in self.menuBar().actions():
            if top.menu() is not None:
                walk(top.menu())
        return rows + KEYS

    def show_shortcuts(self):
        html = "<table>" + "".join(f"<tr><td>{t}</td><td>&nbsp;&nbsp;<b>{k}</b></td></tr>"
                                   for t, k in self.shortcut_rows()) + "</table>"
        QMessageBox.information(self, "Keyboard Shortcuts", html)

    def show_about(self):
        from . import __version__

        QMessageBox.about(self, "About PoseEditor",
                          f"<h3>PoseEditor {__version__}</h3><p>Repose people in photos: drag the skeleton, see "
                          f"the person re-rendered by a pose-transfer backend.</p>")

    def has_unsaved_edits(self) -> bool:
        """An edited pose (the undo stack is not at its saved state) or edited references, not yet saved."""
        return bool(self.doc.refs) and (not self.undo.isClean() or self._refs_edited)

    def confirm_discard(self, title: str, action: str) -> bool:
        """Before something replaces the open photos: with unsaved edits, ask to save them first. True: go on."""
        if not self.confirm_close or not self.has_unsaved_edits():
            return True
        r = QMessageBox.question(self, title, f"The pose or the reference photos have unsaved edits. Save the "
                                 f"session before {action}?",
                                 QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard |
                                 QMessageBox.StandardButton.Cancel)
        if r == QMessageBox.StandardButton.Cancel:
            return False
        if r == QMessageBox.StandardButton.Save:
            self.save_session_action()
            return not self.has_unsaved_edits()
        return True

    def closeEvent(self, e):
        if getattr(self, "_finishing_saves", False):  # asked again while the saves below finish: the first close goes on
            e.ignore()
            return
        if not self.confirm_discard("Quit PoseEditor", "quitting"):
            e.ignore()
            return
        self.settings.set_geometry("geometry", self.saveGeometry())
        self.settings.set_geometry("state", self.saveState())
        self.settings.set_geometry("splitter", self.splitter.saveState())
        self.settings.sync()
        writing = self.exporter.writing()
        if writing:  # a result being saved is finished, and said so, before the window goes
            names = ", ".join(Path(p).name for p in writing)
            self.statusBar().showMessage(f"Finishing saving {names}…")
            self._finishing_saves = True
            try:
                self.exporter.wait()
            finally:
                self._finishing_saves = False
        self._end_nudge(render=False)
        self._save_after_render = None  # waiting for a render the threads stopping below will not draw
        self.client.request_stop()  # the threads take no new work: the events handled while hiding start none
        # the window goes now: the threads' ends below can take seconds (a big photo's encode is not cut short),
        # and a window left painted but deaf to clicks for 7-8 s looked hung
        self.hide()
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        if self.personalizer is not None:  # a training run stops with a checkpoint (resumable from the CLI)
            self.personalizer.shutdown()
        self.client.shutdown()
        for sig in (self.undo.cleanChanged, self.undo.indexChanged, self.undo.canUndoChanged,
                    self.undo.canRedoChanged, self.undo.undoTextChanged, self.undo.redoTextChanged):
            sig.disconnect()
        self.undo.clear()
        super().closeEvent(e)
