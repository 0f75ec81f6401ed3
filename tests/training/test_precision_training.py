"""Training precision (training/precision.py): bf16 autocast on a CPU with bf16, fp32 master weights and
optimiser states, channels-last, resume bit-exact within the precision, and the precision recorded."""
from __future__ import annotations

import json

import pytest
import torch

from tests.training.test_loop import base_options, synth_data, tiny, train_rows  # noqa: F401  (fixtures)


@pytest.fixture
def bf16_cpu(monkeypatch):
    """A CPU that computes bf16 (the detection forced, so the test runs on any CPU: torch emulates it there)."""
    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "1")
    monkeypatch.delenv("POSEEDITOR_PRECISION", raising=False)


def generator_of(run, step):
    state = torch.load(run / "checkpoints" / f"ckpt-{step:07d}.pt", weights_only=True)
    return state, state["recipe"]["modules"]["generator"]


def test_bf16_training_resumes_bit_exactly_and_records_its_precision(tiny, synth_data, tmp_path, bf16_cpu):
    from training.loop import fit

    whole = fit(base_options(synth_data, tmp_path / "a", steps=6, batch=8))
    part = fit(base_options(synth_data, tmp_path / "b", steps=6, batch=8, stop_after=3))
    fit({"resume": str(part), "progress_bar": "off"})
    a, b = [r["loss"] for r in train_rows(whole)], [r["loss"] for r in train_rows(part)]
    assert len(a) == 6 and b == a
    sa, ga = generator_of(whole, 6)
    sb, gb = generator_of(part, 6)
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    # fp32 master weights and Adam moments, the convolutions' weights in channels-last layout
    assert all(v.dtype == torch.float32 for v in ga.values())
    adam = sa["recipe"]["optimizers"]["g"]["state"]
    assert all(s["exp_avg"].dtype == torch.float32 for s in adam.values())
    assert ga["enc.0.weight"].is_contiguous(memory_format=torch.channels_last)
    assert sa["precision"] == sb["precision"] == "bf16"
    opts = json.loads((part / "training_options.json").read_text())
    assert opts["precision"] == "bf16" and opts["options"]["precision"] == "auto"
    assert opts["amp"] == "autocast bfloat16"

    # the same run in fp32 is another computation (autocast really ran above) and says so
    plain = fit(base_options(synth_data, tmp_path / "c", steps=6, batch=8, precision="fp32"))
    assert [r["loss"] for r in train_rows(plain)] != a
    sc, gc = generator_of(plain, 6)
    assert sc["precision"] == "fp32" and json.loads((plain / "training_options.json").read_text())["amp"] == "off"
    assert gc["enc.0.weight"].is_contiguous()


def test_no_bf16_cpu_trains_in_fp32_quietly(tiny, synth_data, tmp_path, monkeypatch):
    from training.loop import fit

    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "0")
    monkeypatch.setenv("POSEEDITOR_PRECISION", "bf16")
    run = fit(base_options(synth_data, tmp_path / "a", steps=2, batch=8, val_every=2, ckpt_every=2))
    assert json.loads((run / "training_options.json").read_text())["precision"] == "fp32"


def test_every_recipe_steps_under_bf16(bf16_cpu):
    """Each backend's real recipe (generator, discriminators, perceptual backbone) takes bf16 steps with a
    finite loss."""
    from training.bench import bench
    from training.loop import trainable_backends

    for name in trainable_backends():
        r = bench(name, (64, 32), batch=2, width=0.125, steps=1, warmup=1, precision="bf16")
        assert r["precision"] == "bf16" and torch.isfinite(torch.tensor(r["loss"])), name


def test_fit_command_line_takes_precision(tiny, synth_data, tmp_path, bf16_cpu, capsys):
    from training.cli import main

    args = ["fit", "--backend", "tiny-test", "--data", str(synth_data), "--runs-dir", str(tmp_path / "runs"),
            "--steps", "2", "--batch", "8", "--val-every", "2", "--ckpt-every", "2", "--no-progress",
            "--precision", "fp32"]
    assert main(args) == 0
    run = tmp_path / "runs" / capsys.readouterr().out.strip().splitlines()[-1].split("/")[-1]
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["precision"] == "fp32" and opts["options"]["precision"] == "fp32"


def test_bf16_recipes_keep_padding_in_bf16_and_dgan_keeps_its_layout(bf16_cpu):
    """Under bf16 a recipe's pads keep their input's dtype (no casts around them); the layout is channels-last
    except for DGAN, which measured slower with it."""
    from training.loop import get_recipe_class
    from training.precision import Amp

    cpu = torch.device("cpu")
    layouts = {}
    for name in ("pnr", "dgan"):
        recipe = get_recipe_class(name)({"image_size": [64, 32], "width": 0.125}, {}, cpu)
        pads = [m for m in recipe.generator.modules() if isinstance(m, torch.nn.ReflectionPad2d)]
        amp = Amp.for_recipe(recipe, cpu, "auto")
        assert amp.precision == "bf16"
        assert all(type(m) is not torch.nn.ReflectionPad2d for m in pads)
        if name == "pnr":
            assert pads
        conv = next(m for m in recipe.generator.modules() if isinstance(m, torch.nn.Conv2d))
        layouts[name] = conv.weight.is_contiguous(memory_format=torch.channels_last)
        fp32 = get_recipe_class(name)({"image_size": [64, 32], "width": 0.125}, {}, cpu)
        Amp.for_recipe(fp32, cpu, "fp32")
        assert all(type(m) is torch.nn.ReflectionPad2d for m in fp32.generator.modules()
                   if isinstance(m, torch.nn.ReflectionPad2d))
    assert layouts == {"pnr": True, "dgan": False}
