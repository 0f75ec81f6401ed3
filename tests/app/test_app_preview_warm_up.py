"""A photo whose chosen backend cannot follow a drag has its warp preview's sources encoded in the background
after the photo's first render, so the first drag's preview frame does not wait for that encode (seconds on a big
photo): never on the UI thread, the newest photos' only, and not at all for photos no longer open."""
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from tests.app.driver import close_window, drag_joint, new_window, wait_engine, wait_idle_result, wait_loaded


def test_the_warp_preview_is_ready_before_the_first_drag(qtbot, procedural_photos, monkeypatch):
    from engine.backends.warp import WarpBackend
    from engine.pose import J
    from poseeditor import render_tiers

    monkeypatch.setattr(render_tiers, "LIVE_BUDGET_MS", 0.0)  # every backend counts as too slow to follow a drag
    encodes = []
    real = WarpBackend.encode_sources

    def spy(self, images, *args, **kw):
        encodes.append((threading.current_thread().name, self))  # a neural backend may warp with one of its own
        return real(self, images, *args, **kw)

    monkeypatch.setattr(WarpBackend, "encode_sources", spy)
    win = new_window(qtbot)
    try:
        wait_engine(qtbot, win)
        neural = [n for n, b in win.engine_panel.catalogue.items() if b["weights"] == "starter"]
        if not neural:
            pytest.skip("no starter weights in this checkout")
        win.set_backend(neural[0])
        qtbot.waitUntil(lambda: win.backend_info["name"] == neural[0], timeout=60000)
        worker = win.client.worker
        for photo, _ in procedural_photos[:2]:  # the second photo is warmed anew
            encodes.clear()
            win.open_photos([str(photo)])
            wait_loaded(qtbot, win)
            res = wait_idle_result(qtbot, win, timeout=60000)
            assert res.backend == neural[0] and win.client.is_current(res, win.doc.main.image)
            # no drag yet: the preview has these photos, encoded off the UI thread by the warm-up
            qtbot.waitUntil(lambda: worker.preview is not None and worker.preview._state is not None
                            and worker.preview._poseeditor_sources_gen == win.client.sources_gen, timeout=30000)
            preview = worker.preview.backend
            assert [name for name, b in encodes if b is preview] == ["poseeditor-preview-warm-up"], encodes
            seen = []
            win.client.resultReady.connect(seen.append)
            drag_joint(qtbot, win, J["r_wrist"], 30, -20)
            qtbot.waitUntil(lambda: any(r.tier == "preview" for r in seen), timeout=30000)
            win.client.resultReady.disconnect(seen.append)
            assert len([b for _, b in encodes if b is preview]) == 1, encodes  # nothing encoded for the drag
            wait_idle_result(qtbot, win, timeout=60000)
    finally:
        close_window(win)


def test_a_warm_up_for_photos_no_longer_open_does_nothing(qapp):
    from poseeditor.worker import RenderWorker

    w = RenderWorker()
    encoded = []
    warp = SimpleNamespace(set_sources=lambda *a: encoded.append(a[0][0].shape),
                           state=None, backend=SimpleNamespace(name="warp"))
    first = ([np.zeros((32, 24, 3), np.uint8)], [None], [None])
    w.set_sources(first)
    old = w._sources_gen
    w._warm_gen = old
    w.set_sources(([np.zeros((64, 48, 3), np.uint8)], [None], [None]))  # another photo opened meanwhile
    assert w._warm(warp, first, old) is False and encoded == []
    w._warm_gen = w._sources_gen       # the newest warm-up is for the new photo: it runs
    assert w._warm(warp, w.sources, w._sources_gen) is True and encoded == [(64, 48, 3)]


def test_the_engine_takes_the_start_up_warps_encoding_of_the_photo(qapp, procedural_photos):
    # Until torch has loaded, the start-up warp draws the photo, encoding it at its own size (~10 s on a 12 MP photo).
    # The Engine that follows, when it is the warp engine too, takes that encoding: a newcomer's first drag on a
    # phone photo waited ~10 s for the same encoding again. A network's Engine encodes its own way.
    from engine.backends.warp import WarpBackend
    from engine.images import load_image
    from engine.runtime import Engine
    from poseeditor.render_tiers import RenderRequest
    from poseeditor.worker import RenderWorker

    path, pose = procedural_photos[0]
    img = load_image(path)
    w = RenderWorker()
    w._boot = WarpBackend()            # as start() makes it; the loader is never started here
    w.set_sources(([img], [pose], [None]))
    first = w._boot_render(RenderRequest(1, pose, "final"))
    assert first.encode_ms > 0
    encoded = w._boot_state[1]
    w._adopt(dict(catalogue=None, engine=Engine("warp", device="cpu"), error=""))
    assert w.engine.state is encoded and w._ready_engine(w.engine) < 50
    moved = pose.moved("r_wrist", *(pose.point("r_wrist") + (-20, -45)))
    assert w.engine.render(moved).shape == img.shape
    # after another photo, the boot's encoding (of the last one) is not taken
    w2 = RenderWorker()
    w2._boot = WarpBackend()
    w2.set_sources(([img], [pose], [None]))
    w2._boot_render(RenderRequest(1, pose, "final"))
    w2.set_sources(([img[:, ::-1].copy()], [pose.mirrored()], [None]))
    w2._adopt(dict(catalogue=None, engine=Engine("warp", device="cpu"), error=""))
    assert w2.engine._state is None


def _counting_engine_builds(monkeypatch) -> list:
    """The names of the Engines the render worker builds from now on (the window's own, while it runs)."""
    from poseeditor.worker import RenderWorker

    built = []
    real = RenderWorker._new_engine
    monkeypatch.setattr(RenderWorker, "_new_engine", lambda self, name, weights=None: (built.append(name),
                                                                                       real(self, name, weights))[1])
    return built


def test_only_the_newest_of_several_backend_choices_is_loaded_and_the_one_in_use_is_kept(qtbot, procedural_photos,
                                                                                       monkeypatch):
    # Turning the backend box through three networks loaded all three, one after the other (seconds each), before
    # the last one chosen (a newcomer's review): only the newest is built. And a session opened at start asks for
    # its backend, the one the Engine was just made with: it was made again, the photo encoded again (the diff
    # review); the backend in use, with the weights it would load, is kept.
    built = _counting_engine_builds(monkeypatch)
    win = new_window(qtbot, [str(procedural_photos[0][0])])
    try:
        wait_loaded(qtbot, win)
        wait_engine(qtbot, win)
        wait_idle_result(qtbot, win)
        engine, built[:] = win.client.worker.engine, []
        changed = []
        win.client.worker.backendChanged.connect(changed.append)
        win.client.set_backend(win.backend_info["name"])
        qtbot.waitUntil(lambda: bool(changed), timeout=30000)
        wait_idle_result(qtbot, win)
        assert built == [] and win.client.worker.engine is engine
        changed.clear()
        for name in ("spgnet", "pnr", "dgan"):
            win.client.set_backend(name)
            qtbot.wait(20)  # turned by the wheel: a notch every few tens of milliseconds
        qtbot.waitUntil(lambda: bool(changed), timeout=30000)
        wait_idle_result(qtbot, win, timeout=60000)
        qtbot.wait(500)  # a load started for another choice would have been built by now
        assert built == ["dgan"] and [c["name"] for c in changed] == ["dgan"]
    finally:
        close_window(win)


def test_a_drag_is_drawn_while_a_chosen_network_loads(qtbot, procedural_photos, monkeypatch):
    # A network's load (seconds) ran in the render thread, so a drag's preview stopped following the hand until it
    # was done (a newcomer's review): it loads in a thread of its own, and the backend in use draws meanwhile.
    from engine.pose import J
    from poseeditor.worker import RenderWorker

    held = threading.Event()
    real = RenderWorker._new_engine

    def slow(self, name, weights=None):
        if name == "dgan":
            held.wait(60)
        return real(self, name, weights)

    monkeypatch.setattr(RenderWorker, "_new_engine", slow)
    win = new_window(qtbot, [str(procedural_photos[0][0])])
    try:
        wait_loaded(qtbot, win)
        wait_engine(qtbot, win)
        wait_idle_result(qtbot, win)
        seen = []
        win.resultShown.connect(seen.append)
        win.client.set_backend("dgan")
        drag_joint(qtbot, win, J["r_wrist"], -20, -40, steps=6)
        qtbot.waitUntil(lambda: any(r.kind == "final" for r in seen), timeout=30000)
        assert not held.is_set() and win.backend_info["name"] == "warp"
        assert all(r.backend == "warp" for r in seen)
        held.set()
        qtbot.waitUntil(lambda: win.backend_info["name"] == "dgan", timeout=60000)
        res = wait_idle_result(qtbot, win, timeout=60000)
        assert res.chosen == "dgan"
    finally:
        held.set()
        close_window(win)


def test_the_photos_sent_again_unchanged_are_not_encoded_again(qtbot, procedural_photos):
    # The first backend's arrival sends the photos again: the worker counted new sources and encoded the photo a
    # second time at its first drag (a 12 MP photo's ~7 s, seen under Xvfb after the Engine took the start-up
    # encoding). The same photos, poses and masks are not sent; another pose is.
    win = new_window(qtbot, [str(procedural_photos[0][0])])
    try:
        wait_loaded(qtbot, win)
        wait_engine(qtbot, win)
        wait_idle_result(qtbot, win)
        gen = win.client.sources_gen
        src = win.doc.sources()
        win.client.set_sources(win.doc.sources())
        assert win.client.sources_gen == gen
        images, poses, masks = src
        win.client.set_sources((images, [poses[0].moved("r_wrist", *(poses[0].point("r_wrist") + 5))], masks))
        assert win.client.sources_gen == gen + 1
        win.client.set_sources(win.doc.sources())
        assert win.client.sources_gen == gen + 2
        wait_idle_result(qtbot, win)
    finally:
        close_window(win)
