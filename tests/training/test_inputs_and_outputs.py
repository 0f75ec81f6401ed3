"""What the training commands read and write, run as a user runs them (training.cli.main, or the console
scripts where a hang or a second process matters): an output never lands on or inside an input, a file of the
user's is never replaced, a damaged checkpoint falls back to an older one, and what cannot be used is said in
one line (or, for photos left out of a personalisation, one warning each)."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.training.test_loop import register_tiny
from training.cli import main

BIN = Path(sys.executable).parent


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(capsys, code, *words):
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("poseeditor-train: error: "), err
    for w in words:
        assert w in err, err
    return err


def starter(backend="attention") -> Path:
    from training.personalize import starter_weights

    return starter_weights(backend)


@pytest.fixture
def a_set(tmp_path):
    """A prepared set holding nothing apart (a few photos' self-pairs): refine has nothing to train on."""
    data = tmp_path / "set"
    (data / "images").mkdir(parents=True)
    (data / "dataset.json").write_text(json.dumps({"format": "poseeditor-dataset"}))
    (data / "annotations.csv").write_text("name,keypoints_y,keypoints_x\n")
    (data / "images" / "x.png").write_bytes(b"the user's image")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(starter().read_bytes())
    return data, weights


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    out = tmp_path_factory.mktemp("io") / "people"
    assert main(["synth", "-o", str(out), "--identities", "3", "--poses-per-identity", "3", "--size", "64x32"]) == 0
    return out


# ----- refine -o -------------------------------------------------------------------------------------------------
def test_refine_never_writes_into_the_set_it_reads(a_set, tmp_path, capsys):
    data, weights = a_set
    before, w_before = digest(data), weights.read_bytes()
    (tmp_path / "link").symlink_to(data)
    for out in ("annotations.csv", "images/x.png", "dataset.json"):  # not weights, and inside the set
        code = main(["refine", str(weights), "--data", str(data), "--minutes", "0.02", "-o", str(data / out)])
        one_line(capsys, code, "must end in .safetensors")
    for out in (data / "new.safetensors", data / "images" / "new.safetensors", tmp_path / "link" / "l.safetensors"):
        code = main(["refine", str(weights), "--data", str(data), "--minutes", "0.02", "-o", str(out)])
        one_line(capsys, code, f"inside the input {data}, which is a folder")
    assert digest(data) == before and weights.read_bytes() == w_before
    # elsewhere: nothing to refine, so the weights unchanged in the new file, said so
    out = tmp_path / "copy.safetensors"
    assert main(["refine", str(weights), "--data", str(data), "--minutes", "0.02", "-o", str(out)]) == 0
    assert "not refined" in capsys.readouterr().out and out.read_bytes() == w_before


def test_a_weights_file_name_at_the_length_limit_is_written(a_set, tmp_path, capsys):
    """The temporary file beside a 251-character name would have passed the 255-byte limit."""
    data, weights = a_set
    out = tmp_path / ("a" * 239 + ".safetensors")
    assert main(["refine", str(weights), "--data", str(data), "--minutes", "0.02", "-o", str(out)]) == 0, \
        capsys.readouterr().err
    assert out.read_bytes() == weights.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["set", "w.safetensors", out.name])


def test_endless_budgets_are_refused_before_any_work(a_set, tmp_path, capsys):
    data, weights = a_set
    code = main(["refine", str(weights), "--data", str(data), "--minutes", "inf",
                 "-o", str(tmp_path / "r.safetensors")])
    one_line(capsys, code, "--minutes must be a number above 0, not inf")
    photo = tmp_path / "p.png"
    _person_photo(photo)
    for flag in ("--minutes", "--lr-mult"):
        for value in ("inf", "nan", "0"):
            code = main(["personalize", str(photo), "--backend", "attention", "-o", str(tmp_path / "q.safetensors"),
                         flag, value])
            one_line(capsys, code, f"{flag} must be a number above 0")
    assert not (tmp_path / "q.work").exists() and not (tmp_path / "r.safetensors").exists()


# ----- checkpoints -----------------------------------------------------------------------------------------------
def _damage_pickle(path: Path) -> None:
    """Six bytes changed at the start of the checkpoint's data.pkl (stored uncompressed in torch's zip): still a
    pickle, whose tensor reference is now a number (torch's reader fails an assertion on it)."""
    raw = bytearray(path.read_bytes())
    info = next(i for i in zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist() if i.filename.endswith("data.pkl"))
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    raw[start:start + 6] = b"\x80\x02K\x05Q."
    path.write_bytes(bytes(raw))


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(monkeypatch, people, tmp_path, capsys, caplog):
    import torch

    from training.checkpoint import FORMAT

    register_tiny(monkeypatch)
    assert main(["fit", "--backend", "tiny-test", "--data", str(people), "--runs-dir", str(tmp_path / "runs"),
                 "--steps", "2", "--batch", "2", "--val-every", "100", "--ckpt-every", "1", "--device", "cpu",
                 "--no-progress"]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    newest = run / "checkpoints" / "ckpt-0000002.pt"
    _damage_pickle(newest)
    with caplog.at_level(logging.WARNING):
        assert main(["export", str(run), "-o", str(tmp_path / "w.safetensors"), "--which", "latest"]) == 0, \
            capsys.readouterr().err
    assert "latest (step 1)" in capsys.readouterr().out
    assert [f"{newest}: not a readable checkpoint (damaged or not a PoseEditor checkpoint): saved_id must be a tuple, "
            f"got int; trying an older checkpoint"] == [r.getMessage() for r in caplog.records
                                                        if r.levelno == logging.WARNING]
    # a pickle naming a class (never unpickled): torch's refusal, in colour and at length, becomes its reason
    torch.save({"format": FORMAT, "obj": Path("/")}, newest)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main(["fit", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0, capsys.readouterr().err
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "Unsupported global" in warned[0], warned
    assert "\x1b" not in warned[0] and "\n" not in warned[0] and "weights_only" not in warned[0]
    rows = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["kind"] == "done" and rows[-1]["step"] == 3


# ----- evaluate -o -----------------------------------------------------------------------------------------------
def test_evaluate_writes_outside_its_inputs_and_replaces_only_its_own_report(people, tmp_path, capsys):
    def evaluate(out):
        return main(["evaluate", "--backend", "warp", "--data", str(people), "--limit", "1", "--no-pckh",
                     "-o", str(out)])

    before = digest(people)
    one_line(capsys, evaluate(people), "would be the dataset")
    one_line(capsys, evaluate(people / "eval"), "would be the dataset")
    assert digest(people) == before and not (people / "eval").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.json").write_text('{"my": "notes"}')
    (mine / "grid.png").write_bytes(b"my picture")
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "grid.png").write_bytes(b"my picture")
    for out in (mine, pictures):
        one_line(capsys, evaluate(out), "that evaluate did not write")
    assert (mine / "report.json").read_text() == '{"my": "notes"}' and (mine / "grid.png").read_bytes() == \
        (pictures / "grid.png").read_bytes() == b"my picture"
    # an evaluation folder is evaluate's own: run again, its files are replaced
    ev = tmp_path / "ev"
    for _ in range(2):
        assert evaluate(ev) == 0, capsys.readouterr().err
        assert json.loads((ev / "report.json").read_text())["pairs"] == 1
    assert sorted(p.name for p in ev.iterdir()) == ["grid.png", "report.json"]


# ----- personalize's photos --------------------------------------------------------------------------------------
def _person_photo(path: Path, seed: int = 22) -> Path:
    from engine.images import save_image
    from tests.engine.test_photo_kinds import synth_person

    save_image(path, synth_person(seed)[0])
    return path


def _unusable(folder: Path) -> dict[str, Path]:
    import numpy as np

    from engine.images import save_image

    text = folder / "notes.jpg"
    text.write_text("not a photo\n")
    dot = folder / "dot.png"
    save_image(dot, np.zeros((1, 1, 3), np.uint8))
    loop = folder / "loop.jpg"
    loop.symlink_to(loop)
    return {"text": text, "dot": dot, "loop": loop}


def test_personalize_says_in_one_line_when_no_photo_can_be_used(tmp_path, capsys):
    bad = _unusable(tmp_path)
    photo = _person_photo(tmp_path / "anna.png")
    out = str(tmp_path / "q.safetensors")
    code = main(["personalize", str(photo), str(bad["loop"]), "--backend", "dgan", "-o", out])
    one_line(capsys, code, f"{bad['loop']}: cannot read the photo (Too many levels of symbolic links)")
    code = main(["personalize", str(bad["text"]), str(bad["dot"]), "--backend", "dgan", "-o", out])
    one_line(capsys, code, "no photo can be used", "notes.jpg: not an image", "dot.png: image is too small")
    assert not (tmp_path / "q.work").exists()
    # the help says what the app's plan takes: one photo is enough
    with pytest.raises(SystemExit):
        main(["personalize", "--help"])
    assert "one is enough" in " ".join(capsys.readouterr().out.split())


# ----- reading a pose file -----------------------------------------------------------------------------------------
def test_a_named_pipe_nothing_writes_to_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pose.json"
    os.mkfifo(fifo)
    photo = _person_photo(tmp_path / "anna.png")
    proc = subprocess.run([str(BIN / "poseeditor-render"), "--source", str(photo), "--target", str(fifo),
                           "-o", str(tmp_path / "o.png")], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))  # open() of the pipe used to wait forever
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "pose.json: a pipe nothing was written to" in proc.stderr
    assert not (tmp_path / "o.png").exists()
