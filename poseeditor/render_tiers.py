"""Render tiers: which backend draws while a joint is dragged, and what a render result carries.

A "live" request (during a drag) uses the chosen backend when its *steady* render time is under LIVE_BUDGET_MS,
else the warp backend draws a preview; a "final" request always uses the chosen backend. The steady time is the
median of the backend's last few full renders, so one slow first render (warm-up, a busy machine) does not put
the drags on the warp preview, and one fast render does not put them on a slow backend. The engine panel says
which backend the drags use from the same figure (RenderResult.steady_ms), by the same rule (live_uses).

The times belong to the photos they were measured on: a render costs with the photo's pixels (pNR: 101 ms on
small photos, 2.2 s on an 8000x6000 one), so other photos start a new count (RenderTimes.new_sources).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

LIVE_BUDGET_MS = 120.0
STEADY_RENDERS = 5   # the steady time is the median of this many last renders


def live_uses(backend: str, steady_ms: float | None) -> bool:
    """Whether drags are drawn by ``backend`` itself (else by the warp preview)."""
    return backend == "warp" or (steady_ms is not None and steady_ms < LIVE_BUDGET_MS)


class RenderTimes:
    """The last few full-render times of each backend on the photos being edited, and their median.

    Other photos (other sizes: new_sources) start a new count: with the count kept, four renders of small photos
    outvoted an 8000x6000 photo's 2.2 s, and its first drags were drawn live at 2.2 s a frame. Until a backend has
    drawn the new photos, ``expected`` estimates its time there from the last photos it drew: scaled up by the
    ratio of pixels when the new photo is bigger, kept when it is smaller. A render's time grows with the pixels,
    at most in proportion (the network's own part does not grow at all), so the estimate errs towards the warp
    preview, never towards drawing live with a backend too slow to follow."""

    def __init__(self):
        self._ms: dict[str, deque] = {}
        self._sources: tuple | None = None   # the sizes of the photos the times are of
        self._pixels = 0                     # the edited photo's pixels
        self._before: dict[str, tuple[float, int]] = {}  # backend -> (steady ms, pixels) on earlier photos

    def new_sources(self, images) -> None:
        """The photos to render changed (images: the edited one first): their sizes, if new, start a new count."""
        sizes = tuple(tuple(int(v) for v in np.shape(im)[:2]) for im in images)
        if sizes == self._sources:
            return
        for backend, times in self._ms.items():
            if times:
                self._before[backend] = (float(np.median(times)), self._pixels)
        self._ms = {}
        self._sources = sizes
        self._pixels = sizes[0][0] * sizes[0][1] if sizes else 0

    def add(self, backend: str, ms: float) -> None:
        self._ms.setdefault(backend, deque(maxlen=STEADY_RENDERS)).append(float(ms))

    def get(self, backend: str, default=None):
        """The steady time measured on these photos (``default`` before the backend has drawn them)."""
        times = self._ms.get(backend)
        return float(np.median(times)) if times else default

    def __getitem__(self, backend: str) -> float:
        return self.get(backend)

    def expected(self, backend: str) -> float | None:
        """The steady time on these photos, or until there is one, the estimate from earlier photos."""
        ms = self.get(backend)
        if ms is not None or backend not in self._before:
            return ms
        before, pixels = self._before[backend]
        return before * max(1.0, self._pixels / pixels) if pixels else before

    def pop(self, backend: str, default=None):
        """Forget a backend's times (new weights, another device): they no longer say how fast it is."""
        self._before.pop(backend, None)
        return self._ms.pop(backend, default)

    def live_uses(self, backend: str) -> bool:
        return live_uses(backend, self.expected(backend))


@dataclass
class RenderRequest:
    seq: int
    pose: object           # engine.pose.Pose
    kind: str              # "live" | "final"
    posted: float = field(default_factory=time.perf_counter)


# a network's render that is the warp engine's picture: the edit moved only parts the network leaves to the photo
NOTHING_TO_REPAINT = "nothing to repaint"


@dataclass
class RenderResult:
    seq: int
    image: object          # RGB uint8 array
    pose: object
    kind: str              # what was asked: "live" | "final"
    backend: str           # the backend that drew it
    chosen: str            # the backend the user chose
    ms: float              # render time (sources already encoded)
    encode_ms: float       # time spent encoding sources first (0 when cached)
    note: str = ""         # why another backend drew it, if one did
    posted: float = 0.0
    qimage: object = None  # the image as a QImage, made in the worker so a big photo costs the UI nothing
    steady_ms: float | None = None  # the chosen backend's steady render time (RenderTimes) after this render
    sources_gen: int = 0   # which set_sources it was drawn from (RenderClient.sources_gen): another photo's is stale

    def __post_init__(self):
        if self.qimage is None and self.image is not None:
            from .canvas import to_qimage  # QImage (unlike QPixmap) may be made off the UI thread

            self.qimage = to_qimage(self.image)

    @property
    def tier(self) -> str:
        """final: the chosen backend, drag ended; live: the chosen backend, during a drag; preview: the warp
        backend standing in during a drag (the chosen one is too slow); fallback: the warp backend standing in
        because the chosen one cannot render (no weights) or is still loading."""
        if self.backend != self.chosen:
            return "preview" if self.kind == "live" and self.note.startswith("live") else "fallback"
        return "live" if self.kind == "live" else "final"
