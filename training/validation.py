"""Validation during training: the fixed first test pairs, scored by training/metrics.py, and image grids.

The loop hands in ``generate(batch) -> images``: how the generator runs (precision, device) is the loop's.
Both run inside ``preserved_rng`` so that validating never changes the training's random sequence.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from .batches import collate, preserved_rng, to_device


def pose_from_tensor(t: torch.Tensor, width: int, height: int):
    from engine.pose import Pose

    a = t.detach().float().cpu().numpy()
    return Pose(a[:, :2], a[:, 2] > 0.5, width, height)


def val_indices(val_ds, pairs: int, train_ds=None) -> list[int]:
    """Which ``pairs`` pairs of the validation split a run checks, fixed for the run.

    Unlike the training pairs, so that the chosen checkpoint generalises instead of memorising: the targets
    whose pose is farthest from every training image's (the poses a person will drag to), each with the source
    used least so far (ties: the one farthest in pose from the target), so a check sees many source photos, not
    the first one only. Without ``train_ds``, or when some pose cannot be compared, the first pairs in order."""
    from engine.pose import pose_distance

    n = min(len(val_ds), int(pairs))
    if train_ds is None:
        return list(range(n))
    train_poses = [train_ds.poses[name] for name in train_ds.names]
    index = {ab: i for i, ab in enumerate(val_ds.pairs)}
    by_target: dict[str, list[str]] = {}
    for a, b in val_ds.pairs:
        by_target.setdefault(b, []).append(a)

    def novelty(name):
        pose = val_ds.poses[name]
        d = [pose_distance(pose, t) for t in train_poses]
        return min(d) if d else 0.0

    targets = sorted(by_target, key=lambda t: (-novelty(t), t))
    used: dict[str, int] = {}
    out: list[int] = []
    while len(out) < n:
        added = False
        for t in targets:
            left = [a for a in by_target[t] if index[(a, t)] not in out]
            if not left or len(out) >= n:
                continue
            a = min(left, key=lambda s: (used.get(s, 0), -pose_distance(val_ds.poses[t], val_ds.poses[s]), s))
            used[a] = used.get(a, 0) + 1
            out.append(index[(a, t)])
            added = True
        if not added:
            break
    return out


def val_batches(val_ds, batch: int, indices: list[int]) -> Iterator[dict]:
    """The validation pairs ``indices`` (val_indices), in order, in batches of ``batch``."""
    for i in range(0, len(indices), int(batch)):
        yield collate([val_ds[j] for j in indices[i:i + int(batch)]])


def validate(generate: Callable[[dict], torch.Tensor], batches, device, size: tuple[int, int],
             pckh: bool = False) -> dict:
    """The mean of metrics.batch_metrics over the batches (plus PCKh with ``pckh``) and the pair count."""
    from .metrics import PCKh, batch_metrics, to_uint8

    sums: dict[str, float] = {}
    count = 0
    h, w = size
    pck = PCKh() if pckh else None
    try:
        with preserved_rng():
            for batch in batches:
                batch = to_device(batch, device)
                gen = to_uint8(generate(batch))
                poses = [pose_from_tensor(p, w, h) for p in batch["tgt_pose"]]
                for k, v in batch_metrics(to_uint8(batch["tgt_img"]), gen, poses).items():
                    sums[k] = sums.get(k, 0.0) + float(v.sum())
                count += len(gen)
                if pck is not None:
                    for img, pose in zip(gen, poses):
                        pck.add(img, pose)
    finally:
        if pck is not None:
            pck.close()
    res = {k: v / max(count, 1) for k, v in sums.items()}
    if pck is not None:
        res["pckh"] = pck.value if pck.value is not None else 0.0
    res["pairs"] = int(count)
    return res


def grid_batch(val_ds, grid_size: int, indices: list[int] | None = None) -> dict:
    """The pairs an image grid shows: the first ``grid_size`` of the validation pairs ``indices``."""
    indices = list(indices) if indices is not None else list(range(len(val_ds)))
    return collate([val_ds[i] for i in indices[:int(grid_size)]])


def image_grid(rows: list[torch.Tensor], gap: int = 2) -> np.ndarray:
    """Rows of (B, 3, H, W) images in [-1, 1] -> one uint8 picture, a row per tensor, a column per pair."""
    from .metrics import to_uint8

    imgs = [to_uint8(r) for r in rows]
    n, h, w = imgs[0].shape[:3]
    out = np.full((len(imgs) * (h + gap) - gap, n * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(imgs):
        for j in range(n):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = row[j]
    return out


def grid_rows(batch: dict, generated: torch.Tensor, extra: dict) -> list[torch.Tensor]:
    """source(s) | target | output | the recipe's extra images, one row each."""
    rows = [batch["src_img"][:, m] for m in range(batch["src_img"].shape[1])]
    rows += [batch["tgt_img"], generated] + [v for v in extra.values()]
    return [r.float().cpu() for r in rows]
