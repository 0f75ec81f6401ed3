"""poseeditor-train as a user runs it: every subcommand mounted, the workflow synth -> fit -> export -> evaluate
-> bench, and user errors as one line on stderr with a non-zero status and no traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training.test_loop import register_tiny  # the tiny trainable backend
from training.cli import COMMANDS, main

SCRIPT = Path(sys.executable).with_name("poseeditor-train")




@pytest.fixture
def tiny(monkeypatch):
    register_tiny(monkeypatch)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "people"
    assert main(["synth", "-o", str(out), "--identities", "3", "--poses-per-identity", "4", "--size", "64x32"]) == 0
    return out


def run_cli(*args, cwd=None):
    cmd = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "training.cli"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


def one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("poseeditor-train")]
    assert len(lines) == 1 and lines[0].startswith("poseeditor-train: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_every_subcommand_is_mounted(capsys):
    for name in COMMANDS:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        assert f"poseeditor-train {name}" in capsys.readouterr().out


def test_a_wrong_backend_name_is_one_line(data):
    one_line_error(run_cli("fit", "--backend", "nope", "--data", str(data)), "unknown backend 'nope'")


def test_a_missing_dataset_is_one_line(tmp_path):
    one_line_error(run_cli("evaluate", "--backend", "warp", "--data", str(tmp_path / "nowhere")),
                   "no such dataset folder")


def test_argparse_errors_exit_2_without_traceback(capsys):
    with pytest.raises(SystemExit) as e:
        main(["fit", "--size", "12by3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "size must be HEIGHTxWIDTH" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(["fit", "--net", "[4]"])
    assert e.value.code == 2 and "not a JSON object" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["no-such-command"])
    capsys.readouterr()
    assert main(["fit", "--backend", "tiny-test", "--data", "x", "--reframe", "0.7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reframe must be a number from 0 to 0.5" in err, err


def test_verbose_shows_the_traceback(tiny, tmp_path, capsys):
    from engine.errors import PoseEditorError

    assert main(["fit", "--backend", "tiny-test", "--data", str(tmp_path / "none")]) == 2
    assert "no such dataset folder" in capsys.readouterr().err
    with pytest.raises(PoseEditorError, match="no such dataset folder"):
        main(["--verbose", "fit", "--backend", "tiny-test", "--data", str(tmp_path / "none")])


def test_synth_fit_export_evaluate_bench(tiny, data, tmp_path, capsys):
    from engine.weights import read_meta

    runs = tmp_path / "runs"
    assert main(["fit", "--backend", "tiny-test", "--data", str(data), "--runs-dir", str(runs), "--steps", "4",
                 "--batch", "4", "--val-every", "2", "--ckpt-every", "2", "--val-pairs", "4", "--device", "cpu",
                 "--gan-start-step", "3", "--net", '{"width": 0.5}', "--no-progress"]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert run.parent == runs and (run / "best.safetensors").is_file()
    assert read_meta(run / "best.safetensors").config["width"] == 0.5  # --net builds and exports that network
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["command"].startswith("poseeditor-train fit --backend tiny-test")
    assert opts["recipe_options"]["gan_start_step"] == 3 and opts["recipe_options"]["lr"] == 3e-3

    # resume with more steps: the run goes on from step 4
    assert main(["fit", "--resume", str(run), "--steps", "6", "--no-progress"]) == 0
    capsys.readouterr()
    rows = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    # a resumed run keeps what it trains
    assert main(["fit", "--resume", str(run), "--batch", "2", "--no-progress"]) == 2
    assert "differs from the run's" in capsys.readouterr().err

    out = tmp_path / "w.safetensors"
    assert main(["export", str(run), "-o", str(out), "--which", "latest", "--half", "--label", "mine"]) == 0
    assert "latest (step 6)" in capsys.readouterr().out
    meta = read_meta(out)
    assert meta.label == "mine" and meta.provenance["steps"] == 6
    from safetensors.torch import load_file

    assert all(t.dtype == torch.float16 for t in load_file(str(out)).values())

    assert main(["evaluate", str(out), "--data", str(data), "--limit", "3", "--no-pckh",
                 "-o", str(tmp_path / "ev")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("tiny-test on people test (3 pairs): SSIM ") and "report.json" in line
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["pairs"] == 3 and 0 < report["metrics"]["ssim"] < 1
    assert report["metrics"]["fid"].startswith("not computed")
    from engine.images import load_image

    assert load_image(tmp_path / "ev" / "grid.png").shape == (3 * 64 + 4, 3 * 32 + 4, 3)

    # the warp baseline, no weights
    assert main(["evaluate", "--backend", "warp", "--data", str(data), "--limit", "2", "--no-pckh",
                 "-o", str(tmp_path / "warp")]) == 0
    assert capsys.readouterr().out.startswith("warp on people test (2 pairs)")

    assert main(["bench", "--backend", "tiny-test", "--size", "64x32", "--batch", "2", "--steps", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:5] == ["backend", "size", "batch", "width", "it/s"]
    assert lines[1].split()[0] == "tiny-test" and float(lines[1].split()[4]) > 0


def test_export_errors(tiny, data, tmp_path, capsys):
    assert main(["export", str(tmp_path / "no-run"), "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["fit", "--backend", "tiny-test", "--data", str(data), "--runs-dir", str(tmp_path / "r"),
                 "--steps", "1", "--val-every", "100", "--stop-after", "1", "--no-progress"]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    (run / "best.safetensors").unlink()
    assert main(["export", str(run), "-o", str(tmp_path / "x.safetensors"), "--which", "best"]) == 2
    assert "no best.safetensors" in capsys.readouterr().err
    assert main(["export", str(run), "-o", str(tmp_path / "x.pt")]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err


def test_the_protocol_shared_with_the_app_imports_no_torch_cv2_or_qt():
    """The app imports training.protocol on its UI thread; the CLI's error line comes from it too."""
    code = ("import sys, training.protocol as p, training.cli\n"
            "print(sorted(m for m in ('torch', 'cv2', 'PySide6', 'numpy') if m in sys.modules))\n"
            "print(p.last_error_line('noise\\n' + p.error_line('a\\n  b')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.splitlines() == ["[]", "a b"], out.stderr


def test_the_registry_gives_engine_classes_and_recipes_from_one_table_without_importing_training():
    """engine/registry.py's table names each backend's engine class and recipe; the engine lists and builds
    backends without importing training/, and training finds every recipe through the same table."""
    code = ("import sys\nfrom engine import registry\n"
            "names = registry.backend_names()\n"
            "print(names, [m for m in sys.modules if m.split('.')[0] == 'training'])\n"
            "from training.recipes import recipe_class, recipe_names\n"
            "print(recipe_names(), all(recipe_class(n).backend == n for n in recipe_names()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    first, second = out.stdout.splitlines()
    assert first == "['warp', 'dgan', 'dgan-sa', 'attention', 'spgnet', 'pnr'] []", out.stderr
    assert second == "['dgan', 'dgan-sa', 'attention', 'spgnet', 'pnr'] True"


def person_video(path, frames=12, size=(256, 192)):
    """A clip of one procedural person moving (training.synth), that the real detector finds."""
    import cv2

    from training.synth import synth_image

    h, w = size
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for i in range(frames):
        img, _, _ = synth_image(5, 0, i, size)
        vw.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    vw.release()
    return path


@pytest.mark.slow  # personalize as a child process: prepare, fit, export
def test_personalize_runs_the_apps_pipeline_end_to_end(tmp_path):
    """A video in, fine-tuned weights out: the real detector prepares it, fit starts from the starter weights
    with the app's plan (its fit command, batch, augmentation), export writes the labelled result."""
    from engine.weights import read_meta
    from training import protocol as P

    video = person_video(tmp_path / "clip.avi", frames=8)  # 6 train frames, 2 held apart
    before = video.read_bytes()
    out = tmp_path / "anna.safetensors"
    # 2 self-pairs a frame (the plan's 48 are ~1 CPU-s of warp renders a frame) and a budget of a few steps: the
    # pipeline is what is tested here, not what it learns
    proc = run_cli("personalize", "clip.avi", "--backend", "attention", "--minutes", "0.02", "--self-pairs", "2",
                   "-o", out.name, "--clock", "cpu", cwd=tmp_path)  # relative paths, as a shell user types them
    assert proc.returncode == 0, proc.stderr
    meta = read_meta(out)
    from training.protocol import PERSONAL  # the starter's 128x64, raised to the plan's own size

    size = tuple(PERSONAL["attention"].get("size", (128, 64)))
    assert meta.backend == "attention" and meta.label == "anna" and tuple(meta.image_size) == size
    assert video.read_bytes() == before
    runs = list((tmp_path / "anna.work" / "runs").iterdir())
    assert len(runs) == 1
    record = json.loads((runs[0] / "training_options.json").read_text())
    plan = P.make_plan("anna", "attention", video=str(video), init=str(P_starter("attention")), minutes=0.02,
                       frame_self_pairs=2, clock="cpu")
    expected = P.fit_args(plan, tmp_path / "anna.work" / "datasets" / "anna", tmp_path / "anna.work" / "runs",
                          record["options"]["batch"])
    assert record["command"].split()[1:] == [str(a) for a in expected]  # the app's fit command, word for word
    assert record["options"]["init"].endswith("attention.safetensors") and record["options"]["augment"]
    prepared = json.loads((tmp_path / "anna.work" / "datasets" / "anna" / "dataset.json").read_text())
    assert prepared["prepare"]["self_pairs"] == 2  # the frames' own renders, as many as asked for
    rows = [json.loads(ln) for ln in (runs[0] / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["kind"] == "done" and rows[-1]["reason"] == "time budget" and rows[-1]["step"] >= 1
    # its time budget ended the schedule: exported as it ended, not as its best check
    assert meta.provenance["selected_by"] == "latest" and meta.provenance["steps"] == rows[-1]["step"]
    assert str(out) in proc.stdout
    assert "TensorFlow Lite" not in proc.stderr and "Traceback" not in proc.stderr  # the detector's start-up noise


def P_starter(backend):
    from training.personalize import starter_weights

    return starter_weights(backend)


def test_personalize_refuses_what_the_app_refuses(tmp_path, capsys):
    """Refused before any step runs: one line, exit 2, no work folder, the inputs as they were."""
    from engine.images import save_image
    from training.synth import synth_image

    photo = tmp_path / "one.png"
    save_image(photo, synth_image(5, 0, 0, (256, 192))[0])
    init = tmp_path / "mine.safetensors"
    init.write_bytes(P_starter("attention").read_bytes())
    out = str(tmp_path / "w.safetensors")
    cases = [([str(photo)] * 2, "warp", ["-o", out], "unknown backend 'warp' for training"),
             ([str(photo)] * 2, "attention", ["--init", str(init), "-o", str(init)], "overwrite an input"),
             ([str(photo)] * 2, "attention", ["-o", out, "--minutes", "-1"], "--minutes must be a number above 0"),
             ([str(photo)] * 2, "attention", ["-o", str(tmp_path / "w.pt")], "must end in .safetensors"),
             ([str(photo)] * 2, "attention", ["-o", out, "--self-pairs", "-1"], "--self-pairs must be 0 to 64"),
             ([str(tmp_path / "clip.avi"), str(photo)], "attention", ["-o", out], "one video, or photos"),
             # a newcomer's --work PHOTOS wrote datasets/ and runs/ among the photos
             ([str(photo)] * 2, "attention", ["-o", out, "--work", str(tmp_path)], "the work folder would be in")]
    for sources, backend, extra, words in cases:
        capsys.readouterr()
        code = main(["personalize", *sources, "--backend", backend, *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert init.read_bytes() == P_starter("attention").read_bytes()
    assert not (tmp_path / "w.work").exists() and not (tmp_path / "mine.work").exists()


def test_evaluate_shows_each_prepared_crop_whole_as_fit_validates(tiny, data, tmp_path, capsys):
    # evaluate framed a prepared crop again on its pose: a person filling less than frame_for's share of it was
    # cropped round the body and drawn smaller into a box, 0.05 SSIM under fit's check of the same weights on the
    # same pairs (a newcomer review). The crop is what the network sees, whole.
    import numpy as np

    from engine.framing import frame_for
    from engine.pose import Pose
    from training.datasets import PairDataset
    from training.evaluate import _backend_for

    runs = tmp_path / "runs"
    assert main(["fit", "--backend", "tiny-test", "--data", str(data), "--runs-dir", str(runs), "--steps", "1",
                 "--batch", "2", "--val-every", "1", "--val-pairs", "2", "--no-progress"]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    b, _ = _backend_for(run, None, "cpu", tmp_path)
    img, pose, _, _ = PairDataset(data, "test").load(PairDataset(data, "test").pairs[0][0])
    # the person shrunk to half the crop's height: frame_for alone crops round them
    small = Pose(pose.xy * 0.5 + [0.25 * pose.width, 0.25 * pose.height], pose.present, pose.width, pose.height)
    assert frame_for(small, tuple(b.image_size)).crop(img).shape == img.shape  # same size, other pixels
    assert not np.array_equal(frame_for(small, tuple(b.image_size)).crop(img), img)
    assert np.array_equal(b.frame(small).crop(img), img) and b.whole_if_fits == 0.0
    # attention frames its own way (the authors' padded square) on top of the same rule: shown whole too
    from engine.registry import backend_class

    a = backend_class("attention")(device="cpu", load_starter=False)
    h, w = a.image_size
    crop_pose = Pose(small.xy * [w / img.shape[1], h / img.shape[0]], small.present, w, h)  # a crop of its size
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert not np.allclose(a.frame(crop_pose).matrix, identity)
    a.whole_if_fits = 0.0
    assert np.allclose(a.frame(crop_pose).matrix, identity)


def test_personalize_takes_a_folder_as_its_photos(tmp_path, capsys):
    # prepare takes a folder; personalize refused one ("is a folder, not a photo": a newcomer review)
    from engine.images import save_image
    from training.personalize import _usable_sources
    from training.synth import synth_image

    folder = tmp_path / "anna"
    folder.mkdir()
    for k in range(2):
        save_image(folder / f"{k}.png", synth_image(5, k, 0, (128, 96))[0])
    (folder / "notes.txt").write_text("not a photo")
    usable, skipped = _usable_sources([folder])
    assert [p.name for p in usable] == ["0.png", "1.png"] and not skipped
