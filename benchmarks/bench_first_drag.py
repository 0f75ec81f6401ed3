"""A big photo's first drag, with the warp preview warmed up before it (decision 42) and without, in one run.

    python benchmarks/bench_first_drag.py [--side 4096] [--wait 4] [--trials 2] [--backend dgan] [PHOTO]

The real main window (offscreen) opens the photo, the chosen network backend draws its first render (too slow for
drags on a photo this size, so drags go to the warp preview), and after ``--wait`` seconds a joint is dragged at
60 moves a second. A sample is the time from the drag's first move to the first painted picture of the drag.
"warm-up" is the app as it is (the preview's sources encoded in a thread after the first render); "none" replaces
RenderWorker._warm_up_preview with nothing, as before decision 42: the first drag pays the encode. The rows
alternate, each in a new window. Without PHOTO, the tests' procedural person enlarged to ``--side`` pixels high
(runs in any clone).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def big_photo(tmp: Path, side: int) -> Path:
    import cv2
    from PIL import Image

    from tests.app.procedural import procedural_photos

    path, _ = procedural_photos(tmp)[0]
    small = np.asarray(Image.open(path).convert("RGB"))
    h, w = small.shape[:2]
    big = cv2.resize(small, (round(w * side / h), side), interpolation=cv2.INTER_CUBIC)
    out = tmp / f"person-{side}.png"
    Image.fromarray(big).save(out, compress_level=1)
    return out


def first_drag_ms(app, photo: Path, backend: str, wait_s: float, warm: bool) -> tuple[float, float]:
    """(ms from the first move to the first picture of the drag, ms of the backend's first render)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from benchlib import event_waiter

    from engine.pose import J
    from poseeditor import worker as W
    from poseeditor.main_window import MainWindow
    from poseeditor.settings import Settings

    original = W.RenderWorker._warm_up_preview
    if not warm:
        W.RenderWorker._warm_up_preview = lambda self: None
    wait, heartbeat = event_waiter(app, photo.name, timeout=300.0)

    win = MainWindow(Settings(Path(os.environ["XDG_CONFIG_HOME"]) / "bench.ini"))
    try:
        win.confirm_close = False
        win.resize(1360, 860)
        win.show()
        win.start_engine(photos_pending=True)
        wait(lambda: win.backend_info is not None)
        win.set_backend(backend)
        wait(lambda: win.backend_info["name"] == backend)
        if not win.backend_info["ready"]:
            raise SystemExit(f"{backend} has no weights here")
        shown = []
        win.resultShown.connect(lambda r: shown.append((r, time.perf_counter())))
        win.open_photos([str(photo)])
        wait(lambda: any(r.backend == backend and r.kind == "final" for r, _ in shown))
        first_render = next(r.ms for r, _ in shown if r.backend == backend)
        t_end = time.perf_counter() + wait_s
        wait(lambda: time.perf_counter() >= t_end)
        vp = win.canvas.viewport()
        joint = J["r_wrist"] if win.doc.target.present[J["r_wrist"]] else int(np.argmax(win.doc.target.present))
        start = win.canvas.joint_view_pos(joint)
        QTest.mouseMove(vp, start)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        shown.clear()
        t0 = time.perf_counter()
        t_next, i = t0, 0
        pos = start
        while not shown:   # a hand keeps moving until the picture follows it
            wait(lambda: time.perf_counter() >= t_next or bool(shown))
            if shown:
                break
            i += 1
            pos = start + QPoint(round(30 * np.sin(i / 20)), -min(i, 60))
            QTest.mouseMove(vp, pos)
            t_next += 1 / 60
        ms = (shown[0][1] - t0) * 1000
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        wait(lambda: not win.client.busy)
        return ms, first_render
    finally:
        W.RenderWorker._warm_up_preview = original
        heartbeat.stop()
        win.close()
        app.processEvents()


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo", nargs="?", type=Path)
    ap.add_argument("--side", type=int, default=4096, help="the procedural photo's height (default 4096)")
    ap.add_argument("--wait", type=float, default=4.0, help="seconds between the first render and the drag")
    ap.add_argument("--trials", type=int, default=2, help="windows per row")
    ap.add_argument("--backend", default="dgan")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="poseeditor-bench-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")
    photo = a.photo or big_photo(tmp, a.side)
    from poseeditor.app import make_app

    app = make_app()
    from benchlib import machine_line

    print("# " + machine_line(f"{photo.name}, {a.backend}, drag {a.wait:g} s after the first render"))
    rows = {"warm-up": [], "none": []}
    renders = []
    for _ in range(a.trials):
        for mode in rows:
            ms, first = first_drag_ms(app, photo, a.backend, a.wait, mode == "warm-up")
            rows[mode].append(ms)
            renders.append(first)
            print(f"#   {mode:8s} first picture of the drag after {ms:7.0f} ms", flush=True)
    warm, none = (np.median(rows[m]) for m in ("warm-up", "none"))
    print(f"first render by {a.backend}: {np.median(renders):.0f} ms (median)")
    print(f"{'':10s}{'median ms':>10s}{'min':>8s}{'max':>8s}")
    for mode, v in rows.items():
        print(f"{mode:10s}{np.median(v):10.0f}{min(v):8.0f}{max(v):8.0f}")
    print(f"none / warm-up: {none / warm:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
