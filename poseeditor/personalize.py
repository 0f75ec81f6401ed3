"""Train on this person: the training package's prepare -> fit -> export, run as child processes.

    plan = make_plan("anna", "attention", photos=[...], init=CURRENT_WEIGHTS)   # Qt-free: defaults, checks
    ctl = Personalizer(data_dir); ctl.start(plan)                               # QProcess, the UI stays live
    ctl.stop(); ctl.resume(); ctl.finish_now()                                  # SIGTERM / fit --resume / export

Each step is `sys.executable -m training.cli ...` in a QProcess, so training never blocks the window and a
crash in it is a message, never the app's. Progress comes from the run's stats.jsonl (its folder is the first
line fit prints on stdout; rows of kind start/train/val/checkpoint/done) and the newest image in its grids/.
Where things go, under appdirs.user_data_dir("PoseEditor"):
    datasets/<name>/            the prepared dataset (photos are first copied to datasets/<name>.photos/<name>/
                                so that prepare sees one person whatever the photos are called)
    runs/NNNNN-<backend>-<name>/   the training run (checkpoints, grids, stats)
    weights/<name>.safetensors  the result, labelled with the name the user chose
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import appdirs
from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from engine.errors import PoseEditorError
from engine.images import IMAGE_SUFFIXES

from .weights_library import safe_name, unique_path

APP_NAME = "PoseEditor"
DEFAULT_MINUTES = 10.0
DEFAULT_STEPS = 100_000      # the time budget ends a personalisation; the step count is only a ceiling
DEFAULT_BATCH = 8
MAX_VIDEO_FRAMES = 150       # spread over the whole video: ~30 s of detection
# what the estimate counts (measured on a 2-core CPU: mediapipe ~0.2 s per photo, child start-up with imports)
PREPARE_S_PER_IMAGE = 0.2
PREPARE_START_S = 6.0
FIT_START_S = 15.0
EXPORT_S = 5.0
POLL_MS = 300


class PersonalizeError(PoseEditorError):
    """A personalisation that cannot start (too few photos, no video, ...)."""


def user_data_dir() -> Path:
    return Path(appdirs.user_data_dir(APP_NAME))


# ================================================================================================================
# The plan (Qt-free)
# ================================================================================================================
@dataclass
class TrainPlan:
    name: str                          # the user's name for the result: weights file, label, dataset folder
    backend: str
    photos: list[str] = field(default_factory=list)
    video: str | None = None
    init: str | None = None            # weights to fine-tune from; None: train from scratch
    image_size: tuple[int, int] = (128, 64)
    width: float | None = None         # None: the init weights' own (or the backend's default)
    minutes: float = DEFAULT_MINUTES
    steps: int = DEFAULT_STEPS
    batch: int = DEFAULT_BATCH
    augment: bool = True
    val_every: int = 100
    grid_every: int = 25
    ckpt_every: int = 100
    val_pairs: int = 16
    max_frames: int = MAX_VIDEO_FRAMES

    @property
    def label(self) -> str:
        return self.name.strip()


def network_defaults(backend: str, init: str | None, scratch: tuple | None = None) -> tuple[tuple[int, int], float | None]:
    """(image size, width) to train at: the init weights' own config (read from the file's header), else
    ``scratch`` (the app passes the catalogue's, made in the worker thread), else the backend's default_config
    (which imports the backends, and torch with them: never on the UI thread)."""
    if init:
        from engine.weights import read_meta

        meta = read_meta(init)
        cfg = meta.config
        return tuple(int(v) for v in cfg.get("image_size", meta.image_size)), cfg.get("width")
    if scratch is not None:
        return (int(scratch[0][0]), int(scratch[0][1])), scratch[1]
    from engine.registry import backend_class

    cfg = backend_class(backend).default_config
    return tuple(int(v) for v in cfg.get("image_size", (128, 64))), cfg.get("width")


def make_plan(name: str, backend: str, photos=(), video=None, init=None, scratch=None, **overrides) -> TrainPlan:
    size, width = network_defaults(backend, init, scratch)
    plan = TrainPlan(name=name, backend=backend, photos=[str(p) for p in photos], video=str(video) if video else None,
                     init=str(init) if init else None, image_size=size, width=width)
    return replace(plan, **overrides) if overrides else plan


def check_plan(plan: TrainPlan) -> None:
    """Raise PersonalizeError with what to do when the plan cannot start or cannot give training pairs."""
    if not safe_name(plan.name):
        raise PersonalizeError("give the result a name (it names the weights file)")
    if plan.init:
        from engine.weights import read_meta

        meta = read_meta(plan.init)
        if meta.backend != plan.backend:
            raise PersonalizeError(f"{Path(plan.init).name}: weights for the {meta.backend} backend, not "
                                   f"{plan.backend}")
        _, init_width = network_defaults(plan.backend, plan.init)
        if plan.width is not None and init_width is not None and float(plan.width) != float(init_width):
            raise PersonalizeError(f"width {plan.width:g} differs from the starting weights' own ({init_width:g}); "
                                   f"train from scratch to change the width")
    if plan.video:
        if not Path(plan.video).is_file():
            raise PersonalizeError(f"{plan.video}: no such video file")
        from training.video import is_video

        if not is_video(Path(plan.video)):
            raise PersonalizeError(f"{Path(plan.video).name}: not a video file this app reads (mp4, mov, avi, mkv, "
                                   f"webm, ...)")
        return
    if len(plan.photos) < 2:
        raise PersonalizeError("Training on a person needs at least 2 photos of them (it learns from pairs of "
                               "photos); better, a short video of them moving. Add reference photos or pick a "
                               "video.")
    missing = [p for p in plan.photos if not Path(p).is_file()]
    if missing:
        raise PersonalizeError(f"{missing[0]}: no such photo")


def image_count(plan: TrainPlan) -> int:
    """Photos, or the video frames prepare will look at."""
    if plan.video:
        from training.video import frame_count, planned_frames

        return len(planned_frames(frame_count(Path(plan.video)), 1, plan.max_frames))
    return len(plan.photos)


@dataclass
class Estimate:
    images: int
    prepare_s: float
    train_s: float

    @property
    def total_s(self) -> float:
        return self.prepare_s + self.train_s + EXPORT_S


def estimate(plan: TrainPlan, images: int | None = None) -> Estimate:
    n = image_count(plan) if images is None else images
    return Estimate(n, PREPARE_START_S + PREPARE_S_PER_IMAGE * n, FIT_START_S + plan.minutes * 60)


def duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 and s % 60 else f"{round(s / 60)} min"
    return f"{s // 3600} h {round(s % 3600 / 60):02d} min"


def pair_note(n_photos: int) -> str:
    """What a set of photos gives as training pairs (prepare's single-person split, training/prepare.py)."""
    if n_photos < 2:
        return "At least 2 photos are needed (better, a video)."
    if n_photos < 6:
        return (f"Every ordered pair of the {n_photos} photos is a training pair ({n_photos * (n_photos - 1)} "
                f"pairs, if each shows shoulders and hips). Few photos teach little: a video is better.")
    test = max(2, round(0.2 * n_photos))
    train = n_photos - test - (max(1, round(0.05 * n_photos)) if n_photos >= 10 else 0)
    return (f"The last {test} photos are kept apart to measure progress; the other {train} give "
            f"{train * (train - 1)} training pairs.")


# ----- folders and commands -------------------------------------------------------------------------------------
def folders(data_dir: Path) -> dict[str, Path]:
    data_dir = Path(data_dir)
    return {"datasets": data_dir / "datasets", "runs": data_dir / "runs", "weights": data_dir / "weights"}


def slug(name: str) -> str:
    """A folder/file stem from the user's name: what prepare's identity rules keep (no '_', no spaces)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-.")[:60] or "person"


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "training.cli", *[str(a) for a in args]]


def stage_photos(photos: list[str], folder: Path, person: str) -> Path:
    """Copy the photos to folder/person/ in the user's order: prepare reads a sub-folder as one person."""
    dest = Path(folder) / person
    dest.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(photos):
        p = Path(p)
        suffix = p.suffix.lower() if p.suffix.lower() in IMAGE_SUFFIXES else ".png"
        shutil.copyfile(p, dest / f"{i:03d}-{slug(p.stem)}{suffix}")
    return Path(folder)


def prepare_command(plan: TrainPlan, source: Path, out: Path) -> list[str]:
    h, w = plan.image_size
    args = ["prepare", source, "-o", out, "--size", f"{h}x{w}"]
    if plan.video:
        args += ["--max-frames", plan.max_frames]
    return _cli(*args)


def fit_command(plan: TrainPlan, data: Path, runs_dir: Path, batch: int) -> list[str]:
    h, w = plan.image_size
    args = ["fit", "--backend", plan.backend, "--data", data, "--runs-dir", runs_dir, "--size", f"{h}x{w}",
            "--steps", plan.steps, "--batch", batch, "--time-budget", f"{plan.minutes:g}",
            "--val-every", plan.val_every, "--grid-every", plan.grid_every, "--ckpt-every", plan.ckpt_every,
            "--val-pairs", plan.val_pairs, "--label", plan.label, "--no-progress"]
    if plan.init:
        args += ["--init", plan.init]  # the network config (width, ...) comes from the file's metadata
    elif plan.width is not None:
        args += ["--width", f"{plan.width:g}"]
    if plan.augment:
        args.append("--augment")
    return _cli(*args)


def resume_command(run: Path, minutes: float) -> list[str]:
    return _cli("fit", "--resume", run, "--time-budget", f"{minutes:g}", "--no-progress")


def export_command(run: Path, out: Path, label: str) -> list[str]:
    return _cli("export", run, "-o", out, "--label", label)


def training_threads() -> int:
    """CPU threads for the training child: all cores but one (the app keeps drawing while it trains)."""
    return max(1, (os.cpu_count() or 2) - 1)


def train_pairs(dataset: Path) -> int:
    p = Path(dataset) / "pairs-train.csv"
    if not p.is_file():
        return 0
    return max(0, sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.strip()) - 1)


def last_error_line(text: str) -> str:
    """The line of a child's stderr that says what went wrong: its `error:` line, else its last words."""
    lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
    for ln in reversed(lines):
        m = re.match(r"^poseeditor-train: error: (.*)$", ln)
        if m:
            return m.group(1)
    for ln in reversed(lines):  # a traceback's last line names the exception
        if not ln.startswith(("INFO:", "WARNING: All log messages", "W0000", "I0000")):
            return ln
    return ""


class StatsReader:
    """Reads the rows a running fit appends to stats.jsonl; a row cut mid-write waits for its end. A resumed run
    rewrites the file first (dropping the rows it will repeat): the reader starts over when it shrinks."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "stats.jsonl"
        self.offset = 0
        self._partial = b""

    def read_new(self) -> tuple[list[dict], bool]:
        """(new rows, whether the reader started over)."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return [], False
        reset = size < self.offset
        if reset:
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return [], reset
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        self.offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        rows = []
        for ln in lines:
            try:
                row = json.loads(ln)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows, reset


def newest_grid(run_dir: Path) -> Path | None:
    grids = sorted((Path(run_dir) / "grids").glob("grid-*.png"))
    return grids[-1] if grids else None


def has_checkpoint(run_dir: Path) -> bool:
    return any((Path(run_dir) / "checkpoints").glob("ckpt-*.pt"))


# ================================================================================================================
# The controller (Qt): one child process at a time
# ================================================================================================================
IDLE, PREPARE, TRAIN, STOPPING, STOPPED, EXPORT, DONE, FAILED = (
    "idle", "prepare", "train", "stopping", "stopped", "export", "done", "failed")


class Personalizer(QObject):
    phaseChanged = Signal(str)
    status = Signal(str)         # one line for the user: what is happening now
    rowArrived = Signal(object)  # a stats.jsonl row (dict)
    rowsReset = Signal()         # a resumed run rewrote stats.jsonl: the rows follow again from the start
    gridChanged = Signal(str)    # path of the newest preview grid
    finished = Signal(str)       # the exported weights file
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
        self._reader: StatsReader | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    # ----- state --------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.phase in (PREPARE, TRAIN, STOPPING, EXPORT)

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self.phaseChanged.emit(phase)

    def last_train_row(self) -> dict | None:
        return next((r for r in reversed(self.rows) if r.get("kind") == "train"), None)

    def elapsed_s(self) -> float:
        r = self.last_train_row()
        return float(r.get("elapsed", 0.0)) if r else 0.0

    # ----- actions ------------------------------------------------------------------------------------------
    def start(self, plan: TrainPlan) -> None:
        """Prepare the dataset, then train: raises PersonalizeError when the plan cannot start."""
        if self.running:
            raise PersonalizeError("a personalisation is already running")
        check_plan(plan)
        self.plan = plan
        self.rows, self.grid, self.run_dir, self.weights_path, self.last_error = [], None, None, None, ""
        self.rowsReset.emit()
        self._stop_requested = False
        person = slug(plan.name)
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.dataset = unique_path(self.dirs["datasets"], person, "")
        if plan.video:
            source = Path(plan.video)
        else:
            try:
                source = stage_photos(plan.photos, self.dataset.with_name(self.dataset.name + ".photos"), person)
            except OSError as e:
                raise PersonalizeError(f"cannot copy the photos to {self.dataset}: {e.strerror or e}") from None
        n = image_count(plan)
        self._set_phase(PREPARE)
        self.status.emit(f"Finding the person in {n} {'frames' if plan.video else 'photos'} "
                         f"(about {duration(estimate(plan, n).prepare_s)})…")
        self._run("prepare", prepare_command(plan, source, self.dataset), self._prepared)

    def stop(self) -> None:
        """Training: SIGTERM, the run finishes its step and checkpoints (resumable). Preparing: cancelled."""
        if self._proc is None or self.phase not in (PREPARE, TRAIN):
            return
        self._stop_requested = True
        if self.phase == TRAIN:
            self._set_phase(STOPPING)
            self.status.emit("Stopping after this step (saving a checkpoint)…")
        self._proc.terminate()

    def resume(self) -> None:
        if self.phase != STOPPED or self.run_dir is None:
            raise PersonalizeError("there is no stopped training to resume")
        left = max(1.0, self.plan.minutes - self.elapsed_s() / 60)
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
        self._stop_requested = True
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
        pairs = train_pairs(self.dataset)
        if pairs == 0:
            what = "video frames" if self.plan.video else "photos"
            return self._fail(f"No training pairs: the person was found in fewer than 2 {what} showing both "
                              f"shoulders and hips. At least 2 such photos of the same person are needed; "
                              f"better, a short video of them moving", with_log=False)
        self.batch = max(1, min(self.plan.batch, pairs))  # fit refuses a batch larger than the pairs
        note = f", so batches of {self.batch}" if self.batch < self.plan.batch else ""
        self._set_phase(TRAIN)
        self.status.emit(f"{pairs} training pairs{note}. Starting to train {self.plan.backend} for up to "
                         f"{duration(self.plan.minutes * 60)}…")
        self._run("fit", fit_command(self.plan, self.dataset, self.dirs["runs"], self.batch), self._trained)

    def _trained(self, code: int) -> None:
        self.poll()
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
        self._run("export", export_command(self.run_dir, self.weights_path, self.plan.label), self._exported)

    def _exported(self, code: int) -> None:
        if code != 0 or not self.weights_path.is_file():
            return self._fail("Saving the trained weights failed")
        self._set_phase(DONE)
        self.status.emit(f"Done: saved as {self.weights_path.name} in {self.weights_path.parent}, and in use.")
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
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        if not env.contains("OMP_NUM_THREADS"):
            # leave a core to the window and its render thread: torch's threads spin-wait for each other, and
            # on a busy CPU a step with every core asked for took 20 s where one thread took 0.3 s (measured)
            env.insert("OMP_NUM_THREADS", str(training_threads()))
        root = Path(__file__).resolve().parents[1]  # a source checkout that is not installed still finds training/
        if (root / "training").is_dir():
            old = env.value("PYTHONPATH", "")
            env.insert("PYTHONPATH", str(root) + (os.pathsep + old if old else ""))
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
            lines = [ln.strip() for ln in self._stdout.split("\n")[:-1] if ln.strip()]
            runs = [self.data_dir / ln for ln in lines if (self.data_dir / ln).is_dir()]
            if runs:
                self.run_dir = runs[0]
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
        p.deleteLater()
        if status == QProcess.ExitStatus.CrashExit and not self._stop_requested:
            code = code or -1
        on_done(code)

    def poll(self) -> None:
        """New stats rows and the newest preview grid of the running fit."""
        if self._reader is None:
            return
        rows, reset = self._reader.read_new()
        if reset:
            self.rows = []
            self.rowsReset.emit()
        for r in rows:
            self.rows.append(r)
            self.rowArrived.emit(r)
        g = newest_grid(self.run_dir)
        if g is not None and g != self.grid:
            self.grid = g
            self.gridChanged.emit(str(g))
