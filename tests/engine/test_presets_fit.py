"""Presets on a person: the preset's gesture on the person's own skeleton (engine.presets.fit_preset with a
reference pose). The joints of the limbs a preset does not set stay exactly where they were, the bones it sets
keep the person's lengths; with no person the whole preset is fitted to the image."""
import json

import numpy as np
import pytest

from engine import presets
from engine.errors import PoseFormatError
from engine.pose import J, JOINT_NAMES, NUM_JOINTS, Pose
from engine.presets import LIMB_CHAINS, fit_preset, load_preset, preset_limbs, preset_names

ARMS = [J[n] for n in ("r_elbow", "r_wrist", "l_elbow", "l_wrist")]
LEGS = [J[n] for n in ("r_knee", "r_ankle", "l_knee", "l_ankle")]
BONES = [(a, b) for chain in LIMB_CHAINS.values() for a, b in zip(chain, chain[1:])]


def person(width=256, height=256) -> Pose:
    """A person unlike any preset: head tilted and low, short upper arms and long forearms, one arm bent at the
    waist, legs crossed (fashion-real 21's skeleton, rounded)."""
    xy = {
        "nose": (143, 48), "neck": (141, 66), "r_shoulder": (120, 63), "r_elbow": (114, 100), "r_wrist": (113, 137),
        "l_shoulder": (162, 63), "l_elbow": (170, 97), "l_wrist": (150, 128), "r_hip": (130, 124),
        "r_knee": (125, 185), "r_ankle": (152, 227), "l_hip": (154, 124), "l_knee": (150, 182),
        "l_ankle": (138, 232), "r_eye": (137, 43), "l_eye": (148, 43), "r_ear": (131, 46), "l_ear": (155, 46),
    }
    return Pose(np.array([xy[n] for n in JOINT_NAMES], np.float32), np.ones(NUM_JOINTS, bool), width, height)


def length(pose, a, b):
    return float(np.linalg.norm(pose.point(a) - pose.point(b)))


def others(moved):
    return [j for j in range(NUM_JOINTS) if j not in moved]


def test_arms_up_raises_the_arms_on_the_persons_own_skeleton_and_leaves_the_rest_exactly():
    me = person()
    up = fit_preset("arms-up", me.width, me.height, like=me)
    keep = others(ARMS)
    # the head, the torso and the crossed legs: exactly where they were (a generic body dropped the nose ~25 px
    # and uncrossed the legs)
    assert np.array_equal(up.xy[keep], me.xy[keep]) and up.present.all()
    for a, b in BONES:
        assert length(up, a, b) == pytest.approx(length(me, a, b), abs=1e-3), (a, b)
    for side in "rl":
        assert up.point(f"{side}_wrist")[1] < up.point(f"{side}_shoulder")[1] - 0.5 * length(me, "neck", "r_hip")
        assert up.point(f"{side}_wrist")[1] < up.point("nose")[1]
    # each arm rises on its own side
    assert up.point("r_wrist")[0] < me.point("r_shoulder")[0] and up.point("l_wrist")[0] > me.point("l_shoulder")[0]


def test_wide_stance_sets_the_legs_only_and_keeps_their_lengths():
    me = person()
    wide = fit_preset("wide-stance", me.width, me.height, like=me)
    keep = others(LEGS)
    assert np.array_equal(wide.xy[keep], me.xy[keep])
    for a, b in BONES:
        assert length(wide, a, b) == pytest.approx(length(me, a, b), abs=1e-3)
    # uncrossed and apart: the right ankle on the image's left
    assert wide.point("l_ankle")[0] - wide.point("r_ankle")[0] > 0.8 * length(me, "r_hip", "l_hip") + 20


def test_waving_raises_the_presets_arm_only():
    me = person()
    wave = fit_preset("waving", me.width, me.height, like=me)
    moved = [J["r_elbow"], J["r_wrist"]]
    assert preset_limbs("waving") == ("r_arm",)
    assert np.array_equal(wave.xy[others(moved)], me.xy[others(moved)])
    assert wave.point("r_wrist")[1] < wave.point("r_shoulder")[1]
    assert wave.point("r_wrist")[0] < wave.point("r_shoulder")[0]     # outwards: the person's right is image left


def test_a_person_seen_from_behind_gets_the_gesture_on_the_same_limbs_outwards():
    # flipped without swapping the sides (Pose.mirrored swaps them): the right side on the image's right
    me = person()
    back = Pose(me.xy * [-1, 1] + [me.width - 1, 0], me.present, me.width, me.height)
    assert back.point("r_shoulder")[0] > back.point("l_shoulder")[0]
    wave = fit_preset("waving", back.width, back.height, like=back)
    keep = others([J["r_elbow"], J["r_wrist"]])
    assert np.array_equal(wave.xy[keep], back.xy[keep])
    assert wave.point("r_wrist")[1] < wave.point("r_shoulder")[1]
    assert wave.point("r_wrist")[0] > wave.point("r_shoulder")[0]     # outwards, away from the body


def test_hands_on_hips_puts_the_wrists_at_the_persons_hips_with_the_elbows_out():
    me = person()
    hips = fit_preset("hands-on-hips", me.width, me.height, like=me)
    torso = length(me, "neck", "r_hip")
    assert np.array_equal(hips.xy[others(ARMS)], me.xy[others(ARMS)])
    for a, b in BONES:
        assert length(hips, a, b) == pytest.approx(length(me, a, b), abs=1e-3)
    for side, out in (("r", -1), ("l", 1)):
        assert length(hips, f"{side}_wrist", f"{side}_hip") < 0.3 * torso
        assert out * (hips.point(f"{side}_elbow")[0] - hips.point(f"{side}_shoulder")[0]) > 0.1 * torso


def test_standing_sets_all_four_limbs_and_keeps_the_head_and_torso():
    me = person()
    st = fit_preset("standing", me.width, me.height, like=me)
    assert np.array_equal(st.xy[others(ARMS + LEGS)], me.xy[others(ARMS + LEGS)])
    assert st.point("l_ankle")[0] > st.point("r_ankle")[0]          # the crossed legs uncrossed
    for a, b in BONES:
        assert length(st, a, b) == pytest.approx(length(me, a, b), abs=1e-3)


def test_hidden_joints_of_an_untouched_limb_stay_hidden_and_of_a_set_limb_get_a_length():
    me = person()
    me = Pose(me.xy + np.float32([0, 100]), me.present, 256, 400)  # room above the head for the raised arms
    for n in ("l_elbow", "l_wrist", "r_knee", "r_ankle"):
        me = me.with_present(n, False)
    up = fit_preset("arms-up", me.width, me.height, like=me)
    assert not up.present[J["r_knee"]] and not up.present[J["r_ankle"]]   # the legs are not the preset's
    assert up.present[J["l_elbow"]] and up.present[J["l_wrist"]]
    # the hidden arm takes the other arm's lengths
    assert length(up, "l_shoulder", "l_elbow") == pytest.approx(length(me, "r_shoulder", "r_elbow"), abs=1e-3)
    assert length(up, "l_elbow", "l_wrist") == pytest.approx(length(me, "r_elbow", "r_wrist"), abs=1e-3)
    # both sides hidden: the body's size, as the whole preset would have it
    both = me.with_present("r_elbow", False).with_present("r_wrist", False)
    up = fit_preset("arms-up", me.width, me.height, like=both)
    whole = _old_whole("arms-up", me)
    expect = np.linalg.norm(whole[J["r_elbow"]] - whole[J["r_shoulder"]])
    assert length(up, "r_shoulder", "r_elbow") == pytest.approx(expect, rel=1e-3)


def test_a_hidden_shoulder_is_placed_as_the_whole_preset_places_it():
    me = person().with_present("r_shoulder", False)
    up = fit_preset("arms-up", me.width, me.height, like=me)
    whole = _old_whole("arms-up", me)
    assert up.present[J["r_shoulder"]]
    assert np.allclose(up.point("r_shoulder"), whole[J["r_shoulder"]], atol=1e-3)


def _old_whole(name, like):
    """The whole preset sized and placed by the person's neck and hips (the fit before presets were gestures)."""
    body = load_preset(name)
    hip = np.mean([like.point("r_hip"), like.point("l_hip")], 0)
    scale = np.linalg.norm(hip - like.point("neck")) / 0.32
    return body * scale + (like.point("neck") - scale * body[1])


@pytest.mark.parametrize("name", ["standing", "arms-up", "walking"])
def test_with_no_person_the_whole_preset_fills_the_image_as_before(name):
    for like in (None, Pose.empty(320, 480), person(320, 480).with_present("neck", False)):
        p = fit_preset(name, 320, 480, like=like)
        expect = load_preset(name) * (0.8 * 480) + [160, 48]
        assert p.present.all() and np.allclose(p.xy, expect, atol=1e-3)


def test_every_preset_names_its_limbs():
    for name in preset_names():
        limbs = preset_limbs(name)
        assert limbs and set(limbs) <= set(LIMB_CHAINS)
    assert preset_limbs("arms-up") == ("r_arm", "l_arm")
    assert preset_limbs("wide-stance") == ("r_leg", "l_leg")


def test_a_preset_with_an_unknown_limb_is_refused(tmp_path, monkeypatch):
    data = json.loads((presets.PRESET_DIR / "arms-up.json").read_text())
    monkeypatch.setattr(presets, "PRESET_DIR", tmp_path)
    (tmp_path / "odd.json").write_text(json.dumps(dict(data, sets=["tail"])))
    with pytest.raises(PoseFormatError, match="tail"):
        fit_preset("odd", 256, 256, like=person())
    (tmp_path / "odd.json").write_text(json.dumps(dict(data, sets=["arms"], reach={"r_ankle": "r_hip"})))
    with pytest.raises(PoseFormatError, match="reach"):
        fit_preset("odd", 256, 256, like=person())
    # a preset without "sets" (older, or the user's own) sets all four limbs
    (tmp_path / "own.json").write_text(json.dumps({"joints": data["joints"]}))
    assert preset_limbs("own") == tuple(LIMB_CHAINS)


def test_a_half_body_person_keeps_their_shoulders_and_gets_arms_of_their_size():
    # A half-body photo's skeleton has a neck and shoulders and no hip: the whole standing preset was put in its
    # place (shoulders pulled to a head's width, hips on the chest) and the warp engine erased the person.
    me = person()
    hidden = ARMS + LEGS + [J["r_hip"], J["l_hip"]]
    half = me
    for j in hidden:
        half = half.with_present(j, False)
    up = fit_preset("arms-up", me.width, me.height, like=half)
    keep = [j for j in range(NUM_JOINTS) if j not in hidden]
    assert np.array_equal(up.xy[keep], half.xy[keep]) and up.present[keep].all()
    assert not up.present[LEGS + [J["r_hip"], J["l_hip"]]].any()        # no legs, no hips: not the preset's
    whole = fit_preset("arms-up", me.width, me.height, like=me)
    for side in "rl":
        assert up.present[J[f"{side}_elbow"]] and up.present[J[f"{side}_wrist"]]
        assert up.point(f"{side}_wrist")[1] < up.point("nose")[1]
        # arms of the person's size: between two thirds and one and a half of what their whole skeleton gives them
        arm = length(up, f"{side}_shoulder", f"{side}_elbow") + length(up, f"{side}_elbow", f"{side}_wrist")
        mine = length(whole, f"{side}_shoulder", f"{side}_elbow") + length(whole, f"{side}_elbow", f"{side}_wrist")
        assert 0.67 < arm / mine < 1.5, (side, arm, mine)
    # a side view's far shoulder not found: the same, on the shoulder there is (found by the review)
    one = half.with_present("l_shoulder", False)
    up = fit_preset("arms-up", me.width, me.height, like=one)
    keep = [j for j in keep if j != J["l_shoulder"]]
    assert np.array_equal(up.xy[keep], one.xy[keep]) and up.point("r_wrist")[1] < up.point("nose")[1]
    # and no legs below the photo's edge from a preset that sets them: the person has no hip
    for name in ("standing", "walking", "wide-stance"):
        posed = fit_preset(name, me.width, me.height, like=half)
        assert not posed.present[LEGS + [J["r_hip"], J["l_hip"]]].any(), name
        assert np.array_equal(posed.xy[keep], half.xy[keep])


@pytest.mark.parametrize("name", ["t-pose", "arms-up", "wide-stance"])
def test_a_limb_the_photo_has_no_room_for_turns_in_whole(name):
    # The editor keeps joints in the photo: a T pose's wrists past the sides of a tight crop were pulled onto the
    # edge, forearms of half their length (fashion-real/0, a newcomer review). The limb turns about its shoulder
    # or hip, bones whole, by the least angle that brings it in, away from the body.
    me, h = person(), 256
    roomy = fit_preset(name, 4000, h, like=me.scaled(1.0, 1.0, 4000, h))
    left = [J[n] for n in ("l_elbow", "l_wrist", "l_knee", "l_ankle")]
    w = int(roomy.xy[left, 0].max()) - 8  # the photo cut close on the right, by the preset's left arm or leg
    assert w - 1 >= me.xy[:, 0].max()
    got = fit_preset(name, w, h, like=me.scaled(1.0, 1.0, w, h))
    for a, b in BONES:
        assert length(got, a, b) == pytest.approx(length(me, a, b), abs=1e-3), (a, b)
    inside = (got.xy[:, 0] >= 0) & (got.xy[:, 0] <= w - 1) & (got.xy[:, 1] >= 0) & (got.xy[:, 1] <= h - 1)
    assert inside[ARMS + LEGS].all(), got.xy[ARMS + LEGS]
    turned = [j for j in ARMS + LEGS if not np.allclose(got.xy[j], roomy.xy[j])]
    assert turned and all(j in left for j in turned), turned
    if name == "arms-up":  # no turn brings it in: it bends, still raised, its elbow out beside the head
        assert got.point("l_wrist")[1] < got.point("l_shoulder")[1]
        assert got.point("l_elbow")[0] > got.point("l_shoulder")[0]
    else:  # turned away from the body: a level arm down, a leg down
        end = J["l_ankle"] if name == "wide-stance" else J["l_wrist"]
        assert got.xy[end][1] > roomy.xy[end][1], (got.xy[end], roomy.xy[end])


@pytest.mark.parametrize("name", ["standing", "walking", "wide-stance"])
def test_legs_a_photo_cut_above_the_knees_lacks_stay_out_of_it(name):
    # The legs a preset gives a photo cut below the hips lie past its bottom edge: turned in, they lay sideways
    # across it (a reviewer); they stay missing, as the photo has them
    me = person()
    cut = Pose(me.xy.copy(), me.present.copy(), 256, 165)  # 40 px below the hips
    for n in ("r_knee", "l_knee", "r_ankle", "l_ankle"):
        cut = cut.with_present(n, False)
    got = fit_preset(name, 256, 165, like=cut)
    shown = [j for j in LEGS if got.present[j]]
    assert not any(got.present[J[n]] for n in ("r_ankle", "l_ankle")), got.xy[LEGS]  # past the edge: missing
    for j in shown:  # a knee the preset puts in the photo is there, below its hip, not swung sideways
        hip = J["r_hip"] if j == J["r_knee"] else J["l_hip"]
        assert got.xy[j][1] <= 164 and got.xy[j][1] - got.xy[hip][1] > 0.8 * np.linalg.norm(got.xy[j] - got.xy[hip])
    assert np.array_equal(got.xy[[J["r_hip"], J["l_hip"]]], cut.xy[[J["r_hip"], J["l_hip"]]])
