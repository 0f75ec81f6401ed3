"""Damaged and hand-edited runs on ``fit --resume`` and ``export``: a checkpoint saved by the project's own fit
and then changed (one field, its bytes, a pickle that asks to run code), a training_options.json edited by hand,
and outputs named inside the run. Each is one line on stderr naming the file at fault, exit status 2, the run as
it was and no output left behind; what export writes is weights the engine loads."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from pathlib import Path

import pytest
import torch

from training.cli import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A synthetic dataset and a tiny run of two steps with a checkpoint at each, made by the project's fit."""
    from tests.training.test_loop import tiny_run

    tmp = tmp_path_factory.mktemp("damaged")
    run = tiny_run(tmp, 2, 3)
    (run / ".lock").unlink(missing_ok=True)
    return {"tmp": tmp, "run": run, "n": 0}


@pytest.fixture
def tiny(monkeypatch):
    from tests.training.test_loop import register_tiny

    register_tiny(monkeypatch)


def newest(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1]


def copy_run(w, older: bool = False, best: bool = False) -> Path:
    """A copy of the run with its newest checkpoint only (and its older one, its best weights when asked)."""
    w["n"] += 1
    run = w["tmp"] / f"copy{w['n']}"
    last = newest(w["run"]).name
    shutil.copytree(w["run"], run, ignore=lambda folder, names: [
        n for n in names if (n.startswith("ckpt-") and n != last and not older)
        or (n == "best.safetensors" and not best)])
    return run


def damaged_checkpoint(w, change) -> Path:
    """A copied run whose only checkpoint is the fit's own, read as the project reads it, changed in place by
    ``change`` and saved."""
    run = copy_run(w)
    path = newest(run)
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    return run


def edited_record(w, change) -> Path:
    run = copy_run(w)
    p = run / "training_options.json"
    record = json.loads(p.read_text())
    change(record)
    p.write_text(json.dumps(record))
    return run


def digest(folder) -> dict:
    """Every file's hash but the lock a resume takes (kept for the next resume to take again)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.name != ".lock"}


def refused(capsys, caplog, argv, *words) -> str:
    """Run the CLI; it must exit 2 with one line (no warning before it) holding ``words``; returns the line."""
    capsys.readouterr()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()] + [r.getMessage() for r in caplog.records]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("poseeditor-train: error: "), (code, lines)
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def untouched(run: Path, out: Path, argv, capsys, caplog, *words) -> str:
    """``argv`` refused as ``refused`` says, the run as it was and ``out``'s folder holding nothing."""
    before = digest(run)
    line = refused(capsys, caplog, argv, *words)
    assert digest(run) == before
    assert not out.parent.exists() or not any(out.parent.iterdir()), list(out.parent.iterdir())
    return line


def outfile(w) -> Path:
    w["n"] += 1
    folder = w["tmp"] / f"out{w['n']}"
    folder.mkdir()
    return folder / "x.safetensors"


# ----- 1. a checkpoint's fields: one check, said by resume and export alike --------------------------------------
def _first_tensor_nan(s):
    gen = s["recipe"]["modules"]["generator"]
    gen[next(iter(gen))].fill_(math.nan)


FIELDS = [
    ("data-position-text", lambda s: s.update(data_position="x"), "data_position"),
    ("rng-numbers", lambda s: s.update(rng=[1, 2]), "rng[0]"),
    ("rng-keys-cut", lambda s: s["rng"][0]["numpy"].__setitem__(1, s["rng"][0]["numpy"][1][:5]), "rng[0]"),
    ("recipe-modules-none", lambda s: s.update(recipe={"modules": None, "optimizers": {}}), "recipe.modules"),
    ("generator-none", lambda s: s["recipe"]["modules"].update(generator=None), "recipe.modules.generator"),
    ("optimizer-groups-number", lambda s: next(iter(s["recipe"]["optimizers"].values())).update(param_groups=5),
     "recipe.optimizers."),
    ("step-text", lambda s: s.update(step="abc"), "step"),
    ("no-recipe", lambda s: s.pop("recipe"), '"recipe" is missing'),
    ("no-backend", lambda s: s.pop("backend"), '"backend" is missing'),
    ("minimal", lambda s: [s.clear(), s.update(format="poseeditor-checkpoint")], '"step" is missing'),
    ("best-value-text", lambda s: s.update(best={"metric": "ssim", "value": "x", "step": 1}), "best"),
    ("weights-nan", _first_tensor_nan, "NaN"),  # exported, they rendered black; resumed, trained to a NaN loss
]


@pytest.mark.parametrize("change,field", [pytest.param(c, f, id=i) for i, c, f in FIELDS])
def test_a_checkpoint_field_of_the_wrong_kind_is_one_line_naming_the_file_and_field(world, tiny, capsys, caplog,
                                                                                    change, field):
    run = damaged_checkpoint(world, change)
    ckpt = newest(run)
    out = outfile(world)
    for argv in (["fit", "--resume", run, "--steps", "4"], ["export", run, "--which", "latest", "-o", out]):
        line = untouched(run, out, argv, capsys, caplog, str(ckpt), "damaged checkpoint", field)
        assert "None backend" not in line


def test_an_optimiser_state_of_another_shape_is_refused_on_resume(world, tiny, capsys, caplog):
    """torch's Optimizer.load_state_dict takes moments of any shape; the first step after the resume failed."""
    def change(s):
        opt = next(iter(s["recipe"]["optimizers"].values()))
        opt["state"][0]["exp_avg"] = torch.zeros(3)

    run = damaged_checkpoint(world, change)
    untouched(run, outfile(world), ["fit", "--resume", run, "--steps", "4"], capsys, caplog, str(newest(run)),
              "does not fit", "exp_avg", "(3,)")


def test_a_record_without_backend_is_one_line_naming_it(world, tiny, capsys, caplog):
    run = edited_record(world, lambda r: r.pop("backend"))
    out = outfile(world)
    untouched(run, out, ["export", run, "--which", "latest", "-o", out], capsys, caplog,
              str(run / "training_options.json"), '"backend"')


def test_a_record_with_null_dataset_still_exports(world, tiny, capsys):
    run = edited_record(world, lambda r: r.update(dataset=None))
    out = outfile(world)
    assert main(["export", str(run), "--which", "latest", "-o", str(out)]) == 0
    from engine.weights import read_meta

    assert read_meta(out).provenance["data"] is None


# ----- 2. and 3. validated before writing: nothing is left, the file at fault is named ------------------------------
def test_a_backend_of_the_wrong_type_names_the_record_and_leaves_no_output(world, tiny, capsys, caplog):
    run = edited_record(world, lambda r: r.update(backend=5))
    out = outfile(world)
    line = untouched(run, out, ["export", run, "--which", "latest", "-o", out], capsys, caplog,
                     str(run / "training_options.json"), '"backend"')
    assert str(out) not in line


def test_an_unknown_backend_in_the_record_is_refused(world, tiny, capsys, caplog):
    run = edited_record(world, lambda r: r.update(backend="zzz"))
    out = outfile(world)
    untouched(run, out, ["export", run, "--which", "latest", "-o", out], capsys, caplog,
              str(run / "training_options.json"), "unknown backend 'zzz'")


def test_a_checkpoint_of_another_backend_than_its_record_is_refused(world, tiny, capsys, caplog):
    run = damaged_checkpoint(world, lambda s: s.update(backend="dgan"))
    out = outfile(world)
    untouched(run, out, ["export", run, "--which", "latest", "-o", out], capsys, caplog, str(newest(run)),
              "'dgan'", "'tiny-test'")


@pytest.mark.parametrize("change,words", [
    pytest.param(lambda s: s["recipe"]["modules"]["generator"].update(
        {next(iter(s["recipe"]["modules"]["generator"])): torch.zeros(3)}), ["do not fit", "(3,)"], id="shape"),
    pytest.param(lambda s: s["recipe"]["modules"]["generator"].update(extra=torch.zeros(3)),
                 ["do not fit", "unexpected"], id="extra-tensor"),
])
def test_export_refuses_tensors_the_engine_would_refuse(world, tiny, capsys, caplog, change, words):
    run = damaged_checkpoint(world, change)
    out = outfile(world)
    untouched(run, out, ["export", run, "--which", "latest", "-o", out], capsys, caplog, str(newest(run)), *words)


def test_a_half_export_refuses_values_fp16_cannot_hold(world, tiny, capsys, caplog):
    """A finite 1e6 is infinite in fp16: with --half it is refused, without it exported."""
    def change(s):
        gen = s["recipe"]["modules"]["generator"]
        gen[next(iter(gen))].fill_(1e6)

    run = damaged_checkpoint(world, change)
    out = outfile(world)
    untouched(run, out, ["export", run, "--which", "latest", "--half", "-o", out], capsys, caplog, str(newest(run)),
              "fp16", "without --half")
    assert main(["export", str(run), "--which", "latest", "-o", str(out)]) == 0


def test_best_weights_of_an_unknown_backend_are_not_exported(world, tiny, capsys, caplog):
    from engine.weights import load_weights, save_weights

    run = copy_run(world, best=True)
    tensors, meta = load_weights(run / "best.safetensors")
    meta.backend = "zzz"
    save_weights(run / "best.safetensors", tensors, meta)
    out = outfile(world)
    untouched(run, out, ["export", run, "-o", out], capsys, caplog, str(run / "best.safetensors"),
              "unknown backend 'zzz'")


def test_what_export_writes_loads_in_the_engine(world, tiny):
    from engine.registry import create

    out = outfile(world)
    assert main(["export", str(world["run"]), "--which", "latest", "-o", str(out)]) == 0
    create("tiny-test", load_starter=False).load_weights(out)


# ----- 4. never into the run it reads ----------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["x.safetensors", "checkpoints/x.safetensors"])
def test_export_refuses_an_output_inside_the_run(world, tiny, capsys, caplog, where):
    run = copy_run(world, best=True)
    before = digest(run)
    refused(capsys, caplog, ["export", run, "-o", run / where], "inside the input")
    assert digest(run) == before


# ----- 5. unreadable checkpoints: the reason, once, and no advice to load them unsafely ----------------------------
class RunsCode:
    """Pickled as a call of os.system: what a checkpoint made to run code holds."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_that_would_run_code_is_refused_with_its_reason(world, tiny, capsys, caplog):
    marker = world["tmp"] / "ran"
    run = copy_run(world)
    torch.save({"format": "poseeditor-checkpoint", "step": 2, "x": RunsCode(marker)}, newest(run))
    out = outfile(world)
    for argv in (["fit", "--resume", run, "--steps", "4"], ["export", run, "--which", "latest", "-o", out]):
        line = untouched(run, out, argv, capsys, caplog, str(newest(run)), "system")
        assert "weights_only" not in line and "torch.load" not in line
    assert not marker.exists()


@pytest.mark.parametrize("damage,reason", [
    pytest.param(lambda data: b"", "the file is empty", id="empty"),
    pytest.param(lambda data: bytes(range(256)) * 20, "", id="random-bytes"),
    pytest.param(lambda data: data[:len(data) // 2], "", id="truncated"),
])
def test_an_unreadable_only_checkpoint_is_one_line(world, tiny, capsys, caplog, damage, reason):
    run = copy_run(world)
    path = newest(run)
    path.write_bytes(damage(path.read_bytes()))
    out = outfile(world)
    for argv in (["fit", "--resume", run, "--steps", "4"], ["export", run, "--which", "latest", "-o", out]):
        line = untouched(run, out, argv, capsys, caplog, str(path),
                         "not a readable checkpoint (damaged or not a PoseEditor checkpoint)", reason)
        assert len(line) < 300 and "EOFError" not in line


def test_an_unreadable_newest_checkpoint_falls_back_to_the_older_one(world, tiny, capsys, caplog):
    run = copy_run(world, older=True)
    newest(run).write_bytes(b"")
    out = outfile(world)
    with caplog.at_level(logging.WARNING):
        assert main(["export", str(run), "--which", "latest", "-o", str(out)]) == 0
    assert any("trying an older checkpoint" in r.getMessage() for r in caplog.records)
    assert "latest (step 1)" in capsys.readouterr().out


def test_the_reason_of_an_older_torchs_refusal_is_kept_without_its_advice():
    """torch before 2.14 put the reason after "WeightsUnpickler error:", among sentences of advice."""
    from training.checkpoint import _why_unreadable

    import pickle

    e = pickle.UnpicklingError("Weights only load failed. This file can still be loaded, to do so you have two "
                               "options. Re-running `torch.load` with `weights_only` set to `False` will likely "
                               "succeed.\n WeightsUnpickler error: Unsupported global: GLOBAL posix.system was not "
                               "an allowed global by default. Please use `torch.serialization.add_safe_globals`.")
    assert _why_unreadable(e) == "Unsupported global: GLOBAL posix.system was not an allowed global by default"
