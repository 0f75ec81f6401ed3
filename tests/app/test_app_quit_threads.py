"""Quitting waits for the threads it started: the preview warm-up (an encode inside cv2 while the interpreter
shuts down can crash) is joined, and a result still being saved is finished, with a word in the status bar,
before the window closes."""
import threading
import time
import types

import numpy as np
from PIL import Image

from tests.app.driver import close_window, new_window, wait_engine, wait_idle_result, wait_loaded


def test_quitting_joins_a_running_preview_warm_up(qtbot, procedural_photos, monkeypatch):
    from poseeditor.worker import RenderWorker

    started, warmed = [], []

    def needs_warming(self):  # once: this test is about the thread, not about which backends want a preview
        return not started

    def slow_warm(self, warp, sources, gen):  # an encode of a big photo: seconds
        started.append(threading.current_thread())
        time.sleep(2.0)
        warmed.append(gen)
        return True

    monkeypatch.setattr(RenderWorker, "_preview_needs_warming", needs_warming)
    monkeypatch.setattr(RenderWorker, "_warm", slow_warm)
    win = new_window(qtbot, [str(procedural_photos[0][0])])
    wait_loaded(qtbot, win)
    wait_engine(qtbot, win)  # the engine's first render starts the warm-up
    win._request("final")
    qtbot.waitUntil(lambda: bool(started), timeout=30000)
    thread = started[0]
    assert thread.name == "poseeditor-preview-warm-up" and thread.is_alive()
    shutdown, visible = win.client.shutdown, []
    win.client.shutdown = lambda: (visible.append(win.isVisible()), shutdown())
    close_window(win)
    assert not thread.is_alive() and len(warmed) == 1
    # the window went before the wait (a newcomer's 12 MP photo: 7-8 s of a painted window deaf to clicks)
    assert visible == [False]


def test_quitting_finishes_a_result_being_saved(qtbot, tmp_path, procedural_photos, monkeypatch):
    import engine.full_size

    real = engine.full_size.export_result

    def slow_export(*a, **k):  # a big photo written at its own size: seconds
        time.sleep(1.5)
        return real(*a, **k)

    monkeypatch.setattr(engine.full_size, "export_result", slow_export)
    win = new_window(qtbot, [str(procedural_photos[0][0])])
    wait_loaded(qtbot, win)
    wait_engine(qtbot, win)
    win._request("final")
    res = wait_idle_result(qtbot, win)
    messages = []
    win.statusBar().messageChanged.connect(messages.append)
    out = tmp_path / "result.png"
    assert win.save_result(str(out)) and win.exporter.pending == 1
    close_window(win)
    assert out.exists() and np.array_equal(np.asarray(Image.open(out).convert("RGB")), res.image)
    assert "Finishing saving result.png…" in messages
    assert any(m.startswith(f"Result saved to {out}") for m in messages), messages  # its own message arrived


def test_closing_the_window_frees_its_pose_detector(qtbot, procedural_photos):
    """The detect thread's detector (mediapipe graphs and their threads, ~150 MB) goes with the window: kept in a
    QThread's thread-local it was never freed, and every window closed in a test run piled up."""
    win = new_window(qtbot, [procedural_photos[0][0]])
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    det = win.client.detector._det
    assert det is not None
    closed, close = [], det.close
    det.close = lambda: (closed.append(1), close())
    close_window(win)
    assert closed == [1] and win.client.detector._det is None


def test_what_arrives_while_quitting_starts_no_work(qtbot, procedural_photos, monkeypatch):
    # Quitting hides the window and lets Qt's queued events through (not the user's) so that it goes at once; a
    # result or a photo arriving then must not start a render (a 12 MP photo's encode is ~10 s, which the join
    # after it would wait for or leave inside cv2 at exit): the threads are told to stop before.
    from PySide6.QtWidgets import QApplication

    from poseeditor import main_window

    win = new_window(qtbot, [str(procedural_photos[0][0])])
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    ran = []
    real_render = win.client.worker.render
    win.client.worker.render = types.MethodType(lambda self, req: (ran.append(req.kind), real_render(req)),
                                                win.client.worker)
    real_process = QApplication.processEvents

    def arriving(*a):  # a result handled here would post the next request, as _next() does
        win._request("final")
        return real_process(*a)

    monkeypatch.setattr(main_window.QApplication, "processEvents", staticmethod(arriving))
    close_window(win)
    monkeypatch.undo()
    real_process()
    assert ran == []
