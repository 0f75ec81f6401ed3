"""The main window's engine glue: results shown, the backend and its weights, the Train on This Person dialog
and the weights manager (personalize.py, train_dialog.py, weights_manager.py)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from .settings import weights_dir


class EngineMixin:
    """Mixed into MainWindow (main_window.py), whose widgets and state it uses."""

    def _connect_engine(self):
        worker, panel = self.client.worker, self.engine_panel
        self.client.resultReady.connect(self._on_result)
        self.client.busyChanged.connect(self.result.set_busy)
        worker.catalogue.connect(panel.set_catalogue)
        worker.backendChanged.connect(self._on_backend_changed)
        # a bound slot, so Qt queues it to the UI thread (a lambda would run the banner in the worker thread)
        worker.error.connect(self.show_error)
        panel.backendChosen.connect(self.set_backend)
        panel.deviceChosen.connect(self.client.set_device)
        panel.loadWeightsClicked.connect(self.load_weights_dialog)
        panel.trainClicked.connect(self.open_train_dialog)
        panel.manageWeightsClicked.connect(self.open_weights_manager)
        # before the saved layout is restored: a dock saved narrower than the panel comes back widened
        panel.keep_room(self.engine_dock.widget())
        self._timed_main = None  # the photo whose render time the panel shows
        self.doc.referencesChanged.connect(self._forget_other_photos_time)

    # ===== results ============================================================================================
    def _on_result(self, res):
        main = self.doc.main
        if not self.client.is_current(res, main.image if main is not None else None):
            # the photo before's render, arriving after another photo opened: drawn over this photo it would be
            # stretched into its frame, and a waiting save would write it (or blend it) under this photo's name
            return
        self.result.show_result(res)
        t = f"{res.ms:.0f} ms" if res.ms < 1000 else f"{res.ms / 1000:.2f} s"
        if res.encode_ms > 5:  # the detail the result header leaves out for room; its tooltip says the rest
            t += f" (+{res.encode_ms:.0f} ms reading the photos)"
        if self._timed_here(res):  # not a render of the photo before, arriving while this one loads
            self.render_label.setText(f"{res.backend}: {t}")
            self.render_label.setToolTip(self.result.details)
        if res.backend == res.chosen and res.kind == "final" and self._timed_here(res):
            # a final render's time: a drag's frames may be drawn on a reduced copy (a 12 MP photo's "Last full
            # render: 125 ms" was its preview's, the full render's 2.6 s)
            self.engine_panel.set_timing(res.ms, res.steady_ms)
        if self._render_error_shown:  # rendering works again: the old render error no longer applies
            self._render_error_shown = False
            if self.banner.kind == "error":
                self.banner.dismiss()
        if self._save_after_render and res.seq == self.client.latest_seq and res.kind == "final":
            path, self._save_after_render = self._save_after_render, None
            self.save_result(path)
        self.resultShown.emit(res)

    def _timed_here(self, res=None) -> bool:
        """Whether render times (of ``res``, or the worker's now) are of the photo being edited: not those of the
        photo before it, still drawn or counted while this one loads."""
        main = self.doc.main
        image = main.image if main is not None else None
        if res is not None:
            return self.client.is_current(res, image)
        return image is not None and self.client.sources_main is image

    def _forget_other_photos_time(self):
        """Another photo to edit: the render time in the panel and the status bar was the last photo's (a 101 ms
        of small photos said nothing of an 8000x6000 one), so it goes until this photo's first render."""
        if self.doc.main is not self._timed_main:
            self._timed_main = self.doc.main
            self.engine_panel.set_timing(None)
            self.render_label.setText("")
            self.render_label.setToolTip("")

    def _on_backend_changed(self, info: dict):
        first = self.backend_info is None
        self.backend_info = info
        self.engine_panel.set_backend_info(info)
        self.result.set_chosen(info["name"], info["title"])
        if not self._timed_here():  # the worker's times are still the last photo's
            self.engine_panel.set_timing(None)
        self.settings.set_value("engine/device", "cuda" if str(info["device"]).startswith("cuda") else "cpu")
        if not self._is_check(info.get("weights_path")):  # a training's check is shown, not chosen
            self.settings.set_value("engine/backend", info["name"])
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
        if first:
            self.hint_trained_weights()
        self._refresh_train_dialog()

    def hint_trained_weights(self):
        """Weights trained on one person draw every photo like that person: when a photo opens with such
        weights in use, say whom (or what data) they were trained on, with the way to train on this one."""
        info = self.backend_info or {}
        main = self.doc.main
        if (info.get("weights_kind") != "file" or not info.get("weights_data") or main is None or not main.ready
                or self.placing or self.banner.isVisible()):
            return
        label = info.get("weights_label") or Path(info.get("weights_path") or "").stem
        self.banner.show_message(
            f"{info['title']} draws with weights trained on “{info['weights_data']}” ({label}). If "
            f"{Path(main.path).name} shows someone else, the result looks like that person: train on this "
            f"person, or choose other weights.", "info", "Train on This Person…", "train", timeout_ms=20000)

    def set_backend(self, name: str):
        self._chosen()
        self.client.set_backend(name, self.settings.weights_for(name))

    def load_weights_dialog(self):
        start = weights_dir() if weights_dir().is_dir() else Path(self.settings.last_dir("weights"))
        path, _ = QFileDialog.getOpenFileName(self, "Load Weights", str(start),
                                              "Weights (*.safetensors);;All files (*)")
        if path:
            self.load_weights(path)

    def load_weights(self, path: str):
        self._chosen()
        self.settings.set_last_dir("weights", path)
        self.client.load_weights(path)

    # ===== train on this person, weights manager (personalize.py, train_dialog.py, weights_manager.py) =========
    def _weights_for(self, name: str) -> tuple[str | None, str]:
        """The weights file a backend uses now (or would use when chosen), and how to call it."""
        from engine.backends.base import starter_path  # numpy only

        from .weights_library import starter_label

        info = self.backend_info or {}
        starter = starter_path(name)
        if info.get("name") == name:
            if info.get("weights_kind") == "file" and info.get("weights_path"):
                return info["weights_path"], info.get("weights_label") or Path(info["weights_path"]).name
            if info.get("weights_kind") == "starter" and starter.is_file():
                return str(starter), starter_label(starter)
            return None, ""
        path = self.settings.weights_for(name)
        if path:
            return path, Path(path).stem
        return (str(starter), starter_label(starter)) if starter.is_file() else (None, "")

    def _train_context(self):
        from .train_dialog import TrainContext

        neural = [b for b in self.engine_panel.catalogue.values() if b.get("needs_weights")]
        refs, main = self.doc.ready_refs(), self.doc.main
        photos = [r.path for r in refs]
        unlike = [Path(r.path).name for r in refs if r is not main and r.unlike]  # window_photos._check_outfits
        return TrainContext(photos, [(b["name"], b["title"]) for b in neural], (self.backend_info or {}).get("name"),
                            self._weights_for, self.settings.last_dir("videos"),
                            {b["name"]: b["network"] for b in neural if b.get("network")}, unlike)

    def _refresh_train_dialog(self):
        """Photos or backends changed: an open training dialog that is not running shows the new choices."""
        if self.train_dialog is not None and self.train_dialog.isVisible() and not self.personalizer.running:
            self.train_dialog.set_context(self._train_context())

    def _on_personalize_failed(self, message: str):
        self.show_error(f"Train on This Person: {message}")

    def open_train_dialog(self):
        """Show the training dialog (one per window: it keeps its run while hidden)."""
        from .personalize import Personalizer
        from .settings import data_dir
        from .train_dialog import TrainDialog

        if self.personalizer is None:
            self.personalizer = Personalizer(data_dir(), self)
            self.personalizer.finished.connect(self._on_trained)
            self.personalizer.learning.connect(self._on_learning)
            self.personalizer.learningOff.connect(self._stop_showing_learning)
            self.personalizer.learningOn.connect(self._learning_again)
            self.personalizer.failed.connect(self._stop_showing_learning)
            self.personalizer.failed.connect(self._on_personalize_failed)
            self.personalizer.phaseChanged.connect(self._on_training_phase)
        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self, self._train_context(), self.personalizer)
            self.train_dialog.finished.connect(self._train_dialog_closed)
        elif not self.personalizer.running:
            self.train_dialog.set_context(self._train_context())
        self.train_dialog.show()
        self.train_dialog.raise_()
        self.train_dialog.activateWindow()
        return self.train_dialog

    def _on_trained(self, path: str):
        self.load_weights(path)
        self.hint(f"Training done: {Path(path).name} is saved in your weights folder and now drawing the result.",
                  "info", timeout_ms=12000)

    def _is_check(self, path) -> bool:
        """Whether ``path`` is a training run's check (runs/<run>/best.safetensors): shown while it learns, never
        the person's choice of weights (the file changes with every better check, and goes with its run)."""
        from training.names import folders  # no torch or Qt

        from .settings import data_dir

        return bool(path and Path(path).name == "best.safetensors"
                    and Path(path).parent.parent == folders(data_dir())["runs"])

    def _on_learning(self, path: str):
        """A check of the running training beat the ones before: the photo is drawn with those weights, so the
        person sees the model learn while they edit. From a run's first check whatever the engine in use (the run
        was asked for, and its end switches to it too), until the person chooses an engine or weights."""
        run = str(Path(path).parent)
        first = run != self.learning_run
        if first:
            self.learning_run, self.learning_on = run, True
        if not self.learning_on:
            return
        info = self.backend_info or {}
        # what to go back to: what the person had before the run's first check (or before it was turned back on);
        # not a check (an earlier run's, or this one's still reported while the way back loads)
        if (first or self.before_learning is None) and not self.check_asked \
                and not self._is_check(info.get("weights_path")):
            self.before_learning = (info.get("name"), info.get("weights_kind"), info.get("weights_path"))
        self.check_asked = path
        self.client.load_weights(path, remember=False)
        if first:
            self.hint("While it trains, the photo is drawn with its best check so far (the training window's \"as it "
                      "learns\" turns this off).", "info", timeout_ms=10000)

    def _chosen(self):
        """The person chose an engine, weights or a session: the shown run's later checks are not shown (a run
        whose first check comes after the choice is shown from it, whether chosen while preparing or fitting)."""
        self.check_asked, self.learning_on = None, False

    def _learning_again(self):
        """"As it learns" turned back on: the run's next better check is shown, and what is in use then is what
        the window goes back to."""
        self.learning_on, self.before_learning = True, None

    def _stop_showing_learning(self, *_) -> bool:
        """Back to the engine and weights in use before the run's first check, while one of its checks is shown
        (or asked for): the run failed, "as it learns" was turned off, or the training window was closed on the
        stopped run (_train_dialog_closed). Returns whether it went back."""
        ctl = self.personalizer
        if ctl is None or ctl.run_dir is None or self.learning_run != str(ctl.run_dir) \
                or self.before_learning is None or not self.learning_on:
            return False
        from engine.backends.base import starter_path  # numpy only

        name, kind, path = self.before_learning
        self.check_asked, self.learning_on = None, False
        if name is None:
            return False
        if kind == "file" and path:
            self.client.load_weights(path)
        elif kind == "starter":
            self.client.load_weights(str(starter_path(name)))
        else:
            self.client.set_backend(name, None)
        return True

    def _train_dialog_closed(self, *_):
        """The training window closed on a stopped run: the check it showed as it learnt is not the person's
        choice (Use Weights Now is one), so the photo goes back to what it was drawn with before; a run closed
        while it trains goes on showing its checks, and one closed while it stops is put aside once stopped."""
        from .personalize import STOPPED

        ctl = self.personalizer
        if ctl is not None and ctl.phase == STOPPED and self._stop_showing_learning():
            self.set_aside_run = self.learning_run
            self.hint("The stopped training's weights are put aside and the photo is drawn as before; Train on This "
                      "Person… resumes it or uses what it has learnt.", "info", timeout_ms=10000)

    def _on_training_phase(self, phase: str):
        """Stopped with its window closed (Stop, then Close before the step ended): put aside as on closing. A run
        put aside is resumed: its better checks are shown again, as it learns."""
        from .personalize import STOPPED, TRAIN

        ctl = self.personalizer
        if phase == STOPPED and self.train_dialog is not None and not self.train_dialog.isVisible():
            self._train_dialog_closed()
        elif phase == TRAIN and self.set_aside_run is not None and self.set_aside_run == str(ctl.run_dir):
            self.set_aside_run = None
            if ctl.live:
                self._learning_again()

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

