"""Pose Presets from the menu of the real window, on a procedural person (tests/app/procedural.py): the preset
poses only its limbs, on the person's own skeleton, in one undo step."""
import numpy as np
import pytest

from engine.pose import J, NUM_JOINTS
from tests.app.driver import close_window, module_window, wait_idle_result, wait_loaded

ARMS = [J[n] for n in ("r_elbow", "r_wrist", "l_elbow", "l_wrist")]
LEGS = [J[n] for n in ("r_knee", "r_ankle", "l_knee", "l_ankle")]
BONES = [("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
         ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("l_hip", "l_knee"), ("l_knee", "l_ankle")]


@pytest.fixture(scope="module")
def win(qapp, procedural_photos, tmp_path_factory):
    w = module_window(tmp_path_factory.mktemp("cfg"), procedural_photos[0][0])
    yield w
    close_window(w)


def choose(win, name):
    """Pick the preset from the Edit > Pose Presets menu, as a click on its item does."""
    action = next(a for a in win.preset_menu.actions() if a.data() == name)
    action.trigger()
    return action


def bone(pose, a, b):
    return float(np.linalg.norm(pose.point(a) - pose.point(b)))


@pytest.mark.parametrize("name, moved", [("arms-up", ARMS), ("wide-stance", LEGS)])
def test_a_preset_from_the_menu_moves_only_its_limbs_in_one_undo_step(qtbot, win, name, moved):
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    win.a_reset.trigger()                       # the detected pose, whatever an earlier case left
    before = win.doc.target.copy()
    assert before.count >= 16
    steps = win.undo.count()
    action = choose(win, name)
    after = win.doc.target
    keep = [j for j in range(NUM_JOINTS) if j not in moved]
    # the head, the torso and the other limbs: exactly where they were, hidden ones still hidden
    assert np.array_equal(after.xy[keep], before.xy[keep])
    assert np.array_equal(after.present[keep], before.present[keep])
    assert np.all(np.linalg.norm(after.xy[moved] - before.xy[moved], axis=1) > 3)
    for a, b in BONES:
        if before.has(a, b):
            assert bone(after, a, b) == pytest.approx(bone(before, a, b), abs=0.05), (a, b)
    if name == "arms-up":
        for side in "rl":
            assert after.point(f"{side}_wrist")[1] < after.point(f"{side}_shoulder")[1]
            assert after.point(f"{side}_wrist")[1] < after.point("nose")[1]
        assert "sets the arms;" in action.statusTip()
    # one undo step, named for the preset; undo gives the pose back exactly, redo the preset's
    assert win.undo.count() == steps + 1
    assert win.undo.undoText() == f"Preset: {name.replace('-', ' ')}"
    win.undo.undo()
    assert np.array_equal(win.doc.target.xy, before.xy) and np.array_equal(win.doc.target.present, before.present)
    win.undo.redo()
    assert np.array_equal(win.doc.target.xy, after.xy)
    wait_idle_result(qtbot, win)
