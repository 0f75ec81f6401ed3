import numpy as np
import torch

from engine.backends import layers
from engine.encode import (PART_NAMES, heatmaps, limb_distance_maps, onehot_maps, part_warps,
                           target_part_masks)
from engine.pose import J, NUM_JOINTS, Pose
from engine.presets import fit_preset


def standing(w=64, h=128):
    return fit_preset("standing", w, h)


def pose_tensor(p):
    return torch.tensor(np.concatenate([p.xy, p.present[:, None]], 1), dtype=torch.float32)[None]


def test_heatmap_is_gaussian_sigma6_at_the_joint():
    p = standing()
    hm = heatmaps(p)
    x, y = np.round(p.xy[J["r_wrist"]]).astype(int)
    assert hm.shape == (NUM_JOINTS, 128, 64)
    d2 = (x - p.xy[J["r_wrist"], 0]) ** 2 + (y + 6 - p.xy[J["r_wrist"], 1]) ** 2
    assert np.isclose(hm[J["r_wrist"], y + 6, x], np.exp(-d2 / 72), atol=1e-5)
    missing = p.with_present("nose", False)
    assert heatmaps(missing)[J["nose"]].max() == 0


def test_onehot_and_limb_maps_and_torch_versions_agree():
    p = standing().with_present("l_elbow", False)
    oh = onehot_maps(p)
    assert oh.sum() == p.count and oh[J["neck"]].max() == 1
    lm = limb_distance_maps(p)
    assert lm.shape[0] == 12 and lm[4].max() == 0  # l_shoulder-l_elbow limb is missing
    # on the neck-r_shoulder segment the distance is 0 -> exp(0) = 1; 10 px away from an end -> exp(-1)
    a, b = p.xy[J["neck"]], p.xy[J["r_shoulder"]]
    mid = np.round((a + b) / 2).astype(int)
    assert lm[0, mid[1], mid[0]] > 0.85
    t = pose_tensor(p)
    assert torch.allclose(layers.heatmaps(t, (128, 64))[0], torch.from_numpy(heatmaps(p)), atol=1e-5)
    assert torch.allclose(layers.limb_distance_maps(t, (128, 64))[0], torch.from_numpy(lm), atol=1e-4)
    assert torch.equal(layers.onehot_maps(t, (128, 64))[0], torch.from_numpy(oh))


def test_part_warps_recover_a_known_translation():
    src = standing()
    tgt = Pose(src.xy + np.array([7.0, -3.0]), src.present, src.width, src.height)
    pw = part_warps(src, tgt)
    assert pw.valid.all() and not pw.borrowed.any()
    for A in pw.affines:  # target -> source: subtract the shift
        assert np.allclose(A, [[1, 0, -7], [0, 1, 3]], atol=1e-3)
    assert pw.masks[PART_NAMES.index("torso")].sum() > 50


def test_mirror_limb_fallback_and_missing_target():
    src = standing().with_present("r_elbow", False)
    tgt = standing()
    pw = part_warps(src, tgt)
    k = PART_NAMES.index("r_upper_arm")
    assert pw.valid[k] and pw.borrowed[k]
    # the borrowed region is the left upper arm's, in the source
    assert np.array_equal(pw.masks[k], pw.masks[PART_NAMES.index("l_upper_arm")])
    pw2 = part_warps(standing(), standing().with_present("l_knee", False))
    assert not pw2.valid[PART_NAMES.index("l_thigh")] and pw2.masks[PART_NAMES.index("l_thigh")].sum() == 0
    assert target_part_masks(tgt, src)[k].sum() > 0


def test_scaled_warps_match_warps_of_scaled_poses():
    src, tgt = standing(), standing().moved("r_wrist", 5, 40)
    full = part_warps(src, tgt)
    half = full.scaled(0.5)
    k = PART_NAMES.index("r_lower_arm")
    # a target point maps to the same source point at both scales (pixel centres aligned)
    q = np.array([5.0, 40.0, 1.0])
    s_full = full.affines[k] @ q
    qh = np.array([(5 + 0.5) * 0.5 - 0.5, (40 + 0.5) * 0.5 - 0.5, 1.0])
    assert np.allclose(half.affines[k] @ qh, (s_full + 0.5) * 0.5 - 0.5, atol=1e-3)
    tA = layers.scale_affines(torch.from_numpy(full.affines)[None].double(), 0.5)[0].numpy()
    assert np.allclose(tA, half.affines, atol=1e-4)


def test_warp_features_moves_a_blob_where_the_transform_says():
    src = standing()
    tgt = Pose(src.xy + np.array([6.0, 4.0]), src.present, src.width, src.height)
    pw = part_warps(src, tgt)
    feat = torch.zeros(1, 1, 128, 64)
    x, y = np.round(src.xy[J["neck"]] + [0, 20]).astype(int)  # inside the torso
    feat[0, 0, y, x] = 1.0
    masks = torch.from_numpy(pw.masks * pw.valid[:, None, None])[None]
    out = layers.warp_features(feat, torch.from_numpy(pw.affines)[None], masks)
    yy, xx = np.unravel_index(out[0, 0].argmax().item(), (128, 64))
    assert (xx, yy) == (x + 6, y + 4)


def test_a_torso_on_a_line_is_not_sheared_by_a_rounding():
    # A portrait's torso is the neck and the two shoulders, the neck a hair off the shoulders' line. An affine
    # fitted to three points so nearly on a line turned a thousandth of a pixel (a pose read back from JSON)
    # into a shear that smeared the torso over the whole photo; such points get a similarity.
    present = np.zeros(NUM_JOINTS, bool)
    xy = np.zeros((NUM_JOINTS, 2), np.float32)
    for name, p in (("r_shoulder", (177.0, 227.0)), ("neck", (280.0, 233.0)), ("l_shoulder", (384.0, 239.0)),
                    ("nose", (250.0, 103.0)), ("r_eye", (230.0, 86.0)), ("l_eye", (277.0, 78.0))):
        xy[J[name]], present[J[name]] = p, True
    src = Pose(xy, present, 528, 420)
    rng = np.random.default_rng(0)
    tgt = Pose(xy + rng.uniform(-1e-3, 1e-3, xy.shape).astype(np.float32), present, 528, 420)
    tgt = tgt.moved("nose", 275, 111).moved("r_eye", 255, 94).moved("l_eye", 302, 86)
    pw = part_warps(src, tgt)
    torso, head = PART_NAMES.index("torso"), PART_NAMES.index("head")
    assert pw.valid[torso] and np.allclose(pw.affines[torso], [[1, 0, 0], [0, 1, 0]], atol=0.05)
    # the head (the face moved off the neck, not turned about it) is the similarity that fits the face and
    # the neck best: the nose comes back near where it was
    A = pw.affines[head].astype(np.float64)
    assert np.allclose(A @ [275, 111, 1], [250, 103], atol=3)
    # a well spread torso keeps its affine (paper eq. 2): a shear is recovered exactly
    s = standing()
    sheared = Pose(s.xy @ np.array([[1, 0], [0.2, 1]], np.float32).T, s.present, s.width, s.height)
    A = part_warps(s, sheared).affines[torso]
    assert np.allclose(A[:, :2], np.linalg.inv([[1, 0], [0.2, 1]]), atol=1e-3)


def test_the_heads_warp_turns_and_never_shears():
    # The face turned about the neck (what the app does when the nose is dragged): the head's transform is a
    # rotation about the neck, the same for every backend's part warps.
    src = standing(200, 400)
    a = np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    neck, tgt = src.point("neck"), src
    for name in ("nose", "r_eye", "l_eye", "r_ear", "l_ear"):
        q = neck + rot @ (src.point(name) - neck)
        tgt = tgt.moved(name, q[0], q[1])
    A = part_warps(src, tgt).affines[PART_NAMES.index("head")].astype(np.float64)
    assert np.allclose(A[:, :2], rot.T, atol=1e-3)  # target -> source: the inverse turn
    assert np.allclose(A @ [*neck, 1], neck, atol=0.05)
    # a face that changes shape (the nose towards one ear, as a look aside) still moves the head whole: an
    # affine would squash it
    aside = src.moved("nose", *(src.point("nose") + [12, 0])).moved("r_eye", *(src.point("r_eye") + [8, 0]))
    A = part_warps(src, aside).affines[PART_NAMES.index("head")].astype(np.float64)
    assert np.isclose(A[0, 0], A[1, 1]) and np.isclose(A[0, 1], -A[1, 0])


def test_a_half_body_torso_keeps_its_cut_end_only_in_its_own_photo():
    # a torso without hips, a shoulder raised: in the photo being edited (same frame) the cut end stays on the
    # photo's edge and slides with the shoulders across the body; from another photo of the person, framed
    # otherwise (or a network's crop), its coordinates mean nothing in the target's frame: the torso turns and
    # scales whole (pinned there, it sheared, a piece of shoulder floating beside the neck)
    from engine.backends.warp_parts import body_goes_on
    from engine.encode import torso_polygon

    p = fit_preset("standing", 400, 400)
    for n in ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle"):
        p = p.with_present(n, False)
    k = PART_NAMES.index("torso")
    raised = p.moved("l_shoulder", p.point("l_shoulder")[0], p.point("l_shoulder")[1] - 15)
    A = part_warps(p, raised, same_frame=True).affines[k].astype(np.float64)
    bottom = torso_polygon(p)[2:]
    assert np.abs(bottom @ A[:, :2].T + A[:, 2] - bottom).max() < 6.0  # the cut end stays (a least-squares fit)
    stepped = Pose(p.xy + [30.0, 0.0], p.present, 400, 400)  # the whole body steps right: the end slides along
    A = part_warps(p, stepped, same_frame=True).affines[k].astype(np.float64)
    assert np.abs(A[:, :2] - np.eye(2)).max() < 1e-3 and abs(A[0, 2] + 30) < 0.5
    other = Pose(p.xy * 1.2 + [150.0, 40.0], p.present, 640, 480)  # another reference, framed otherwise
    A = part_warps(other, raised).affines[k].astype(np.float64)
    assert abs(A[0, 0] - A[1, 1]) < 1e-6 and abs(A[0, 1] + A[1, 0]) < 1e-6  # a similarity: no shear
    # the body goes on past the bottom edge only (a side edge's cut keeps its rounded end)
    assert body_goes_on(p) == (False, True, False, False)


def test_warp_features_over_the_parts_windows_is_the_max_over_every_part_everywhere():
    # Each part is sampled over the target pixels its mask can reach only; the values and the features'
    # gradient are those of sampling every part over the whole map (float32: to the positions' last bit).
    from engine.presets import fit_preset
    from training.selfpairs import perturb_pose

    rng = np.random.default_rng(3)
    srcs = [fit_preset(n, 64, 128) for n in ("standing", "walking", "arms-up")]
    tgts = [perturb_pose(p, rng) for p in srcs]
    warps = [part_warps(s, t) for s, t in zip(srcs, tgts)]
    affines = torch.from_numpy(np.stack([pw.affines for pw in warps]))
    masks = torch.from_numpy(np.stack([pw.masks * pw.valid[:, None, None] for pw in warps]))
    masks[2, 4] = 0  # a part the sample does not have
    torch.manual_seed(0)
    feat = torch.randn(3, 5, 128, 64)
    for m in (masks, torch.ones_like(masks)):  # the second: every pixel in every part's window, the plain path
        a, b = feat.clone().requires_grad_(), feat.clone().requires_grad_()
        fast = layers.warp_features(a, affines, m)
        plain = layers._warp_everywhere(b, affines.float(), m, "bilinear")
        assert torch.allclose(fast, plain, atol=1e-4)
        weights = torch.randn_like(fast)
        (fast * weights).sum().backward()
        (plain * weights).sum().backward()
        assert torch.allclose(a.grad, b.grad, atol=1e-4)
    assert layers.part_windows(affines.float(), masks, 128, 64)[2][4] is None
    assert all(w is None for w in layers.part_windows(affines.float(), torch.ones_like(masks), 128, 64))
