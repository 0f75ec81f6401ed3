"""A neural backend's person goes into the photo: the photo stays where the person is not, the network's pixels
show where the person is, and composite="crop" still gives the papers' whole-crop output."""
import numpy as np
import pytest
import torch

from engine.backends import warp_layers
from engine.backends.attention import CONFIGS, AttentionBackend, AttentionNet
from engine.detect import pose_mask
from engine.presets import fit_preset


def _photo_and_pose(w=320, h=240):
    # a person in the middle of a wide photo, so the network's 2:1 crop box covers only part of it
    pose = fit_preset("standing", w, h)
    rng = np.random.default_rng(0)
    img = rng.integers(40, 220, (h, w, 3), dtype=np.uint8)  # a busy background: any change shows
    img = np.ascontiguousarray(np.repeat(np.repeat(img[::8, ::8], 8, 0), 8, 1)[:h, :w])
    mask = pose_mask(pose)
    img[mask > 0] = (30, 60, 200)
    return img, pose, mask


def _backend(composite):
    torch.manual_seed(0)
    b = AttentionBackend(load_starter=False, composite=composite)
    b.use_network(AttentionNet(dict(CONFIGS["cpu-small"], width=0.125)))
    return b


def test_person_composite_keeps_the_photo_away_from_the_person_and_shows_the_network_on_it():
    img, pose, mask = _photo_and_pose()
    target = pose.moved("r_wrist", *(pose.point("r_wrist") + [-30, -50]))
    person, crop = _backend("person"), _backend("crop")
    out = person.render(person.encode_sources([img], [pose], [mask]), target)
    whole = crop.render(crop.encode_sources([img], [pose], [mask]), target)
    assert out.shape == img.shape

    # far from both the old and the new person: the photo itself (the crop output repaints its whole box)
    import cv2

    near = cv2.dilate(((mask > 0) | (pose_mask(target) > 0)).astype(np.uint8), np.ones((61, 61), np.uint8))
    away = near == 0
    assert away.any()
    assert np.array_equal(out[away], img[away])
    box = np.abs(whole.astype(int) - img.astype(int)).max(axis=2) > 0
    assert (box & away).any(), "the crop composite should repaint the box around the person"

    # the moved forearm is the network's; the torso, which did not move, keeps the photo's pixels
    fore = np.round((target.point("r_elbow") + target.point("r_wrist")) / 2).astype(int)
    assert np.abs(out[fore[1] - 1:fore[1] + 2, fore[0] - 1:fore[0] + 2].astype(int)
                  - whole[fore[1] - 1:fore[1] + 2, fore[0] - 1:fore[0] + 2].astype(int)).max() <= 3
    left = (target.point("l_shoulder") + target.point("l_hip")) / 2  # the side away from the moved arm
    centre = (target.point("neck") + (target.point("r_hip") + target.point("l_hip")) / 2) / 2
    cx, cy = np.round(left + 0.3 * (centre - left)).astype(int)
    assert np.abs(out[cy - 3:cy + 4, cx - 3:cx + 4].astype(int) - img[cy - 3:cy + 4, cx - 3:cx + 4].astype(int)).max() <= 2


def test_composite_is_checked():
    with pytest.raises(ValueError, match="composite"):
        AttentionBackend(load_starter=False, composite="everything")


def test_a_part_moved_out_of_the_references_box_is_drawn_by_the_network_in_a_frame_that_holds_it():
    # a raised hand once left the crop framed on the reference: the arm came out half network, half warp
    img, pose, mask = _photo_and_pose()
    person, crop = _backend("person"), _backend("crop")
    state = person.encode_sources([img], [pose], [mask])
    frame = state.cache["frames"][0]
    # the right arm stretched far to the side, beyond the crop box (2:1, centred on the body)
    sh = pose.point("r_shoulder")
    target = pose.moved("r_elbow", sh[0] - 60, sh[1]).moved("r_wrist", sh[0] - 115, sh[1])
    x_box_left = -frame.matrix[0, 2] / frame.matrix[0, 0]
    mid = np.round((target.point("r_elbow") + target.point("r_wrist")) / 2).astype(int)
    assert mid[0] < x_box_left - 5, "the test needs the forearm outside the reference's box"
    drawn_in = person.target_frame(state, target)
    assert drawn_in is not frame
    wrist_in_model = drawn_in.pose_to_model(target).point("r_wrist")
    assert 0 < wrist_in_model[0] < drawn_in.model_size[1] - 1, "the frame the network draws into holds the hand"
    out = person.render(state, target)
    whole = crop.render(crop.encode_sources([img], [pose], [mask]), target)
    # the forearm is the network's (the crop composite's pixels there), not the warp engine's arm
    patch = (slice(mid[1] - 1, mid[1] + 2), slice(mid[0] - 1, mid[0] + 2))
    assert np.abs(out[patch].astype(int) - whole[patch].astype(int)).max() <= 3
    assert np.abs(out[patch].astype(int) - np.array([30, 60, 200])).max(axis=-1).min() > 30
    # the reference crop the network encoded is the same: only the target's frame changed
    again = person.encode_sources([img], [pose], [mask])
    assert np.array_equal(again.cache["crops"][0], state.cache["crops"][0])
    # and a drag that stays inside the reference's box keeps the reference's frame
    small = pose.moved("r_wrist", *(pose.point("r_wrist") + [8, -15]))
    assert person.target_frame(state, small) is frame


@pytest.mark.parametrize("name", ["dgan", "dgan-sa", "attention", "spgnet", "pnr"])
def test_every_neural_backend_puts_its_person_into_the_photo(name):
    # the SPGNet backend once encoded its sources its own way and skipped the backdrop: the app then showed the
    # network's whole crop box, background and all
    from engine.registry import backend_class

    img, pose, mask = _photo_and_pose()
    b = backend_class(name)(load_starter=True)
    assert b.composite == "person"
    state = b.encode_sources([img], [pose], [mask])
    assert "backdrop" in state.cache
    target = pose.moved("r_wrist", *(pose.point("r_wrist") + [-30, -50]))
    out = b.render(state, target)
    import cv2

    near = cv2.dilate(((mask > 0) | (pose_mask(target) > 0)).astype(np.uint8), np.ones((61, 61), np.uint8))
    assert np.array_equal(out[near == 0], img[near == 0])


# ----- detail from the photo ----------------------------------------------------------------------------------
def _textured_person():
    """A procedural person in striped or checked clothes (fine texture the network's 128x64 cannot hold),
    photographed at 640x320: the network's crop is enlarged ~4x onto it."""
    from training.synth import random_body, random_look, render_person

    rng = np.random.default_rng(5)
    img, labels, pose = render_person(random_body(rng, random_look(rng)), random_look(rng), (640, 320), rng)
    return img, labels > 0, pose


def test_photo_detail_gives_an_agreeing_network_the_photos_texture_and_a_disagreeing_one_none():
    import cv2

    from engine.compositing import composite_person
    from engine.framing import frame_for

    img, person, pose = _textured_person()
    frame = frame_for(pose, (128, 64))
    assert 1 / frame.matrix[0, 0] > 3.5, "the test needs a network's crop enlarged ~4x"
    # the network draws the truth at its own resolution, except one region it draws differently (a flat
    # colour: a torn limb, an uncovered area)
    crop = frame.crop(img)
    crop[60:90, 8:56] = (200, 40, 40)
    alpha = frame.paste_alpha if frame.paste_alpha is not None else np.ones(img.shape[:2] + (1,), np.float32)
    plain = composite_person(img, crop, frame, alpha, detail=False)
    out = composite_person(img, crop, frame, alpha, detail=True)
    x0, y0 = frame.inverse @ (8, 60, 1)
    x1, y1 = frame.inverse @ (56, 90, 1)
    other = np.zeros(img.shape[:2], bool)
    other[int(y0):int(y1), int(x0):int(x1)] = True
    agree = person & (alpha[..., 0] > 0.99) & ~cv2.dilate(other.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    core = cv2.erode(other.astype(np.uint8), np.ones((33, 33), np.uint8)).astype(bool)

    def err(a):
        return np.abs(a.astype(int) - img.astype(int)).mean(axis=2)

    # where they agree: the photo's texture is back (the enlarged crop alone misses it)
    assert err(plain)[agree].mean() > 8, "the test needs texture the enlarged crop blurs"
    assert err(out)[agree].mean() < 0.5 * err(plain)[agree].mean()
    # where they disagree: the network's picture, with none of the photo's detail
    assert np.abs(out.astype(int) - plain.astype(int))[core].max() <= 2
    assert out[core].std(axis=0).max() < 3


def test_photo_detail_made_at_the_networks_pitch_gives_the_full_resolution_picture():
    # the low-passed pictures and their agreement are made at 2 samples per model pixel and enlarged (the drag's
    # hot path); the definition, blurring at the photo's full size, is written out here as the reference
    import cv2

    from engine.compositing import AGREE_HIGH, AGREE_LOW, AGREE_SIGMA, DETAIL_SIGMA, photo_detail
    from engine.framing import frame_for

    img, _, pose = _textured_person()
    frame = frame_for(pose, (128, 64))
    scale = 1 / frame.matrix[0, 0]
    crop = frame.crop(img)
    crop[60:90, 8:56] = (200, 40, 40)  # one region where the network disagrees with the photo
    photo = img.astype(np.float32)
    net = cv2.warpAffine(crop, frame.inverse, img.shape[1::-1], flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    photo_low = cv2.GaussianBlur(photo, (0, 0), DETAIL_SIGMA * scale)
    net_low = cv2.GaussianBlur(net, (0, 0), DETAIL_SIGMA * scale)
    diff = cv2.GaussianBlur(np.abs(photo_low - net_low).mean(axis=2), (0, 0), AGREE_SIGMA * scale)
    agree = np.clip((AGREE_HIGH - diff) / (AGREE_HIGH - AGREE_LOW), 0, 1)[..., None]
    want = net + agree * ((photo - photo_low) - (net - net_low))
    got = photo_detail(photo, net, scale)
    assert np.abs(want - net).mean() > 3, "the test needs detail to add"
    err = np.abs(got - want)
    # measured: 0.1 grey levels on average, 1.0 at the 99th percentile
    assert err.mean() < 0.5 and np.percentile(err, 99) < 3


# ----- what the network repaints where a moved part was ---------------------------------------------------------
def _arm_raised(pose):
    """The right arm raised beside the head: the elbow and wrist far from where they hung."""
    sh, el = pose.point("r_shoulder"), pose.point("r_elbow")
    up = abs(sh[1] - el[1])
    return pose.moved("r_elbow", *(sh + [-0.7 * up, -0.7 * up])).moved("r_wrist", *(sh + [-0.7 * up, -1.6 * up]))


def test_the_repaint_mask_leaves_a_still_torso_beside_a_moved_arm_to_the_photo():
    # the arm's layer takes a disc of the body round each joint (no wedge at a bent elbow), torso pixels
    # included; the repaint mask once took that whole layer where the arm was, and the networks repainted the
    # side of the chest by the old elbow as a blur. What the still torso's layer covers there is left out now.
    import cv2

    from engine.backends.warp import WarpBackend
    from engine.encode import body_scale
    from engine.parsing import coarse_parsing

    img, pose, mask = _photo_and_pose(960, 720)
    target = _arm_raised(pose)
    warp = WarpBackend()
    around, repaint, inpainted, _ = warp.render_with_silhouette(warp.encode_sources([img], [pose], [mask]), target)
    labels = coarse_parsing(pose, mask)
    arm = np.isin(labels, (3, 4)).astype(np.uint8)  # r_upper_arm, r_lower_arm
    el = pose.point("r_elbow")
    yy, xx = np.mgrid[:img.shape[0], :img.shape[1]]
    # (3 px clear of the arm: the repaint mask's soft edge where the arm was reaches 0.12 at 2.5 px)
    torso_by_elbow = ((labels == 2) & (np.hypot(xx - el[0], yy - el[1]) < body_scale(pose) / 6)
                      & (cv2.distanceTransform(1 - arm, cv2.DIST_L2, 3) > 3))
    assert torso_by_elbow.sum() > 100, "the test needs torso pixels inside the elbow's disc"
    # measured: 0.61 on average there (0.87 at most) with the whole layer; the torso layer's soft edge leaves
    # a little (0.05 at most)
    assert repaint[torso_by_elbow].mean() < 0.02 and repaint[torso_by_elbow].max() < 0.1
    assert np.array_equal(around[torso_by_elbow], img[torso_by_elbow])
    # where the forearm was is repainted, and is the inpainted background; the raised arm is repainted, and
    # is the photo's arm moved, not inpainted
    uncovered = (labels == 4) & (cv2.distanceTransform(1 - (labels != 4).astype(np.uint8), cv2.DIST_L2, 3) > 3)
    assert uncovered.sum() > 100
    assert repaint[uncovered].mean() > 0.95 and inpainted[uncovered].min() > 0.99
    fore = np.round((target.point("r_elbow") + target.point("r_wrist")) / 2).astype(int)
    assert repaint[fore[1], fore[0]] > 0.99 and inpainted[fore[1], fore[0]] < 0.01
    # the unchanged pose: nothing to repaint, nothing inpainted
    _, still, none, _ = warp.render_with_silhouette(warp.encode_sources([img], [pose], [mask]), pose)
    assert not still.any() and not none.any()


def test_a_head_and_torso_that_only_shifted_keep_the_photos_pixels_where_they_land():
    # the whole person a little further along (a dance frame's pose on another frame, or the body dragged): the
    # head and torso are the photo's own parts moved by a similarity, and a network's redraw of them was a blur
    # of the same pixels (soft face, the braces gone). Where they land the warp render stays; what the move
    # uncovered is still the network's; limbs keep being repainted; a torso whose shape changes is repainted.
    from engine.backends.warp import WarpBackend
    from engine.encode import body_scale
    from engine.parsing import coarse_parsing

    img, pose, mask = _photo_and_pose(960, 720)
    dx = 40
    shifted = pose.transformed(np.array([[1.0, 0, dx], [0, 1.0, 0]]), pose.width, pose.height)
    warp = WarpBackend()
    state = warp.encode_sources([img], [pose], [mask])
    _, repaint, _, _ = warp.render_with_silhouette(state, shifted)
    old = coarse_parsing(pose, mask)
    landed = np.zeros_like(old)
    landed[:, dx:] = old[:, :-dx]
    yy, xx = np.mgrid[:img.shape[0], :img.shape[1]]
    joints = [shifted.point(n) for n in ("r_shoulder", "l_shoulder", "r_hip", "l_hip")]
    off_joints = np.min([np.hypot(xx - x, yy - y) for x, y in joints], axis=0) > body_scale(pose) / 4
    torso_mid = (landed == 2) & (old == 2) & off_joints  # where the torso was and lands, away from the limbs
    head = (landed == 1) & (old == 1)
    uncovered = (old == 2) & (landed == 0)
    assert torso_mid.sum() > 1000 and head.sum() > 200 and uncovered.sum() > 200
    # measured: 0.02 and 0.03 (soft layer edges); 0.95 and 0.92 when the travelled distance decided
    assert repaint[torso_mid].mean() < 0.05 and repaint[head].mean() < 0.08
    assert repaint[uncovered].mean() > 0.75, "what the shifted torso uncovered is the network's"
    arm = (landed == 4) & (old != 4)
    assert repaint[arm].mean() > 0.85, "a shifted forearm is repainted (the warp tears limbs at the joints)"
    # a shoulder dragged out and down: the torso's shape changes, and the network repaints it
    sh, other = pose.point("r_shoulder"), pose.point("l_shoulder")
    wide = pose.moved("r_shoulder", *(sh + [0.6 * (sh[0] - other[0]), 0.3 * body_scale(pose)]))
    _, repaint_wide, _, _ = warp.render_with_silhouette(state, wide)
    assert repaint_wide[(old == 2) & off_joints].mean() > 0.5


def test_a_turned_head_stays_the_photos_face_where_it_lands():
    # the face looks aside (nose and eyes moved towards one ear): at 128x64 a face is ~10x8 pixels that no
    # network draws (a pink blob): the head stays the photo's own where it lands (warp.PHOTO_PARTS), and where
    # it was is the warp render's too (a personal model repainting it drew a second, blurred head there).
    from engine.backends.warp import WarpBackend
    from engine.encode import body_scale

    img, pose, mask = _photo_and_pose(960, 720)
    turn = 0.25 * body_scale(pose)
    turned = pose
    for name in ("nose", "r_eye", "l_eye"):
        turned = turned.moved(name, *(turned.point(name) + [turn, 0]))
    warp = WarpBackend()
    state = warp.encode_sources([img], [pose], [mask])
    layer, A = _head_layer_and_affine(warp, state, turned)
    _, repaint, _, _ = warp.render_with_silhouette(state, turned)
    landed = _landed_mask(layer, A, img.shape[:2])
    assert landed.sum() > 500
    assert repaint[landed].mean() < 0.05  # measured 0.014; 0.56 when the head's change of shape decided
    was = np.zeros(img.shape[:2], bool)
    h, w = layer.alpha.shape
    was[layer.y0:layer.y0 + h, layer.x0:layer.x0 + w] = layer.alpha > 0.5
    was &= ~landed
    assert was.sum() > 200
    assert repaint[was].max() < 0.05


def _head_layer_and_affine(warp, state, target):
    from engine.encode import PART_NAMES

    k = PART_NAMES.index("head")
    i, layer_k, A = warp.choose_sources(state, target)[k]
    return state.cache["layers"][i][layer_k], A


def _landed_mask(layer, A, size):
    """Where the layer's own pixels land in the target (its alpha warped by A, target -> source)."""
    res = warp_layers.warp_layer(layer, A, size[1], size[0])
    core, x0, y0 = res[4], res[2], res[3]
    out = np.zeros(size, bool)
    out[y0:y0 + core.shape[0], x0:x0 + core.shape[1]] = core > 0.5
    return out


def test_no_seam_of_the_inpainted_background_is_put_on_the_networks_picture():
    # on a plain wall the network and the warp render agree, and photo_detail put the warp render's fine detail
    # on the network's wall: there the only detail is the inpainting's seams, which showed as a thin light
    # outline along a moved arm. The inpainted share says where not to take detail from.
    from engine.compositing import composite_person
    from engine.framing import frame_for

    img, _, pose = _textured_person()
    frame = frame_for(pose, (128, 64))
    wall = np.full_like(img, 170)
    crop = frame.crop(wall)  # the network draws the plain wall
    around = wall.copy()
    cx = int(frame.inverse[0, 2] + frame.inverse[0, 0] * 20)  # a column inside the crop box
    around[:, cx:cx + 2] = 235  # a seam: a thin light line in the warp render, two photo pixels wide
    inpainted = np.zeros(img.shape[:2], np.float32)
    inpainted[:, cx - 6:cx + 8] = 1.0  # where the warp render shows the inpainted background
    alpha = np.zeros(img.shape[:2] + (1,), np.float32)
    alpha[100:500, :] = 1.0
    rows = slice(200, 400)
    seamed = composite_person(around, crop, frame, alpha)
    assert seamed[rows, cx:cx + 2].mean() > 185, "the test needs the seam to show without the inpainted share"
    out = composite_person(around, crop, frame, alpha, inpainted=inpainted)
    assert np.abs(out[rows, cx - 8:cx + 10].astype(int) - 170).max() <= 2
    # the photo's detail is still taken where the warp render is the photo's own (here: the same wall)
    assert np.array_equal(out[rows, cx + 40:cx + 60], seamed[rows, cx + 40:cx + 60])


def test_a_raised_arm_beside_the_face_leaves_the_face_the_photos():
    # the network's share is grown past what moved (its edges: hair, a sleeve drawn wide) and feathered; a raised
    # forearm beside the head took the near side of the face into that margin, and the network redrew it as a
    # blur. The inside of the head the warp render shows (the photo's own, warp.PHOTO_PARTS) is kept out of the
    # grown share; its outline is still blended into the network's picture beside it, so that no seam shows.
    import cv2

    from engine.encode import PART_NAMES, body_scale

    img, pose, mask = _photo_and_pose(960, 720)
    img[pose_mask(pose) > 0] = np.random.default_rng(1).integers(0, 255, (int((pose_mask(pose) > 0).sum()), 3))
    sh, el, nose = pose.point("r_shoulder"), pose.point("r_elbow"), pose.point("nose")
    up = abs(sh[1] - el[1])  # the forearm over the top of the head: the elbow beside it, the wrist above it
    target = pose.moved("r_elbow", sh[0] - 0.2 * up, nose[1] - 0.3 * up).moved("r_wrist", nose[0], nose[1] - 1.0 * up)
    person = _backend("person")
    state = person.encode_sources([img], [pose], [mask])
    out = person.render(state, target)
    warp, warp_state = state.cache["backdrop"]
    around = warp.render(warp_state, target)
    head_layer, A = _head_layer_and_affine(warp, warp_state, target)
    head = _landed_mask(head_layer, A, img.shape[:2])
    arm = np.zeros(img.shape[:2], bool)
    for part in ("r_upper_arm", "r_lower_arm"):
        i, k, A = warp.choose_sources(warp_state, target)[PART_NAMES.index(part)]
        arm |= _landed_mask(warp_state.cache["layers"][i][k], A, img.shape[:2])
    near_arm = cv2.dilate(arm.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    face = head & ~near_arm
    grown = cv2.dilate(arm.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    assert face.sum() > 500 and (face & grown).sum() > 100, "the test needs the arm's margin to reach the face"
    diff = np.abs(out.astype(int) - around.astype(int)).max(axis=2)
    assert diff[arm & ~head].mean() > 5  # the network (random weights here) draws the raised arm
    # the face's inside: more than 2% of the body's size in from the head's outline
    inside = face & (cv2.distanceTransform(head.astype(np.uint8), cv2.DIST_L2, 5) > 0.02 * body_scale(target))
    assert inside.sum() > 2000
    # measured: 2% of those pixels changed, by 4 grey levels at most; 7%, by up to 12, with the margin over them
    assert (diff[inside] > 1).mean() < 0.04 and diff[inside].max() <= 5


def test_a_network_that_leans_on_the_photo_paints_in_the_photos_colours():
    # The attention starter drew fashion-real/50's white dress red at its own size; the torso's small share of the
    # picture tinted the dress pink. A network that leans on the photo (its starter weights: it has never seen a
    # real person) keeps its shapes and shading, in the colours of the warp engine's render where it paints.
    from engine.compositing import composite_person
    from engine.framing import frame_for

    img, person, pose = _textured_person()
    frame = frame_for(pose, (128, 64))
    crop = frame.crop(img).astype(np.float32)
    tinted = np.clip(crop + (35, -40, -30), 0, 255).astype(np.uint8)  # the same picture, pink
    alpha = frame.paste_alpha if frame.paste_alpha is not None else np.ones(img.shape[:2] + (1,), np.float32)
    inside = person & (alpha[..., 0] > 0.99)
    plain = composite_person(img, tinted, frame, alpha, detail=False).astype(int)
    fixed = composite_person(img, tinted, frame, alpha, detail=False, colours=True).astype(int)
    shift = lambda out: np.abs((out - img.astype(int))[inside].mean(axis=0)).max()  # noqa: E731
    assert shift(plain) > 25, "the test needs a tint"
    assert shift(fixed) < 0.2 * shift(plain), f"still tinted by {shift(fixed):.1f} levels of {shift(plain):.1f}"
    # its own picture still: the tinted crop's edges and shading, not the photo's pixels pasted
    assert np.abs(fixed - img.astype(int))[inside].mean() > 2


@pytest.mark.parametrize("kind", ["starter", "file"])
def test_only_a_network_on_its_starter_weights_paints_in_the_photos_colours(kind):
    from engine.backends.contract import WeightsInfo

    img, pose, mask = _photo_and_pose()
    b = _backend("person")
    b._weights = WeightsInfo(kind, "test")
    assert b.leans_on_the_photo() == (kind == "starter")
    target = pose.moved("r_hip", *(pose.point("r_hip") + [-12, 4])).moved("l_hip", *(pose.point("l_hip") + [12, 4]))
    state = b.encode_sources([img], [pose], [mask])
    out, around, share = b.composed(state, target)
    painted = share[..., 0] > 0.3
    assert painted.sum() > 50, "the torso's change of shape is the network's"
    off = np.abs(out.astype(int) - around.astype(int))[painted].mean()
    # a random network's colours are nobody's: on starter weights they are the photo's, else its own
    assert (off < 12) if kind == "starter" else (off > 12), off
