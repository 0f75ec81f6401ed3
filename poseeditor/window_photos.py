"""The main window's photos: opening them, the detect thread's feedback while they load, the reference
strip's edits, and placing a skeleton by hand where nobody was found."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from .commands import SOURCE, TARGET
from .document import Reference
from .result_view import PLACEHOLDER
from .window_files import IMAGE_FILTER

# a person shorter than this (photo pixels, the joints' height and a head) gets a skeleton the detector guessed
# at: the window says so
SMALL_PERSON_PX = 80


class PhotosMixin:
    """Mixed into MainWindow (main_window.py), whose widgets and state it uses."""

    def _connect_photos(self):
        detector = self.client.detector
        self.client.photoLoaded.connect(self._on_photo_loaded)
        detector.imageReady.connect(self._on_image_ready)
        detector.status.connect(self._on_detect_status)
        detector.boxSearched.connect(self._on_box_searched)
        detector.othersFound.connect(self._on_others_found)
        detector.outfitFound.connect(self._on_outfit)
        self.client.worker.status.connect(self._on_engine_status)
        self.canvas.boxDrawn.connect(self._on_box_drawn)
        self.doc.referencesChanged.connect(self._on_references_changed)
        self.strip.addRequested.connect(self.add_dialog)
        self.strip.removeRequested.connect(self.remove_reference)
        self.strip.orderChanged.connect(self.reorder_references)

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
        self._opened(out)
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
        if not self.confirm_discard("Open Photos", "opening other photos"):
            return
        paths, _ = QFileDialog.getOpenFileNames(self, "Open Photos of One Person", self.settings.last_dir(),
                                                IMAGE_FILTER)
        if paths:
            self.open_photos(paths)

    def add_dialog(self):
        paths, _ = QFileDialog.getOpenFileNames(self, "Add Reference Photos", self.settings.last_dir(),
                                                IMAGE_FILTER)
        if paths:
            self.add_references(paths)

    def open_photos(self, paths, then=None):
        """Start over with these photos (the first is the one edited), once the first is read: a file that is not
        a photo leaves what was open as it was. ``then(refs)`` runs when the new references exist (a session's
        poses and engine wait for them)."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        first = Reference(paths[0])
        self.client.detect(first.id, first.path, first=True)
        if self.doc.main is None:
            self._start_over(first, paths, then)
        else:  # the newest request wins: an earlier one still being read is forgotten
            self._opening = (first, paths, then)
            self.statusBar().showMessage(f"Opening {Path(paths[0]).name}…")

    def _person_is_small(self) -> bool:
        """Whether the edited person's box (MainWindow.person_box) spans under a third of the photo's width and
        of its height."""
        box, (w, h) = self.person_box(), self.doc.main.size
        return box is not None and box[2] - box[0] < w / 3 and box[3] - box[1] < h / 3

    def _start_over(self, first: Reference, paths: list[str], then=None):
        self._opening = None
        # a session's poses wait for its own photos only: one of them refused left them for the next photos
        self._pending_session = None
        self._locating = None  # a session's missing photos are not this one's
        self.doc.clear()
        self.undo.clear()
        self._refs_edited = False
        self.session_path = None
        self._set_mode(TARGET)
        self.placing = False
        self.banner.dismiss()
        self.canvas.set_image(None)
        self.canvas.select(-1)  # a joint chosen on the last photo is not this one's
        name = Path(paths[0]).name
        if self._save_after_render:  # it was the last photo's result to save: never this one's under its name
            msg = f"The save of {Path(self._save_after_render).name} was cancelled: another photo was opened."
            self._save_after_render = None
            # a banner, not the status bar alone: "Now editing …" replaces the status bar's line once it is read
            self.banner.show_message(msg, "warning", timeout_ms=15000)
            self.statusBar().showMessage(msg, 15000)
        # the detector may still be loading (opened during the start-up warm-up): say that rather than "Opening"
        self.canvas.set_message(self._detect_status or f"Opening {name}…")
        self.result.clear(self._detect_status or f"Finding the person in {name}…")
        self.doc.add(first)  # its detection is asked for already
        self.add_references(paths[1:])
        self.settings.add_recent(paths[0])
        self.settings.set_last_dir("photos", paths[0])
        self._fill_recent()
        self._update_title()
        if then is not None:
            then(list(self.doc.refs))

    def _opened(self, out) -> bool:
        """Whether ``out`` (the detect thread's) is the photo asked to be opened over what is open, read or not:
        read, it replaces what was open; not read, what was open stays and the error says why."""
        if self._opening is None or out["ref_id"] != self._opening[0].id:
            return False
        first, paths, then = self._opening
        if out["image"] is None:
            self._opening = None
            self.show_error(f"Cannot open {Path(first.path).name}: {out.get('error', 'not readable')}")
            return True
        self._start_over(first, paths, then)
        return False

    def add_references(self, paths):
        if not paths:
            return
        if not self.doc.refs:
            self.undo.clear()
        else:
            self._refs_edited = True
        for p in paths:
            ref = Reference(str(p))
            self.doc.add(ref)
            self.client.detect(ref.id, ref.path)
        self.statusBar().showMessage(f"Finding the person in {len(paths)} photo{'s' * (len(paths) > 1)}…")

    def _on_photo_loaded(self, out):
        if self._opened(out):
            return
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
            ref.outfit = {}  # its colours follow (_on_outfit)
        if pending is not None and pending[0] is not None:
            from engine.hands import keep_hands

            ref.pose, ref.hand_placed = keep_hands(pending[0], det.pose if det is not None else None), pending[1]
            if det is None or ref.hand_placed:
                from engine.detect import pose_mask

                ref.mask = pose_mask(ref.pose)
        elif det is None:  # nobody found
            if not is_main:
                self.doc.remove(ref.id)
                self.show_error(f"No person found in {name}; it was not added as a reference.")
                return
            self._start_placing(ref, out["error"], out.get("fallback"))
        if is_main:
            self.canvas.set_image(ref.image)
            self.result.set_original(ref.image)
            if det is not None and self.result.result is None:  # found: a large photo's parts take seconds more
                self.result.clear(f"Preparing {name} for editing…")
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
            if det is not None and self._person_is_small():
                # a small person in a wide photo: its eighteen handles, a fixed size on screen, hid it whole
                self.zoom_to_person()
            if not self.placing:
                more = len(self.doc.refs) - 1  # opened with others (several photos chosen or dropped at once)
                also = f"; {more} more photo{'s' * (more > 1)} as its references" if more else ""
                self.show_done(f"{name}: {ref.pose.count} of 18 joints found{also}. Drag a joint to repose.")
                joints = ref.pose.bbox() if det is not None else None
                tall = None if joints is None else joints[3] - joints[1] + ref.pose.head_size()
                if tall is not None and tall < SMALL_PERSON_PX:
                    # a 40x40 photo's skeleton came out bunched on the chest, hips at the shoulders, unremarked
                    self.hint(
                        f"The person in {name} is only about {max(1, int(tall))} pixels tall: the skeleton found "
                        f"may be wrong. Check it against the photo.", "warning", "Correct the Photo's Skeleton",
                        "adjust")
                self.hint_trained_weights()
        if not is_main and det is not None:
            self.clear_stale_error()  # "No person found in X" stayed through the references added after it
        self.doc.referencesChanged.emit()
        self._check_outfits()
        if self._pending_session is not None and all(r.image is not None for r in self.doc.refs):
            self._pending_session = None

    def _on_others_found(self, out):
        """Someone else seems to be in the photo being edited (a newcomer's group photo got one person with no
        hint of the other): said, with Find the Person in a Box as the banner's button."""
        main = self.doc.main
        if main is None or main.id != out["ref_id"] or self.placing:
            return
        self.hint(f"Someone else seems to be in {Path(out['path']).name} too: the skeleton is on the person found "
                   f"first. To edit another, draw a box round them.", "info", "Find the Person in a Box", "box")

    def _on_outfit(self, out):
        """The colours of a person found: kept if that photo still shows that detection, and the references are
        compared (all of them again if it is the first photo's)."""
        ref = self.doc.by_id(out["ref_id"])
        if ref is None or ref.detected is not out["detection"].pose:
            return
        ref.outfit = out["outfit"]
        if ref is self.doc.main:
            self._outfits_again()
        else:
            self._check_outfits()

    def _outfits_again(self):
        """The first photo's person changed (another photo first, or another person in its box): the references
        are compared with them now."""
        for r in self.doc.refs:
            r.unlike = None
        self._check_outfits()

    def _check_outfits(self):
        """Say which references, once they and the first photo are found, look like someone else: the engines
        take each part from the photo that shows it best, and a newcomer's reference of another woman gave the
        raised arm her striped sleeve, unremarked (engine.outfit: the torso's and legs' colours)."""
        from engine.outfit import looks_different

        main = self.doc.main
        if main is None or not main.outfit:
            return
        new = False
        for r in self.doc.refs[1:]:
            if r.outfit and r.unlike is None:
                r.unlike = looks_different(main.outfit, r.outfit)
                new = new or r.unlike
        # all of them, not only the last one found: each photo's colours come on their own, and the banner for
        # the last replaced the one before (two odd references added at once, one named); the strip marks them
        odd = [Path(r.path).name for r in self.doc.refs[1:] if r.unlike]
        if {r.id for r in self.doc.refs[1:] if r.unlike} != self.strip.marked:  # not every photo's thumbnails
            self._refresh_strip()
        if new:
            self.hint(
                f"{', '.join(odd)} {'look' if len(odd) > 1 else 'looks'} like another person, or other clothes, "
                f"than {Path(main.path).name}: the picture may take parts from {'them' if len(odd) > 1 else 'it'}. "
                f"Remove {'them' if len(odd) > 1 else 'it'} from the references if not the same person.", "warning")

    def _start_placing(self, ref: Reference, reason: str, fallback=None):
        """Nobody was found: put a standing skeleton on the photo for the user to move onto the person, placed
        and sized from the photo (engine.framing.fallback_pose, made in the detect thread) when it could be."""
        from engine.detect import pose_mask
        from engine.presets import fit_preset

        w, h = ref.size
        ref.pose = fallback if fallback is not None and fallback.count >= 2 else fit_preset("standing", w, h)
        ref.detected = None
        ref.mask = pose_mask(ref.pose)
        ref.hand_placed = True
        self.placing = True
        self._set_mode(SOURCE)
        msg = (f"No person found in {Path(ref.path).name}. A standing skeleton was placed: drag its joints "
               f"onto the person (hide joints you cannot see), then press Done. Or draw a box round the "
               f"person (Ctrl+B) to search there.")
        self.last_error = msg
        self.banner.show_message(msg, "warning", "Done", "done-placing")
        self.statusBar().showMessage(reason, 10000)

    # ----- choosing the person: a box drawn round them ---------------------------------------------------
    def find_in_box(self):
        """Box mode: the user drags a box round the person (where detection found nobody, or someone else)."""
        main = self.doc.main
        if main is None or main.image is None:
            self.show_info("Open a photo first.")
            return
        self.canvas.set_box_mode(True)
        self.banner.show_message("Drag a box round the person you want to edit; detection runs inside it. "
                                 "(Esc: cancel)", "info", "Cancel", "cancel-box")
        self.canvas.setFocus()

    def _on_box_drawn(self, box):
        if self.banner.action_id == "cancel-box":
            self.banner.dismiss()
        main = self.doc.main
        if box is None or main is None or main.image is None:
            return
        self.canvas.set_message("Finding the person in the box…")
        self.client.search_box(main.id, main.image, box, Path(main.path).name)

    def _on_box_searched(self, out):
        main = self.doc.main
        self.canvas.set_message("")
        if main is None or main.id != out["ref_id"]:
            return  # another photo is open now
        det = out["detection"]
        if det is None:
            if out["fallback"] is None:
                self.show_error(out["error"] or "No person found in the box.")
                return
            self._start_placing(main, out["error"], out["fallback"])
            self._show_placed(main)
            return
        main.detected, main.pose, main.mask, main.hand_placed = det.pose, det.pose, det.mask, False
        main.outfit = {}  # the person in the box's colours follow (_on_outfit)
        self._outfits_again()
        self.placing = False
        self._set_mode(TARGET)
        self.banner.dismiss()
        self._show_placed(main)
        self.show_info(f"Found the person in the box: {det.pose.count} of 18 joints. Drag a joint to repose.")

    def _show_placed(self, main: Reference):
        """The first photo's own pose was replaced: start editing from it, and re-encode the references."""
        self.undo.clear()
        # another person (a box round someone else): where the first one's joints were hidden is not theirs
        self._hidden_at = {k: v for k, v in self._hidden_at.items() if k[0] != main.id}
        self._hold_render = True  # the engine gets the new sources first (referencesChanged, below)
        try:
            self.doc.set_target(main.pose)
        finally:
            self._hold_render = False
        self._sync_canvas()
        self.doc.referencesChanged.emit()

    def finish_placing(self):
        if not self.placing:
            return
        self.placing = False
        self._set_mode(TARGET)
        self.doc.set_target(self.doc.main.pose)
        self.undo.clear()  # the placed skeleton is the starting point now
        self.show_info("Skeleton placed. Now drag joints to repose the person.")

    def _edit_given_up(self, new_first) -> bool:
        """Before another photo becomes the one edited (docs/decisions.md, 8: it starts from its own pose, a new
        history): with the pose edited, ask. True: go on. A reordered strip left its edit unsaid before (a
        newcomer's review), where Open asks."""
        old = self.doc.main
        if not self.confirm_close or old is None or new_first is old or self.undo.isClean():
            return True
        what = f"Make {Path(new_first.path).name} the photo you edit?" if new_first is not None else \
            f"Remove {Path(old.path).name}?"
        answer = QMessageBox.question(self, "Edit Another Photo", f"{what} The pose you edited on "
                                      f"{Path(old.path).name} goes (another photo starts from its own pose).",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def remove_reference(self, ref_id: int):
        was_main = self.doc.main is not None and self.doc.main.id == ref_id
        if was_main and not self._edit_given_up(None):
            return
        self._refs_edited = True
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
        if ids and not self._edit_given_up(self.doc.by_id(ids[0])):
            self._refresh_strip()  # the strip goes back to the photos' order
            return
        self._refs_edited = True
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
        self._outfits_again()

    def _refresh_strip(self):
        refs = self.doc.refs
        info = self.backend_info
        note = f"{info['title']} uses the first photo only." if info and len(refs) > 1 and not info["multi_shot"] \
            else ""
        self.strip.set_references(refs, note)

    def _on_references_changed(self):
        self._refresh_strip()
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
