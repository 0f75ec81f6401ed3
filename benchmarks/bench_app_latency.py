"""Drag-to-pixels latency of the editor's own pipeline, offscreen.

    python benchmarks/bench_app_latency.py [PHOTO ...]

For each photo the real main window opens it (detection in the detect thread), then a joint is dragged with
synthetic mouse events on the canvas viewport. A sample runs from sending one mouse-move event to the result
pane having painted an image of a pose that includes that move: canvas -> undo command -> document -> render
request -> worker thread (warp backend) -> queued signal -> result view paint. Two ways:
  one-by-one  each move waits for its pixels (pure latency, no queueing);
  60 Hz       a move every 16.7 ms, as a real hand gives them: renders coalesce, latency includes waiting
              behind the render already running.
Default photos: a 256x256 DeepFashion photo, a 176x256 one at its own size, and a full-HD dance video frame.
A photo longer than reduced_preview.PREVIEW_SIDE is dragged twice in the same run: as the app draws its drags (on a
reduced copy) and drawn at its own size (the preview's side raised past it), with the ratio.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def default_photos(tmp: Path) -> list[Path]:
    out = [SHARED / "fashion-real" / "0.jpg", SHARED / "fashion-sources" / "women1.jpg"]
    video = SHARED / "dance-video" / "dance_train_150f.mp4"
    if video.is_file():
        import cv2

        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
        ok, frame = cap.read()
        if ok:
            p = tmp / "dance-frame30.png"
            cv2.imwrite(str(p), frame)
            out.append(p)
    return [p for p in out if p.is_file()]


def pct(v, q):
    return float(np.percentile(np.asarray(v), q))


def run(photo: Path, app, n: int = 40, label: str = "") -> tuple[float, float]:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from engine.pose import J
    from poseeditor.main_window import MainWindow
    from poseeditor.settings import Settings

    win = MainWindow(Settings(Path(os.environ["XDG_CONFIG_HOME"]) / "bench.ini"))
    win.confirm_close = False
    win.resize(1360, 860)
    win.show()
    win.start_engine(photos_pending=True)
    win.open_photos([str(photo)])

    from benchlib import event_waiter

    wait, heartbeat = event_waiter(app, photo.name)

    wait(lambda: win.result.result is not None and not win.client.busy and win.backend_info is not None)
    pane = win.result.pane
    painted = []
    pane.painted.connect(lambda seq: painted.append((seq, time.perf_counter())))
    img = win.doc.main.image
    joint = J["r_wrist"] if win.doc.target.present[J["r_wrist"]] else int(np.argmax(win.doc.target.present))
    vp = win.canvas.viewport()
    app.processEvents()

    def drag(stream: bool):
        start = win.canvas.joint_view_pos(joint)
        QTest.mouseMove(vp, start)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        painted.clear()
        sent = []   # (seq requested by this move, time sent)
        t_next = time.perf_counter()
        for i in range(n):
            a = 2 * np.pi * i / n
            pos = start + QPoint(round(25 * np.sin(a)), round(-25 * (1 - np.cos(a))))
            if stream:  # the next move is due 1/60 s after the previous one, whatever happened meanwhile
                wait(lambda: time.perf_counter() >= t_next)
                t_next += 1 / 60
            t0 = time.perf_counter()
            QTest.mouseMove(vp, pos)
            seq = win.client.latest_seq
            sent.append((seq, t0))
            if not stream:
                wait(lambda: painted and painted[-1][0] >= seq)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        wait(lambda: not win.client.busy and painted and painted[-1][0] >= win.client.latest_seq)
        lat = []
        for seq, t0 in sent:
            t1 = next((t for s, t in painted if s >= seq and t >= t0), None)
            if t1 is not None:
                lat.append((t1 - t0) * 1000)
        return lat, len({s for s, _ in painted})

    render_ms = []
    win.resultShown.connect(lambda r: render_ms.append(r.ms))
    one, _ = drag(stream=False)
    stream, frames = drag(stream=True)
    h, w = img.shape[:2]
    print(f"{photo.name + label:32s} {w:4d}x{h:<4d} warp render p50 {pct(render_ms, 50):6.1f} ms | drag-to-pixels "
          f"one-by-one p50 {pct(one, 50):6.1f} p95 {pct(one, 95):6.1f} ms | 60 Hz stream p50 {pct(stream, 50):6.1f} "
          f"p95 {pct(stream, 95):6.1f} ms, {frames} frames shown for {n} moves")
    win.close()
    heartbeat.stop()
    return pct(one, 50), pct(stream, 50)


def main(argv) -> int:
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="poseeditor-bench-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")
    photos = [Path(p) for p in argv] or default_photos(tmp)
    if not photos:
        print("no photos: pass some, or provide ../shared/data")
        return 2
    from poseeditor.app import make_app

    app = make_app()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"PoseEditor drag-to-pixels latency, warp backend, offscreen Qt, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} (figures scale with it)")
    from PIL import Image

    from poseeditor import reduced_preview

    side = reduced_preview.PREVIEW_SIDE
    for p in photos:
        app_ms = run(p, app)
        with Image.open(p) as im:
            big = max(im.size) > side
        if big:
            reduced_preview.PREVIEW_SIDE = 1 << 30
            try:
                full_ms = run(p, app, label=" (at its size)")
            finally:
                reduced_preview.PREVIEW_SIDE = side
            print(f"{'':32s} drawn reduced: one-by-one {full_ms[0] / app_ms[0]:.1f}x, "
                  f"60 Hz {full_ms[1] / app_ms[1]:.1f}x sooner")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
