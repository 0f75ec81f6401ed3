"""DGAN and DGAN-SA: network layout, deformable skips, losses, spectral norm, training, cached rendering, import."""
import numpy as np
import pytest
import torch

from engine.backends.dgan import CONFIGS, SA_CONFIGS, DganBackend, DganSaBackend
from engine.backends.dgan_keras import to_keras_layout
from engine.backends.dgan_net import DganGenerator, SelfAttention, count_parameters, resolve_config
from engine.backends.layers import scale_affines, warp_features
from engine.errors import WeightsError
from engine.pose import Pose
from engine.presets import fit_preset
from training.losses import gan_d_loss, gan_g_loss, nn_loss

TINY = {"image_size": [64, 32], "width": 0.0625}


def pose_tensor(pose: Pose) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([pose.xy, pose.present[:, None]], 1).astype(np.float32))


def tiny_inputs(batch=2, h=64, w=32, seed=0):
    """Smooth random images and two real poses (presets) per sample, in the tensor formats of base.py."""
    g = torch.Generator().manual_seed(seed)
    img = torch.nn.functional.interpolate(torch.rand(batch, 3, h // 8, w // 8, generator=g), size=(h, w),
                                          mode="bilinear", align_corners=False) * 2 - 1
    src = fit_preset("standing", w, h)
    tgt = fit_preset("t-pose", w, h, like=src)
    sp = pose_tensor(src).expand(batch, 1, 18, 3).clone()
    tp = pose_tensor(tgt).expand(batch, 18, 3).clone()
    return img[:, None], sp, tp


# ----- layout -----------------------------------------------------------------------------------------------
def _meta_count(config):
    with torch.device("meta"):  # no memory for 60-80M parameters, just the shapes
        return count_parameters(DganGenerator(config))


def test_paper_configurations_parameter_counts():
    counts = {name: _meta_count(cfg) for name, cfg in CONFIGS.items() if name.startswith("paper")}
    counts.update({"sa " + name: _meta_count(cfg) for name, cfg in SA_CONFIGS.items() if name.startswith("paper")})
    print("DGAN generator parameters:", counts)
    # 128x64 (Market): the paper's "about 61M". The exact figure follows the released Keras code: a plain 3x3
    # conv (with bias) opens each encoder stream, the deepest encoder layer has no norm, and keras-contrib's
    # InstanceNormalization(axis=None) learns one scale and one shift per layer (26 parameters in all; the
    # per-channel norm of the paper's text has 9,446 more, still "about 61M").
    assert counts["paper-128x64"] == 61_109_085
    assert _meta_count(dict(CONFIGS["paper-128x64"], norm="instance")) == 61_109_085 + 9_446
    # 256x256 (DeepFashion): one more 512 block in each encoder stream and in the decoder.
    assert counts["paper-256x256"] == 82_080_611
    # the variant adds two attention layers (W_g, W_h: C -> C/8, W_o: C -> C, gamma) after the decoder's last
    # two up blocks (256 and 128 channels); spectral norm adds buffers, not parameters.
    assert counts["sa paper-128x64"] - counts["paper-128x64"] == 102_882
    assert counts["sa paper-256x256"] - counts["paper-256x256"] == 102_882
    assert resolve_config(CONFIGS["paper-128x64"])["levels"] == 6
    assert resolve_config({"image_size": [256, 256]})["levels"] == 7  # the authors' rule: one more block


def test_generator_layers_follow_the_released_code():
    g = DganGenerator(dict(CONFIGS["paper-128x64"], width=0.125))
    enc = [m.out_channels for m in g.appearance.modules() if isinstance(m, torch.nn.Conv2d)]
    assert enc == [8, 16, 32, 64, 64, 64]                                   # 64..512 x 0.125
    ups = [m.out_channels for m in g.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert ups == [64, 64, 64, 32, 16]                                      # 512, 512, 512, 256, 128 x 0.125
    drops = [type(b[3]).__name__ for b in g.decoder.blocks]
    assert drops == ["Dropout"] * 3 + ["Identity"] * 2
    assert g.appearance.layers[0].in_channels == 21 and g.pose.layers[0].in_channels == 18
    x, sp, tp = tiny_inputs(1, 128, 64)
    st = g.eval().encode_sources(x, sp)
    sizes = [tuple(st[f"app{i}"].shape[-2:]) for i in range(6)]
    assert sizes == [(128, 64), (64, 32), (32, 16), (16, 8), (8, 4), (4, 2)]


def test_bad_configuration_is_refused_clearly():
    with pytest.raises(ValueError, match="multiple of 32"):
        DganGenerator({"image_size": [100, 64]})
    with pytest.raises(ValueError, match="norm"):
        DganGenerator({"image_size": [128, 64], "norm": "batch"})


# ----- deformable skip connections ----------------------------------------------------------------------------
def test_warp_of_a_known_feature_map_lands_where_the_transform_says():
    """Affines are target->source at image resolution; at a half-size feature map they are rescaled."""
    h, w = 32, 16
    feat = torch.zeros(1, 2, h, w)
    feat[0, 0, 10, 5] = 1.0      # a marked feature in the source at (x=5, y=10)
    feat[0, 1] = 0.25
    # at image resolution (64x32) the target is the source moved right by 6 px and down by 8 px, scaled 1:1:
    # target->source is x_s = x_t - 6, y_s = y_t - 8
    A = torch.tensor([[[[1.0, 0.0, -6.0], [0.0, 1.0, -8.0]]]])
    a_half = scale_affines(A, 0.5)
    masks = torch.ones(1, 1, h, w)
    out = warp_features(feat, a_half, masks)
    y, x = np.unravel_index(int(out[0, 0].argmax()), (h, w))
    assert (x, y) == (5 + 3, 10 + 4) and float(out[0, 0, y, x]) == pytest.approx(1.0, abs=1e-5)
    # the constant channel moved too: what came from outside the source map is empty
    assert float(out[0, 1, 4:, 3:].min()) == pytest.approx(0.25) and float(out[0, 1, :4].max()) == 0.0
    # a mask that leaves the marked pixel out removes it
    m2 = torch.ones(1, 1, h, w)
    m2[0, 0, 10, 5] = 0
    assert float(warp_features(feat, a_half, m2)[0, 0].max()) < 1e-6


def test_generator_skips_follow_a_translated_pose():
    """Whole-body translation of the pose: every part affine is the same shift, at every skip resolution."""
    h, w = 64, 32
    g = DganGenerator(dict(TINY, image_size=[h, w], torso_whole_image=False)).eval()  # the body parts alone
    src = fit_preset("standing", w, h)
    src = Pose(src.xy * np.float32(0.7) + np.float32([3, 6]), src.present, w, h)
    tgt = Pose(src.xy + np.float32([4, 6]), src.present, w, h)
    gen = torch.Generator().manual_seed(3)
    state = {f"app{i}": torch.rand(1, 3, h >> i, w >> i, generator=gen) + 0.1 for i in range(6)}
    state["src_pose"] = pose_tensor(src)[None]
    skips = g.warped_skips(state, pose_tensor(tgt)[None])
    for lvl, (dx, dy) in ((0, (4, 6)), (1, (2, 3))):
        f, out = state[f"app{lvl}"][0], skips[lvl][0]
        hl, wl = f.shape[-2:]
        moved, source = out[:, dy:, dx:], f[:, :hl - dy, :wl - dx]   # target pixel p shows source pixel p - d
        covered = moved.amax(0) > 1e-3  # (sub-pixel fitting error leaks ~1e-5 of neighbours across mask edges)
        assert covered.float().mean() > 0.15  # the body's parts cover a good share of the map
        assert torch.allclose(moved[:, covered], source[:, covered], atol=1e-4)
        assert float(out[:, :dy].abs().max()) == 0.0  # nothing of the body above where it moved to
    assert skips[4] is state["app4"] and skips[5] is state["app5"]  # the two deepest go unwarped
    # as the paper has it, the torso's region is the whole image: the background moves with the torso
    whole = DganGenerator(dict(TINY, image_size=[h, w])).eval().warped_skips(state, pose_tensor(tgt)[None])[0][0]
    assert torch.allclose(whole[:, 6:, 4:], state["app0"][0, :, :h - 6, :w - 4], atol=1e-4)
    assert float(whole[:, :6].abs().max()) < 1e-4  # what came from outside the photo is empty


def test_a_limb_missing_in_the_source_borrows_its_mirror_limb():
    """Appendix B: the target's right forearm is filled from the source's left forearm when the right is missing."""
    h, w = 64, 32
    g = DganGenerator(dict(TINY, image_size=[h, w])).eval()
    src = fit_preset("standing", w, h)
    tgt = fit_preset("t-pose", w, h, like=src)
    mid = lambda p, a, b: (p.point(a) + p.point(b)) / 2
    feat = torch.zeros(1, 1, h, w)
    sx, sy = np.round(mid(src, "l_elbow", "l_wrist")).astype(int)
    feat[0, 0, sy - 1:sy + 2, sx - 1:sx + 2] = 1.0   # only the source's left forearm carries a feature
    tx, ty = np.round(mid(tgt, "r_elbow", "r_wrist")).astype(int)
    state = {f"app{i}": torch.zeros(1, 1, h >> i, w >> i) for i in range(6)}
    state["app0"] = feat

    def right_forearm_value(source_pose):
        state["src_pose"] = pose_tensor(source_pose)[None]
        return float(g.warped_skips(state, pose_tensor(tgt)[None])[0][0, 0, ty, tx])

    assert right_forearm_value(src.with_present("r_wrist", False)) > 0.5  # borrowed from the left forearm
    assert right_forearm_value(src) < 1e-6                               # its own (featureless) right forearm


# ----- losses -----------------------------------------------------------------------------------------------
def _nn_loss_slow(pred, tgt, n, reduction):
    """Loops over the neighbourhood. "mean" is the authors' Keras 2.0.8 training objective: their nn_loss returns
    the (batch, H, W) map of best distances and the weighted objective takes its mean over every element."""
    b, c, h, w = pred.shape
    r = n // 2
    total = 0.0
    for k in range(b):
        for y in range(h):
            for x in range(w):
                best = None
                for yy in range(max(0, y - r), min(h, y + r + 1)):
                    for xx in range(max(0, x - r), min(w, x + r + 1)):
                        d = float((pred[k, :, y, x] - tgt[k, :, yy, xx]).abs().sum())
                        best = d if best is None else min(best, d)
                total += best
    return total / (b * h * w) if reduction == "mean" else total / b


@pytest.mark.parametrize("n", [3, 5])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nn_loss_equals_a_slow_reference_loop(n, reduction):
    g = torch.Generator().manual_seed(n)
    pred = torch.rand(2, 4, 6, 5, generator=g)
    tgt = torch.rand(2, 4, 6, 5, generator=g)
    assert float(nn_loss(pred, tgt, n, reduction)) == pytest.approx(_nn_loss_slow(pred, tgt, n, reduction), rel=1e-5)
    shifted = torch.roll(pred, 1, dims=3)  # a one-pixel misalignment costs little inside the neighbourhood
    plain = (shifted - pred).abs().sum(1)
    plain = plain.mean() if reduction == "mean" else plain.sum((1, 2)).mean()
    assert float(nn_loss(shifted, pred, n, reduction)) < 0.25 * float(plain)


def test_the_recipes_nn_term_follows_its_reduction_option():
    from training.recipes.dgan import DganRecipe

    batch = _train_batch()
    nn_terms = {}
    for reduction in ("mean", "sum"):
        torch.manual_seed(0)
        recipe = DganRecipe(TINY, {"nn_reduction": reduction, "gan_start_step": 10})
        torch.manual_seed(1)  # the same dropout masks (building the backbone the first time draws numbers)
        nn_terms[reduction] = recipe.train_step(batch, 0)["nn"]
        feat = recipe._features(batch["tgt_img"])
    # the same first step: the sum is the mean times the number of feature positions
    assert nn_terms["sum"] == pytest.approx(nn_terms["mean"] * feat.shape[-2] * feat.shape[-1], rel=1e-4)
    with pytest.raises(ValueError, match="reduction"):
        nn_loss(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3), 3, "max")


def test_nearest_warp_copies_feature_values_and_bilinear_blends_them():
    feat = torch.arange(2 * 8 * 6, dtype=torch.float32).view(1, 2, 8, 6)
    shift = torch.tensor([[[[1.0, 0.0, 0.4], [0.0, 1.0, 0.3]]]])       # a sub-pixel translation, one part
    masks = torch.ones(1, 1, 8, 6)
    near = warp_features(feat, shift, masks, "nearest")
    bil = warp_features(feat, shift, masks, "bilinear")
    values = set(feat.flatten().tolist()) | {0.0}
    assert set(near.flatten().tolist()) <= values                       # every output is an input value
    assert not set(bil[:, :, 1:-1, 1:-1].flatten().tolist()) <= values  # bilinear mixes neighbours
    net = DganGenerator(dict(CONFIGS["cpu-small"], image_size=[64, 32], warp_sampling="nearest"))
    assert net.config["warp_sampling"] == "nearest"
    with pytest.raises(ValueError, match="warp_sampling"):
        DganGenerator(dict(CONFIGS["cpu-small"], warp_sampling="bicubic"))


def test_relativistic_average_hinge_matches_the_papers_equation():
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([0.0, 1.5])
    # eq. 7: D_bar(real) = D(real) - mean D(fake) = [1.25, -0.25, -1.75]; D_bar(fake) = D(fake) - mean D(real)
    # = [-0.5, 1.0]. eq. 8: L_D = mean max(0, 1 - D_bar(real)) + mean max(0, 1 + D_bar(fake))
    #                            = mean [0, 1.25, 2.75] + mean [0.5, 2.0] = 4/3 + 5/4
    #                       L_G = mean max(0, 1 - D_bar(fake)) + mean max(0, 1 + D_bar(real))
    #                            = mean [1.5, 0] + mean [2.25, 0.75, 0] = 3/4 + 1
    assert float(gan_d_loss("rahinge", real, fake)) == pytest.approx(4 / 3 + 5 / 4)
    assert float(gan_g_loss("rahinge", fake, real)) == pytest.approx(3 / 4 + 1)


# ----- spectral norm and self-attention --------------------------------------------------------------------
def _sn_matrix(module):
    w = module.weight  # the normalised weight the layer uses
    if isinstance(module, torch.nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # torch normalises transposed convs along their output channels (dim 1)
    return w.reshape(w.shape[0], -1)


def test_spectral_norm_keeps_the_largest_singular_value_near_one():
    from training.recipes.dgan import DganDiscriminator

    g = DganGenerator(dict(TINY, spectral_norm=True, self_attention=True)).train()
    d = DganDiscriminator(0.0625, sn=True, sa=True).train()
    sn_layers = [m for m in list(g.decoder.modules()) + list(d.modules()) if hasattr(m, "parametrizations")]
    assert len(sn_layers) >= 6 + 6  # 5 up convs + final (+ attention convs) in G; 5 convs (+ attention) in D
    with torch.no_grad():
        for m in sn_layers:
            m.parametrizations.weight.original.mul_(7.0)  # far from 1 before normalisation
        x, sp, tp = tiny_inputs(1)
        maps = torch.zeros(1, 18, 64, 32)
        g(x, sp, tp)                    # the layers in use are the normalised ones...
        d(x[:, 0], maps, x[:, 0], maps)
        for _ in range(30):             # ...and each training-mode use runs one power iteration
            for m in sn_layers:
                m.weight
    sigmas = [float(torch.linalg.matrix_norm(_sn_matrix(m).detach(), ord=2)) for m in sn_layers]
    assert max(abs(s - 1) for s in sigmas) < 0.05, sigmas
    plain = DganGenerator(TINY)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


def test_self_attention_starts_as_identity_and_sits_after_the_last_two_decoder_layers():
    g = DganGenerator(dict(TINY, self_attention=True))
    kinds = [type(a).__name__ for a in g.decoder.attention]
    assert kinds == ["Identity"] * 3 + ["SelfAttention"] * 2
    att = g.decoder.attention[-1]
    assert float(att.gamma.detach()) == 0.0
    x = torch.randn(2, att.o.in_channels, 8, 4)
    assert torch.equal(att(x), x)
    with torch.no_grad():
        att.gamma.fill_(1.0)
    y = att(x)
    assert not torch.allclose(y, x)
    # eqs. 5-6 written out: s_uv = g(phi_u) . h(phi_v), beta_vu = softmax over u, o_v = sum_u beta_vu W_o phi_u
    with torch.no_grad():
        gk, hq, vo = (m(x).flatten(2) for m in (att.g, att.h, att.o))       # (B, C', N)
        s = torch.einsum("bcu,bcv->bvu", gk, hq)
        beta = torch.softmax(s, dim=2)
        ref = x + (torch.einsum("bvu,bcu->bcv", beta, vo)).reshape(x.shape)
        assert torch.allclose(y, ref, atol=1e-5)
        att.CHUNK = 5  # queries in chunks of a few rows: the same result
        assert torch.allclose(att(x), y, atol=1e-6)
    # keys and values max-pooled (SAGAN's code; dgan-sa's cpu-small): every query still gets its own output
    pooled = SelfAttention(att.o.in_channels, pool=2)
    pooled.load_state_dict(att.state_dict())
    with torch.no_grad():
        k = torch.nn.functional.max_pool2d(att.g(x), 2).flatten(2)
        v = torch.nn.functional.max_pool2d(att.o(x), 2).flatten(2)
        beta = torch.softmax(torch.einsum("bcu,bcv->bvu", k, hq), dim=2)
        ref = x + torch.einsum("bvu,bcu->bcv", beta, v).reshape(x.shape)
        assert torch.allclose(pooled(x), ref, atol=1e-5)
    # training recomputes each chunk in the backward pass: the same gradients as one chunk kept in memory
    grads = []
    for chunk in (5, 1 << 24):
        att.CHUNK = chunk
        xg = x.clone().requires_grad_(True)
        att.zero_grad()
        att(xg).square().sum().backward()
        grads.append((xg.grad, att.g.weight.grad.clone()))
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(*grads))
    # every output position mixes information from the whole map (non-local): perturb one far pixel
    x2 = x.clone()
    x2[:, :, 7, 3] += 5.0
    assert (att(x2) - y)[:, :, 0, 0].abs().max() > 1e-4


# ----- training ---------------------------------------------------------------------------------------------
def _train_batch(h=64, w=32, batch=2):
    x, sp, tp = tiny_inputs(batch, h, w, seed=5)
    tgt = torch.flip(x[:, 0], dims=[3]) * 0.8  # a target different from the source, same person colours
    return {"src_img": x, "src_pose": sp, "tgt_img": tgt, "tgt_pose": tp}


@pytest.mark.parametrize("name", ["dgan", "dgan-sa"])
def test_a_few_training_steps_lower_the_loss(name):
    from training.recipes.base import recipe_class

    torch.manual_seed(0)
    recipe = recipe_class(name)(TINY, {"lr": 1e-3})
    assert recipe.gan_kind == ("rahinge" if name == "dgan-sa" else "bce")
    cfg = recipe.generator.config
    assert (cfg["self_attention"], cfg["spectral_norm"]) == ((True, True) if name == "dgan-sa" else (False, False))
    weights = (recipe.options["nn_weight"], recipe.options["gan_weight"], recipe.options["d_weight"])
    assert weights == ((1.0, 50.0, 50.0) if name == "dgan-sa" else (0.01, 1.0, 1.0))
    batch = _train_batch()
    logs = [recipe.train_step(batch, s) for s in range(4)]
    assert all(np.isfinite(v) for log in logs for v in log.values())
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert logs[-1]["nn"] < 0.97 * logs[0]["nn"]
    out = recipe.generate(batch)
    assert out.shape == (2, 3, 64, 32) and float(out.abs().max()) <= 1.0


def test_variant_switches_are_independent():
    from training.recipes.dgan import DganRecipe

    r = DganRecipe(dict(TINY, spectral_norm=True), {"rh": True})   # the ablation's "SN + RH" row
    cfg = r.generator.config
    assert cfg["spectral_norm"] and not cfg["self_attention"] and r.gan_kind == "rahinge"
    assert any(hasattr(m, "parametrizations") for m in r.discriminator.modules())
    assert not any(type(m).__name__ == "SelfAttention" for m in r.discriminator.modules())
    r2 = DganRecipe(dict(TINY, self_attention=True), {})             # "SA" alone
    assert r2.gan_kind == "bce" and r2.options["nn_weight"] == 0.01
    assert sum(type(m).__name__ == "SelfAttention" for m in r2.discriminator.modules()) == 2


# ----- engine: cached rendering, weights, import --------------------------------------------------------------
@pytest.mark.parametrize("sa", [False, True])
def test_render_with_cached_sources_matches_a_full_forward(sa):
    torch.manual_seed(1)
    g = DganGenerator(dict(TINY, self_attention=sa, spectral_norm=sa))
    if sa:
        with torch.no_grad():
            for a in g.decoder.attention:
                if hasattr(a, "gamma"):
                    a.gamma.fill_(0.7)  # as after training: attention contributes
    x, sp, tp = tiny_inputs(2)
    g.train()
    assert not torch.allclose(g(x, sp, tp), g(x, sp, tp))  # dropout is on while training...
    g.eval()
    with torch.no_grad():
        state = g.encode_sources(x, sp)
        tp2 = tp.clone()
        tp2[:, 4, :2] += torch.tensor([3.0, -5.0])  # a drag of the right wrist
        for t in (tp, tp2):
            assert torch.allclose(g.render(state, t), g(x, sp, t), atol=1e-5)  # ...and off for rendering
        assert not torch.allclose(g.render(state, tp), g.render(state, tp2))


def test_backend_renders_photos_through_the_engine_and_loads_its_weights(tmp_path):
    from engine.registry import backend_class
    from engine.weights import WeightsMeta, save_weights

    assert backend_class("dgan") is DganBackend and backend_class("dgan-sa") is DganSaBackend
    assert DganSaBackend.default_config["self_attention"] and not DganBackend.default_config["self_attention"]
    assert DganBackend.preset("cpu-small")["image_size"] == [128, 64] and not DganBackend.multi_shot
    assert DganSaBackend.preset("cpu-small")["attention_pool"] == 2 and DganSaBackend.preset("paper-128x64")[
        "attention_pool"] == 1
    torch.manual_seed(2)
    net = DganSaBackend.build_network(dict(DganSaBackend.default_config, width=0.0625))
    path = save_weights(tmp_path / "dgan-sa.safetensors", net.state_dict(),
                        WeightsMeta("dgan-sa", net.config, tuple(net.config["image_size"])))
    backend = DganSaBackend(load_starter=False)
    assert not backend.ready
    backend.load_weights(path)
    photo = np.full((300, 200, 3), 90, np.uint8)
    photo[60:260, 70:130] = (200, 40, 40)
    pose = fit_preset("standing", 200, 300)
    state = backend.encode_sources([photo], [pose])
    out = backend.render(state, pose.moved("r_wrist", 40.0, 80.0))
    assert out.shape == photo.shape and out.dtype == np.uint8
    with pytest.raises(WeightsError):
        DganBackend(load_starter=False).load_weights(path)  # dgan-sa weights are not dgan weights


def _keras_conv(x, k, stride, pad):
    """Keras Conv2D on NHWC numpy after ZeroPadding2D(pad): cross-correlation with a (kh, kw, in, out) kernel."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw = k.shape[:2]
    ho, wo = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, k.shape[3]))
    for y in range(ho):
        for xx in range(wo):
            patch = x[:, y * stride:y * stride + kh, xx * stride:xx * stride + kw]
            out[:, y, xx] = np.einsum("bhwi,hwio->bo", patch, k)
    return out


def _keras_conv_transpose(x, k, stride=2, crop=1):
    """Keras Conv2DTranspose ('valid', kernel (kh, kw, out, in)) followed by Cropping2D(crop)."""
    b, h, w, _ = x.shape
    kh, kw, co, _ = k.shape
    out = np.zeros((b, (h - 1) * stride + kh, (w - 1) * stride + kw, co))
    for y in range(h):
        for xx in range(w):
            contribution = np.einsum("bi,hwoi->bhwo", x[:, y, xx], k)
            out[:, y * stride:y * stride + kh, xx * stride:xx * stride + kw] += contribution
    return out[:, crop:-crop, crop:-crop]


def test_keras_kernels_convert_to_the_same_operations():
    from engine.backends.dgan_keras import convert_keras_generator

    torch.manual_seed(4)
    g = DganGenerator(dict(CONFIGS["paper-128x64"], width=0.0625))
    keras = to_keras_layout(g.state_dict(), 6)
    rng = np.random.default_rng(0)
    conv = keras["model_weights/conv2d_2/conv2d_2/kernel:0"]          # 4x4 stride-2 conv, appearance stream
    x = rng.standard_normal((1, 8, 6, conv.shape[2]))
    ours = g.appearance.layers[1][1](torch.from_numpy(x).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1)
    assert np.allclose(ours.detach().numpy(), _keras_conv(x, conv, 2, 1), atol=1e-4)
    up = keras["model_weights/conv2d_transpose_2/conv2d_transpose_2/kernel:0"]
    x = rng.standard_normal((1, 3, 2, up.shape[3]))
    ours = g.decoder.blocks[1][1](torch.from_numpy(x).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1)
    assert np.allclose(ours.detach().numpy(), _keras_conv_transpose(x, up), atol=1e-4)
    # the whole file, numbered as if other models had been built first in the Keras session
    keras40 = to_keras_layout(g.state_dict(), 6, first_index=40)
    # a whole-model save also holds the optimiser's slots under similar names: they must be ignored
    keras40.update({f"optimizer_weights/training/Adam/{k.split('/')[1]}/kernel/m:0": np.zeros(1)
                    for k in list(keras40) if k.endswith("kernel:0")})
    tensors, config = convert_keras_generator(keras40)
    assert config["levels"] == 6 and config["width"] == 0.0625 and config["norm"] == "keras-instance"
    g2 = DganBackend.build_network(config)
    g2.load_state_dict(tensors)
    x, sp, tp = tiny_inputs(1, 128, 64)
    with torch.no_grad():
        assert torch.allclose(g.eval()(x, sp, tp), g2.eval()(x, sp, tp), atol=1e-6)
    assert DganBackend.convert_foreign(keras40)[1]["warp_sampling"] == "nearest"  # as the authors' layer samples
    broken = {k: v for k, v in to_keras_layout(g.state_dict(), 6).items() if "conv2d_transpose_3" not in k}
    with pytest.raises(WeightsError, match="conv2d_transpose"):
        DganBackend.convert_foreign(broken)
    with pytest.raises(WeightsError, match="--backend dgan"):
        DganSaBackend.convert_foreign(keras)
