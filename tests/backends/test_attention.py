"""The multi-scale attention backend: the paper's network, the authors' weight layout, caching, training."""
import json
import math

import numpy as np
import pytest
import torch

from engine.backends.attention import (CONFIGS, AttentionBackend, AttentionNet, feature_channels,
                                       resolve_config)
from engine.errors import PoseEditorError, WeightsError
from engine.pose import Pose
from engine.presets import fit_preset
from engine.registry import backend_class
from engine.weights import WeightsMeta, save_weights

from tests.conftest import shared

PAPER_PARAMETERS = 90_172_928      # trainable parameters of NetG(3, 36, 3, ngf=64)
PAPER_STATE_NUMEL = 90_203_054     # + batch norm running statistics: the layout file's "90.2M"
LAYOUT = ("weight-layouts", "magpt_netG_deepfashion.json")


def tiny(**kw):
    return dict(CONFIGS["cpu-small"], width=0.125, **kw)


def random_poses(b, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(b, 18, 2, generator=g) * torch.tensor([w - 1.0, h - 1.0])
    return torch.cat([xy, torch.ones(b, 18, 1)], -1)


def blob_images(poses, h, w):
    """Images a network can learn from the pose: a coloured blob at every joint on a dark ground."""
    ys = torch.arange(h).view(1, 1, h, 1)
    xs = torch.arange(w).view(1, 1, 1, w)
    d2 = (xs - poses[..., 0, None, None]) ** 2 + (ys - poses[..., 1, None, None]) ** 2
    m = torch.exp(-d2 / 8).amax(1, keepdim=True)
    return (m * torch.tensor([1.6, 1.0, 0.4]).view(1, 3, 1, 1) - 0.7).clamp(-1, 1)


def with_batch_statistics(net, h, w):
    """Running statistics from a forward pass, as a trained network has them (at init they are 0 and 1, and
    the eval-mode output of an N(0, 0.02) network is ~1e-11: nothing to compare)."""
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one pass sets them
    poses = random_poses(4, h, w, seed=9)
    with torch.no_grad():
        net.train()(blob_images(poses, h, w)[:, None], poses[:, None], random_poses(4, h, w, seed=10))
    return net.eval()


def paper_net_on_meta():
    with torch.device("meta"):
        return AttentionNet(CONFIGS["paper-256x256"])


# ----- the paper's network and the authors' layout -------------------------------------------------------------
def test_paper_parameter_count_is_pinned():
    net = paper_net_on_meta()
    n_params = sum(p.numel() for p in net.parameters())
    n_state = sum(t.numel() for t in net.state_dict().values())
    print(f"multi-scale attention generator, paper configuration: {n_params:,} parameters "
          f"({n_state:,} with batch norm statistics)")
    assert n_params == PAPER_PARAMETERS
    assert n_state == PAPER_STATE_NUMEL
    assert feature_channels(net.config) == [64, 128, 256, 512, 1024]
    # the 128x64 paper configuration is the same network (sizes do not change the parameters)
    with torch.device("meta"):
        assert sum(p.numel() for p in AttentionNet(CONFIGS["paper-128x64"]).parameters()) == PAPER_PARAMETERS


def test_names_and_shapes_equal_the_authors_released_layout():
    layout = json.loads(shared(*LAYOUT).read_text())["tensors"]
    sd = paper_net_on_meta().state_dict()
    assert list(sd) == list(layout)  # same names in the same order
    assert {k: list(v.shape) for k, v in sd.items()} == layout
    assert sum(math.prod(s) for s in layout.values()) == PAPER_STATE_NUMEL


@pytest.mark.parametrize("image_size, pad, net_size", [([256, 256], False, (256, 256)),
                                                        ([256, 176], True, (256, 256)),
                                                        ([128, 64], False, (128, 64))])
def test_shapes_at_every_level(image_size, pad, net_size):
    net = AttentionNet(tiny(image_size=image_size, pad_to_square=pad)).eval()
    h, w = image_size
    ch = feature_channels(net.config)
    assert ch == [8, 16, 32, 64, 128]
    poses = random_poses(2, h, w)
    img = blob_images(poses, h, w)
    with torch.no_grad():
        tr = net.trace(img[:, None], poses[:, None], random_poses(2, h, w, seed=1))
    nh, nw = net_size
    for k in range(5):
        level = (2, ch[k], nh // 2 ** k, nw // 2 ** k)
        assert tuple(tr["image"][k].shape) == level
        assert tuple(tr["pose"][k].shape) == level
        if k >= 1:
            assert tuple(tr["gates"][k].shape) == level
        if k <= 3:
            assert tuple(tr["decoder"][k].shape) == level
    assert sorted(tr["gates"]) == [1, 2, 3, 4]  # N attention links, the finest at half resolution
    assert tuple(tr["output"].shape) == (2, 3, h, w)


def test_attention_gates_lie_in_zero_one_and_follow_the_target_pose():
    net = AttentionNet(tiny()).eval()
    src = random_poses(1, 128, 64)
    img = blob_images(src, 128, 64)[:, None]
    with torch.no_grad():
        a = net.trace(img, src[:, None], random_poses(1, 128, 64, seed=5))
        b = net.trace(img, src[:, None], random_poses(1, 128, 64, seed=6))
    for k, gate in a["gates"].items():
        assert gate.min() > 0 and gate.max() < 1, k
    # the gates come from the pose stream: another target pose, other gates; the image code is unchanged
    assert (a["gates"][1] - b["gates"][1]).abs().max() > 1e-3
    assert torch.equal(a["image"][-1], b["image"][-1])


def test_pad_to_square_centres_the_crop_on_white_and_moves_the_joints_with_it():
    net = AttentionNet(tiny(image_size=[256, 176], pad_to_square=True))
    assert net.net_size == (256, 256) and net.pad == (40, 40, 0, 0)
    img = torch.zeros(1, 3, 256, 176)
    padded = net._pad_image(img)
    assert padded.shape[-1] == 256
    assert torch.all(padded[..., :40] == 1) and torch.all(padded[..., 216:] == 1)
    assert torch.all(padded[..., 40:216] == 0)
    pose = torch.zeros(1, 18, 3)
    pose[0, 0] = torch.tensor([10.0, 20.0, 1.0])
    maps = net._pose_maps(pose)
    assert maps[0, 0, 20, 50] == 1 and maps[0, 0].sum() == 1
    assert maps[0, 1:].sum() == 0  # missing joints leave empty maps


def test_bad_sizes_are_refused_with_one_line():
    with pytest.raises(PoseEditorError, match="multiples of 16"):
        AttentionBackend.build_network(dict(CONFIGS["cpu-small"], image_size=[100, 60]))


# ----- the engine: caching and registration ------------------------------------------------------------------
def painted_photo(pose: Pose):
    import cv2

    img = np.full((pose.height, pose.width, 3), 200, np.uint8)
    for i, (x, y) in enumerate(pose.xy):
        if pose.present[i]:
            cv2.circle(img, (int(x), int(y)), 6, (20 * i % 255, 100, 255 - 10 * i), -1)
    return img


def test_registered_with_a_small_cpu_default():
    cls = backend_class("attention")
    assert cls is AttentionBackend and not cls.multi_shot
    c = resolve_config(cls.default_config)
    assert c["image_size"] == [128, 64] and c["width"] == 0.25
    n = sum(p.numel() for p in cls.build_network({}).parameters())
    assert n < PAPER_PARAMETERS / 10


def test_cached_render_equals_a_full_forward_and_reruns_only_the_pose_stream_and_decoder():
    torch.manual_seed(0)
    net = with_batch_statistics(AttentionNet(tiny()), 128, 64)
    b = AttentionBackend(load_starter=False)
    b.use_network(net)
    photo_pose = fit_preset("standing", 160, 240)
    photo = painted_photo(photo_pose)
    state = b.encode_sources([photo], [photo_pose])

    calls = []
    hooks = [m.register_forward_hook(lambda *a, name=n: calls.append(name))
             for n, m in net.named_children() if n.startswith("in1_")]
    target = photo_pose.moved("r_wrist", *(photo_pose.point("r_wrist") + [25, -60]))
    outs = [b.render_crop(state, t) for t in (target, photo_pose)]
    for h in hooks:
        h.remove()
    assert calls == []  # the image stream is cached: a drag never runs it

    crop = state.cache["crops"][0]
    src_img = b._image_tensor([crop])[None]
    src_pose = b._pose_tensor(state.cache["model_poses"])[None]
    floats = []
    for t, out in zip((target, photo_pose), outs):
        tgt = b._pose_tensor([state.cache["frames"][0].pose_to_model(t)])
        with torch.no_grad():
            cached = net.render(state.cache["tensors"], tgt)
            full = net(src_img, src_pose, tgt)
        assert torch.allclose(cached, full, atol=1e-6)
        as_uint8 = ((full[0].clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).numpy()
        assert np.abs(as_uint8.astype(int) - out.astype(int)).max() <= 1
        floats.append(cached)
    assert (floats[0] - floats[1]).abs().max() > 1e-4  # the target pose matters
    assert b.render(state, target).shape == photo.shape


# ----- training ------------------------------------------------------------------------------------------------
def test_a_few_training_steps_lower_the_loss():
    from training.recipes.base import recipe_class

    torch.manual_seed(0)
    recipe = recipe_class("attention")({"image_size": [64, 32], "width": 0.125}, {})
    assert recipe.options["gan_kind"] == "bce"
    assert (recipe.options["l1_weight"], recipe.options["gan_weight"], recipe.options["perceptual_weight"]) == (5, 1, 5)
    opt = recipe.opt_g.param_groups[0]
    assert opt["lr"] == 1e-3 and opt["betas"] == (0.5, 0.999)
    src, tgt = random_poses(4, 64, 32, seed=2), random_poses(4, 64, 32, seed=3)
    batch = {"src_img": blob_images(src, 64, 32)[:, None], "src_pose": src[:, None],
             "tgt_img": blob_images(tgt, 64, 32), "tgt_pose": tgt}
    losses = [recipe.train_step(batch, s) for s in range(6)]
    assert all(np.isfinite(v) for r in losses for v in r.values())
    print("losses:", [round(r["loss"], 3) for r in losses])
    assert losses[-1]["loss"] < 0.95 * losses[0]["loss"]
    assert losses[-1]["l1"] < losses[0]["l1"]
    rows = recipe.extra_images(batch)
    assert rows["attention"].shape == (4, 3, 64, 32)


# ----- the authors' released weights -------------------------------------------------------------------------------
def authors_like_state(layout: dict, seed=0) -> dict:
    """A state dict with the authors' names and shapes and plausible random values (as torch.load gives it)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in layout.items():
        if k.endswith("num_batches_tracked"):
            out[k] = np.array(260500, np.int64)
        elif k.endswith("running_var"):
            out[k] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif k.endswith("running_mean"):
            out[k] = rng.normal(0, 0.1, shape).astype(np.float32)
        elif len(shape) == 1:  # batch norm scale / shift
            out[k] = (rng.normal(1, 0.02, shape) if k.endswith("weight") else np.zeros(shape)).astype(np.float32)
        else:
            out[k] = rng.normal(0, 0.02, shape).astype(np.float32)
    return out


def test_the_authors_weights_convert_load_and_render_a_deepfashion_photo():
    from engine.detect import detect_pose
    from engine.images import load_image

    layout = json.loads(shared(*LAYOUT).read_text())["tensors"]
    tensors, config = AttentionBackend.convert_foreign(authors_like_state(layout))
    assert config["image_size"] == [256, 176] and config["pad_to_square"] and config["width"] == 1.0
    net = AttentionBackend.build_network(config)
    net.load_state_dict(tensors)
    b = AttentionBackend(load_starter=False)
    b.use_network(net)
    assert b.image_size == (256, 176)

    photo = load_image(shared("fashion-real", "0.jpg"))  # 256x256, white ground, as DeepFashion comes
    pose = detect_pose(photo).pose
    state = b.encode_sources([photo], [pose])
    # framed as the authors frame it: the centre 176 columns at scale 1, padded back to 256 by the network
    assert np.array_equal(state.cache["crops"][0], photo[:, 40:216])
    moved = pose.moved("l_wrist", *(pose.point("l_wrist") + [10, -30]))
    target = b._pose_tensor([state.cache["frames"][0].pose_to_model(moved)])
    with torch.no_grad():
        out = b.net.render(state.cache["tensors"], target)
    assert out.shape == (1, 3, 256, 176)
    assert torch.isfinite(out).all() and out.std() > 0


def test_convert_foreign_reads_width_and_depth_and_refuses_other_files(tmp_path):
    small = AttentionNet(dict(CONFIGS["cpu-small"], width=0.125, num_down=3, image_size=[64, 32]))
    sd = {"module." + k: v.numpy() for k, v in small.state_dict().items()}  # a DataParallel checkpoint
    tensors, config = AttentionBackend.convert_foreign(sd)
    assert config["width"] == 0.125 and config["num_down"] == 3
    # what `poseeditor-train import-weights` does with them: the engine's weights file, loaded by the backend
    path = save_weights(tmp_path / "imported.safetensors", tensors,
                        WeightsMeta("attention", config, tuple(config["image_size"]), {"data": "DeepFashion"}))
    b = AttentionBackend(load_starter=False)
    b.load_weights(path)
    assert b.image_size == (256, 176) and b.net.config["num_down"] == 3  # their DeepFashion geometry
    pose = fit_preset("standing", 96, 192)
    photo = painted_photo(pose)
    assert b.render(b.encode_sources([photo], [pose]), pose).shape == photo.shape

    broken = {k[len("module."):]: v for k, v in sd.items() if "out_up2" not in k}
    with pytest.raises(WeightsError, match="missing"):
        AttentionBackend.convert_foreign(broken)
    with pytest.raises(WeightsError, match="not a multi-scale attention generator"):
        AttentionBackend.convert_foreign({"conv.weight": np.zeros((3, 3, 3, 3), np.float32)})
    nan = {k: v.copy() for k, v in sd.items()}
    nan["module.out_conv1.4.weight"][0, 0] = np.nan
    with pytest.raises(WeightsError, match="not finite"):
        AttentionBackend.convert_foreign(nan)
