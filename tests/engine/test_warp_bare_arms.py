"""A bare arm raised from beside a dress, on real photos and painted: what it leaves where it hung, what it carries."""
import cv2
import numpy as np
import pytest

from engine.backends.warp import WarpBackend
from engine.backends.warp_parts import part_labels
from engine.encode import torso_polygon
from engine.images import load_image


def _right_arm_raised(name, shared_data, render_cache):
    """(photo, detection, warp state, target pose, render, upper arm's length) of fashion-real/``name`` with its right
    arm raised above the head."""
    img = load_image(shared_data("fashion-real", name))
    img = getattr(img, "rgb", img)
    d = render_cache.detect(name, img)
    p = d.pose
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    upper, fore = float(np.linalg.norm(el - sh)), float(np.linalg.norm(wr - el))
    elbow = sh + np.array([-0.25, -0.97]) * upper
    target = p.moved("r_elbow", *elbow).moved("r_wrist", *(elbow + np.array([-0.08, -1.0]) * fore))
    b = WarpBackend()
    state = b.encode_sources([img], [p], [d.mask])
    return img, d, state, target, b.render(state, target), upper


@pytest.mark.parametrize("name", ["3.jpg", "50.jpg"])
def test_a_bare_arm_raised_from_beside_a_dress_takes_all_of_itself(name, shared_data, render_cache):
    # The detected bone ran along the arm's inner edge, over the dress: sampled there, the arm's colours were the
    # dress's lace and the skin's shade, the lit outer half of the arm looked like the chest's skin and went to the
    # torso, and a raised arm left a strip of its own skin beside the dress (510 and 40 of these pixels the arm's
    # colour; now 44 and 0: the dress's edge, which stays, blends into the skin). Past the bone on the side where
    # the arm meets the wall is only the arm.
    img, d, state, target, out, upper = _right_arm_raised(name, shared_data, render_cache)
    p = d.pose
    out = out.astype(int)
    # where the upper arm hung, by its bone alone: beside the torso, away from where the raised arm is now
    hung = part_labels(p, (d.mask >= 0.5).astype(np.float32)) == 3
    torso = np.zeros(hung.shape, np.uint8)
    cv2.fillConvexPoly(torso, np.round(torso_polygon(p)).astype(np.int32), 1)
    raised = np.zeros(hung.shape, np.uint8)
    for a, c in (("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist")):
        cv2.line(raised, tuple(np.round(target.point(a)).astype(int)), tuple(np.round(target.point(c)).astype(int)),
                 1, int(0.5 * upper))
    where = hung & (cv2.dilate(torso, np.ones((5, 5), np.uint8)) == 0) & (raised == 0)
    left = np.abs(out - state.cache["background"]).max(axis=2) > 30
    lab = [cv2.cvtColor(np.ascontiguousarray(x, dtype=np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
           for x in (img, out)]
    skin = np.linalg.norm(lab[1] - np.median(lab[0][where], axis=0), axis=2) < 30  # the arm's colour where it hung
    assert where.sum() > 200
    assert (left & where & skin).sum() <= 0.08 * where.sum(), f"{(left & where & skin).sum()} of {where.sum()} pixels"


def test_a_bare_arm_whose_bone_lies_over_the_top_leaves_the_top_behind(shared_data, render_cache):
    # fashion-real/0: the detected bone of the right upper arm runs over the black top's edge, so the top's black was
    # sampled as one of the arm's colours on both sides of it, and the raised arm carried a black strip of the top
    # along its middle (264 of these 520 pixels dark before, 2 now)
    _, _, _, target, out, upper = _right_arm_raised("0.jpg", shared_data, render_cache)
    a, c = target.point("r_shoulder"), target.point("r_elbow")
    band = np.zeros(out.shape[:2], np.uint8)
    cv2.line(band, tuple(np.round(a + 0.2 * (c - a)).astype(int)), tuple(np.round(a + 0.8 * (c - a)).astype(int)), 1,
             int(0.15 * upper))
    dark = (out.max(axis=2) < 70) & (band > 0)
    assert band.sum() > 300
    assert dark.sum() <= 0.05 * band.sum(), f"{dark.sum()} of {band.sum()} pixels of the raised upper arm dark"


def test_a_bare_forearm_raised_from_beside_a_striped_dress_leaves_the_stripes():
    # Painted: bare arms and face, a dress of navy and white stripes reaching out under the right forearm, whose
    # bone lies along the dress's edge (a hanging forearm's detected bone lies off its middle, towards the body).
    # The stripes within the forearm's reach were the arm's (its colours sampled along the bone were skin and one
    # stripe), and the forearm raised carried a strip of them. Its outline on the wall's side is the face's skin,
    # so what is not skin on the torso's side of its bone is the dress's.
    from engine.encode import segment_distance, torso_size
    from engine.pose import J
    from engine.presets import fit_preset
    from tests.engine.painted import ARMS, WALL

    skin, navy, white = np.array((225, 180, 150)), np.array((30, 40, 110)), np.array((240, 240, 245))
    p = fit_preset("standing", 240, 400)
    ts = torso_size(p)
    ys, xs = np.mgrid[0:400, 0:240].astype(np.float32)
    img = np.full((400, 240, 3), WALL, np.uint8)
    mask = np.zeros((400, 240), np.uint8)
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    out_x = np.sign(sh[0] - p.point("l_shoulder")[0])  # the right arm's outer side (towards the wall)
    quad = np.round(p.xy[[J["r_shoulder"], J["l_shoulder"], J["l_hip"], J["r_hip"]]]).astype(np.int32)
    dress = np.zeros((400, 240), np.uint8)
    cv2.fillConvexPoly(dress, quad, 1)
    # the dress flares out under the forearm to its bone
    flare = np.array([sh, el, wr, wr + (0.0, 0.3 * ts), p.point("r_hip")]).round().astype(np.int32)
    cv2.fillPoly(dress, [flare], 1)
    stripes = (ys // 4).astype(int) % 2 == 0
    img[dress > 0] = np.where(stripes[dress > 0][:, None], navy, white)
    mask[dress > 0] = 1
    # the bare arms, each a band beside its bone on the wall's side (the right forearm's bone on its inner edge)
    for a, b in ARMS:
        pa, pb = p.point(a), p.point(b)
        shift = np.array((out_x * 0.05 * ts, 0.0)) if (a, b) == ("r_elbow", "r_wrist") else np.zeros(2)
        on = segment_distance(xs, ys, pa + shift, pb + shift) <= 0.05 * ts
        img[on], mask[on] = skin, 1
    head = np.hypot(xs - p.point("nose")[0], ys - p.point("nose")[1]) <= 0.25 * ts
    img[head], mask[head] = skin, 1
    b = WarpBackend()
    state = b.encode_sources([img], [p], [mask.astype(np.float32)])
    elbow = sh + np.array((out_x, 0.05)) * float(np.linalg.norm(el - sh))  # out to the side, the forearm up
    wrist = elbow + np.array((0.0, -1.0)) * float(np.linalg.norm(wr - el))
    target = p.moved("r_elbow", *elbow).moved("r_wrist", *wrist)
    out = b.render(state, target).astype(int)
    raised = segment_distance(xs, ys, elbow + 0.15 * (wrist - elbow), elbow + 0.85 * (wrist - elbow)) <= 0.12 * ts
    navy_up = (np.abs(out - navy).sum(axis=2) < 60) & raised
    assert (np.abs(out - skin).sum(axis=2) < 40)[raised].sum() > 100  # the forearm is there
    assert navy_up.sum() < 5, f"{navy_up.sum()} pixels of the dress's navy on the raised forearm"
