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
    target = fit_preset("arms-up", 120, 200, like=pose)
    out = b.render(state, target)
    assert out.shape == img.shape and out.dtype == np.uint8
    crop = b.render_crop(state, target)  # what the network draws (here the app shows the warp's raised arms)
    assert crop.shape == (*b.image_size, 3) and crop.std() > 1


def _held_out_pairs(n=10):
    """((source image, labels, pose), (target image, labels, pose)) at 128x64 of procedural people the starters
    never saw (another seed than their training set's), made as their training images were: drawn at
    256x128, then halved by the dataset loader."""
    import cv2

    from training.datasets import _resize_pose
    from training.synth import synth_image

    def one(ident, k):
        img, labels, pose = synth_image(7, ident, k, (256, 128))
        return (cv2.resize(img, (64, 128), interpolation=cv2.INTER_AREA),
                cv2.resize(labels, (64, 128), interpolation=cv2.INTER_NEAREST), _resize_pose(pose, (128, 64)))

    return [(one(ident, 0), one(ident, 1)) for ident in range(n)]


@pytest.mark.parametrize("name", NEURAL)
def test_starter_weights_move_the_person(name):
    """The shipped weights do pose transfer: on people they never saw, where either the source or the target
    person is, the image they draw is clearly nearer the target than the source. Weights that reproduce the
    source, or draw one grey figure whatever the pose, score about 1 (the first starters did: 0.91-1.01);
    weights that learnt the task score about 0.7."""
    b = create(name, composite="crop")
    to_target, to_source = [], []
    for (src, src_labels, src_pose), (tgt, tgt_labels, tgt_pose) in _held_out_pairs():
        state = b.encode_sources([src], [src_pose], [(src_labels > 0).astype(np.float32)])
        out = b.render(state, tgt_pose).astype(float)
        people = (src_labels > 0) | (tgt_labels > 0)
        to_target.append(np.abs(out - tgt).mean(axis=2)[people].mean())
        to_source.append(np.abs(out - src).mean(axis=2)[people].mean())
    ratio = np.mean(to_target) / np.mean(to_source)
    assert ratio < 0.8, f"{name}: as near the source as the target (ratio {ratio:.2f})"


@pytest.mark.parametrize("name", NEURAL)
def test_a_starter_leaves_the_limbs_to_the_photo_and_other_weights_draw_them(name, tmp_path):
    """With the starter's weights the arms raised are the warp engine's picture, the photo's own arms (the
    network redraws only a body whose shape changes; engine.backends.base.NeuralBackend.leans_on_the_photo).
    The same weights from another file, as weights trained on the person come, repaint the arms and what they
    uncovered; the starter's own file loaded by its path is the starter again."""
    import shutil

    from tests.engine.test_warp_backend import painted_person

    pose = fit_preset("standing", 160, 280)
    img = painted_person(pose)
    target = fit_preset("arms-up", 160, 280, like=pose)
    warp = create("warp")
    expected = warp.render(warp.encode_sources([img], [pose], [pose_mask(pose)]), target)

    b = create(name)
    assert b.weights_info.kind == "starter"
    out = b.render(b.encode_sources([img], [pose], [pose_mask(pose)]), target)
    assert np.array_equal(out, expected)

    mine = tmp_path / "mine.safetensors"
    shutil.copyfile(STARTER_DIR / f"{name}.safetensors", mine)
    b.load_weights(mine)
    assert b.weights_info.kind == "file"
    out = b.render(b.encode_sources([img], [pose], [pose_mask(pose)]), target)
    assert np.abs(out.astype(int) - expected).max(axis=2).astype(bool).mean() > 0.01  # the arms repainted

    b.load_weights(STARTER_DIR / f"{name}.safetensors")
    assert b.weights_info.kind == "starter"
