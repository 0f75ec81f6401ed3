"""A person's refiner: a small network at the photo's own scale that finishes a personal model's picture.

A personal model draws at 128x64 and the app enlarges that 4-8 times onto the photo: its person's outline is a
soft band against the wall, where the warp render beside it is sharp but torn. The refiner sees, in the target
person's box at up to WORK_SIDE pixels, the app's render (the network's person composited into the warp
render), the warp render alone and the network's share, and adds a correction where the network painted:

    refined = render + share * refiner(render, warp render, share)

so what the network did not paint (the unchanged pose, the photo around the person) stays the photo exactly.
It learns one person, after their model, on frames that model never fitted as targets (training/refine.py), in a
minute or two of the Train on This Person budget. Its tensors ride in the personal weights file under PREFIX;
weights without them render as before.
"""
from __future__ import annotations

import cv2
import numpy as np

from .framing import person_box
from .pose import Pose

PREFIX = "refiner."
WORK_SIDE = 512  # the box's long side the refiner works at, at most: the scale it learns and runs at
# the widest refiner a file may hold: 24 channels are trained, 32 gained nothing; memory grows as 540 C^2 bytes
# (5 GB at 3000), so a file asking for more is damaged or hostile, not a refiner
MAX_CHANNELS = 256


def work_view(a: np.ndarray, box) -> np.ndarray:
    """``a``'s crop in ``box`` at the refiner's scale (its long side at most WORK_SIDE)."""
    crop = np.ascontiguousarray(a[box])
    h, w = crop.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    if s >= 1:
        return crop.copy()
    return cv2.resize(crop, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def work_views(render: np.ndarray, around: np.ndarray, share: np.ndarray, box) -> tuple:
    """(render, warp render, share) in ``box`` at the refiner's scale: uint8 RGB, uint8 RGB, float32 (h, w)."""
    return work_view(render, box), work_view(around, box), work_view(share.reshape(share.shape[:2]), box)


def build(channels: int = 24):
    """The refiner network (torch is imported here: the engine's warp path never needs it). 32 channels
    instead of 24 gained nothing in the same two minutes (SSIM +0.0001 to +0.0003, paired)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Refiner(nn.Module):
        """Two scales: the photo's pixels, and half of them with a dilated layer for the outline's width (a
        soft band of 4-8 photo pixels); the correction's last layer starts at zero, so an untrained refiner
        changes nothing."""

        def __init__(self, ch: int):
            super().__init__()
            self.inp = nn.Conv2d(7, ch, 3, padding=1)
            self.a1 = nn.Conv2d(ch, ch, 3, padding=1)
            self.down = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
            self.b1 = nn.Conv2d(2 * ch, 2 * ch, 3, padding=1)
            self.b2 = nn.Conv2d(2 * ch, 2 * ch, 3, padding=2, dilation=2)
            self.up = nn.Conv2d(2 * ch, ch, 3, padding=1)
            self.c1 = nn.Conv2d(2 * ch, ch, 3, padding=1)
            self.out = nn.Conv2d(ch, 3, 3, padding=1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, render, around, share):
            def act(x):
                return F.leaky_relu(x, 0.2)
            f0 = act(self.a1(act(self.inp(torch.cat([render, around, share], 1)))))
            g = act(self.b2(act(self.b1(act(self.down(f0))))))
            u = F.interpolate(act(self.up(g)), size=f0.shape[-2:], mode="bilinear", align_corners=False)
            return render + share * self.out(act(self.c1(torch.cat([f0, u], 1))))

    return Refiner(channels)


def network_tensors(tensors: dict) -> dict:
    """A weights file's tensors without its refiner's."""
    return {k: v for k, v in tensors.items() if not k.startswith(PREFIX)}


def from_tensors(tensors: dict, path=""):
    """The refiner held in a weights file's tensors (those under PREFIX), or None when it holds none;
    WeightsError when they are not a refiner's. Every tensor is checked against the network its channel count
    describes before anything is built: building first would let a 3 KB tensor ask for gigabytes."""
    from .errors import WeightsError

    own = {k[len(PREFIX):]: v for k, v in tensors.items() if k.startswith(PREFIX)}
    if not own:
        return None
    why = _misfit(own)
    if why:
        raise WeightsError(f"{path}: its refiner's tensors do not fit a refiner ({why})")
    net = build(int(own["inp.weight"].shape[0]))
    net.load_state_dict({k: v.float() for k, v in own.items()})
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _misfit(own: dict) -> str | None:
    """Why ``own`` (a refiner's tensors, PREFIX removed) is not the state of a refiner, or None. The expected
    shapes come from ``build`` on torch's meta device (shapes only, no memory): the architecture stays in one place."""
    import torch

    from .weights import state_dict_problems

    first = own.get("inp.weight")
    if first is None:
        return "no inp.weight"
    ch = int(first.shape[0]) if first.dim() == 4 and tuple(first.shape[1:]) == (7, 3, 3) else 0
    if not 1 <= ch <= MAX_CHANNELS:
        return f"inp.weight has shape {tuple(first.shape)}; a refiner's is (C, 7, 3, 3), C from 1 to {MAX_CHANNELS}"
    with torch.device("meta"):
        expected = build(ch).state_dict()
    problems = state_dict_problems(expected, own)  # names and shapes, as for any network's weights
    if problems:
        return ", ".join(problems)
    for k in expected:
        if not own[k].is_floating_point():
            return f"{k} holds {str(own[k].dtype).removeprefix('torch.')}, not floating-point numbers"
    return None


def to_tensor(img: np.ndarray, layout=None):
    """(h, w, 3) uint8 or (h, w) float share -> (1, c, h, w) float32: images in [-1, 1], the share as it is;
    in ``layout`` (a torch memory format) when given."""
    import torch

    if img.ndim == 2:
        t = torch.from_numpy(np.ascontiguousarray(img, np.float32))[None, None]
    else:
        t = torch.from_numpy(img.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
    return t if layout is None else t.contiguous(memory_format=layout)


def layout(precision: str):
    """The memory format the refiner's tensors take at ``precision``: channels-last for bf16, whose oneDNN
    convolutions are fastest in it; the standard one otherwise."""
    import torch

    return torch.channels_last if precision == "bf16" else torch.contiguous_format


def speed_up(net, precision: str, device: str = "cpu"):
    """The refiner on ``device`` in ``layout(precision)``, in place, remembering ``precision`` for ``refine``
    (engine.runtime.resolve_precision's: "bf16" only on a CPU that computes it natively, "fp16" only on CUDA).
    bf16 with channels-last: its 512x256 render 148 -> 86 ms on the AMD EPYC here (benchmarks/bench_precision.py)."""
    net.to(device, memory_format=layout(precision))
    net.precision = precision
    return net


def placed(net, precision: str, device: str = "cpu"):
    """``net`` on ``device`` at ``precision``, tried once on a small box: a low precision that fails there leaves
    it in fp32, logged once (the fast path is optional, the refiner is not; as the networks' bf16 path)."""
    import copy

    import torch

    from .runtime import log_once

    if precision != "fp32":
        trial = speed_up(copy.deepcopy(net), precision, device)
        try:
            x, s = torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
            with torch.inference_mode(), autocast(precision, device):
                trial(*(t.to(device).contiguous(memory_format=layout(precision))
                        for t in (x, x, s)))
            return trial
        except Exception as e:  # noqa: BLE001
            log_once(f"refiner {precision} {type(e).__name__}",
                     f"the refiner's {precision} path failed ({type(e).__name__}: {e}); it runs in fp32")
    return speed_up(net, "fp32", device)


def autocast(precision: str, device: str = "cpu"):
    """Where the refiner runs: bf16 autocast on the CPU for "bf16", float16 on CUDA for "fp16" (convolutions in
    the low precision, the residual sum in float32), nothing for "fp32"."""
    import torch

    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16")
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def refine(net, render: np.ndarray, around: np.ndarray, share: np.ndarray, target: Pose) -> np.ndarray:
    """``render`` with the refiner's correction, made at its scale in the target person's box and enlarged
    back; unchanged wherever ``share`` (the network's share, (H, W) or (H, W, 1)) is zero. The net runs at the
    precision ``speed_up`` gave it (fp32 without)."""
    import torch

    box = person_box(target)
    if share.reshape(share.shape[:2])[box].max(initial=0.0) <= 0:
        return render
    r, w, a = work_views(render, around, share, box)
    device = next(net.parameters()).device
    precision = getattr(net, "precision", "fp32")
    rt = to_tensor(r)
    with torch.inference_mode(), autocast(precision, device.type):
        out = net(*(t.contiguous(memory_format=layout(precision)).to(device)
                    for t in (rt, to_tensor(w), to_tensor(a)))).float().cpu()
    delta = (out[0] - rt[0]).permute(1, 2, 0).numpy() * 127.5
    h, wd = render[box].shape[:2]
    if delta.shape[:2] != (h, wd):
        # enlarged, the correction spreads a few pixels past the share: what the network did not paint stays
        delta = cv2.resize(delta, (wd, h), interpolation=cv2.INTER_LINEAR)
        delta *= (share.reshape(share.shape[:2])[box] > 0)[..., None]
    result = render.copy()
    result[box] = np.clip(render[box].astype(np.float32) + delta + 0.5, 0, 255).astype(np.uint8)
    return result
