"""Quick personalisation from one photo (or a few): the plan trains on the photos' self-pairs (the warp engine's
renders of each photo in moved poses as sources, the photo as target) instead of pairs between the photos, through
the real CLI, the real detector and real training steps."""
import json

import cv2
import pytest

from tests.engine.test_photo_kinds import synth_person
from tests.training.test_cli import P_starter, run_cli
from training import protocol as P


def _photos(folder, seeds):
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in seeds:
        img, _, _ = synth_person(s)
        out.append(folder / f"person-{s}.jpg")
        cv2.imwrite(str(out[-1]), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return out


def test_a_few_photos_plan_self_pairs_and_more_plan_pairs_between_them(tmp_path):
    photos = [str(p) for p in _photos(tmp_path / "in", (22, 5, 7, 9))]
    init = str(P_starter("spgnet"))
    for n in range(1, 5):
        plan = P.make_plan("Anna", "spgnet", photos[:n], init=init)
        P.check_plan(plan)  # one photo is enough now
        args = [str(a) for a in P.prepare_args(plan, tmp_path / "staged", tmp_path / "ds")]
        if n < P.SELF_PAIRS_BELOW:
            assert P.uses_self_pairs(plan) and args[:2] == ["self-pairs", str(tmp_path / "staged" / "Anna")]
            assert "--personal" in args and "warp engine" in P.self_pairs_note(n)
        else:
            assert not P.uses_self_pairs(plan) and args[:2] == ["prepare", str(tmp_path / "staged")]
    assert P.fit_batch(plan, 2) == 2 and P.fit_batch(plan, 63) == 8  # fit refuses a batch above the pairs
    # a video is never self-paired; its frames' own renders are added as prepare's --self-pairs (photos: not)
    for backend in P.PERSONAL:  # measured to win for every backend
        own = P.make_plan("Anna", backend, video="clip.mp4", init=str(P_starter(backend)))
        assert not P.uses_self_pairs(own) and own.frame_self_pairs == P.VIDEO_SELF_PAIRS > 0
        assert P.prepare_args(own, "clip.mp4", tmp_path / "ds")[-2:] == ["--self-pairs", P.VIDEO_SELF_PAIRS]
    # dgan-sa's fine-tune pools its attention by 4 and drops 70% (fit --net); from scratch: the paper's
    fit = P.fit_args(P.make_plan("Anna", "dgan-sa", video="clip.mp4", init=str(P_starter("dgan-sa"))), "ds", "r", 8)
    assert fit[fit.index("--net") + 1] == '{"attention_pool": 4, "dropout": 0.7}'
    assert "--net" not in P.fit_args(P.make_plan("Anna", "dgan-sa", video="clip.mp4"), "ds", "r", 8)
    for n in (0, 3):
        args = [str(a) for a in P.prepare_args(P.make_plan("Anna", "spgnet", video="clip.mp4", init=init,
                                                           frame_self_pairs=n), "clip.mp4", tmp_path / "ds")]
        assert args[0] == "prepare" and (args[-2:] == ["--self-pairs", "3"] if n else "--self-pairs" not in args)
    assert "--self-pairs" not in [str(a) for a in P.prepare_args(plan, tmp_path / "staged", tmp_path / "ds")]
    # asking for pairs between photos still needs two of them
    with pytest.raises(P.PersonalizeError, match="at least 2"):
        P.check_plan(P.make_plan("Anna", "spgnet", photos[:1], init=init, self_pairs=False))
    with pytest.raises(P.PersonalizeError, match="a photo"):
        P.check_plan(P.make_plan("Anna", "spgnet", [], init=init))


@pytest.mark.slow  # personalize as a child process: prepare, fit, export
def test_personalize_from_one_photo_trains_on_its_self_pairs(tmp_path):
    """One procedural person photo in, fine-tuned weights out: the dataset is the photo's self-pairs (the photo
    the target of its warp renders), fit runs real steps from the starter, and the photo is left as it was."""
    from engine.weights import read_meta
    from training.dataset_format import read_pairs

    import numpy as np

    from engine.images import save_image

    photo, = _photos(tmp_path, (22,))
    before = photo.read_bytes()
    # beside it, files the app would not have opened: each is left out with one warning saying why, and the
    # person's photo trains (one is enough, as in the app)
    (tmp_path / "notes.jpg").write_text("not a photo\n")
    save_image(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    save_image(tmp_path / "wall.png", np.full((512, 256, 3), 128, np.uint8))
    out = tmp_path / "anna.safetensors"
    proc = run_cli("personalize", photo.name, "notes.jpg", "dot.png", "wall.png", "--backend", "attention",
                   "--minutes", "0.02", "--clock", "cpu", "-o", out.name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert len(warnings) == 3, proc.stderr
    assert "notes.jpg: not an image file" in warnings[0] and "skipped" in warnings[0]
    assert "dot.png: image is too small (1x1 pixels" in warnings[1]
    assert f"{(tmp_path / 'wall.png').resolve()}: no person" in warnings[2] and "skipped" in warnings[2]
    assert photo.read_bytes() == before
    meta = read_meta(out)
    assert meta.backend == "attention" and meta.label == "anna"
    dataset = tmp_path / "anna.work" / "datasets" / "anna"
    info = json.loads((dataset / "dataset.json").read_text())
    assert info["self_pairs"]["photos"] == 2 and info["self_pairs"]["per_photo"] == 24  # the wall gave none
    rows = read_pairs(dataset / "pairs-train.csv") + read_pairs(dataset / "pairs-test.csv")
    assert len(rows) == 24 and all(b.endswith("person-22.png") and a != b for a, b, *_ in rows)
    run, = (tmp_path / "anna.work" / "runs").iterdir()
    stats = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["kind"] == "done" and stats[-1]["step"] >= 1
    assert any(r["kind"] == "val" and r["split"] == "test" for r in stats)  # on held-back self-pairs
    assert "no test pairs" not in proc.stderr and "Traceback" not in proc.stderr
    # again, in the same work folder, on the wall alone: refused, and it leaves no dataset of nobody behind (each
    # such run left an empty one, and its copied photos, in a work folder made before)
    kept = sorted(p.name for p in (tmp_path / "anna.work" / "datasets").iterdir())
    proc = run_cli("personalize", "wall.png", "--backend", "attention", "--minutes", "0.02", "--clock", "cpu",
                   "-o", out.name, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in (tmp_path / "anna.work" / "datasets").iterdir()) == kept
