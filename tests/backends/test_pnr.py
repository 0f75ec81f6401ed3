"""pNR: the regression itself (against numpy, with outliers, its gradient), multi-shot, training, the engine cache."""
import numpy as np
import pytest
import torch

from engine.backends.layers import limb_distance_maps
from engine.backends.pnr import (CONFIGS, PnrBackend, PnrNet, ridge_for, solve_column_weighted, solve_lad,
                                 solve_lse)
from engine.errors import WeightsError
from engine.presets import fit_preset, preset_names
from engine.registry import backend_class
from engine.weights import WeightsMeta, save_weights

H_IMG, W_IMG = 64, 32
TINY = dict(CONFIGS["cpu-small"], image_size=[H_IMG, W_IMG], width=0.125, n_res=1, irls_iters=3)


# ----- synthetic people: each limb a coloured stroke, the colours are the person -------------------------------
def poses_tensor(n: int, rng: np.random.Generator, h=H_IMG, w=W_IMG) -> torch.Tensor:
    names = preset_names()
    out = []
    for _ in range(n):
        p = fit_preset(names[rng.integers(len(names))], w, h)
        xy = p.xy + rng.normal(0, 1.0, p.xy.shape)
        out.append(np.concatenate([xy, p.present[:, None]], 1))
    return torch.tensor(np.stack(out), dtype=torch.float32)


def paint(poses: torch.Tensor, colours: torch.Tensor, background: torch.Tensor, h=H_IMG, w=W_IMG):
    """(B, 3, H, W) in [-1, 1]: background plus a stroke per limb in the person's colour for that limb."""
    strokes = limb_distance_maps(poses, (h, w), kappa=-0.6)               # (B, 12, H, W)
    alpha = strokes.amax(1, keepdim=True)
    ink = torch.einsum("bkhw,bkc->bchw", strokes, colours) / strokes.sum(1, keepdim=True).clamp_min(1e-6)
    return alpha * ink + (1 - alpha) * background[:, :, None, None]


def make_batch(b: int, m: int, seed: int = 0) -> dict:
    """A batch in training/recipes/base.py's format: M sources and one target of the same synthetic person."""
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(b, 12, 3, generator=g) * 2 - 1
    bg = torch.rand(b, 3, generator=g) * 0.6 - 0.3
    poses = poses_tensor(b * (m + 1), rng).view(b, m + 1, 18, 3)
    imgs = torch.stack([paint(poses[:, k], colours, bg) for k in range(m + 1)], 1)
    masks = (imgs - bg[:, None, :, None, None]).abs().amax(2, keepdim=True).gt(0.05).float()
    return {"src_img": imgs[:, :m], "src_pose": poses[:, :m], "src_mask": masks[:, :m],
            "src_parsing": torch.zeros(b, m, H_IMG, W_IMG, dtype=torch.int64),
            "tgt_img": imgs[:, m], "tgt_pose": poses[:, m], "tgt_mask": masks[:, m],
            "tgt_parsing": torch.zeros(b, H_IMG, W_IMG, dtype=torch.int64)}


# ----- the regression --------------------------------------------------------------------------------------------
def test_lse_matches_numpy_least_squares_with_and_without_masked_rows():
    g = torch.Generator().manual_seed(1)
    P = torch.randn(3, 120, 20, generator=g, dtype=torch.float64)
    H = torch.randn(3, 120, 7, generator=g, dtype=torch.float64)
    F = solve_lse(P, H)
    for k in range(3):
        ref = np.linalg.lstsq(P[k].numpy(), H[k].numpy(), rcond=None)[0]
        np.testing.assert_allclose(F[k].numpy(), ref, rtol=1e-9, atol=1e-10)
    keep = torch.rand(3, 120, generator=g) < 0.5
    Fm = solve_lse(P, H, keep.double())
    for k in range(3):
        ref = np.linalg.lstsq(P[k][keep[k]].numpy(), H[k][keep[k]].numpy(), rcond=None)[0]
        np.testing.assert_allclose(Fm[k].numpy(), ref, rtol=1e-9, atol=1e-10)
    # float32 (what the network uses) agrees to float32 precision
    F32 = solve_lse(P.float(), H.float())
    np.testing.assert_allclose(F32.double().numpy(), F.numpy(), atol=2e-4)


def test_ridge_only_for_ill_conditioned_normal_equations():
    g = torch.Generator().manual_seed(2)
    P = torch.randn(2, 200, 6, generator=g, dtype=torch.float64)
    assert torch.all(ridge_for(P.transpose(1, 2) @ P) == 0)
    # a collapsed pose feature: two identical columns make P^T P singular
    P[..., 5] = P[..., 4]
    P.requires_grad_(True)
    H = torch.randn(2, 200, 4, generator=g, dtype=torch.float64)
    gram = P.detach().transpose(1, 2) @ P.detach()
    lam = ridge_for(gram)
    assert torch.all(lam > 0)
    ev = torch.linalg.eigvalsh(gram + lam[:, None, None] * torch.eye(6, dtype=torch.float64))
    assert torch.all(ev[:, -1] / ev[:, 0] <= 1e4 * 1.001)
    F = solve_lse(P, H)
    assert torch.isfinite(F).all()
    # the fit is as good as numpy's minimum-norm least squares (the ridge is tiny next to the data)
    ref = np.linalg.lstsq(P[0].detach().numpy(), H[0].numpy(), rcond=None)[0]
    res = (H[0] - P[0].detach() @ F[0].detach()).norm()
    assert float(res) <= np.linalg.norm(H[0].numpy() - P[0].detach().numpy() @ ref) * 1.01
    F.sum().backward()
    assert torch.isfinite(P.grad).all()


def test_irls_lowers_the_l1_residual_and_beats_lse_on_gross_outliers():
    g = torch.Generator().manual_seed(3)
    P = torch.randn(2, 300, 8, generator=g, dtype=torch.float64)
    F_true = torch.randn(2, 8, 5, generator=g, dtype=torch.float64)
    H = P @ F_true + 0.01 * torch.randn(2, 300, 5, generator=g, dtype=torch.float64)
    outliers = torch.rand(2, 300, 5, generator=g) < 0.2                       # 20% of entries are wrong
    H = H + outliers * 30 * torch.randn(2, 300, 5, generator=g, dtype=torch.float64)

    def l1(F):
        return float((H - P @ F).abs().sum())

    F_lse = solve_lse(P, H)
    costs = [l1(solve_lad(P, H, k)) for k in (0, 1, 2, 4, 8)]
    assert costs[0] == pytest.approx(l1(F_lse))
    assert all(b <= a * (1 + 1e-9) for a, b in zip(costs, costs[1:])), costs
    assert costs[-1] < 0.9 * costs[0]
    err_lse = float((F_lse - F_true).abs().max())
    err_lad = float((solve_lad(P, H, 8) - F_true).abs().max())
    assert err_lse > 0.3 and err_lad < 0.02, (err_lse, err_lad)


def test_lad_gradient_goes_through_the_last_iteration_only():
    g = torch.Generator().manual_seed(4)
    P = torch.randn(1, 60, 4, generator=g, dtype=torch.float64, requires_grad=True)
    H = torch.randn(1, 60, 3, generator=g, dtype=torch.float64, requires_grad=True)
    R = torch.randn(1, 4, 3, generator=g, dtype=torch.float64)
    (solve_lad(P, H, 3) * R).sum().backward()
    gP, gH = P.grad.clone(), H.grad.clone()
    # the same with the last iteration's weights as constants
    with torch.no_grad():
        F = solve_lse(P, H)
        for _ in range(2):
            r = (H - P @ F).abs()
            w = 1 / torch.maximum(r, 1e-3 * r.mean(1, keepdim=True))
            F = solve_column_weighted(P, H, w / w.mean(1, keepdim=True))
        r = (H - P @ F).abs()
        w = 1 / torch.maximum(r, 1e-3 * r.mean(1, keepdim=True))
        W = w / w.mean(1, keepdim=True)
    P2, H2 = P.detach().clone().requires_grad_(True), H.detach().clone().requires_grad_(True)
    (solve_column_weighted(P2, H2, W) * R).sum().backward()
    torch.testing.assert_close(gP, P2.grad)
    torch.testing.assert_close(gH, H2.grad)


# ----- the network -----------------------------------------------------------------------------------------------
def test_registered_multi_shot_with_the_paper_configurations():
    cls = backend_class("pnr")
    assert cls is PnrBackend and cls.multi_shot
    paper = PnrNet(CONFIGS["paper-128x64"])
    assert (paper.d, paper.D, paper.h, paper.w) == (20, 256, 32, 16)
    assert len(paper.appearance.body) == 6 + 4 and len(paper.generator.body) == 4 + 6 + 3
    assert paper.pose.linear.out_features == 20
    assert len(PnrNet(CONFIGS["paper-128x64-unsupervised"]).appearance.body) == 6 + 2
    small = cls.build_network(cls.default_config)
    assert small.D == 64 and tuple(small.image_size) == (256, 128)
    with pytest.raises(ValueError):
        cls.build_network({"image_size": [62, 30]})


@pytest.mark.parametrize("p", [1, 2])
def test_gradients_reach_both_extractors_and_the_generator(p):
    torch.manual_seed(0)
    net = PnrNet(dict(TINY, p=p))
    b = make_batch(2, 2)
    out = net(b["src_img"], b["src_pose"], b["tgt_pose"])
    assert out.shape == (2, 3, H_IMG, W_IMG)
    (out - b["tgt_img"]).abs().mean().backward()
    for part in (net.appearance, net.pose, net.generator):
        grads = [q.grad for q in part.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    assert float(net.pose.linear.weight.grad.abs().sum()) > 0


def test_one_three_and_five_sources_run_and_f_ignores_source_order():
    torch.manual_seed(0)
    net = PnrNet(TINY).double().eval()
    b = make_batch(2, 5, seed=5)
    src, pose = b["src_img"].double(), b["src_pose"].double()
    with torch.no_grad():
        for m in (1, 3, 5):
            st = net.encode_sources(src[:, :m], pose[:, :m])
            assert st["F"].shape == (2, net.d, net.D) and torch.isfinite(st["F"]).all()
            assert net.render(st, b["tgt_pose"].double()).shape == (2, 3, H_IMG, W_IMG)
        order = torch.tensor([3, 0, 4, 2, 1])
        F1 = net.encode_sources(src, pose)["F"]
        F2 = net.encode_sources(src[:, order], pose[:, order])["F"]
        torch.testing.assert_close(F1, F2, rtol=1e-8, atol=1e-10)
        # and the sources do matter: a different subset gives a different F
        F3 = net.encode_sources(src[:, :3], pose[:, :3])["F"]
        assert float((F3 - F1).abs().max()) > 1e-4


# ----- training ----------------------------------------------------------------------------------------------
def _l1_of(recipe, batch, rows=None):
    net = recipe.generator
    with torch.no_grad():
        if rows is None:
            out = recipe.generate(batch)
            return float((out - batch["tgt_img"]).abs().mean())
        out = net(batch["src_img"][:, :1], batch["src_pose"][:, :1], batch["src_pose"][:, 0], rows)
        return float((out - batch["src_img"][:, 0]).abs().mean())


def test_supervised_training_with_two_sources_lowers_the_l1():
    from training.recipes.pnr import PnrRecipe

    torch.manual_seed(0)
    recipe = PnrRecipe(dict(TINY), {})
    batch = make_batch(4, 2, seed=7)
    before = _l1_of(recipe, batch)
    for step in range(6):
        losses = recipe.train_step(batch, step)
        assert {"loss", "l1", "perceptual", "gan_i", "gan_k", "d_i", "d_k"} <= set(losses)
        assert all(np.isfinite(v) for v in losses.values())
    assert _l1_of(recipe, batch) < 0.8 * before


def test_unsupervised_training_reconstructs_the_source_from_masked_rows():
    from training.recipes.pnr import PnrRecipe

    torch.manual_seed(0)
    recipe = PnrRecipe({k: v for k, v in TINY.items() if k != "n_res"}, {"unsupervised": True})
    assert recipe.net_config["n_res"] == 2 and recipe.lambda_gan_i == 0
    batch = make_batch(4, 1, seed=8)
    rows = recipe.generator.random_row_mask(4, 1, 0.5, generator=torch.Generator().manual_seed(0))
    assert 0.3 < float(rows.mean()) < 0.7
    before = _l1_of(recipe, batch, rows)
    d_i_before = [q.detach().clone() for q in recipe.d_i.parameters()]
    for step in range(6):
        losses = recipe.train_step(batch, step)
        assert "gan_i" not in losses and "d_i" not in losses and "gan_k" in losses
    assert _l1_of(recipe, batch, rows) < 0.8 * before
    assert all(torch.equal(a, q) for a, q in zip(d_i_before, recipe.d_i.parameters()))  # GAN_I is off


# ----- the engine --------------------------------------------------------------------------------------------
def _photo(pose_name: str, colours, w=120, h=200):
    p = fit_preset(pose_name, w, h)
    t = torch.tensor(np.concatenate([p.xy, p.present[:, None]], 1), dtype=torch.float32)[None]
    img = paint(t, colours, torch.tensor([[0.1, 0.2, 0.0]]), h, w)[0]
    return p, ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def test_cached_render_equals_a_full_forward_and_runs_no_appearance_encoder(tmp_path):
    torch.manual_seed(0)
    net = PnrNet(TINY)
    backend = PnrBackend(load_starter=False)
    backend.use_network(net)
    colours = torch.rand(1, 12, 3) * 2 - 1
    refs = [_photo(n, colours) for n in ("standing", "arms-up", "walking")]
    state = backend.encode_sources([r[1] for r in refs], [r[0] for r in refs])
    assert backend.references_used(state) == 3
    target = fit_preset("t-pose", 120, 200)

    calls = []
    hook = net.appearance.register_forward_hook(lambda *a: calls.append(1))
    crop = backend.render_crop(state, target)
    photo = backend.render(state, target)
    hook.remove()
    assert not calls                         # a drag re-runs only the pose extractor and the generator
    assert crop.shape == (H_IMG, W_IMG, 3) and photo.shape == (200, 120, 3)

    with torch.no_grad():
        full = net(backend._image_tensor(state.cache["crops"])[None],
                   backend._pose_tensor(state.cache["model_poses"])[None],
                   backend._pose_tensor([backend.target_frame(state, target).pose_to_model(target)]))
    full = ((full[0].clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).numpy()
    assert np.abs(full.astype(int) - crop.astype(int)).max() <= 1

    # the same network through a weights file; max_references limits what the regression uses
    path = save_weights(tmp_path / "pnr.safetensors", net.state_dict(),
                        WeightsMeta("pnr", dict(net.config, max_references=2), tuple(net.image_size),
                                    label="tiny pNR for a test"))
    loaded = PnrBackend(load_starter=False)
    loaded.load_weights(path)
    st2 = loaded.encode_sources([r[1] for r in refs], [r[0] for r in refs])
    assert loaded.references_used(st2) == 2
    st3 = loaded.encode_sources([r[1] for r in refs[:2]], [r[0] for r in refs[:2]])
    np.testing.assert_array_equal(loaded.render_crop(st2, target), loaded.render_crop(st3, target))
    with pytest.raises(WeightsError):
        PnrBackend(load_starter=False).render(st2, target)
