"""A weights path that names no weights file: a bare name (a label, a backend, a name typed without its suffix) that
does not exist, or a file of another format by its name. The one line says it is the weights that are missing or
wrong and that weights are .safetensors files, wherever weights are read: poseeditor-render, the trainer's
commands, the app's Load Weights (engine.weights.read_meta). The rule is fileio.check_input's."""
from __future__ import annotations

import pytest

from engine import fileio
from engine.errors import PoseEditorError, WeightsError
from engine.weights import read_meta
from tests.bad_inputs.helpers import check_one_line, run_cli


@pytest.fixture
def photo_and_pose(tmp_path):
    from PIL import Image

    from training.synth import synth_image

    img, _, pose = synth_image(7, 0, 0, (256, 128))
    Image.fromarray(img).save(tmp_path / "photo.png")
    pose.save_json(tmp_path / "pose.json")
    return tmp_path / "photo.png", tmp_path / "pose.json"


def render_argv(photo_and_pose, weights, out):
    photo, pose = photo_and_pose
    return ["--source", str(photo), "--source-pose", str(pose), "--target", str(pose), "-o", str(out / "o.png"),
            "--backend", "dgan", "--weights", str(weights)]


def test_render_with_a_bare_missing_name_says_a_safetensors_weights_file_is_missing(photo_and_pose, tmp_path,
                                                                                     capfd):
    out = tmp_path / "out"
    out.mkdir()
    code, err = run_cli("render", render_argv(photo_and_pose, tmp_path / "nothere", out), capfd)
    check_one_line("poseeditor-render", code, err, r"nothere: no such \.safetensors weights file$")
    assert list(out.iterdir()) == []


def test_render_with_another_format_by_name_says_what_weights_are(photo_and_pose, tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "anna.ckpt").write_bytes(b"not a model of any kind, just bytes" * 4)
    code, err = run_cli("render", render_argv(photo_and_pose, tmp_path / "anna.ckpt", out), capfd)
    check_one_line("poseeditor-render", code, err,
                   r"anna\.ckpt: not a safetensors file; weights are \.safetensors files")
    assert "truncated" not in err  # it is another format, not a cut safetensors file


def test_refine_with_a_bare_missing_name_says_so(tmp_path, capfd):
    code, err = run_cli("train", ["refine", str(tmp_path / "anna"), "--data", str(tmp_path / "ds")], capfd)
    check_one_line("poseeditor-train", code, err, r"anna: no such \.safetensors weights file$")


def test_read_meta_the_apps_load_weights_says_the_same(tmp_path):
    with pytest.raises(WeightsError) as e:
        read_meta(tmp_path / "anna")
    assert str(e.value) == f"{tmp_path / 'anna'}: no such .safetensors weights file"
    # a name with a suffix says by itself what was meant: the short line stands
    for name in ("anna.safetensors", "anna.pt"):
        with pytest.raises(WeightsError) as e:
            read_meta(tmp_path / name)
        assert str(e.value) == f"{tmp_path / name}: no such file"


def test_the_kind_is_named_only_for_a_kind_known_by_its_suffix(tmp_path):
    # "image", "video", "weights file" name no suffix: a missing bare name is "no such file", as before
    with pytest.raises(PoseEditorError) as e:
        fileio.check_input(tmp_path / "photo", what="image")
    assert str(e.value) == f"{tmp_path / 'photo'}: no such file"
    with pytest.raises(PoseEditorError) as e:
        fileio.check_input(tmp_path / "photo", what=".safetensors weights file", folder=True)
    assert str(e.value) == f"{tmp_path / 'photo'}: no such file or folder"
