"""Batches and random states: what the loop, validation and the benchmarks do with a batch of tensors."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from . import checkpoint as ckpt


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


@contextmanager
def preserved_rng():
    """Run something (validation, grids) without changing the training's random sequence."""
    state = ckpt.rng_state()
    try:
        yield
    finally:
        ckpt.set_rng_state(state)


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def collate(items: list[dict]) -> dict:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
