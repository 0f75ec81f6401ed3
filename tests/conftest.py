"""Shared test setup: offscreen Qt, a modest torch thread count, and the shared real data (skipped if absent)."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# opencv-contrib (mediapipe's cv2) points Qt at its own Qt5 plugins; PySide6 must use its own.
os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)

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


def _standing_body(look, arm_deg: float):
    """A front-facing standing skeleton in training.synth's body units: arms ``arm_deg`` away from the body
    (elbows a little bent), legs slightly apart, head upright. Poses this plain are what the real detector
    finds best, so the tests' photo has a person it finds on every machine."""
    import math

    import numpy as np

    from engine.pose import J, NUM_JOINTS
    from training import synth

    deg = math.radians
    xy = np.zeros((NUM_JOINTS, 2))
    hipc = np.array([0.0, 0.5])
    neck = hipc - np.array([0.0, synth.TORSO])
    xy[J["neck"]] = neck
    for side, sgn in (("r", -1.0), ("l", 1.0)):
        sh, hp = neck + (sgn * look.shoulder, 0.01), hipc + (sgn * look.hip, 0.0)

        def limb(start, angle, length):
            return start + length * np.array([sgn * math.sin(deg(angle)), math.cos(deg(angle))])

        el = limb(sh, arm_deg, synth.UPPER_ARM * look.arm)
        kn = limb(hp, 6, synth.THIGH * look.leg)
        for name, p in (("shoulder", sh), ("hip", hp), ("elbow", el), ("knee", kn),
                        ("wrist", limb(el, arm_deg + 15, synth.LOWER_ARM * look.arm)),
                        ("ankle", limb(kn, 6, synth.SHIN * look.leg))):
            xy[J[f"{side}_{name}"]] = p
    hc = neck - (0.0, synth.HEAD_CENTRE)
    xy[J["nose"]] = hc + (0.0, 0.005)
    xy[J["r_eye"]], xy[J["l_eye"]] = hc + (-0.025, -0.01), hc + (0.025, -0.01)
    xy[J["r_ear"]], xy[J["l_ear"]] = hc + (-0.05, 0.005), hc + (0.05, 0.005)
    return synth.Body(xy, hc, 0.0, False)


@pytest.fixture(scope="session")
def procedural_photos(tmp_path_factory):
    """Three photos (480 x 320 PNG) of one procedural person over one scene, arms at 20, 35 and 10 degrees,
    drawn once per session: the app's tests run on them anywhere, with no shared data. Returns [(path, Pose)],
    the Pose being where training.synth drew the joints."""
    import numpy as np

    from engine.images import save_image
    from training import synth

    out = tmp_path_factory.mktemp("procedural")
    look = synth.random_look(np.random.default_rng([7, 0]))
    scene = synth._background(np.random.default_rng([7, 0, 0]), 480, 320)
    photos = []
    for k, arm in enumerate((20, 35, 10)):
        img, _, pose = synth.render_person(_standing_body(look, arm), look, (480, 320),
                                           np.random.default_rng([7, 0, k + 1]), scene)
        path = out / f"person{k + 1}.png"
        save_image(path, img)
        photos.append((path, pose))
    return photos
