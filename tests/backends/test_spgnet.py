"""SPGNet backend: pose encodings, coarse parsing, SEAN, region style codes, training, caching, multi-shot."""
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.backends import layers
from engine.backends.spgnet import CONFIGS, SPGNetwork, SpgnetBackend, resolve_config
from engine.backends.spgnet_layers import SEAN, broadcast_styles, one_hot
from engine.encode import PART_LIMBS, PART_NAMES, limb_distance_maps
from engine.errors import PoseEditorError
from engine.parsing import coarse_parsing
from engine.pose import J, Pose





TINY = dict(CONFIGS["cpu-small"], image_size=[64, 32], width=0.25, num_scales=None, num_warp_scales=None)


# ----- a stick person whose parts are known ------------------------------------------------------------------
STAR = {  # x, y in a 160 x 120 (H x W) image; arms and legs spread so no two parts overlap
    "nose": (60, 20), "r_eye": (56, 17), "l_eye": (64, 17), "r_ear": (52, 19), "l_ear": (68, 19),
    "neck": (60, 36),
    "r_shoulder": (46, 38), "r_elbow": (28, 50), "r_wrist": (12, 62),
    "l_shoulder": (74, 38), "l_elbow": (92, 50), "l_wrist": (108, 62),
    "r_hip": (52, 82), "r_knee": (44, 110), "r_ankle": (38, 140),
    "l_hip": (68, 82), "l_knee": (76, 110), "l_ankle": (82, 140),
}


def star_pose(h=160, w=120, scale=1.0, dx=0.0, dy=0.0) -> Pose:
    xy = np.zeros((18, 2), np.float32)
    for name, (x, y) in STAR.items():
        xy[J[name]] = (x * scale + dx, y * scale + dy)
    return Pose(xy, np.ones(18, bool), w, h)


def draw_person(pose: Pose, limb_width=8):
    """(mask, true labels, image): limbs as rectangles, the torso a quadrilateral, the head a disc, each part
    painted with its own label and colour."""
    h, w = pose.height, pose.width
    labels = np.zeros((h, w), np.uint8)
    torso = np.round(pose.xy[[J["r_shoulder"], J["l_shoulder"], J["l_hip"], J["r_hip"]]]).astype(np.int32)
    cv2.fillConvexPoly(labels, torso, 2)
    cv2.circle(labels, tuple(np.round(pose.xy[J["nose"]]).astype(int)), 12, 1, -1)
    for part, (a, b) in PART_LIMBS.items():
        cv2.line(labels, tuple(np.round(pose.xy[a]).astype(int)), tuple(np.round(pose.xy[b]).astype(int)),
                 1 + PART_NAMES.index(part), limb_width)
    palette = np.array([(128, 128, 128)] + [(int(40 + 20 * k), int(250 - 22 * k), int(90 * (k % 3)))
                                             for k in range(10)], np.uint8)
    return (labels > 0).astype(np.float32), labels, palette[labels]


def pose_tensor(poses) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.concatenate([p.xy, p.present[:, None].astype(np.float32)], 1)
                                      for p in poses]))


def image_tensor(imgs) -> torch.Tensor:
    return torch.from_numpy(np.stack(imgs).astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)


# ----- pose encodings ------------------------------------------------------------------------------------------
def test_distance_maps_numpy_and_torch_agree_with_a_hand_computed_distance():
    xy = np.zeros((18, 2), np.float32)
    present = np.zeros(18, bool)
    for j, p in ((1, (10, 10)), (2, (30, 10)), (3, (30, 40))):   # neck, r_shoulder, r_elbow; no wrist
        xy[j], present[j] = p, True
    pose = Pose(xy, present, 48, 64)
    ref = limb_distance_maps(pose, size=(64, 48))
    got = layers.limb_distance_maps(pose_tensor([pose]), (64, 48))[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # limb 0 is neck -> r_shoulder, the horizontal segment y = 10, x in [10, 30]
    assert ref[0, 14, 20] == pytest.approx(math.exp(-0.1 * 4), abs=1e-6)             # 4 px below its middle
    assert ref[0, 13, 35] == pytest.approx(math.exp(-0.1 * math.sqrt(5 ** 2 + 3 ** 2)), abs=1e-6)  # past its end
    assert ref[0, 10, 15] == pytest.approx(1.0)                                        # on the bone
    # limb 1 is r_shoulder -> r_elbow, the vertical segment x = 30, y in [10, 40]
    assert ref[1, 25, 24] == pytest.approx(math.exp(-0.6), abs=1e-6)
    # limb 2 (r_elbow -> r_wrist) has a missing end: all zero, and so is every limb without both joints
    assert not ref[2].any() and not ref[3:].any()
    # the network's pose input is the 18 heatmaps then these 12 maps
    net = SPGNetwork(dict(TINY, image_size=[64, 48]))
    maps = net.pose_maps(pose_tensor([pose]))[0].numpy()
    assert maps.shape == (30, 64, 48)
    np.testing.assert_allclose(maps[18:], ref, atol=1e-5)
    assert maps[1, 10, 10] == pytest.approx(1.0) and not maps[4].any()


# ----- parsing -------------------------------------------------------------------------------------------------
def _agreement_per_part(pred, true, pose, keep_off=7):
    """Share of each drawn part's pixels labelled right, away from the joints (where parts legitimately meet)."""
    h, w = true.shape
    ys, xs = np.mgrid[0:h, 0:w]
    near_joint = np.zeros((h, w), bool)
    for x, y in pose.xy[1:14]:
        near_joint |= np.hypot(xs - x, ys - y) < keep_off
    out = {}
    for k, name in enumerate(PART_NAMES, start=1):
        m = (true == k) & ~near_joint
        out[name] = float((pred[m] == k).mean())
    return out


def test_coarse_parsing_labels_a_drawn_person_part_by_part():
    pose = star_pose()
    mask, true, _ = draw_person(pose)
    pred = coarse_parsing(pose, mask)
    assert not pred[mask == 0].any()
    share = _agreement_per_part(pred, true, pose)
    assert min(share.values()) > 0.9, share
    # bone middles are unambiguous
    for part, (a, b) in PART_LIMBS.items():
        x, y = np.round((pose.xy[a] + pose.xy[b]) / 2).astype(int)
        assert pred[y, x] == 1 + PART_NAMES.index(part), part


def test_encode_sources_parses_the_person_in_model_crop_coordinates():
    """The backend's source parsing: from the given mask (cropped with the frame), or from a skeleton mask."""
    torch.manual_seed(0)
    backend = SpgnetBackend(config=dict(TINY, image_size=[128, 64]), load_starter=False)
    backend.use_network(backend.build_network(backend.config))
    big = star_pose(320, 240, scale=2.0)                    # a photo twice the drawing's size
    mask, true, img = draw_person(big, limb_width=16)
    state = backend.encode_sources([img], [big], [mask])
    parsing = state.cache["parsings"][0]
    assert parsing.shape == (128, 64)
    mpose = state.cache["model_poses"][0]
    frame = state.cache["frames"][0]
    true_crop = cv2.warpAffine(true, frame.matrix, (64, 128), flags=cv2.INTER_NEAREST)
    share = _agreement_per_part(parsing, true_crop, mpose, keep_off=4)
    assert min(share.values()) > 0.8, share
    # an empty mask leaves no person; no mask at all draws one from the skeleton
    assert not backend.encode_sources([img], [big], [np.zeros_like(mask)]).cache["parsings"][0].any()
    drawn = backend.encode_sources([img], [big]).cache["parsings"][0]
    for part, (a, b) in PART_LIMBS.items():
        x, y = np.round((mpose.xy[a] + mpose.xy[b]) / 2).astype(int)
        assert drawn[y, x] == 1 + PART_NAMES.index(part), part
    with pytest.raises(PoseEditorError):
        backend.encode_sources([img], [big], [mask[:100]])


# ----- SEAN ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_sean_equals_its_formula(norm):
    torch.manual_seed(1)
    b, ch, L, d, hid, h, w = 2, 3, 4, 5, 6, 6, 5
    sean = SEAN(ch, L, d, hid, norm).train()
    sean.index = 0
    with torch.no_grad():
        sean.theta_alpha.fill_(0.7)
        sean.theta_beta.fill_(-1.2)
    x = torch.randn(b, ch, h, w) * 3 + 1
    labels = torch.randint(0, L, (b, h, w))
    codes = torch.randn(b, L, d)
    seg = one_hot(labels, L)
    out = sean(x, seg, [sean.style_kernel(codes)])

    # eq. 6-7 by hand
    dims = (0, 2, 3) if norm == "batch" else (2, 3)
    mu = x.mean(dims, keepdim=True)
    var = x.var(dims, unbiased=False, keepdim=True)
    xn = (x - mu) / torch.sqrt(var + 1e-5)
    style = torch.zeros(b, d, h, w)                      # C: each pixel gets its region's code
    for i in range(b):
        for y in range(h):
            for xx in range(w):
                style[i, :, y, xx] = codes[i, labels[i, y, xx]]
    assert torch.allclose(broadcast_styles(codes, seg), style)
    hidden = F.relu(F.conv2d(seg, sean.shared[0].weight, sean.shared[0].bias, padding=1))
    g_s = F.conv2d(hidden, sean.gamma_s.weight, sean.gamma_s.bias, padding=1)
    b_s = F.conv2d(hidden, sean.beta_s.weight, sean.beta_s.bias, padding=1)
    g_c = F.conv2d(style, sean.gamma_c.weight, sean.gamma_c.bias, padding=1)
    b_c = F.conv2d(style, sean.beta_c.weight, sean.beta_c.bias, padding=1)
    ta, tb = 1 / (1 + math.exp(-0.7)), 1 / (1 + math.exp(1.2))
    alpha = 1 + ta * g_s + (1 - ta) * g_c
    beta = tb * b_s + (1 - tb) * b_c
    torch.testing.assert_close(out, xn * alpha + beta, atol=1e-4, rtol=1e-4)
    # the fast style path (a convolution of the one-hot map) equals the convolution of the style map
    fast = sean.style_from_kernel(seg, sean.style_kernel(codes))
    torch.testing.assert_close(fast[0], g_c, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast[1], b_c, atol=1e-5, rtol=1e-5)


# ----- region style codes --------------------------------------------------------------------------------------
def _two_patches(red_at, blue_at, size=(96, 64), side=16):
    img = torch.full((1, 3, *size), 0.1)
    labels = torch.zeros(1, *size, dtype=torch.long)
    for (y, x), colour, label in ((red_at, (0.9, -0.8, -0.6), 3), (blue_at, (-0.7, -0.5, 0.9), 7)):
        img[0, :, y:y + side, x:x + side] = torch.tensor(colour).view(3, 1, 1)
        labels[0, y:y + side, x:x + side] = label
    return img, labels


def test_style_codes_follow_their_region_when_it_moves():
    torch.manual_seed(2)
    net = SPGNetwork(TINY).eval()
    with torch.no_grad():
        img1, lab1 = _two_patches((24, 8), (56, 40))
        img2, lab2 = _two_patches((56, 40), (24, 8))       # the two regions swap places
        c1 = net.style(img1, lab1)[0]
        c2 = net.style(img2, lab2)[0]
    gap = (c1[3] - c1[7]).norm()
    assert gap > 0.1                                     # red and blue parts have different codes
    assert (c2[3] - c1[3]).norm() < 0.1 * gap            # the red region's code moved with it
    assert (c2[7] - c1[7]).norm() < 0.1 * gap
    # broadcast onto a target layout: every pixel of a region carries that region's code
    tgt = torch.zeros(1, 20, 10, dtype=torch.long)
    tgt[0, :5, :] = 3
    tgt[0, 10:, 3:7] = 7
    cmap = broadcast_styles(c2[None], one_hot(tgt, 11))[0]
    assert torch.allclose(cmap[:, 2, 4], c2[3]) and torch.allclose(cmap[:, 15, 5], c2[7])
    assert torch.allclose(cmap[:, 7, 0], c2[0])


def test_multi_shot_style_codes_average_each_region_over_references():
    torch.manual_seed(3)
    net = SPGNetwork(TINY).eval()
    img_a, lab_a = _two_patches((24, 8), (56, 40))
    img_b, lab_b = _two_patches((8, 8), (40, 24), side=24)
    lab_b[lab_b == 3] = 5                                # the red patch is region 5 in the second photo only
    with torch.no_grad():
        fa, fb = net.style.features(img_a), net.style.features(img_b)
        both = net.style.pooled(torch.cat([fa, fb]), torch.cat([lab_a, lab_b]), refs=2)[0]
        pa = net.style.pooled(fa, lab_a, 1)[0]
        pb = net.style.pooled(fb, lab_b, 1)[0]
    area_a, area_b = float((lab_a == 7).sum()), float((lab_b == 7).sum())
    torch.testing.assert_close(both[7], (pa[7] * area_a + pb[7] * area_b) / (area_a + area_b))
    torch.testing.assert_close(both[5], pb[5])           # seen in one reference: that reference's style
    torch.testing.assert_close(both[3], pa[3])
    assert not both[9].any()                             # seen nowhere: zero


# ----- training ------------------------------------------------------------------------------------------------
def _batch(h=64, w=32, b=2):
    """Drawn people at two places: the target is the source moved and scaled, its parsing the drawn parts."""
    src_imgs, src_poses, src_lab, tgt_imgs, tgt_poses, tgt_lab = [], [], [], [], [], []
    for i in range(b):
        s = star_pose(h, w, scale=w / 120 * (0.9 + 0.1 * i))
        t = star_pose(h, w, scale=w / 120 * (0.8 + 0.1 * i), dx=2 + i, dy=3)
        for pose, imgs, poses, labs in ((s, src_imgs, src_poses, src_lab), (t, tgt_imgs, tgt_poses, tgt_lab)):
            _, lab, img = draw_person(pose, limb_width=3)
            imgs.append(img)
            poses.append(pose)
            labs.append(lab)
    return {"src_img": image_tensor(src_imgs)[:, None], "src_pose": pose_tensor(src_poses)[:, None],
            "src_parsing": torch.from_numpy(np.stack(src_lab).astype(np.int64))[:, None],
            "tgt_img": image_tensor(tgt_imgs), "tgt_pose": pose_tensor(tgt_poses),
            "tgt_parsing": torch.from_numpy(np.stack(tgt_lab).astype(np.int64))}


def test_a_few_training_steps_lower_the_parsing_and_image_losses():
    from training.recipes.base import recipe_class

    torch.manual_seed(4)
    recipe = recipe_class("spgnet")(TINY, {"lr": 1e-3})
    assert recipe.options["lambda_ce"] == 10 and recipe.options["lambda_adv"] == 0.01
    batch = _batch()
    logs = [recipe.train_step(batch, s) for s in range(8)]
    assert all({"loss", "ce", "l1", "perc", "adv", "d"} <= set(log) for log in logs)
    first = {k: np.mean([log[k] for log in logs[:2]]) for k in ("ce", "l1", "loss")}
    last = {k: np.mean([log[k] for log in logs[-2:]]) for k in ("ce", "l1", "loss")}
    assert last["ce"] < 0.9 * first["ce"], (first, last)
    assert last["l1"] < first["l1"], (first, last)
    assert last["loss"] < first["loss"], (first, last)
    out = recipe.generate(batch)
    assert out.shape == (2, 3, 64, 32) and out.abs().max() <= 1
    rows = recipe.extra_images(batch)
    assert rows["parsing (predicted)"].shape == (2, 3, 64, 32)


# ----- caching, multi-shot, the backend ------------------------------------------------------------------------
def test_cached_render_equals_a_full_forward_single_and_multi_shot():
    torch.manual_seed(5)
    net = SPGNetwork(TINY).eval()
    batch = _batch()
    two = {k: torch.cat([v, v.flip(0)], 1) if k.startswith("src") else v for k, v in batch.items()}
    other = batch["tgt_pose"].clone()
    other[:, :, 0] += 3
    with torch.no_grad():
        for b in (batch, two):
            state = net.encode_sources(b["src_img"], b["src_pose"], b["src_parsing"])
            cached = net.render(state, b["tgt_pose"])
            net.render(state, other)                       # another drag in between must not touch the state
            again = net.render(state, b["tgt_pose"])
            full = net(b["src_img"], b["src_pose"], b["tgt_pose"], b["src_parsing"])
            torch.testing.assert_close(cached, full, atol=1e-6, rtol=0)
            torch.testing.assert_close(again, full, atol=1e-6, rtol=0)
        # the second reference is used: it changes the result
        single = net(batch["src_img"], batch["src_pose"], batch["tgt_pose"], batch["src_parsing"])
        multi = net(two["src_img"], two["src_pose"], two["tgt_pose"], two["src_parsing"])
        assert (single - multi).abs().max() > 1e-3
        # the plain contract call (no parsing) derives one from the skeletons
        assert net(batch["src_img"], batch["src_pose"], batch["tgt_pose"]).shape == (2, 3, 64, 32)


def test_backend_renders_exposes_the_parsing_and_its_overlay(tmp_path):
    from engine.registry import backend_class
    from engine.weights import WeightsMeta, save_weights

    assert backend_class("spgnet") is SpgnetBackend and SpgnetBackend.multi_shot
    torch.manual_seed(6)
    config = dict(TINY, image_size=[128, 64])
    backend = SpgnetBackend(config=config, load_starter=False)
    backend.use_network(backend.build_network(backend.config))
    photo_pose = star_pose(600, 500, scale=2.0, dx=150, dy=140)   # a small person in a big photo
    mask, _, img = draw_person(photo_pose, limb_width=16)
    target = photo_pose.moved("r_wrist", 200, 180)
    state = backend.encode_sources([img, img[:, ::-1].copy()], [photo_pose, photo_pose.mirrored()], [mask, None])
    out = backend.render(state, target)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert backend.last_parsing.shape == (128, 64) and backend.last_parsing.max() < 11
    overlay = backend.parsing_overlay(state, target)
    assert overlay.shape == img.shape and overlay.dtype == np.uint8
    # the overlay paints each crop pixel's label colour at its place in the photo, black outside the crop
    from engine.parsing import LABEL_COLORS
    labels = backend.last_parsing
    backend._parsing_memo = None
    assert np.array_equal(backend.predict_parsing(state, target), labels)   # stage 1 alone gives the same
    frame = state.cache["frames"][0]

    def overlay_matches(labels, overlay):
        hits = total = 0
        for y in range(2, 126, 3):
            for x in range(2, 62, 3):
                if (labels[y - 1:y + 2, x - 1:x + 2] != labels[y, x]).any():
                    continue                                                # skip label borders
                px, py = np.round(frame.inverse @ np.array([x, y, 1.0])).astype(int)
                total += 1
                hits += np.abs(overlay[py, px].astype(int) - LABEL_COLORS[labels[y, x]]).max() <= 30
        return total > 100 and hits / total > 0.9

    assert overlay_matches(labels, overlay)
    varied = state.cache["parsings"][0]            # a layout with every part (the untrained net predicts one)
    backend._parsing_memo = (id(state), target, varied)
    assert overlay_matches(varied, backend.parsing_overlay(state, target))
    mx, my = frame.matrix @ np.array([5.0, 5.0, 1.0])
    assert mx < -10 and my < -10 and not overlay[5, 5].any()
    # the render is the network's render of the cached state, pasted back
    crop = backend.render_crop(state, target)
    with torch.inference_mode():
        t = backend._pose_tensor([frame.pose_to_model(target)])
        ref = backend.net.render(state.cache["tensors"], t)[0]
    assert np.abs(crop.astype(int) - ((ref.clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).numpy()).max() <= 1
    # weights round trip through the engine's format
    path = save_weights(tmp_path / "spg.safetensors", backend.net.state_dict(),
                        WeightsMeta("spgnet", backend.net.config, tuple(config["image_size"])))
    fresh = SpgnetBackend(load_starter=False)
    fresh.load_weights(path)
    assert np.array_equal(fresh.render(fresh.encode_sources([img], [photo_pose], [mask]), target),
                          backend.render(backend.encode_sources([img], [photo_pose], [mask]), target))


def test_configs_and_bad_input():
    assert SpgnetBackend.default_config["image_size"] == [128, 64]
    assert SpgnetBackend.default_config["width"] == 0.5
    p128, p256 = resolve_config(CONFIGS["paper-128x64"]), resolve_config(CONFIGS["paper-256x256"])
    assert (p128["num_scales"], p128["num_warp_scales"], p128["width"]) == (5, 4, 1.0)
    assert (p256["num_scales"], p256["num_warp_scales"]) == (7, 5)
    assert resolve_config(dict(TINY, image_size=[256, 128]))["num_scales"] == 6
    with pytest.raises(ValueError):
        SPGNetwork(dict(TINY, image_size=[30, 20]))
    with pytest.raises(ValueError):
        SPGNetwork(dict(TINY, spatn_input="pose"))
    net = SPGNetwork(TINY).eval()
    b = _batch()
    with pytest.raises(PoseEditorError, match="labels"):
        net.encode_sources(b["src_img"], b["src_pose"], b["src_parsing"] + 11)
    with pytest.raises(PoseEditorError, match="source images"):
        net.encode_sources(b["src_img"][..., :16], b["src_pose"], b["src_parsing"])
    # SPATN* (the source image instead of its parsing) builds and renders
    star = SPGNetwork(dict(TINY, spatn_input="image")).eval()
    with torch.no_grad():
        assert star(b["src_img"], b["src_pose"], b["tgt_pose"], b["src_parsing"]).shape == (2, 3, 64, 32)
