"""The detect thread's worker: loads photos (engine.images) and finds the person in them (engine.detect, ~0.15 s a
photo), off the UI thread. It builds its detector once, at start-up, so the first photo does not pay for it. The
render thread's worker is worker.RenderWorker; the UI thread talks to both through render_client.RenderClient."""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import user_message


class DetectWorker(QObject):
    """Loads photos and finds the person. Lives in the detect thread.

    It says what it is doing (``status``), and hands the photo over (``imageReady``) before detecting in it, so
    the window shows the photo at once and says why the skeleton is not there yet: on a cold start, loading the
    detector (mediapipe) can take many seconds."""

    loaded = Signal(object)       # dict(ref_id, image, detection, error, no_person, fallback)
    boxSearched = Signal(object)  # dict(ref_id, box, detection or None, fallback, error)
    othersFound = Signal(object)  # dict(ref_id, path): someone else seems to be in the photo to edit
    outfitFound = Signal(object)  # dict(ref_id, detection, outfit): the colours of the person that detection found
    imageReady = Signal(object)   # dict(ref_id, image): the photo is read, the person not found yet
    status = Signal(str)          # what the detect thread is doing now, "" when idle

    def __init__(self):
        super().__init__()
        self._detector_ready = False
        self._det = None

    def _detector(self):
        # the worker's own detector, not the thread's shared one (engine.detect.default_detector): a thread-local
        # of a QThread is never freed, and each window closed left its mediapipe graphs and their threads behind
        from engine.detect import PoseDetector

        if not self._detector_ready:
            self.status.emit("Loading the pose detector…")
        if self._det is None:
            self._det = PoseDetector()
        self._detector_ready = True
        return self._det

    def close(self):
        """Free the detector's models and threads; called once the detect thread has stopped."""
        det, self._det = self._det, None
        if det is not None:
            det.close()

    @Slot()
    def warm_up(self):
        try:
            self._detector()
        except Exception as e:  # a missing mediapipe shows up at the first photo, as a message
            print(f"detector unavailable: {e}", file=sys.stderr)
        self.status.emit("")

    @Slot(object)
    def load(self, job):
        from engine.errors import NoPersonError
        from engine.images import load_image

        name = str(job["path"]).replace("\\", "/").rsplit("/", 1)[-1]
        out = {"ref_id": job["ref_id"], "path": job["path"], "image": None, "detection": None, "error": "",
               "no_person": False, "fallback": None}
        try:
            self.status.emit(f"Opening {name}…")
            out["image"] = load_image(job["path"])
            self.imageReady.emit({"ref_id": job["ref_id"], "image": out["image"]})
            det = self._detector()
            self.status.emit(f"Finding the person in {name}…")
            out["detection"] = det.detect(out["image"], str(job["path"]))
        except NoPersonError as e:
            out["no_person"], out["error"] = True, str(e)
            out["fallback"] = self._fallback(out["image"], None, name)
        except Exception as e:
            out["error"] = user_message(e)
        self.status.emit("")
        self.loaded.emit(out)
        self._outfit(job["ref_id"], out["image"], out["detection"])
        if job.get("first") and out["detection"] is not None:
            # after the skeleton is shown (half a second on a 12 MP photo): is someone else in the photo to edit?
            from engine.detect import another_person

            d = out["detection"]
            try:
                others = another_person(out["image"], d.pose, d.mask)
            except Exception:  # a hint, never a failure of the photo
                others = False
            if others:
                self.othersFound.emit({"ref_id": job["ref_id"], "path": job["path"]})

    def _fallback(self, image, mask_or_box, name: str):
        """The skeleton to place by hand where nobody was found: sized and placed from the photo (a person-like
        shape of the segmentation, or the user's box), None if even that fails (the window then uses a preset)."""
        from engine.framing import fallback_pose

        self.status.emit(f"Looking for a person-like shape in {name}…")
        try:
            return fallback_pose(image, mask_or_box)
        except Exception as e:
            print(f"fallback skeleton: {e}", file=sys.stderr)
            return None

    @Slot(object)
    def search_box(self, job):
        """Detection in the box the user drew round someone; the fallback skeleton fills the box if it fails."""
        from engine.errors import NoPersonError

        out = {"ref_id": job["ref_id"], "box": job["box"], "detection": None, "fallback": None, "error": ""}
        try:
            self.status.emit("Finding the person in the box…")
            out["detection"] = self._detector().detect_in_box(job["image"], job["box"], job.get("name", "photo"))
        except NoPersonError as e:
            out["error"] = str(e)
            out["fallback"] = self._fallback(job["image"], job["box"], job.get("name", "photo"))
        except Exception as e:
            out["error"] = user_message(e)
        self.status.emit("")
        self.boxSearched.emit(out)
        self._outfit(job["ref_id"], job["image"], out["detection"])  # the references are compared with this one

    def _outfit(self, ref_id: int, image, detection) -> None:
        """The colours of the person found (engine.outfit), after the skeleton is shown (~140 ms on a 12 MP photo):
        a reference that looks like someone else is said. A hint: its failure is no failure of the photo."""
        if detection is None:
            return
        from engine.outfit import outfit

        try:
            colours = outfit(image, detection.pose, detection.mask)
        except Exception as e:
            print(f"outfit: {type(e).__name__}: {e}", file=sys.stderr)
            return
        self.outfitFound.emit({"ref_id": ref_id, "detection": detection, "outfit": colours})
