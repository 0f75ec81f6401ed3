"""A Save Result Image waiting for the final render belongs to the photo it was asked on: opening another photo
before that render ends cancels it, says so, and the photo before's late render is neither drawn over the new
photo nor saved under the name chosen for the other one."""
import threading

from tests.app.driver import close_window, new_window, wait_engine, wait_idle_result, wait_loaded


def test_opening_another_photo_cancels_a_waiting_save(qtbot, tmp_path, procedural_photos, monkeypatch):
    p1, p2 = (str(p) for p, _ in procedural_photos[:2])
    win = new_window(qtbot, [p1])
    try:
        wait_loaded(qtbot, win)
        wait_engine(qtbot, win)  # renders go through _render_one (not the start-up warp)
        first = wait_idle_result(qtbot, win)
        worker = win.client.worker
        held, release = threading.Event(), threading.Event()
        real = type(worker)._render_one

        def slow_render_one(self, *a, **k):  # a slow backend: the next render ends only when the test says so
            if not held.is_set():
                held.set()
                release.wait(30)
            return real(self, *a, **k)

        monkeypatch.setattr(type(worker), "_render_one", slow_render_one)
        real_start_over = win._start_over

        def start_over(*a, **k):  # photo 1's render ends just after photo 2 is read, before it is rendered
            real_start_over(*a, **k)
            release.set()

        win._start_over = start_over
        shown = []
        win.resultShown.connect(lambda r: shown.append(win.client.is_current(r, win.doc.main.image)))
        out = tmp_path / "person1-reposed.png"
        win._request("final")
        qtbot.waitUntil(held.is_set, timeout=10000)
        assert win.save_result(str(out))  # "Saving when the final render is ready…"
        assert win._save_after_render == str(out)
        win.open_photos([p2])
        wait_loaded(qtbot, win)
        assert release.is_set()
        res = wait_idle_result(qtbot, win)
        qtbot.wait(300)  # an export started by mistake would be under way by now
        qtbot.waitUntil(lambda: win.exporter.pending == 0, timeout=30000)
        assert win._save_after_render is None
        assert not out.exists()  # neither photo's result under the name chosen for photo 1
        assert getattr(win, "last_error", None) != "There is no result to save yet."
        msg = "The save of person1-reposed.png was cancelled: another photo was opened."
        assert win.banner.message() == msg or win.statusBar().currentMessage() == msg
        assert shown and all(shown), shown  # photo 1's late render was never drawn over photo 2
        assert win.client.is_current(res, win.doc.main.image) and win.doc.main.path == p2
        # whichever came first above, photo 2's request or photo 1's late render: a render of photo 1 is dropped
        win._on_result(first)
        assert win.result.result is res
    finally:
        close_window(win)
