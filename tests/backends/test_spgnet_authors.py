"""SPGNet's paper configurations against the authors' released stage-2 generator (DualUnetGenerator_SEAN).

The layout below (names and shapes of their state dict) is written here from the facts of their code, not from
engine/backends/spgnet_authors.py, so that a wrong module there shows up as a failed import or a wrong count.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.backends.spgnet import CONFIGS, SPGNetwork, SpgnetBackend
from engine.backends.spgnet_authors import ACE, Zencoder
from engine.backends.spgnet_layers import one_hot
from engine.detect import pose_mask
from engine.presets import fit_preset

AUTHORS_PARAMETERS = {"paper-128x64": 30_914_805, "paper-256x256": 87_795_177}


def authors_layout(deepfashion: bool) -> dict:
    """name -> (shape, is_parameter) of the authors' generator state dict (batch norm: running stats are buffers;
    spectral norm: weight_orig a parameter, weight_u / weight_v buffers)."""
    n, nw, nf, mx, labels = (7, 5, 32, 128, 20) if deepfashion else (5, 4, 32, 128, 20)
    out = {}

    def conv(name, cin, cout, k, bias):
        out[f"{name}.weight"] = ((cout, cin, k, k), True)
        if bias:
            out[f"{name}.bias"] = ((cout,), True)

    def bn(name, c, affine=True):
        if affine:
            out[f"{name}.weight"], out[f"{name}.bias"] = ((c,), True), ((c,), True)
        out[f"{name}.running_mean"], out[f"{name}.running_var"] = ((c,), False), ((c,), False)
        out[f"{name}.num_batches_tracked"] = ((), False)

    def sn_conv(name, cin, cout, k):
        out[f"{name}.weight_orig"] = ((cout, cin, k, k), True)
        out[f"{name}.weight_u"], out[f"{name}.weight_v"] = ((cout,), False), ((cin * k * k,), False)

    def ace(name, c, ks):
        out[f"{name}.noise_var"] = ((c,), True)
        out[f"{name}.blending_gamma"] = out[f"{name}.blending_beta"] = ((1,), True)
        bn(f"{name}.param_free_norm", c, affine=False)
        bn(f"{name}.Spade.param_free_norm", c, affine=False)   # built, never used
        conv(f"{name}.Spade.mlp_shared.0", labels, 64, ks, True)
        conv(f"{name}.Spade.mlp_gamma", 64, c, ks, True)
        conv(f"{name}.Spade.mlp_beta", 64, c, ks, True)
        for j in range(labels):
            out[f"{name}.fc_mu{j}.weight"], out[f"{name}.fc_mu{j}.bias"] = ((128, 128), True), ((128,), True)
        conv(f"{name}.conv_gamma", 128, c, ks, True)
        conv(f"{name}.conv_beta", 128, c, ks, True)

    for i, (a, b) in zip((1, 4, 7, 10, 14), ((3, 32), (32, 64), (64, 128), (128, 256), (256, 128))):
        if i == 10:
            out["Zencoder.model.10.weight"] = ((a, b, 3, 3), True)   # transposed conv: (in, out, k, k)
            out["Zencoder.model.10.bias"] = ((b,), True)
        else:
            conv(f"Zencoder.model.{i}", a, b, 3, True)
    for s, cin in (("p", 18), ("a", 3)):
        conv(f"enc{s}_pre_conv.0", cin, nf, 1, False)
        bn(f"enc{s}_pre_conv.1", nf)
    ks = 5 if deepfashion else 3
    for l in range(n):
        c, co = min(nf * (l + 1), mx), min(nf * (l + 2), mx)
        for s in "pa":
            for i in range(2):
                conv(f"enc{s}_{l}_res_{i}.conv.0", c, c, 3, False)
                bn(f"enc{s}_{l}_res_{i}.conv.1", c)
            conv(f"enc{s}_{l}_downsample.1", c, co, 3, False)
            bn(f"enc{s}_{l}_downsample.2", co)
        if l < nw:
            for i in range(2):
                conv(f"enca_{l}_vis_{i}.conv_a.0", 2 * c, c, 1, False)
                bn(f"enca_{l}_vis_{i}.conv_a.1", c)
                conv(f"enca_{l}_vis_{i}.conv.0", 2 * c, c, 3, False)
                bn(f"enca_{l}_vis_{i}.conv.1", c)
        if l == n - 1:
            conv("dec_fuse.0", 2 * co, co, 1, False)
            bn("dec_fuse.1", co)
        conv(f"dec_{l}_upsample.1", co, 4 * c, 3, False)
        if deepfashion:   # ACE before the pixel shuffle (5x5, on co channels), batch norm after it
            bn(f"dec_{l}_upsample.3", c)
            ace(f"dec_{l}_upsample_norm", co, 5)
        else:
            ace(f"dec_{l}_upsample_norm", c, 3)
        for i in range(2):
            sn_conv(f"dec_{l}_res_{i}.conv_a", 2 * c, c, 1)
            ace(f"dec_{l}_res_{i}.conv_a_norm", 2 * c, ks)
            sn_conv(f"dec_{l}_res_{i}.conv", 2 * c, c, 3)
            ace(f"dec_{l}_res_{i}.conv_norm", 2 * c, ks)
    conv("dec_output.1", nf, 3, 7, True)
    return out


def random_state(layout: dict, seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, (shape, _) in layout.items():
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(100)
        elif name.endswith("running_var"):
            out[name] = 0.5 + torch.rand(shape, generator=g)
        elif name.endswith(("weight_u", "weight_v")):
            out[name] = F.normalize(torch.randn(shape, generator=g), dim=0)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            out[name] = torch.randn(shape, generator=g) / fan_in ** 0.5 * (0.5 if len(shape) > 1 else 0.1)
    return out


@pytest.mark.parametrize("name", ["paper-128x64", "paper-256x256"])
def test_paper_stage2_has_the_authors_parameter_count(name):
    with torch.device("meta"):
        net = SPGNetwork(CONFIGS[name])
    ours = sum(p.numel() for p in net.stage2.parameters())
    theirs = sum(int(np.prod(s)) for s, is_param in authors_layout(name == "paper-256x256").values() if is_param)
    assert ours == theirs == AUTHORS_PARAMETERS[name]
    # stage 1 as PATN (pose branch 2d -> 2d -> d, no norm on the attention logits)
    assert sum(p.numel() for p in net.spatn.parameters()) == 41_547_668


def test_deepfashion_layout_converts_one_to_one():
    from training.importers import _check_builds

    layout = authors_layout(True)
    foreign = {k: np.zeros(s, np.int64 if k.endswith("tracked") else np.float32) for k, (s, _) in layout.items()}
    tensors, config = SpgnetBackend.convert_foreign(foreign)
    assert config["image_size"] == [256, 256] and config["ace_kernel"] == 5 and config["stage1"] == "pose_rule"
    unused = [k for k in layout if ".Spade.param_free_norm." in k]
    assert len(tensors) == len(layout) - len(unused)
    _check_builds(SpgnetBackend, tensors, config, "deepfashion")  # exactly our network's state dict


def test_the_authors_market_generator_imports_and_renders(tmp_path):
    from training.importers import import_weights

    theirs = random_state(authors_layout(False))
    src = tmp_path / "latest_net_netG.pth"
    torch.save(theirs, src)
    out, summary = import_weights(src, "spgnet", tmp_path / "spgnet-market.safetensors")
    assert summary["image_size"] == [128, 64]

    backend = SpgnetBackend(load_starter=False, composite="crop")
    backend.load_weights(out)
    assert backend.config["layout"] == "authors"
    ours = backend.net.state_dict()
    for name in ("dec_3_res_1.conv_norm.fc_mu17.weight", "enca_2_vis_1.conv_a.1.running_var",
                 "Zencoder.model.10.weight", "dec_0_res_0.conv.weight_orig"):
        mapped = "stage2." + name.replace("Zencoder", "zencoder").replace("dec_3_res_1", "dec.3.1") \
            .replace("fc_mu17", "fc_mu.17").replace("enca_2_vis_1", "vis.2.1").replace("dec_0_res_0", "dec.0.0")
        assert torch.equal(ours[mapped], theirs[name]), name

    pose = fit_preset("standing", 120, 240)
    yy, xx = np.mgrid[:240, :120]
    img = np.stack([xx * 2, yy, 255 - yy], -1).astype(np.uint8)
    state = backend.encode_sources([img], [pose], [pose_mask(pose)])
    target = fit_preset("arms-up", 120, 240, like=pose)
    a, b = backend.render(state, target), backend.render(state, target)
    assert a.shape == img.shape and a.std() > 1
    assert np.array_equal(a, b)  # the ACE noise is drawn from a reseeded generator: same pose, same image


def test_ace_equals_the_authors_per_region_form():
    torch.manual_seed(0)
    b, c, labels, h, w = 2, 6, 20, 8, 6
    ace = ACE(c, labels, 3).eval()
    for p in ace.parameters():
        torch.nn.init.normal_(p, std=0.3)
    with torch.no_grad():
        ace.noise_var.zero_()
        ace.param_free_norm.running_mean.normal_()
        ace.param_free_norm.running_var.uniform_(0.5, 1.5)
    x = torch.randn(b, c, h, w)
    lab = torch.randint(0, 5, (b, h, w))
    lab[0, :2] = 19
    seg = one_hot(lab, labels)
    codes = torch.randn(b, labels, 128)
    with torch.no_grad():
        fast = ace(x, seg, [ace.style_kernel(codes)])
        # their form: paint ReLU(fc_mu_j(code_j)) on each present region j, convolve, blend with SPADE
        middle = torch.zeros(b, 128, h, w)
        for i in range(b):
            for j in range(labels):
                region = seg[i, j].bool()
                if region.any():
                    middle[i][:, region] = F.relu(ace.fc_mu[j](codes[i, j]))[:, None]
        g_avg, b_avg = ace.conv_gamma(middle), ace.conv_beta(middle)
        actv = ace.spade.mlp_shared(seg)
        g_sp, b_sp = ace.spade.mlp_gamma(actv), ace.spade.mlp_beta(actv)
        ga, ba = torch.sigmoid(ace.blending_gamma), torch.sigmoid(ace.blending_beta)
        slow = ace.param_free_norm(x) * (1 + ga * g_avg + (1 - ga) * g_sp) + ba * b_avg + (1 - ba) * b_sp
    assert torch.allclose(fast, slow, atol=1e-4)


def test_zencoder_codes_are_the_masked_means_at_half_resolution():
    torch.manual_seed(1)
    enc = Zencoder().eval()
    img = torch.randn(2, 3, 32, 16)
    lab = torch.randint(0, 4, (2, 32, 16))
    with torch.no_grad():
        codes = enc(img, lab, 20)
        feats = enc.model(img)
        small = lab[:, ::2, ::2]   # nearest resize to half size picks the even pixels
        for i in range(2):
            for j in range(20):
                m = small[i] == j
                want = feats[i][:, m].mean(1) if m.any() else torch.zeros(128)
                assert torch.allclose(codes[i, j], want, atol=1e-5)


# a small network in the authors' layout (their Zencoder and 128-d ACE projections keep their size)
SMALL = dict(CONFIGS["paper-128x64"], image_size=[64, 32], width=0.25, num_scales=None, num_warp_scales=None,
             spatn_blocks=2)


def _batch():
    from test_spgnet import _batch as drawn_people

    return drawn_people()


def test_authors_layout_cached_render_equals_a_full_forward_and_trains():
    from training.recipes.base import recipe_class

    torch.manual_seed(3)
    net = SPGNetwork(SMALL).eval()
    batch = _batch()
    two = {k: torch.cat([v, v.flip(0)], 1) if k.startswith("src") else v for k, v in batch.items()}
    with torch.no_grad():
        for b in (batch, two):
            state = net.encode_sources(b["src_img"], b["src_pose"], b["src_parsing"])
            cached = net.render(state, b["tgt_pose"])
            full = net(b["src_img"], b["src_pose"], b["tgt_pose"], b["src_parsing"])
            torch.testing.assert_close(cached, full, atol=1e-6, rtol=0)
    net.train()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, ACE):
                m.noise_var.fill_(0.5)
    noisy = [net(batch["src_img"], batch["src_pose"], batch["tgt_pose"], batch["src_parsing"]) for _ in range(2)]
    assert (noisy[0] - noisy[1]).abs().max() > 1e-4  # training draws fresh noise

    torch.manual_seed(4)
    recipe = recipe_class("spgnet")(SMALL, {"lr": 1e-3})
    logs = [recipe.train_step(batch, s) for s in range(8)]
    first = {k: np.mean([log[k] for log in logs[:2]]) for k in ("ce", "l1")}
    last = {k: np.mean([log[k] for log in logs[-2:]]) for k in ("ce", "l1")}
    assert last["ce"] < 0.9 * first["ce"] and last["l1"] < first["l1"], (first, last)
    pred = recipe.extra_images(batch)["parsing (predicted)"]
    assert pred.shape == (2, 3, 64, 32)
