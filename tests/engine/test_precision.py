"""Precision as an engine choice: the bf16 fast path draws what fp32 draws, fp32 is today's engine exactly, and a
CPU without bf16 falls back to fp32 quietly. Every backend with its shipped starter weights, on a real photo
(the real mediapipe detector) and on a procedural person the test draws."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from engine.backends.base import STARTER_DIR, fold_batchnorm
from engine.runtime import BF16_MIN_GAIN, PRECISION_CACHE, Engine, cpu_has_bf16, precision_key, resolve_precision

from tests.conftest import shared

NEURAL = ("dgan", "dgan-sa", "attention", "spgnet", "pnr")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 100.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("POSEEDITOR_PRECISION", raising=False)
    monkeypatch.delenv("POSEEDITOR_CPU_BF16", raising=False)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """An empty user cache folder and a CPU with bf16: "auto" measures each network it loads there."""
    monkeypatch.setenv("POSEEDITOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "1")
    return tmp_path / "cache" / PRECISION_CACHE


def bf16_weights(net) -> bool:
    return any(p.dtype == torch.bfloat16 for p in net.parameters())


@pytest.fixture(scope="module")
def synth_photo():
    """A procedural person (training.synth) at 256x192, its pose, and a target with the right arm raised."""
    from training.synth import synth_image

    img, _labels, pose = synth_image(7, 2, 1, (256, 192))
    return img, pose


@pytest.fixture(scope="module")
def real_photo():
    from engine.detect import detect_pose
    from engine.images import load_image

    img = load_image(shared("fashion-sources", "women1.jpg"))
    return img, detect_pose(img).pose


def raised_arm(pose):
    e, w = pose.point("r_elbow"), pose.point("r_wrist")
    return pose.moved("r_wrist", *(e + np.array([0.0, -1.0]) * np.linalg.norm(w - e)))


def renders(name, photo, precision):
    img, pose = photo
    eng = Engine(name, "cpu", precision=precision)
    assert eng.precision == precision and eng.backend.weights_info.kind == "starter"
    eng.set_sources([img], [pose])
    target = raised_arm(pose)
    crop = eng.backend.render_crop(eng.state, target)
    return crop, eng.render(target)


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16: auto runs fp32 here")
@pytest.mark.parametrize("name", NEURAL)
@pytest.mark.parametrize("kind", ["synth", "real"])
def test_bf16_fast_path_draws_what_fp32_draws(name, kind, request):
    photo = request.getfixturevalue(f"{kind}_photo")
    crop32, full32 = renders(name, photo, "fp32")
    crop16, full16 = renders(name, photo, "bf16")
    assert crop16.dtype == np.uint8 and crop16.shape == crop32.shape and full16.shape == full32.shape
    assert psnr(crop16, crop32) >= 35.0, (name, kind, psnr(crop16, crop32))
    assert psnr(full16, full32) >= 35.0
    assert not np.array_equal(crop16, crop32)  # the fast path really ran (bf16 rounds somewhere)


def test_env_fp32_is_exactly_the_float32_engine(monkeypatch, synth_photo):
    """POSEEDITOR_PRECISION=fp32 under Engine's default "auto": no autocast, no layout change, no folding, the
    same pixels as a backend that never heard of precision."""
    from engine.registry import backend_class

    monkeypatch.setenv("POSEEDITOR_PRECISION", "fp32")
    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "1")
    img, pose = synth_photo
    eng = Engine("attention", "cpu")
    assert eng.precision == "fp32" and eng.describe() == "CPU \u00b7 fp32"
    net = eng.backend.net
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in net.parameters())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    plain = backend_class("attention")(device="cpu")  # the float32 path as it was
    target = raised_arm(pose)
    eng.set_sources([img], [pose])
    assert np.array_equal(eng.render(target), plain.render(plain.encode_sources([img], [pose]), target))


def test_a_cpu_without_bf16_falls_back_to_fp32_quietly(monkeypatch, synth_photo, recwarn):
    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "0")
    monkeypatch.setenv("POSEEDITOR_PRECISION", "bf16")
    assert resolve_precision("auto", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "fp32"
    eng = Engine("pnr", "cpu")
    assert eng.precision == "fp32" and eng.describe() == "CPU \u00b7 fp32"
    assert all(p.dtype == torch.float32 for p in eng.backend.net.parameters())
    img, pose = synth_photo
    eng.set_sources([img], [pose])
    assert eng.render(raised_arm(pose)).dtype == np.uint8
    assert not recwarn.list
    # the same machine with bf16: auto and the override both choose it
    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "1")
    assert Engine("pnr", "cpu").describe() == "CPU \u00b7 bf16"
    monkeypatch.delenv("POSEEDITOR_PRECISION")
    assert resolve_precision("auto", "cpu") == "bf16" and resolve_precision("fp32", "cpu") == "fp32"


def test_precision_choices_and_bad_values(monkeypatch):
    from engine.errors import PoseEditorError

    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "1")
    assert Engine("warp", "cpu", precision="fp32").describe() == "CPU \u00b7 fp32"
    eng = Engine("dgan", "cpu", precision="fp32")
    eng.set_precision("bf16")
    assert eng.precision == "bf16" and eng.backend.precision == "bf16"
    with pytest.raises(PoseEditorError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", "cpu")
    monkeypatch.setenv("POSEEDITOR_PRECISION", "half")
    with pytest.raises(PoseEditorError, match="POSEEDITOR_PRECISION='half'"):
        resolve_precision("auto", "cpu")


def test_folded_batchnorm_computes_the_same_function():
    from engine.backends.attention import CONFIGS, AttentionNet

    torch.manual_seed(0)
    net = AttentionNet(dict(CONFIGS["cpu-small"], width=0.125)).eval()
    for m in net.modules():  # statistics other than the identity's, so the fold has work to do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    h, w = net.config["image_size"]
    img = torch.rand(1, 1, 3, h, w) * 2 - 1
    pose = torch.rand(1, 1, 18, 3) * torch.tensor([w - 1.0, h - 1.0, 1.0])
    with torch.no_grad():
        ref = net(img, pose, pose[:, 0])
        n = fold_batchnorm(net)
        got = net(img, pose, pose[:, 0])
    left = [k for k, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert n > 10 and left == ["in2_conv1.1"]  # the one the network applies apart from its conv (keep_batchnorm)
    assert torch.allclose(got, ref, atol=1e-4)


def test_the_warp_engine_imports_without_the_neural_base():
    """No import circle: warp builds on the backend contract alone; base reaches for warp only when needed."""
    import subprocess
    import sys

    code = ("import sys, engine.backends.warp; "
            "assert 'engine.backends.base' not in sys.modules, 'warp pulled in base'; "
            "import engine.backends.base as b; assert b.Backend is engine.backends.warp.Backend")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_render_command_line_takes_precision(tmp_path, synth_photo, monkeypatch):
    """poseeditor-render --precision: fp32 and bf16 write pictures within 35 dB of each other (and not the same:
    the flag reaches the engine)."""
    from engine.cli_render import main
    from engine.images import load_image, save_image

    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "1")
    img, pose = synth_photo
    src, src_pose, tgt = tmp_path / "p.png", tmp_path / "p.json", tmp_path / "t.json"
    save_image(src, img)
    pose.save_json(src_pose)
    raised_arm(pose).save_json(tgt)
    mine = tmp_path / "mine.safetensors"  # not the starter's file: the network draws the raised arm itself
    shutil.copyfile(STARTER_DIR / "attention.safetensors", mine)
    outs = {}
    for p in ("fp32", "bf16"):
        outs[p] = tmp_path / f"{p}.png"
        assert main(["--source", str(src), "--source-pose", str(src_pose), "--target", str(tgt),
                     "--backend", "attention", "--weights", str(mine), "--precision", p, "-o", str(outs[p])]) == 0
    a, b = load_image(outs["fp32"]), load_image(outs["bf16"])
    assert a.shape == img.shape and 35.0 <= psnr(a, b) < 100.0


def test_auto_measures_each_network_once_and_keeps_the_answer(cache, synth_photo):
    import json

    eng = Engine("attention", "cpu")
    choices = json.loads(cache.read_text())
    [(key, entry)] = choices.items()
    assert key == precision_key("attention", eng.backend.config)
    assert entry["fp32_ms"] > 0 and entry["bf16_ms"] > 0
    assert entry["precision"] == ("bf16" if entry["fp32_ms"] >= BF16_MIN_GAIN * entry["bf16_ms"] else "fp32")
    assert eng.precision == entry["precision"] and eng.describe() == f"CPU \u00b7 {entry['precision']}"
    assert bf16_weights(eng.backend.net) == (entry["precision"] == "bf16")
    # the next engine reads the answer instead of measuring: turned round in the file, it is followed
    other = "fp32" if entry["precision"] == "bf16" else "bf16"
    entry["precision"] = other
    cache.write_text(json.dumps(choices))
    again = Engine("attention", "cpu")
    assert again.precision == other and bf16_weights(again.backend.net) == (other == "bf16")
    assert json.loads(cache.read_text()) == choices
    img, pose = synth_photo
    again.set_sources([img], [pose])
    assert again.render(raised_arm(pose)).shape == img.shape
    # another network is measured for itself; a damaged file is measured again and rewritten
    Engine("pnr", "cpu")
    assert len(json.loads(cache.read_text())) == 2
    cache.write_text("{not json")
    assert Engine("pnr", "cpu").precision in ("fp32", "bf16")
    assert len(json.loads(cache.read_text())) == 1


@pytest.mark.parametrize("forced", ["fp32", "bf16"])
def test_a_forced_precision_wins_and_is_never_measured(cache, monkeypatch, forced):
    import json

    for how in ("argument", "environment"):
        if how == "environment":
            monkeypatch.setenv("POSEEDITOR_PRECISION", forced)
        eng = Engine("pnr", "cpu", precision=forced if how == "argument" else "auto")
        assert eng.precision == forced and bf16_weights(eng.backend.net) == (forced == "bf16")
        assert not cache.exists()
    # with a measured answer on file that says the other thing, the forced value still wins
    monkeypatch.delenv("POSEEDITOR_PRECISION")
    measured = Engine("pnr", "cpu")
    choices = json.loads(cache.read_text())
    for entry in choices.values():
        entry["precision"] = "bf16" if forced == "fp32" else "fp32"
    cache.write_text(json.dumps(choices))
    assert Engine("pnr", "cpu").precision != forced
    assert Engine("pnr", "cpu", precision=forced).precision == forced
    monkeypatch.setenv("POSEEDITOR_PRECISION", forced)
    assert Engine("pnr", "cpu").precision == forced
    assert measured.backend.requested_precision == "auto"


def test_a_cpu_without_bf16_is_never_measured(cache, monkeypatch):
    monkeypatch.setenv("POSEEDITOR_CPU_BF16", "0")
    eng = Engine("attention", "cpu")
    assert eng.precision == "fp32" and not bf16_weights(eng.backend.net) and not cache.exists()


def test_use_network_leaves_the_callers_network_as_it_was():
    """The fast path works on a copy, and the autocast is the backend's (around its calls), not the network's:
    the caller's network keeps float32 weights, its BatchNorm and its plain methods."""
    from engine.backends.attention import CONFIGS, AttentionBackend, AttentionNet

    torch.manual_seed(0)
    net = AttentionNet(dict(CONFIGS["cpu-small"], width=0.125))
    b = AttentionBackend(device="cpu", precision="bf16", load_starter=False)
    b.use_network(net)
    assert b.precision == "bf16" and bf16_weights(b.net) and b.net is not net
    assert not bf16_weights(net) and any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert not vars(net).keys() & {"render", "encode_sources", "forward"}


def test_a_failing_bf16_path_loads_the_network_in_fp32(cache, monkeypatch, caplog, synth_photo):
    """The fast path is optional: bf16 failing inside the one-off measurement ("auto") or in optimise_network
    (bf16 asked) leaves the real network loaded in fp32, drawing today's pixels, the fallback kept in the cache
    and logged once."""
    import json
    import logging

    import engine.backends.base as base
    import engine.runtime as runtime

    monkeypatch.setattr(runtime, "_said", set())
    real_running = base.running

    def running(precision, device="cpu"):
        if precision == "bf16":
            raise RuntimeError("no bf16 kernel for this layer")
        return real_running(precision, device)

    img, pose = synth_photo
    target = raised_arm(pose)
    reference = Engine("pnr", "cpu", precision="fp32")
    reference.set_sources([img], [pose])
    expected = reference.render(target)

    monkeypatch.setattr(base, "running", running)
    with caplog.at_level(logging.WARNING, logger="engine.runtime"):
        eng = Engine("pnr", "cpu")  # auto: measured, the bf16 turn raises
        again = Engine("pnr", "cpu")  # read from the cache: neither measured nor logged again
    [entry] = json.loads(cache.read_text()).values()
    assert entry["precision"] == "fp32" and "no bf16 kernel" in entry["bf16_failed"]
    assert eng.precision == again.precision == "fp32" and eng.describe() == "CPU \u00b7 fp32"
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "pnr" in caplog.records[0].getMessage()
    for e in (eng, again):
        assert not bf16_weights(e.backend.net)
        e.set_sources([img], [pose])
        assert np.array_equal(e.render(target), expected)

    # bf16 asked outright, optimise_network failing half-way (after the weights went to bf16 on its copy)
    monkeypatch.setattr(base, "running", real_running)
    monkeypatch.setattr(base, "pack_convolutions", lambda net: (_ for _ in ()).throw(RuntimeError("oneDNN")))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="engine.runtime"):
        forced = [Engine("pnr", "cpu", precision="bf16") for _ in range(2)]
    assert [e.precision for e in forced] == ["fp32", "fp32"] and len(caplog.records) == 1
    assert "oneDNN" in caplog.records[0].getMessage()
    forced[0].set_sources([img], [pose])
    assert not bf16_weights(forced[0].backend.net)
    assert np.array_equal(forced[0].render(target), expected)


def test_padding_keeps_bf16_under_autocast_and_the_same_values():
    """Autocast runs reflection padding in float32; the fast path's pads keep their input's bf16 (no casts
    around them) and give the same values, and a bf16-optimised pnr network has no float32 pad left."""
    from engine.backends.base import keep_padding_dtype, optimise_network
    from engine.backends.pnr import PnrBackend

    pad = torch.nn.ReflectionPad2d(2)
    x = torch.randn(1, 4, 8, 6).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        before = pad(x)
        assert keep_padding_dtype(torch.nn.Sequential(pad, torch.nn.ReLU())) == 1
        after = pad(x)
    assert before.dtype == torch.float32 and after.dtype == torch.bfloat16
    assert torch.equal(after.float(), before) and isinstance(pad, torch.nn.ReflectionPad2d)

    net = PnrBackend.build_network(PnrBackend.default_config).eval()
    pads = [m for m in net.modules() if isinstance(m, torch.nn.ReflectionPad2d)]
    assert pads and all(type(m) is torch.nn.ReflectionPad2d for m in pads)
    optimise_network(net, "bf16")
    assert all(type(m) is not torch.nn.ReflectionPad2d for m in pads)


def test_a_strided_convolution_one_pixel_wide_is_right_in_bf16():
    """oneDNN's bf16 kernels (torch 2.14 on AMX) get a strided convolution that is one pixel wide wrong: a 4x2 map
    convolved to 2x1 comes out as garbage or NaN, and so does the input's gradient of a 2x1 map upsampled to 4x2.
    Guarded, both match float32 to bf16's precision, for training (autocast) and for the packed inference path."""
    from engine.backends.base import guard_narrow_convolutions, optimise_network

    torch.manual_seed(0)
    down = torch.nn.Conv2d(128, 256, 4, stride=2, padding=1)
    up = torch.nn.utils.parametrizations.spectral_norm(torch.nn.ConvTranspose2d(256, 64, 4, stride=2, padding=1))
    net = torch.nn.Sequential(down, torch.nn.ReLU(), up).to(memory_format=torch.channels_last)
    assert guard_narrow_convolutions(net) == 2 and guard_narrow_convolutions(net) == 0  # once per convolution
    x = torch.randn(6, 128, 4, 2).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    g = torch.randn(6, 64, 4, 2)

    def rel(a, b):
        return float((a.detach().float() - b.detach()).abs().max() / b.detach().abs().max())

    for _ in range(3):  # the unguarded kernels fail intermittently
        ref_y = net(x)
        (ref_gx,) = torch.autograd.grad(ref_y, x, g)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = net(x)
        (gx,) = torch.autograd.grad(y, x, g)
        assert y.dtype == torch.bfloat16 and rel(y, ref_y) < 0.03 and rel(gx, ref_gx) < 0.03

    plain = torch.nn.Sequential(torch.nn.Conv2d(128, 64, 3, stride=2, padding=1), torch.nn.LeakyReLU(0.2)).eval()
    with torch.no_grad():
        ref = plain(x.detach())
        fast = optimise_network(plain, "bf16")
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            got = fast(x.detach())
    assert got.shape == (6, 64, 2, 1) and rel(got, ref) < 0.03
