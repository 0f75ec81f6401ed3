"""Hypothesis keeps its caches in the system's temporary folder, not in the repository (.hypothesis)."""
import os
import tempfile

os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "poseeditor-hypothesis"))
