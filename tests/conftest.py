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

# A test process is the app's process (its widgets, the engine, the GL driver): triton is kept out before anything
# imports torch, as the app does at start. Without this the app's tests found triton loaded whenever a worker
# (pytest-xdist) had run engine or training tests first.
from poseeditor.app import keep_triton_out  # noqa: E402  (imports nothing heavy)

keep_triton_out()
import engine  # noqa: E402,F401  (sets FFmpeg's log level before any test writes or reads a video)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POSEEDITOR_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(items):
    """The slow tests first (a stable sort): the two workers then end on short tests together, instead of one
    waiting while the other runs a 20-second pipeline that happened to come last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


class RenderCache:
    """What several test files ask of the same photos, computed once a session: one detection per photo, one
    backend per name (weights loaded once), one encode per (backend, photo) serving every pose asked for it,
    and any other result by key (``memo``). The photo kinds and the raised-arm tests share it."""

    def __init__(self):
        self._memo, self._renders, self._backends = {}, {}, {}

    def memo(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def detect(self, name: str, img):
        from engine.detect import default_detector

        return self.memo(("detect", name), lambda: default_detector().detect(img, name))

    def backend(self, name: str):
        from engine.registry import create

        if name not in self._backends:
            self._backends[name] = create(name)
        return self._backends[name]

    def renders(self, backend: str, name: str, img, detection, targets: dict) -> dict:
        """{key: render} of ``targets`` ({key: Pose}) by ``backend`` from photo ``name``; the keys not yet
        rendered are rendered from one encode (not kept: a network's state is large)."""
        missing = {k: t for k, t in targets.items() if (backend, name, k) not in self._renders}
        if missing:
            b = self.backend(backend)
            state = b.encode_sources([img], [detection.pose], [detection.mask])
            for k, t in missing.items():
                self._renders[backend, name, k] = b.render(state, t)
        return {k: self._renders[backend, name, k] for k in targets}


@pytest.fixture(scope="session")
def render_cache():
    yield RenderCache()
