"""What a short personal fine-tune relies on: the learning-rate schedule, early stopping on validation pairs unlike
the training ones, and a time budget that can count CPU time instead of the wall clock. Real runs of the loop
with the tiny trainable backend of test_loop.py, on real procedural datasets."""
from __future__ import annotations

import math
import time

import pytest
import torch

# the tiny trainable backend and a procedural dataset of 4 people in 4 poses (3 to train on, 1 to validate on)
from tests.training.test_loop import base_options, synth_data, tiny, train_rows  # noqa: F401  (fixtures)


def done_row(run):
    from training.run_dir import read_stats

    return read_stats(run)[-1]


def test_cosine_schedule_warms_up_then_falls_to_the_floor():
    from training.loop import WARMUP_STEPS, lr_scale

    assert lr_scale("constant", 0, 100, 0.0, None) == 1.0
    ramp = [lr_scale("cosine", s, 1000, 0.0, None) for s in range(WARMUP_STEPS)]
    assert ramp == sorted(ramp) and ramp[0] == pytest.approx(0.1, abs=0.01) and ramp[-1] > 0.99
    # by steps, or by the budget's clock, whichever is further
    assert lr_scale("cosine", 50, 100, 0.0, None) == pytest.approx(0.525)
    assert lr_scale("cosine", 20, 100, 30.0, 60.0) == pytest.approx(0.525)
    assert lr_scale("cosine", 100, 100, 0.0, None) == pytest.approx(0.05)
    assert lr_scale("cosine", 20, 100, 90.0, 60.0) == pytest.approx(0.05)  # past the budget: the floor


def test_a_cosine_run_lowers_the_optimisers_rates_and_resumes_exactly(tiny, synth_data, tmp_path):
    from training.checkpoint import load_checkpoint
    from training.loop import fit

    opts = dict(steps=12, batch=4, schedule="cosine", lr_mult=2.0, ckpt_every=4, val_every=100, grid_every=100)
    whole = fit(base_options(synth_data, tmp_path / "a", **opts))
    rows = train_rows(whole)
    scales = [r["lr_scale"] for r in rows]
    assert scales[-1] < scales[len(scales) // 2] < max(scales) <= 2.0  # lr_mult times the schedule
    lr = load_checkpoint(whole / "checkpoints" / "ckpt-0000012.pt")["recipe"]["optimizers"]["g"]["param_groups"][0]
    assert lr["base_lr"] == 3e-3 and lr["lr"] == pytest.approx(3e-3 * scales[-1], rel=1e-4)

    part = fit(base_options(synth_data, tmp_path / "b", stop_after=5, **opts))
    fit({"resume": str(part), "progress_bar": "off"})
    assert [r["loss"] for r in train_rows(part)] == [r["loss"] for r in rows]  # the schedule resumes too


def test_patience_stops_a_run_whose_validation_stops_improving_and_keeps_the_best(tiny, synth_data, tmp_path):
    from engine.weights import read_meta
    from training.loop import fit
    from training.run_dir import read_stats

    # a learning rate too small to change anything: every validation after the first is no better
    run = fit(base_options(synth_data, tmp_path / "p", steps=100, val_every=2, grid_every=100, ckpt_every=100,
                           patience=2, lr_mult=1e-9))
    done = done_row(run)
    vals = [r for r in read_stats(run) if r["kind"] == "val"]
    assert done["reason"] == "no better validation" and done["step"] == 7, done
    assert [v["step"] for v in vals] == [2, 4, 6]  # no extra validation at the stop
    assert done["best_metric"]["step"] == 2 and read_meta(run / "best.safetensors").provenance["step"] == 2

    # a learning run is not stopped by it
    late = fit(base_options(synth_data, tmp_path / "q", steps=8, val_every=2, grid_every=100, ckpt_every=100,
                            patience=3, batch=8))
    assert done_row(late)["reason"] == "steps"

    # what a plan exports: a run that ended its schedule as it ended; one stopped before, its best check
    from training.export import export_run
    from training.protocol import export_choice

    assert (export_choice(read_stats(run)), export_choice(read_stats(late))) == ("auto", "latest")
    assert export_choice([]) == "auto"  # a run with no end recorded (killed): its best check
    export_run(run, tmp_path / "stopped.safetensors", which=export_choice(read_stats(run)))
    export_run(late, tmp_path / "ended.safetensors", which=export_choice(read_stats(late)))
    assert read_meta(tmp_path / "stopped.safetensors").provenance["step"] == 2
    assert read_meta(tmp_path / "ended.safetensors").provenance["steps"] == 8


def test_the_cpu_clock_does_not_count_time_spent_waiting(tiny, synth_data, tmp_path):
    """The same budget: the wall clock counts a slow progress reader's sleeps, the CPU clock does not."""
    from training.loop import fit

    def slow(row):
        if row["kind"] == "train":
            time.sleep(0.2)

    budget = 0.5 / 60  # half a second; 8 tiny steps take ~0.1 CPU-s
    wall = fit(base_options(synth_data, tmp_path / "w", steps=8, time_budget=budget, val_every=100,
                            grid_every=100), progress=slow)
    cpu = fit(base_options(synth_data, tmp_path / "c", steps=8, time_budget=budget, clock="cpu", val_every=100,
                           grid_every=100), progress=slow)
    assert done_row(wall)["reason"] == "time budget" and done_row(wall)["step"] <= 4  # 0.2 s a step
    assert done_row(cpu)["reason"] == "steps" and done_row(cpu)["step"] == 8
    rows = train_rows(cpu)
    assert rows[-1]["elapsed"] > 1.0 and rows[-1]["cpu_s"] < rows[-1]["elapsed"] - 0.75  # 7 waits: 1.4 s


def test_validation_pairs_are_the_targets_least_like_training_with_many_sources(synth_data):
    from engine.pose import pose_distance
    from training.datasets import PairDataset
    from training.validation import val_indices

    train = PairDataset(synth_data, "train")
    val = PairDataset(synth_data, "test")
    picked = val_indices(val, 8, train)
    pairs = [val.pairs[i] for i in picked]
    assert len(picked) == len(set(picked)) == 8

    def novelty(name):
        return min(pose_distance(val.poses[name], train.poses[t]) for t in train.names)

    targets = sorted({b for _, b in val.pairs}, key=novelty, reverse=True)
    assert pairs[0][1] == targets[0]  # the target least like any training image comes first
    assert [b for _, b in pairs[:len(targets)]] == targets  # then every target once, least like training first
    first_round = [a for a, _ in pairs[:len(targets)]]
    assert len(set(first_round)) == len(first_round)  # each with another source photo
    assert val_indices(val, 5) == [0, 1, 2, 3, 4]  # without training poses: the first pairs


def test_a_plan_fine_tunes_a_starter_with_the_personal_recipe(tmp_path, monkeypatch):
    from training import protocol as P
    from training.personalize import starter_weights

    starter = str(starter_weights("attention"))
    plan = P.make_plan("anna", "attention", video=str(tmp_path / "v.mp4"), init=starter)
    own = P.PERSONAL["attention"]
    size = tuple(own.get("size", (128, 64)))  # the starter's 128x64 raised to the plan's own size, if it has one
    assert plan.image_size == size and plan.width == 0.25
    fit = P.fit_command(plan, tmp_path / "ds", tmp_path / "runs", 8)

    def arg(flag):
        return fit[fit.index(flag) + 1]

    assert arg("--size") == f"{size[0]}x{size[1]}" and arg("--clock") == "wall" and arg("--schedule") == "cosine"
    assert float(arg("--lr-mult")) == own["lr_mult"]
    # the whole budget (measured better than stopping early), unless a backend's plan says otherwise
    assert ("--patience" in fit) == bool(own.get("patience", P.DEFAULT_PATIENCE))
    early = P.fit_command(P.make_plan("anna", "attention", video="v.mp4", init=starter, patience=3),
                          tmp_path, tmp_path, 8)
    assert int(early[early.index("--patience") + 1]) == 3
    assert int(arg("--gan-start-step")) == own.get("gan_start_step", P.PERSONAL_GAN_START) >= plan.steps
    assert "--freeze-norm" in fit and plan.freeze_norm
    cpu = P.fit_command(P.make_plan("anna", "attention", video="v.mp4", init=starter, clock="cpu", patience=None),
                        tmp_path, tmp_path, 8)
    assert cpu[cpu.index("--clock") + 1] == "cpu" and "--patience" not in cpu
    # a personal size raises smaller weights to it (what the app's size hint shows too)
    monkeypatch.setitem(P.PERSONAL, "attention", dict(own, size=(256, 128)))
    assert P.make_plan("anna", "attention", video="v.mp4", init=starter).image_size == (256, 128)
    assert P.network_defaults("attention", starter) == ((256, 128), 0.25)
    scratch = P.make_plan("anna", "attention", video="v.mp4")  # from scratch: the papers' recipe, its own size
    assert scratch.lr_mult == 1.0 and scratch.gan_start_step is None and scratch.image_size != (256, 128)
    assert not scratch.freeze_norm and "--freeze-norm" not in P.fit_command(scratch, tmp_path, tmp_path, 8)


def test_weights_load_at_another_size_only_where_the_network_allows(tiny, synth_data, tmp_path, monkeypatch):
    """The paper networks are convolutional (the starters load at 256x128); a network with a layer sized by the
    image refuses in one line that says which size to train at."""
    from engine.errors import PoseEditorError
    from training.export import export_generator
    from training.loop import fit

    from tests.training import test_loop as T

    init = tmp_path / "tiny.safetensors"
    net = T.TinyNet({"image_size": [64, 32], "width": 1.0})
    export_generator(init, net.state_dict(), "tiny-test", {"image_size": [64, 32], "width": 1.0}, {}, "tiny")
    run = fit(base_options(synth_data, tmp_path / "ok", steps=1, size=[128, 64], init=str(init)))
    assert done_row(run)["step"] == 1

    class SizedNet(T.TinyNet):  # a fully connected layer over the image: its shape follows the size
        def __init__(self, config):
            super().__init__(config)
            h, w = config["image_size"]
            self.fc = torch.nn.Linear(h * w, 1)

    monkeypatch.setattr(T.TinyBackend, "build_network", classmethod(lambda cls, cfg: SizedNet(cfg)))
    export_generator(init, SizedNet({"image_size": [64, 32]}).state_dict(), "tiny-test",
                     {"image_size": [64, 32], "width": 1.0}, {}, "tiny")
    with pytest.raises(PoseEditorError, match=r"at 128x64 cannot start from weights trained at 64x32: train at "
                                              r"--size 64x32"):
        fit(base_options(synth_data, tmp_path / "bad", steps=1, size=[128, 64], init=str(init)))
    assert math.isfinite(done_row(run)["best_metric"]["value"])


def test_frozen_batch_norms_draw_in_training_as_at_inference_and_keep_their_statistics():
    from training.loop import freeze_norm_stats

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.Conv2d(4, 3, 3, padding=1), torch.nn.InstanceNorm2d(3))
    bn = net[1]
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    stats = (bn.running_mean.clone(), bn.running_var.clone())
    x = torch.randn(2, 3, 8, 8) * 3 + 1  # statistics unlike the running ones, as one person's batch
    net.eval()
    at_inference = net(x)
    net.train()
    assert not torch.allclose(net(x), at_inference)  # the usual training mode: batch statistics
    bn.running_mean.copy_(stats[0])
    bn.running_var.copy_(stats[1])
    assert freeze_norm_stats(net) == 1  # the batch norm only
    net.train()
    out = net(x)
    assert torch.allclose(out, at_inference) and torch.equal(bn.running_mean, stats[0])
    out.sum().backward()
    assert bn.weight.grad is not None  # its scale and shift still learn


def test_every_personal_entry_says_only_what_make_plan_reads():
    """A misspelt key in a backend's PERSONAL entry would leave its plan at the default without a word."""
    from training import protocol as P

    for backend, own in P.PERSONAL.items():
        assert set(own) <= P.PERSONAL_KEYS, (backend, set(own) - P.PERSONAL_KEYS)



def test_a_plans_reframing_reaches_its_fit():
    """dgan's plan reframes its training images (PERSONAL), pnr's does not, and augmentation off means
    neither: the argv the app runs carries it, and fit's parser reads it back."""
    from engine.backends.base import starter_path
    from training import protocol as P

    def fit_of(backend, **over):
        plan = P.make_plan("me", backend, video="v.mp4", init=str(starter_path(backend)), **over)
        return [str(a) for a in P.fit_args(plan, "data", "runs", 8)]

    dgan = fit_of("dgan")
    assert dgan[dgan.index("--reframe") + 1] == f"{P.PERSONAL['dgan']['reframe']:g}"
    assert "--reframe" not in fit_of("pnr") and "--reframe" not in fit_of("dgan", augment=False)
    from training.cli import build_parser

    args = build_parser(dgan).parse_args(dgan)
    assert args.reframe == P.PERSONAL["dgan"]["reframe"] and args.augment is True


def test_a_plans_recipe_options_reach_the_recipe_its_fit_builds():
    """pnr's plan compares two perceptual depths (PERSONAL's "recipe"): the argv carries them beside the plan's GAN
    start, fit merges both over the recipe's defaults, and the recipe's perceptual term uses them."""
    from engine.backends.base import starter_path
    from training import protocol as P
    from training.cli import build_parser
    from training.options import get_recipe_class, options_from_args, resolve_options

    plan = P.make_plan("me", "pnr", video="v.mp4", init=str(starter_path("pnr")))
    argv = [str(a) for a in P.fit_args(plan, "data", "runs", 8)]
    opts = resolve_options(options_from_args(build_parser(argv).parse_args(argv)))
    assert opts["recipe"] == {"perceptual_depths": [0, 1], "gan_start_step": P.PERSONAL_GAN_START}
    recipe = get_recipe_class("pnr")(net_config={"image_size": [128, 64], "width": 0.25},
                                     options=opts["recipe"], device="cpu")
    assert recipe.perceptual.depths == (0, 1) and not recipe.adversarial(0)
    dgan = P.make_plan("me", "dgan", video="v.mp4", init=str(starter_path("dgan")))
    assert "--recipe" not in [str(a) for a in P.fit_args(dgan, "data", "runs", 8)]


def test_a_recipe_option_no_recipe_has_is_refused_in_one_line(tmp_path):
    from training.options import TrainingError, get_recipe_class

    with pytest.raises(TrainingError, match="the pnr recipe has no option 'perceptual_dept' .*perceptual_depths"):
        get_recipe_class("pnr")(net_config={"image_size": [128, 64], "width": 0.25},
                                options={"perceptual_dept": [0]}, device="cpu")


def test_training_fine_tuned_weights_again_on_a_few_photos_is_cautioned(tmp_path):
    # a video's personal model trained again on the photo being edited drew the held-out frames worse
    # (docs/personalize-measured.md): the plan says so; a starter, a video, or scratch get no caution
    import shutil

    from training import protocol as P
    from training.personalize import starter_weights

    starter = starter_weights("spgnet")
    mine = tmp_path / "anna.safetensors"
    shutil.copy(starter, mine)
    photo = str(tmp_path / "anna.jpg")
    assert "not the starter" in P.refit_note(P.make_plan("anna", "spgnet", photos=[photo], init=str(mine)))
    assert P.refit_note(P.make_plan("anna", "spgnet", photos=[photo], init=str(starter))) == ""
    assert P.refit_note(P.make_plan("anna", "spgnet", video=str(tmp_path / "v.mp4"), init=str(mine))) == ""
    assert P.refit_note(P.make_plan("anna", "spgnet", photos=[photo] * 6, init=str(mine))) == ""
    assert P.refit_note(P.make_plan("anna", "spgnet", photos=[photo])) == ""


def test_a_sigterm_to_personalize_stops_its_child_step_too(tmp_path):
    # A SIGTERM to `personalize` alone left its fit child training on, its parent gone; the step's child is asked
    # to stop as fit stops (SIGINT: a checkpoint, then out) and personalize ends as interrupted
    import os
    import signal
    import sys
    import threading

    from training.personalize import _step

    child = tmp_path / "child.py"
    child.write_text("import signal, sys, time\n"
                     "signal.signal(signal.SIGINT, lambda *a: sys.exit(0))\n"
                     "print('started', file=sys.stderr, flush=True)\n"
                     "time.sleep(60)\n")
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    t = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            _step("fit", [sys.executable, str(child)], tmp_path)
    finally:
        timer.cancel()
    assert time.monotonic() - t < 20  # the child stopped: it would have slept a minute
    assert signal.getsignal(signal.SIGTERM) == before  # this process's own handling is back
