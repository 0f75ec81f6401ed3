"""Drags on a big photo are drawn by warp on a reduced copy (poseeditor/reduced_preview.py), enlarged to the photo's
size; the drag's end is drawn at the photo's own size. The tests' photo stands in for a big one: the side drags are
drawn at is lowered to half its height."""
import cv2
import numpy as np

from engine.pose import J
from tests.app.driver import close_window, drag_joint, new_window, wait_engine, wait_idle_result, wait_loaded


def lost_by_reduction(img: np.ndarray, scale: float) -> float:
    """How much of ``img`` a reduction to ``scale`` and back takes away (0 for a picture already drawn reduced)."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return float(np.abs(img.astype(np.int16) - back.astype(np.int16)).mean())


def test_a_big_photos_drag_is_drawn_reduced_and_its_end_at_full_size(qtbot, procedural_photos, monkeypatch):
    from poseeditor import reduced_preview

    photo = procedural_photos[0][0]
    monkeypatch.setattr(reduced_preview, "PREVIEW_SIDE", 240)      # the photo is 320x480: drawn at 160x240
    win = new_window(qtbot, [photo])
    try:
        wait_loaded(qtbot, win)
        wait_engine(qtbot, win)      # before it, the start-up warp draws everything at the photo's size
        first = wait_idle_result(qtbot, win)
        shape = win.doc.main.image.shape
        assert first.image.shape == shape and first.backend == "warp"
        seen, timing = [], []
        win.resultShown.connect(seen.append)     # emitted on the UI thread, after the result pane has it
        win.resultShown.connect(lambda r: timing.append((r, win.engine_panel.timing.text())))
        drag_joint(qtbot, win, J["r_wrist"], -20, -45, steps=12)
        final = wait_idle_result(qtbot, win)
        live = [r for r in seen if r.kind == "live"]
        assert live, "no picture was drawn during the drag"
        # the panel's "Last full render" is a final render's time, never a reduced frame's
        for r, text in timing:
            if r.kind == "live":
                assert not text.startswith(f"Last full render: {r.ms:.0f} ms"), (r.ms, text)
        for r in live:
            # the photo's size, drawn reduced: a reduction to half and back takes almost nothing from it
            assert r.image.shape == shape and r.backend == "warp" and r.tier == "live"
            assert lost_by_reduction(r.image, 0.5) < 1.0, lost_by_reduction(r.image, 0.5)
        # the drag's end at full size: the photo's own detail, which a reduction takes away
        assert final.kind == "final" and final.image.shape == shape
        assert lost_by_reduction(final.image, 0.5) > 2 * lost_by_reduction(live[-1].image, 0.5) + 0.5
        assert timing[-1][1].startswith(f"Last full render: {final.ms:.0f} ms") or final.ms >= 1000
        # and the preview is the same picture, softer: the moved arm is where the final render has it
        diff = np.abs(cv2.GaussianBlur(live[-1].image, (0, 0), 2).astype(np.int16)
                      - cv2.GaussianBlur(final.image, (0, 0), 2).astype(np.int16)).max(-1)
        assert np.percentile(diff, 99) < 60, np.percentile(diff, [50, 90, 99])
    finally:
        close_window(win)


def test_a_big_photos_drag_is_drawn_reduced_while_the_engine_loads(qapp, procedural_photos, monkeypatch):
    # Until the Engine (torch) has loaded, a few seconds after start, the start-up warp draws every picture: a drag on
    # a big photo too is drawn on its reduced copy (at its own size it lagged the hand by a second), its end at the
    # photo's own size.
    from engine.backends.warp import WarpBackend
    from engine.images import load_image
    from poseeditor import reduced_preview
    from poseeditor.render_tiers import RenderRequest
    from poseeditor.worker import RenderWorker

    monkeypatch.setattr(reduced_preview, "PREVIEW_SIDE", 240)      # the photo is 320x480: drawn at 160x240
    path, pose = procedural_photos[0]
    img = load_image(path)
    w = RenderWorker()
    w._boot = WarpBackend()            # as start() makes it; the loader is never started here
    w.set_sources(([img], [pose], [None]))
    moved = pose.moved("r_wrist", *(pose.point("r_wrist") + (-20, -45)))
    live, final = w._boot_render(RenderRequest(1, moved, "live")), w._boot_render(RenderRequest(2, moved, "final"))
    assert w.engine is None and w.reduced is not None
    assert live.image.shape == final.image.shape == img.shape and live.backend == final.backend == "warp"
    assert lost_by_reduction(live.image, 0.5) < 1.0, lost_by_reduction(live.image, 0.5)
    assert lost_by_reduction(final.image, 0.5) > 2 * lost_by_reduction(live.image, 0.5) + 0.5


def test_references_of_other_sizes_are_each_reduced_by_their_own_scale(procedural_photos, monkeypatch):
    """The reduced copies of a main photo and a reference twice its size (without a mask): the same person, so the
    unchanged pose drawn reduced is the main photo, softened."""
    from engine.images import load_image
    from poseeditor import reduced_preview
    from poseeditor.reduced_preview import ReducedPreview

    monkeypatch.setattr(reduced_preview, "PREVIEW_SIDE", 240)
    (p1, pose1), (p2, pose2) = procedural_photos[:2]
    main, ref = load_image(p1), load_image(p2)
    ref = cv2.resize(ref, (ref.shape[1] * 2, ref.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros(main.shape[:2], np.uint8)
    mask[40:-40, 60:-60] = 1                       # not float: converted, not refused
    preview = ReducedPreview()
    preview.set_sources([main, ref], [pose1, pose2.scaled(2)], [mask, None])
    assert preview.state is not None and preview.state is preview.state   # encoded once, held
    images = preview.engine._sources[0]
    assert [im.shape[:2] for im in images] == [(240, 160), (240, 160)]
    out = preview.render(pose1)
    assert out.shape == main.shape
    assert lost_by_reduction(main, 0.5) > 2.0 and np.abs(out.astype(int) - main).mean() < 6
