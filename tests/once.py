"""Work done once per test run and shared by its test processes.

pytest-xdist hands a module's tests to both workers (one at a time, round robin), so a module-scoped fixture runs
once in every worker that gets one of its tests. ``once_per_run`` runs it in the first worker that asks, in a folder
every worker sees (the run's temporary folder), and the others wait for its result on a file lock and read it.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def once_per_run(tmp_path_factory, name: str, compute: Callable[[Path], object]):
    """``compute(folder)``'s result, made of what JSON holds, computed once in this test run in a new folder. An
    exception (a skip too) is raised in the worker that computed it and kept by none: another worker that asks
    computes it again, in a folder of its own."""
    from filelock import FileLock

    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # one process: nothing to share
        return json.loads(json.dumps(compute(tmp_path_factory.mktemp(name))))
    root = tmp_path_factory.getbasetemp().parent / f"once-{name}"
    with FileLock(f"{root}.lock"):
        result = root / "result.json"
        if result.is_file():
            return json.loads(result.read_text(encoding="utf-8"))
        root.mkdir(exist_ok=True)
        text = json.dumps(compute(Path(tempfile.mkdtemp(dir=root))))
        result.write_text(text, encoding="utf-8")
        return json.loads(text)
