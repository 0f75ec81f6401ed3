"""A long editing session through the real window: memory, event-loop gaps, and the final render of every drag.

    python benchmarks/bench_soak.py [--drags 50] [--moves 200] [--hz 200] [--backends warp,dgan] [--keep-freed]
                                    [--detail [--trace]]

For each backend the real main window (offscreen) opens a procedural person (tests/app/procedural.py, so it
runs on any clone), then replays ``drags`` drags of the right wrist, each of ``moves`` mouse moves along an arc
(real mouse events on the canvas viewport, paced at ``hz``), releasing and waiting for the final render after
each. A neural backend uses its starter weights. Figures:
  RSS slope    MB per 1,000 moves: a least-squares line through the RSS after each drag, the first 5 drags left
               out (allocators and caches warm up there), with its standard error; what stays alive per move
               shows here. RSS moves by 10-25 MB from one drag to the next (freed memory the allocator keeps or
               gives back), so 50 drags resolve a slope to about +-0.4 MB per 1,000 moves and 200 drags to
               about +-0.05: use ``--drags 200`` to check a 0.1 MB bound
  in use slope the same for the memory malloc has handed out and not had back (glibc's mallinfo2): a leak
               shows here; RSS also holds what was freed and not yet given back, which comes and goes
  largest gap  the longest time the UI thread did not come back to its event loop (a 1 ms heartbeat timer),
               with the UI thread's own CPU time in it; "most CPU" is the largest CPU time between two
               heartbeats: on a loaded machine a wall gap with little CPU is waiting for a core, not app work
  finals       drags whose final render (kind "final", the pose of the drag's end) arrived
RSS is read once the render thread is idle after the final render (it gives freed memory back then).
``--keep-freed`` adds a row per backend without that (the app before it); ``--detail`` prints where the memory
is after each drag (RSS by kind of mapping, malloc's memory in use and free, Python objects).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.benchlib import machine_line  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_by_kind() -> dict:
    """RSS in MB by kind of mapping: the main heap, anonymous memory (other malloc arenas, large mmapped
    buffers, Python's and other allocators' own), files (libraries, fonts)."""
    out = {"heap": 0.0, "anon": 0.0, "file": 0.0}
    kind = "anon"
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if not line[0].isupper():  # a mapping's first line: "start-end perms offset dev inode [path]"
                kind = "heap" if head[-1] == "[heap]" else "file" if head[-1].startswith("/") else "anon"
            elif head[0] == "Rss:":
                out[kind] += int(head[1]) / 1024
    return out


def soak(app, photo: Path, backend: str, drags: int, moves: int, hz: float, detail: bool = False,
         keep_freed: bool = False) -> dict:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QPoint, Qt, QTimer
    from PySide6.QtTest import QTest

    from engine.pose import J
    from poseeditor import heap
    from poseeditor.main_window import MainWindow
    from poseeditor.settings import Settings

    # the app gives freed memory back after each final render; keep_freed measures it without (the before)
    give_back, heap.give_back = heap.give_back, (lambda: None) if keep_freed else heap.give_back
    win = MainWindow(Settings(Path(os.environ["XDG_CONFIG_HOME"]) / f"soak-{backend}.ini"))
    win.confirm_close = False
    win.resize(1360, 860)
    win.show()
    win.start_engine(photos_pending=True)
    win.open_photos([str(photo)])

    clock = QElapsedTimer()
    clock.start()
    beats = {"last": 0.0, "cpu": 0.0, "gap": 0.0, "gap_cpu": 0.0, "busy": 0.0, "on": False, "where": "", "long": 0}
    phase = ["start"]

    def beat():
        # wall time between two heartbeats, and the UI thread's own CPU time in it: on a loaded machine a long
        # wall gap with little CPU is the thread waiting for a core, not the app's work
        t, cpu = clock.nsecsElapsed() / 1e6, time.thread_time() * 1000
        if beats["on"]:
            g, c = t - beats["last"], cpu - beats["cpu"]
            beats["long"] += int(g > 50)
            beats["busy"] = max(beats["busy"], c)
            if g > beats["gap"]:
                beats["gap"], beats["gap_cpu"], beats["where"] = g, c, phase[0]
        beats["last"], beats["cpu"] = t, cpu

    gcs = {"t": 0.0, "max": 0.0, "gen2": 0}

    def on_gc(stage, info):  # how long Python's cyclic collector held the interpreter, by generation
        if stage == "start":
            gcs["t"] = time.perf_counter()
        elif beats["on"]:
            ms = (time.perf_counter() - gcs["t"]) * 1000
            gcs["max"] = max(gcs["max"], ms)
            gcs["gen2"] += int(info["generation"] == 2)

    gc.callbacks.append(on_gc)
    heartbeat = QTimer(interval=1)
    heartbeat.timeout.connect(beat)
    heartbeat.start()

    def wait(cond, timeout=120.0):
        # pending events (the heartbeat, results) are handled before the next move even when the script is
        # behind its schedule: a real mouse's moves arrive through the event loop, never as a burst past it
        app.processEvents()
        t = time.perf_counter()
        while not cond():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            if time.perf_counter() - t > timeout:
                raise TimeoutError(f"{backend}: timed out")

    def idle():
        return (win.result.result is not None and not win.client.busy and win.backend_info is not None
                and win.client.last_shown_seq == win.client.latest_seq)

    wait(idle)
    if backend != "warp":
        win.set_backend(backend)
        wait(lambda: win.backend_info["name"] == backend)
        wait(idle)
        if not win.backend_info["ready"]:
            raise SystemExit(f"{backend} has no weights here (starter weights missing)")
    finals, rss, in_use, mids = 0, [], [], []
    shown = []
    win.resultShown.connect(shown.append)
    vp = win.canvas.viewport()
    w = J["r_wrist"]
    period = 1.0 / hz
    beats["last"], beats["cpu"], beats["on"] = clock.nsecsElapsed() / 1e6, time.thread_time() * 1000, True
    t0 = time.perf_counter()
    for d in range(drags):
        phase[0] = f"drag {d + 1} press"
        start = win.canvas.joint_view_pos(w)
        QTest.mouseMove(vp, start)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        due = time.perf_counter()
        sign = 1 if d % 2 == 0 else -1   # there and back: the pose stays in the photo for any number of drags
        for i in range(1, moves + 1):
            a = np.pi * i / moves
            pos = start + QPoint(round(sign * 30 * np.sin(a)), round(-sign * 40 * np.sin(a / 2)))
            due += period
            phase[0] = f"drag {d + 1} moving"
            wait(lambda: time.perf_counter() >= due)
            QTest.mouseMove(vp, pos)
        phase[0] = f"drag {d + 1} release"
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        phase[0] = f"drag {d + 1} final render"
        shown.clear()
        wait(idle)
        # and the render thread done with what follows a final render (giving memory back): a call queued
        # behind it has run
        settled = []
        QTimer.singleShot(0, win.client.worker, lambda: settled.append(True))
        wait(lambda: settled)
        res = win.result.result
        finals += int(res.kind == "final" and res.pose == win.doc.target and res.backend == backend)
        rss.append(rss_mb())
        used, free = heap.stats_mb()
        in_use.append(used)
        mids.append((d + 1) * moves)
        if detail:  # where the memory is, after each drag's final render
            traced = tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else float("nan")
            kinds = " ".join(f"{k} {v:6.1f}" for k, v in rss_by_kind().items())
            print(f"  {backend} drag {d + 1:3d}: RSS {rss[-1]:7.1f} MB ({kinds}), malloc in use {used:6.1f}, "
                  f"free {free:5.1f}, Python objects {len(gc.get_objects()):7d} ({traced:6.1f} MB traced)",
                  flush=True)
    seconds = time.perf_counter() - t0
    beats["on"] = False
    heartbeat.stop()
    gc.callbacks.remove(on_gc)
    undo_steps = win.undo.count()
    win.close()
    heap.give_back = give_back
    x = np.asarray(mids[5:], float) / 1000

    def slope(y):
        """(slope, its standard error): RSS moves by tens of MB from one drag to the next (freed memory the
        allocator keeps or gives back), so one run resolves a slope only to within a few of these."""
        y = np.asarray(y[5:], float)
        if len(x) < 3:
            return float("nan"), float("nan")
        b, a = np.polyfit(x, y, 1)
        res = y - (a + b * x)
        se = np.sqrt(res @ res / (len(x) - 2) / ((x - x.mean()) @ (x - x.mean())))
        return float(b), float(se)

    (rss_slope, rss_se), (used_slope, used_se) = slope(rss), slope(in_use)
    return dict(backend=backend + (" kept" if keep_freed else ""), moves=drags * moves, slope=rss_slope,
                slope_se=rss_se, used_slope=used_slope, used_se=used_se, rss0=rss[0], rss1=rss[-1],
                gap=beats["gap"], gap_cpu=beats["gap_cpu"], busy=beats["busy"], where=beats["where"],
                long=beats["long"], gc_max=gcs["max"], gc2=gcs["gen2"], finals=finals, drags=drags, undo=undo_steps,
                seconds=seconds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drags", type=int, default=50)
    ap.add_argument("--moves", type=int, default=200)
    ap.add_argument("--hz", type=float, default=200.0, help="mouse moves per second")
    ap.add_argument("--backends", default="warp,dgan")
    ap.add_argument("--detail", action="store_true", help="per drag: RSS, glibc heap in use and free, Python "
                    "objects")
    ap.add_argument("--keep-freed", action="store_true", help="each backend also without giving freed memory "
                    "back after a drag (the app before it did), side by side")
    ap.add_argument("--trace", action="store_true", help="with --detail: Python's own allocations (tracemalloc; "
                    "slows the UI thread, so the gaps do not count)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")
    from PySide6.QtCore import qInstallMessageHandler

    from poseeditor.app import make_app
    from tests.app.procedural import procedural_photos

    qInstallMessageHandler(lambda kind, ctx, msg: None if "propagateSizeHints" in msg else print(msg))

    app = make_app(["bench-soak"])
    if a.trace:
        tracemalloc.start()
    photo = procedural_photos(tmp, arms=(20,))[0][0]
    print(machine_line(f"bench_soak: {a.drags} drags x {a.moves} moves at {a.hz:.0f} Hz, 480x320 procedural "
                       f"person"))
    print(f"{'backend':13s} {'moves':>6s} {'RSS slope MB/1k +-SE':>20s} {'in use slope +-SE':>17s} "
          f"{'RSS first..last MB':>19s} "
          f"{'largest gap ms (CPU)':>20s} {'most CPU ms':>11s} {'gaps>50ms':>9s} {'GC max ms (gen2)':>16s} "
          f"{'finals':>7s} {'undo steps':>10s} {'s':>5s}  largest gap in")
    runs = [(name, keep) for name in a.backends.split(",") for keep in ((False, True) if a.keep_freed else (False,))]
    for name, keep in runs:
        r = soak(app, photo, name, a.drags, a.moves, a.hz, a.detail, keep)
        print(f"{r['backend']:13s} {r['moves']:6d} {r['slope']:11.3f} +-{r['slope_se']:5.3f} "
              f"{r['used_slope']:8.3f} +-{r['used_se']:5.3f} {r['rss0']:9.1f}..{r['rss1']:<9.1f} "
              f"{r['gap']:12.1f} ({r['gap_cpu']:5.1f}) {r['busy']:11.1f} {r['long']:9d} {r['gc_max']:8.1f} "
              f"({r['gc2']:4d}) {r['finals']:3d}/{r['drags']:<3d} {r['undo']:10d} {r['seconds']:5.0f}  {r['where']}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
