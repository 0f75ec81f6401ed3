"""The app's use of glibc's malloc: how many arenas, giving freed memory back, and what the heap holds.

Measured with benchmarks/bench_soak.py (a network backend, 10,000 drag moves): the memory the heap hands out
stays flat, but the memory freed inside it was kept, between 9 and 58 MB from one drag to the next (a render's
large buffers of changing sizes), so the process's memory crept and jumped. Giving the free pages back after
each drag's final render keeps it flat. Elsewhere than glibc (musl, macOS, Windows) every call here does
nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys

_M_ARENA_MAX = -8


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def limit_arenas(n: int = 2) -> None:
    """glibc gives every thread that allocates its own arena; the render and detect threads' numpy and torch
    buffers of changing sizes fragment them (+3 MB per 1,000 drag moves with a network backend, 2026-12-03).
    Must run before the worker threads start; MALLOC_ARENA_MAX in the environment wins."""
    libc = _libc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc.mallopt(_M_ARENA_MAX, n)
    except AttributeError:  # not glibc
        pass


def give_back() -> None:
    """Return the heap's free pages to the system (all arenas). A few milliseconds: call it when a burst of
    work is over (a drag's final render), not per render."""
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:
        pass


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]


def stats_mb() -> tuple[float, float]:
    """(MB handed out, MB free inside the heap), all arenas. In use growing is a leak (C or Python); free
    growing while in use stays is memory the allocator keeps. (nan, nan) without glibc's mallinfo2."""
    libc = _libc()
    try:
        f = libc.mallinfo2
    except AttributeError:
        return float("nan"), float("nan")
    f.restype = _MallInfo2
    m = f()
    return (m.uordblks + m.hblkhd) / 2**20, m.fordblks / 2**20
