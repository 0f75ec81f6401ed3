"""Values of fit's options and of the recipes' options that once crashed a run or the machine, met through the
real `poseeditor-train` entry: each is one line on stderr, exit status 2, and no run folder.

- --recipe values (a learning rate of 1e300, an NN neighbourhood of 0 or -3, an unknown reduction) stopped the
  first step with a traceback, after a run folder had been made;
- --workers 100000 started data-loader processes until the machine ran out of memory;
- bench --backend "," printed an empty table and exit status 0.
"""
from __future__ import annotations

import json
import math

import pytest

from training.cli import main
from training.recipes import recipe_class

BACKENDS = ("dgan", "dgan-sa", "attention", "spgnet", "pnr")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("values") / "ds"
    assert main(["synth", "-o", str(d), "--identities", "4", "--poses-per-identity", "3", "--size", "64x32"]) == 0
    return d


def fit(data, tmp_path, *args) -> int:
    return main(["fit", "--backend", "dgan", "--data", str(data), "--steps", "1", "--batch", "2", "--width", "0.25",
                 "--val-pairs", "2", "--runs-dir", str(tmp_path / "runs"), "--no-progress", *args])


def one_line(capsys, code, *words, out_empty=False) -> str:
    out, err = capsys.readouterr()
    assert not out_empty or out == "", out
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("poseeditor-train: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("recipe, words", [
    ('{"lr": 1e300}', ["--recipe", "'lr'", "at most 1"]),
    ('{"nn_size": 0}', ["'nn_size'", "odd whole number"]),
    ('{"nn_size": -3}', ["'nn_size'", "odd whole number"]),
    ('{"nn_size": 4}', ["'nn_size'", "odd whole number"]),
    ('{"nn_reduction": "x"}', ["'nn_reduction'", "one of mean, sum"]),
    ('{"lr": NaN}', ["'lr'", "not nan"]),
    ('{"beta1": [1]}', ["'beta1'", "below 1"]),
    ('{"rh": "yes"}', ["'rh'", "true or false"]),
    ('{"backbone": "resnet"}', ["'backbone'", "vgg19"]),
    ('{"limb_weight": 1e300}', ["'limb_weight'", "at most 1e+06"]),
])
def test_recipe_values_are_refused_as_the_options_are_read(data, tmp_path, capsys, recipe, words):
    one_line(capsys, fit(data, tmp_path, "--recipe", recipe), *words)
    assert not (tmp_path / "runs").exists()


def test_a_config_files_recipe_value_names_the_file(data, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"recipe": {"lr": 2}}))
    one_line(capsys, fit(data, tmp_path, "--config", str(cfg)), f'{cfg}: "recipe"', "'lr'", "not 2")
    assert not (tmp_path / "runs").exists()


def test_every_recipe_option_has_a_rule_its_default_follows():
    """Each default passes its own rule (a rule too strict would refuse a recipe's own setting), and a value of
    no kind any option takes (a JSON object) or a number beyond every bound is refused for every option."""
    from engine.errors import PoseEditorError
    from training.recipes.base import OPTION_RULES, default_rule

    for name in BACKENDS:
        cls = recipe_class(name)
        defaults = {**cls.common_options, **cls.default_options}
        assert cls.check_options(defaults) == defaults, name
        for key, default in defaults.items():
            assert key in OPTION_RULES or default_rule(default) is not None, (name, key)
            for bad in ({}, 1e300, math.nan, -1, 10 ** 400):
                with pytest.raises(PoseEditorError, match=f"'{key}' must be"):
                    cls.check_options({key: bad})


def test_whole_numbers_and_rates_reach_the_recipe_in_its_types():
    cls = recipe_class("dgan")
    out = cls.check_options({"nn_size": 3.0, "beta1": 0, "lr": 0})
    assert out == {"nn_size": 3, "beta1": 0.0, "lr": 0.0}
    assert type(out["nn_size"]) is int and type(out["beta1"]) is float


def test_spgnet_perceptual_weights_must_match_its_depths():
    from training.options import TrainingError

    cls = recipe_class("spgnet")
    with pytest.raises(TrainingError, match="one weight per depth"):
        cls.check_options({"perc_weights": [1.0]})
    assert cls.check_options({"perc_depths": [0, 2], "perc_weights": [1, 0.5]})["perc_weights"] == [1.0, 0.5]


def test_a_discriminator_too_deep_for_the_images_is_refused_before_a_run_folder(data, tmp_path, capsys):
    """d_layers 4 at 64x32: the PatchGAN's last 4x4 conv met a 3-pixel map at the first step."""
    code = main(["fit", "--backend", "attention", "--data", str(data), "--steps", "1", "--batch", "2", "--width",
                 "0.125", "--val-pairs", "2", "--runs-dir", str(tmp_path / "runs"), "--no-progress",
                 "--recipe", '{"d_layers": 4}'])
    one_line(capsys, code, "'d_layers' 4 is too deep for 64x32", "give at most 3")
    assert not (tmp_path / "runs").exists()


def test_workers_are_bounded_by_the_cpus(data, tmp_path, capsys):
    from training.options import max_workers

    one_line(capsys, fit(data, tmp_path, "--workers", "100000"), "--workers", f"at most {max_workers()}", "CPU")
    assert not (tmp_path / "runs").exists()


def test_lr_mult_is_bounded(data, tmp_path, capsys):
    one_line(capsys, fit(data, tmp_path, "--lr-mult", "1e300"), "--lr-mult", "at most 100")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("arg", [",", "", " , "])
def test_bench_refuses_a_backend_list_that_names_none(capsys, arg):
    code = main(["bench", "--backend", arg, "--size", "64x32", "--batch", "2", "--steps", "1"])
    one_line(capsys, code, "--backend", "names no backend", out_empty=True)  # not even the table's header


def test_bench_names_an_unknown_backend_before_the_table(capsys):
    code = main(["bench", "--backend", "dgan,nope", "--size", "64x32", "--batch", "2", "--steps", "1"])
    one_line(capsys, code, "unknown backend 'nope'", out_empty=True)


def test_bench_with_a_width_of_0_is_its_one_line_without_a_table_or_bad_advice(capsys):
    # the width's range was said under the table's header, with "lower its width" for a width of 0
    code = main(["bench", "--backend", "dgan", "--width", "0", "--size", "64x32", "--batch", "2", "--steps", "1"])
    err = one_line(capsys, code, "width 0.0 is outside", out_empty=True)
    assert "lower its width" not in err
