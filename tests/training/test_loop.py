"""The training loop with a tiny but real backend: run folders, stats, grids, checkpoints, exact resume.

The tiny backend is a real NeuralBackend (two small conv stacks: the source image's features, and the target
pose's heatmaps with them, to the target image) trained by a real Recipe with Adam on L1: the loop is tested
independently of the paper backends, which tests/training/test_all_backends.py runs through the same loop.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from engine.backends.base import NeuralBackend
from engine.backends.layers import heatmaps
from engine.errors import PoseEditorError
from training.recipes.base import Recipe

ROOT = Path(__file__).resolve().parents[2]


# ----- the tiny backend and recipe (also used by test_cli.py) ----------------------------------------------------
class TinyNet(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        c = max(4, int(16 * float(config.get("width", 1.0))))
        self.size = tuple(config["image_size"])
        self.enc = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))
        self.dec = nn.Sequential(nn.Conv2d(c + 18, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, 3, 3, padding=1))

    def encode_sources(self, src_img, src_pose):
        return {"feat": self.enc(src_img[:, 0])}

    def render(self, state, tgt_pose):
        hm = heatmaps(tgt_pose, self.size)
        return torch.tanh(self.dec(torch.cat([state["feat"], hm.to(state["feat"].dtype)], 1)))

    def forward(self, src_img, src_pose, tgt_pose):
        return self.render(self.encode_sources(src_img, src_pose), tgt_pose)


class TinyBackend(NeuralBackend):
    name = "tiny-test"
    title = "Tiny test network"
    default_config = {"image_size": [64, 32], "width": 1.0}

    @classmethod
    def build_network(cls, config):
        return TinyNet(config)


class TinyRecipe(Recipe):
    backend = "tiny-test"
    default_options = {"lr": 3e-3}

    def __init__(self, net_config, options, device="cpu"):
        super().__init__(net_config, options, device)
        self.opt = torch.optim.Adam(self.generator.parameters(), lr=self.options["lr"], betas=(0.5, 0.999))

    def modules(self):
        return {"generator": self.generator}

    def optimizers(self):
        return {"g": self.opt}

    def train_step(self, batch, step):
        out = self.generator(batch["src_img"], batch["src_pose"], batch["tgt_pose"])
        loss = (out - batch["tgt_img"]).abs().mean()
        # a little noise so that the random state matters to the result (resume must restore it)
        loss = loss + 1e-3 * (out * torch.randn_like(out)).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "l1": loss.item()}




@pytest.fixture
def tiny(monkeypatch):
    """Register the tiny backend and recipe for one test (and take them away after it)."""
    register_tiny(monkeypatch)
    return "tiny-test"


def register_tiny(monkeypatch):
    """The tiny backend and its recipe in the registry's one table, as any backend is registered."""
    from engine import registry

    monkeypatch.setitem(registry.BACKENDS, "tiny-test", registry.Entry(f"{TinyBackend.__module__}:TinyBackend",
                                                                       f"{TinyRecipe.__module__}:TinyRecipe"))
    monkeypatch.delitem(registry._registry, "tiny-test", raising=False)


def tiny_run(tmp: Path, steps: int, poses_per_identity: int) -> Path:
    """A synthetic dataset in ``tmp``/data and a finished tiny run of ``steps`` steps (a checkpoint, a validation
    and a grid at every step) in ``tmp``/runs, made by the project's own synth and fit; the run's folder."""
    from training.cli import main

    with pytest.MonkeyPatch.context() as mp:
        register_tiny(mp)
        assert main(["synth", "-o", str(tmp / "data"), "--identities", "3", "--poses-per-identity",
                     str(poses_per_identity), "--size", "64x32"]) == 0
        assert main(["fit", "--data", str(tmp / "data"), "--runs-dir", str(tmp / "runs"), "--backend", "tiny-test",
                     "--steps", str(steps), "--batch", "2", "--val-every", "1", "--ckpt-every", "1",
                     "--grid-every", "1", "--val-pairs", "2", "--no-progress"]) == 0
    return next((tmp / "runs").iterdir())


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """A small procedural dataset: 4 people x 4 poses at 64x32 (3 train, 1 test person)."""
    from training.synth import make_synthetic_dataset

    out = tmp_path_factory.mktemp("data") / "synth"
    make_synthetic_dataset(out, identities=4, poses_per_identity=4, size=(64, 32), seed=3)
    return out


def base_options(data, runs, **kw):
    o = {"backend": "tiny-test", "data": str(data), "runs_dir": str(runs), "steps": 6, "batch": 4,
         "val_every": 3, "grid_every": 3, "ckpt_every": 3, "val_pairs": 8, "seed": 1, "device": "cpu",
         "progress_bar": "off"}
    o.update(kw)
    return o


def train_rows(run_dir):
    from training.run_dir import read_stats

    return [r for r in read_stats(run_dir) if r["kind"] == "train"]


# ----- tests -------------------------------------------------------------------------------------------------------
def test_a_run_writes_its_folder_stats_grids_checkpoints_and_best(tiny, synth_data, tmp_path):
    from engine.weights import read_meta
    from training.loop import fit

    seen = []
    run = fit(base_options(synth_data, tmp_path / "runs"), progress=seen.append)
    assert run.name == "00000-tiny-test-synth" and run.parent == tmp_path / "runs"
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["backend"] == "tiny-test" and opts["seed"] == 1
    assert opts["net_config"]["image_size"] == [64, 32]
    assert opts["dataset"]["name"] == "synth" and opts["dataset"]["pairs_train"] == 36
    assert "torch" in opts["versions"] and opts["perceptual_backbone"]
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if r["kind"] == "val"] == [3, 6]
    assert rows[-1]["kind"] == "done" and rows[-1]["reason"] == "steps"
    assert [r["kind"] for r in seen] == [r["kind"] for r in rows if r["kind"] != "checkpoint"]
    assert seen[0]["kind"] == "start" and seen[0]["run_dir"] == str(run)
    val = [r for r in rows if r["kind"] == "val"]
    assert all(0 < r["ssim"] <= 1 and 0 < r["l1"] < 1 and r["pairs"] == 8 for r in val)
    csv_lines = (run / "stats.csv").read_text().splitlines()
    assert "loss" in csv_lines[0] and "ssim" in csv_lines[0] and len(csv_lines) == 1 + 6 + 2
    grid = run / "grids" / "grid-0000006.png"
    from engine.images import load_image

    g = load_image(grid)
    assert g.shape == (3 * 64 + 2 * 2, 8 * 32 + 7 * 2, 3)  # rows source | target | output, 8 pairs
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["ckpt-0000003.pt", "ckpt-0000006.pt"]
    meta = read_meta(run / "best.safetensors")
    assert meta.backend == "tiny-test" and meta.provenance["selected_by"] == "ssim"
    assert meta.provenance["step"] == [r for r in val if r["best"]][-1]["step"]
    # a second run gets the next number
    run2 = fit(base_options(synth_data, tmp_path / "runs", steps=1))
    assert run2.name == "00001-tiny-test-synth"


def test_the_loss_falls(tiny, tmp_path):
    """One person in 5 poses: 4 training images, 12 pairs, one batch of all of them at every step."""
    from training.loop import fit
    from training.synth import make_synthetic_dataset

    make_synthetic_dataset(tmp_path / "one", identities=1, poses_per_identity=5, size=(64, 32), seed=5)
    run = fit(base_options(tmp_path / "one", tmp_path / "runs", steps=30, val_every=100, grid_every=100,
                           ckpt_every=100, batch=12))
    loss = [r["loss"] for r in train_rows(run)]
    # the tiny net levels off near 0.17 from 0.29 (measured); an untrained or broken loop stays near the start
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5]) and np.mean(loss[-5:]) < 0.7 * loss[0], loss


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tiny, synth_data, tmp_path):
    from training.checkpoint import load_checkpoint
    from training.loop import fit

    # 9 steps of batch 8 over 36 pairs (4 batches an epoch, the last partial one dropped) cross two epochs
    whole = fit(base_options(synth_data, tmp_path / "a", steps=9, batch=8))
    part = fit(base_options(synth_data, tmp_path / "b", steps=9, batch=8, stop_after=5))
    rows = train_rows(part)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    state = load_checkpoint(part / "checkpoints" / "ckpt-0000005.pt")
    assert state["step"] == 5 and tuple(state["data_position"]) == (1, 8)
    resumed = fit({"resume": str(part), "progress_bar": "off"})
    assert resumed == part
    a = [r["loss"] for r in train_rows(whole)]
    b = [r["loss"] for r in train_rows(part)]
    assert [r["step"] for r in train_rows(part)] == list(range(1, 10))
    assert b == a  # bit-identical on the CPU: same weights, optimiser moments, noise and batches
    ga = torch.load(whole / "checkpoints" / "ckpt-0000009.pt", weights_only=True)["recipe"]["modules"]["generator"]
    gb = torch.load(part / "checkpoints" / "ckpt-0000009.pt", weights_only=True)["recipe"]["modules"]["generator"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    opts = json.loads((part / "training_options.json").read_text())
    assert opts["resumed"][0]["step"] == 5


def test_resume_from_an_older_checkpoint_after_a_kill_repeats_the_same_steps(tiny, synth_data, tmp_path):
    """A kill loses the steps after the last checkpoint; resuming from it redoes them identically, and a
    half-written .part checkpoint left by the kill is ignored."""
    from training.loop import fit

    run = fit(base_options(synth_data, tmp_path / "r", steps=6, batch=8, ckpt_every=3))
    before = train_rows(run)
    (run / "checkpoints" / "ckpt-0000006.pt").unlink()          # as if killed between steps 3 and 6 ...
    (run / "checkpoints" / "ckpt-0000006.pt.part").write_bytes(b"PK\x03\x04 torn")   # ... mid-write
    fit({"resume": str(run), "progress_bar": "off"})
    after = train_rows(run)
    assert [r["step"] for r in after] == [1, 2, 3, 4, 5, 6]     # steps 4-6 were dropped and written again
    assert [r["loss"] for r in after] == [r["loss"] for r in before]


def test_checkpoints_are_written_atomically_and_load_safely(tmp_path):
    from training import checkpoint as ck

    folder = tmp_path / "ck"
    ck.save_checkpoint(folder, 3, {"x": torch.ones(2)})
    (folder / "ckpt-0000009.pt.part").write_bytes(b"\x80\x04 half a pickle")
    assert [s for s, _ in ck.list_checkpoints(folder)] == [3]   # the torn file is not a checkpoint
    assert ck.load_checkpoint(folder / "ckpt-0000003.pt")["step"] == 3
    # keep: only the newest N stay
    for s in (4, 5, 6):
        ck.save_checkpoint(folder, s, {"x": torch.ones(2)}, keep=2)
    assert [s for s, _ in ck.list_checkpoints(folder)] == [5, 6]
    # a pickle with an arbitrary object is refused, never unpickled
    evil = folder / "ckpt-0000007.pt"
    torch.save({"format": ck.FORMAT, "obj": Path("/")}, evil)
    with pytest.raises(ck.CheckpointError, match="not a readable checkpoint"):
        ck.load_checkpoint(evil)
    # the newest unreadable checkpoint falls back to the one before
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    ck.save_checkpoint(run / "checkpoints", 1, {"x": torch.zeros(1)})
    (run / "checkpoints" / "ckpt-0000002.pt").write_bytes(b"garbage")
    p, state = ck.load_latest(run)
    assert state["step"] == 1


def test_time_budget_and_progress_callback_stop_cleanly_with_a_checkpoint(tiny, synth_data, tmp_path):
    from training.loop import fit
    from training.run_dir import read_stats

    run = fit(base_options(synth_data, tmp_path / "t", steps=1000, time_budget=1e-6))
    done = read_stats(run)[-1]
    assert done["kind"] == "done" and done["reason"] == "time budget" and done["step"] == 1
    assert (run / "checkpoints" / "ckpt-0000001.pt").is_file()

    run = fit(base_options(synth_data, tmp_path / "c", steps=1000), progress=lambda row: row["step"] >= 2)
    done = read_stats(run)[-1]
    assert done["reason"] == "cancelled" and done["step"] == 2 and (run / "checkpoints" / "ckpt-0000002.pt").is_file()


def test_sigterm_finishes_the_step_writes_a_checkpoint_and_exits(tiny, synth_data, tmp_path):
    script = tmp_path / "run_fit.py"
    script.write_text(
        "import sys, torch\n"
        f"sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "torch.set_num_threads(1)\n"
        "from engine import registry\n"
        "import test_loop as t\n"
        "registry.register('tiny-test', 'test_loop:TinyBackend', 'test_loop:TinyRecipe')\n"
        "from training.loop import fit\n"
        f"print(fit(t.base_options({str(synth_data)!r}, {str(tmp_path / 'runs')!r}, steps=100000, "
        "val_every=10**6, grid_every=10**6, ckpt_every=10**6)))\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stats = tmp_path / "runs" / "00000-tiny-test-synth" / "stats.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (stats.is_file() and '"kind": "train"' in stats.read_text()):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in stats.read_text().splitlines()]
    done = rows[-1]
    assert done["kind"] == "done" and done["reason"] == "signal"
    step = done["step"]
    assert (stats.parent / "checkpoints" / f"ckpt-{step:07d}.pt").is_file()
    assert "SIGTERM" in err and "Traceback" not in err


def test_init_fine_tunes_from_engine_weights(tiny, synth_data, tmp_path):
    from engine.weights import load_weights
    from training.loop import fit

    first = fit(base_options(synth_data, tmp_path / "i", steps=3))
    tuned = fit(base_options(synth_data, tmp_path / "i", steps=1, init=str(first / "best.safetensors"),
                             val_every=1))
    opts = json.loads((tuned / "training_options.json").read_text())
    assert opts["options"]["init"].endswith("best.safetensors")
    a, _ = load_weights(first / "best.safetensors")
    b, _ = load_weights(tuned / "best.safetensors")
    # one step of Adam moves each weight by about lr: close to where it started, not a fresh random init
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert 0 < diff < 0.02
    # the run resumes from its checkpoint even when the file it started from is gone
    moved = tmp_path / "kept.safetensors"
    (first / "best.safetensors").rename(moved)
    fit({"resume": str(tuned), "steps": 2, "data": str(synth_data), "progress_bar": "off"})
    assert [r["step"] for r in train_rows(tuned)] == [1, 2]
    bad = tmp_path / "other.safetensors"
    from engine.weights import WeightsMeta, save_weights

    save_weights(bad, {"w": torch.zeros(1)}, WeightsMeta("tiny-test", {"image_size": [64, 32]}, (64, 32)))
    with pytest.raises(PoseEditorError, match="do not fit"):
        fit(base_options(synth_data, tmp_path / "i", steps=1, init=str(bad)))


def test_bad_options_are_one_line_errors(tiny, synth_data, tmp_path):
    from training.loop import fit

    with pytest.raises(PoseEditorError, match="unknown backend 'nope'"):
        fit(base_options(synth_data, tmp_path, backend="nope"))
    with pytest.raises(PoseEditorError, match="no such dataset folder"):
        fit(base_options(tmp_path / "missing", tmp_path))
    with pytest.raises(PoseEditorError, match="select-by"):
        fit(base_options(synth_data, tmp_path, select_by="fid"))
    cfg = tmp_path / "c.json"
    cfg.write_text('{"steps": 2, "learning_rate": 1}')
    with pytest.raises(PoseEditorError, match="unknown key"):
        fit(base_options(synth_data, tmp_path, config=str(cfg)))


def test_config_file_sets_recipe_and_net_options(tiny, synth_data, tmp_path):
    from training.loop import fit

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"steps": 2, "recipe": {"lr": 1e-4}, "net": {"width": 0.5}}))
    run = fit(base_options(synth_data, tmp_path / "runs", config=str(cfg), steps=None))
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["recipe_options"]["lr"] == 1e-4 and opts["net_config"]["width"] == 0.5
    assert [r["step"] for r in train_rows(run)] == [1, 2]


def test_amp_wrapping_scales_backward_and_steps_through_the_scaler(tiny, synth_data):
    """The CUDA fp16 path, exercised on the CPU's autocast: loss scaling and scaler.step wrap any recipe."""
    from training.datasets import PairDataset
    from training.loop import Amp, collate

    recipe = TinyRecipe({}, {}, "cpu")
    amp = Amp(torch.device("cpu"), True, dtype=torch.float16)
    assert amp.scaler is not None and amp.description == "autocast float16 + GradScaler"
    ds = PairDataset(synth_data, "train")
    batch = collate([ds[i] for i in range(4)])
    before = {k: v.clone() for k, v in recipe.generator.state_dict().items()}
    with amp.step(recipe.optimizers()):
        recipe.train_step(batch, 0)
    assert torch.Tensor.backward.__name__ == "backward" and "step" not in recipe.opt.__dict__
    changed = any(not torch.equal(before[k], v) for k, v in recipe.generator.state_dict().items())
    skipped = amp.scaler.get_scale() < 65536.0  # an inf/nan step is skipped and the scale lowered
    assert changed != skipped
    # the recipe's gradients were unscaled before the step: each weight moved by about lr, not lr * scale
    if changed:
        moved = max(float((before[k] - v).abs().max()) for k, v in recipe.generator.state_dict().items())
        assert moved < 0.05


def test_resume_skips_an_unreadable_newest_checkpoint(tiny, synth_data, tmp_path):
    from training.loop import fit
    from training.run_dir import read_stats

    run = fit(base_options(synth_data, tmp_path / "u", steps=4, batch=8, ckpt_every=2, val_every=100))
    (run / "checkpoints" / "ckpt-0000004.pt").write_bytes(b"damaged by a full disk")
    fit({"resume": str(run), "progress_bar": "off"})
    starts = [r for r in read_stats(run) if r["kind"] == "start"]
    assert starts[-1]["step"] == 2 and read_stats(run)[-1]["step"] == 4


def test_the_progress_line_counts_down_the_time_budget():
    # a one-minute run said "4:10:20 left", counting towards its default 10,000 steps
    import io

    from training.progress import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(10000, "lines", out)
    bar.update({"step": 40, "it_s": 0.66, "loss": 0.5}, force=True)
    bar.update({"step": 40, "it_s": 0.66, "loss": 0.5}, force=True, budget_left=61.0)
    first, second = out.getvalue().splitlines()
    assert first.endswith("4:11:30 left") and second.endswith("0:01:01 left")
