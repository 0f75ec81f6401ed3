"""Evaluation metrics of pose transfer, computed the way the reference implementations compute them.

- ``ssim``: skimage's ``structural_similarity(ref, gen, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, channel_axis=-1, data_range=gen.max() - gen.min())``, which is what pose-gan,
  PATN and DGAN call. skimage filters with a Gaussian of sigma 1.5 truncated at 3.5 sigma (an 11-tap window),
  then drops a border of 5 pixels before averaging; the border is exactly where the filter would reach outside
  the image, so a "valid" convolution gives the same figure without any padding rule. Written in torch so it
  runs batched during training, without skimage.
- ``mask_ssim``: SSIM of both images multiplied by a body mask drawn from the target pose
  (engine.detect.pose_mask), as pose-gan's mask-SSIM.
- ``l1`` (mean absolute difference in [0, 1]), ``psnr`` (dB, 8-bit peak).
- ``PCKh``: the engine's detector on the generated image; a joint is correct within 0.5 x the target's head
  size of the target's joint; the figure is the fraction over the joints present in the target.
- IS / FID (torchvision Inception-v3) and LPIPS (AlexNet + the lpips package's linear layers): computed only
  when those weights are already on disk; otherwise the report says "not computed: ... not available offline".
  Nothing is downloaded.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5     # scipy/skimage default
SSIM_K1, SSIM_K2 = 0.01, 0.03
HIGHER_IS_BETTER = {"ssim": True, "mask_ssim": True, "psnr": True, "pckh": True, "l1": False, "fid": False,
                    "is": True, "lpips": False}

INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


# ================================================================================================================
# SSIM
# ================================================================================================================
@lru_cache(maxsize=None)
def gaussian_taps(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE) -> np.ndarray:
    """scipy.ndimage.gaussian_filter1d's weights: radius int(truncate * sigma + 0.5), normalised to sum 1."""
    r = int(truncate * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * x * x / (sigma * sigma))
    return k / k.sum()


def _as_batch(img) -> torch.Tensor:
    """(H,W,C) / (B,H,W,C) array or tensor -> (B, C, H, W) float64 tensor, values unchanged."""
    if not isinstance(img, torch.Tensor):
        img = np.asarray(img)
        img = img if img.flags.writeable else img.copy()  # torch warns on read-only arrays (a cached render)
    t = torch.as_tensor(img)
    if t.ndim == 2:
        t = t[..., None]
    if t.ndim == 3:
        t = t[None]
    return t.permute(0, 3, 1, 2).to(torch.float64)


def ssim_batch(ref: torch.Tensor, gen: torch.Tensor, data_range: torch.Tensor | float | None = None) -> torch.Tensor:
    """SSIM per image of (B, C, H, W) tensors (pixel values as they are, e.g. 0..255); returns (B,) float64.

    ``data_range`` None: each generated image's max - min (the references' choice).
    """
    ref = ref.to(torch.float64)
    gen = gen.to(torch.float64)
    b, c, h, w = ref.shape
    taps = torch.from_numpy(gaussian_taps()).to(ref.device)
    n = taps.numel()
    if h < n or w < n:
        raise ValueError(f"SSIM needs images of at least {n}x{n} pixels, got {w}x{h}")
    if data_range is None:
        data_range = (gen.amax(dim=(1, 2, 3)) - gen.amin(dim=(1, 2, 3)))
    dr = torch.as_tensor(data_range, dtype=torch.float64, device=ref.device).reshape(-1)
    dr = torch.where(dr > 0, dr, torch.full_like(dr, 255.0)).expand(b).reshape(b, 1, 1, 1)
    kx = taps.view(1, 1, 1, n).expand(c, 1, 1, n)
    ky = taps.view(1, 1, n, 1).expand(c, 1, n, 1)

    def filt(x):  # separable Gaussian, valid positions only (= skimage's result after its border crop)
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    ux, uy = filt(ref), filt(gen)
    uxx, uyy, uxy = filt(ref * ref), filt(gen * gen), filt(ref * gen)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy   # population covariance (no N/(N-1))
    c1, c2 = (SSIM_K1 * dr) ** 2, (SSIM_K2 * dr) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(2, 3)).mean(dim=1)  # per channel, then the channels' mean (skimage's channel_axis)


def ssim(ref, gen, data_range: float | None = None) -> float:
    """SSIM of two (H, W, 3) images (uint8 or float, same scale) as the references compute it."""
    return float(ssim_batch(_as_batch(ref), _as_batch(gen), data_range)[0])


def body_mask(pose) -> np.ndarray:
    """The pose-drawn body mask (0/1 float32) used by mask-SSIM."""
    from engine.detect import pose_mask

    return (pose_mask(pose) > 0.5).astype(np.float32)


def mask_ssim(ref, gen, mask: np.ndarray) -> float:
    """SSIM of both images multiplied by ``mask`` (H, W): the figure on the person only."""
    m = np.asarray(mask, np.float64)[..., None]
    return ssim(np.asarray(ref, np.float64) * m, np.asarray(gen, np.float64) * m)


def l1_batch(ref: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image of (B, C, H, W) 0..255 tensors, in [0, 1]."""
    return (ref.double() - gen.double()).abs().mean(dim=(1, 2, 3)) / 255.0


def psnr_batch(ref: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
    """PSNR per image (dB, 8-bit peak) of (B, C, H, W) 0..255 tensors; 100 for identical images."""
    mse = ((ref.double() - gen.double()) ** 2).mean(dim=(1, 2, 3))
    return torch.where(mse > 0, 10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-12)), torch.full_like(mse, 100.0))


def l1(ref, gen) -> float:
    """Mean absolute difference of two uint8 images, in [0, 1]."""
    return float(l1_batch(_as_batch(ref), _as_batch(gen))[0])


def psnr(ref, gen) -> float:
    return float(psnr_batch(_as_batch(ref), _as_batch(gen))[0])


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8, rounded as the engine rounds its outputs."""
    return ((t.detach().float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def batch_metrics(ref: np.ndarray, gen: np.ndarray, target_poses=None) -> dict[str, torch.Tensor]:
    """ssim, l1, psnr (and mask_ssim when the target poses are given) per pair of (B, H, W, 3) uint8 images:
    the one computation behind validation during training and ``image_metrics``."""
    r, g = _as_batch(ref), _as_batch(gen)
    out = {"ssim": ssim_batch(r, g)}
    if target_poses is not None:
        m = torch.from_numpy(np.stack([body_mask(p) for p in target_poses]))[:, None].double()
        out["mask_ssim"] = ssim_batch(r * m, g * m)
    out["l1"] = l1_batch(r, g)
    out["psnr"] = psnr_batch(r, g)
    return out


def image_metrics(ref: np.ndarray, gen: np.ndarray, target_pose=None) -> dict:
    """ssim, l1, psnr (and mask_ssim when the target pose is given) of one uint8 image pair."""
    poses = None if target_pose is None else [target_pose]
    return {k: float(v[0]) for k, v in batch_metrics(np.asarray(ref)[None], np.asarray(gen)[None], poses).items()}


# ================================================================================================================
# PCKh
# ================================================================================================================
def pckh_counts(pred, target, alpha: float = 0.5) -> tuple[int, int]:
    """(correct, total) over the joints present in ``target``; ``pred`` None (nobody found) gets none right."""
    present = np.asarray(target.present, bool)
    total = int(present.sum())
    if pred is None or total == 0:
        return 0, total
    thr = alpha * target.head_size()
    d = np.linalg.norm(np.asarray(pred.xy) - np.asarray(target.xy), axis=1)
    ok = present & np.asarray(pred.present, bool) & (d <= thr)
    return int(ok.sum()), total


class PCKh:
    """Accumulates PCKh over generated images with the engine's detector (one detector, built on first use)."""

    def __init__(self, alpha: float = 0.5):
        self.alpha = alpha
        self.correct = self.total = 0
        self.undetected = 0
        self._detector = None

    def add(self, generated: np.ndarray, target_pose) -> tuple[int, int]:
        from engine.detect import PoseDetector
        from engine.errors import NoPersonError

        if self._detector is None:
            self._detector = PoseDetector(hands=False)  # joints only
        try:
            pred = self._detector.detect(generated).pose
        except NoPersonError:
            pred = None
            self.undetected += 1
        c, t = pckh_counts(pred, target_pose, self.alpha)
        self.correct += c
        self.total += t
        return c, t

    @property
    def value(self) -> float | None:
        return self.correct / self.total if self.total else None

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None


# ================================================================================================================
# IS / FID / LPIPS: only with weights already on disk
# ================================================================================================================
def _hub_file(name: str) -> Path | None:
    p = Path(torch.hub.get_dir()) / "checkpoints" / name
    return p if p.is_file() else None


def not_available(what: str) -> str:
    return f"not computed: {what} not available offline"


def _images_tensor(images, size: int | None, device) -> torch.Tensor:
    x = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0).permute(0, 3, 1, 2).to(device)
    if size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


@lru_cache(maxsize=2)
def _inception(path: str, device: str):
    import torchvision

    # transform_input=True as torchvision sets it for these weights: they expect ImageNet-normalised input
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval().to(device)


def inception_outputs(images: list, device="cpu", batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(pool features (N, 2048), logits (N, 1000)) of torchvision's ImageNet Inception-v3, from the cache.

    Note: torchvision's Inception weights are not the TF graph the FID papers used; figures compare runs of this
    tool with each other, not with published FIDs.
    """
    path = _hub_file(INCEPTION_FILE)
    if path is None:
        raise FileNotFoundError(INCEPTION_FILE)
    net = _inception(str(path), str(device))
    feats = []
    hook = net.avgpool.register_forward_hook(lambda m, i, o: feats.append(o.flatten(1).cpu()))
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    logits = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = (_images_tensor(images[i:i + batch], 299, device) - mean) / std
            logits.append(net(x).cpu())
    hook.remove()
    return torch.cat(feats).double().numpy(), torch.cat(logits).double().numpy()


def frechet_distance(mu1, s1, mu2, s2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2); tr((S1 S2)^1/2) is the sum of the square roots of the
    eigenvalues of S1 S2 (real and non-negative for covariance matrices, up to rounding)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(s1).astype(np.float64), np.atleast_2d(s2).astype(np.float64)
    ev = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = float(np.sqrt(np.clip(ev.real, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID of two sets of features (N, D).

    With fewer samples than dimensions (a few hundred test pairs against Inception's 2048 features), the
    covariances are S1 = A'A and S2 = B'B with A, B the centred features / sqrt(N - 1); the non-zero eigenvalues
    of S1 S2 are those of (A B')(A B')', so tr((S1 S2)^1/2) is the sum of the singular values of the small
    N1 x N2 matrix A B': exact, and seconds faster than a 2048 x 2048 eigen-decomposition.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if min(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    A = (a - a.mean(0)) / np.sqrt(max(len(a) - 1, 1))
    B = (b - b.mean(0)) / np.sqrt(max(len(b) - 1, 1))
    tr_sqrt = float(np.linalg.svd(A @ B.T, compute_uv=False).sum())
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + (A * A).sum() + (B * B).sum() - 2 * tr_sqrt)


def inception_score(logits: np.ndarray, splits: int = 10) -> float:
    """exp(E_x KL(p(y|x) || p(y))), averaged over ``splits`` chunks as in the original code."""
    logits = torch.as_tensor(logits, dtype=torch.float64)
    p = torch.softmax(logits, dim=1).numpy()
    scores = []
    for part in np.array_split(p, max(1, min(splits, len(p)))):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores))


def lpips_available() -> str | None:
    """None when LPIPS can run offline, else what is missing."""
    if importlib.util.find_spec("lpips") is None:
        return "the lpips package (its linear-layer weights)"
    if _hub_file(ALEXNET_FILE) is None:
        return f"AlexNet ImageNet weights ({ALEXNET_FILE})"
    return None


def lpips_distance(refs: list, gens: list, device="cpu") -> float:
    import lpips  # optional; its AlexNet comes from the torch cache checked by lpips_available

    net = lpips.LPIPS(net="alex", verbose=False).eval().to(device)
    vals = []
    with torch.no_grad():
        for r, g in zip(refs, gens):
            a = _images_tensor([r], None, device) * 2 - 1
            b = _images_tensor([g], None, device) * 2 - 1
            vals.append(float(net(a, b).mean()))
    return float(np.mean(vals))


def distribution_metrics(refs: list, gens: list, device="cpu") -> dict:
    """IS, FID and LPIPS, or a "not computed: ..." string for each that cannot run offline."""
    out: dict = {}
    if _hub_file(INCEPTION_FILE) is None:
        why = not_available(f"Inception-v3 ImageNet weights ({INCEPTION_FILE} in {Path(torch.hub.get_dir()) / 'checkpoints'})")
        out["is"] = out["fid"] = why
    elif len(gens) < 2:
        out["is"] = out["fid"] = "not computed: needs at least 2 images"
    else:
        fr, _ = inception_outputs(refs, device)
        fg, lg = inception_outputs(gens, device)
        out["fid"] = fid_from_features(fr, fg)
        out["is"] = inception_score(lg)
    missing = lpips_available()
    out["lpips"] = not_available(missing) if missing else lpips_distance(refs, gens, device)
    return out
