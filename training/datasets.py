"""Training datasets: PairDataset over a dataset folder (training/dataset_format.py) and a resumable, seeded loader.

A pose-gan / PATN folder is read as it is. Masks and parsing it lacks are derived from the pose
(engine.detect.pose_mask, engine.parsing.coarse_parsing), and identities from the pairs (two images in one pair
are one person).

Data order is reproducible and resumable: the order of epoch ``e`` is a permutation drawn from (seed, e) alone,
so a loader built again with ``start=(epoch, index)`` continues exactly where a run stopped. Per-item
randomness (flip, colour jitter, which extra sources) is drawn from (dataset seed, epoch, index), so it does not
depend on worker processes or on how many items were drawn before.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from engine.errors import DatasetError
from engine.pose import Pose

# the format's readers, re-exported: callers of PairDataset's module find them here too
from .dataset_format import (SPLITS, _components, _image_dirs, locate, mask_path, parsing_path,  # noqa: F401
                             read_annotations, read_identities, read_pairs)

# Part labels swapped by a horizontal flip (the person's right becomes their left).
COARSE_FLIP = {3: 5, 4: 6, 5: 3, 6: 4, 7: 9, 8: 10, 9: 7, 10: 8}          # engine.parsing labels
LIP_FLIP = {14: 15, 15: 14, 16: 17, 17: 16, 18: 19, 19: 18}                 # LIP / CIHP 20-class labels
FLIP_MAPS = {"coarse": COARSE_FLIP, "synthetic": COARSE_FLIP, "lip": LIP_FLIP, "cihp": LIP_FLIP}


# ================================================================================================================
# PairDataset
# ================================================================================================================
def _to_image_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0)


def _pose_array(pose: Pose) -> np.ndarray:
    return np.concatenate([pose.xy, pose.present[:, None].astype(np.float32)], 1).astype(np.float32)


class PairDataset(Dataset):
    """Pairs (sources of one person, target of the same person) of a dataset folder, as tensors.

    Item keys (no batch axis): src_img (M,3,H,W) in [-1,1], src_pose (M,18,3), src_mask (M,1,H,W),
    src_parsing (M,H,W) int64, tgt_img (3,H,W), tgt_pose (18,3), tgt_mask (1,H,W), tgt_parsing (H,W) int64.
    M = num_sources: the pair's "from" image first, then other images of the person from the same split (never
    the target), repeated when the person has too few.

    ``size`` (H, W) resizes images whose size differs (poses follow). ``augment`` flips the whole item
    horizontally half of the time (mirrored poses, swapped left/right part labels; only for label sets whose
    left/right pairs are known) and applies one small colour jitter to all its images. ``cache`` keeps decoded images in memory ("auto": when they fit in ~1 GB).
    Indexing with an int gives epoch 0's item; with (epoch, index) the item of that epoch (ResumableSampler).
    """

    def __init__(self, root, split: str = "train", num_sources: int = 1, augment: bool = False,
                 size: tuple[int, int] | None = None, seed: int = 0, cache="auto", reframe: float = 0.0):
        if num_sources < 1:
            raise DatasetError(f"num_sources must be at least 1, not {num_sources}")
        self.root = Path(root)
        self.split = split
        self.num_sources = int(num_sources)
        self.augment = bool(augment)
        self.reframe = float(reframe)
        self.seed = int(seed)
        files = locate(self.root, split)
        self.files = files
        self.info = files.info or {}
        self.parsing_kind = self.info.get("parsing", "coarse") if files.info else "coarse"
        # which labels a flip swaps: the dataset may say so ("parsing_flip": {"14": 15, ...}); for label sets not
        # known here, flipping would silently mislabel left and right, so flips are left out (jitter stays)
        own = self.info.get("parsing_flip")
        self.flip_map = {int(k): int(v) for k, v in own.items()} if isinstance(own, dict) else \
            FLIP_MAPS.get(self.parsing_kind)
        self.flip_lut = np.arange(256, dtype=np.uint8)
        for a, b in (self.flip_map or {}).items():
            self.flip_lut[a] = b

        rows = read_pairs(files.pairs)
        if not rows:
            raise DatasetError(f"{files.pairs}: no pairs (the {split} split is empty)")
        stored = tuple(self.info["image_size"]) if "image_size" in self.info else None
        self.poses: dict[str, Pose] = {}
        for ann in files.annotations:
            for name, pose in read_annotations(ann, stored).items():
                self.poses.setdefault(name, pose)
        for a, b, lineno in rows:
            for n in (a, b):
                if n not in self.poses:
                    raise DatasetError(f"{files.pairs}: line {lineno}: image {n!r} has no row in "
                                       f"{', '.join(p.name for p in files.annotations)}")

        # where the images are: the first candidate folder that holds the first pair's image
        first = rows[0][0]
        dirs = _image_dirs(self.root, split)
        self.image_dir = next((d for d in dirs if (d / first).is_file()), None)
        if self.image_dir is None:
            where = ", ".join(str(d) for d in dirs) or f"{self.root}/images"
            raise DatasetError(f"{files.pairs}: line {rows[0][2]}: image {first!r} not found (looked in {where})")
        checked: set[str] = set()
        for a, b, lineno in rows:
            for n in (a, b):
                if n not in checked:
                    if not (self.image_dir / n).is_file():
                        raise DatasetError(f"{files.pairs}: line {lineno}: image {n!r} is missing from "
                                           f"{self.image_dir}")
                    checked.add(n)

        if stored is None:
            img = cv2.imread(str(self.image_dir / first), cv2.IMREAD_COLOR)
            if img is None:
                raise DatasetError(f"{self.image_dir / first}: not a readable image")
            stored = img.shape[:2]
            for p in self.poses.values():
                p.width, p.height = stored[1], stored[0]
        self.stored_size = (int(stored[0]), int(stored[1]))
        self.size = tuple(int(v) for v in size) if size else self.stored_size

        self.pairs = [(a, b) for a, b, _ in rows]
        # identities: the dataset's own list, else groups of images linked by pairs (of both splits)
        if files.identities is not None:
            ident = read_identities(files.identities)
            missing = [n for ab in self.pairs for n in ab if n not in ident]
            if missing:
                raise DatasetError(f"{files.identities}: image {missing[0]!r} (used in {files.pairs.name}) "
                                   f"has no identity")
        else:
            edges = list(self.pairs)
            other = [s for s in SPLITS if s != split]
            for s in other:
                try:
                    edges += [(a, b) for a, b, _ in read_pairs(locate(self.root, s).pairs)]
                except DatasetError:
                    pass
            ident = _components(edges)
        self.identity = ident
        # the images of each person in this split, for multi-shot sources
        members: dict[str, set[str]] = {}
        for a, b in self.pairs:
            for n in (a, b):
                members.setdefault(ident[n], set()).add(n)
        self.members = {k: sorted(v) for k, v in members.items()}
        self.names = sorted({n for ab in self.pairs for n in ab})
        h, w = self.size
        budget = len(self.names) * h * w * 5
        self._cache: dict | None = {} if (cache is True or (cache == "auto" and budget < 1_000_000_000)) else None

    # ----- basics -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def pair_names(self, index: int) -> tuple[str, str]:
        return self.pairs[index]

    def identities(self) -> list[str]:
        return sorted(self.members)

    def sources_for(self, index: int, epoch: int = 0) -> list[str]:
        """The names of the item's M source images: the pair's "from" first, then others of the person."""
        src, tgt = self.pairs[index]
        names = [src]
        if self.num_sources > 1:
            others = [n for n in self.members[self.identity[src]] if n not in (src, tgt)]
            rng = np.random.default_rng([self.seed, epoch, index, 1])
            if others:
                order = list(rng.permutation(len(others)))
                while len(names) < self.num_sources:
                    names += [others[i] for i in order][: self.num_sources - len(names)]
            names += [src] * (self.num_sources - len(names))
        return names

    # ----- loading one image with its pose, mask and parsing ------------------------------------------------
    def _read_rgb(self, path: Path) -> np.ndarray:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f"{path}: not a readable image")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def load(self, name: str) -> tuple[np.ndarray, Pose, np.ndarray, np.ndarray]:
        """(RGB uint8 (H,W,3), Pose, mask float32 (H,W) 0..1, parsing uint8 (H,W)) at the dataset's size."""
        if self._cache is not None and name in self._cache:
            img, pose, mask, parsing = self._cache[name]
            return img, pose.copy(), mask, parsing
        from engine.detect import pose_mask
        from engine.parsing import coarse_parsing

        img = self._read_rgb(self.image_dir / name)
        sh, sw = self.stored_size
        if img.shape[:2] != (sh, sw):
            # a folder of mixed sizes: bring each image to the stored size, poses were given in its own pixels
            pose0 = self.poses[name]
            pose0 = Pose(pose0.xy, pose0.present, img.shape[1], img.shape[0])
            pose = _resize_pose(pose0, (sh, sw))
            img = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        else:
            pose = self.poses[name].copy()
        mp = mask_path(self.root, name)
        if mp.is_file():
            m = cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE)
            if m is None:
                raise DatasetError(f"{mp}: not a readable mask image")
            mask = m.astype(np.float32) / 255.0
            if mask.shape != (sh, sw):
                mask = cv2.resize(mask, (sw, sh), interpolation=cv2.INTER_LINEAR)
        else:
            mask = pose_mask(pose)
        pp = parsing_path(self.root, name)
        if pp.is_file():
            parsing = cv2.imread(str(pp), cv2.IMREAD_UNCHANGED)
            if parsing is None or parsing.ndim != 2:
                raise DatasetError(f"{pp}: not a single-channel label image")
            if parsing.shape != (sh, sw):
                parsing = cv2.resize(parsing, (sw, sh), interpolation=cv2.INTER_NEAREST)
            parsing = parsing.astype(np.uint8)
        else:
            parsing = coarse_parsing(pose, mask)
        if self.size != (sh, sw):
            h, w = self.size
            pose = _resize_pose(pose, self.size)
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if h < sh else cv2.INTER_CUBIC)
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
            parsing = cv2.resize(parsing, (w, h), interpolation=cv2.INTER_NEAREST)
        if self._cache is not None:
            self._cache[name] = (img, pose.copy(), mask, parsing)
        return img, pose, mask, parsing

    # ----- items --------------------------------------------------------------------------------------------
    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        epoch, index = (0, key) if not isinstance(key, (tuple, list)) else (int(key[0]), int(key[1]))
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"pair {index} of {len(self)}")
        rng = np.random.default_rng([self.seed, epoch, index, 0])
        flip = self.augment and rng.random() < 0.5 and self.flip_map is not None
        jitter = _jitter_params(rng) if self.augment else None
        names = self.sources_for(index, epoch) + [self.pairs[index][1]]
        imgs, poses, masks, parsings = [], [], [], []
        for n in names:
            img, pose, mask, parsing = self.load(n)
            if flip:
                img = np.ascontiguousarray(img[:, ::-1])
                mask = np.ascontiguousarray(mask[:, ::-1])
                parsing = self.flip_lut[parsing[:, ::-1]]
                pose = pose.mirrored()
            if self.reframe:
                img, pose, mask, parsing = _reframed(rng, self.reframe, img, pose, mask, parsing)
            if jitter is not None:
                img = _apply_jitter(img, *jitter)
            imgs.append(_to_image_tensor(img))
            poses.append(torch.from_numpy(_pose_array(pose)))
            masks.append(torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None])
            parsings.append(torch.from_numpy(parsing.astype(np.int64)))
        m = self.num_sources
        return {
            "src_img": torch.stack(imgs[:m]), "src_pose": torch.stack(poses[:m]),
            "src_mask": torch.stack(masks[:m]), "src_parsing": torch.stack(parsings[:m]),
            "tgt_img": imgs[m], "tgt_pose": poses[m], "tgt_mask": masks[m], "tgt_parsing": parsings[m],
        }


def _resize_pose(pose: Pose, size: tuple[int, int]) -> Pose:
    """The pose in an image resized to ``size`` (H, W), pixel centres kept aligned."""
    h, w = size
    sx, sy = w / pose.width, h / pose.height
    m = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])
    return pose.transformed(m, w, h)


def _reframed(rng, amount: float, img, pose: Pose, mask, parsing):
    """The image framed otherwise: scaled by up to ``amount`` about its centre and moved by up to ``amount`` of
    its size, the pose, mask and part labels with it; the border continues the image's edge (the wall, the
    floor), the mask and labels are background there. Drawn per image: the app frames a source photo and a
    dragged pose each on its own."""
    h, w = img.shape[:2]
    s = float(np.exp(rng.uniform(np.log(1 - amount), np.log(1 + amount))))
    dx, dy = rng.uniform(-amount, amount, 2) * (w, h)
    m = np.array([[s, 0, (1 - s) * (w - 1) / 2 + dx], [0, s, (1 - s) * (h - 1) / 2 + dy]], np.float64)
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(np.ascontiguousarray(mask, np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    parsing = cv2.warpAffine(parsing, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=0)
    return img, pose.transformed(m, w, h), mask, parsing


def _jitter_params(rng) -> tuple[float, float, float]:
    """Small brightness, contrast and saturation factors: the same for every image of an item, so the
    appearance the network copies from the sources still matches the target."""
    return tuple(float(v) for v in rng.uniform(0.9, 1.1, 3))


def _apply_jitter(img: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    x = img.astype(np.float32) * brightness
    mean = x.mean()
    x = (x - mean) * contrast + mean
    gray = x.mean(axis=2, keepdims=True)
    x = (x - gray) * saturation + gray
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


# ================================================================================================================
# Seeded, resumable order
# ================================================================================================================
def epoch_order(n: int, epoch: int, seed: int, shuffle: bool) -> np.ndarray:
    """The item order of one epoch: a function of (seed, epoch) only."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


class ResumableSampler(Sampler):
    """Batches of (epoch, index) keys for PairDataset, starting at a position (epoch, index).

    ``index`` counts the items of that epoch already consumed by this rank. With ``world_size`` > 1 every rank
    takes its own stride of the same permutation (like DistributedSampler), padded to equal length.
    Iterating yields the rest of the current epoch, then the sampler moves to the next epoch.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
                 start: tuple[int, int] = (0, 0), rank: int = 0, world_size: int = 1):
        if n <= 0:
            raise DatasetError("the dataset has no items")
        if batch_size < 1:
            raise DatasetError(f"batch size must be at least 1, not {batch_size}")
        self.n, self.batch_size, self.shuffle, self.seed = n, int(batch_size), bool(shuffle), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.per_rank = math.ceil(n / self.world_size)
        # dropping the ragged end is only possible when at least one whole batch is left
        self.drop_last = bool(drop_last) and self.per_rank >= self.batch_size
        self.epoch, self.index = int(start[0]), int(start[1])

    def rank_order(self, epoch: int) -> np.ndarray:
        order = epoch_order(self.n, epoch, self.seed, self.shuffle)
        total = self.per_rank * self.world_size
        if total > self.n:
            order = np.concatenate([order, order[: total - self.n]])
        return order[self.rank::self.world_size]

    def batches_per_epoch(self) -> int:
        return self.per_rank // self.batch_size if self.drop_last else math.ceil(self.per_rank / self.batch_size)

    def __len__(self) -> int:
        used = self.index
        left = self.per_rank - used
        return max(0, left // self.batch_size if self.drop_last else math.ceil(left / self.batch_size))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, start = self.epoch, self.index
        order = self.rank_order(epoch)
        end = (self.per_rank // self.batch_size) * self.batch_size if self.drop_last else self.per_rank
        for i in range(start, end, self.batch_size):
            yield [(epoch, int(j)) for j in order[i:min(i + self.batch_size, end)]]
        self.epoch, self.index = epoch + 1, 0


class PairLoader:
    """A DataLoader over a ResumableSampler that knows the position of the batches it has handed out.

    ``for batch in loader`` runs the rest of the current epoch; ``loader.position`` is (epoch, index) just after
    the last batch handed out: save it in a checkpoint and pass it back as ``make_loader(..., start=...)``.
    ``loader.batches()`` never ends (epoch after epoch).
    """

    def __init__(self, dataset: PairDataset, sampler: ResumableSampler, num_workers: int = 0,
                 pin_memory: bool = False):
        self.dataset, self.sampler = dataset, sampler
        self.position = (sampler.epoch, sampler.index)
        self._loader = DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=pin_memory,
                                  persistent_workers=False)

    @property
    def batch_size(self) -> int:
        return self.sampler.batch_size

    @property
    def epoch(self) -> int:
        return self.position[0]

    def __len__(self) -> int:
        return self.sampler.batches_per_epoch()

    def seek(self, epoch: int, index: int = 0) -> None:
        self.sampler.epoch, self.sampler.index = int(epoch), int(index)
        self.position = (int(epoch), int(index))

    def __iter__(self):
        epoch, index = self.position
        self.sampler.epoch, self.sampler.index = epoch, index
        for batch in self._loader:
            index += batch["tgt_img"].shape[0]
            self.position = (epoch, index)
            yield batch
        self.position = (epoch + 1, 0)
        self.sampler.epoch, self.sampler.index = self.position

    def batches(self):
        while True:
            yield from self


def make_loader(dataset: PairDataset, batch_size: int, shuffle: bool = True, seed: int = 0, num_workers: int = 0,
                start: tuple[int, int] = (0, 0), drop_last: bool | None = None, rank: int = 0,
                world_size: int = 1, pin_memory: bool = False) -> PairLoader:
    """A reproducible loader: the same (seed, start) gives the same batches, whatever num_workers is.

    ``drop_last`` defaults to ``shuffle`` (a training loader drops the ragged last batch, a test loader keeps
    every pair). ``rank``/``world_size`` split each epoch between DDP processes.
    """
    sampler = ResumableSampler(len(dataset), batch_size, shuffle, seed, shuffle if drop_last is None else drop_last,
                               start, rank, world_size)
    return PairLoader(dataset, sampler, num_workers, pin_memory)
