"""The UI thread's side of the two worker threads (worker.py): ``RenderClient`` starts them, sends them work
as queued calls and hands their answers on as signals.

Renders are coalesced: while one runs, only the newest pending request is kept, so a fast drag never piles up
work and the last pose always gets rendered.
"""
from __future__ import annotations

import functools
import sys

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from .render_tiers import RenderRequest, RenderResult
from .detect_worker import DetectWorker
from .worker import RenderWorker


def _same_items(a, b) -> bool:
    """Whether two lists (or Nones) hold the same objects, in the same order."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


class RenderClient(QObject):
    """The UI thread's handle on the two worker threads. Coalesces render requests (newest wins).

    Requests go to a worker as queued calls (``_queued``): each runs in the worker's thread, in the order asked.
    The workers' answers are signals, queued back to this thread."""

    resultReady = Signal(object)     # RenderResult
    renderError = Signal(str)
    busyChanged = Signal(bool)
    photoLoaded = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.render_thread = QThread()
        self.render_thread.setObjectName("poseeditor-render")
        self.worker = RenderWorker()
        self.worker.moveToThread(self.render_thread)
        self.detect_thread = QThread()
        self.detect_thread.setObjectName("poseeditor-detect")
        self.detector = DetectWorker()
        self.detector.moveToThread(self.detect_thread)
        self.worker.rendered.connect(self._on_rendered)
        self.worker.renderFailed.connect(self._on_failed)
        self.detector.loaded.connect(self.photoLoaded)

        self._seq = 0
        self.sources_gen = 0        # set_sources calls so far: the worker counts the same (RenderResult.sources_gen)
        self.sources_main = None    # the edited photo's image in the last set_sources
        self._main_of: dict[int, object] = {}  # sources_gen -> the edited photo's image then (the last few)
        self._sent = None  # the last sources sent
        self._in_flight: RenderRequest | None = None
        self._pending: RenderRequest | None = None
        self.last_shown_seq = 0
        self._stopping = False
        self.render_thread.start()
        self.detect_thread.start()

    def _queued(self, method, *args) -> None:
        """Call a worker's ``method(*args)`` in the worker's thread, after the calls queued there before; none once
        the threads are told to stop (QThread.quit alone let a call posted just after it run: the loop handles the
        events already posted before it looks at its exit flag)."""
        if not self._stopping:
            QTimer.singleShot(0, method.__self__, functools.partial(method, *args))

    # ----- commands ---------------------------------------------------------------------------------------
    def start(self, backend: str, device: str, weights: dict, photos_pending: bool = False):
        if not photos_pending:  # else the first photo builds the detector, after the photo is on screen
            self._queued(self.detector.warm_up)
        self._queued(self.worker.start,
                     dict(backend=backend, device=device, weights=weights, photos_pending=photos_pending))

    def detect(self, ref_id: int, path: str, first: bool = False):
        """Read and detect a photo; ``first``: the one to edit (is someone else in it too?)."""
        self._queued(self.detector.load, dict(ref_id=ref_id, path=str(path), first=first))

    def search_box(self, ref_id: int, image, box, name: str = "photo"):
        """Find the person inside ``box`` (x0, y0, x1, y1 photo pixels); the answer is detector.boxSearched."""
        self._queued(self.detector.search_box,
                     dict(ref_id=ref_id, image=image, box=tuple(map(float, box)), name=name))

    def set_sources(self, sources):
        """Give the workers these (images, poses, masks). The same photos, poses and masks as the last sent (the
        first backend's arrival sends them again) are not sent: the worker would count new sources and encode them
        again (a 12 MP photo's ~7 s, at its first drag)."""
        if self._sent is not None and all(_same_items(a, b) for a, b in zip(self._sent, sources)):
            return
        self._sent = tuple(None if part is None else list(part) for part in sources)
        self.sources_gen += 1
        self.sources_main = sources[0][0] if sources[0] else None
        self._main_of[self.sources_gen] = self.sources_main
        self._main_of.pop(self.sources_gen - 8, None)  # a render in flight is of one of the last few sets
        self._queued(self.worker.set_sources, sources)

    def is_current(self, res: RenderResult, image) -> bool:
        """Whether ``res`` is a render of the photo ``image``: drawn from sources whose edited photo was that
        image. Not only the last set: the same photo's sources are set again (the first backend's arrival, a
        reference added) with no new render needed, and the render shown then is still this photo's."""
        return image is not None and self._main_of.get(res.sources_gen) is image

    def _engine_request(self) -> int:
        """Number a request that decides the worker's engine (a choice, a weights file, a device): a backend
        still loading for an earlier one is not adopted. Read by the worker's thread: a plain int, written here."""
        self.worker.backend_wanted += 1
        return self.worker.backend_wanted

    def set_backend(self, name: str, weights: str | None = None):
        """Switch backends; the newest choice wins: a choice made while an earlier one is still waiting in the
        worker's queue replaces it (turning the box through three networks loaded all three, seconds each)."""
        self._queued(self.worker.set_backend, dict(name=name, weights=weights, choice=self._engine_request()))

    def load_weights(self, path: str, remember: bool = True):
        self._engine_request()  # it may switch backends: a backend still loading is not adopted after it
        self._queued(self.worker.load_weights, str(path), remember)

    def set_device(self, device: str):
        self._engine_request()  # a backend still loading was built for the device before
        self._queued(self.worker.set_device, device)

    def export_animation(self, job):
        self._queued(self.worker.export_animation, job)

    def cancel_animation(self):
        self.worker.cancel.set()  # a threading.Event: safe to set from this thread

    def request(self, pose, kind: str = "final") -> int:
        """Ask for a render of ``pose``; returns its sequence number. Newest wins while one runs."""
        self._seq += 1
        req = RenderRequest(self._seq, pose.copy(), kind)
        if self._in_flight is None:
            self._post(req)
        else:
            self._pending = req
        return req.seq

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    @property
    def latest_seq(self) -> int:
        return self._seq

    def _post(self, req):
        was_busy = self.busy
        self._in_flight = req
        self._queued(self.worker.render, req)
        if not was_busy:
            self.busyChanged.emit(True)

    def _next(self):
        self._in_flight = None
        if self._pending is not None:
            req, self._pending = self._pending, None
            self._post(req)
        else:
            self.busyChanged.emit(False)

    def _on_rendered(self, res: RenderResult):
        stale_final = res.kind == "final" and self._pending is not None
        self._next()
        if not stale_final:  # a final render overtaken by a newer drag would flash an old pose: skip it
            self.last_shown_seq = res.seq
            self.resultReady.emit(res)

    def _on_failed(self, info):
        self._next()
        self.renderError.emit(info["message"])

    def request_stop(self):
        """The worker threads end after what they are doing: calls queued to them from now on never run."""
        self._stopping = True
        self.cancel_animation()
        for t in (self.render_thread, self.detect_thread):
            t.quit()

    def shutdown(self):
        self.request_stop()
        for t in (self.render_thread, self.detect_thread):
            t.wait(10000)
        if not self.detect_thread.isRunning():
            self.detector.close()
        # after the render thread, which starts them: a 4096x3072 photo's encode takes 3-10 s
        if not self.worker.stop_warm_ups(15.0):
            print("quitting while the preview warm-up still encodes", file=sys.stderr)
