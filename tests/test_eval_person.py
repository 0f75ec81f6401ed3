"""The quality scorer (benchmarks/eval_person.py) on photos the test makes: the real detector, the real warp
backend through the app's Engine, the real metrics. The unchanged pose scores as the photo itself; a moved pose
scores lower; only the person's box counts; far pairs are averaged apart."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def E():
    spec = importlib.util.spec_from_file_location("eval_person", ROOT / "benchmarks" / "eval_person.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Shots:
    """Three photos of one procedural person (arms at 20, 35, 10 degrees) standing in for the video's frames,
    detected by the real detector as the scorer's frames are."""

    def __init__(self, photos):
        from engine.detect import PoseDetector
        from engine.images import load_image

        self.images = [load_image(p) for p, _ in photos]
        with PoseDetector() as det:
            found = [det.detect(img) for img in self.images]
        self.poses = [d.pose for d in found]
        self.masks = [d.mask for d in found]

    def image(self, i):
        return self.images[i]

    def pose(self, i):
        return self.poses[i]

    def mask(self, i):
        return self.masks[i]


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    from tests.app.procedural import procedural_photos

    return Shots(procedural_photos(tmp_path_factory.mktemp("shots"), arms=(20, 60, 10)))


def test_the_box_holds_the_person_and_stays_in_the_photo(E, shots):
    for pose in shots.poses:
        ys, xs = E.person_box(pose)
        assert 0 <= xs.start < xs.stop <= pose.width and 0 <= ys.start < ys.stop <= pose.height
        p = pose.xy[pose.present]
        assert (p[:, 0] >= xs.start).all() and (p[:, 0] <= xs.stop).all()
        assert (p[:, 1] >= ys.start).all() and (p[:, 1] <= ys.stop).all()
        # room above the head (the engine's framing): the box starts above the eyes by at least a head size
        assert ys.start <= min(pose.point("r_eye")[1], pose.point("l_eye")[1]) - pose.head_size() or ys.start == 0
        app, small, s = E.box_views(shots.images[0], (ys, xs))
        assert small.shape[0] == E.SMALL[0] and max(app.shape[:2]) <= E.APP_SIDE
        # not stretched: both views keep the box's aspect
        assert abs(small.shape[1] / small.shape[0] - (xs.stop - xs.start) / (ys.stop - ys.start)) < 0.02


def test_warp_scores_the_unchanged_pose_as_the_photo_and_a_moved_arm_lower(E, shots, tmp_path):
    pairs = [{"source": 0, "target": 0, "far": False}, {"source": 0, "target": 1, "far": True},
             {"source": 0, "target": 2, "far": False}]
    rows = E.score_pairs("warp", None, shots, pairs, tmp_path / "crops")
    same, moved, small_move = rows
    assert same["ssim"] > 0.99 and same["ssim_small"] > 0.99 and same["l1"] < 0.005
    assert same["pckh"] >= 0.8, same  # the detector finds the photo's person where the pose says
    # the render is the source person with the arm moved; the real target photo differs: the score drops
    assert moved["ssim"] < same["ssim"] - 0.01 and moved["l1"] > same["l1"] + 0.002
    assert (tmp_path / "crops" / "0-1.png").is_file()
    s = E.summary(rows)
    assert s["far"]["pairs"] == 1 and s["far"]["ssim"] == pytest.approx(moved["ssim"])
    assert s["all"]["pairs"] == 3
    assert s["all"]["ssim"] == pytest.approx(np.mean([r["ssim"] for r in rows]))

    # the table: warp first with its figures, a second scoring beside it with the differences from warp
    res = {"warp": {"backend": "warp", "summary": s}, "again": {"backend": "warp", "summary": s}}
    text = E.table(res)
    assert f"| warp | warp | {s['all']['ssim']:.3f} / {s['all']['l1']:.3f}" in text
    assert f"| again | warp | {s['all']['ssim']:.3f} (+0.000) / {s['all']['l1']:.3f} (+0.000)" in text


def test_only_the_persons_box_counts(E, shots):
    """Pixels changed outside the target's box leave the figures as they were; inside, they lower them."""
    from training.metrics import ssim

    img, pose = shots.images[0], shots.poses[0]
    box = E.person_box(pose)
    outside, inside = img.copy(), img.copy()
    keep = np.zeros(img.shape[:2], bool)
    keep[box] = True
    outside[~keep] = 255 - outside[~keep]
    inside[box] = 255 - inside[box]
    ref = E.box_views(img, box)[0]
    assert ssim(ref, E.box_views(outside, box)[0]) == pytest.approx(1.0)
    assert ssim(ref, E.box_views(inside, box)[0]) < 0.5


def test_novelty_ignores_place_and_size_but_not_the_pose(E, shots):
    a, b = shots.poses[0], shots.poses[1]
    moved = a.copy()
    moved.xy[:] = a.xy * 0.7 + np.array([40.0, 12.0], np.float32)
    assert E.novelty(moved, [a]) < 1e-4
    assert E.novelty(b, [a]) > 0.05  # the arm raised 40 degrees higher
    assert E.novelty(b, [a, b]) == 0.0


def test_weights_are_named(E):
    import argparse

    assert E.weights_arg("spgnet 10 min=/x/w.safetensors") == ("spgnet 10 min", Path("/x/w.safetensors"))
    for bad in ("w.safetensors", "=w.safetensors", "name="):
        with pytest.raises(argparse.ArgumentTypeError):
            E.weights_arg(bad)


def test_views_are_labelled_at_one_height_and_kept_small(E, shots, tmp_path):
    from engine.images import load_image

    col = E._labelled(shots.images[0], ["warp", "0.715 / 0.089"])
    assert col.shape[0] == E.VIEW_HEIGHT + 36 and (col[:36] < 128).any()  # the label's text is drawn
    noisy = np.random.default_rng(0).integers(0, 256, (400, 1600, 3), dtype=np.uint8)  # no JPEG shrinks it well
    path = E.write_jpeg(noisy, tmp_path / "v" / "noisy.jpg")
    assert path.stat().st_size <= E.JPEG_LIMIT
    assert load_image(path).shape[1] / load_image(path).shape[0] == pytest.approx(4, rel=0.01)  # smaller, not cut


def test_a_perfect_network_scores_above_warp_and_near_the_real_photo(E, shots):
    """benchmarks/eval_ceiling.py: a "network" that draws the real target (cut by its own framing) goes through
    the app's compositing; it must beat the warp engine's render of the same pair, and twice its size more so."""
    spec = importlib.util.spec_from_file_location("eval_ceiling", ROOT / "benchmarks" / "eval_ceiling.py")
    C = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(C)
    pairs = [{"source": 0, "target": 1, "far": False}]
    from engine.weights import read_meta

    starter = E.starters()["attention starter"]
    assert read_meta(starter).backend == "attention"
    warp = E.score_pairs("warp", None, shots, pairs)[0]
    same = E.score_pairs("attention", starter, shots, pairs, prepare=C.perfect(shots, pairs, 1.0))[0]
    twice = E.score_pairs("attention", starter, shots, pairs, prepare=C.perfect(shots, pairs, 2.0))[0]
    # measured: warp 0.621 / 0.060, the starter network itself 0.608 / 0.070, perfect 0.695 / 0.025, twice 0.742
    assert same["l1"] < warp["l1"] - 0.01 and same["ssim"] > warp["ssim"] + 0.03
    assert twice["l1"] < same["l1"] and twice["ssim"] > same["ssim"] + 0.01
