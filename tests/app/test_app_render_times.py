"""Render times belong to the photo they were measured on: after small photos, the first drag on a big one is
drawn by the warp preview when the chosen backend cannot follow it there, and while a photo loads neither the
engine panel nor the status bar shows a render time of the photo before it."""
from types import SimpleNamespace

import numpy as np

from poseeditor.render_tiers import LIVE_BUDGET_MS, RenderTimes
from tests.app.driver import Probe, close_window, new_window, wait_idle_result, wait_loaded


def small():
    return [np.zeros((320, 480, 3), np.uint8)]


def big():
    return [np.zeros((3072, 4096, 3), np.uint8)]


def test_times_start_again_on_photos_of_another_size_with_a_cautious_estimate_meanwhile():
    times = RenderTimes()
    times.new_sources(small())
    for ms in (101, 99, 103, 101):
        times.add("pnr", ms)
    assert times.live_uses("pnr")
    times.new_sources(big())           # an 8000x6000 photo, read at 4096x3072
    assert times.get("pnr") is None    # nothing measured on it yet: the panel shows no time
    assert times.expected("pnr") > LIVE_BUDGET_MS and not times.live_uses("pnr")  # 101 ms x 82 times the pixels
    times.add("pnr", 2200)             # the photo's first render (on opening it)
    assert times.get("pnr") == 2200 and not times.live_uses("pnr")
    times.new_sources(big())           # the same photos again (a reference's pose corrected): the count goes on
    assert times.get("pnr") == 2200
    times.new_sources(small())         # back to a small photo: the big one's time stands until one is measured
    assert times.get("pnr") is None and not times.live_uses("pnr")
    times.add("pnr", 100)
    assert times.live_uses("pnr")
    times.pop("pnr")                   # new weights: nothing known, neither here nor from earlier photos
    assert times.expected("pnr") is None and not times.live_uses("pnr")


def test_a_big_photos_first_drag_uses_the_warp_preview_after_small_photos(qapp):
    # the render worker's own choice, as it makes it for a drag's request
    from poseeditor.worker import RenderWorker

    w = RenderWorker()
    w.engine = SimpleNamespace(backend=SimpleNamespace(name="pnr", ready=True))
    w.preview = SimpleNamespace(backend=SimpleNamespace(name="warp"))
    w.set_sources((small(), [None], [None]))
    for ms in (101, 99, 103, 101):
        w.full_ms.add("pnr", ms)
    assert w._pick("live") == (w.engine, "")
    w.set_sources((big(), [None], [None]))
    w.full_ms.add("pnr", 2200)         # opening it drew it once, at 2.2 s
    engine, note = w._pick("live")
    # drawn by warp on a reduced copy of the photo (poseeditor/reduced_preview.py): it is over 1280 pixels long
    assert engine is w.reduced and engine.backend.name == "warp" and note.startswith("live")
    assert w._pick("final") == (w.engine, "")
    w.set_sources(([np.zeros((960, 1280, 3), np.uint8)], [None], [None]))
    w.full_ms.add("pnr", 600)
    assert w._pick("live") == (w.preview, "live preview while dragging")   # at its own size: not reduced


def test_the_panel_shows_no_time_of_the_last_photo_while_a_photo_loads(qtbot, procedural_photos, tmp_path):
    import cv2

    first = procedural_photos[0][0]
    bigger = tmp_path / "bigger.png"
    img = cv2.imread(str(procedural_photos[1][0]))
    cv2.imwrite(str(bigger), cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2)))
    win = new_window(qtbot, [first])
    try:
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        qtbot.waitUntil(lambda: win.backend_info is not None, timeout=30000)
        panel = win.engine_panel
        win._request("final")  # the engine's own render (the start-up one is not timed)
        wait_idle_result(qtbot, win)  # shown: no render of this photo is left to arrive while the next one loads
        qtbot.waitUntil(lambda: panel.timing.text().startswith("Last full render"), timeout=30000)
        seen = []
        # the photo is read, its person not found yet: what the panel says then
        assert win.render_label.text()  # the status bar's "warp: 17 ms"
        # queued after the window's own slot (a lambda would run in the detect thread at once: the test raced it)
        recorder = Probe(lambda out: seen.append((panel.timing.text(), win.render_label.text())))
        win.client.detector.imageReady.connect(recorder.slot)
        win.open_photos([str(bigger)])
        qtbot.waitUntil(lambda: bool(seen), timeout=30000)
        assert seen[0] == ("", ""), seen
        wait_loaded(qtbot, win)
        res = wait_idle_result(qtbot, win)
        assert res.image.shape[:2] == (img.shape[0] * 2, img.shape[1] * 2)
        qtbot.waitUntil(lambda: panel.timing.text().startswith("Last full render"), timeout=30000)
        assert win.client.is_current(res, win.doc.main.image) and win.render_label.text()
    finally:
        close_window(win)
