"""A personal weights file's refiner (engine/refiner.py): loaded with the network, applied after the compositing,
only where the network painted; a file without one renders as before; a new fit from such a file drops it."""
import numpy as np
import pytest
import torch

from engine.backends.attention import CONFIGS, AttentionBackend, AttentionNet
from engine.detect import pose_mask
from engine.presets import fit_preset
from engine.framing import person_box
from engine.refiner import PREFIX, build, network_tensors
from engine.weights import WeightsMeta, save_weights


def _photo_and_pose(w=320, h=240):
    pose = fit_preset("standing", w, h)
    rng = np.random.default_rng(1)
    img = rng.integers(40, 220, (h, w, 3), dtype=np.uint8)
    img = np.ascontiguousarray(np.repeat(np.repeat(img[::8, ::8], 8, 0), 8, 1)[:h, :w])
    mask = pose_mask(pose)
    img[mask > 0] = (30, 60, 200)
    return img, pose, mask


def _weights(tmp_path, refiner: bool):
    """A small attention network's file, with a refiner whose correction is not zero (as a trained one's)."""
    torch.manual_seed(0)
    config = dict(CONFIGS["cpu-small"], width=0.125)
    tensors = {k: v.clone() for k, v in AttentionNet(config).state_dict().items()}
    if refiner:
        ref = build(8)
        torch.nn.init.normal_(ref.out.weight, std=0.5)
        tensors.update({PREFIX + k: v.clone() for k, v in ref.state_dict().items()})
    path = tmp_path / ("refined.safetensors" if refiner else "plain.safetensors")
    meta = WeightsMeta(backend="attention", config=config, image_size=tuple(config["image_size"]), label="x")
    return save_weights(path, tensors, meta)


def _render(path, img, pose, mask, target):
    b = AttentionBackend(load_starter=False)
    b.load_weights(path)
    return b, b.render(b.encode_sources([img], [pose], [mask]), target)


@pytest.mark.parametrize("size", [(320, 240), (1200, 1600)])  # below and above the refiner's working scale
def test_a_refiner_in_the_file_changes_only_what_the_network_painted(tmp_path, size):
    img, pose, mask = _photo_and_pose(*size)
    target = pose.moved("r_wrist", *(pose.point("r_wrist") + np.array([-30, -50]) * size[0] / 320))
    plain_b, plain = _render(_weights(tmp_path, False), img, pose, mask, target)
    refined_b, refined = _render(_weights(tmp_path, True), img, pose, mask, target)
    assert plain_b.refiner is None and refined_b.refiner is not None
    # the network itself is the same: the file's refiner tensors were not taken for the network's
    for (k, a), b in zip(plain_b.net.state_dict().items(), refined_b.net.state_dict().values()):
        assert torch.equal(a, b), k
    changed = np.abs(refined.astype(int) - plain.astype(int)).max(axis=2) > 0
    assert changed.sum() > 50  # the moved arm is refined
    # nothing outside the person's box, and nothing where the network did not paint
    box = np.zeros(changed.shape, bool)
    box[person_box(target)] = True
    assert not (changed & ~box).any()
    _, _, share = refined_b.composed(refined_b.encode_sources([img], [pose], [mask]), target)
    assert not (changed & (share[..., 0] == 0)).any()


def test_the_unchanged_pose_returns_the_photo_with_a_refiner(tmp_path):
    img, pose, mask = _photo_and_pose()
    b, out = _render(_weights(tmp_path, True), img, pose, mask, pose)
    assert b.refiner is not None and np.array_equal(out, img)


def test_a_fit_from_a_refined_file_starts_from_its_network_alone(tmp_path):
    from engine.weights import load_weights

    tensors, _ = load_weights(_weights(tmp_path, True))
    net = network_tensors(tensors)
    assert any(k.startswith(PREFIX) for k in tensors) and not any(k.startswith(PREFIX) for k in net)
    AttentionNet(dict(CONFIGS["cpu-small"], width=0.125)).load_state_dict(net)  # strict: exactly the network


@pytest.mark.parametrize("size", [(60, 30), (700, 300)])
def test_the_refiner_runs_on_boxes_smaller_than_a_patch_and_larger_than_its_scale(size):
    from engine.refiner import WORK_SIDE, work_views

    h, w = size
    render = np.full((h, w, 3), 128, np.uint8)
    share = np.ones((h, w), np.float32)
    r, a_, a = work_views(render, render, share, (slice(0, h), slice(0, w)))
    assert max(r.shape[:2]) == min(max(h, w), WORK_SIDE) and a.shape == r.shape[:2]
    with torch.no_grad():
        out = build(8)(*(torch.zeros(1, c, *r.shape[:2]) for c in (3, 3, 1)))
    assert out.shape[-2:] == r.shape[:2]


def test_the_correction_enlarged_to_the_photo_stays_where_the_network_painted():
    """A box larger than the refiner's scale: its correction, made small and enlarged, must not spread past a
    share that ends sharply (the frame's edge, a kept head), however the two scales' pixels fall."""
    from engine.refiner import refine

    pose = fit_preset("standing", 1200, 1600)
    rng = np.random.default_rng(3)
    render = rng.integers(0, 256, (1600, 1200, 3), dtype=np.uint8)
    around = rng.integers(0, 256, (1600, 1200, 3), dtype=np.uint8)
    share = np.zeros((1600, 1200, 1), np.float32)
    share[401:1203, 333:871] = 1.0
    net = build(8)
    torch.nn.init.normal_(net.out.weight, std=0.5)
    out = refine(net, render, around, share, pose)
    changed = (out != render).any(axis=2)
    assert changed[401:1203, 333:871].mean() > 0.5
    assert not (changed & (share[..., 0] == 0)).any()


def test_the_refiner_in_bf16_draws_what_it_draws_in_fp32():
    """bf16 (autocast, channels-last: where the CPU has it) is a speed choice, not another picture: its
    convolutions run in bf16 and the result is within a twentieth of a grey level of fp32 on average (emulated
    where the CPU lacks bf16, so this runs everywhere)."""
    import copy

    from engine.refiner import refine, speed_up

    pose = fit_preset("standing", 320, 480)
    rng = np.random.default_rng(4)
    render, around = (rng.integers(0, 256, (480, 320, 3), dtype=np.uint8) for _ in range(2))
    share = np.zeros((480, 320), np.float32)
    share[100:400, 80:240] = 0.8
    net = build(8)
    torch.nn.init.normal_(net.out.weight, std=0.05)
    fast = speed_up(copy.deepcopy(net), "bf16")
    seen = []
    fast.inp.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    fp32 = refine(net, render, around, share, pose)
    bf16 = refine(fast, render, around, share, pose)
    assert seen == [torch.bfloat16]
    moved = np.abs(fp32.astype(int) - render.astype(int))
    diff = np.abs(bf16.astype(int) - fp32.astype(int))
    assert moved.mean() > 0.3 and diff.mean() < 0.05


def test_a_refiner_whose_bf16_path_fails_runs_in_fp32(monkeypatch, caplog):
    """The fast path is optional: a failure of bf16 where the refiner is placed leaves it in fp32, said once."""
    import engine.refiner as R

    def broken(precision, device="cpu"):
        if precision != "fp32":
            raise RuntimeError("no bf16 kernel here")
        return torch.autocast("cpu", enabled=False)
    monkeypatch.setattr(R, "autocast", broken)
    net = R.placed(build(8), "bf16")
    assert net.precision == "fp32" and "fp32" in caplog.text
    pose = fit_preset("standing", 320, 480)
    img = np.full((480, 320, 3), 128, np.uint8)
    R.refine(net, img, img, np.ones((480, 320), np.float32), pose)


def test_a_drag_renders_without_the_refiner_and_its_end_with_it(tmp_path):
    """A live render (during a drag) leaves the refiner out, so that a personal model keeps drawing the drags
    itself within the live budget; the final render is refined."""
    from engine.runtime import Engine

    img, pose, mask = _photo_and_pose()
    target = pose.moved("r_wrist", *(pose.point("r_wrist") + [-30, -50]))
    eng = Engine("attention", device="cpu", weights=str(_weights(tmp_path, True)))
    eng.set_sources([img], [pose], [mask])
    live, final = eng.render(target, live=True), eng.render(target)
    assert eng.backend.last_refine_ms > 0  # the final render's refiner time, which the live rule leaves out
    eng.render(target, live=True)
    assert eng.backend.last_refine_ms == 0
    eng.backend.refiner = None
    assert np.array_equal(live, eng.render(target)) and not np.array_equal(live, final)


def test_the_engine_panel_names_a_refiner_at_another_precision(tmp_path):
    """The network's precision is measured per file, the refiner's is the device's: where they differ the panel
    says both."""
    from engine.refiner import placed
    from engine.runtime import Engine, describe

    assert describe("cpu", "fp32", "bf16") == "CPU \u00b7 fp32, refiner bf16"
    assert describe("cpu", "bf16", "bf16") == describe("cpu", "bf16") == "CPU \u00b7 bf16"
    eng = Engine("attention", "cpu", precision="fp32", weights=str(_weights(tmp_path, True)))
    assert eng.backend.refiner.precision == "fp32" and eng.describe() == "CPU \u00b7 fp32"
    eng.backend.refiner = placed(eng.backend.refiner, "bf16")
    assert eng.describe() == "CPU \u00b7 fp32, refiner bf16"
