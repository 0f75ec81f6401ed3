"""Weights files whose metadata or network configuration is out of range or of the wrong kind, made with the
project's own save_weights from a real starter's tensors: poseeditor-render and `poseeditor-train fit --init`
accepted an image_size of [0, 0], [-128, -64] or [100000, 100000], and a torso_whole_image of "s" or a list
(the network read it with bool()). Each is now one line naming the file, exit status 2, no output written."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli_render import main as render
from engine.errors import WeightsError
from engine.weights import WeightsMeta, load_weights, read_meta, save_weights
from training.cli import main as train

STARTER = Path(__file__).resolve().parents[2] / "resources" / "weights" / "dgan.safetensors"


@pytest.fixture(scope="module")
def starter():
    return load_weights(STARTER)


def edited(starter, path: Path, *, image_size=None, config=None) -> Path:
    tensors, meta = starter
    return save_weights(path, tensors, WeightsMeta(meta.backend, dict(meta.config, **(config or {})),
                                                   tuple(image_size or meta.image_size), label="edited"))


def one_line(capsys, code, prog, *words) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


BAD = [
    ("size-zero", {"image_size": (0, 0)}, "image_size 0x0 is outside 16..1024"),
    ("size-negative", {"image_size": (-128, -64)}, "image_size -128x-64 is outside"),
    ("size-huge", {"image_size": (100000, 100000)}, "image_size 100000x100000 is outside"),
    ("torso-text", {"config": {"torso_whole_image": "s"}}, "torso_whole_image must be true or false, not 's'"),
    ("torso-list", {"config": {"torso_whole_image": [1]}}, "torso_whole_image must be true or false, not [1]"),
]


@pytest.mark.parametrize("name, edit, words", BAD, ids=[b[0] for b in BAD])
def test_render_refuses_the_file_in_one_line(tmp_path, starter, person, capsys, name, edit, words):
    w = edited(starter, tmp_path / f"{name}.safetensors", **edit)
    photo, pose = person
    code = render(["--source", str(photo), "--source-pose", str(pose), "--target", str(pose), "--backend", "dgan",
                   "--weights", str(w), "-o", str(tmp_path / "out.png")])
    one_line(capsys, code, "poseeditor-render", str(w), words)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name, edit, words", [BAD[0], BAD[3]], ids=[BAD[0][0], BAD[3][0]])
def test_fit_init_refuses_the_file_before_a_run_folder(tmp_path, starter, capsys, name, edit, words):
    data = tmp_path / "ds"
    assert train(["synth", "-o", str(data), "--identities", "2", "--poses-per-identity", "3", "--size", "64x32"]) == 0
    w = edited(starter, tmp_path / f"{name}.safetensors", **edit)
    code = train(["fit", "--backend", "dgan", "--data", str(data), "--steps", "1", "--batch", "2", "--val-pairs",
                  "2", "--runs-dir", str(tmp_path / "runs"), "--no-progress", "--init", str(w)])
    one_line(capsys, code, "poseeditor-train", str(w), words)
    assert not (tmp_path / "runs").exists()


def test_the_metadata_size_is_checked_where_it_is_read(tmp_path, starter):
    w = edited(starter, tmp_path / "zero.safetensors", image_size=(0, 0))
    with pytest.raises(WeightsError, match="zero.safetensors: metadata image_size 0x0"):
        read_meta(w)


def test_every_starter_still_loads():
    from engine.registry import backend_class

    for path in sorted(STARTER.parent.glob("*.safetensors")):
        meta = read_meta(path)
        load_weights(path, backend=backend_class(meta.backend))
