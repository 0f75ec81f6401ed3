"""The main window's file actions: pose JSON, result image, animation, sessions and recent files; files
dropped on the window are window_drops.py's."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QMessageBox, QProgressDialog, QPushButton, QSpinBox)

from engine.errors import PoseEditorError, user_message
from engine.fileio import check_input
from engine.images import IMAGE_SUFFIXES, MAX_SIDE
from engine.pose import Pose, for_photo

from . import animation as anim
from .document import Reference
from .window_drops import DropsMixin

IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"
SESSION_FILTER = "PoseEditor sessions (*.pose-session.json *.json);;All files (*)"
POSE_FILTER = "OpenPose JSON (*.json);;All files (*)"


class AnimationDialog(QDialog):
    """Where to write the animation, how many frames, how fast, how large."""

    def __init__(self, parent, start_dir: str, backend: str, photo_size: tuple[int, int], stem: str = "pose"):
        super().__init__(parent)
        self.setWindowTitle("Export Animation")
        self.path = QLineEdit(str(Path(start_dir) / f"{stem}-animation.gif"))  # named after the photo, as results are
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.frames = QSpinBox(minimum=2, maximum=240, value=16)
        self.fps = QSpinBox(minimum=1, maximum=60, value=12)
        self.boomerang = QCheckBox("Play forward, then back (loops smoothly)")
        self.photo_size = photo_size
        # at most the working photo's size, which the frames are drawn at
        self.long_side = QSpinBox(minimum=32, maximum=MAX_SIDE, value=anim.default_long_side(*photo_size),
                                  suffix=" px", singleStep=60)
        self.size_note = QLabel()
        self.long_side.valueChanged.connect(self._show_size)
        self._show_size()
        size_row = QHBoxLayout()
        size_row.addWidget(self.long_side)
        size_row.addWidget(self.size_note, 1)
        form = QFormLayout(self)
        form.addRow("File (.gif or .mp4)", row)
        form.addRow(f"Frames ({self.frames.minimum()}-{self.frames.maximum()})", self.frames)  # 300 typed is 30
        form.addRow("Frames per second", self.fps)
        form.addRow("Long side", size_row)
        form.addRow("", self.boomerang)
        form.addRow("", QLabel(f"From the detected pose to the edited pose, drawn by the <b>{backend}</b> "
                               f"backend."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def size(self) -> tuple[int, int]:
        return anim.frame_size(*self.photo_size, self.long_side.value())

    def _show_size(self):
        w, h = self.size()
        pw, ph = self.photo_size
        self.size_note.setText(f"{w} × {h}" + (" (the photo's size)" if (w, h) == (pw, ph) else
                                                f" (the photo: {pw} × {ph})"))

    def _browse(self):
        path, _ = QFileDialog.getSaveFileName(self, "Export Animation", self.path.text(),
                                              "GIF animation (*.gif);;MP4 video (*.mp4)")
        if path:
            self.path.setText(path)


def recent_labels(paths: list[str]) -> list[str]:
    """Open Recent's label for each path: the file's name, then its folder, with as many of the folder's own
    parents as it takes to tell it from another recent file of the same name ("portrait.jpg — Pictures/2024"
    beside "portrait.jpg — Desktop/2024"). A folder shown whole starts at ~ when it is in the home folder."""
    home = Path.home()
    folders = [Path(p).parent for p in paths]
    parts = [f.parts for f in folders]
    names = [Path(p).name for p in paths]
    labels = []
    for i, name in enumerate(names):
        others = [parts[j] for j in range(len(paths)) if j != i and names[j] == name]
        k = 1
        while k < len(parts[i]) and any(o[-k:] == parts[i][-k:] for o in others):
            k += 1
        if k >= len(parts[i]):  # the whole folder
            f = folders[i]
            shown = f"~/{f.relative_to(home).as_posix()}" if f.is_relative_to(home) and f != home else str(f)
        else:
            shown = "/".join(parts[i][-k:])
        labels.append(f"{name} — {shown}")
    return labels


class ResultExporter(QObject):
    """Writes result images in a thread of its own (engine.full_size.export_result: a photo larger than the
    working size is written at its own size, which takes seconds), one at a time. ``finished`` brings the
    engine's Export, or dict(path, error), back to the UI thread. The thread is not a daemon: a save under way
    when the app quits is finished, not cut off."""

    finished = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._one_at_a_time = threading.Lock()  # two full-size photos in memory at once would be 2 x 144 MB+
        self.pending = 0
        self._threads: list[tuple[threading.Thread, str]] = []  # (thread, path) of the saves started

    def start(self, job: dict):
        self.pending += 1
        t = threading.Thread(target=self._run, args=(job,), name="export-result")
        self._threads = [(w, p) for w, p in self._threads if w.is_alive()] + [(t, job["path"])]
        t.start()

    def writing(self) -> list[str]:
        """The paths of the files still being written."""
        return [p for t, p in self._threads if t.is_alive()]

    def wait(self):
        """Until every file started is written (at quit), handling the UI thread's events meanwhile but not the
        user's input: the window stays painted, and the saves' own messages arrive, through a save that takes
        seconds. Not cut off after a while: the file would be left half written."""
        from PySide6.QtCore import QCoreApplication, QEventLoop

        for t, _ in list(self._threads):
            while t.is_alive():
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents, 50)
                t.join(0.05)
        # the last finished signal, queued by the thread's end, is handled before the window goes
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def _run(self, job):
        from engine.full_size import export_result

        with self._one_at_a_time:
            try:
                out = export_result(job["path"], job["photo"], job["working"], job["result"])
            except Exception as e:
                out = {"path": job["path"], "error": user_message(e, (OSError, ValueError, MemoryError))}
        try:
            self.finished.emit(out)
        except RuntimeError:  # the window was closed and deleted while the file was written
            pass


class FilesMixin(DropsMixin):
    """Mixed into MainWindow (main_window.py), whose widgets and state it uses."""

    def _connect_files(self):
        worker = self.client.worker
        worker.progress.connect(self._on_anim_progress)
        worker.animationDone.connect(self._on_anim_done)
        worker.animationFailed.connect(self._on_anim_failed)
        self.recent_menu.triggered.connect(self._on_recent_chosen)  # a recent file's action holds its path
        self.recent_menu.setToolTipsVisible(True)  # the full path of a recent file
        self.banner.actionTriggered.connect(self._on_files_banner_action)
        self.exporter = ResultExporter(self)
        self.exporter.finished.connect(self._on_result_exported)
        self._locating = None  # a session waiting for the photos the user is asked to locate (locate_photo)
        self._connect_drops()

    def _on_files_banner_action(self, action_id: str):
        if action_id == "locate-photo":
            self.locate_photo_dialog()

    # ===== files ==============================================================================================
    def save_dir(self, kind: str) -> str:
        """Where a save dialog opens: beside the photo being edited (what is saved belongs with it), else the
        folder last used for this kind of file."""
        if kind == "sessions" and self.session_path is not None:
            return str(self.session_path.resolve().parent)
        if self.doc.main is not None:
            return str(Path(self.doc.main.path).resolve().parent)
        return self.settings.last_dir(kind)

    def _ask_save(self, title: str, default_name: str, filt: str, kind: str, what: str, complete=None) -> str:
        """A path to save to, or "" when cancelled (``complete`` adds a bare name's suffix). The window asks to
        replace a file itself, after refusing an input (the dialog asked first, then the window refused); a refused
        name, or No to replacing, opens the dialog again (docs/decisions.md, 63)."""
        start = str(Path(self.save_dir(kind)) / default_name)
        while True:
            path, _ = QFileDialog.getSaveFileName(self, title, start, filt,
                                                  options=QFileDialog.Option.DontConfirmOverwrite)
            if not path:
                return ""
            self.settings.set_last_dir(kind, path)
            path = complete(path) if complete is not None else path
            start = str(Path(path).parent / default_name)
            if self.output_refused(path, what):
                QMessageBox.warning(self, title, self.last_error)  # then the dialog again
                continue
            if Path(path).exists():
                answer = QMessageBox.question(self, title, f"{Path(path).name} already exists in "
                                              f"{Path(path).parent}. Replace it?")
                if answer != QMessageBox.StandardButton.Yes:
                    start = path
                    continue
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
        name = Path(path).name
        try:
            check_input(path, PoseEditorError, "pose file")  # a pipe or device is refused, not read
            pose = for_photo(Pose.load_json(path, cur.width, cur.height), cur)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        except (RecursionError, ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
            self.show_error(f"{name}: not a pose file PoseEditor can read ({type(e).__name__})")
            return False
        if pose.count == 0:
            self.show_error(f"{name}: the pose has no joints.")
            return False
        xy = pose.xy[pose.present]
        reach = 2 * max(cur.width, cur.height)
        if not np.isfinite(xy).all() or (np.abs(xy - (cur.width / 2, cur.height / 2)) > reach).any():
            self.show_error(f"{name}: the pose's joints lie far outside the photo (coordinates "
                            f"{np.abs(xy).max():.3g}); not imported.")
            return False
        self._push(pose, f"Import {Path(path).name}")
        self.show_info(f"Imported the pose from {Path(path).name}.")
        return True

    def export_pose_dialog(self):
        path = self._ask_save("Export Pose JSON", f"{self._stem()}-pose.json", POSE_FILTER, "poses", "pose file")
        if path:
            self.export_pose(path)

    def output_refused(self, path, what: str) -> bool:
        """True (with the message shown) when ``path`` cannot be written, or names one of the open photos (or
        the weights in use): an output never replaces an input."""
        from engine.fileio import check_output

        inputs = [r.path for r in self.doc.refs] + [(self.backend_info or {}).get("weights_path")]
        try:
            check_output(path, inputs, what)
        except PoseEditorError as e:
            self.show_error(str(e))
            return True
        return False

    def export_pose(self, path) -> bool:
        if self.doc.target is None:
            self.show_error("There is no pose to export yet.")
            return False
        if self.output_refused(path, "pose file"):
            return False
        try:
            self.doc.target.save_json(path)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        except OSError as e:
            self.show_error(f"Cannot write {path}: {e.strerror or e}")
            return False
        self.show_done(f"Pose saved to {path}")
        return True

    def save_result_dialog(self):
        path = self._ask_save("Save Result Image", f"{self._stem()}-reposed.png",
                              "PNG image (*.png);;JPEG image (*.jpg *.jpeg)", "results", "result image",
                              lambda p: p if Path(p).suffix else p + ".png")
        if path:
            self.save_result(path)

    def save_result(self, path) -> bool:
        """Save the result; if the final render of the current pose is not there yet, save it when it is. The
        file is written in the exporter's thread (ResultExporter); the status bar says when it is there."""
        from engine.images import image_format

        res = self.result.result
        if res is None:
            self.show_error("There is no result to save yet.")
            return False
        if self.output_refused(path, "result image"):
            return False
        if self.client.busy or res.seq != self.client.latest_seq or res.kind != "final":
            self._save_after_render = str(path)
            self._request("final")
            self.show_info("Saving when the final render is ready…")
            return True
        try:
            image_format(path)  # an unknown type is said now, not after the export's work
        except PoseEditorError as e:
            self.show_error(f"Cannot save the image: {e}")
            return False
        main = self.doc.main
        if main is None or main.image is None:
            self.show_error("There is no result to save yet.")
            return False
        # written in the exporter's thread: at the photo's own size (seconds for a large photo) when it is larger
        # than the photo edited; the images are never changed in place, so they are shared, not copied
        self.exporter.start(dict(path=str(path), photo=main.path, working=main.image, result=res.image))
        self.show_info(f"Saving {Path(path).name}…", 0)
        return True

    def _on_result_exported(self, out):
        self.exporter.pending -= 1
        if isinstance(out, dict):
            self.show_error(f"Cannot save the image: {out['error']}")
            return
        w, h = out.size
        if out.full_size:
            ww, wh = out.working
            self.show_done(f"Result saved to {out.path} at the photo's own size, {w}x{h} (edited at {ww}x{wh}; "
                           f"the edit was enlarged into the original photo)", 10000)
        elif out.photo is not None and out.photo != out.size or out.note:
            pw, ph = out.photo or (0, 0)
            own = f"smaller than the photo's own {pw}x{ph}" if out.photo and out.photo != out.size else ""
            msg = f"Result saved to {out.path} at {w}x{h}, " + ", ".join(t for t in (own, out.note) if t) + "."
            self.last_error = msg
            self.hint(msg, "warning")
            self.statusBar().showMessage(msg, 10000)
        else:
            self.show_done(f"Result saved to {out.path} ({w}x{h})")

    def animation_dialog(self):
        if self.doc.target is None or self.doc.sources() is None:
            self.show_error("Open a photo and edit the pose before exporting an animation.")
            return
        if self.doc.main.pose is not None and self.doc.target == self.doc.main.pose:  # a still, said as nothing
            self.show_error("Nothing to animate yet: the pose is the photo's. Drag a joint or pick a preset first.")
            return
        h, w = self.doc.main.image.shape[:2]
        d = AnimationDialog(self, self.save_dir("results"), (self.backend_info or {}).get("name", "warp"), (w, h),
                            self._stem())
        if d.exec() == QDialog.DialogCode.Accepted:
            self.settings.set_last_dir("results", d.path.text())
            self.export_animation(d.path.text(), d.frames.value(), d.fps.value(), d.boomerang.isChecked(),
                                  d.size())

    def export_animation(self, path, frames: int = 16, fps: int = 12, boomerang: bool = False,
                         size: tuple[int, int] | None = None) -> bool:
        """Render and write the animation from the detected pose to the edited one; ``size`` (w, h) scales its
        frames (the dialog's Long side), None keeps the photo's."""
        from .animation import check_path, pose_sequence

        try:
            check_path(path)
            poses = pose_sequence(self.doc.main.pose, self.doc.target, frames, boomerang)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        if self.output_refused(path, "animation"):
            return False
        self._progress = QProgressDialog("Rendering the animation…", "Cancel", 0, len(poses), self)
        self._progress.setWindowTitle("Export Animation")
        self._progress.setWindowModality(Qt.WindowModality.NonModal)
        self._progress.setMinimumDuration(300)
        self._progress.canceled.connect(self.client.cancel_animation)
        self.client.export_animation(dict(path=str(path), poses=poses, fps=fps, size=size))
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
            self.show_done(f"Animation saved: {info['path']} ({info['frames']} frames, {info['backend']}, "
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

        path = self._ask_save("Save Session", f"{self._stem()}{SUFFIX}", SESSION_FILTER, "sessions", "session",
                              lambda p: p if p.endswith(".json") else p + SUFFIX)
        if path:
            self.save_session(path)

    def save_session(self, path) -> bool:
        from .session import Session, SessionRef, save_session

        if not self.doc.refs:
            self.show_error("Nothing to save: open a photo first.")
            return False
        if self.output_refused(path, "session"):
            return False
        info = self.backend_info or {}
        weights = None if self._is_check(info.get("weights_path")) else info.get("weights_path")  # it moves
        s = Session([SessionRef(r.path, r.pose, r.hand_placed) for r in self.doc.refs if r.image is not None],
                    self.doc.target, info.get("name", "warp"), weights,
                    "cuda" if str(info.get("device", "cpu")).startswith("cuda") else "cpu")
        try:
            save_session(path, s)
        except PoseEditorError as e:
            self.show_error(f"Cannot save the session: {e}")
            return False
        except OSError as e:
            self.show_error(f"Cannot save the session: {e.strerror or e}")
            return False
        self.session_path = Path(path)
        self.undo.setClean()
        self._refs_edited = False
        self.settings.add_recent(path)
        self._fill_recent()
        self._update_title()
        self.show_done(f"Session saved to {path}")
        return True

    def open_session_dialog(self):
        if not self.confirm_discard("Open Session", "opening another session"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open Session", self.settings.last_dir("sessions"),
                                              SESSION_FILTER)
        if path:
            self.settings.set_last_dir("sessions", path)
            self.open_session(path)

    def open_session(self, path, add=(), located=None) -> bool:
        """Open a session file; ``add``: photos to add as references once its own are in (dropped with it);
        ``located``: {path in the session: where the user found that photo} (locate_photo).

        The session opens only with its first photo, the one whose edited pose it keeps: when that photo is not
        where the session says, the banner offers to locate it, and nothing else changes."""
        from .session import load_session

        try:
            s = load_session(path)
        except PoseEditorError as e:
            self.show_error(str(e))
            return False
        located = dict(located or {})
        for r in s.references:
            r.path = located.get(r.path, r.path)
        missing = [r for r in s.references if not Path(r.path).is_file()]
        refs = [r for r in s.references if Path(r.path).is_file()]
        if missing and missing[0] is s.references[0]:
            self._locating = {"session": Path(path), "missing": missing, "add": list(add), "located": located,
                              "open": False}
            photo = Path(os.path.abspath(missing[0].path))  # the folder in full, whatever the session was named by
            self.show_error(f"{Path(path).name}: its photo {photo.name} no longer exists in {photo.parent} (moved "
                            f"or renamed?). Locate it to open the session with its poses.",
                            "Locate Photo…", "locate-photo")
            return False
        self.open_photos([r.path for r in refs],
                         then=lambda new: self._session_opened(path, s, refs, missing, new, add, located))
        return True

    def locate_photo_dialog(self):
        """Ask where the session's missing photo is now, starting in the session's folder, with its name."""
        loc = self._locating
        if loc is None:
            return
        name = Path(loc["missing"][0].path).name
        start = loc["session"].resolve().parent / name
        path, _ = QFileDialog.getOpenFileName(self, f"Locate {name}", str(start), IMAGE_FILTER)
        if path:
            self.locate_photo(path)

    def locate_photo(self, path) -> bool:
        """The first of the session's missing photos is ``path``; the others missing are looked for beside it
        by name (a folder renamed or moved as a whole). A session that could not open opens now; a session
        open without some of its photos gets them as references, with their poses."""
        loc = self._locating
        if loc is None:
            return False
        path = Path(path)
        found = {loc["missing"][0].path: str(path)}
        for r in loc["missing"][1:]:
            beside = path.parent / Path(r.path).name
            if beside.is_file():
                found[r.path] = str(beside)
        if not loc["open"]:
            if not self.confirm_discard("Open Session", f"opening {loc['session'].name}"):
                return False
            self._locating = None
            return self.open_session(loc["session"], loc["add"], {**loc["located"], **found})
        self._locating = None
        if self._pending_session is None:
            self._pending_session = {}
        for r in loc["missing"]:
            if r.path in found:
                ref = Reference(found[r.path])
                self._pending_session[ref.id] = (r.pose, r.hand_placed)  # its pose waits for its photo
                self.doc.add(ref)
                self.client.detect(ref.id, ref.path)
        self._refs_edited = True
        self._relocated(found, [r for r in loc["missing"] if r.path not in found])
        return True

    def _relocated(self, found: dict, still_missing: list):
        """Say which photos were found where, that saving keeps it, and offer to locate any still missing."""
        names = ", ".join(Path(p).name for p in found.values())
        where = {str(Path(p).parent) for p in found.values()}
        msg = f"Found {names} in {', '.join(sorted(where))}. Save the session (Ctrl+S) to keep the new place."
        if still_missing:
            self._locating = {"session": self.session_path, "missing": still_missing, "add": [], "located": {},
                              "open": True}
            self.show_error(f"{msg} Still missing: {', '.join(Path(r.path).name for r in still_missing)}.",
                            "Locate Photo…", "locate-photo")
        else:  # in the banner: the status bar's line is soon taken by the photos' own searches
            self.hint(msg, "info", timeout_ms=15000)
            self.show_info(msg, 10000)

    def _session_opened(self, path, s, refs, missing, new, add=(), located=None):
        """The session's photos are the references ``new`` now (its first photo was read): its poses wait for
        their photos, its engine is chosen."""
        self._pending_session = {ref.id: (r.pose, r.hand_placed) for ref, r in zip(new, refs)}
        self._pending_session["target"] = s.target
        self.session_path = Path(path)
        self._chosen()  # a session names its engine and weights: the person's choice, over a training's checks
        # a training's check (a session saved by an earlier version while one was shown) is not the person's choice
        if s.weights and Path(s.weights).is_file() and not self._is_check(s.weights):
            self.client.set_backend(s.backend, s.weights)
        elif (self.backend_info or {}).get("name") != s.backend:
            self.client.set_backend(s.backend, self.settings.weights_for(s.backend))
        if s.device != "cpu":
            self.client.set_device(s.device)
        self.settings.add_recent(path)
        self._fill_recent()
        self._update_title()
        if located:  # the session file still names the old places until it is saved
            self._refs_edited = True
        if missing:
            self._locating = {"session": Path(path), "missing": missing, "add": [], "located": {}, "open": True}
            self.show_error(f"Some photos of the session are missing: {', '.join(r.path for r in missing)}",
                            "Locate Photo…", "locate-photo")
        elif located:
            self._relocated(located, [])
        if add:
            self.add_references([str(p) for p in add])

    # ===== recent files =======================================================================================
    def _fill_recent(self):
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for i, (p, label) in enumerate(zip(files, recent_labels(files))):
            a = self.recent_menu.addAction(f"&{i + 1} {label.replace('&', '&&')}")  # a name's & is no mnemonic
            a.setToolTip(p)
            a.setStatusTip(p)
            a.setData(p)
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear List", self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _on_recent_chosen(self, action):
        if action.data():
            self.open_recent(action.data())

    def _clear_recent(self):
        self.settings.clear_recent()
        self._fill_recent()

    def open_recent(self, path: str):
        if not Path(path).exists():
            self.show_error(f"{path} no longer exists.")
            return
        if not self.confirm_discard("Open Recent", f"opening {Path(path).name}"):
            return
        if path.endswith(".json"):
            self.open_session(path)
        else:
            self.open_photos([path])
