"""Train on this person: prepare -> fit -> export (-> refine, in a video's plan), run as child processes.

    plan = make_plan("anna", "attention", photos=[...], init=CURRENT_WEIGHTS)   # Qt-free: defaults, checks
    ctl = Personalizer(data_dir); ctl.start(plan)                               # QProcess, the UI stays live
    ctl.stop(); ctl.resume(); ctl.finish_now()                                  # SIGTERM / fit --resume / export

Each step is `sys.executable -m training.cli ...` in a QProcess, so training never blocks the window and a
crash in it is a message, never the app's. Progress comes from the run's stats.jsonl (its folder is the first
line fit prints on stdout; rows of kind start/train/val/checkpoint/done) and the newest image in its grids/.
The plan, its defaults and the commands are training/protocol.py's, the folders and their names
training/names.py's, which ``poseeditor-train personalize`` runs the same way. Where things go, under
settings.data_dir():
    datasets/<name>/            the prepared dataset (photos are first copied to datasets/<name>.photos/<name>/
                                so that prepare sees one person whatever the photos are called)
    runs/NNNNN-<backend>-<name>/   the training run (checkpoints, grids, stats)
    weights/<name>.safetensors  the result, labelled with the name the user chose
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from engine.errors import PoseEditorError
from training.names import folders, slug
from training.protocol import (DEFAULT_BATCH, DEFAULT_MINUTES, DEFAULT_STEPS, MAX_VIDEO_FRAMES,  # noqa: F401
                               PersonalizeError, StatsReader, TrainPlan, checks_note, child_env, export_choice,
                               export_command, fit_batch, fit_command, has_checkpoint, image_count, last_error_line,
                               make_plan, network_defaults, newest_grid, no_pairs_message, prepare_command,
                               refine_command, refit_note, resume_command, run_folder, self_pairs_note, source_for,
                               split_counts, train_pairs, training_threads, with_refiner_if_held_apart,
                               SELF_PAIRS_BELOW)
from training.protocol import check_plan as _check_plan

from .settings import data_dir as user_data_dir
from .weights_library import safe_name, unique_path

# what the estimate counts (measured on a 2-core CPU: mediapipe ~0.2 s per photo, child start-up with imports)
PREPARE_S_PER_IMAGE = 0.2
PREPARE_START_S = 6.0
FIT_START_S = 15.0
# prepare --self-pairs: one warp render of a frame at twice the crop's size (a 1080p dance clip, 100 frames x 16:
# 24.6 s against 8.5 s without, 2026-12-04)
SELF_PAIR_S = 0.01
EXPORT_S = 5.0
POLL_MS = 300
# While a fit runs, each check that beats the ones before is offered to the app (Personalizer.learning), at most
# once in this many seconds: a switch costs the app a weights load, an encode and a render on the one core the
# fit leaves it, and a short run's checks come every few seconds
LIVE_EVERY_S = 20.0


def check_plan(plan: TrainPlan) -> None:
    """protocol.check_plan, plus the name the app asks for (it names the weights file)."""
    if not safe_name(plan.name):
        raise PersonalizeError("give the result a name (it names the weights file)")
    _check_plan(plan)


@dataclass
class Estimate:
    images: int
    prepare_s: float
    train_s: float

    @property
    def total_s(self) -> float:
        return self.prepare_s + self.train_s + EXPORT_S


def estimate(plan: TrainPlan, images: int | None = None) -> Estimate:
    """``images`` None counts them, which opens a video: pass the count from a probe off the UI thread."""
    n = image_count(plan) if images is None else images
    renders = plan.frame_self_pairs * n if plan.video else 0
    return Estimate(n, PREPARE_START_S + PREPARE_S_PER_IMAGE * n + SELF_PAIR_S * renders,
                    FIT_START_S + plan.minutes * 60)


def duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 and s % 60 else f"{round(s / 60)} min"
    return f"{s // 3600} h {round(s % 3600 / 60):02d} min"


def pair_note(n_photos: int) -> str:
    """What a set of photos gives as training pairs (prepare's single-person split, protocol.split_counts)."""
    if n_photos < SELF_PAIRS_BELOW:
        return self_pairs_note(n_photos)
    train, _, test = split_counts(n_photos)
    if not test:
        return (f"Every ordered pair of the {n_photos} photos is a training pair ({n_photos * (n_photos - 1)} "
                f"pairs, if each shows shoulders and hips). Few photos teach little: a video is better.")
    return (f"The last {test} photos are kept apart to measure progress; the other {train} give "
            f"{train * (train - 1)} training pairs.")


# ================================================================================================================
# The controller (Qt): one child process at a time
# ================================================================================================================
IDLE, PREPARE, TRAIN, STOPPING, STOPPED, EXPORT, REFINE, DONE, FAILED = (
    "idle", "prepare", "train", "stopping", "stopped", "export", "refine", "done", "failed")
BUSY = (PREPARE, TRAIN, STOPPING, EXPORT, REFINE)  # a child process is running: the plan cannot change
STOPPABLE = (PREPARE, TRAIN, REFINE)               # what Stop ends (see Personalizer.stop)


def _release(p: QProcess) -> None:
    """A finished step's process, deleted by Qt later with its connections cut first: the lambdas connected to
    its signals hold it, a cycle only the collector would break, and the collector may run while Qt delivers
    the deferred delete (a test worker crashed in Qt's event processing after a plan's last step)."""
    for signal in (p.finished, p.errorOccurred, p.readyReadStandardOutput, p.readyReadStandardError):
        try:
            signal.disconnect()
        except (RuntimeError, TypeError):  # nothing connected
            pass
    p.deleteLater()


class Personalizer(QObject):
    phaseChanged = Signal(str)
    status = Signal(str)         # one line for the user: what is happening now
    rowArrived = Signal(object)  # a stats.jsonl row (dict)
    rowsReset = Signal()         # a resumed run rewrote stats.jsonl: the rows follow again from the start
    gridChanged = Signal(str)    # path of the newest preview grid
    finished = Signal(str)       # the exported weights file
    learning = Signal(str)       # while the fit runs (``live``): its best weights so far, a newer check than before
    learningOff = Signal()       # ``live`` turned off: the app goes back to what it showed before the run's checks
    learningOn = Signal()        # ``live`` turned back on: the next better check is shown as a first one
    failed = Signal(str)         # a message: the step that failed and the process's last error line

    def __init__(self, data_dir: Path | None = None, parent=None):
        super().__init__(parent)
        self.data_dir = Path(data_dir) if data_dir else user_data_dir()
        self.dirs = folders(self.data_dir)
        self.phase = IDLE
        self.plan: TrainPlan | None = None
        self.dataset: Path | None = None
        self.run_dir: Path | None = None
        self.weights_path: Path | None = None
        self.batch = DEFAULT_BATCH
        self.rows: list[dict] = []
        self.grid: Path | None = None
        self.last_error = ""
        self._proc: QProcess | None = None
        self._step_name = ""
        self._stdout = ""
        self._stderr = ""
        self._stop_requested = False
        self._closing = False  # the app is quitting (shutdown): a step that ends switches nothing in
        self._reader: StatsReader | None = None
        self.live = True  # offer the fit's better checks as it makes them (the dialog's "as it learns")
        self._live_pending = False
        self._live_at = -math.inf
        self._live_seen = -1  # the step of the newest better check read (a resumed run's file is read again)
        self._live_armed = False  # a training step after it was read: the run goes on (its last check is not
        # offered: the run's result comes next, and the fit writes a grid and a checkpoint between the two)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    # ----- state --------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.phase in BUSY

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self.phaseChanged.emit(phase)

    def last_train_row(self) -> dict | None:
        return next((r for r in reversed(self.rows) if r.get("kind") == "train"), None)

    def elapsed_s(self) -> float:
        r = self.last_train_row()
        return float(r.get("elapsed", 0.0)) if r else 0.0

    # ----- actions ------------------------------------------------------------------------------------------
    def start(self, plan: TrainPlan, images: int | None = None) -> None:
        """Prepare the dataset, then train: raises PersonalizeError when the plan cannot start. ``images``: the
        photos or video frames prepare will look at, when the caller has counted them (off the UI thread)."""
        if self.running:
            raise PersonalizeError("a personalisation is already running")
        check_plan(plan)
        self.plan = plan
        self.rows, self.grid, self.run_dir, self.weights_path, self.last_error = [], None, None, None, ""
        self._live_pending, self._live_at, self._live_seen, self._live_armed = False, -math.inf, -1, False
        self.rowsReset.emit()
        self._stop_requested = False
        person = slug(plan.name)
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.dataset = unique_path(self.dirs["datasets"], person, "")
        source = source_for(plan, self.dataset)
        n = image_count(plan) if images is None else images
        self._set_phase(PREPARE)
        self.status.emit(f"Finding the person in {n} {'frames' if plan.video else 'photos'} "
                         f"(about {duration(estimate(plan, n).prepare_s)})…")
        self._run("prepare", prepare_command(plan, source, self.dataset), self._prepared)

    def stop(self) -> None:
        """Training: SIGTERM, the run finishes its step and checkpoints (resumable). Preparing: cancelled.
        The refiner: ended, the exported weights used without it."""
        if self._proc is None or self.phase not in STOPPABLE:
            return
        self._stop_requested = True
        if self.phase == TRAIN:
            self._set_phase(STOPPING)
            self.status.emit("Stopping after this step (saving a checkpoint)…")
        self._proc.terminate()

    def resume(self) -> None:
        if self.phase != STOPPED or self.run_dir is None:
            raise PersonalizeError("there is no stopped training to resume")
        left = max(1.0, self.plan.fit_minutes - self.elapsed_s() / 60)
        self._stop_requested = False
        self._reader = None  # follow the file again once the resumed run has rewritten it
        self._set_phase(TRAIN)
        self.status.emit(f"Resuming {self.run_dir.name} for up to {duration(left * 60)}…")
        self._run("fit", resume_command(self.run_dir, left), self._trained)

    def finish_now(self) -> None:
        """Use what a stopped run has learnt: export it and switch to it."""
        if self.phase != STOPPED or self.run_dir is None:
            raise PersonalizeError("there is no stopped training to take weights from")
        self._export()

    def shutdown(self, wait_ms: int = 15000) -> None:
        """The app is closing: a training run stops with a checkpoint, anything else is ended."""
        if self._proc is None:
            return
        self._stop_requested = self._closing = True
        self._proc.terminate()
        if not self._proc.waitForFinished(wait_ms):
            self._proc.kill()
            self._proc.waitForFinished(2000)

    # ----- steps --------------------------------------------------------------------------------------------
    def _prepared(self, code: int) -> None:
        if self._stop_requested:
            self._set_phase(IDLE)
            self.status.emit("Stopped while finding the person; nothing was trained.")
            return
        if code != 0:
            return self._fail("Preparing the training data failed")
        try:
            pairs = train_pairs(self.dataset)
            if pairs == 0:
                return self._fail(no_pairs_message(self.plan), with_log=False)
            self.plan = with_refiner_if_held_apart(self.plan, self.dataset)  # a short clip: the network gets it all
        except PoseEditorError as e:  # prepare's own files, unreadable: said, not raised in a Qt callback
            return self._fail(str(e), with_log=False)
        self.batch = fit_batch(self.plan, pairs)
        note = f", so batches of {self.batch}" if self.batch < self.plan.batch else ""
        self._set_phase(TRAIN)
        self.status.emit(f"{pairs} training pairs{note}. Starting to train {self.plan.backend} for up to "
                         f"{duration(self.plan.fit_minutes * 60)}…")
        self._run("fit", fit_command(self.plan, self.dataset, self.dirs["runs"], self.batch), self._trained)

    def _trained(self, code: int) -> None:
        self.poll(offer=False)  # the run's result comes next: a check now would be loaded for nothing
        done = next((r for r in reversed(self.rows) if r.get("kind") == "done"), None)
        stopped = self._stop_requested or (done is not None and done.get("reason") == "signal")
        if stopped:
            if self.run_dir is not None and has_checkpoint(self.run_dir):
                self._set_phase(STOPPED)
                r = self.last_train_row()
                self.status.emit(f"Stopped at step {r['step'] if r else 0}. Resume, or use the weights as they "
                                 f"are now.")
            else:
                self._set_phase(IDLE)
                self.status.emit("Stopped before the first training step; nothing to resume.")
            return
        if code != 0 or done is None:
            return self._fail("Training failed")
        self._export()

    def _export(self) -> None:
        self.weights_path = unique_path(self.dirs["weights"], safe_name(self.plan.name) or slug(self.plan.name))
        self._set_phase(EXPORT)
        self.status.emit(f"Saving the weights as {self.weights_path.name}…")
        which = export_choice(self.rows)  # the rows polled: a stopped run's last says so, a finished one's too
        self._run("export", export_command(self.run_dir, self.weights_path, self.plan.label, which), self._exported)

    def _exported(self, code: int) -> None:
        if code != 0 or not self.weights_path.is_file():
            return self._fail("Saving the trained weights failed")
        if self.plan.refine and not self._stop_requested:
            self._set_phase(REFINE)
            self.status.emit(f"Training the refiner on frames the model did not learn from, for up to "
                             f"{duration(self.plan.refine * 60)}… (Stop uses the weights without it.)")
            return self._run("refine", refine_command(self.plan, self.weights_path, self.dataset), self._refined)
        self._done()

    def _refined(self, code: int) -> None:
        # the exported weights are whole without a refiner (refine writes its file atomically): keep them
        if self._closing:  # the app is quitting: nothing to switch to
            self._set_phase(DONE)
            return
        note = ""
        if self._stop_requested:
            note = " The refiner was stopped; the weights are without it."
        elif code != 0:
            line = last_error_line(self._stderr)
            note = f" The refiner could not be trained ({line or f'exit status {code}'}); the weights are without it."
        self._done(note)

    def _done(self, note: str = "") -> None:
        self._set_phase(DONE)
        self.status.emit(f"Done: saved as {self.weights_path.name} in {self.weights_path.parent}, and in use.{note}")
        self.finished.emit(str(self.weights_path))

    def _fail(self, what: str, with_log: bool = True) -> None:
        line = last_error_line(self._stderr) if with_log else ""
        self.last_error = f"{what}: {line}" if line else what
        if not self.last_error.endswith("."):
            self.last_error += "."
        self._set_phase(FAILED)
        self.status.emit(self.last_error)
        self.failed.emit(self.last_error)

    # ----- the child process --------------------------------------------------------------------------------
    def _run(self, name: str, argv: list[str], on_done) -> None:
        self._step_name, self._stdout, self._stderr = name, "", ""
        p = QProcess(self)
        env = QProcessEnvironment()
        for k, v in child_env(os.environ).items():
            env.insert(k, v)
        p.setProcessEnvironment(env)
        p.setWorkingDirectory(str(self.data_dir))
        p.readyReadStandardOutput.connect(self._on_stdout)
        p.readyReadStandardError.connect(self._on_stderr)
        p.finished.connect(lambda code, status: self._on_finished(p, code, status, on_done))
        p.errorOccurred.connect(lambda err: self._on_error(p, err))
        self._proc = p
        p.start(argv[0], argv[1:])

    def _on_stdout(self) -> None:
        if self._proc is None:
            return
        text = bytes(self._proc.readAllStandardOutput()).decode("utf-8", "replace")
        self._stdout += text
        if self._step_name == "fit" and self._reader is None:
            # fit's one stdout line is the run folder, printed as soon as it exists (only whole lines count)
            run = run_folder(self._stdout, self.data_dir)
            if run is not None:
                self.run_dir = run
                self._reader = StatsReader(self.run_dir)
                self.rows = []
                self.rowsReset.emit()
                self._timer.start()
                self.poll()

    def _on_stderr(self) -> None:
        if self._proc is None:
            return
        self._stderr += bytes(self._proc.readAllStandardError()).decode("utf-8", "replace")
        self._stderr = self._stderr[-20000:]  # the tail holds the error line

    def _on_error(self, p: QProcess, err) -> None:
        if err == QProcess.ProcessError.FailedToStart and p is self._proc:
            self._proc = None
            self._timer.stop()
            self._stderr += f"\ncannot start {sys.executable}: {p.errorString()}"
            self._fail(f"Could not start the {self._step_name} step")

    def _on_finished(self, p: QProcess, code: int, status, on_done) -> None:
        if p is not self._proc:
            return
        self._on_stdout()
        self._on_stderr()
        self._proc = None
        self._timer.stop()
        _release(p)
        if status == QProcess.ExitStatus.CrashExit and not self._stop_requested:
            code = code or -1
        on_done(code)

    def _offer_live(self) -> None:
        """The fit's best weights (run_dir/best.safetensors, written whole before its check's row) to the app,
        when a check beat the ones before and LIVE_EVERY_S have passed since the last offer; the newest wins."""
        if not (self.live and self._live_pending and self._live_armed and self.phase == TRAIN
                and self.run_dir is not None) or self._closing:
            return
        now = time.monotonic()
        best = self.run_dir / "best.safetensors"
        if now - self._live_at < LIVE_EVERY_S or not best.is_file():
            return
        self._live_pending, self._live_at = False, now
        self.learning.emit(str(best))

    def set_live(self, on: bool) -> None:
        """Offer the fit's better checks as it makes them, or stop (and say so: learningOff)."""
        if bool(on) == self.live:
            return
        self.live = bool(on)
        if not self.live:
            self._live_pending = False
            self.learningOff.emit()
        else:
            self.learningOn.emit()

    def poll(self, offer: bool = True) -> None:
        """New stats rows and the newest preview grid of the running fit; with ``offer``, a better check to show."""
        if self._reader is None:
            return
        rows, reset = self._reader.read_new()
        if reset:
            self.rows = []
            self.rowsReset.emit()
        for r in rows:
            self.rows.append(r)
            self.rowArrived.emit(r)
            step = int(r.get("step", 0))
            if r.get("kind") == "val" and r.get("best") and step > self._live_seen:
                self._live_seen, self._live_pending, self._live_armed = step, True, False
            elif r.get("kind") == "train" and step > self._live_seen >= 0:
                self._live_armed = True
        if offer:
            self._offer_live()
        g = newest_grid(self.run_dir)
        if g is not None and g != self.grid:
            self.grid = g
            self.gridChanged.emit(str(g))
