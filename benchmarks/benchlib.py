"""What the benchmark scripts share: the drag they replay, percentiles, and the line that says where and when."""
from __future__ import annotations

import os
import platform
import time

import numpy as np


def drag(pose, n: int):
    """n poses along an arc of the right wrist around the elbow: the drag every latency benchmark replays."""
    e, w = pose.point("r_elbow"), pose.point("r_wrist")
    out = []
    for i in range(n):
        a = 0.8 * np.pi * i / max(1, n - 1)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out.append(pose.moved("r_wrist", *(e + rot @ (w - e))))
    return out


def pct(values, q) -> float:
    return float(np.percentile(values, q))


def machine_line(title: str, threads: int | None = None) -> str:
    """'<title>, date, CPU, cores, torch and threads, load average': figures mean little without it."""
    torch_part = ""
    if threads is not None:
        import torch

        torch_part = f", torch {torch.__version__} with {threads} threads"
    return (f"{title}, {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs{torch_part}, load average {os.getloadavg()[0]:.1f}")
