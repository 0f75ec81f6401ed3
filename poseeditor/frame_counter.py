"""How many frames prepare will take from a video, for the train dialog's plan and estimate: counted in a
QThreadPool task (cv2 opens the video there), cached per file, never on the UI thread.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import PoseEditorError

from . import personalize as P


class FrameCounter(QObject):
    """How many frames prepare will take from a video, counted in a QThreadPool task: counting imports cv2 and
    opens (sometimes decodes) the whole video, which must not happen on the UI thread at each keystroke.
    Answers are cached by file, size and modification time; only the newest request's answer is announced."""

    counted = Signal()   # a new answer for the newest request: ask lookup() again

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cache: dict[tuple, int | str] = {}   # key -> frame count, or the error line
        self._latest: tuple | None = None
        self._pending: set[tuple] = set()

    @staticmethod
    def key(plan: P.TrainPlan) -> tuple:
        st = Path(plan.video).stat()
        return (str(Path(plan.video).resolve()), st.st_size, st.st_mtime_ns, plan.max_frames)

    def lookup(self, plan: P.TrainPlan) -> int | None:
        """The count (PersonalizeError when the video cannot be read), or None while it is being counted."""
        key = self.key(plan)
        self._latest = key
        if key in self.cache:
            v = self.cache[key]
            if isinstance(v, str):
                raise P.PersonalizeError(v)
            return v
        if key not in self._pending:
            self._pending.add(key)
            QThreadPool.globalInstance().start(_Count(self, key, plan))
        return None

    def _done(self, key: tuple, value) -> None:  # in the worker thread: the signal is queued to the UI thread
        self.cache[key] = value
        self._pending.discard(key)
        if key == self._latest:
            self.counted.emit()


class _Count(QRunnable):
    def __init__(self, counter: FrameCounter, key: tuple, plan: P.TrainPlan):
        super().__init__()
        self.counter, self.key, self.plan = counter, key, plan

    def run(self):
        try:
            value = P.image_count(self.plan)
        except (PoseEditorError, OSError) as e:
            value = str(e)
        try:
            self.counter._done(self.key, value)
        except RuntimeError:  # the dialog was closed and deleted meanwhile
            pass
