"""Train on This Person's refiner step (training/refine.py) on a clip the real detector reads: personalize
trains it after the network, on the frames prepare held apart, and writes it into the weights file the app
loads; a set with no frames held apart leaves the file as it is."""
import json

import numpy as np
from safetensors import safe_open

from engine.refiner import PREFIX
from engine.weights import read_meta
from tests.training.test_cli import person_video, run_cli


def test_personalize_trains_a_refiner_on_the_held_apart_frames_and_the_app_renders_with_it(tmp_path):
    from engine.runtime import Engine
    from training.protocol import split_counts
    from training.refine import MIN_TARGETS, _frames_of

    video = person_video(tmp_path / "clip.avi", frames=20)
    out = tmp_path / "anna.safetensors"
    proc = run_cli("personalize", "clip.avi", "--backend", "attention", "--minutes", "0.4", "--refine-minutes",
                   "0.2", "--self-pairs", "0", "-o", out.name, "--clock", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "training the refiner" in proc.stderr
    data = tmp_path / "anna.work" / "datasets" / "anna"
    train, test = _frames_of(data)
    assert len(test) == split_counts(20)[2] >= MIN_TARGETS and len(train) == split_counts(20)[0]
    assert not {r["name"] for r in train} & {r["name"] for r in test}
    meta = read_meta(out)
    assert meta.provenance["refiner"]["steps"] >= 1 and meta.provenance["refiner"]["pairs"] >= 4
    with safe_open(str(out), "pt") as f:
        assert any(k.startswith(PREFIX) for k in f.keys()) and any(not k.startswith(PREFIX) for k in f.keys())
    # the fit had the budget less the refiner's minutes
    runs = list((tmp_path / "anna.work" / "runs").iterdir())
    record = json.loads((runs[0] / "training_options.json").read_text())
    assert "--time-budget 0.2 " in record["command"] + " "

    from training.video import read_frames

    img = next(iter(read_frames(video, [3])))[1]
    from engine.detect import PoseDetector

    with PoseDetector() as det:
        d = det.detect(img, "frame 3")
    eng = Engine("attention", device="cpu", weights=str(out))
    assert eng.backend.refiner is not None
    eng.set_sources([img], [d.pose], [d.mask])
    assert np.array_equal(eng.render(d.pose), img)  # the unchanged pose: the photo, refiner or not
    moved = d.pose.moved("r_wrist", *(d.pose.point("r_wrist") + [-20, -40]))
    refined = eng.render(moved)
    eng.backend.refiner = None
    assert not np.array_equal(eng.render(moved), refined)


def test_a_set_with_no_frames_held_apart_is_left_as_it_is(tmp_path):
    """A few photos train on their self-pairs: nothing is held apart, so there are no frames the model did not
    fit for a refiner to learn from. The file stays byte for byte; a folder that is no set is one line."""
    from training.personalize import starter_weights

    data = tmp_path / "set"
    data.mkdir()
    (data / "dataset.json").write_text(json.dumps({"format": "poseeditor-dataset"}))
    out = tmp_path / "w.safetensors"
    out.write_bytes(starter_weights("attention").read_bytes())
    before = out.read_bytes()
    proc = run_cli("refine", str(out), "--data", str(data), "--minutes", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert "not refined" in proc.stdout and out.read_bytes() == before
    proc = run_cli("refine", str(out), "--data", str(tmp_path))
    assert proc.returncode == 2 and "not a prepared set" in proc.stderr and "Traceback" not in proc.stderr
