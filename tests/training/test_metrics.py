"""Metrics against slow, direct references: SSIM as skimage computes it, mask-SSIM, L1, PSNR, PCKh, FID/IS."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training import metrics as M


def slow_ssim(ref: np.ndarray, gen: np.ndarray, data_range: float) -> float:
    """SSIM the long way: at every pixel whose 11x11 window lies inside the image, the Gaussian-weighted means,
    variances and covariance (population form) of that window; their SSIM averaged per channel, then over
    channels. This is skimage's structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, channel_axis=-1) after its crop of the filter's border."""
    sigma, r = 1.5, 5
    ax = np.arange(-r, r + 1, dtype=np.float64)
    g1 = np.exp(-ax ** 2 / (2 * sigma ** 2))
    g1 /= g1.sum()
    w = np.outer(g1, g1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    h, wd, ch = ref.shape
    per_channel = []
    for c in range(ch):
        x, y = ref[..., c].astype(np.float64), gen[..., c].astype(np.float64)
        vals = []
        for i in range(r, h - r):
            for j in range(r, wd - r):
                px, py = x[i - r:i + r + 1, j - r:j + r + 1], y[i - r:i + r + 1, j - r:j + r + 1]
                mx, my = (w * px).sum(), (w * py).sum()
                vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
                cxy = (w * (px - mx) * (py - my)).sum()
                vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
        per_channel.append(np.mean(vals))
    return float(np.mean(per_channel))


def skimage_like_ssim(ref, gen, data_range):
    """skimage's own algorithm, step by step with scipy's gaussian_filter (mode 'reflect') on the whole image,
    then the border crop of (win_size - 1) // 2 = 5 pixels: checks that the border never matters."""
    from scipy.ndimage import gaussian_filter

    out = []
    for c in range(ref.shape[2]):
        x, y = ref[..., c].astype(np.float64), gen[..., c].astype(np.float64)
        f = lambda a: gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")  # noqa: E731
        ux, uy, uxx, uyy, uxy = f(x), f(y), f(x * x), f(y * y), f(x * y)
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        out.append(s[5:-5, 5:-5].mean())
    return float(np.mean(out))




@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (24, 19, 3)).astype(np.uint8)
    # a related image: blurred, shifted in brightness, with noise
    gen = np.clip(ref.astype(np.float64) * 0.7 + 40 + rng.normal(0, 20, ref.shape), 0, 255).astype(np.uint8)
    return ref, gen


def test_ssim_matches_the_slow_direct_computation(pair):
    ref, gen = pair
    dr = float(gen.max()) - float(gen.min())
    fast = M.ssim(ref, gen)
    assert fast == pytest.approx(slow_ssim(ref, gen, dr), abs=1e-10)
    assert fast == pytest.approx(skimage_like_ssim(ref, gen, dr), abs=1e-10)
    assert 0.05 < fast < 0.95
    # the data range is the generated image's, unless given
    assert M.ssim(ref, gen, data_range=255) == pytest.approx(slow_ssim(ref, gen, 255.0), abs=1e-10)
    assert M.ssim(ref, ref) == pytest.approx(1.0, abs=1e-12)


def test_batched_ssim_gives_each_image_its_own_figure(pair):
    ref, gen = pair
    r = torch.from_numpy(np.stack([ref, ref])).permute(0, 3, 1, 2).double()
    g = torch.from_numpy(np.stack([gen, ref])).permute(0, 3, 1, 2).double()
    s = M.ssim_batch(r, g)
    assert s[0].item() == pytest.approx(M.ssim(ref, gen), abs=1e-12) and s[1].item() == pytest.approx(1.0)


def test_mask_ssim_l1_psnr(pair):
    ref, gen = pair
    mask = np.zeros(ref.shape[:2], np.float32)
    mask[4:20, 3:15] = 1
    rm, gm = ref * mask[..., None], gen * mask[..., None]
    assert M.mask_ssim(ref, gen, mask) == pytest.approx(slow_ssim(rm, gm, float(gm.max() - gm.min())), abs=1e-10)
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 51, np.uint8)
    assert M.l1(a, b) == pytest.approx(0.2)
    assert M.psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 51 ** 2))
    assert M.psnr(a, a) == 100.0


def test_body_mask_comes_from_the_pose():
    from engine.pose import J, Pose

    xy = np.zeros((18, 2), np.float32)
    present = np.zeros(18, bool)
    for name, (x, y) in {"neck": (16, 12), "r_shoulder": (10, 13), "l_shoulder": (22, 13), "r_hip": (12, 34),
                         "l_hip": (20, 34), "nose": (16, 6)}.items():
        xy[J[name]], present[J[name]] = (x, y), True
    m = M.body_mask(Pose(xy, present, 32, 64))
    assert m.shape == (64, 32) and set(np.unique(m)) == {0.0, 1.0}
    assert m[24, 16] == 1 and m[60, 2] == 0


def test_pckh_counts_joints_within_half_a_head():
    from engine.pose import J, Pose

    xy = np.tile(np.array([[10.0, 20.0]], np.float32), (18, 1)) + np.arange(18)[:, None] * 3
    present = np.ones(18, bool)
    present[J["l_ankle"]] = False
    target = Pose(xy, present, 100, 100)
    head = target.head_size()
    pred_xy = xy.copy()
    pred_xy[J["r_wrist"]] += (0.49 * head, 0)      # just inside
    pred_xy[J["l_wrist"]] += (0.51 * head, 0)      # just outside
    pred_present = np.ones(18, bool)
    pred_present[J["nose"]] = False                # missed by the detector: wrong
    pred = Pose(pred_xy, pred_present, 100, 100)
    assert M.pckh_counts(pred, target) == (17 - 2, 17)  # over the target's 17 present joints
    assert M.pckh_counts(None, target) == (0, 17)


def test_pckh_with_the_real_detector_on_a_real_photo(shared_data):
    from engine.detect import detect_pose
    from engine.images import load_image

    img = load_image(shared_data("fashion-sources", "women1.jpg"))
    truth = detect_pose(img).pose
    p = M.PCKh()
    try:
        p.add(img, truth)                               # the photo itself: every joint found where it is
        assert p.value == pytest.approx(1.0)
        p.add(np.full_like(img, 128), truth)            # a blank output: nobody, no joint right
        assert p.undetected == 1 and p.value == pytest.approx(0.5)
    finally:
        p.close()


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    expect = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert M.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expect, rel=1e-9)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))  # rotating both leaves it unchanged
    assert M.frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T) == pytest.approx(expect, rel=1e-7)


def test_fid_of_few_samples_equals_the_full_covariance_formula():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 40)), rng.normal(1.0, 2.0, size=(7, 40))
    full = M.frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert M.fid_from_features(a, b) == pytest.approx(full, rel=1e-8)
    assert M.fid_from_features(a, a) == pytest.approx(0.0, abs=1e-9)
    many_a, many_b = rng.normal(size=(60, 8)), rng.normal(0.5, 1.5, size=(50, 8))  # N >= D: the direct formula
    assert M.fid_from_features(many_a, many_b) == pytest.approx(M.frechet_distance(
        many_a.mean(0), np.cov(many_a, rowvar=False), many_b.mean(0), np.cov(many_b, rowvar=False)), rel=1e-9)


def test_inception_score_bounds():
    uniform = np.zeros((10, 1000))
    assert M.inception_score(uniform, splits=1) == pytest.approx(1.0)
    confident = np.full((10, 1000), -50.0)
    confident[np.arange(10), np.arange(10)] = 50.0   # ten sure and different classes: IS = 10
    assert M.inception_score(confident, splits=1) == pytest.approx(10.0, rel=1e-6)


def test_is_fid_lpips_say_when_their_weights_are_not_available(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-hub"))
    imgs = [np.zeros((32, 32, 3), np.uint8)] * 2
    out = M.distribution_metrics(imgs, imgs)
    assert out["fid"].startswith("not computed: Inception-v3") and out["fid"].endswith("not available offline")
    assert out["is"] == out["fid"] and out["lpips"].startswith("not computed:")


def test_fid_and_is_run_when_inception_weights_are_in_the_cache(tmp_path, monkeypatch):
    """With a weights file where torchvision keeps it (here a randomly initialised Inception-v3 of the right
    layout, since real ImageNet weights cannot be had offline), the code path computes real figures."""
    import torchvision

    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    torch.save(net.state_dict(), hub / "checkpoints" / M.INCEPTION_FILE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    rng = np.random.default_rng(0)
    a = [rng.integers(0, 256, (40, 24, 3)).astype(np.uint8) for _ in range(2)]
    b = [np.clip(x.astype(int) // 2, 0, 255).astype(np.uint8) for x in a]
    fa, la = M.inception_outputs(a)
    assert fa.shape == (2, 2048) and la.shape == (2, 1000) and np.isfinite(fa).all()
    out = M.distribution_metrics(a, b)
    fb, _ = M.inception_outputs(b)
    assert out["fid"] == pytest.approx(M.fid_from_features(fa, fb)) and out["fid"] > 0
    assert 1.0 <= out["is"] <= 2.0 + 1e-9  # two images: the score lies between 1 and 2
