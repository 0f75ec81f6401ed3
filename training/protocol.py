"""Train on This Person, as the app and ``poseeditor-train personalize`` both run it: Qt-free and torch-free.

    plan = make_plan("anna", "attention", video="anna.mp4", init=STARTER)   # the app's defaults
    check_plan(plan)
    prepare_command(plan, source, dataset) -> fit_command(...) -> export_command(...)   # argv of each step

What is here is what both sides must agree on: the plan's defaults, the three child commands and the threads
they get, the layout of a run folder, the single-person split that decides how many training pairs some photos
give, reading the rows a running fit appends to stats.jsonl, and the CLI's one-line error format
(``poseeditor-train: error: ...``) that the app reads back from a failed step. A workspace's folders and what
its files are called (slug, unique_path) are in training/names.py.
Importing this module costs no torch, no cv2 and no Qt (the app imports it on the UI thread).
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import PoseEditorError
from engine.fileio import check_input

from .names import slug, stage_photos

PROG = "poseeditor-train"
DEFAULT_MINUTES = 10.0
DEFAULT_STEPS = 100_000      # the time budget ends a personalisation; the step count is only a ceiling
DEFAULT_BATCH = 8
# reference photos per pair at most (multi-shot): every source's images are stacked in memory per batch, and a
# thousand asked for ran evaluate out of memory without a word
MAX_SOURCES = 16
MAX_VIDEO_FRAMES = 150       # spread over the whole video: ~30 s of detection
# Quality checks in a row without a better figure before a run stops early; 0: never, the whole time budget
# (the best check's weights are still the ones exported). Every network's check levels off at ~0.70 SSIM after
# 150-450 steps and then wanders by +-0.005, so a patience of 4 stopped runs after 2-4 of their 10 minutes, and
# the rest of the budget (the cosine rate's tail) still lowered L1 as the app shows it, paired on the 24 held-out
# dance pairs (2026-12-04, docs/personalize-measured.md "Early stopping"): attention -0.0022 +-0.0012, spgnet -0.0033
# +-0.0022, pnr (with 1e-3) -0.0051 +-0.0027, dgan -0.003 and dgan-sa -0.001 with SSIM +0.005 / +0.004.
DEFAULT_PATIENCE = 0
CLOCKS = ("wall", "cpu")     # what the time budget counts: the app's minutes, or the process's CPU time

# How a personal model trains, per backend, where it differs from the plan's defaults (measured on the dance video,
# docs/personalize-measured.md): the factor on the recipe's learning rates (attention's 1e-3 and pnr's 2e-3 are rates to
# train from scratch), "patience" when a backend's run should stop early, "frame_self_pairs" (a video's frames'
# own self-pairs, prepare --self-pairs), "net" (network config overrides, fit --net), "recipe" (recipe options, fit
# --recipe), and optionally "size", the image size to fine-tune at when the starting weights are smaller (the
# networks are convolutional: 128x64 weights load at 256x128). At minutes of CPU steps mostly beat pixels (spgnet
# after the same ~2.4 CPU-minutes: 87 steps at 128x64 scored SSIM 0.726 / L1 0.083 as the app shows it, 30 steps at
# 256x128 0.711 / 0.096; attention at 256x128 gained on the far third, lost L1 and PCKh: personalize-measured.md).
# Attention's and pnr's plans have one, 192x96 (pnr's below); attention: ~950 steps in its 10 CPU-minutes against
# ~1,800 at 128x64, two fits
# through the whole pipeline paired against the README table's 128x64 model on the 24 held-out dance pairs
# (2026-12-07 night): SSIM +0.0027 and +0.0021 (+-0.0037), the far third +0.0074 and +0.0071, L1 +0.0015 and
# +0.0019 (+-0.0014; far -0.0005 and -0.0003), PCKh 0.905 -> 0.90: +0.030 over warp, the far third +0.024-0.025.
PERSONAL = {
    # Every plan but pnr's reframes each training image (fit --reframe 0.1: scaled and moved by up to 10%, each
    # image on its own), the framings the app gives a photo and a dragged pose. Each plan's fit on its own
    # prepared set against the same fit without it, paired on the 24 held-out dance pairs (2026-12-05): dgan SSIM
    # +0.004 +-0.003, L1 -0.002 (0.753 / 0.069 -> 0.757 / 0.067; at 0.05 +0.002 +-0.003), dgan-sa +0.002 +-0.002,
    # attention +0.003 +-0.003 (L1 -0.002 +-0.002, its check +0.008 at the same steps), spgnet +0.005 +-0.001 (L1
    # -0.002 +-0.001, its check +0.005 at the same steps); pnr -0.002 +-0.002, so not for it.
    # attention keeps its whole budget for the network: its refiner gained no SSIM and cost L1 (the pipeline of
    # 2026-12-05 21:40, paired against the same network without it: SSIM +0.0017 +-0.0033, L1 +0.0030 +-0.0011)
    # and fine-tunes at 192x96 (above)
    "attention": {"lr_mult": 0.25, "reframe": 0.1, "refine": 0, "size": (192, 96)},
    # spgnet: Adam 4e-4. Its check still rose at the budget's end at 2e-4; on the set with 48 self-pairs, the same
    # fit paired on the 24 held-out dance pairs (2026-12-04 night): x2 SSIM +0.006 +-0.003, L1 -0.004 +-0.001
    # (0.752 / 0.070 / 0.90 -> 0.758 / 0.066 / 0.91), x4 +0.005 / -0.002, x0.5 -0.002 (docs/personalize-measured.md).
    "spgnet": {"lr_mult": 2.0, "reframe": 0.1},
    # pnr: Adam 1e-3. Against 2e-4 (with patience 4 then, stopped at 541 steps, 3.4 CPU-min): 1565 steps,
    # eval_person 0.745 / 0.077 / 0.86 against 0.742 / 0.083 / 0.79, paired L1 -0.0051 +-0.0027, PCKh +0.07
    # +-0.04, SSIM +0.003 +-0.004; by eye the ball and the limbs come back (2026-12-04). Its perceptual
    # term also compares MobileNetV2's second stage (stride 4; the recipe's own is the first alone, standing in for
    # the paper's VGG conv1_2): on one prepared set, the same fit, paired on the 24 held-out pairs, PCKh 0.86 ->
    # 0.91 (+0.05 +-0.03; warp's 0.89), SSIM -0.0015 +-0.0018, L1 level (2026-12-05).
    # It fine-tunes at 192x96 (two fits, 2026-12-07 night, ~540 steps and its refiner against the table's 1,226,
    # paired against the README table's pnr on the 24 held-out dance pairs: SSIM +0.0044 and +0.0050 (+-0.0019),
    # L1 -0.0023 and -0.0021 (+-0.0009), PCKh 0.91 -> 0.93, the far third +0.003: +0.039 over warp, far +0.028).
    "pnr": {"lr_mult": 0.5, "recipe": {"perceptual_depths": [0, 1]}, "size": (192, 96)},
    # dgan: Adam 1e-3. With its L1 and perceptual terms (training/recipes/dgan.py GANLESS) the held-out check at
    # 128x64 after ~220 steps: 0.73 SSIM at 1e-3, and without those terms 0.60 at 1e-3, 0.59 at 2e-4 (the old
    # recipe's best after 781 steps: 0.603); eval_person after 10 CPU-minutes 0.742 / 0.078 / 0.87 against the
    # old plan's 0.731 / 0.104 / 0.34 (docs/personalize-measured.md, "DGAN"). dgan-sa trains with dgan's recipe and rate.
    "dgan": {"lr_mult": 5.0, "reframe": 0.1},
    # dgan-sa also pools its attention's keys and values by 4 (the starter's 2; a quarter of the score map): twice
    # the steps in the budget (658 against 324), paired SSIM +0.004 +-0.002 on the 24 held-out pairs (0.749 /
    # 0.072 / 0.89 -> 0.754 / 0.071 / 0.89), and the personal model renders faster (docs/personalize-measured.md). Its
    # decoder drops 70% of its first three layers' activations in training (the paper's 50%; off when it renders):
    # on one prepared set SSIM +0.005 +-0.002, L1 -0.003 +-0.001 (0.747 / 0.073 -> 0.752 / 0.070; the same fit
    # twice +0.000 +-0.001); dgan at 70% -0.003 +-0.003, and at 0% -0.019 (2026-12-05).
    "dgan-sa": {"lr_mult": 5.0, "net": {"attention_pool": 4, "dropout": 0.7}, "reframe": 0.1},
}
PERSONAL_KEYS = {"lr_mult", "patience", "frame_self_pairs", "net", "recipe", "size", "gan_start_step", "reframe",
                 "refine"}  # what make_plan reads
# A fine-tune learns from the reconstruction losses alone: a fresh discriminator's first hundreds of steps only
# add noise to a run of minutes (the GAN would start at this step, beyond the plan's step ceiling).
PERSONAL_GAN_START = DEFAULT_STEPS

# Fewer photos than this train on each photo's self-pairs (``self-pairs --personal``: the warp engine's render of
# the photo in a moved pose as source, the photo as target) instead of prepare's pairs between the photos: one photo
# gives no pair at all, and 2-3 photos give 2-6 pairs of a few fixed pose changes, which a fine-tune memorises. Measured
# (spgnet, 2.5 CPU-minutes, held-out dance frames as the app shows them, docs/training.md "self-pairs"): from 2
# frames SSIM / L1 / PCKh 0.730 / 0.085 / 0.85 with self-pairs, 0.713 / 0.091 / 0.78 with the pairs between them
# (starter 0.715 / 0.095 / 0.82); from 1 frame 0.726 / 0.086 / 0.83. 3 photos (6 pairs) were not measured.
SELF_PAIRS_BELOW = 4
# A video's training frames also give self-pairs (``prepare --self-pairs N``: the frame's warp render in a perturbed
# pose as the source, the frame as the target, both framed on their own pose as the app frames a photo), beside the
# pairs between frames: poses and framings beyond the video's own, which its held-apart frames need (every plan's
# check peaked after 100-550 of its 300-2,300 steps without them). Measured per backend (docs/personalize-measured.md
# "Self-pairs of the frames": the whole personalize pipeline or its fit alone, 10 CPU-minutes, eval_person paired
# on the 24 held-out dance pairs, 2026-12-04): none -> 16 attention SSIM +0.009 +-0.005, pnr +0.016 +-0.007,
# spgnet and dgan level; 16 -> 48 attention +0.002 +-0.002, pnr +0.005 +-0.002, spgnet +0.002 +-0.002; none -> 48
# dgan +0.019 +-0.011 (L1 -0.010), dgan-sa +0.018 +-0.012 (L1 -0.011). Framed at the video's one scale instead,
# 16 gained nothing. Prepare renders them: +48 s per 100 frames. PERSONAL's "frame_self_pairs" may say otherwise.
VIDEO_SELF_PAIRS = 48
MAX_FRAME_SELF_PAIRS = 64  # per frame: prepare's and personalize's --self-pairs accept 0 to this

# The last minutes of a plan train the person's refiner (engine/refiner.py, training/refine.py: the app's render
# finished at the photo's scale, learnt on the frames the model never fitted as targets). The networks level off
# after 300-500 steps and 12-38% more steps moved nothing (docs/personalize-measured.md, "Steps are not what the plans
# lack"), so the minutes are worth more there: a personal SPGNet on the dance video, paired on the 24 held-out
# pairs, SSIM +0.0057 +-0.0026 after 1 CPU-minute of refiner, +0.0078 +-0.0032 after 2 (2026-12-05). Through the
# whole pipeline (8 minutes of network, 2 of refiner), paired against the same networks without their refiner:
# SPGNet +0.0103 +-0.0035, DGAN-SA +0.0098 +-0.0025, pNR +0.0039 +-0.0028 (L1 +0.0005 to +0.0007); against the
# plans' 10 minutes of network, DGAN +0.0043 +-0.0027 (docs/personalize-measured.md). Only a plan of at least REFINE_FROM
# minutes, only a video (photos of several sizes and backgrounds make no pair a pose can be drawn across; a few
# photos hold nothing apart), and not attention's (PERSONAL).
REFINE_MINUTES = 2.0
REFINE_FROM = 5.0
REFINE_MIN_TARGETS = 4  # images held apart a refiner needs as targets; fewer and it would learn nothing new

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".mts", ".ogv"}

# ----- a run folder (training/run_dir.py writes it) ----------------------------------------------------------------
OPTIONS_FILE = "training_options.json"
STATS_FILE = "stats.jsonl"
GRIDS_DIR = "grids"
CHECKPOINTS_DIR = "checkpoints"
BEST_FILE = "best.safetensors"

# ----- the single-person split (training/prepare.py applies it) ----------------------------------------------------
TEST_FRACTION = 0.2
GAP_FRACTION = 0.05


class PersonalizeError(PoseEditorError):
    """A personalisation that cannot start (too few photos, no video, ...)."""


def check_positive(value, flag: str) -> None:
    """A budget given on the command line (``--minutes``, ``--lr-mult``): a finite number above 0, or one line
    saying so (an endless one trained forever, or was refused by the fit step only after the data was prepared)."""
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise PoseEditorError(f"{flag} must be a number above 0, not {value:g}")


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, gap, test) of one person's ``n`` usable images in time order: the last ~20% test (at least 2,
    a test pair needs two), a ~5% gap before them in no split, the rest train; under 6 images all train."""
    test = max(2, round(TEST_FRACTION * n)) if n >= 6 else 0
    gap = max(1, round(GAP_FRACTION * n)) if n >= 10 else 0
    return n - test - gap, gap, test


# ================================================================================================================
# The plan
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
    reframe: float = 0.0               # with augment: each image scaled and moved by up to this share (fit --reframe)
    val_every: int = 20                # 20 steps at 256x128: 45 s (attention) to 7 min (dgan-sa) of one CPU core
    grid_every: int = 25
    ckpt_every: int = 20
    val_pairs: int = 24
    max_frames: int = MAX_VIDEO_FRAMES
    clock: str = "wall"                # "cpu": the budget counts the training process's CPU time (benchmarks)
    patience: int | None = DEFAULT_PATIENCE
    schedule: str = "cosine"
    lr_mult: float = 1.0
    gan_start_step: int | None = None  # None: the recipe's own (the papers': 0)
    freeze_norm: bool = False          # keep the starting weights' batch-norm statistics (fit --freeze-norm)
    self_pairs: bool | None = None     # train on the photos' self-pairs; None: when fewer than SELF_PAIRS_BELOW
    frame_self_pairs: int = VIDEO_SELF_PAIRS  # a video's frames' own warp renders added as train pairs (prepare)
    net: dict = field(default_factory=dict)  # network config over the starting weights' (fit --net)
    recipe: dict = field(default_factory=dict)  # recipe options over the recipe's own (fit --recipe)
    refine_minutes: float | None = None  # the budget's last minutes for the refiner; None: as refine_for says
    refine_steps: int | None = None    # a ceiling on the refiner's steps (refine --steps); None: its minutes alone

    @property
    def refine(self) -> float:
        """Minutes of the budget the refiner gets (0: none; see REFINE_MINUTES)."""
        if self.refine_minutes is not None:
            return max(0.0, min(float(self.refine_minutes), self.minutes / 2))
        return REFINE_MINUTES if self.video and self.init and self.minutes >= REFINE_FROM else 0.0

    @property
    def fit_minutes(self) -> float:
        """The network's share of the budget: what the refiner does not take."""
        return self.minutes - self.refine

    @property
    def label(self) -> str:
        return self.name.strip()


def network_defaults(backend: str, init: str | None, scratch: tuple | None = None) -> tuple[tuple[int, int], float | None]:
    """(image size, width) to train at: the init weights' own config (read from the file's header; the size raised
    to the backend's PERSONAL size when smaller), else ``scratch`` (the app passes the catalogue's, made in the
    worker thread), else the backend's default_config (which imports the backends, and torch with them: never on
    the UI thread)."""
    if init:
        from engine.weights import read_meta

        meta = read_meta(init)
        cfg = meta.config
        size = tuple(int(v) for v in cfg.get("image_size", meta.image_size))
        own = PERSONAL.get(backend, {}).get("size")
        if own and size[0] * size[1] < own[0] * own[1]:
            size = tuple(own)  # fine-tuned at more pixels than the weights were trained at
        return size, cfg.get("width")
    if scratch is not None:
        return (int(scratch[0][0]), int(scratch[0][1])), scratch[1]
    from engine.registry import backend_class

    cfg = backend_class(backend).default_config
    return tuple(int(v) for v in cfg.get("image_size", (128, 64))), cfg.get("width")


def make_plan(name: str, backend: str, photos=(), video=None, init=None, scratch=None, **overrides) -> TrainPlan:
    size, width = network_defaults(backend, init, scratch)
    own = PERSONAL.get(backend, {}) if init else {}  # from scratch: the papers' recipe
    plan = TrainPlan(name=name, backend=backend, photos=[str(p) for p in photos], video=str(video) if video else None,
                     init=str(init) if init else None, image_size=size, width=width,
                     lr_mult=float(own.get("lr_mult", 1.0)),
                     gan_start_step=own.get("gan_start_step", PERSONAL_GAN_START) if init else None,
                     freeze_norm=bool(init), patience=own.get("patience", DEFAULT_PATIENCE) or None,
                     frame_self_pairs=int(own.get("frame_self_pairs", VIDEO_SELF_PAIRS)), net=dict(own.get("net", {})),
                     recipe=dict(own.get("recipe", {})), reframe=float(own.get("reframe", 0.0)),
                     refine_minutes=own.get("refine"))
    return replace(plan, **overrides) if overrides else plan


def checks_note(plan: TrainPlan) -> str:
    """What the plan's quality checks do, in the words the app's plan shows."""
    text = (f"Checks quality every {plan.val_every} steps on {plan.val_pairs} pairs unlike the training ones; the best "
            f"so far is shown as it learns. Saves the weights it ends with, or the best check's if stopped before the "
            f"end")
    if plan.patience:
        text += f"; stops early when {plan.patience} checks in a row bring no progress"
    return text + "."


def check_plan(plan: TrainPlan) -> None:
    """Raise PersonalizeError with what to do when the plan cannot start or cannot give training pairs.
    Reads file headers only: no video is opened here."""
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
        check_input(plan.video, PersonalizeError, "video")
        if not is_video(Path(plan.video)):
            raise PersonalizeError(f"{Path(plan.video).name}: not a video file this app reads (mp4, mov, avi, mkv, "
                                   f"webm, ...)")
        return
    if not plan.photos or (len(plan.photos) < 2 and not uses_self_pairs(plan)):
        raise PersonalizeError("Training on a person needs a photo of them" +
                               (" (at least 2: it learns from pairs of photos)" if plan.self_pairs is False else "") +
                               "; better, a short video of them moving. Add reference photos or pick a video.")
    for photo in plan.photos:
        check_input(photo, PersonalizeError, "photo")


def image_count(plan: TrainPlan) -> int:
    """Photos, or the video frames prepare will look at: opens the video (cv2), so never on a UI thread."""
    if plan.video:
        from .video import frame_count, planned_frames

        return len(planned_frames(frame_count(Path(plan.video)), 1, plan.max_frames))
    return len(plan.photos)


# ================================================================================================================
# The commands of a workspace's steps (its folders and file names: training/names.py)
# ================================================================================================================
def cli(*args) -> list[str]:
    return [sys.executable, "-m", "training.cli", *[str(a) for a in args]]


def uses_self_pairs(plan: TrainPlan) -> bool:
    """Whether the plan trains on its photos' self-pairs (a few photos) rather than pairs between them."""
    if plan.video:
        return False
    return len(plan.photos) < SELF_PAIRS_BELOW if plan.self_pairs is None else bool(plan.self_pairs)


def refit_note(plan: TrainPlan) -> str:
    """A caution, or "": weights that are not a backend's starter (a personal model, most likely from a video)
    trained again on a few photos' self-pairs. Measured (docs/personalize-measured.md, "The photo being edited as one
    more lesson"): a video's personal SPGNet and attention trained 1 minute on the one photo being edited scored
    SSIM 0.008-0.014 lower on the held-out frames; the photo's self-pairs wear away what the frames taught."""
    if not plan.init or not uses_self_pairs(plan):
        return ""
    from engine.backends.base import is_starter  # numpy only

    if is_starter(plan.init):
        return ""
    return ("These weights are not the starter weights. If they were trained on a video of this person, training "
            "them again on a few photos is likely to make them worse (measured: a video's model trained for a "
            "minute on the photo being edited drew the held-out frames less well). To train a model of these photos "
            "alone, first switch the backend back to its starter weights (Manage weights…).")


def prepare_args(plan: TrainPlan, source: Path, out: Path) -> list:
    h, w = plan.image_size
    if uses_self_pairs(plan):  # source_for staged the photos as source/<person>/
        return ["self-pairs", Path(source) / slug(plan.name), "-o", out, "--size", f"{h}x{w}", "--personal"]
    args = ["prepare", source, "-o", out, "--size", f"{h}x{w}"]
    if plan.video:
        args += ["--max-frames", plan.max_frames]
        if plan.frame_self_pairs:
            args += ["--self-pairs", plan.frame_self_pairs]
    return args


def fit_args(plan: TrainPlan, data: Path, runs_dir: Path, batch: int) -> list:
    h, w = plan.image_size
    args = ["fit", "--backend", plan.backend, "--data", data, "--runs-dir", runs_dir, "--size", f"{h}x{w}",
            "--steps", plan.steps, "--batch", batch, "--time-budget", f"{plan.fit_minutes:g}",
            "--val-every", plan.val_every, "--grid-every", plan.grid_every, "--ckpt-every", plan.ckpt_every,
            "--val-pairs", plan.val_pairs, "--label", plan.label, "--no-progress"]
    args += ["--clock", plan.clock, "--schedule", plan.schedule, "--lr-mult", f"{plan.lr_mult:g}"]
    if plan.patience:
        args += ["--patience", plan.patience]
    if plan.gan_start_step is not None:
        args += ["--gan-start-step", plan.gan_start_step]
    if plan.freeze_norm:
        args.append("--freeze-norm")
    if plan.init:
        args += ["--init", plan.init]  # the network config (width, ...) comes from the file's metadata
    elif plan.width is not None:
        args += ["--width", f"{plan.width:g}"]
    if plan.augment:
        args.append("--augment")
        if plan.reframe:
            args += ["--reframe", f"{plan.reframe:g}"]
    if plan.net:
        args += ["--net", json.dumps(plan.net, sort_keys=True)]
    if plan.recipe:
        args += ["--recipe", json.dumps(plan.recipe, sort_keys=True)]
    return args


def resume_args(run: Path, minutes: float) -> list:
    return ["fit", "--resume", run, "--time-budget", f"{minutes:g}", "--no-progress"]


def export_args(run: Path, out: Path, label: str, which: str = "auto") -> list:
    return ["export", run, "-o", out, "--label", label, "--which", which]


# A run that ended its schedule (its time budget or its step ceiling) is exported as it ended, where the cosine rate
# came down; a run stopped before that (the person's Stop, early stopping) by its best check. Once the checks level
# off they wander by +-0.005, and their best is a noisy pick: the 2026-12-07 table's pNR exported its check of step
# 300 of 1,226, and its last weights scored SSIM +0.005 +-0.003, L1 -0.004 as the app shows it (+0.005 with its
# refiner trained again); nine other runs' last weights were level with their best checks
# (docs/personalize-measured.md, "The weights a run ends with").
SCHEDULE_ENDS = ("time budget", "steps")


def export_choice(rows: list[dict]) -> str:
    """export's --which for a fit's run, from its stats rows (read_stats; the app has them already): "latest" when
    it ended its schedule, else "auto" (its best check)."""
    done = next((r for r in reversed(rows) if r.get("kind") == "done"), None)
    return "latest" if done is not None and done.get("reason") in SCHEDULE_ENDS else "auto"


def refine_args(plan: TrainPlan, weights: Path, data: Path) -> list:
    steps = [] if plan.refine_steps is None else ["--steps", plan.refine_steps]
    return ["refine", weights, "--data", data, "--minutes", f"{plan.refine:g}", "--clock", plan.clock, *steps]


def refine_command(plan: TrainPlan, weights: Path, data: Path) -> list[str]:
    return cli(*refine_args(plan, weights, data))


def prepare_command(plan: TrainPlan, source: Path, out: Path) -> list[str]:
    return cli(*prepare_args(plan, source, out))


def fit_command(plan: TrainPlan, data: Path, runs_dir: Path, batch: int) -> list[str]:
    return cli(*fit_args(plan, data, runs_dir, batch))


def resume_command(run: Path, minutes: float) -> list[str]:
    return cli(*resume_args(run, minutes))


def export_command(run: Path, out: Path, label: str, which: str = "auto") -> list[str]:
    return cli(*export_args(run, out, label, which))


def photos_folder(dataset: Path) -> Path:
    """Where a plan's photos are copied beside its dataset, as one person's folder for prepare to read."""
    return dataset.with_name(dataset.name + ".photos")


def source_for(plan: TrainPlan, dataset: Path) -> Path:
    """What prepare reads: the video, or the photos copied beside the dataset as one person's folder."""
    if plan.video:
        return Path(plan.video)
    try:
        return stage_photos(plan.photos, photos_folder(dataset), slug(plan.name))
    except OSError as e:
        raise PersonalizeError(f"cannot copy the photos to {dataset}: {e.strerror or e}") from None


def self_pairs_note(n_photos: int) -> str:
    """What a few photos train on (the plan's words): the warp engine's renders of each in moved poses."""
    if n_photos < 1:
        return "A photo of the person is needed (better, a video)."
    return (f"{'Each photo is' if n_photos > 1 else 'The photo is'} redrawn by the warp engine in moved poses, and "
            f"the network learns to turn those drawings back into the photo: a quick start. A video is better.")


def no_pairs_message(plan: TrainPlan) -> str:
    if uses_self_pairs(plan):
        return ("No training pairs: no person showing both shoulders and hips was found in the photo"
                + "s" * (len(plan.photos) > 1) + ". Pick a photo where the whole upper body and the hips show")
    what = "video frames" if plan.video else "photos"
    return (f"No training pairs: the person was found in fewer than 2 {what} showing both shoulders and hips. "
            f"At least 2 such photos of the same person are needed; better, a short video of them moving")


def child_env(env: dict) -> dict:
    """The environment of a step's child process, from the caller's."""
    env = dict(env)
    env["PYTHONUNBUFFERED"] = "1"
    # leave a core to the window and its render thread: torch's threads spin-wait for each other, and on a busy
    # CPU a step with every core asked for took 20 s where one thread took 0.3 s (measured)
    env.setdefault("OMP_NUM_THREADS", str(training_threads()))
    root = Path(__file__).resolve().parents[1]  # a source checkout that is not installed still finds training/
    if (root / "training").is_dir():
        old = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = str(root) + (os.pathsep + old if old else "")
    return env


def run_folder(stdout: str, cwd) -> Path | None:
    """fit's one stdout line is its run folder, printed as soon as it exists (only whole lines count)."""
    lines = [ln.strip() for ln in stdout.split("\n")[:-1] if ln.strip()]
    runs = [Path(cwd) / ln for ln in lines if (Path(cwd) / ln).is_dir()]
    return runs[0] if runs else None


def training_threads() -> int:
    """CPU threads for the training step: all cores but one (the app keeps drawing while it trains)."""
    return max(1, (os.cpu_count() or 2) - 1)


def train_pairs(dataset: Path) -> int:
    """The pairs a prepared set trains on (its pairs-train.csv's rows)."""
    from .dataset_format import read_pairs

    p = Path(dataset) / "pairs-train.csv"
    return len(read_pairs(p)) if p.is_file() else 0


def held_apart(dataset: Path) -> int:
    """The images prepare held apart (its test pairs' images): the refiner's targets."""
    from .dataset_format import split_images

    return len(split_images(dataset, "test"))


def with_refiner_if_held_apart(plan: TrainPlan, dataset: Path) -> TrainPlan:
    """The plan as prepare's set allows it: a set holding fewer than REFINE_MIN_TARGETS images apart (a short
    clip) gets no refiner, and its network the whole budget."""
    if plan.refine and held_apart(dataset) < REFINE_MIN_TARGETS:
        return replace(plan, refine_minutes=0)
    return plan


def fit_batch(plan: TrainPlan, pairs: int) -> int:
    """fit refuses a batch larger than the training pairs: a few photos train in smaller batches."""
    return max(1, min(plan.batch, pairs))


# ================================================================================================================
# Reading a running step: its error line, its stats rows
# ================================================================================================================
def error_line(text: str) -> str:
    """The CLI's one line for a failure: ``poseeditor-train: error: <text on one line>``."""
    return f"{PROG}: error: {' '.join(str(text).split())}"


_ERROR_LINE = re.compile(rf"^{re.escape(PROG)}: error: (.*)$")
# what TFLite / absl (mediapipe's detector) print on start-up: not the step's own words
NOISE_PREFIXES = ("INFO:", "WARNING: All log messages", "W0000", "I0000")


def is_noise(line: str) -> bool:
    return line.strip().startswith(NOISE_PREFIXES)


def last_error_line(text: str) -> str:
    """The line of a child's stderr that says what went wrong: its `error:` line, else its last words."""
    lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
    for ln in reversed(lines):
        m = _ERROR_LINE.match(ln)
        if m:
            return m.group(1)
    for ln in reversed(lines):  # a traceback's last line names the exception
        if not is_noise(ln):
            return ln
    return ""


class StatsReader:
    """Reads the rows a running fit appends to stats.jsonl; a row cut mid-write waits for its end. A resumed run
    rewrites the file first (dropping the rows it will repeat): the reader starts over when it shrinks."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / STATS_FILE
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


def read_stats(run_dir: Path) -> list[dict]:
    """The rows of stats.jsonl; a torn last line (the process was killed mid-write) is ignored."""
    return StatsReader(run_dir).read_new()[0]


def newest_grid(run_dir: Path) -> Path | None:
    grids = sorted((Path(run_dir) / GRIDS_DIR).glob("grid-*.png"))
    return grids[-1] if grids else None


def has_checkpoint(run_dir: Path) -> bool:
    return any((Path(run_dir) / CHECKPOINTS_DIR).glob("ckpt-*.pt"))
