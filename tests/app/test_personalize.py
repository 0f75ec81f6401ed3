"""Train on this person: the real dialog drives the real training package in child processes (prepare, fit,
stop with SIGTERM, fit --resume, export) on photos of a procedural person that mediapipe detects, and the
backend then draws with the new weights. Plus the plan's rules (pairs, defaults, commands) and the messages of
runs that cannot work."""
import json

import cv2
import numpy as np
import pytest

from engine.images import save_image
from engine.weights import read_meta
from poseeditor import personalize as P
from tests.app.driver import close_window, new_window, wait_idle_result, wait_loaded

RUN_MS = 120000  # every wait ends as soon as its condition holds; a busy shared machine needs the slack


def person_photos(folder, n, seed=3):
    """Photos of one procedural person (training.synth), big enough for mediapipe to find them."""
    from training.synth import synth_image

    paths = []
    for i in range(n):
        img, _, _ = synth_image(seed, 0, i, (256, 192))
        paths.append(save_image(folder / f"anna{i}.png", img) or folder / f"anna{i}.png")
    return paths


def ready_window(qtbot, photos):
    win = new_window(qtbot, photos)
    wait_loaded(qtbot, win, len(photos))
    qtbot.waitUntil(lambda: win.backend_info is not None and "attention" in win.engine_panel.catalogue,
                    timeout=60000)
    return win


def tiny_settings(d, steps=8, every=4):
    """A run that takes seconds: attention at 64x32, width 0.25, from scratch."""
    d.backend.setCurrentIndex(d.backend.findData("attention"))
    d.start_from.setCurrentIndex(d.start_from.findData(None))
    d.adv_toggle.setChecked(True)
    d.size.setText("64x32")
    d.width_edit.setText("0.25")
    d.steps.setValue(steps)
    d.val_every.setValue(every)
    d.grid_every.setValue(every)


@pytest.mark.slow  # four child processes (prepare, fit, fit --resume, export): ~25 CPU-s measured
def test_train_stop_resume_and_use(qtbot, tmp_path):
    photos = person_photos(tmp_path, 3)
    win = ready_window(qtbot, photos)
    d = win.open_train_dialog()
    ctl = win.personalizer
    assert d.isVisible() and d.src_photos.isChecked() and "3 reference photos" in d.src_photos.text()
    assert d.live.isChecked() and ctl.live  # the photo shows the model as it learns unless this is turned off
    offered, shown = [], []
    ctl.learning.connect(offered.append)
    win.client.worker.backendChanged.connect(lambda info: shown.append(info.get("weights_path")))
    steps = 8  # checks at 4 and 8: the resumed run makes a check and goes on past it (offered as it learns)
    tiny_settings(d, steps=steps, every=4)
    d.name.setText("Anna test")
    plan_text = d.plan_text.text()
    # the plan says what will happen and how long it takes, before anything starts
    assert "3 photos" in plan_text and "warp engine" in plan_text and "from scratch" in plan_text
    assert "64×32" in plan_text and "Anna test.safetensors" in plan_text and "About" in plan_text
    # the whole time budget (stopping early lost, training/protocol.py): the weights it ends with are saved
    assert "unlike the training ones" in plan_text and "Saves the weights it ends with" in plan_text
    assert "stops early" not in plan_text
    assert d.start_btn.isEnabled() and not d.stop_btn.isEnabled()

    d.start_btn.click()
    assert ctl.phase == P.PREPARE and not d.start_btn.isEnabled()
    # progress: stats rows arrive and the curve gets points
    qtbot.waitUntil(lambda: any(r.get("kind") == "train" for r in ctl.rows) or ctl.phase == P.FAILED,
                    timeout=RUN_MS)
    assert ctl.phase == P.TRAIN, ctl.last_error
    assert ctl.batch == 8 and P.train_pairs(ctl.dataset) == 63  # 3 photos' self-pairs: 72, 9 held back
    assert len(d.curve.getData()[0]) >= 1 and d.progress.value() > 0
    d.stop_btn.click()
    qtbot.waitUntil(lambda: ctl.phase in (P.STOPPED, P.FAILED, P.IDLE), timeout=RUN_MS)
    assert ctl.phase == P.STOPPED, ctl.last_error
    stopped_at = ctl.last_train_row()["step"]
    assert 1 <= stopped_at < steps and P.has_checkpoint(ctl.run_dir)
    assert d.resume_btn.isEnabled() and d.use_btn.isEnabled() and not d.start_btn.isEnabled()
    # the stop's final step left a preview grid, shown in the dialog
    qtbot.waitUntil(lambda: ctl.grid is not None, timeout=5000)
    assert d._pixmap is not None and not d.grid.pixmap().isNull()

    d.resume_btn.click()
    qtbot.waitUntil(lambda: ctl.phase in (P.DONE, P.FAILED), timeout=RUN_MS)
    assert ctl.phase == P.DONE, ctl.last_error
    rows = ctl.rows
    assert any(r.get("kind") == "start" and r.get("resumed") for r in rows)
    trained = [r["step"] for r in rows if r.get("kind") == "train"]
    assert trained[-1] == steps and sorted(set(trained)) == trained  # one curve, continued from the checkpoint
    assert list(d.curve.getData()[0]) == trained
    assert any(r.get("kind") == "val" for r in rows) and "SSIM" in d.figures.text()

    # the result: a labelled weights file in the user's data dir, which the backend now uses
    path = ctl.weights_path
    assert path.parent == P.user_data_dir() / "weights" and path.name == "Anna test.safetensors"
    meta = read_meta(path)
    assert (meta.backend, meta.label, tuple(meta.image_size)) == ("attention", "Anna test", (64, 32))
    assert meta.provenance["data"] == "Anna-test" and (P.user_data_dir() / "datasets" / "Anna-test").is_dir()
    # the run ended its schedule (its step ceiling): the weights it ended with, not its best check's
    assert meta.provenance["selected_by"] == "latest" and meta.provenance["steps"] == steps
    opts = json.loads((ctl.run_dir / "training_options.json").read_text())
    assert ctl.run_dir.parent == P.user_data_dir() / "runs" and opts["options"]["augment"] is True
    qtbot.waitUntil(lambda: (win.backend_info or {}).get("weights_path") == str(path), timeout=60000)
    assert win.backend_info["name"] == "attention" and win.backend_info["weights_label"] == "Anna test"
    # the panel names the file (a path cannot wrap in the narrow dock); its tooltip has the path
    assert "Anna test" in win.engine_panel.weights.text() and path.name in win.engine_panel.weights.text()
    assert str(path) in win.engine_panel.weights.toolTip()
    # while it trained, the photo was drawn with the run's best check so far, then with the result
    best = str(ctl.run_dir / "best.safetensors")
    assert offered and set(offered) == {best}
    assert best in shown and shown[-1] == str(path)
    # a check is shown, not chosen: what the app remembers for next time is the result
    assert win.settings.weights_for("attention") == str(path)
    win._request("final")
    res = wait_idle_result(qtbot, win, timeout=60000)
    assert res.backend == "attention" and res.chosen == "attention" and res.image.shape[:2] == photos_shape(photos)
    assert "Training done" in win.banner.message()
    # training the new weights again on the photos: the plan says it is likely to make them worse
    assert "not the starter" not in plan_text
    d2 = win.open_train_dialog()
    assert d2.start_from.currentData() == str(path) and d2.src_photos.isChecked()
    qtbot.waitUntil(lambda: "not the starter weights" in d2.plan_text.text(), timeout=10_000)
    d.close()
    close_window(win)


def photos_shape(photos):
    from engine.images import load_image

    return load_image(photos[0]).shape[:2]


def test_unusable_sources_are_messages(qtbot, tmp_path):
    """One photo: trained on its self-pairs, said so. A video with nobody in it: prepare's own error, shown."""
    one = person_photos(tmp_path, 1)
    win = ready_window(qtbot, one)
    d = win.open_train_dialog()
    assert d.start_btn.isEnabled() and "warp engine" in d.plan_text.text()
    assert "video" in d.plan_text.text()

    video = tmp_path / "empty-room.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    yy, xx = np.mgrid[0:120, 0:160]
    for k in range(6):
        frame = np.stack([(xx + 7 * k) % 255, (yy * 2) % 255, np.full_like(xx, 90)], -1).astype(np.uint8)
        vw.write(frame)
    vw.release()
    d.video_path.setText(str(video))
    d.src_video.setChecked(True)
    tiny_settings(d)
    # the frames are counted off the UI thread (cv2 opens the video there), then the plan shows them
    qtbot.waitUntil(lambda: "6 frames of empty-room.avi" in d.plan_text.text(), timeout=10_000)
    assert d.start_btn.isEnabled()
    d.start_btn.click()
    ctl = win.personalizer
    qtbot.waitUntil(lambda: ctl.phase not in (P.PREPARE, P.TRAIN), timeout=RUN_MS)
    assert ctl.phase == P.FAILED
    assert "no person found in any of its 6 frames" in ctl.last_error
    assert ctl.last_error in d.status.text() and "no person found" in win.last_error
    assert d.start_btn.isEnabled() and d.start_btn.text() == "Start Again"
    d.close()
    close_window(win)


def test_the_video_is_counted_off_the_ui_thread_once_per_file(qtbot, tmp_path, monkeypatch):
    """Typing in the dialog re-plans at every keystroke; the video is opened (cv2) only in a worker thread, once
    for a file, and the plan shows the newest file's count."""
    import threading

    from training import video as V

    calls = []
    real = V.frame_count

    def spy(path):
        calls.append((str(path), threading.current_thread() is threading.main_thread()))
        return real(path)

    monkeypatch.setattr(V, "frame_count", spy)
    videos = []
    for n in (5, 9):
        path = tmp_path / f"clip{n}.avi"
        vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
        for k in range(n):
            vw.write(np.full((48, 64, 3), 20 * k, np.uint8))
        vw.release()
        videos.append(path)
    win = ready_window(qtbot, person_photos(tmp_path, 2))
    d = win.open_train_dialog()
    d.src_video.setChecked(True)
    d.video_path.setText(str(videos[0]))
    qtbot.waitUntil(lambda: "5 frames of clip5.avi" in d.plan_text.text(), timeout=10_000)
    for text in ("x", "", str(videos[0])):  # keystrokes: the cached count, no new probe
        d.video_path.setText(text)
    d.name.setText("anna b")
    assert "5 frames of clip5.avi" in d.plan_text.text()
    d.video_path.setText(str(videos[1]))
    qtbot.waitUntil(lambda: "9 frames of clip9.avi" in d.plan_text.text(), timeout=10_000)
    assert [c[0] for c in calls] == [str(v) for v in videos] and not any(ui for _, ui in calls)
    d.close()
    close_window(win)


def test_choosing_scratch_does_not_ask_the_registry_on_the_ui_thread(qtbot, tmp_path, monkeypatch):
    """The size and width of an untrained network come with the engine catalogue (made in the worker thread):
    asking engine.registry from the dialog would import every backend, and torch, on the UI thread."""
    import threading

    from engine import registry

    win = ready_window(qtbot, person_photos(tmp_path, 2))
    ui_calls = []
    real = registry.backend_class

    def spy(name):
        if threading.current_thread() is threading.main_thread():
            ui_calls.append(name)
        return real(name)

    monkeypatch.setattr(registry, "backend_class", spy)
    d = win.open_train_dialog()
    for name in ("attention", "dgan", "pnr"):
        d.backend.setCurrentIndex(d.backend.findData(name))
        d.start_from.setCurrentIndex(d.start_from.findData(None))
        size = real(name).default_config["image_size"]
        assert d.size.placeholderText() == f"{size[0]}x{size[1]}"
        assert d.plan().image_size == tuple(size)  # the plan of a scratch run too
    assert ui_calls == []
    d.close()
    close_window(win)


# ----- the plan, without processes ------------------------------------------------------------------------------
def test_plan_defaults_and_commands(tmp_path):
    from tests.app.test_weights_library import tiny_attention

    init = tiny_attention(tmp_path / "current.safetensors")
    photos = [str(p) for p in person_photos(tmp_path, 2)]
    plan = P.make_plan("Anna", "attention", photos, init=init)
    # the current weights' own config, the size raised to the backend's personal size where that is larger
    from training.protocol import PERSONAL

    own = tuple(PERSONAL["attention"].get("size", (64, 32)))
    size = own if own[0] * own[1] > 64 * 32 else (64, 32)
    assert plan.image_size == size and plan.width == 0.25
    assert (plan.minutes, plan.batch, plan.augment) == (P.DEFAULT_MINUTES, 8, True) and plan.steps >= 10000
    P.check_plan(plan)
    fit = P.fit_command(plan, tmp_path / "ds", tmp_path / "runs", 2)
    assert fit[1:4] == ["-m", "training.cli", "fit"] and fit[fit.index("--init") + 1] == str(init)
    assert "--width" not in fit and fit[fit.index("--batch") + 1] == "2" and "--augment" in fit
    assert fit[fit.index("--time-budget") + 1] == "10" and fit[fit.index("--size") + 1] == f"{size[0]}x{size[1]}"
    scratch = P.make_plan("Anna", "attention", photos)
    from engine.backends.attention import AttentionBackend

    assert list(scratch.image_size) == AttentionBackend.default_config["image_size"]
    assert "--width" in P.fit_command(scratch, tmp_path, tmp_path, 8) and "--init" not in P.fit_command(
        scratch, tmp_path, tmp_path, 8)
    with pytest.raises(P.PersonalizeError, match="width"):
        P.check_plan(P.make_plan("Anna", "attention", photos, init=init, width=0.5))
    with pytest.raises(P.PersonalizeError, match="not dgan"):
        P.check_plan(P.TrainPlan("Anna", "dgan", photos, init=str(init)))
    with pytest.raises(P.PersonalizeError, match="at least 2"):
        P.check_plan(P.make_plan("Anna", "attention", photos[:1], self_pairs=False))
    resume = P.resume_command(tmp_path / "runs" / "00000-x", 3.5)
    assert resume[3:] == ["fit", "--resume", str(tmp_path / "runs" / "00000-x"), "--time-budget", "3.5",
                          "--no-progress"]
    est = P.estimate(plan)
    assert est.images == 2 and est.train_s >= 600 and est.prepare_s < 30
    assert "warp engine" in P.pair_note(1) and "warp engine" in P.pair_note(3)
    assert [P.duration(s) for s in (14, 120, 134, 615)] == ["14 s", "2 min", "2 min 14 s", "10 min"]
    assert "20 pairs" in P.pair_note(5) and "last 2 photos" in P.pair_note(8)


def test_stats_reader_and_error_lines(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    f = run / "stats.jsonl"
    f.write_text('{"kind": "start", "step": 0}\n{"kind": "train", "st')
    r = P.StatsReader(run)
    rows, reset = r.read_new()
    assert [x["kind"] for x in rows] == ["start"] and not reset  # the torn row waits for its end
    with open(f, "a") as fh:
        fh.write('ep": 1, "loss": 2.0}\n')
    rows, _ = r.read_new()
    assert rows == [{"kind": "train", "step": 1, "loss": 2.0}]
    f.write_text('{"kind": "start", "step": 0}\n')  # a resumed run rewrote the file shorter
    rows, reset = r.read_new()
    assert reset and rows == [{"kind": "start", "step": 0}]
    err = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
           "poseeditor-train: error: /v.mp4: no person found in any of its 6 frames\n")
    assert P.last_error_line(err) == "/v.mp4: no person found in any of its 6 frames"
    assert P.last_error_line("Traceback...\n  File x\nRuntimeError: boom\n") == "RuntimeError: boom"


@pytest.mark.slow  # prepare, fit, export and refine as child processes on a 20-frame clip: ~28 CPU-s
def test_a_video_plan_ends_with_the_refiner_in_the_saved_weights(qtbot, tmp_path):
    """The controller runs the plan's refine step after export (the app's last step of a video's plan) and the
    saved weights carry it; its status says so while it runs."""
    from safetensors import safe_open

    from engine.refiner import PREFIX
    from tests.training.test_cli import person_video
    from training.personalize import starter_weights

    video = person_video(tmp_path / "clip.avi", frames=20)
    # the refiner's step takes ~14 s here, nearly all of it the child's start and its data (detection, the
    # engine's views); it needs a few steps to change a render (one step left it as it was). Its steps, like the
    # fit's, are a ceiling that ends its part (the same test on any machine); the plan's minutes the time allowed
    plan = P.make_plan("Anna clip", "attention", video=str(video), init=str(starter_weights("attention")),
                       minutes=0.4, refine_minutes=0.2, frame_self_pairs=0, clock="cpu", steps=2, refine_steps=4)
    assert plan.refine == 0.2 and plan.fit_minutes == pytest.approx(0.2)
    from training.protocol import refine_args

    assert refine_args(plan, tmp_path / "w", tmp_path / "d")[-2:] == ["--steps", 4]
    ctl = P.Personalizer(tmp_path / "data")
    said = []
    ctl.status.connect(said.append)
    ctl.start(plan)
    qtbot.waitUntil(lambda: ctl.phase in (P.DONE, P.FAILED), timeout=3 * RUN_MS)
    assert ctl.phase == P.DONE, ctl.last_error
    assert any("refiner" in s for s in said)
    assert not any("could not be trained" in s for s in said), said[-1]  # the child's own error line
    meta = read_meta(ctl.weights_path)
    assert meta.provenance["refiner"]["steps"] == 4
    with safe_open(str(ctl.weights_path), "pt") as f:
        assert any(k.startswith(PREFIX) for k in f.keys())
    # the refiner's targets were the frames prepare held apart, its sources the train frames
    from training.refine import _frames_of

    train, test = _frames_of(ctl.dataset)
    assert len(test) == P.split_counts(20)[2] >= 4 and len(train) == P.split_counts(20)[0]
    assert {int(r["frame"]) for r in test} == set(range(20 - len(test), 20))  # the clip's last frames
    assert meta.provenance["refiner"]["pairs"] >= len(test)
    # the engine renders with it: the unchanged pose is the photo, a moved arm is refined where the network painted
    from engine.detect import PoseDetector
    from engine.runtime import Engine
    from training.video import read_frames

    img = next(iter(read_frames(video, [3])))[1]
    with PoseDetector() as det:
        d = det.detect(img, "frame 3")
    eng = Engine("attention", device="cpu", weights=str(ctl.weights_path))
    assert eng.backend.refiner is not None
    eng.set_sources([img], [d.pose], [d.mask])
    assert np.array_equal(eng.render(d.pose), img)
    moved = d.pose.moved("r_wrist", *(d.pose.point("r_wrist") + [-20, -40]))
    refined = eng.render(moved)
    eng.backend.refiner = None
    assert not np.array_equal(eng.render(moved), refined)
    # and the plan of a video's default budget keeps the refiner's minutes out of the network's
    default = P.make_plan("x", "spgnet", video=str(video), init=str(starter_weights("spgnet")))
    assert default.refine == 2.0 and default.fit_minutes == default.minutes - 2.0
    assert P.make_plan("x", "attention", video=str(video), init=str(starter_weights("attention"))).refine == 0
    for n in (3, 30):  # photos: none (a few hold nothing apart; many may differ in size and background)
        assert P.make_plan("x", "spgnet", photos=["a.png"] * n, init=str(starter_weights("spgnet"))).refine == 0


def test_unreadable_prepared_pairs_are_a_failure_said_not_a_traceback(qtbot, tmp_path):
    """prepare's pairs files are read in a Qt callback: one that cannot be read ends the run with its line."""
    ctl = P.Personalizer(tmp_path / "data")
    ctl.plan = P.make_plan("Anna", "attention", video=str(tmp_path / "clip.avi"), minutes=10)
    ctl.dataset = tmp_path / "set"
    ctl.dataset.mkdir()
    (ctl.dataset / "pairs-train.csv").write_text("from,to\na.png\n", encoding="utf-8")
    failed = []
    ctl.failed.connect(failed.append)
    ctl._prepared(0)
    assert ctl.phase == P.FAILED and failed and "pairs-train.csv: line 2" in failed[0]


def test_checks_are_offered_as_it_learns_at_most_every_few_seconds_and_not_when_turned_off(qtbot, tmp_path,
                                                                                          monkeypatch):
    """The controller reads the run's stats rows as the fit writes them: a check that beat the ones before offers
    the run's best weights once LIVE_EVERY_S have passed since the last offer (the newest wins), and nothing while
    "as it learns" is off or once the fit has ended."""
    from engine.backends.base import starter_path

    run = tmp_path / "runs" / "00001-attention-anna"
    run.mkdir(parents=True)
    (run / "best.safetensors").write_bytes(starter_path("attention").read_bytes())
    clock = [1000.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    ctl = P.Personalizer(tmp_path)
    offered = []
    ctl.learning.connect(offered.append)
    ctl.run_dir, ctl._reader = run, P.StatsReader(run)
    ctl._set_phase(P.TRAIN)

    def check(step, best, goes_on=True):  # a check, and the run's next step (the fit goes on) unless its last
        with open(run / "stats.jsonl", "a") as f:
            f.write(json.dumps({"kind": "val", "step": step, "ssim": 0.5, "best": best}) + "\n")
            if goes_on:
                f.write(json.dumps({"kind": "train", "step": step + 1, "loss": 1.0}) + "\n")
        ctl.poll()

    ctl.live = False
    check(5, True)
    assert offered == []
    ctl.live = True
    check(10, True)  # the first is offered at once
    assert offered == [str(run / "best.safetensors")]
    check(15, True)  # a better check soon after waits
    clock[0] += P.LIVE_EVERY_S / 2
    check(20, False)
    assert len(offered) == 1
    clock[0] += P.LIVE_EVERY_S / 2
    ctl.poll()
    assert len(offered) == 2
    clock[0] += P.LIVE_EVERY_S
    check(25, False)  # no better check since: nothing new to show
    assert len(offered) == 2
    ctl._set_phase(P.STOPPING)  # Stop: the fit ends with a checkpoint, and no check is switched to
    check(30, True)
    assert len(offered) == 2
    # Resume reads the run's file again from the start: the check made as it stopped, never shown, is offered
    # once; the checks already shown are not offered again
    for _ in range(2):
        ctl._reader = P.StatsReader(run)
        ctl._set_phase(P.TRAIN)
        clock[0] += P.LIVE_EVERY_S
        ctl.poll()
        assert len(offered) == 3
    clock[0] += P.LIVE_EVERY_S
    check(35, True)
    assert len(offered) == 4
    clock[0] += P.LIVE_EVERY_S
    check(38, True, goes_on=False)  # the run's last check: its result comes next, and the check is not shown
    clock[0] += P.LIVE_EVERY_S
    ctl.poll()
    assert len(offered) == 4
    ctl._closing = True  # the app is quitting: nothing more is switched to
    clock[0] += P.LIVE_EVERY_S
    check(40, True)
    assert len(offered) == 4


@pytest.mark.slow  # a fit as a child process
def test_the_window_shows_checks_until_the_person_chooses_and_goes_back_when_turned_off(qtbot, tmp_path):
    """The window's side of "as it learns", with the real worker and weights files in run folders: a run's first
    check is shown whatever the engine, and never remembered (settings, or the backend chosen again later); after
    weights the person loads, a later check is not shown; turned off, even before the check has loaded, the window
    goes back to what it showed before the run's checks; a session naming a check (an earlier version saved one)
    opens with the backend's remembered weights."""
    import shutil

    from engine.backends.base import starter_path

    photos = person_photos(tmp_path, 1)
    win = ready_window(qtbot, photos)
    assert win.backend_info["name"] == "warp"
    win.open_train_dialog()
    ctl = win.personalizer
    ctl.plan = P.make_plan("Anna", "attention", [str(p) for p in photos], init=str(starter_path("attention")))
    runs = []
    for k in range(3):
        run = ctl.dirs["runs"] / f"0000{k}-attention-anna"
        run.mkdir(parents=True)
        shutil.copy(starter_path("attention"), run / "best.safetensors")
        runs.append(run / "best.safetensors")
    mine = tmp_path / "mine.safetensors"
    shutil.copy(starter_path("attention"), mine)

    def in_use(path=None, name=None):
        qtbot.waitUntil(lambda: (win.backend_info or {}).get("weights_path") == (str(path) if path else None)
                        and (name is None or win.backend_info["name"] == name), timeout=60000)

    def offer(k):
        ctl.run_dir = runs[k].parent
        ctl.learning.emit(str(runs[k]))

    offer(0)  # from warp: shown, and not remembered (settings, a session saved meanwhile)
    in_use(runs[0], "attention")
    assert "best check" in win.banner.message()
    assert win.settings.value("engine/backend") == "warp" and not win.settings.weights_for("attention")
    assert win.save_session(tmp_path / "s.poseeditor.json")
    saved = json.loads((tmp_path / "s.poseeditor.json").read_text())
    assert saved["backend"] == "attention" and saved["weights"] is None
    ctl.set_live(False)  # turned off: back to warp; chosen again, the trained backend is not the check
    in_use(None, "warp")
    win.set_backend("attention")
    qtbot.waitUntil(lambda: win.backend_info["name"] == "attention", timeout=60000)
    assert win.backend_info["weights_kind"] == "starter" and not win.settings.weights_for("attention")
    ctl.set_live(True)
    win.load_weights(str(mine))  # the person chooses weights: a later check of that run is not shown
    in_use(mine)
    ctl.learning.emit(str(runs[0]))
    qtbot.wait(1500)
    assert win.backend_info["weights_path"] == str(mine)
    offer(1)  # another run's first check is shown; turned off, back to the person's weights
    in_use(runs[1])
    ctl.set_live(False)
    in_use(mine)
    win.set_backend("warp")
    in_use(None, "warp")
    ctl.set_live(True)
    offer(2)  # turned off before the check has even loaded: back to warp all the same
    ctl.set_live(False)
    in_use(None, "warp")
    qtbot.wait(1500)
    assert win.backend_info["name"] == "warp"
    assert win.settings.weights_for("attention") == str(mine) and win.settings.value("engine/backend") == "warp"
    ctl.set_live(True)  # the run's result switched in, then the box turned off before it has loaded: it stays
    offer(0)
    in_use(runs[0])
    win._on_trained(str(mine))
    ctl.set_live(False)
    in_use(mine)
    qtbot.wait(1500)
    assert win.backend_info["weights_path"] == str(mine)
    # a session an earlier version saved while a check was shown names it: opened, the check is not the person's
    # choice; the backend's remembered weights are drawn with
    win.set_backend("warp")
    in_use(None, "warp")
    old = dict(saved, weights=str(runs[0]))
    (tmp_path / "old.poseeditor.json").write_text(json.dumps(old))
    assert win.open_session(tmp_path / "old.poseeditor.json")
    in_use(mine, "attention")
    assert win.settings.weights_for("attention") == str(mine)
    close_window(win)


def test_a_stopped_runs_check_is_put_aside_when_the_training_window_closes(qtbot, tmp_path):
    """Stopped and closed without Use Weights Now, the photo went on being drawn with the run's half-trained check
    (found by the newcomer review). Closed on a stopped run, the window goes back to what it drew with before and
    says so; closed while the run trains, its checks go on being shown; resumed, its next check is shown again;
    closed while it stops, it is put aside once stopped (found by the review of the change)."""
    import shutil

    from engine.backends.base import starter_path

    photos = person_photos(tmp_path, 1)
    win = ready_window(qtbot, photos)
    assert win.backend_info["name"] == "warp"
    dialog = win.open_train_dialog()
    ctl = win.personalizer
    ctl.plan = P.make_plan("Anna", "attention", [str(p) for p in photos], init=str(starter_path("attention")))
    ctl.run_dir = ctl.dirs["runs"] / "00000-attention-anna"
    ctl.run_dir.mkdir(parents=True)
    check = ctl.run_dir / "best.safetensors"
    shutil.copy(starter_path("attention"), check)

    def in_use(path=None, name=None):
        qtbot.waitUntil(lambda: (win.backend_info or {}).get("weights_path") == (str(path) if path else None)
                        and (name is None or win.backend_info["name"] == name), timeout=60000)

    try:
        ctl._set_phase(P.TRAIN)
        ctl.learning.emit(str(check))
        in_use(check, "attention")
        dialog.close()                       # closed while it trains: the run goes on, and so does its check
        qtbot.wait(1000)
        assert win.backend_info["weights_path"] == str(check)
        win.open_train_dialog()
        ctl._set_phase(P.STOPPED)
        dialog.close()                       # closed on the stopped run: back to warp, said
        in_use(None, "warp")
        assert "put aside" in win.banner.message()
        ctl._set_phase(P.TRAIN)              # resumed: its next better check is shown again
        ctl.learning.emit(str(check))
        in_use(check, "attention")
        win.open_train_dialog()
        ctl._set_phase(P.STOPPING)           # Stop, then Close before the step has ended: put aside once stopped
        dialog.close()
        qtbot.wait(500)
        assert win.backend_info["weights_path"] == str(check)
        ctl._set_phase(P.STOPPED)
        in_use(None, "warp")
    finally:
        ctl._set_phase(P.IDLE)
        close_window(win)
