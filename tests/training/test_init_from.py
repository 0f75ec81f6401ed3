"""--init across backends: dgan-sa starts from DGAN weights (its own steps cost 4x DGAN's on a CPU); a backend
that cannot use the weights says so in one line."""
from __future__ import annotations

import pytest
import torch

from engine.registry import backend_class
from engine.weights import WeightsMeta, save_weights


@pytest.fixture(scope="module")
def person(tmp_path_factory):
    from training.synth import make_synthetic_dataset

    out = tmp_path_factory.mktemp("init") / "person"
    make_synthetic_dataset(out, identities=1, poses_per_identity=4, size=(64, 32), seed=5)
    return out


def _dgan_weights(path):
    torch.manual_seed(3)
    cls = backend_class("dgan")
    config = dict(cls.default_config, image_size=[64, 32], width=0.125)
    net = cls.build_network(config)
    save_weights(path, net.state_dict(), WeightsMeta("dgan", net.config, (64, 32), label="test dgan"))
    return net.state_dict()


def test_dgan_sa_starts_from_dgan_weights(person, tmp_path):
    from training.export import export_run
    from training.loop import fit
    from engine.weights import load_weights

    dgan = _dgan_weights(tmp_path / "dgan.safetensors")
    run = fit({"backend": "dgan-sa", "data": str(person), "runs_dir": str(tmp_path / "runs"), "steps": 1,
               "batch": 2, "init": str(tmp_path / "dgan.safetensors"), "val_every": 100, "grid_every": 100,
               "ckpt_every": 100, "val_pairs": 2, "device": "cpu", "progress_bar": "off",
               "recipe": {"gan_start_step": 5, "lr": 0.0}})  # lr 0: the step leaves the weights as loaded
    out = tmp_path / "sa.safetensors"
    export_run(run, out, which="latest")
    tensors, meta = load_weights(out, backend="dgan-sa")
    assert meta.config["self_attention"] and meta.config["spectral_norm"]  # the variant, not DGAN's config
    # the encoders are DGAN's; the decoder's convs are DGAN's under spectral norm
    enc = [k for k in dgan if k.startswith(("appearance", "pose"))]
    assert enc and all(torch.equal(tensors[k].float(), dgan[k].float()) for k in enc)
    sn = [k for k in tensors if k.endswith(".parametrizations.weight.original") and k.startswith("decoder.blocks")]
    assert sn and all(torch.equal(tensors[k].float(), dgan[k.replace(".parametrizations.weight.original",
                                                                        ".weight")].float()) for k in sn)
    gammas = [k for k in tensors if k.endswith("gamma")]
    assert gammas and all(float(tensors[k].abs().max()) == 0.0 for k in gammas)  # attention starts as identity


def test_weights_of_an_unrelated_backend_are_refused_in_one_line(person, tmp_path):
    from training.loop import TrainingError, fit

    _dgan_weights(tmp_path / "dgan.safetensors")
    with pytest.raises(TrainingError, match="'dgan' backend; attention starts from 'attention' weights"):
        fit({"backend": "attention", "data": str(person), "runs_dir": str(tmp_path / "runs"), "steps": 1,
             "init": str(tmp_path / "dgan.safetensors"), "device": "cpu", "progress_bar": "off"})
