"""import-weights: foreign files (PyTorch state dicts, Keras .h5) become engine weights that render the same."""
from __future__ import annotations

import collections

import h5py
import numpy as np
import pytest
import torch
import torch.nn as nn

from engine.backends.base import NeuralBackend
from engine.errors import WeightsError


class SmallNet(nn.Module):
    """A network whose released form ("the authors'") names its layers netG.conv_in / netG.conv_out."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        c = int(config.get("channels", 8))
        self.a = nn.Conv2d(3 + 18, c, 3, padding=1)
        self.b = nn.Conv2d(c, 3, 3, padding=1)

    def encode_sources(self, src_img, src_pose):
        return {"img": src_img[:, 0]}

    def render(self, state, tgt_pose):
        from engine.backends.layers import heatmaps

        hm = heatmaps(tgt_pose, tuple(self.config["image_size"]))
        return torch.tanh(self.b(torch.relu(self.a(torch.cat([state["img"], hm], 1)))))

    def forward(self, src_img, src_pose, tgt_pose):
        return self.render(self.encode_sources(src_img, src_pose), tgt_pose)


class ImportBackend(NeuralBackend):
    name = "import-test"
    default_config = {"image_size": [32, 16], "channels": 8}

    @classmethod
    def build_network(cls, config):
        return SmallNet(config)

    @classmethod
    def convert_foreign(cls, tensors):
        rename = {"conv_in": "a", "conv_out": "b"}
        out = {}
        for k, v in tensors.items():
            if k.startswith("model_weights/"):   # Keras: kernels are (kh, kw, in, out)
                layer, param = k.split("/")[1], k.split("/")[-1].split(":")[0]
                v = v.transpose(3, 2, 0, 1) if param == "kernel" else v
                k = f"{rename[layer]}.{'weight' if param == 'kernel' else 'bias'}"
            else:
                layer, param = k.split(".")[-2:]
                k = f"{rename[layer]}.{param}"    # KeyError on a layer this network does not have
            out[k] = torch.from_numpy(np.ascontiguousarray(v))
        return out, {"channels": int(out["a.weight"].shape[0])}


class NoConverter(NeuralBackend):
    name = "no-converter-test"
    default_config = {"image_size": [32, 16]}

    @classmethod
    def build_network(cls, config):
        return SmallNet(config)


@pytest.fixture(autouse=True)
def backends(monkeypatch):
    from engine import registry

    registry.backend_names()
    monkeypatch.setitem(registry._registry, ImportBackend.name, ImportBackend)
    monkeypatch.setitem(registry._registry, NoConverter.name, NoConverter)


def released(channels=6):
    torch.manual_seed(0)
    net = SmallNet({"image_size": [32, 16], "channels": channels})
    sd = net.state_dict()
    return net, {"netG.conv_in.weight": sd["a.weight"], "netG.conv_in.bias": sd["a.bias"],
                 "netG.conv_out.weight": sd["b.weight"], "netG.conv_out.bias": sd["b.bias"]}


def same_output(net, path):
    b = ImportBackend(load_starter=False)
    b.load_weights(path)
    torch.manual_seed(1)
    src = torch.rand(1, 1, 3, 32, 16) * 2 - 1
    pose = torch.cat([torch.rand(1, 18, 2) * torch.tensor([16.0, 32.0]), torch.ones(1, 18, 1)], -1)
    with torch.no_grad():
        return torch.allclose(b.net(src, pose[:, None], pose), net(src, pose[:, None], pose), atol=1e-6)


def test_a_pytorch_checkpoint_imports_and_renders_the_same(tmp_path):
    from engine.weights import read_meta
    from training.cli import main

    net, foreign = released()
    # a training checkpoint as people save them: the state dict nested under a key, beside other things
    torch.save({"netG": collections.OrderedDict(foreign), "epoch": 7, "opt": {"lr": 0.0002}}, tmp_path / "G.pth")
    out = tmp_path / "g.safetensors"
    assert main(["import-weights", str(tmp_path / "G.pth"), "--backend", "import-test", "-o", str(out)]) == 0
    meta = read_meta(out)
    assert meta.backend == "import-test" and meta.provenance["imported_from"] == "G.pth"
    assert meta.config["channels"] == 6 and list(meta.image_size) == [32, 16]
    assert same_output(net, out)


def test_a_keras_h5_file_imports_as_plain_arrays(tmp_path):
    from training.importers import import_weights

    net, foreign = released(channels=5)
    with h5py.File(tmp_path / "generator.h5", "w") as f:
        for layer, name in (("conv_in", "a"), ("conv_out", "b")):
            g = f.create_group(f"model_weights/{layer}/{layer}")
            g["kernel:0"] = net.state_dict()[f"{name}.weight"].numpy().transpose(2, 3, 1, 0)
            g["bias:0"] = net.state_dict()[f"{name}.bias"].numpy()
        f.attrs["keras_version"] = "2.0.8"
    out, summary = import_weights(tmp_path / "generator.h5", "import-test", tmp_path / "k.safetensors")
    assert summary["tensors"] == 4 and same_output(net, out)


def test_the_dgan_backend_imports_its_authors_keras_layout(tmp_path):
    """The real DGAN converter through the importer: a tiny pose-gan generator written as pose-gan's .h5."""
    from engine import registry
    from engine.weights import load_weights
    from training.importers import import_weights

    if "dgan" not in registry.backend_names():
        pytest.skip("the dgan backend is not installed")
    from engine.backends.dgan_keras import to_keras_layout
    from engine.backends.dgan_net import DganGenerator, resolve_config

    cfg = resolve_config({"image_size": [128, 64], "levels": 6, "width": 0.125, "norm": "keras-instance"})
    torch.manual_seed(0)
    sd = DganGenerator(cfg).state_dict()
    with h5py.File(tmp_path / "pose-gan-generator.h5", "w") as f:
        for k, v in to_keras_layout(sd, 6, first_index=3).items():
            f[k] = v
    out, _ = import_weights(tmp_path / "pose-gan-generator.h5", "dgan", tmp_path / "dgan.safetensors")
    tensors, meta = load_weights(out, "dgan")
    assert meta.config["levels"] == 6 and meta.config["width"] == 0.125
    assert all(torch.equal(tensors[k], v) for k, v in sd.items())


def test_import_errors_are_clear(tmp_path):
    from training.importers import import_weights

    _, foreign = released()
    torch.save(foreign, tmp_path / "G.pth")
    with pytest.raises(WeightsError, match="no converter"):
        import_weights(tmp_path / "G.pth", "no-converter-test", tmp_path / "o.safetensors")
    with pytest.raises(WeightsError, match="takes no weights"):
        import_weights(tmp_path / "G.pth", "warp", tmp_path / "o.safetensors")
    # a layer this network does not have
    torch.save({**foreign, "netG.conv_mid.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="layout does not match"):
        import_weights(tmp_path / "other.pth", "import-test", tmp_path / "o.safetensors")
    # names that convert, shapes that do not fit the network they describe
    bad = dict(foreign, **{"netG.conv_out.weight": torch.zeros(3, 4, 3, 3)})
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="do not fit"):
        import_weights(tmp_path / "bad.pth", "import-test", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_a_pickle_with_python_objects_is_refused_not_run(tmp_path):
    from training.importers import import_weights

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"netG.conv_in.weight": torch.zeros(1), "x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="never unpickled"):
        import_weights(tmp_path / "evil.pth", "import-test", tmp_path / "o.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"not a weights file at all")
    with pytest.raises(WeightsError, match="not a readable PyTorch file"):
        import_weights(tmp_path / "junk.pth", "import-test", tmp_path / "o.safetensors")
