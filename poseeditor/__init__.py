"""The PoseEditor desktop app (PySide6). Talks to engine/ only through engine.runtime, from a worker thread."""

__version__ = "0.1.0"
