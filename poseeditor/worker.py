"""Rendering, off the UI thread (photo loading and detection: detect_worker.py, the other QThread).

The render thread owns the engine.runtime.Engine of the chosen backend (and a warp Engine for the live preview
tier). torch and the backend modules are imported there, never on the UI thread, so the window shows at once.

The UI thread's side, which starts these threads and talks to them, is ``render_client.RenderClient``.

Render tiers (render_tiers.py): a "live" request (during a drag) uses the chosen backend when its steady render
time on the photos being edited is under LIVE_BUDGET_MS, else the warp backend; a "final" request (drag ended, or
any other edit) always uses the chosen backend. A backend without weights falls back to warp and the result says
so.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.errors import user_message

from . import heap
from .reduced_preview import ReducedPreview, is_big
from .render_tiers import NOTHING_TO_REPAINT, RenderRequest, RenderResult, RenderTimes

STARTUP_IDLE_MS = 1000   # load the engine after this long if no photo is being opened at start
STARTUP_WAIT_MS = 15000  # ... and at the latest after this long when one is (normally: after its first result)
CHOICE_SETTLE_S = 0.15   # a backend chosen is loaded when no other was chosen for this long


class RenderWorker(QObject):
    """Owns the Engine. Lives in the render thread; every slot runs there."""

    catalogue = Signal(object)       # dict(backends=[...], unavailable={...}, cuda=bool)
    backendChanged = Signal(object)  # dict describing the chosen backend and its weights
    rendered = Signal(object)        # RenderResult
    renderFailed = Signal(object)    # dict(seq, message)
    error = Signal(str)              # a user-facing problem (weights rejected, device, ...)
    progress = Signal(int, int)      # animation frames done, total
    animationDone = Signal(object)   # dict(path, frames, ms) or None when cancelled
    animationFailed = Signal(str)
    status = Signal(str)             # what is loading now ("Loading Deformable GAN…"), "" when done

    def __init__(self):
        super().__init__()
        self.engine = None
        self.preview = None           # warp Engine for the live tier when the chosen backend is slow
        self.reduced = None           # ReducedPreview: drags on a big photo, drawn on reduced copies
        # the preview is used by the render thread and warmed (its sources encoded) by a warm-up thread: one at a
        # time; the render thread waits here only when a drag needs the preview while it is being warmed
        self._preview_lock = threading.Lock()
        self._warm_gen = 0            # the newest sources a warm-up was started for (see _warm_up_preview)
        self._warm_threads: list[threading.Thread] = []  # warm-ups and backend loads, joined at quit (stop_warm_ups)
        self.sources = None
        self._sources_gen = 0
        self.full_ms = RenderTimes()  # the chosen backends' steady render times
        self.weights: dict[str, str] = {}
        self.device = "cpu"
        self.cancel = threading.Event()
        self.cfg = {}
        self._boot = None
        self._boot_state = None
        self._deferred = []
        self.backend_wanted = 0  # the newest request deciding the engine (RenderClient._engine_request)
        self._engineLoaded.connect(self._adopt)
        self._backendLoaded.connect(self._adopt_backend)

    # ----- set-up -----------------------------------------------------------------------------------------
    _engineLoaded = Signal(object)   # internal: from the loader thread to this worker's thread
    _backendLoaded = Signal(object)  # internal: a chosen backend's Engine, from its loader thread

    @Slot(object)
    def start(self, cfg):
        """Build the Engine without making the first render wait for it.

        Loading the registry imports every backend module, and with them torch (seconds on a busy CPU). That
        runs in a plain loader thread; until it is done, renders are drawn by a warp backend made here at once
        (it needs only numpy and OpenCV), so the first photo shows its result as soon as it is detected.
        """
        from engine.backends.warp import WarpBackend

        self.cfg = dict(cfg)
        self.weights = dict(cfg.get("weights") or {})
        self.device = cfg.get("device") or "cpu"
        self._boot = WarpBackend()
        self._boot_state = None
        self._deferred = []
        # Importing torch competes for the GIL with the detector (measured: detection 0.8 s alone, 5 s beside
        # the import on a busy 2-core machine). So the loader starts once the first result is out, or after
        # a short idle wait when no photo was given, or at once when something needs the Engine.
        self._loader_started = False
        QTimer.singleShot(STARTUP_WAIT_MS if cfg.get("photos_pending") else STARTUP_IDLE_MS, self._start_loader)

    def _start_loader(self):
        if not self._loader_started and self._boot is not None:
            self._loader_started = True
            self.status.emit("Loading the engine (PyTorch and the backends)…")
            threading.Thread(target=self._load_engine, name="poseeditor-engine-loader", daemon=True).start()

    def _load_engine(self):
        """Loader thread: registry, catalogue, CUDA check, and the Engine of the chosen backend."""
        try:
            from engine import registry, runtime
            from engine.backends.base import starter_path

            names = registry.backend_names()
            items = []
            for name in names:
                cls = registry.backend_class(name)
                starter = starter_path(name).is_file()
                state = ("built-in" if not cls.needs_weights else "file" if self.weights.get(name)
                         else "starter" if starter else "none")
                cfg = getattr(cls, "default_config", None) or {}
                items.append(dict(name=name, title=cls.title or name, summary=cls.summary,
                                  needs_weights=cls.needs_weights, multi_shot=cls.multi_shot, weights=state,
                                  # what training from scratch builds: the dialog must not ask the registry
                                  # itself (it would import torch on the UI thread)
                                  network=(tuple(int(v) for v in cfg.get("image_size", (128, 64))),
                                           cfg.get("width"))))
            cat = dict(backends=items, unavailable=registry.unavailable(), cuda=runtime.cuda_available())
            try:
                runtime.pick_device(self.device)
            except Exception:
                self.device = "cpu"
            name = self.cfg.get("backend") or "warp"
            if name not in names:
                name = "warp"
            if name != "warp":
                self.status.emit(f"Loading {self._title(name)}…")
            self._engineLoaded.emit(dict(catalogue=cat, engine=self._new_engine(name), error=""))
        except Exception as e:
            self._engineLoaded.emit(dict(catalogue=None, engine=None, error=user_message(e)))

    @Slot(object)
    def _adopt(self, loaded):
        self.status.emit("")
        if loaded["catalogue"] is not None:
            self.catalogue.emit(loaded["catalogue"])
        else:  # the engine could not load: the panel says so (the warp preview keeps drawing)
            self.catalogue.emit(dict(backends=[], unavailable={}, cuda=False, failed=loaded["error"]))
        if loaded["error"]:
            self.error.emit(loaded["error"])
        if loaded["engine"] is not None:
            engine, boot = loaded["engine"], self._boot_state
            if boot is not None and boot[0] == self._sources_gen and engine.backend.name == "warp":
                # the start-up warp encoded these photos already: the Engine's warp takes that encoding (a 12 MP
                # photo's took ~10 s, and the first drag's final render waited for it a second time)
                engine.set_sources(*self.sources, state=boot[1])
                engine._poseeditor_sources_gen = self._sources_gen
            self._boot, self._boot_state = None, None
            self._use_engine(engine)
        for fn, arg in self._deferred:
            fn(arg)
        self._deferred = []

    def _later(self, fn, arg) -> bool:
        """Keep a request that needs the Engine until it exists."""
        if self.engine is None:
            self._deferred.append((fn, arg))
            self._start_loader()
            return True
        return False

    def _new_engine(self, name: str, weights: str | None = None):
        from engine.runtime import Engine

        weights = weights or self.weights.get(name)
        try:
            return Engine(name, device=self.device, weights=weights)
        except Exception as e:
            if not weights:
                raise
            # remembered weights that no longer load: say so, keep the backend without them
            self.error.emit(user_message(e))
            if self.weights.get(name) == weights:  # not the remembered ones when another file failed (a check)
                self.weights.pop(name, None)
            return Engine(name, device=self.device)

    def _title(self, name: str) -> str:
        from engine import registry

        try:
            return registry.backend_class(name).title or name
        except Exception:
            return name

    def _make_engine(self, name: str, weights: str | None = None):
        self.status.emit(f"Loading {self._title(name)}…")  # building a network and reading weights takes a while
        try:
            engine = self._new_engine(name, weights)
        finally:
            self.status.emit("")
        self._use_engine(engine)

    def _use_engine(self, engine):
        """Draw with ``engine`` from now on, and say so; a warp engine is its own preview."""
        self.engine = engine
        if engine.backend.name == "warp":
            self.preview = None
        self._emit_backend()

    def _emit_backend(self):
        from engine import runtime

        b = self.engine.backend
        info = b.weights_info
        # what a loaded file was trained on (its provenance, read when it was loaded), for the "trained on" hint
        data = info.meta.provenance.get("data") if info.kind == "file" and info.meta is not None else None
        if info.kind == "starter":  # in the weights manager's words (weights_library: no torch, no Qt)
            from .weights_library import starter_learnt

            learnt = starter_learnt(info.meta)
        else:
            learnt = None
        self.backendChanged.emit(dict(
            name=b.name, title=b.title or b.name, multi_shot=b.multi_shot, ready=b.ready,
            needs_weights=b.needs_weights, weights_kind=info.kind, weights_label=info.label,
            weights_path=info.path if info.kind == "file" else None, weights_data=data, starter_learnt=learnt,
            device=self.engine.device,
            runs_on=runtime.describe(self.engine.device, self.engine.precision if b.needs_weights else None,
                                     runtime.refiner_precision(b)),
            image_size=list(b.image_size) if b.image_size else None, last_ms=self.full_ms.get(b.name)))

    @Slot(object)
    def set_backend(self, job):
        """Load the chosen backend in a thread of its own: meanwhile this thread draws with the backend in use, so
        the drag's preview goes on following the hand through a network's load of seconds. Adopted when it is
        still the newest choice (_adopt_backend)."""
        choice = job.get("choice", self.backend_wanted)
        if choice < self.backend_wanted:
            return  # a newer choice is queued behind this one (RenderClient.set_backend)
        if self._later(self.set_backend, job):
            return
        name, weights = job["name"], job.get("weights")
        if weights:
            self.weights[name] = weights
        elif self.engine is not None and self.engine.backend.name == name:
            info = self.engine.backend.weights_info
            if (info.path if info.kind == "file" else None) == self.weights.get(name):
                # the one in use, with the weights it would load: kept, and its encoding of the photos with it (a
                # session opened at start asks for its backend, the one the Engine was just made with)
                self._emit_backend()
                return
        self.status.emit(f"Loading {self._title(name)}…")  # building a network and reading weights takes a while
        t = threading.Thread(target=self._load_backend, args=(name, weights, choice), name="poseeditor-backend-loader",
                             daemon=True)
        self._warm_threads = [w for w in self._warm_threads if w.is_alive()] + [t]  # joined at quit, as warm-ups
        t.start()

    def _load_backend(self, name: str, weights: str | None, choice: int):
        """Loader thread: the Engine of a chosen backend, handed to the render thread (_backendLoaded); none when a
        newer choice came within CHOICE_SETTLE_S (the box turned through several networks by the wheel or keys)."""
        time.sleep(CHOICE_SETTLE_S)
        if choice < self.backend_wanted:
            return
        try:
            self._backendLoaded.emit(dict(engine=self._new_engine(name, weights), choice=choice, error=""))
        except Exception as e:
            self._backendLoaded.emit(dict(engine=None, choice=choice, error=user_message(e)))

    @Slot(object)
    def _adopt_backend(self, loaded):
        if loaded["choice"] < self.backend_wanted:
            return  # chosen since, or weights loaded or a device set since: that request decides
        self.status.emit("")
        if loaded["error"]:
            self.error.emit(loaded["error"])
            if self.engine is not None:
                self._emit_backend()  # the UI goes back to the backend still in use
            return
        self._use_engine(loaded["engine"])

    @Slot(str)
    def load_weights(self, path, remember: bool = True):
        """Load a weights file; switches to the backend the file is for when that is another one. ``remember``
        False (a training's check, shown while it learns): not what that backend comes back with when chosen."""
        if self._later(lambda p: self.load_weights(p, remember), path):
            return
        try:
            from engine import registry
            from engine.errors import WeightsError
            from engine.weights import read_meta

            meta = read_meta(path)
            if meta.backend not in registry.backend_names():
                raise WeightsError(f"{path}: weights for the '{meta.backend}' backend, which is not available "
                                   f"here (available: {', '.join(registry.backend_names())})")
            if self.engine is None or meta.backend != self.engine.backend.name:
                self._make_engine(meta.backend, path)
            else:
                self.status.emit(f"Loading {Path(path).name}…")
                try:
                    self.engine.load_weights(path)
                finally:
                    self.status.emit("")
                self.full_ms.pop(meta.backend, None)
                self._emit_backend()
            if remember:
                self.weights[meta.backend] = str(path)
        except Exception as e:
            self.error.emit(user_message(e))

    @Slot(str)
    def set_device(self, device):
        if self._later(self.set_device, device):
            return
        try:
            from engine.runtime import pick_device

            pick_device(device)
            self.device = device
            if self.engine is not None:
                self.status.emit(f"Moving {self.engine.backend.title or self.engine.backend.name} to "
                                 f"{device.upper()}…")
                try:
                    self.engine.set_device(device)
                finally:
                    self.status.emit("")
                self.engine._poseeditor_sources_gen = None
                self.full_ms.pop(self.engine.backend.name, None)
                self._emit_backend()
        except Exception as e:
            self.error.emit(user_message(e))
            if self.engine is not None:
                self._emit_backend()

    @Slot(object)
    def set_sources(self, sources):
        self.sources = sources
        self._sources_gen += 1
        self.full_ms.new_sources(sources[0])  # times are per photo size: another size starts a new count

    # ----- rendering --------------------------------------------------------------------------------------
    def _ready_engine(self, engine, sources=None, gen=None) -> float:
        """Give ``engine`` the current sources (or ``sources`` of set_sources number ``gen``) if it lacks them and
        encode them; returns the encode time."""
        if sources is None:
            sources, gen = self.sources, self._sources_gen
        if getattr(engine, "_poseeditor_sources_gen", None) != gen:
            engine.set_sources(*sources)
            engine._poseeditor_sources_gen = gen
        t = time.perf_counter()
        engine.state  # noqa: B018 (encodes once, cached by the engine)
        return (time.perf_counter() - t) * 1000

    def _preview_needs_warming(self) -> bool:
        """Whether drags on these photos will be drawn by the warp preview (render_tiers' rule: the chosen backend
        is too slow for them) and the preview has not got these photos yet."""
        chosen = self.engine.backend if self.engine is not None else None
        if chosen is None or not chosen.ready or self.sources is None:
            return False
        if chosen.name != "warp" and self.full_ms.live_uses(chosen.name):
            return False  # the chosen network draws the drags itself
        drags = self._live_warp()
        if drags is self.engine:
            return False  # the chosen warp, at the photo's size
        # a warm-up still running for these photos makes a second one wait for it and find them encoded
        return getattr(drags, "_poseeditor_sources_gen", None) != self._sources_gen

    def _warm_up_preview(self):
        """Encode the warp preview's sources now, in a thread of its own, so the photo's first drag does not wait
        for the encode: on a 4096x3072 photo it is seconds (3.6-10 s measured on the loaded 2-core machine), and a
        short first drag ended before any preview was drawn. Not in the render thread, where a final render
        asked for meanwhile (a preset, an undo) would wait behind it. Started after the photo's first render by
        the chosen backend, which tells whether its drags go to the preview."""
        if not self._preview_needs_warming():
            return
        warp = self._live_warp()
        gen, sources = self._sources_gen, self.sources
        self._warm_gen = gen
        # a daemon only so that a warm-up still running when stop_warm_ups gives up cannot hold the quit forever
        t = threading.Thread(target=self._warm, args=(warp, sources, gen), name="poseeditor-preview-warm-up",
                             daemon=True)
        self._warm_threads = [w for w in self._warm_threads if w.is_alive()] + [t]
        t.start()

    def stop_warm_ups(self, timeout: float) -> bool:
        """At quit, once the render thread has stopped: warm-ups still waiting for the preview give up, and the one
        encoding (and a backend loading) is waited for up to ``timeout`` seconds (an encode cannot be cut short, and
        the interpreter finalised while a thread is inside cv2 or torch can crash). Returns whether none is left."""
        self._warm_gen = -1  # no sources are this: a warm-up that has not started encoding returns at once
        deadline = time.monotonic() + timeout
        for t in self._warm_threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._warm_threads)

    def _warm(self, warp, sources, gen: int) -> bool:
        """Warm-up thread: encode ``sources`` for the preview ``warp`` unless they are no longer the newest (another
        photo opened, or a newer warm-up was asked for, while this one waited). Returns whether it encoded."""
        with self._preview_lock:
            if gen != self._sources_gen or gen != self._warm_gen:
                return False  # newest request wins; an encode already running is not cut short
            try:
                self._ready_engine(warp, sources, gen)
            except Exception as e:  # the drag's own render says what is wrong, if anything still is
                print(f"warp preview warm-up: {type(e).__name__}: {e}", file=sys.stderr)
                return False
            return True

    def _warp(self):
        if self.engine.backend.name == "warp":
            return self.engine
        if self.preview is None:
            from engine.runtime import Engine

            self.preview = Engine("warp", device="cpu")
        return self.preview

    def _live_warp(self):
        """The warp engine that draws drags drawn by warp: on reduced copies of a big photo (reduced_preview),
        else the warp preview, or the chosen warp backend itself."""
        if self.sources is not None and is_big(self.sources[0][0]):
            if self.reduced is None:
                self.reduced = ReducedPreview()
            return self.reduced
        return self._warp()

    def _pick(self, kind: str):
        """(engine, note) for a request of this kind, following the render tiers."""
        chosen = self.engine.backend
        live = kind == "live"
        if not chosen.ready:
            return (self._live_warp() if live else self._warp()), f"{chosen.name} has no weights"
        if live and not self.full_ms.live_uses(chosen.name):
            return self._live_warp(), "live preview while dragging"
        if live and chosen.name == "warp":
            return self._live_warp(), ""
        return self.engine, ""

    def _render_one(self, engine, pose, live: bool = False):
        warmed = engine is self.preview or (engine is not None and engine is self.reduced)
        with self._preview_lock if warmed else contextlib.nullcontext():
            encode_ms = self._ready_engine(engine)
            t = time.perf_counter()
            image = engine.render(pose, live=live)
        return image, (time.perf_counter() - t) * 1000, encode_ms

    @Slot(object)
    def render(self, req: RenderRequest):
        try:
            if self.sources is None:
                from engine.errors import PoseEditorError

                raise PoseEditorError("no reference photo loaded")
            if self.engine is None:
                self.rendered.emit(self._boot_render(req))
                self._start_loader()
                return
            engine, note = self._pick(req.kind)
            image, ms, encode_ms = self._render_one(engine, req.pose, live=req.kind == "live")
            name = engine.backend.name
            if not note and not getattr(engine.backend, "last_painted", True):
                note = NOTHING_TO_REPAINT
            if engine is self.engine:
                # the live rule judges what a drag would cost: a drag's render leaves a refiner out
                self.full_ms.add(name, ms - getattr(engine.backend, "last_refine_ms", 0.0))
            self.rendered.emit(RenderResult(req.seq, image, req.pose, req.kind, name, self.engine.backend.name,
                                            ms, encode_ms, note, req.posted,
                                            steady_ms=self.full_ms.get(self.engine.backend.name),
                                            sources_gen=self._sources_gen))
            if engine is self.engine:  # its first render on these photos says whether drags go to the preview
                self._warm_up_preview()
        except Exception as e:
            self.renderFailed.emit(dict(seq=req.seq, message=user_message(e)))
        if req.kind == "final":  # a drag or an edit is over: what its renders freed goes back to the system
            heap.give_back()

    def _boot_render(self, req: RenderRequest):
        """Render with the start-up warp backend (the Engine is still loading); a drag on a big photo on its
        reduced copy, as once the Engine is there (a warp Engine needs no torch)."""
        if req.kind == "live" and is_big(self.sources[0][0]):
            image, ms, encode_ms = self._render_one(self._live_warp(), req.pose, live=True)
        else:
            if self._boot_state is None or self._boot_state[0] != self._sources_gen:
                t = time.perf_counter()
                self._boot_state = (self._sources_gen, self._boot.encode_sources(*self.sources))
                encode_ms = (time.perf_counter() - t) * 1000
            else:
                encode_ms = 0.0
            t = time.perf_counter()
            image = self._boot.render(self._boot_state[1], req.pose)
            ms = (time.perf_counter() - t) * 1000
        chosen = self.cfg.get("backend") or "warp"
        note = "" if chosen == "warp" else "engine starting"
        return RenderResult(req.seq, image, req.pose, req.kind, "warp", chosen, ms, encode_ms, note, req.posted,
                            sources_gen=self._sources_gen)

    @Slot(object)
    def export_animation(self, job):
        """Render the poses of ``job`` with the chosen backend and write the GIF/MP4, reporting progress."""
        from .animation import resized, write_animation

        if self._later(self.export_animation, job):
            return
        self.cancel.clear()
        try:
            if self.sources is None:
                raise RuntimeError("no reference photo loaded")
            engine, _ = self._pick("final")
            poses = job["poses"]
            frames = []
            t0 = time.perf_counter()
            for i, pose in enumerate(poses):
                if self.cancel.is_set():
                    self.animationDone.emit(None)
                    return
                frame = self._render_one(engine, pose)[0]
                frames.append(resized(frame, job["size"]) if job.get("size") else frame)
                self.progress.emit(i + 1, len(poses))
            path = write_animation(job["path"], frames, job["fps"])
            self.animationDone.emit(dict(path=str(path), frames=len(frames), backend=engine.backend.name,
                                         ms=(time.perf_counter() - t0) * 1000))
        except Exception as e:
            self.animationFailed.emit(user_message(e))
