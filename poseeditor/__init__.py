"""The PoseEditor desktop app (PySide6). Talks to engine/ only through engine.runtime, from a worker thread."""
from ._refcount_guard import make_singletons_immortal

__version__ = "0.1.0"

make_singletons_immortal()  # before any Qt signal is emitted: see _refcount_guard.py
