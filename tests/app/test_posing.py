"""Bone-length-keeping drags (poseeditor/posing.py) on the procedural person's known skeleton."""
import numpy as np
import pytest

from engine.pose import J
from poseeditor.posing import descendants, drag_pose


def bone(p, a, b):
    return float(np.linalg.norm(p.xy[J[a]] - p.xy[J[b]]))


@pytest.fixture
def pose(procedural_photos):
    return procedural_photos[0][1]


@pytest.mark.parametrize("side", ["r", "l"])
def test_wrist_reaches_the_cursor_with_both_arm_bones_kept(pose, side):
    w, e, s = J[f"{side}_wrist"], J[f"{side}_elbow"], J[f"{side}_shoulder"]
    target = pose.xy[w] + (15.0, -40.0)
    out = drag_pose(pose, w, *target)
    assert np.allclose(out.xy[w], target, atol=1e-3)
    for a, b in ((f"{side}_wrist", f"{side}_elbow"), (f"{side}_elbow", f"{side}_shoulder")):
        assert bone(out, a, b) == pytest.approx(bone(pose, a, b), rel=1e-4)
    assert np.allclose(out.xy[s], pose.xy[s])
    assert not np.allclose(out.xy[e], pose.xy[e])             # the elbow bent
    others = [k for k in range(18) if k not in (w, e)]
    assert np.array_equal(out.xy[others], pose.xy[others])
    # the elbow bends the way it did: same side of the shoulder-wrist line as before
    def side_of(p):
        a, b = p.xy[e] - p.xy[s], p.xy[w] - p.xy[s]
        return np.sign(b[0] * a[1] - b[1] * a[0])
    assert side_of(out) == side_of(pose)


def test_beyond_reach_the_straight_arm_points_at_the_cursor(pose):
    w, e, s = J["r_wrist"], J["r_elbow"], J["r_shoulder"]
    reach = bone(pose, "r_wrist", "r_elbow") + bone(pose, "r_elbow", "r_shoulder")
    target = pose.xy[s] + np.array([-0.2, 1.0]) / np.hypot(0.2, 1) * reach * 1.5   # below, inside the photo
    assert 0 <= target[0] < pose.width and 0 <= target[1] < pose.height
    out = drag_pose(pose, w, *target)
    u = (target - out.xy[s]) / np.linalg.norm(target - out.xy[s])
    assert np.allclose((out.xy[w] - out.xy[s]) / np.linalg.norm(out.xy[w] - out.xy[s]), u, atol=1e-3)
    assert np.linalg.norm(out.xy[w] - out.xy[s]) == pytest.approx(reach, rel=1e-3)
    assert np.allclose(out.xy[e], out.xy[s] + u * bone(pose, "r_elbow", "r_shoulder"), atol=1e-2)


def test_elbow_turns_about_the_shoulder_carrying_the_forearm(pose):
    e, w = J["l_elbow"], J["l_wrist"]
    target = pose.xy[e] + (30.0, -25.0)
    out = drag_pose(pose, e, *target)
    assert bone(out, "l_elbow", "l_shoulder") == pytest.approx(bone(pose, "l_elbow", "l_shoulder"), rel=1e-4)
    assert bone(out, "l_wrist", "l_elbow") == pytest.approx(bone(pose, "l_wrist", "l_elbow"), rel=1e-4)
    # the elbow lies on the line from the shoulder to the cursor
    d1, d2 = out.xy[e] - pose.xy[J["l_shoulder"]], target - pose.xy[J["l_shoulder"]]
    assert abs(d1[0] * d2[1] - d1[1] * d2[0]) < 1e-2 * np.linalg.norm(d1) * np.linalg.norm(d2)
    assert not np.allclose(out.xy[w], pose.xy[w])
    assert set(descendants(e)) == {w}


def test_free_drag_and_a_missing_parent_move_the_joint_alone(pose):
    w = J["r_wrist"]
    out = drag_pose(pose, w, 10.0, 20.0, free=True)
    assert out == pose.moved(w, 10.0, 20.0)
    no_elbow = pose.with_present(J["r_elbow"], False)
    assert drag_pose(no_elbow, w, 10.0, 20.0) == no_elbow.moved(w, 10.0, 20.0)


def test_neck_leans_the_upper_body_about_the_hips(pose):
    n = J["neck"]
    out = drag_pose(pose, n, pose.xy[n, 0] + 30, pose.xy[n, 1])
    hips = pose.xy[[J["r_hip"], J["l_hip"]]].mean(0)
    assert np.linalg.norm(out.xy[n] - hips) == pytest.approx(np.linalg.norm(pose.xy[n] - hips), rel=1e-4)
    legs = [J[f"{s}_{k}"] for s in "rl" for k in ("hip", "knee", "ankle")]
    assert np.array_equal(out.xy[legs], pose.xy[legs])
    assert bone(out, "r_wrist", "r_elbow") == pytest.approx(bone(pose, "r_wrist", "r_elbow"), rel=1e-4)
    assert out.xy[J["nose"], 0] > pose.xy[J["nose"], 0] + 10


@pytest.mark.parametrize("side", ["r", "l"])
def test_a_wrist_raised_above_the_head_bends_the_elbow_out_not_over_the_face(pose, side):
    # an arm hanging with its elbow bent out from the body, its wrist dragged above the head: the bend it had,
    # kept, put the elbow on the face (the newcomer's first drag on fashion-real/47); the elbow goes out to the side
    w, e, s = J[f"{side}_wrist"], J[f"{side}_elbow"], J[f"{side}_shoulder"]
    inward = 1.0 if side == "r" else -1.0  # the right arm is on the photo's left
    bent_out = pose.moved(e, *(pose.xy[e] - (inward * 15.0, 0.0)))
    target = np.array([pose.xy[s][0] + inward * 5.0, pose.xy[J["nose"]][1] - 40.0])
    out = drag_pose(bent_out, w, *target)
    assert np.allclose(out.xy[w], target, atol=1e-3)
    for a, b in ((f"{side}_wrist", f"{side}_elbow"), (f"{side}_elbow", f"{side}_shoulder")):
        assert bone(out, a, b) == pytest.approx(bone(bent_out, a, b), rel=1e-4)
    mid_x = pose.xy[J["neck"]][0]  # the procedural person stands upright: the midline is the neck's column
    sh = out.xy[s]
    assert abs(out.xy[e][0] - mid_x) > abs(sh[0] - mid_x)  # out beyond the shoulder (measured: on the face before)
    # and the other bend (the elbow mirrored in the shoulder-wrist line) is the one over the head
    u, d = (target - sh) / np.linalg.norm(target - sh), out.xy[e] - sh
    mirrored = sh + 2 * np.dot(d, u) * u - d
    assert mirrored[1] < sh[1] and abs(mirrored[0] - mid_x) < abs(sh[0] - mid_x) - 10


def test_a_joint_the_photo_gained_goes_into_the_pose_moved_with_its_kin(pose):
    from poseeditor.posing import carry_gained

    photo = pose
    before = photo.with_present(J["r_elbow"], False).with_present(J["r_wrist"], False)
    target = before.moved(J["r_shoulder"], *(before.xy[J["r_shoulder"]] + [12, -5]))
    assert carry_gained(target, before, before) is None  # nothing gained: nothing to carry
    out = carry_gained(target, before, photo)
    # the shoulder moved by (12, -5) from the photo to the pose: the elbow and the wrist go with it
    for j in ("r_elbow", "r_wrist"):
        assert out.present[J[j]] and np.allclose(out.xy[J[j]], photo.xy[J[j]] + [12, -5])
    # a joint the pose already has stays where the user put it
    mine = target.moved(J["r_elbow"], 5, 6)
    assert np.allclose(carry_gained(mine, before, photo).xy[J["r_elbow"]], (5, 6))


def test_a_joint_the_photo_gained_turns_with_the_bone_the_pose_moved(pose):
    # the photo's elbow missed, the wrist raised alone in the pose, the elbow added later: it goes between the
    # shoulder and the raised wrist (at the photo's place by the hip the forearm was three times as long)
    from poseeditor.posing import carry_gained

    e, w, s = J["r_elbow"], J["r_wrist"], J["r_shoulder"]
    before = pose.with_present(e, False)
    reach = float(np.linalg.norm(pose.xy[w] - pose.xy[s]))  # raised straight up, as far from the shoulder
    target = drag_pose(before, w, float(before.xy[s][0]), float(before.xy[s][1]) - reach)
    out = carry_gained(target, before, pose)
    fore, upper = (float(np.linalg.norm(out.xy[a] - out.xy[b])) for a, b in ((w, e), (e, s)))
    assert fore == pytest.approx(bone(pose, "r_wrist", "r_elbow"), rel=0.05)
    assert upper == pytest.approx(bone(pose, "r_elbow", "r_shoulder"), rel=0.05)
    assert out.xy[e][1] < pose.xy[s][1]  # above the shoulder, with the raised arm
