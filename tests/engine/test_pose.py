import json

import numpy as np
import pytest

from engine.errors import PoseFormatError
from engine.pose import J, JOINT_NAMES, MIRROR_INDEX, NUM_JOINTS, Pose


def make_pose(w=200, h=400):
    rng = np.random.default_rng(0)
    xy = rng.uniform([10, 10], [w - 10, h - 10], size=(NUM_JOINTS, 2))
    present = np.ones(NUM_JOINTS, bool)
    present[[J["l_ear"], J["r_eye"]]] = False
    return Pose(xy, present, w, h)


def test_joint_order_is_openpose_coco18():
    assert JOINT_NAMES[:5] == ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist")
    assert JOINT_NAMES[14:] == ("r_eye", "l_eye", "r_ear", "l_ear")
    assert MIRROR_INDEX[J["r_wrist"]] == J["l_wrist"] and MIRROR_INDEX[J["neck"]] == J["neck"]


def test_openpose_json_roundtrip_pixels_and_normalised(tmp_path):
    p = make_pose()
    for normalized in (False, True):
        f = tmp_path / f"p{normalized}.json"
        p.save_json(f, normalized=normalized)
        data = json.loads(f.read_text())
        kp = data["people"][0]["pose_keypoints_2d"]
        assert len(kp) == 54 and kp[3 * J["l_ear"]: 3 * J["l_ear"] + 3] == [0, 0, 0]
        q = Pose.load_json(f)
        assert q == p


def test_normalised_json_without_canvas_uses_given_size():
    kp = [0.5, 0.25, 1.0] + [0, 0, 0] * 17
    p = Pose.from_openpose({"people": [{"pose_keypoints_2d": kp}]}, 200, 400)
    assert p.present.sum() == 1 and np.allclose(p.xy[0], [100, 100])


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"people": []}', "no 'people'"),
    ('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}', "3 values"),
    ('{"people": [{"pose_keypoints_2d": ["a"]}]}', "not numbers"),
    ('[1, 2]', "must be an object"),
])
def test_malformed_json_gives_clear_error(tmp_path, text, words):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(PoseFormatError, match=words):
        Pose.load_json(f, 100, 100)


def test_posegan_row_roundtrip_and_errors():
    p = make_pose()
    row = p.to_posegan_row("a.jpg")
    assert row.startswith("a.jpg: [") and "-1" in row
    name, q = Pose.from_posegan_row(row, p.width, p.height)
    assert name == "a.jpg" and np.array_equal(q.present, p.present)
    assert np.allclose(q.xy[q.present], np.round(p.xy[p.present]))
    with pytest.raises(PoseFormatError, match="17 y values"):
        Pose.from_posegan_row("x: [" + ", ".join(["1"] * 17) + "]: [" + ", ".join(["1"] * 18) + "]", 10, 10)


def test_mirror_swaps_sides_and_is_an_involution():
    p = make_pose()
    m = p.mirrored()
    assert np.isclose(m.xy[J["l_wrist"], 0], p.width - 1 - p.xy[J["r_wrist"], 0])
    assert m.present[J["r_ear"]] == p.present[J["l_ear"]]
    assert m.mirrored() == p


def test_edits_return_new_poses():
    p = make_pose()
    q = p.moved("r_wrist", 5, 6).with_present("nose", False)
    assert not q.present[J["nose"]] and np.allclose(q.xy[J["r_wrist"]], [5, 6])
    assert p.present[J["nose"]] and not np.allclose(p.xy[J["r_wrist"]], [5, 6])


@pytest.mark.parametrize("edit, why", [
    ({"canvas_width": float("inf")}, "canvas_width"), ({"canvas_height": 1e308}, "canvas side"),
    ({"canvas_width": "640"}, "not a number"), ({"canvas_width": True}, "not a number"),
    ({"kp": [1e308, 1e308, 1.0] * 18}, "beyond"), ({"kp": [float("nan"), 0, 1] * 18}, "NaN"),
    ({"kp": [10 ** 400, 0, 1] * 18}, "not numbers"), ({"kp": [None, 0, 1] * 18}, "not numbers"),
])
def test_pose_json_numbers_at_the_edge(tmp_path, edit, why):
    doc = Pose(np.full((18, 2), 5.0), np.ones(18, bool), 64, 128).to_openpose()
    if "kp" in edit:
        doc["people"][0]["pose_keypoints_2d"] = edit.pop("kp")
    doc.update(edit)
    with pytest.raises(PoseFormatError, match=why):
        Pose.from_openpose(doc)


def test_pose_files_that_never_end_or_never_close(tmp_path):
    with pytest.raises(PoseFormatError, match="larger than 16 MB"):
        Pose.load_json("/dev/zero")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PoseFormatError, match="nested too deeply"):
        Pose.load_json(tmp_path / "deep.json")
    pose = Pose(np.full((18, 2), 5.0), np.ones(18, bool), 64, 128)
    pose.save_json(tmp_path / "p.json")
    assert Pose.load_json(tmp_path / "p.json") == pose
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.json", "p.json"]  # no temporary file left


def test_hand_landmarks_go_with_their_wrist_and_elbow_only():
    # the landmarks were found at the detected wrist: copies, crops and mirrors carry them (transformed as the
    # joints), an edit of that side's wrist or elbow drops that side's, and no file format holds them
    from engine.hands import keep_hands

    rng = np.random.default_rng(1)
    q = make_pose()
    p = Pose(q.xy, q.present, q.width, q.height, q.confidence,
             {J["r_wrist"]: rng.uniform(0, 100, (21, 2)), J["l_wrist"]: rng.uniform(0, 100, (21, 2))})
    r, l_ = p.hands[J["r_wrist"]], p.hands[J["l_wrist"]]
    assert np.array_equal(p.copy().hands[J["r_wrist"]], r) and p.copy().hands[J["r_wrist"]] is not r
    m = np.array([[2.0, 0, 5], [0, 2.0, -3]])
    assert np.allclose(p.transformed(m, 400, 800).hands[J["l_wrist"]], l_ * 2 + [5, -3])
    assert np.allclose(p.scaled(0.5).hands[J["r_wrist"]], r * 0.5)
    mirrored = p.mirrored().hands
    assert np.allclose(mirrored[J["l_wrist"]], np.stack([199 - r[:, 0], r[:, 1]], 1))
    assert set(p.moved("r_elbow", 50, 60).hands) == {J["l_wrist"]}
    assert set(p.moved("l_wrist", 50, 60).hands) == {J["r_wrist"]}
    assert set(p.with_present("r_wrist", False).hands) == {J["l_wrist"]}
    assert set(p.moved("r_knee", 50, 60).hands) == {J["r_wrist"], J["l_wrist"]}
    assert p.moved("r_knee", 50, 60) == p.moved("r_knee", 50, 60).with_present("nose", True)  # equality: joints
    assert Pose.from_openpose(p.to_openpose(), 200, 400).hands == {}
    # an edited pose (made anew, as the canvas makes it) gets the detection's hands where it kept the wrist
    edited = Pose(p.xy.copy(), p.present.copy(), 200, 400)
    edited.xy[J["l_elbow"]] += 3
    assert set(keep_hands(edited, p).hands) == {J["r_wrist"]}
    assert keep_hands(edited, None).hands == {}


def test_keypoints_given_as_a_list_per_joint_say_so():
    # [[x, y, c], ...] of the right count said "has 54 values; expected 54"
    data = {"people": [{"pose_keypoints_2d": [[10.0, 20.0, 1.0]] * NUM_JOINTS}], "canvas_width": 200,
            "canvas_height": 400}
    with pytest.raises(PoseFormatError, match="list of lists"):
        Pose.from_openpose(data)


def test_a_pose_made_on_another_canvas_goes_onto_the_person_by_one_scale():
    # A pose file made for a canvas of another shape was stretched to the photo's width and height apart: a pose
    # exported from a square photo squashed a 2:1 photo's person to half their height (a newcomer review).
    from engine.pose import for_photo
    from engine.presets import fit_preset

    me = fit_preset("standing", 128, 256)  # the person in a 128x256 photo
    made = fit_preset("arms-up", 512, 512).scaled(0.5, 0.5, 512, 512)  # a pose of another size, elsewhere
    got = for_photo(made, me)
    assert (got.width, got.height) == (128, 256) and np.array_equal(got.present, made.present)
    # one scale: every bone in the same proportion to the torso as in the file
    bones = [("neck", "r_hip"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_hip", "l_knee")]
    ratio = [np.linalg.norm(got.point(a) - got.point(b)) / np.linalg.norm(made.point(a) - made.point(b))
             for a, b in bones]
    assert np.ptp(ratio) < 1e-4, ratio
    # the torso where the person's is
    mid = lambda p: (p.point("neck") + (p.point("r_hip") + p.point("l_hip")) / 2) / 2  # noqa: E731
    assert np.allclose(mid(got), mid(me), atol=1e-3)
    assert np.linalg.norm(got.point("neck") - mid(got)) == pytest.approx(np.linalg.norm(me.point("neck") - mid(me)))
    # made for this photo's size: as it is
    assert for_photo(me.moved("r_wrist", 5, 5), me) == me.moved("r_wrist", 5, 5)


def test_joints_a_retargeted_pose_lacks_keep_the_persons_bones():
    # Another photo cut at the thighs as the target (poseeditor-render --target PHOTO, or its pose file opened in
    # the app): its pose has no knees or ankles, and the person's legs were erased. They hang from the moved hips
    # as the person holds them; what the person lacks too stays absent.
    from engine.pose import for_photo, retarget
    from engine.presets import fit_preset

    me = fit_preset("standing", 128, 256)
    other = fit_preset("arms-up", 512, 512)
    half = Pose(other.xy, other.present.copy(), 512, 512)
    for j in ("r_knee", "l_knee", "r_ankle", "l_ankle"):
        half.present[J[j]] = False
    got = retarget(half, me)
    assert got.present.all()
    for hip, knee, ankle in (("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle")):
        assert np.allclose(got.point(knee) - got.point(hip), me.point(knee) - me.point(hip), atol=1e-4)
        assert np.allclose(got.point(ankle) - got.point(knee), me.point(ankle) - me.point(knee), atol=1e-4)
    # the arms are the other pose's, raised
    assert got.point("r_wrist")[1] < got.point("r_shoulder")[1] and got.point("l_wrist")[1] < got.point("nose")[1]
    legless = Pose(me.xy, me.present.copy(), 128, 256)
    legless.present[J["r_ankle"]] = False
    assert not for_photo(half, legless).present[J["r_ankle"]]


def test_a_portraits_pose_and_a_full_bodys_are_laid_on_each_other_by_the_head_and_shoulders():
    # Without hips in one of them they were fitted box to box: a portrait's pose on a full-body photo drew a face
    # the height of the person, and a full body's pose on a portrait squeezed the person into the face.
    from engine.pose import retarget
    from engine.presets import fit_preset

    full = fit_preset("standing", 256, 512)
    keep = [J[n] for n in ("nose", "neck", "r_shoulder", "l_shoulder", "r_eye", "l_eye", "r_ear", "l_ear")]
    present = np.zeros(NUM_JOINTS, bool)
    present[keep] = True
    # a portrait: the same person's head and shoulders, three times larger, on a canvas of their own
    big = full.scaled(3.0, 3.0, 768, 1536)
    portrait = Pose(big.xy - big.point("neck") + (300, 500), present, 600, 700)
    shoulders = lambda p: np.linalg.norm(p.point("r_shoulder") - p.point("l_shoulder"))  # noqa: E731
    on_full = retarget(portrait, full)
    assert shoulders(on_full) == pytest.approx(shoulders(full), rel=1e-3)
    assert np.allclose(on_full.point("neck"), full.point("neck"), atol=1.0)
    assert on_full.present.all()  # the arms and legs the portrait lacks are the person's own
    on_portrait = retarget(full, portrait)
    assert shoulders(on_portrait) == pytest.approx(shoulders(portrait), rel=1e-3)
    assert np.allclose(on_portrait.point("nose"), portrait.point("nose"), atol=1.0)


def test_retargeting_any_two_poses_gives_finite_joints_and_keeps_every_joint_given():
    # random joints and random gaps in either pose (a portrait, a pose of legs only, one joint, none shared)
    from engine.pose import retarget

    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = (Pose(rng.uniform(-50, 600, (NUM_JOINTS, 2)).astype(np.float32), rng.random(NUM_JOINTS) < rng.random(),
                     int(rng.integers(1, 900)), int(rng.integers(1, 900))) for _ in range(2))
        got = retarget(a, b)
        assert (got.width, got.height) == (b.width, b.height) and np.isfinite(got.xy).all()
        assert got.present[a.present].all() and not got.present[~a.present & ~b.present].any()
