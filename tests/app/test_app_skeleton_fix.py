"""Correcting the photo's skeleton on the real window: a joint the detector missed, shown in the photo's skeleton,
goes into the pose being edited too (the limb it ends was erased from the picture), in one undo step; a joint
shown in the pose alone says what it needs; a refused save's red banner goes with the next save that works."""
import gc
from pathlib import Path

import numpy as np
import pytest

from engine.pose import J
from tests.app.driver import close_window, new_window, wait_idle_result, wait_loaded


@pytest.fixture
def missed(qtbot, procedural_photos):
    """A window on a photo whose right elbow the detector 'missed': gone from the photo's skeleton and the pose,
    as a detection without it leaves them. Returns (window, the elbow's place in the photo)."""
    win = new_window(qtbot, [procedural_photos[0][0]])
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    elbow = win.doc.main.pose.xy[J["r_elbow"]].copy()
    win.doc.set_main_pose(win.doc.main.pose.with_present(J["r_elbow"], False))
    win.doc.set_target(win.doc.target.with_present(J["r_elbow"], False))
    win.undo.clear()
    wait_idle_result(qtbot, win)
    yield win, elbow
    close_window(win)


def arm_box(win, elbow):
    """The right arm's surroundings in the result (rows, cols), a square of the torso's size round the elbow."""
    from engine.encode import body_scale

    r = int(body_scale(win.doc.main.pose) * 0.6)
    x, y = int(elbow[0]), int(elbow[1])
    return slice(max(0, y - r), y + r), slice(max(0, x - r), x + r)


def test_a_joint_added_to_the_photos_skeleton_goes_into_the_pose(qtbot, missed):
    win, elbow = missed
    photo, lacking = win.doc.main.image, win.doc.main.pose
    box = arm_box(win, elbow)
    # the photo's skeleton with the elbow and the pose without it leave the arm out of the picture: what a
    # correction did before the pose got the joint too
    win.doc.set_main_pose(lacking.moved(J["r_elbow"], *elbow))
    erased = np.abs(wait_idle_result(qtbot, win).image[box].astype(int) - photo[box]).mean()
    assert erased > 2.0
    win.doc.set_main_pose(lacking)
    wait_idle_result(qtbot, win)

    win.a_adjust.trigger()
    win.set_joint_visible(J["r_elbow"], True, tuple(map(float, elbow)))  # the menu's "Show joint here"
    assert win.doc.main.pose.present[J["r_elbow"]] and win.doc.target.present[J["r_elbow"]]
    assert np.allclose(win.doc.target.xy[J["r_elbow"]], elbow)  # the arm is as in the photo: the elbow too
    win.toggle_adjust_mode(False)
    back = wait_idle_result(qtbot, win).image
    assert np.abs(back[box].astype(int) - photo[box]).mean() < erased / 4  # the photo's arm back

    gc.collect()  # the step's two halves live in Qt's command, not in a Python name
    win.undo.undo()                        # one step: both poses lose it again
    assert not win.doc.main.pose.present[J["r_elbow"]] and not win.doc.target.present[J["r_elbow"]]
    win.undo.redo()
    assert win.doc.main.pose.present[J["r_elbow"]] and win.doc.target.present[J["r_elbow"]]


def test_a_joint_shown_in_the_pose_alone_says_what_it_needs(qtbot, missed):
    win, elbow = missed
    win.set_joint_visible(J["r_elbow"], True, (float(elbow[0]) + 30, float(elbow[1]) - 30))
    assert win.banner.isVisible() and "photo's skeleton has no right elbow" in win.banner.text.text()
    win.banner.action.click()              # Correct the Photo's Skeleton
    assert win.mode == "source" and win.banner.isVisible() and win.banner.action_id == "done-adjust"
    win.set_joint_visible(J["r_elbow"], True, tuple(map(float, elbow)))
    # the pose keeps the elbow where the user put it; the photo's skeleton has it where it is in the photo
    assert np.allclose(win.doc.target.xy[J["r_elbow"]], elbow + [30, -30])
    assert np.allclose(win.doc.main.pose.xy[J["r_elbow"]], elbow)


def test_a_refused_saves_banner_goes_with_the_next_save(qtbot, procedural_photos, tmp_path):
    win = new_window(qtbot, [procedural_photos[0][0]])
    try:
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        assert not win.export_pose(win.doc.main.path)  # over the photo: refused, in red
        assert win.banner.isVisible() and win.banner.kind == "error"
        assert win.export_pose(str(tmp_path / "pose.json"))
        assert not win.banner.isVisible()
        # a reference with nobody in it is refused in red; the next one that has someone takes the banner away
        nobody = tmp_path / "wall.png"
        from engine.images import save_image

        save_image(nobody, np.full((200, 150, 3), 200, np.uint8))
        win.add_references([str(nobody)])
        qtbot.waitUntil(lambda: win.banner.isVisible() and "No person found in wall.png" in win.banner.text.text(),
                        timeout=30000)
        win.add_references([str(procedural_photos[1][0])])
        qtbot.waitUntil(lambda: not win.banner.isVisible(), timeout=30000)
    finally:
        close_window(win)


def test_a_tiny_persons_skeleton_is_flagged_for_checking(qtbot, procedural_photos, tmp_path):
    import cv2

    from engine.images import load_image, save_image

    img = load_image(procedural_photos[0][0])
    small = tmp_path / "small.png"
    save_image(small, cv2.resize(img, (img.shape[1] * 90 // img.shape[0], 90), interpolation=cv2.INTER_AREA))
    win = new_window(qtbot, [small])
    try:
        wait_loaded(qtbot, win)
        if win.placing:
            pytest.skip("the detector found nobody in the 90-pixel photo: the placed skeleton's banner says so")
        assert win.banner.isVisible() and "pixels tall" in win.banner.text.text()
        win.banner.action.click()
        assert win.mode == "source"
        win.toggle_adjust_mode(False)
        win.open_photos([str(procedural_photos[0][0])])   # a person of the usual size: no such warning
        wait_loaded(qtbot, win)
        qtbot.waitUntil(lambda: win.doc.main.path == str(procedural_photos[0][0]))
        assert not (win.banner.isVisible() and "pixels tall" in win.banner.text.text())
    finally:
        close_window(win)


def test_a_reference_of_someone_else_is_said(qtbot, procedural_photos, tmp_path):
    from engine.images import load_image, save_image

    other = tmp_path / "other.png"  # the same figure in other clothes: its colours' channels rolled
    save_image(other, np.roll(load_image(procedural_photos[0][0]), 1, axis=2).copy())
    win = new_window(qtbot, [procedural_photos[0][0]])
    try:
        wait_loaded(qtbot, win)
        win.add_references([str(procedural_photos[1][0])])   # the same person in another pose: nothing said
        wait_loaded(qtbot, win, 2)
        # the colours are compared once found, after the skeleton is shown
        qtbot.waitUntil(lambda: win.doc.refs[1].unlike is not None, timeout=10000)
        assert not (win.banner.isVisible() and "another person" in win.banner.text.text())
        win.add_references([str(other)])
        wait_loaded(qtbot, win, 3)
        qtbot.waitUntil(lambda: win.banner.isVisible() and "other.png looks like another person"
                        in win.banner.text.text(), timeout=10000)
        assert len(win.doc.refs) == 3  # said, not refused: the user may mean it
        # and Train on This Person's plan says so before the photos are taught as one person
        assert win._train_context().unlike == ["other.png"]
        win.open_train_dialog()
        qtbot.waitUntil(lambda: "other.png looks like someone else" in win.train_dialog.plan_text.text(),
                        timeout=10000)
        win.train_dialog.close()
        # another photo first: the references are compared with its person now
        win.banner.dismiss()
        ids = [r.id for r in win.doc.refs]
        win.reorder_references([ids[2], ids[0], ids[1]])
        assert win.doc.main.path == str(other)
        assert win.banner.isVisible() and "look like another person" in win.banner.text.text()
        assert Path(procedural_photos[0][0]).name in win.banner.text.text()
        # each such reference is marked in the strip, where it stays when the banner goes
        captions = [win.strip.list.item(i).text() for i in range(win.strip.list.count())]
        assert ["⚠" in c for c in captions] == [False, True, True], captions  # both, next to other.png
    finally:
        close_window(win)


def test_every_reference_of_someone_else_is_named(qtbot, procedural_photos, tmp_path):
    # Each photo's colours are compared as they come: the banner for the second replaced the first's, and of two
    # odd references added at once one was named (a newcomer review)
    from engine.images import load_image, save_image

    odd = []
    for k in (1, 2):  # the same figure in two other outfits: its colour channels rolled
        odd.append(tmp_path / f"other{k}.png")
        save_image(odd[-1], np.roll(load_image(procedural_photos[0][0]), k, axis=2).copy())
    win = new_window(qtbot, [procedural_photos[0][0]])
    try:
        wait_loaded(qtbot, win)
        win.add_references([str(p) for p in odd])
        wait_loaded(qtbot, win, 3)
        qtbot.waitUntil(lambda: all(r.unlike is not None for r in win.doc.refs[1:]), timeout=10000)
        assert all(r.unlike for r in win.doc.refs[1:])
        text = win.banner.text.text()
        assert win.banner.isVisible() and "other1.png" in text and "other2.png" in text, text
        win.banner.dismiss()
        captions = [win.strip.list.item(i).text() for i in range(win.strip.list.count())]
        assert ["⚠" in c for c in captions] == [False, True, True], captions
        assert "another person" in win.strip.list.item(1).toolTip()
    finally:
        close_window(win)


def test_a_group_photo_says_someone_else_is_there_and_how_to_pick_them(qtbot, procedural_photos, tmp_path):
    from engine.images import load_image, save_image

    group = tmp_path / "group.png"  # two people side by side
    save_image(group, np.concatenate([load_image(procedural_photos[0][0]), load_image(procedural_photos[2][0])], 1))
    win = new_window(qtbot, [procedural_photos[0][0]])
    try:
        wait_loaded(qtbot, win)
        assert not (win.banner.isVisible() and "Someone else" in win.banner.text.text())  # one person: nothing
        win.open_photos([str(group)])
        # said after the skeleton is shown (the people segmentation follows the detection in the worker)
        qtbot.waitUntil(lambda: win.doc.main.path == str(group) and win.banner.isVisible()
                        and "Someone else seems to be in group.png" in win.banner.text.text(), timeout=30000)
        win.banner.action.click()  # Find the Person in a Box
        assert win.canvas.box_mode and win.banner.action_id == "cancel-box"
    finally:
        close_window(win)

