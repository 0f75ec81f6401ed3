"""Render tiers: which backend draws while a joint is dragged, and what a render result carries.

A "live" request (during a drag) uses the chosen backend when its *steady* render time is under LIVE_BUDGET_MS,
else the warp backend draws a preview; a "final" request always uses the chosen backend. The steady time is the
median of the backend's last few full renders, so one slow first render (warm-up, a busy machine) does not put
the drags on the warp preview, and one fast render does not put them on a slow backend. The engine panel says
which backend the drags use from the same figure (RenderResult.steady_ms), by the same rule (live_uses).
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
    """The last few full-render times of each backend, and their median."""

    def __init__(self):
        self._ms: dict[str, deque] = {}

    def add(self, backend: str, ms: float) -> None:
        self._ms.setdefault(backend, deque(maxlen=STEADY_RENDERS)).append(float(ms))

    def get(self, backend: str, default=None):
        times = self._ms.get(backend)
        return float(np.median(times)) if times else default

    def __getitem__(self, backend: str) -> float:
        return self.get(backend)

    def pop(self, backend: str, default=None):
        """Forget a backend's times (new weights, another device): they no longer say how fast it is."""
        return self._ms.pop(backend, default)

    def live_uses(self, backend: str) -> bool:
        return live_uses(backend, self.get(backend))


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
