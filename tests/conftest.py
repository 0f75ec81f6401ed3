"""Shared test setup: offscreen Qt, a modest torch thread count, and the shared real data (skipped if absent)."""
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# opencv-contrib (mediapipe's cv2) points Qt at its own Qt5 plugins; PySide6 must use its own.
os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
# hypothesis keeps its example database in the system's temporary folder, not in the repository (.hypothesis)
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "poseeditor-hypothesis"))
# the engine's once-per-machine measurements (engine.runtime.user_cache_dir) likewise, not in the user's cache
os.environ.setdefault("POSEEDITOR_CACHE_DIR", os.path.join(tempfile.gettempdir(), "poseeditor-test-cache"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POSEEDITOR_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared(*parts) -> Path:
    """Path to a file of ../shared/data; skips the test with a reason when it is not there (fresh clones)."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not present: {p}")
    return p


@pytest.fixture
def shared_data():
    return shared


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    try:
        import torch

        # One thread by default: the tests' networks are tiny, and two threads spin-waiting on each other made
        # some files 5-40x slower on a busy 2-core machine (measured). POSEEDITOR_TEST_THREADS overrides.
        torch.set_num_threads(int(os.environ.get("POSEEDITOR_TEST_THREADS", "1")))
    except ImportError:
        pass
    yield


@pytest.fixture(scope="session")
def procedural_photos(tmp_path_factory):
    """Three photos (480 x 320 PNG) of one procedural person over one scene, arms at 20, 35 and 10 degrees,
    drawn once per session: the app's tests run on them anywhere, with no shared data. Returns [(path, Pose)],
    the Pose being where training.synth drew the joints."""
    from tests.app.procedural import procedural_photos as make

    return make(tmp_path_factory.mktemp("procedural"))
