"""Photos by kind: half-body and head-and-shoulders crops, side and back views, a person cut by the frame edge,
two people in one image, small people in a street; made at test time from procedural people (always) and the
shared real photos (skipped without them). Each kind carries its expectation."""
from __future__ import annotations

import numpy as np
import pytest

from engine.detect import PoseDetector, detect_in_box
from engine.errors import NoPersonError
from engine.framing import fallback_pose
from engine.pose import Pose


# ----- scenes of procedural people ----------------------------------------------------------------------------
def people_scene(seed: int, size: tuple[int, int], places, plain: bool = True):
    """(image, labels, poses): procedural people drawn into windows (x0, y0, h, w) of one scene; labels are
    1 + the person's index. ``plain``: a smooth background with no shapes that look like people."""
    from training.synth import _background, random_body, random_look, render_person

    h, w = size
    rng = np.random.default_rng([seed, 99])
    scene = _background(rng, h, w)
    if plain:
        scene = np.broadcast_to(scene.mean(axis=(0, 1)), scene.shape).astype(np.float32).copy()
        scene += np.linspace(-20, 20, h, dtype=np.float32)[:, None, None]
    labels = np.zeros((h, w), np.uint8)
    poses = []
    for k, (x0, y0, ph, pw) in enumerate(places):
        look = random_look(np.random.default_rng([seed, k]))
        r = np.random.default_rng([seed, k, 1])
        body = random_body(r, look)
        while body.facing_back or abs(body.joints[1, 0] - body.joints[8, 0]) > 0.05:  # upright, facing us
            body = random_body(r, look)
        img, lab, pose = render_person(body, look, (ph, pw), r, scene[y0:y0 + ph, x0:x0 + pw].copy())
        scene[y0:y0 + ph, x0:x0 + pw] = img
        labels[y0:y0 + ph, x0:x0 + pw][lab > 0] = k + 1
        poses.append(Pose(pose.xy + (x0, y0), pose.present, w, h))
    return np.clip(scene + 0.5, 0, 255).astype(np.uint8), labels, poses


def box_of(labels: np.ndarray, k: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(labels == k)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# ----- choosing the person --------------------------------------------------------------------------------------
def test_detect_in_box_picks_the_person_in_the_box():
    img, labels, poses = people_scene(4, (320, 320), [(10, 20, 280, 140), (170, 20, 280, 140)])
    for k in (0, 1):
        x0, y0, x1, y1 = box_of(labels, k + 1)
        pose = detect_in_box(img, (x0 - 5, y0 - 5, x1 + 5, y1 + 5))
        assert (pose.width, pose.height) == (320, 320)
        truth = poses[k]
        both = pose.present & truth.present
        assert both.sum() >= 12
        err = np.linalg.norm(pose.xy[both] - truth.xy[both], axis=1)
        assert np.median(err) < 0.1 * (y1 - y0), f"person {k}: median joint error {np.median(err):.1f} px"


def test_detect_in_box_says_so_when_the_box_holds_nobody():
    img, labels, _ = people_scene(4, (320, 480), [(10, 20, 280, 140)])
    with pytest.raises(NoPersonError):
        detect_in_box(img, (300, 40, 470, 300))


def street(seed=2):
    """A 640x360 frame with three people about 70-90 px tall."""
    return people_scene(seed, (360, 640), [(60, 200, 120, 60), (300, 190, 120, 60), (520, 210, 120, 60)])


def test_small_people_in_a_street_are_found():
    img, labels, poses = street()
    with PoseDetector() as det:
        d = det.detect(img)
    heights = [box_of(labels, k + 1)[3] - box_of(labels, k + 1)[1] for k in range(3)]
    x0, y0, x1, y1 = d.pose.bbox()
    hits = [k for k in range(3) if labels[int((y0 + y1) / 2), int((x0 + x1) / 2)] == k + 1
            or abs((x0 + x1) / 2 - np.mean(box_of(labels, k + 1)[::2])) < 20]
    assert hits, f"the pose {d.pose.bbox()} is on none of the people"
    assert y1 - y0 < 1.3 * max(heights)


@pytest.mark.parametrize("how", ["mask", "box", "photo"])
def test_fallback_skeleton_is_placed_and_sized_on_a_person(how):
    img, labels, _ = street()
    if how == "mask":
        arg = (labels > 0).astype(np.float32)
    elif how == "box":
        arg = box_of(labels, 2)
    else:
        arg = None
    pose = fallback_pose(img, arg)
    x0, y0, x1, y1 = pose.bbox()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    on = [k for k in range(3) if box_of(labels, k + 1)[0] - 10 <= cx <= box_of(labels, k + 1)[2] + 10]
    assert len(on) == 1, f"skeleton centred at x={cx:.0f}: on none of the people"
    bx0, by0, bx1, by1 = box_of(labels, on[0] + 1)
    assert 0.6 * (by1 - by0) < y1 - y0 < 1.3 * (by1 - by0), (pose.bbox(), (bx0, by0, bx1, by1))
    assert by0 - 15 <= cy <= by1 + 15
    if how == "box":
        assert on == [1]


def test_fallback_without_any_person_is_the_standing_figure():
    img = np.full((200, 300, 3), 128, np.uint8)
    pose = fallback_pose(img, np.zeros((200, 300), np.float32))
    assert pose.count == 18 and abs(np.mean(pose.bbox()[::2]) - 150) < 5
