"""The frame a network draws a target pose into: the reference's own crop while the moved joints stay in it,
else a crop around the target's body at the reference's scale or wider, reused across a drag."""
import numpy as np

from engine.framing import frame_for, frame_holding
from engine.presets import fit_preset

MODEL = (128, 64)


def _in_model(frame, pose, joint):
    return frame.pose_to_model(pose).point(joint)


def _inside(frame, xy, pad=0.0):
    h, w = frame.model_size
    return pad <= xy[0] <= w - 1 - pad and pad <= xy[1] <= h - 1 - pad


def _raised(pose, dx, dy):
    sh = pose.point("r_shoulder")
    return pose.moved("r_elbow", sh[0] + dx / 2, sh[1] + dy / 2).moved("r_wrist", sh[0] + dx, sh[1] + dy)


def test_the_references_frame_is_kept_while_the_moved_joints_stay_in_it():
    pose = fit_preset("standing", 480, 360)
    source = frame_for(pose, MODEL)
    assert frame_holding(source, pose, pose.copy()) is source
    nudged = pose.moved("r_wrist", *(pose.point("r_wrist") + [6, -12]))
    assert frame_holding(source, pose, nudged) is source


def test_a_hand_raised_out_of_the_references_crop_gets_a_frame_that_holds_it():
    pose = fit_preset("standing", 480, 360)
    source = frame_for(pose, MODEL)
    target = _raised(pose, -70, -90)
    assert not _inside(source, _in_model(source, target, "r_wrist")), "the test needs the hand out of the crop"
    frame = frame_holding(source, pose, target)
    assert frame is not source
    for joint in ("r_wrist", "r_elbow", "l_wrist", "r_ankle", "l_ankle", "nose"):
        assert _inside(frame, _in_model(frame, target, joint), pad=2), joint
    # the person is not drawn larger than in the reference's crop (the network saw the reference at that scale)
    assert frame.matrix[0, 0] <= source.matrix[0, 0] + 1e-9
    assert frame.model_size == source.model_size and frame.photo_size == source.photo_size


def test_a_drag_reuses_the_frames_it_made():
    pose = fit_preset("standing", 480, 360)
    source = frame_for(pose, MODEL)
    cache = {}
    first = frame_holding(source, pose, _raised(pose, -70, -90), cache)
    assert frame_holding(source, pose, _raised(pose, -70.5, -90.5), cache) is first
    assert len(cache) == 1
    far = frame_holding(source, pose, _raised(pose, -150, -60), cache)
    assert far is not first and len(cache) == 2


def test_a_reference_that_is_the_whole_photo_keeps_its_frame():
    # a dataset crop (the model's aspect, the person filling it): training and the papers' evaluation see the
    # whole image; a target that reaches past it has nowhere else to be drawn
    pose = fit_preset("standing", 64, 128)
    source = frame_for(pose, MODEL)
    assert source.paste_alpha is None
    target = _raised(pose, -30, -40)
    assert frame_holding(source, pose, target) is source
