"""poseeditor-train refine (training/refine.py) where it must not refine. The whole step, trained on a clip the real
detector reads and rendered by the engine, is tests/app/test_personalize.py's video plan."""
import json

from tests.training.test_cli import run_cli


def test_a_set_with_no_frames_held_apart_is_left_as_it_is(tmp_path):
    """A few photos train on their self-pairs: nothing is held apart, so there are no frames the model did not
    fit for a refiner to learn from. The file stays byte for byte; a folder that is no set is one line."""
    from training.personalize import starter_weights

    data = tmp_path / "set"
    data.mkdir()
    (data / "dataset.json").write_text(json.dumps({"format": "poseeditor-dataset"}))
    out = tmp_path / "w.safetensors"
    out.write_bytes(starter_weights("attention").read_bytes())
    before = out.read_bytes()
    proc = run_cli("refine", str(out), "--data", str(data), "--minutes", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert "not refined" in proc.stdout and out.read_bytes() == before
    proc = run_cli("refine", str(out), "--data", str(tmp_path))
    assert proc.returncode == 2 and "not a prepared set" in proc.stderr and "Traceback" not in proc.stderr


def test_a_set_holding_too_few_images_apart_gives_the_refiners_minutes_back_to_the_network(tmp_path):
    """A short clip: prepare holds 3 frames apart, fewer than a refiner needs, so the plan's fit gets the whole
    budget instead of leaving 2 minutes to a refiner that would not run."""
    from training import protocol as P

    data = tmp_path / "set"
    data.mkdir()
    (data / "pairs-test.csv").write_text("from,to\nc_f000010.png,c_f000011.png\nc_f000011.png,c_f000012.png\n")
    from training.personalize import starter_weights

    plan = P.make_plan("x", "spgnet", video=str(tmp_path / "clip.mp4"), init=str(starter_weights("spgnet")))
    assert plan.refine == P.REFINE_MINUTES and P.held_apart(data) == 3
    short = P.with_refiner_if_held_apart(plan, data)
    assert short.refine == 0 and short.fit_minutes == plan.minutes
    (data / "pairs-test.csv").write_text("from,to\na,b\nc,d\n")
    assert P.held_apart(data) == 4 and P.with_refiner_if_held_apart(plan, data).refine == P.REFINE_MINUTES


def test_every_other_source_and_its_targets_are_mirrored_for_the_refiner(tmp_path):
    """The refiner learns on poses the video never showed too: every other source frame, with its targets, is
    mirrored (its render, the warp's, the network's share and the real target all the mirror image)."""
    import numpy as np

    from engine.runtime import Engine
    from tests.engine.painted import painted_on_wall
    from engine.presets import fit_preset
    from training import refine as R

    p = fit_preset("standing", 240, 400)
    img, mask, _, _ = painted_on_wall(p, 0.1)
    img[:, :120] = np.clip(img[:, :120].astype(int) - 40, 0, 255).astype(np.uint8)  # a left and a right side
    el, wr = p.point("r_elbow"), p.point("r_wrist")
    moved = p.moved("r_wrist", *(el + [-(wr - el)[1], 0]))
    frame = (img, p, mask.astype(np.float32))
    loaded = {"s1": frame, "s2": frame, "t": (img, moved, mask.astype(np.float32))}
    recs = [{"name": n, "group": "g"} for n in ("s1", "s2", "t")]
    from training.personalize import starter_weights

    weights = tmp_path / "personal.safetensors"  # not the starter's file: the network paints what moved, as a person's
    weights.write_bytes(starter_weights("attention").read_bytes())
    engine = Engine("attention", weights=str(weights))
    plain, mirrored = R.refiner_pairs(engine, loaded, recs[:2], recs[2:])
    for a, b in zip(plain, mirrored):  # render, warp render, share, real target: (h, w[, 3]) at the refiner's scale
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        assert a.shape == b.shape
        assert np.abs(a - b[:, ::-1]).mean() < 0.2 * np.abs(a - b).mean(), "the second source is the mirror image"


def test_the_refiners_steps_are_a_ceiling_its_minutes_still_end_it_sooner():
    """``refine --steps N``: N steps however long the budget (a count runs alike on any machine; the experiments
    compare refiners by it); a budget that ends first ends it; a count that is no whole number above 0 is a
    usage line."""
    import time

    import numpy as np

    from training import refine as R

    rng = np.random.default_rng(0)
    img = lambda: rng.integers(0, 256, (R.PATCH, R.PATCH, 3), dtype=np.uint8)  # noqa: E731
    share = np.ones((R.PATCH, R.PATCH), np.float32)
    samples = [(img(), img(), share, img()) for _ in range(2)]
    net, steps = R.fit_refiner(samples, 600.0, time.monotonic, max_steps=3)
    assert steps == 3 and not net.training
    _, steps = R.fit_refiner(samples, 0.0, time.monotonic, max_steps=3)
    assert steps == 1  # the time was up at once: the one step it always takes
    for bad in ("0", "-2", "2.5"):
        proc = run_cli("refine", "w.safetensors", "--data", "set", "--steps", bad)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "argument --steps" in proc.stderr and ("out of range" in proc.stderr or "whole number" in proc.stderr)
