"""Coarse body-part parsing: what a large photo's person is labelled, and how far labels grow."""
import cv2
import numpy as np

from engine import parsing, part_colours
from engine.parsing import grow_labels
from engine.detect import pose_mask
from engine.pose import Pose
from engine.presets import fit_preset


def test_a_large_persons_labels_match_the_pixel_by_pixel_ones(monkeypatch):
    """A box over PARSE_FULL_PIXELS is labelled coarse to fine: the same parts as every pixel's own nearest
    part, to a few pixels in a million (ties on the lines where two parts meet)."""
    pose = fit_preset("arms-up", 1400, 2600)
    mask = pose_mask(pose)
    fast = parsing.coarse_parsing(pose, mask)
    monkeypatch.setattr(parsing, "PARSE_FULL_PIXELS", 10**12)
    exact = parsing.coarse_parsing(pose, mask)
    assert (exact > 0).sum() > 500_000 and len(np.unique(exact)) >= 10
    assert (fast != exact).sum() <= 1e-4 * (exact > 0).sum()


def test_labels_grow_by_their_steps_into_the_nearest_label():
    labels = np.zeros((60, 80), np.uint8)
    labels[20:40, 10:20] = 3
    labels[20:40, 50:60] = 7
    grown = grow_labels(labels, 5)
    assert np.array_equal(grown[20:40, 10:20], labels[20:40, 10:20])  # labelled pixels keep their label
    assert grown[30, 5] == 3 and grown[30, 24] == 3 and grown[30, 45] == 7 and grown[15, 55] == 7
    assert grown[30, 4] == 0 and grown[30, 32] == 0 and grown[14, 55] == 0  # 6 steps away: not reached
    assert np.array_equal(grow_labels(np.zeros((5, 5), np.uint8), 3), np.zeros((5, 5), np.uint8))


def test_what_is_held_out_at_the_side_is_not_the_heads():
    # A ball held out at shoulder height beside a hand: beyond the arms' reach, its pixels went to the nearest
    # part by distance, and the head (favoured round its joints, with no reach of its own) took a wedge of it,
    # which then went with the head when the head was turned.
    import cv2

    from engine.encode import torso_size

    p = fit_preset("standing", 400, 400)
    ts = torso_size(p)
    nose, sh = p.point("nose"), p.point("l_shoulder")
    mask = (pose_mask(p) > 0).astype(np.uint8)
    centre = (int(round(sh[0] + 0.75 * ts)), int(round(nose[1] + 0.3 * ts)))
    cv2.circle(mask, centre, int(round(0.22 * ts)), 1, -1)
    ball = np.zeros_like(mask)
    cv2.circle(ball, centre, int(round(0.22 * ts)), 1, -1)
    ball = (ball > 0) & (pose_mask(p) == 0)
    labels = parsing.coarse_parsing(p, mask.astype(np.float32))
    assert ball.sum() > 100
    assert (labels[ball] == 1).sum() == 0, "the head took part of what the hand holds out"
    # the head itself is still the head's
    y, x = np.round(nose).astype(int)[::-1]
    assert labels[y, x] == 1


def test_the_torsos_middle_reaches_below_the_shoulders_when_the_hips_are_out_of_the_photo():
    # a half-body photo: the middle the thin-torso rule leaves alone runs from the shoulders away from the face,
    # as long as the torso (1.6 shoulder widths), whichever way the person leans
    p = fit_preset("standing", 400, 400)
    cut = p.with_present("r_hip", False).with_present("l_hip", False)
    quad = parsing.torso_polygon(cut)
    rs, ls = p.point("r_shoulder"), p.point("l_shoulder")
    width = float(np.hypot(*(ls - rs)))
    assert np.allclose(quad[:2], [rs, ls])
    assert np.all(quad[2:, 1] > rs[1] + 1.5 * width)  # below: the face is above
    upside_down = Pose(np.array([[x, 400 - y] for x, y in cut.xy], np.float32), cut.present, 400, 400)
    assert np.all(parsing.torso_polygon(upside_down)[2:, 1] < 400 - rs[1] - 1.5 * width)
    assert np.allclose(parsing.torso_polygon(p)[2:], [p.point("l_hip"), p.point("r_hip")])
    assert parsing.torso_polygon(p.with_present("l_shoulder", False)) is None


def test_the_colour_rule_is_deterministic_and_leaves_opencvs_random_numbers_alone():
    # arms_by_colour's k-means gave the same labels by seeding OpenCV's RNG, which is the whole process's: other
    # code drawing from it after a photo was opened got other numbers. Its starts come from a generator of its own.
    import cv2

    p = fit_preset("standing", 240, 400)
    labels = parsing.coarse_parsing(p, pose_mask(p))
    rng = np.random.default_rng(3)
    image = np.repeat(rng.integers(0, 256, (400, 1, 3)), 240, axis=1).astype(np.uint8)  # stripes of colour
    image[labels == parsing.TORSO_LABEL] //= 2

    def draws():
        return cv2.randu(np.zeros(8, np.float64), 0.0, 1.0).copy()

    cv2.setRNGSeed(7)
    want = draws()
    cv2.setRNGSeed(7)
    first = part_colours.arms_by_colour(labels, image, p)
    assert np.array_equal(draws(), want), "the colour rule changed OpenCV's random numbers"
    cv2.setRNGSeed(12345)
    assert np.array_equal(part_colours.arms_by_colour(labels, image, p), first)
    colours = image.reshape(-1, 3).astype(np.float32)
    assert np.array_equal(part_colours.main_colours(colours, 3), part_colours.main_colours(colours, 3))


def test_a_sleeve_of_the_sweaters_striped_cloth_stays_the_arms():
    # A two-colour pattern photographed a few pixels a stripe has the blends of its colours where they meet. The
    # arm's colours (two, sampled along its bone) are the stripes' two; the torso's three are those and their blend.
    # By the nearest colour alone, the sleeve's blended pixels looked like the torso's and not like the arm's: they
    # went to the torso where they joined it, and a raised arm left a smudge of them at the hip (fashion-real/47).
    # The face is skin (the sleeves' outline, of the stripes, is no bare arm's: part_colours.face_skin).
    import cv2

    from engine.encode import torso_size
    from tests.engine.painted import painted_on_wall

    p = fit_preset("standing", 240, 400)
    navy, cream = np.array((30, 40, 110)), np.array((235, 228, 210))
    ys, xs = np.mgrid[0:400, 0:240]
    for wide, stripe, blur in ((0.25, 5, 1.2), (0.2, 6, 1.5)):
        img, mask, _, _ = painted_on_wall(p, wide)
        t = cv2.GaussianBlur((((xs + ys) // stripe) % 2).astype(np.float32), (0, 0), blur)[..., None]
        img[mask > 0] = (navy + t * (cream - navy))[mask > 0].astype(np.uint8)
        face = np.hypot(xs - p.point("nose")[0], ys - p.point("nose")[1]) <= 0.2 * torso_size(p)
        img[face] = (225, 180, 150)
        labels = parsing.torso_strays(parsing.merge_islands(parsing.coarse_parsing(p, mask.astype(np.float32))), p)
        arm = np.isin(labels, parsing.ARM_LABELS)
        out = part_colours.arms_by_colour(labels, img, p)
        assert arm.sum() > 3000
        assert (out[arm] == parsing.TORSO_LABEL).sum() == 0, \
            f"{(out[arm] == parsing.TORSO_LABEL).sum()} of the sleeves' pixels went to the torso"


def _forearm_beside(colour_inside, colour_outside, shorts=None, torso=None):
    """The standing person on a wall, the right forearm a thin bare arm painted in two lengthwise halves (the
    bone's inner side ``colour_inside``, its outer ``colour_outside``), with shorts of colour ``shorts`` against
    its inner side: the right forearm's own colours as arm_colours samples them (CIELAB, 8-bit), the torso's
    colours ``torso`` (CIELAB) or those sampled from its label."""
    from engine import part_colours
    from engine.backends.warp_parts import part_labels
    from engine.encode import body_scale
    from engine.presets import fit_preset
    from tests.engine.painted import painted_on_wall

    p = fit_preset("standing", 240, 400)
    img, mask, _, pt = painted_on_wall(p, 0.01)  # sleeves of a pixel or two, painted over below
    ts = body_scale(p)
    e, w = p.point("r_elbow"), p.point("r_wrist")
    u = (w - e) / np.linalg.norm(w - e)
    n = np.array([-u[1], u[0]])
    inward = n if np.dot(n, p.point("neck") - e) > 0 else -n
    half = 0.022 * ts  # a thin forearm: half as wide as ARM_CORE's band
    for colour, sign in ((colour_inside, 1), (colour_outside, -1)):
        quad = np.array([e, w, w + sign * inward * half, e + sign * inward * half])
        cv2.fillConvexPoly(img, np.round(quad).astype(np.int32), colour)
        cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
    if shorts is not None:  # cloth against the forearm's inner side, from a third of the way down it
        a, b = e + 0.33 * (w - e) + inward * half, w + inward * half
        quad = np.array([a, b, b + inward * 0.25 * ts, a + inward * 0.25 * ts])
        cv2.fillConvexPoly(img, np.round(quad).astype(np.int32), shorts)
        cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
    labels = part_labels(p, mask.astype(np.float32))
    box, lab = part_colours.person_view(labels, img)
    sub = labels[box]
    if torso is None:
        torso = part_colours.main_colours(lab[sub == part_colours.TORSO_LABEL].astype(np.float32), 3)
    return part_colours.arm_colours(lab, sub, 4, p, (box[0].start, box[1].start), ts, beside=torso)[4]


def test_an_arms_own_colours_show_on_both_sides_of_its_bone():
    # Black shorts against a thin bare forearm were a quarter of its samples along the bone, so they counted as the
    # arm's colour and went up with the raised arm (fashion-real/0). A colour on one side only, of the torso's, is
    # the torso's; a bare arm's shade, on one side, stays its own.
    skin, shade = (225, 180, 150), (185, 140, 112)
    got = _forearm_beside(skin, skin, shorts=(25, 25, 28))
    assert len(got) == 1 and got[0][0] > 150  # the skin's, not the shorts' (L 28)
    assert len(_forearm_beside(skin, shade)) == 2
    assert len(_forearm_beside(shade, skin)) == 2


def test_cloth_a_shade_off_the_torsos_beside_a_forearm_is_the_torsos():
    # The dress's dark blue along a bare arm was 20.5 (CIELAB) from the torso's own blue (fashion-real/4): a colour
    # that near is the torso's cloth in shadow, not the arm's, and went up with the raised arm as a strip of dress.
    # A colour farther from all of the torso's stays the arm's (a hand blurred grey by motion, dance frame 123).
    skin, shirt = (225, 180, 150), (60, 90, 200)
    torso = cv2.cvtColor(np.uint8([[shirt]]), cv2.COLOR_RGB2LAB).reshape(1, 3).astype(np.float32)
    got = _forearm_beside(skin, skin, shorts=(40, 65, 170), torso=torso)  # 25 from the shirt's colour
    assert len(got) == 1 and got[0][0] > 150, got
    for other in ((35, 55, 160), (20, 30, 110)):  # 34 and 67 away
        assert len(_forearm_beside(skin, skin, shorts=other, torso=torso)) == 2
