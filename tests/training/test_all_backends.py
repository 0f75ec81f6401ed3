"""Every trainable backend through the whole workflow: fit on procedural people (the loss falls), a kill and a
resume at the same step, export, and a render by `poseeditor-render` with the exported weights.

Tiny networks (width 0.125) at 64x32, one person: three training poses give six pairs, all of them in every
batch. The figure that must fall is the generator's L1 error on that batch, measured by the loop's validation
after every step (the dataset has no test pairs, so the loop validates on the training pairs): a recipe's own
"loss" includes adversarial terms, which need not fall in ten steps while the discriminator learns.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from training.recipes import recipe_names

STEPS, KILL_AT = 10, 4




@pytest.fixture(scope="module")
def person(tmp_path_factory):
    from training.synth import make_synthetic_dataset

    out = tmp_path_factory.mktemp("one") / "person"
    make_synthetic_dataset(out, identities=1, poses_per_identity=4, size=(64, 32), seed=11)
    return out


@pytest.mark.parametrize("backend", recipe_names())
def test_fit_kill_resume_export_render(backend, person, tmp_path):
    from engine.cli_render import main as render_main
    from engine.images import load_image
    from engine.weights import read_meta
    from training.datasets import read_annotations
    from training.export import export_run
    from training.loop import fit
    from training.run_dir import read_stats

    opts = {"backend": backend, "data": str(person), "runs_dir": str(tmp_path / "runs"), "steps": STEPS,
            "batch": 6, "width": 0.125, "val_every": 1, "grid_every": 100, "ckpt_every": 100, "val_pairs": 6,
            "seed": 0, "device": "cpu", "progress_bar": "off", "stop_after": KILL_AT}
    run = fit(opts)                                               # "killed" after KILL_AT steps ...
    rows = read_stats(run)
    assert rows[-1]["kind"] == "done" and rows[-1]["step"] == KILL_AT
    assert (run / "checkpoints" / f"ckpt-{KILL_AT:07d}.pt").is_file()
    fit({"resume": str(run), "progress_bar": "off"})              # ... and resumed at the same step
    rows = read_stats(run)
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train] == list(range(1, STEPS + 1))
    starts = [r for r in rows if r["kind"] == "start"]
    assert [r["step"] for r in starts] == [0, KILL_AT] and starts[1]["resumed"]
    assert all(np.isfinite(r["loss"]) for r in train)
    val = [r for r in rows if r["kind"] == "val"]
    assert [r["step"] for r in val] == list(range(1, STEPS + 1)) and all(r["split"] == "train" for r in val)
    err = [r["l1"] for r in val]
    assert np.mean(err[-3:]) < np.mean(err[:3]), f"{backend}: the L1 error did not fall: {err}"

    out = tmp_path / f"{backend}.safetensors"
    export_run(run, out, which="latest")
    meta = read_meta(out)
    assert meta.backend == backend and list(meta.image_size) == [64, 32] and meta.provenance["steps"] == STEPS

    # render: the test image's person is the source, a training pose is the target
    poses = read_annotations(person / "annotations.csv", (64, 32))
    test_name = sorted(poses)[-1]
    target = poses[sorted(poses)[0]]
    pose_file = tmp_path / "target.json"
    target.save_json(pose_file)
    png = tmp_path / "out.png"
    assert render_main(["--source", str(person / "images" / test_name), "--target", str(pose_file),
                        "--backend", backend, "--weights", str(out), "--device", "cpu", "-o", str(png)]) == 0
    img = load_image(png)
    assert img.shape == (64, 32, 3) and img.std() > 1.0  # an image, not a blank
    assert json.loads((run / "training_options.json").read_text())["resumed"][0]["step"] == KILL_AT
