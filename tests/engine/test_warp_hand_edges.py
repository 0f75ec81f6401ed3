"""The warp engine's hands and what they hold at the edges of what segmentation and the hand model see: a hand
enlarged many times (its soft edge and the landmarks' error grow with it), a held ball's soft rim the mask left
out, a hand the hand model missed. The painted scenes are test_warp_parts.py's."""
import numpy as np

from engine.backends.warp import WarpBackend
from engine.pose import J
from tests.engine.painted import WALL
from tests.engine.test_warp_parts import SKIN, TROUSERS, _hand_on_the_trousers, _raised_from_the_trousers


def _raised_in_a_photo_enlarged(k: int):
    """_hand_on_the_trousers enlarged k times (bicubic: the hand's edge a soft band of several pixels, blurred into
    the trousers), the hand raised straight up by its arm: (the render as ints, where the hand was, the trousers,
    the target pose, the torso size at 1x)."""
    import cv2

    from engine.parsing import hand_ellipse

    p, seen, img, mask, legs, ts = _hand_on_the_trousers()
    big = cv2.resize(img, (240 * k, 400 * k), interpolation=cv2.INTER_CUBIC)
    big_mask = cv2.resize(mask.astype(np.float32), (240 * k, 400 * k), interpolation=cv2.INTER_LINEAR)
    seen_big = seen.scaled(k)
    pk = p.scaled(k)
    sh, el = pk.point("r_shoulder"), pk.point("r_elbow")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(pk.point("r_wrist") - el)))
    target = seen_big.moved("r_elbow", sh[0] - up, sh[1]).moved("r_wrist", sh[0] - up, sh[1] - fore)
    b = WarpBackend()
    out = b.render(b.encode_sources([big], [seen_big], [big_mask]), target).astype(int)
    ys, xs = np.mgrid[0:400 * k, 0:240 * k].astype(np.float32)
    where = hand_ellipse(pk, J["r_elbow"], J["r_wrist"], ts * k, xs, ys) < 1.3
    legs_big = cv2.resize(legs, (240 * k, 400 * k), interpolation=cv2.INTER_NEAREST) > 0
    return out, where, legs_big, target, ts


def test_a_hand_raised_from_the_trousers_of_a_photo_enlarged_8_times_leaves_none_of_itself():
    # The same hand at 8 times the pixels, enlarged as a phone photo of a small picture is: its edge a soft band
    # of several pixels, and the landmarks' error as many. A rim of fixed pixels round the landmarks left the
    # fingers' soft edges on the trousers (a raised hand's outline at the hip, from a newcomer's review on a huge
    # photo); the rim grows with the palm (engine.hands.RIM_OF_PALM).
    import cv2

    k = 8
    out, where, legs_big, target, ts = _raised_in_a_photo_enlarged(k)
    skin_left = (np.abs(out - SKIN).sum(axis=2) < 60) & where & legs_big
    assert skin_left.sum() < 0.02 * where.sum(), f"{skin_left.sum()} pixels of skin left on the trousers"
    # and the wider rim takes no trousers up with the hand
    on_legs = np.abs(out - np.array(TROUSERS)).sum(axis=2) < 40
    up = np.zeros(out.shape[:2], np.uint8)
    cv2.circle(up, tuple(np.round(target.point("r_wrist") + (target.point("r_wrist") - target.point("r_elbow"))
                                  * 0.4).astype(int)), int(0.2 * ts * k), 1, -1)
    assert (on_legs & (up > 0)).sum() < 5 * k * k, f"{(on_legs & (up > 0)).sum()} pixels of trousers round the hand"


def test_the_trousers_under_a_raised_hand_are_drawn_from_the_trousers_not_from_the_hands_soft_edge():
    # Where the hand rested, the thigh's layer goes on, inpainted from its pixels round the hand. In a real photo
    # those at the hand's outline are skin blurred into the cloth, and the wall blurred into the trousers' edge:
    # drawn from them, black trousers showed a brown blot where the hand had been (fashion-real/0, 1, 5 with the
    # arms raised). The place is drawn from the trousers clear of both edges, and the thigh's own pixels at the
    # hand's outline go with the hand. Before: 12% of the place far from the trousers' colour.
    import cv2

    k = 4
    out, where, legs_big, _, _ = _raised_in_a_photo_enlarged(k)
    inside = where & (cv2.erode(legs_big.astype(np.uint8), np.ones((2 * k + 1,) * 2, np.uint8)) > 0)
    off = np.abs(out - np.array(TROUSERS)).sum(axis=2)[inside] > 60
    assert inside.sum() > 5000 and off.mean() < 0.06, f"{off.mean():.1%} of the hand's place is not the trousers"


def test_a_held_balls_soft_edge_the_mask_left_out_goes_with_it(shared_data):
    # The dance video's frame 132: the ball in the left hand is blurred by its bounce, and the segmentation leaves
    # out its soft lower edge. With the forearm turned up, that edge stayed where the ball had been, an orange
    # crescent under nothing (a newcomer's review, on the frame enlarged; at 1080p as well).
    import cv2

    from engine.detect import PoseDetector
    from engine.held import held_objects
    from training.video import read_frames

    img = next(iter(read_frames(shared_data("dance-video", "dance_train_150f.mp4"), [132])))[1]
    with PoseDetector() as det:
        d = det.detect(img, "frame 132")
    held = held_objects(img, d.pose, d.mask)
    assert held.any()
    w0, e0 = d.pose.point("l_wrist"), d.pose.point("l_elbow")
    target = d.pose.moved("l_wrist", *(e0 + (w0 - e0) * np.array([1.0, -1.0])))
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [d.pose], [d.mask]), target)
    ring = cv2.dilate((held > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    moved_to = np.zeros(ring.shape, np.uint8)
    ys, xs = np.nonzero(held)
    shift = target.point("l_wrist") - w0
    cv2.circle(moved_to, tuple(np.round([xs.mean() + shift[0], ys.mean() + shift[1]]).astype(int)),
               int(np.sqrt(len(xs) / np.pi) * 1.6), 1, -1)
    hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV).astype(int)
    orange = (hsv[..., 0] < 25) & (hsv[..., 1] > 50) & (hsv[..., 2] > 90)   # the crescent is pale: S 60-80
    left = ring & (moved_to == 0)
    assert orange[left].sum() < 20, f"{orange[left].sum()} orange pixels stayed where the ball was"


def test_a_hand_the_hand_model_missed_still_leaves_the_trousers_it_rested_on():
    # The same hand on the trousers with no landmarks (mediapipe's hand model misses blurred hands: both of dance
    # frame 132's at 1080p): its part is the parsing's ellipse, and raised, it must uncover trousers, not the
    # wall (a pale ellipse on the trouser leg).
    p, _, img, mask, legs, ts = _hand_on_the_trousers()
    assert not p.hands
    hand, out, raised, _ = _raised_from_the_trousers(p, p, img, mask, ts)
    on_legs = np.abs(out - np.array(TROUSERS)).sum(axis=2) < 40
    under = hand & (legs > 0) & (raised == 0)
    skin = np.abs(out - np.array(SKIN)).sum(axis=2) < 40
    wall = np.abs(out - np.array(WALL)).sum(axis=2) < 40
    # before: 13% trousers, 40% wall. The ellipse is not the hand's outline: some of the painted thumb's skin
    # (16%) stays, as the ellipse's edge is the thigh's
    figures = (on_legs[under].mean(), skin[under].mean(), wall[under].mean())
    assert under.sum() > 30 and on_legs[under].mean() > 0.5 and wall[under].mean() < 0.05, figures


def test_the_place_under_a_hand_is_drawn_from_the_cloth_clear_of_its_edges_or_from_all_of_it_when_thin():
    # inpainted_under takes the cloth's pixels clear of the hole's rim and of the cloth's outline (blends with the
    # hand and the wall); a strip of cloth thinner than twice that margin keeps all its pixels, not none (the place
    # was left unfilled)
    from engine.backends.warp_fill import inpainted_under

    rgb = np.full((60, 60, 3), 200.0, np.float32)  # the wall
    cloth = np.zeros((60, 60), bool)
    cloth[:, 20:40] = True
    rgb[cloth] = 10.0
    rgb[:, 20:22] = rgb[:, 38:40] = 100.0  # the cloth's soft edge against the wall
    hole = np.zeros((60, 60), bool)
    hole[25:35, 25:35] = True
    rgb[hole] = (220, 170, 140)  # the hand
    rgb[24, 25:35] = rgb[35, 25:35] = (120, 90, 75)  # its soft edge on the cloth
    known = cloth & ~hole
    fill = np.full_like(rgb, 255.0)
    out = inpainted_under(rgb, known, hole, fill, margin=3)
    assert np.abs(out[hole] - 10).max() < 6  # the cloth's own colour, not its edges' blends
    thin = np.zeros((60, 60), bool)
    thin[:, 27:33] = True  # six pixels wide: nothing is 3 clear of its outline
    strip = np.repeat(np.where(thin[..., None], 10.0, 200.0), 3, 2).astype(np.float32)
    out = inpainted_under(strip, thin & ~hole, hole & thin, fill, margin=3)
    assert np.abs(out[hole & thin] - 10).max() < 6


def test_the_place_under_a_hand_on_stripes_goes_on_with_the_stripes():
    # A hand resting on a striped dress (fashion-real/29) or a print (6, 11) left, once raised, a smear of the
    # stripes' colours (Telea carries the colours at the rim inward): the place is a shifted copy of the cloth
    # round it, the shift whose copy of the hole's surroundings matches them best, so the stripes go on in phase
    from engine.backends.warp_fill import inpainted_under

    ys, xs = np.mgrid[0:90, 0:90]
    stripes = np.where((ys // 4) % 2 == 0, 20.0, 235.0)  # 8-pixel stripes, a little tilted below
    stripes = np.where(((ys + xs // 12) // 4) % 2 == 0, 20.0, 235.0)
    rgb = np.repeat(stripes[..., None], 3, 2).astype(np.float32)
    truth = rgb.copy()
    cloth = np.zeros((90, 90), bool)
    cloth[:, 10:80] = True
    rgb[~cloth] = 200.0
    hole = np.zeros((90, 90), bool)
    hole[38:56, 36:52] = True
    rgb[hole] = (220, 170, 140)  # the hand
    out = inpainted_under(rgb, cloth & ~hole, hole, np.full_like(rgb, 255.0), margin=2)
    err = np.abs(out[hole] - truth[hole]).mean()
    assert err < 15, f"{err:.0f} levels off the stripes on average (a smear of them is ~100)"


def test_a_moved_arms_halo_past_the_mask_fades_into_the_fill_with_no_seam():
    # A fast arm's motion blur reaches past the mask and past the hole's reach as a halo, darkest next to the arm
    # (the dance video's forearm dribbling the ball). The inpainted fill, cut off at the hole's edge, left the
    # halo's darkest pixels beside it: a thin dark line on the wall where the arm had hung, a step of 15 grey
    # levels here. Past the reach, the fill now fades into the photo (steps of at most 8; the halo's own are 5).
    import cv2

    from engine.backends.warp_parts import hole_radius
    from engine.detect import pose_mask
    from engine.encode import torso_size
    from engine.presets import fit_preset
    from tests.engine.painted import SLEEVE, painted_on_wall

    p = fit_preset("standing", 240, 400)
    img, mask, _, pt = painted_on_wall(p, 0.1)
    r = hole_radius(p)
    arm = np.zeros((400, 240), np.uint8)
    cv2.line(arm, pt("r_elbow"), pt("r_wrist"), 1, int(round(0.1 * torso_size(p))))
    dist = cv2.distanceTransform(1 - arm, cv2.DIST_L2, 5)
    halo = (0.6 * np.clip(1 - dist / (2.5 * r), 0, 1))[..., None]  # to 2.5 hole radii: past the hole's reach
    img = np.where((mask == 0)[..., None], img * (1 - halo) + np.array(SLEEVE) * halo, img).astype(np.uint8)
    sh, el, wr = p.point("r_shoulder"), p.point("r_elbow"), p.point("r_wrist")
    up, fore = float(np.hypot(*(el - sh))), float(np.hypot(*(wr - el)))
    t = p.moved("r_elbow", sh[0] - up, sh[1]).moved("r_wrist", sh[0] - up, sh[1] - fore)
    b = WarpBackend()
    out = cv2.cvtColor(b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), t), cv2.COLOR_RGB2GRAY)
    # the wall where the forearm and its halo were, away from where the person is now
    now = cv2.dilate((pose_mask(t) > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    wall = (dist < 3 * r) & (mask == 0) & ~now
    wall[: int(el[1]) + 2 * r] = False  # below the elbow: the raised upper arm starts at the shoulder above it
    wall[:, int(min(el[0], wr[0])):] = False  # on the arm's outer side: between it and the torso is the torso's
    o = out.astype(int)
    steps = np.maximum(np.abs(np.diff(o, axis=1, append=o[:, -1:])), np.abs(np.diff(o, axis=0, append=o[-1:])))
    assert steps[wall].max() <= 10, f"a step of {steps[wall].max()} grey levels on the wall where the arm was"


def test_a_forearm_blurred_into_the_trousers_leaves_no_dark_crack_when_raised():
    # The dance video's forearm hung in front of the thigh, moving: its edge blurred a few pixels into the trousers,
    # past what the mask saw, and those pixels were the thigh's own. Raised, the arm's place was trousers but its
    # blurred edge stayed as a dark crack down the thigh (dance frame 130, the right arm raised). The thigh's own
    # pixels at the arm's outline are the arm's soft edge: redrawn with the trousers once the arm moves (39 grey
    # levels darker than the trousers before, 3 now).
    import cv2

    from tests.engine.test_warp_parts import THIGH_TROUSERS, forearm_along_the_thigh, raised_straight_up

    p, img, mask, el, wr, ts = forearm_along_the_thigh(0.15)
    trousers = np.array(THIGH_TROUSERS)
    sleeve = np.zeros((400, 240), np.uint8)
    cv2.line(sleeve, tuple(np.round(el).astype(int)), tuple(np.round(wr).astype(int)), 1, int(round(0.15 * ts)))
    # the sleeve's edge blurred into the trousers round it, 4 px out
    band = (cv2.dilate(sleeve, np.ones((9, 9), np.uint8)) > 0) & (sleeve == 0) & \
        (np.abs(img.astype(int) - trousers).max(axis=2) < 5)
    img = np.where(band[..., None], cv2.GaussianBlur(img, (0, 0), 2.5), img).astype(np.uint8)
    b = WarpBackend()
    out = b.render(b.encode_sources([img], [p], [mask.astype(np.float32)]), raised_straight_up(p)).astype(int)
    # the band beside where the forearm hung, short of its ends (the hip above, the hand below: tested apart)
    u = (wr - el) / np.hypot(*(wr - el))
    along = (np.mgrid[0:400, 0:240][::-1].transpose(1, 2, 0) - el) @ u
    side = band & (along > 0.35 * np.hypot(*(wr - el))) & (along < 0.9 * np.hypot(*(wr - el)))
    dark = (trousers.mean() - out[side].mean(axis=1)).max()
    assert side.sum() > 50 and dark < 15, f"the trousers beside the arm's place darker by {dark:.0f} levels"
