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


def event_waiter(app, what: str, timeout: float = 60.0):
    """(wait, heartbeat): ``wait(cond)`` runs the Qt event loop, sleeping between events as the real app does,
    until cond() holds (TimeoutError naming ``what`` after ``timeout`` s); the heartbeat, a timer every 2 ms, wakes
    it when no event comes. Stop the heartbeat when done."""
    from PySide6.QtCore import QEventLoop, QTimer

    heartbeat = QTimer(interval=2)
    heartbeat.start()

    def wait(cond, limit: float = timeout):
        t = time.perf_counter()
        while not cond():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            if time.perf_counter() - t > limit:
                raise TimeoutError(f"{what}: timed out")

    return wait, heartbeat
