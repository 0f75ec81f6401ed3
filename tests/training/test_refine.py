"""poseeditor-train refine (training/refine.py) where it must not refine. The whole step, trained on a clip the real
detector reads and rendered by the engine, is tests/app/test_personalize.py's video plan."""
import json

from tests.training.test_cli import run_cli


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
