"""The "Train on This Person" dialog: choose what to learn from and for how long, see the plan and its time
estimate, then follow the run (status, progress, loss curve, newest preview grid), stop, resume, or use the
weights as they are. The work is done by personalize.Personalizer in child processes; this is only its view.

The dialog is not modal and closing it does not stop training: the main window keeps the dialog and its
controller, and reopening the menu entry shows the run where it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QRadioButton, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from engine.errors import PoseEditorError

from . import personalize as P
from .frame_counter import FrameCounter
from .weights_library import safe_name

VIDEO_HINT = "Seconds to minutes of video"
VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv);;All files (*)"


@dataclass
class TrainContext:
    """What the dialog needs from the main window."""

    photos: list[str] = field(default_factory=list)     # the loaded reference photos (ready ones)
    backends: list[tuple[str, str]] = field(default_factory=list)  # (name, title) of backends that take weights
    current: str | None = None                           # the backend in use
    # backend -> (weights file it uses now or None, how to call them)
    weights_for: Callable[[str], tuple[str | None, str]] = lambda name: (None, "")
    start_dir: str = ""
    # backend -> ((H, W), width) of a network trained from scratch (from the engine catalogue: no torch here)
    scratch: dict = field(default_factory=dict)
    unlike: list[str] = field(default_factory=list)      # loaded photos that look like someone else than the first's


def _parse_size(text: str) -> tuple[int, int] | None:
    text = text.strip().lower().replace("×", "x")
    if not text:
        return None
    try:
        h, w = (int(v) for v in text.split("x"))
    except ValueError:
        raise PoseEditorError(f"Image size '{text}': write it as HEIGHTxWIDTH, e.g. 128x64") from None
    if h < 32 or w < 16 or h % 16 or w % 16:
        raise PoseEditorError(f"Image size {h}x{w}: height and width must be multiples of 16 (at least 32x16)")
    return h, w


class TrainDialog(QDialog):
    weightsReady = Signal(str)   # the new weights file (also the controller's finished signal)

    def __init__(self, parent, context: TrainContext, controller: P.Personalizer):
        super().__init__(parent)
        self.setWindowTitle("Train on This Person")
        self.ctx = context
        self.ctl = controller
        self._pixmap: QPixmap | None = None
        self._steps: list[int] = []
        self._losses: list[float] = []
        self.last_val: dict | None = None
        self.frames = FrameCounter(self)
        self.frames.counted.connect(self.update_plan)
        self._images: int | None = None   # the plan's photos or counted video frames

        # ----- what to learn from ---------------------------------------------------------------------------
        self.src_photos = QRadioButton()
        self.src_video = QRadioButton("A video of the person moving:")
        group = QButtonGroup(self)
        group.addButton(self.src_photos)
        group.addButton(self.src_video)
        self.video_path = QLineEdit()
        # short, and the field is kept wide enough for it: the longer hint was cut off mid-word
        self.video_path.setPlaceholderText(VIDEO_HINT)
        self.video_path.setToolTip("A video file of the person moving, a few seconds to a few minutes long")
        self.video_path.setMinimumWidth(self.video_path.fontMetrics().horizontalAdvance(VIDEO_HINT) + 24)
        self.browse_btn = QPushButton("Browse…")
        self.browse_btn.clicked.connect(self._browse_video)
        vrow = QHBoxLayout()
        vrow.addWidget(self.video_path, 1)
        vrow.addWidget(self.browse_btn)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Anna")
        self.name.setToolTip("Names the weights file and labels it in the engine panel")
        self.backend = QComboBox()
        self.start_from = QComboBox()
        # a weights file's label can be long: it is cut in the box (whole in the plan) instead of widening the dialog
        self.start_from.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.start_from.setMinimumContentsLength(28)
        self.minutes = QDoubleSpinBox(decimals=1, minimum=0.5, maximum=24 * 60, value=P.DEFAULT_MINUTES,
                                      singleStep=5, suffix=" min")
        self.minutes.setToolTip("Training stops after this long (with a checkpoint: you can resume it)")

        # ----- advanced ---------------------------------------------------------------------------------------
        self.adv_toggle = QToolButton(text="Advanced", checkable=True)
        self.adv_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.adv_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.adv_toggle.setAutoRaise(True)
        self.adv = QWidget()
        self.size = QLineEdit()
        self.width_edit = QLineEdit()
        self.steps = QSpinBox(minimum=1, maximum=10_000_000, value=P.DEFAULT_STEPS)
        self.steps.setToolTip("A ceiling: the time limit normally ends training first")
        self.batch = QSpinBox(minimum=1, maximum=256, value=P.DEFAULT_BATCH)
        self.val_every = QSpinBox(minimum=1, maximum=1_000_000, value=P.TrainPlan.val_every)
        self.grid_every = QSpinBox(minimum=1, maximum=1_000_000, value=25)
        self.max_frames = QSpinBox(minimum=2, maximum=100_000, value=P.MAX_VIDEO_FRAMES)
        self.max_frames.setToolTip("Frames taken from the video, spread over its whole length")
        self.augment = QCheckBox("Flip and colour-jitter the training pairs", checked=True)
        af = QFormLayout(self.adv)
        af.setContentsMargins(18, 0, 0, 0)
        af.addRow("Image size (H×W)", self.size)
        af.addRow("Network width", self.width_edit)
        af.addRow("Steps at most", self.steps)
        af.addRow("Batch", self.batch)
        af.addRow("Check quality every", self.val_every)
        af.addRow("New preview every", self.grid_every)
        af.addRow("Video frames", self.max_frames)
        af.addRow("", self.augment)
        self.adv.setVisible(False)
        self.adv_toggle.toggled.connect(self._toggle_advanced)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Learn from", self.src_photos)
        form.addRow("", self.src_video)
        form.addRow("", vrow)
        form.addRow("Name", self.name)
        form.addRow("Backend", self.backend)
        form.addRow("Start from", self.start_from)
        form.addRow("Training time", self.minutes)
        self.plan_text = QLabel()
        self.plan_text.setWordWrap(True)
        self.plan_text.setTextFormat(Qt.TextFormat.RichText)
        self.plan_text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.plan_text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        settings_box = QGroupBox("What to learn")
        sl = QVBoxLayout(settings_box)
        sl.addLayout(form)
        sl.addWidget(self.adv_toggle)
        sl.addWidget(self.adv)
        plan_box = QGroupBox("Plan")
        pl = QVBoxLayout(plan_box)
        pl.addWidget(self.plan_text)
        left = QVBoxLayout()
        left.addWidget(settings_box)
        left.addWidget(plan_box, 1)

        # ----- the run ----------------------------------------------------------------------------------------
        self.status = QLabel("Not started.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.figures = QLabel("")
        self.figures.setStyleSheet("color: palette(placeholder-text);")
        self.plot = self._make_plot()
        self.grid = QLabel("The newest preview appears here: rows are the source photo, the target pose's photo "
                           "and what the network draws.")
        self.grid.setWordWrap(True)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid.setMinimumSize(360, 150)
        self.grid.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.grid.setStyleSheet("background: palette(base); color: palette(placeholder-text); padding: 4px;")
        self.grid_caption = QLabel("")
        self.grid_caption.setStyleSheet("color: palette(placeholder-text);")
        self.grid_caption.setWordWrap(True)
        self.live = QCheckBox("Show it in the photo as it learns", checked=True)
        self.live.setToolTip("Each time a quality check beats the ones before (at most every "
                             f"{P.LIVE_EVERY_S:.0f} s), the photo is drawn with the model as it is then")
        run_box = QGroupBox("Training")
        rl = QGridLayout(run_box)
        rl.addWidget(self.status, 0, 0)
        rl.addWidget(self.progress, 1, 0)
        rl.addWidget(self.figures, 2, 0)
        rl.addWidget(self.plot, 3, 0)
        rl.addWidget(self.grid, 4, 0)
        rl.addWidget(self.grid_caption, 5, 0)
        rl.addWidget(self.live, 6, 0)
        rl.setRowStretch(3, 2)
        rl.setRowStretch(4, 3)

        # ----- buttons --------------------------------------------------------------------------------------
        self.start_btn = QPushButton("Start")
        self.start_btn.setDefault(True)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop after the current step, keeping a checkpoint to resume from")
        self.resume_btn = QPushButton("Resume")
        self.use_btn = QPushButton("Use Weights Now")
        self.use_btn.setToolTip("Save what the stopped training has learnt and switch to it")
        self.close_btn = QPushButton("Close")
        self.close_btn.setToolTip("Training goes on in the background; reopen this window from the Engine menu")
        buttons = QHBoxLayout()
        for b in (self.start_btn, self.stop_btn, self.resume_btn, self.use_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_btn)

        top = QHBoxLayout()
        top.addLayout(left, 5)
        top.addWidget(run_box, 6)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addLayout(buttons)
        self.resize(1040, 700)

        # ----- wiring -----------------------------------------------------------------------------------------
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.ctl.stop)
        # bound methods, not lambdas: PySide keeps a connected lambda alive, and with it the closed window
        self.resume_btn.clicked.connect(self._resume)
        self.use_btn.clicked.connect(self._finish_now)
        self.close_btn.clicked.connect(self.close)
        self.backend.currentIndexChanged.connect(self._fill_start_from)
        for w in (self.video_path, self.name, self.size, self.width_edit):
            w.textChanged.connect(self.update_plan)
        for w in (self.minutes, self.steps, self.batch, self.val_every, self.grid_every, self.max_frames):
            w.valueChanged.connect(self.update_plan)
        self.start_from.currentIndexChanged.connect(self._on_start_from)
        self.src_photos.toggled.connect(self.update_plan)
        self.augment.toggled.connect(self.update_plan)
        self.live.setChecked(self.ctl.live)
        self.live.toggled.connect(self._on_live)
        c = self.ctl
        c.phaseChanged.connect(self._on_phase)
        c.status.connect(self._on_status)
        c.rowArrived.connect(self._on_row)
        c.rowsReset.connect(self._reset_rows)
        c.gridChanged.connect(self._on_grid)
        c.finished.connect(self.weightsReady)
        self.set_context(context)
        self._on_phase(c.phase)
        for r in c.rows:  # reopened during a run: show what it has done so far
            self._on_row(r)
        if c.grid is not None:
            self._on_grid(str(c.grid))

    # ----- set-up ---------------------------------------------------------------------------------------------
    def _make_plot(self):
        import pyqtgraph as pg

        pal = self.palette()
        plot = pg.PlotWidget(background=pal.base().color())
        plot.setMinimumHeight(150)
        fg = pal.text().color()
        for ax in ("left", "bottom"):
            plot.getAxis(ax).setTextPen(fg)
            plot.getAxis(ax).setPen(pal.mid().color())
        plot.setLabel("left", "loss", color=fg.name())
        plot.setLabel("bottom", "step", color=fg.name())
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        self.curve = plot.plot([], [], pen=pg.mkPen((110, 170, 255), width=2))
        return plot

    def set_context(self, ctx: TrainContext) -> None:
        """New references or backends (the dialog is reopened): refill the choices, keep what the user typed."""
        self.ctx = ctx
        n = len(ctx.photos)
        self.src_photos.setText(f"The {n} reference photo{'s' * (n != 1)} loaded" if n else
                                "The reference photos (none loaded)")
        self.src_photos.setEnabled(n > 0)
        chosen = self.src_photos.isChecked() or self.src_video.isChecked()
        if not n:
            self.src_video.setChecked(True)
        elif not chosen:  # first time: the photos when they can give pairs, else a video
            (self.src_photos if n >= 2 or not self.video_path.text() else self.src_video).setChecked(True)
        if not self.name.text():  # the photo's name as it is ("phötö 1"); the weights file's is made safe apart
            first = Path(ctx.photos[0]).stem if ctx.photos else ""
            self.name.setText(safe_name(first, for_file=False) if first else "")
        keep = self.backend.currentData()
        self.backend.blockSignals(True)
        self.backend.clear()
        for name, title in ctx.backends:
            self.backend.addItem(title, name)
        want = keep or ctx.current
        i = self.backend.findData(want)
        if i < 0:
            i = max(0, self.backend.findData("attention"))  # the fastest to train on a CPU
        self.backend.setCurrentIndex(i)
        self.backend.blockSignals(False)
        self._fill_start_from()

    def _fill_start_from(self, *_):
        name = self.backend.currentData()
        path, label = self.ctx.weights_for(name) if name else (None, "")
        self.start_from.blockSignals(True)
        self.start_from.clear()
        if path:
            self.start_from.addItem(f"Current: {label or Path(path).name}", path)
            self.start_from.setItemData(0, path, Qt.ItemDataRole.ToolTipRole)
        self.start_from.addItem("Scratch (an untrained network)", None)
        self.start_from.setCurrentIndex(0)
        self.start_from.blockSignals(False)
        self._on_start_from()

    def _on_start_from(self, *_):
        """Image size and width are the starting weights' own (or the backend's defaults): shown, and the width
        is fixed when fine-tuning (the weights would not fit another)."""
        name = self.backend.currentData()
        try:
            size, width = (P.network_defaults(name, self.start_from.currentData(), self.ctx.scratch.get(name))
                           if name else ((128, 64), None))
        except PoseEditorError:
            size, width = (128, 64), None
        self.size.setPlaceholderText(f"{size[0]}x{size[1]}")
        self.width_edit.setPlaceholderText(f"{width:g}" if width is not None else "the backend's default")
        fine_tune = self.start_from.currentData() is not None
        self.width_edit.setEnabled(not fine_tune)
        if fine_tune:
            self.width_edit.clear()
        self.update_plan()

    def _toggle_advanced(self, on: bool):
        self.adv.setVisible(on)
        self.adv_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _browse_video(self):
        path, _ = QFileDialog.getOpenFileName(self, "Video of the Person", self.ctx.start_dir, VIDEO_FILTER)
        if path:
            self.video_path.setText(path)
            self.src_video.setChecked(True)

    # ----- the plan -------------------------------------------------------------------------------------------
    def plan(self) -> P.TrainPlan:
        """The plan the widgets describe; PoseEditorError when something is not usable."""
        name = self.backend.currentData()
        if not name:
            raise P.PersonalizeError("No trainable backend is available (the engine is still starting?)")
        video = self.video_path.text().strip() if self.src_video.isChecked() else None
        if self.src_video.isChecked() and not video:
            raise P.PersonalizeError("Choose a video of the person (Browse…), or learn from the reference photos")
        over = dict(minutes=self.minutes.value(), steps=self.steps.value(), batch=self.batch.value(),
                    val_every=self.val_every.value(), grid_every=self.grid_every.value(),
                    ckpt_every=max(self.val_every.value(), 1), max_frames=self.max_frames.value(),
                    augment=self.augment.isChecked())
        size = _parse_size(self.size.text())
        if size:
            over["image_size"] = size
        if self.width_edit.isEnabled() and self.width_edit.text().strip():
            try:
                over["width"] = float(self.width_edit.text())
            except ValueError:
                raise P.PersonalizeError(f"Network width '{self.width_edit.text()}' is not a number") from None
        plan = P.make_plan(self.name.text().strip(), name, [] if video else self.ctx.photos, video,
                           self.start_from.currentData(), self.ctx.scratch.get(name), **over)
        P.check_plan(plan)
        return plan

    def update_plan(self, *_):
        if self.ctl.running:
            return
        self._images = None
        try:
            plan = self.plan()
            images = self.frames.lookup(plan) if plan.video else len(plan.photos)
            if images is None:
                self.plan_text.setText(f"Counting the frames of {_html(Path(plan.video).name)}…")
                self.start_btn.setEnabled(False)
                return
            est = P.estimate(plan, images)
        except PoseEditorError as e:
            self.plan_text.setText(f"<span style='color:#ff8a8a'>{_html(sentence(str(e)))}</span>")
            self.start_btn.setEnabled(False)
            return
        self._images = images
        self.plan_text.setText(self.describe(plan, est))
        self.start_btn.setEnabled(self.ctl.phase not in P.BUSY)

    def describe(self, plan: P.TrainPlan, est: P.Estimate) -> str:
        title = self.backend.currentText()
        what = (f"{est.images} frames of {Path(plan.video).name}" if plan.video
                else f"{est.images} photo{'s' if est.images != 1 else ''}")
        current = self.start_from.currentText().split(": ", 1)[-1]
        start = ("from scratch (an untrained network: expect a rough result)" if not plan.init else
                 f"from its {_html(current)}" if current.startswith("starter weights") else
                 f"from its current weights ({_html(current)})")
        w = f", width {plan.width:g}" if plan.width is not None else ""
        jitter = ", flipped and colour-jittered" if plan.augment else ""
        out = P.unique_path(self.ctl.dirs["weights"], P.safe_name(plan.name))
        steps = (f" or {plan.steps} steps, whichever comes first" if plan.steps < P.DEFAULT_STEPS else "")
        note = "" if plan.video else f"<p>{_html(P.pair_note(est.images))}</p>"
        caution = P.refit_note(plan)
        if caution:
            note += f"<p style='color:#ffcf70'>{_html(caution)}</p>"
        if not plan.video and self.ctx.unlike:
            # the photos are taught as one person: a newcomer's five different people drew a woman in a man's trousers
            names = ", ".join(self.ctx.unlike)
            note += (f"<p style='color:#ffcf70'>{_html(names)} look{'s' if len(self.ctx.unlike) == 1 else ''} like "
                     f"someone else than the first photo's person; the photos are taught as one person. Remove "
                     f"{'it' if len(self.ctx.unlike) == 1 else 'them'} from the references if not.</p>")
        moved = (f", and redraw each frame in {plan.frame_self_pairs} other poses (more poses to learn from)"
                 if plan.video and plan.frame_self_pairs else "")
        refiner = (f"<li>Then, for up to {P.duration(plan.refine * 60)}, teach a refiner to sharpen its pictures "
                   f"at the photo's own scale, on frames the network did not learn from.</li>" if plan.refine else "")
        live = ": the photo is drawn with each better check as it comes" if self.live.isChecked() else ""
        return (f"<ol style='margin-left:-20px'>"
                f"<li>Find the person in {what}{moved}: about {P.duration(est.prepare_s)}.</li>"
                f"<li>Train {_html(title)} {start} for up to {P.duration(plan.fit_minutes * 60)}{steps}, "
                f"checking how it draws the person in pictures it does not learn from.</li>"
                f"<li>Save what it has learnt as <code>{_html(str(out))}</code>, labelled "
                f"“{_html(plan.label)}”, and switch {_html(title)} to it.</li>{refiner}</ol>"
                f"<p><b>About {P.duration(est.total_s)} in all.</b> You can keep editing meanwhile{live}. "
                f"Stop keeps what has been learnt; Resume goes on.</p>{note}"
                # the numbers a trainer wants, apart: the steps above read as a plan, not as a configuration
                f"<p style='color:#9aa0aa'><small>Details: pictures of {plan.image_size[0]}×{plan.image_size[1]}{w}, "
                f"batches of up to {plan.batch}{jitter}. {_html(P.checks_note(plan))}</small></p>")

    # ----- actions ----------------------------------------------------------------------------------------
    def start(self) -> bool:
        try:
            plan = self.plan()
            self.ctl.start(plan, self._images)
        except (PoseEditorError, OSError) as e:
            self._show_error(str(e))
            return False
        return True

    def _resume(self):
        self._guard(self.ctl.resume)

    def _finish_now(self):
        self._guard(self.ctl.finish_now)

    def _guard(self, fn):
        try:
            fn()
        except PoseEditorError as e:
            self._show_error(str(e))

    def _show_error(self, text: str):
        self.status.setText(f"<span style='color:#ff8a8a'>{_html(sentence(text))}</span>")

    # ----- from the controller ----------------------------------------------------------------------------
    def _on_phase(self, phase: str):
        busy = phase in P.BUSY
        for w in (self.src_photos, self.src_video, self.video_path, self.browse_btn, self.name, self.backend,
                  self.start_from, self.minutes, self.adv):
            w.setEnabled(not busy and phase != P.STOPPED)
        self.start_btn.setEnabled(not busy and phase != P.STOPPED)
        if not busy and phase != P.STOPPED:
            self.src_photos.setEnabled(bool(self.ctx.photos))
            self._on_start_from()  # the plan again: Start only when it can run
        self.start_btn.setText("Start Again" if phase in (P.DONE, P.FAILED) else "Start")
        self.stop_btn.setEnabled(phase in P.STOPPABLE)
        self.resume_btn.setEnabled(phase == P.STOPPED)
        self.use_btn.setEnabled(phase == P.STOPPED)
        if phase in (P.PREPARE, P.REFINE):
            self.progress.setRange(0, 0)  # busy: prepare and the refiner report no progress of their own
        else:
            self.progress.setRange(0, 1000)
        if phase == P.DONE:
            self.progress.setValue(1000)
            self.progress.setFormat("done")
        if phase == P.STOPPED:
            self.stop_btn.setEnabled(False)

    def _on_status(self, text: str):
        if self.ctl.phase == P.FAILED:
            self._show_error(text)
        else:
            self.status.setText(_html(text))

    def _reset_rows(self):
        self._steps, self._losses = [], []
        self.curve.setData([], [])
        self.last_val = None
        self.figures.setText("")

    def _on_row(self, r: dict):
        kind = r.get("kind")
        if kind == "train" and "loss" in r:
            if self._steps and r["step"] <= self._steps[-1]:  # a repeated step after a resume replaces its point
                k = next(i for i, s in enumerate(self._steps) if s >= r["step"])
                del self._steps[k:], self._losses[k:]
            self._steps.append(int(r["step"]))
            self._losses.append(float(r["loss"]))
            self.curve.setData(self._steps, self._losses)
            self._show_progress(r)
        elif kind == "val":
            self.last_val = r
            self._show_figures()
        elif kind == "start":
            self.status.setText(_html(f"Training {Path(r.get('run_dir', '')).name} on {r.get('pairs_train')} pairs"
                                      f"{' (resumed)' if r.get('resumed') else ''}…"))

    def _show_progress(self, r: dict):
        plan = self.ctl.plan
        budget = plan.fit_minutes * 60 if plan else 0  # the training's share: the refiner follows export
        frac = max(r["step"] / max(r.get("total_steps") or 1, 1), r.get("elapsed", 0) / budget if budget else 0)
        self.progress.setValue(int(min(1.0, frac) * 1000))
        el = r.get("elapsed", 0)
        self.progress.setFormat(f"step {r['step']} · {_clock(el)} of {_clock(budget)}" if budget else
                                f"step {r['step']}")
        if self.ctl.phase == P.TRAIN:
            its = r.get("it_s") or 0
            self.status.setText(f"Training: step {r['step']}, loss {r['loss']:.3f}, {its:.2f} steps/s.")
        self._show_figures(r)

    def _show_figures(self, r: dict | None = None):
        v = self.last_val
        parts = []
        if v:
            parts.append(f"quality check at step {v['step']} ({v.get('split', 'test')} pairs): SSIM "
                         f"{v.get('ssim', 0):.3f}, L1 {v.get('l1', 0):.3f}")
        self.figures.setText(" · ".join(parts))

    def _on_live(self, on: bool):
        self.ctl.set_live(on)
        self.update_plan()

    def _on_grid(self, path: str):
        pm = QPixmap(path)
        if pm.isNull():
            return
        self._pixmap = pm
        self.grid.setToolTip(path)
        step = Path(path).stem.rsplit("-", 1)[-1].lstrip("0") or "0"
        self.grid_caption.setText(f"Preview at step {step}. Rows: source photo, target, what the network draws, "
                                  f"then the backend's own extra views.")
        self._fit_grid()

    def _fit_grid(self):
        if self._pixmap is not None:
            self.grid.setPixmap(self._pixmap.scaled(self.grid.size() * 0.98, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self._fit_grid()


def sentence(text: str) -> str:
    """A message as a sentence: a capital first letter ("give the result a name" -> "Give ..."), unless it
    starts with a file's name ("clip.mp4: not a video file"), which keeps its own spelling."""
    first = text.split(" ", 1)[0]
    if not text or not text[0].islower() or any(c in first for c in "./\\:"):
        return text
    return text[0].upper() + text[1:]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"
