"""Every neural backend draws on first launch: its starter weights ship, load by default, and render."""
import json

import numpy as np
import pytest
from safetensors import safe_open

from engine.backends.base import STARTER_DIR
from engine.detect import pose_mask
from engine.presets import fit_preset
from engine.registry import backend_class, backend_names, create
from engine.weights import read_meta

NEURAL = [n for n in backend_names() if backend_class(n).needs_weights]


def test_every_neural_backend_has_starter_weights():
    assert set(NEURAL) >= {"dgan", "dgan-sa", "attention", "spgnet", "pnr"}


@pytest.mark.parametrize("name", NEURAL)
def test_starter_weights_are_small_fp16_labelled_reproducible_and_render(name):
    path = STARTER_DIR / f"{name}.safetensors"
    assert path.stat().st_size <= 25 * 1024 * 1024
    with safe_open(str(path), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} <= {"F16", "I64", "BOOL"}
    meta = read_meta(path)
    assert meta.backend == name and "synthetic" in meta.label
    report = json.loads((STARTER_DIR / f"{name}.report.json").read_text())
    assert report["commands"] and (STARTER_DIR / "configs" / f"{name}.json").is_file()
    assert "ssim" in report["evaluation_on_synthetic_test_pairs"]["metrics"]

    b = create(name)
    assert b.ready and b.weights_info.kind == "starter"
    pose = fit_preset("standing", 120, 200)
    img = np.full((200, 120, 3), 180, np.uint8)
    state = b.encode_sources([img], [pose], [pose_mask(pose)])
    out = b.render(state, fit_preset("arms-up", 120, 200, like=pose))
    assert out.shape == img.shape and out.dtype == np.uint8 and out.std() > 1
