"""What a hand holds (engine.held): completed where the segmentation saw part of it, and nothing added else."""
import cv2
import numpy as np
import pytest

from engine.backends.warp import WarpBackend
from engine.encode import PART_NAMES, torso_size
from engine.held import held_objects
from engine.pose import J, Pose
from engine.presets import fit_preset

from tests.engine.painted import WALL, painted_on_wall

BALL = (230, 110, 40)


def _person_holding(ball: bool, seen: float):
    """A person on a wall (240x400), the left forearm held out with a ball at the hand (when ``ball``), the
    segmentation having seen the ball's top ``seen`` only (a fraction of its height). (pose, image, mask,
    the ball's disc, its centre, its radius)."""
    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    wrist = p.point("l_elbow") + np.array([0.3, 0.35]) * ts
    p = p.moved("l_wrist", *wrist)
    img, mask, _, _ = painted_on_wall(p, 0.2)
    mask = mask.astype(np.float32)
    legs = [J[n] for n in ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle")]
    present = p.present.copy()
    present[legs] = False  # the legs not found, as in test_warp_parts' ball held beside the body
    p = Pose(p.xy.copy(), present, 240, 400, p.confidence.copy())
    centre, r = wrist + np.array([0.0, 0.25]) * ts, int(0.27 * ts)
    disc = np.zeros((400, 240), np.uint8)
    cv2.circle(disc, tuple(np.round(centre).astype(int)), r, 1, -1)
    if ball:
        img[disc > 0] = BALL
        rows = np.arange(400)[:, None] < centre[1] - r + seen * 2 * r
        mask[(disc > 0) & rows] = 1.0
    return p, img, mask, disc > 0, centre, r


def test_a_ball_the_segmentation_half_saw_goes_with_the_hand_whole():
    # Dance frame 141: the segmentation took the ball's upper half with the hand. The hand carried that half and
    # the hole it left was inpainted from the other, an orange smear where the ball had been. Completed, the ball
    # goes whole and its old place is the wall.
    p, img, mask, disc, centre, r = _person_holding(ball=True, seen=0.4)
    held = held_objects(img, p, mask)
    lower_half = disc & (mask < 0.5)
    assert (held[lower_half] == PART_NAMES.index("l_lower_arm") + 1).mean() > 0.9, "the ball was not completed"
    assert not held[~disc].any(), "the wall was taken as held"

    el, a = p.point("l_elbow"), np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    wrist = p.point("l_wrist")
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask]), p.moved("l_wrist", *(el + rot @ (wrist - el))))
    is_ball = np.abs(out.astype(int) - BALL).sum(axis=2) < 60
    now = np.zeros((400, 240), np.uint8)
    cv2.circle(now, tuple(np.round(el + rot @ (centre - el)).astype(int)), r + 3, 1, -1)
    was = cv2.erode(disc.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    left = was & (now == 0)
    assert is_ball[left].mean() < 0.02, f"{is_ball[left].mean():.0%} of the ball stayed where it was"
    smear = np.abs(out[left].astype(int) - WALL).sum(axis=1) > 60
    assert smear.mean() < 0.05, f"{smear.mean():.0%} of the ball's old place is not the wall"
    assert is_ball.sum() > 0.85 * np.pi * r * r, "the ball did not go with the hand whole"


def test_an_empty_hand_and_a_wall_coloured_thing_beside_it_add_nothing():
    p, img, mask, disc, _, _ = _person_holding(ball=False, seen=0)
    assert not held_objects(img, p, mask).any()
    # a thing by the hand the colour of the wall (a white bag on a white wall, as the wedge of wall between a
    # hand and a leg in fashion photos): no colour tells it from the background, it is left as it is
    img[disc] = np.array(WALL) - 8
    assert not held_objects(img, p, mask).any()
    # and a photo without the segmentation's help for the person at 64 px (a street crop) is left alone
    small = cv2.resize(img, (48, 80), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, (48, 80), interpolation=cv2.INTER_AREA)
    assert not held_objects(small, _scaled(p, 0.2), small_mask).any()


def _scaled(p: Pose, s: float) -> Pose:
    return Pose(p.xy * s, p.present.copy(), round(p.width * s), round(p.height * s), p.confidence.copy())


@pytest.fixture(scope="module")
def dance_frame_141(render_cache):
    from tests.conftest import shared

    video = shared("dance-video", "dance_train_150f.mp4")
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 141)
    ok, frame = cap.read()
    cap.release()
    assert ok
    img = np.ascontiguousarray(frame[..., ::-1])
    return img, render_cache.detect("dance-141", img)


def test_the_dancers_ball_is_completed_and_fashion_photos_gain_nothing(dance_frame_141, render_cache):
    from tests.conftest import shared

    img, d = dance_frame_141
    held = held_objects(img, d.pose, d.mask)
    hand = d.pose.xy[J["l_wrist"]]
    ys, xs = np.nonzero(held)
    assert held.sum() > 3000, f"{held.sum()} pixels of the ball added"
    assert np.hypot(xs - hand[0], ys - hand[1]).max() < 0.6 * torso_size(d.pose), "added far from the hand"
    ball = (img[..., 0].astype(int) - img[..., 2]) > 60  # orange: red well above blue, the wall is lavender
    assert ball[held > 0].mean() > 0.8, "what was added is not the ball"
    for name in ("0.jpg", "14.jpg", "22.jpg", "29.jpg", "10.jpg"):  # hands beside legs, white shorts, stripes
        from engine.images import load_image

        photo = load_image(shared("fashion-real", name))
        photo = getattr(photo, "rgb", photo)
        fd = render_cache.detect(f"fashion-real/{name}", photo)
        assert not held_objects(photo, fd.pose, fd.mask).any(), f"fashion-real/{name}: a held thing added"
