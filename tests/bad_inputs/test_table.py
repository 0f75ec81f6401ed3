"""The bad-input table: every row is a user's mistake or a damaged file given to poseeditor-render or
poseeditor-train, and each must end in exit status 2 and one line ``PROG: error: ...`` naming the problem, with
no traceback, no input changed and nothing written. Rows run in-process (main(argv)), so the table is cheap;
tests/bad_inputs/test_processes.py runs a few as real processes.
"""
from __future__ import annotations

import errno
import os
import shutil

import pytest

from tests.bad_inputs.helpers import Row, check_one_line, run_cli, tree_digest

R, T = "render", "train"
SRC = ["--source", "{photo}", "--source-pose", "{pose}"]           # a source that needs no detection
RENDER = SRC + ["--target", "{pose}", "-o", "{out}/o.png"]        # a render that would succeed


def render_with(*extra, target="{pose}", out="{out}/o.png"):
    return SRC + ["--target", target, "-o", out, *extra]


def weights(name, backend="dgan"):
    return render_with("--backend", backend, "--weights", "{" + name + "}")


def detect(src):
    return ["--source", src, "--pose-out", "{out}/p.json"]


def prepare(src, out="{out}/ds", *extra):
    return ["prepare", src, "-o", out, *extra]


def synth(*extra, out="{out}/ds"):
    return ["synth", "-o", out, *extra]


def import_weights(file, backend="dgan", out="{out}/o.safetensors"):
    return ["import-weights", file, "--backend", backend, "-o", out]


def evaluate(data):
    return ["evaluate", "--backend", "warp", "--data", data]


def link(kind, src="photo", name="o.png"):
    def setup(out, inputs):
        target = out / name
        (os.symlink if kind == "symlink" else os.link)(inputs[src], target)
    return setup


def link_to_starter(backend, name):
    def setup(out, inputs):
        from engine.backends.base import starter_path

        os.symlink(starter_path(backend), out / name)
    return setup


def link_to_resources(name):
    """A link to PoseEditor's own files (the folder of the starter weights and presets)."""
    def setup(out, inputs):
        from engine.fileio import RESOURCES

        os.symlink(RESOURCES, out / name)
    return setup


def weights_cast(backend, dtype, name):
    """The backend's starter weights with every floating-point tensor cast to ``dtype`` (a torch dtype name)."""
    def setup(out, inputs):
        import torch
        from safetensors import safe_open
        from safetensors.torch import save_file

        from engine.backends.base import starter_path

        with safe_open(str(starter_path(backend)), "pt") as f:
            meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
        save_file({k: v.to(getattr(torch, dtype)) if v.is_floating_point() else v for k, v in tensors.items()},
                  str(out / name), metadata=meta)
    return setup


def copy_of(src, name):
    def setup(out, inputs):
        shutil.copyfile(inputs[src], out / name)
    return setup


def make_file(name, content="x"):
    def setup(out, inputs):
        (out / name).write_text(content)
    return setup


def make_dir(name):
    def setup(out, inputs):
        (out / name).mkdir()
    return setup


def make_fifo(name):
    """A named pipe nothing writes to: opening it to read it whole would wait forever."""
    def setup(out, inputs):
        os.mkfifo(out / name)
    return setup


def dataset_with(name, content):
    """A copy of the good dataset in {out}/dsx with the file ``name`` holding ``content`` (made here, not with
    the shared inputs: every row hashes those)."""
    def setup(out, inputs):
        shutil.copytree(inputs["ds"], out / "dsx")
        (out / "dsx" / name).write_text(content)
    return setup


def refine(weights):
    return ["refine", weights, "--data", "{ds}"]


def personalize(*sources):
    return ["personalize", *sources, "--backend", "attention", "-o", "{out}/o.safetensors"]


ROWS = [
    # ----- render: arguments --------------------------------------------------------------------------------
    Row("no arguments", R, [], "--source"),
    Row("unknown option", R, SRC + ["--bogus"], "unrecognized arguments"),
    Row("nothing to do", R, ["--source", "{photo}"], "nothing to do"),
    Row("target without -o", R, SRC + ["--target", "{pose}"], "give -o"),
    Row("source-pose count", R, ["--source", "{photo}", "--source", "{photo}", "--source-pose", "{pose}",
                                 "--pose-out", "{out}/p.json"], "one --source-pose per --source"),
    Row("unknown backend", R, render_with("--backend", "nope"), "unknown backend 'nope'"),
    Row("unknown device", R, render_with("--device", "tpu"), "unknown device"),
    Row("cuda without a gpu", R, render_with("--device", "cuda"), "no usable GPU"),
    # ----- render: outputs that would overwrite an input -------------------------------------------------------
    Row("-o is the source", R, render_with(out="{photo}"), "overwrite an input"),
    Row("-o is the source, other spelling", R, render_with(out="{root}/ds/../photo.png"), "overwrite an input"),
    Row("-o is a symlink to the source", R, render_with(out="{out}/o.png"), "overwrite an input",
        setup=link("symlink")),
    Row("-o is a hard link to the source", R, render_with(out="{out}/o.png"), "overwrite an input", setup=link("hard")),
    Row("-o is the target pose", R, render_with(out="{pose}"), "overwrite an input"),
    Row("-o is the weights", R, render_with("--backend", "dgan", "--weights", "{w_dgan}", out="{w_dgan}"),
        "overwrite an input"),
    Row("--pose-out is the source", R, ["--source", "{photo}", "--pose-out", "{photo}"], "overwrite an input"),
    Row("--pose-out is the source pose", R, SRC + ["--pose-out", "{pose}"], "overwrite an input"),
    Row("--pose-out is -o", R, render_with("--pose-out", "{out}/o.png"), "both the pose file and the rendered"),
    # ----- render: outputs that cannot be written --------------------------------------------------------------
    Row("-o in a missing folder", R, render_with(out="{out}/no/such/o.png"), "does not exist"),
    Row("-o under a file", R, render_with(out="{out}/f/o.png"), "is a file", setup=make_file("f")),
    Row("-o is a folder", R, render_with(out="{out}/d"), "is a folder", setup=make_dir("d")),
    Row("-o unknown image type", R, render_with(out="{out}/o.xyz"), "unknown image type"),
    Row("-o without a suffix", R, render_with(out="{out}/o"), "unknown image type"),
    Row("-o a type PIL cannot write", R, render_with(out="{out}/o.psd"), "unknown image type"),
    Row("--pose-out in a missing folder", R, ["--source", "{photo}", "--pose-out", "{out}/no/p.json"],
        "does not exist"),
    Row("--pose-out is a folder", R, ["--source", "{photo}", "--pose-out", "{out}/d"], "is a folder",
        setup=make_dir("d")),
    Row("full disk writing -o", R, RENDER, "disk is full", fault="full-disk"),
    # written beside and renamed over it, a pipe or device named as an output was replaced by a file (a tester's
    # --pose-out /dev/null, as root, took the system's /dev/null)
    Row("--pose-out is a pipe", R, ["--source", "{photo}", "--pose-out", "{out}/p.json"],
        "p.json: is a pipe, socket or device, not a file", setup=make_fifo("p.json")),
    Row("-o is a pipe", R, render_with(out="{out}/o.png"), "o.png: is a pipe, socket or device, not a file",
        setup=make_fifo("o.png")),
    Row("-o a black-and-white type", R, render_with(out="{out}/o.xbm"), "cannot hold a colour picture"),
    Row("target a photo without an image suffix", R, render_with(target="{out}/pose.jfif"),
        "pose.jfif: is a PNG image, not a pose file", setup=copy_of("photo", "pose.jfif")),
    Row("full disk writing --pose-out", R, SRC + ["--pose-out", "{out}/p.json"], "disk is full", fault="full-disk"),
    # ----- render: photos --------------------------------------------------------------------------------------
    Row("source missing", R, detect("{out}/none.png"), "no such file"),
    Row("source is a folder", R, detect("{out}/d"), "d: is a folder, not an image", setup=make_dir("d")),
    # the output inside that folder: the source is what is wrong (it was said the output would be written inside it)
    Row("source is a folder holding -o", R, ["--source", "{out}/d", "--target", "{pose}", "-o", "{out}/d/o.png"],
        "d: is a folder, not an image", setup=make_dir("d")),
    Row("source is a pipe", R, detect("{out}/f.jpg"), "f.jpg: is a pipe, socket or device, not an image",
        setup=make_fifo("f.jpg")),
    Row("source is /dev/null", R, detect("/dev/null"), "is a pipe, socket or device, not an image"),
    Row("source is text", R, detect("{notes}"), "not an image"),
    Row("source is empty", R, detect("{empty}"), "not an image"),
    Row("source is truncated", R, detect("{truncated}"), "damaged|truncated"),
    Row("source is 4x4 pixels", R, detect("{tiny}"), "too small"),
    # ----- render: pose files ----------------------------------------------------------------------------------
    Row("target not JSON", R, render_with(target="{p_notjson}"), "not valid JSON"),
    Row("target empty", R, render_with(target="{p_empty}"), "not valid JSON"),
    Row("target /dev/zero", R, render_with(target="/dev/zero"), "larger than 16 MB"),
    Row("target nested 100k deep", R, render_with(target="{p_deep}"), "nested too deeply"),
    Row("target canvas Infinity", R, render_with(target="{p_inf_canvas}"), "canvas_width"),
    Row("target canvas NaN", R, render_with(target="{p_nan_canvas}"), "canvas_height"),
    Row("target canvas 1e308", R, render_with(target="{p_huge_canvas}"), "canvas side"),
    Row("target canvas 0", R, render_with(target="{p_zero_canvas}"), "canvas side"),
    Row("target canvas a string", R, render_with(target="{p_str_canvas}"), "not a number"),
    Row("target coordinates 1e308", R, render_with(target="{p_1e308}"), "beyond"),
    Row("target keypoints NaN", R, render_with(target="{p_nan_kp}"), "NaN or infinite"),
    Row("target keypoints strings", R, render_with(target="{p_str_kp}"), "not numbers"),
    Row("target 17 joints", R, render_with(target="{p_short_kp}"), "51 values"),
    Row("target nested keypoints", R, render_with(target="{p_nested_kp}"), "list of lists"),
    Row("target 5000-digit number", R, render_with(target="{p_bigint}"), "a number with thousands of digits"),
    Row("-o a name too long", R, render_with(out="{out}/" + "a" * 260 + ".png"), r"too long \(264 bytes"),
    Row("target without people", R, render_with(target="{p_no_people}"), "no 'people'"),
    Row("target people an object", R, render_with(target="{p_people_dict}"), "no 'people'"),
    Row("target a bare number", R, render_with(target="{p_number}"), "must be an object"),
    Row("target Latin-1 bytes", R, render_with(target="{p_latin1}"), "not UTF-8"),
    Row("target missing", R, render_with(target="{out}/none.json"), "no such file"),
    Row("target a folder", R, render_with(target="{out}/d"), "is a folder", setup=make_dir("d")),
    Row("source pose for another canvas", R, ["--source", "{photo}", "--source-pose", "{p_other_canvas}",
                                              "--pose-out", "{out}/p.json"], "640x480"),
    # ----- render: weights ---------------------------------------------------------------------------------------
    Row("weights missing", R, render_with("--backend", "dgan", "--weights", "{out}/none.safetensors"),
        "no such file"),
    Row("weights a folder", R, render_with("--backend", "dgan", "--weights", "{out}/d"),
        r"d: is a folder, not a \.safetensors weights file", setup=make_dir("d")),
    Row("weights a pipe", R, render_with("--backend", "dgan", "--weights", "{out}/w.safetensors"),
        r"is a pipe, socket or device, not a \.safetensors weights file", setup=make_fifo("w.safetensors")),
    Row("weights cast to int8", R, render_with("--backend", "attention", "--weights", "{out}/w.safetensors"),
        "int8 tensors where the network needs floating-point ones",
        setup=weights_cast("attention", "int8", "w.safetensors")),
    Row("weights cast to bool", R, render_with("--backend", "attention", "--weights", "{out}/w.safetensors"),
        "bool tensors where the network needs floating-point ones",
        setup=weights_cast("attention", "bool", "w.safetensors")),
    Row("weights a pickle", R, weights("w_evil"), "pickle"),
    Row("weights a zip pickle", R, weights("w_zip"), "pickle"),
    Row("weights Keras h5", R, weights("w_h5"), "Keras"),
    Row("weights truncated", R, weights("w_truncated"), "truncated"),
    Row("weights for another backend", R, weights("w_attention"), "'attention' backend, not 'dgan'"),
    Row("weights with a NaN", R, weights("w_nan"), "NaN or infinite"),
    Row("weights with an Inf", R, weights("w_inf"), "NaN or infinite"),
    Row("weights config a list", R, weights("w_cfg_list"), "'config' has the wrong type"),
    Row("weights image_size a string", R, weights("w_size_str"), "image_size"),
    Row("weights backend a number", R, weights("w_backend_num"), "'backend' has the wrong type"),
    Row("weights width 200", R, weights("w_width200"), "width 200"),
    Row("weights image size 2^20", R, weights("w_size2e20"), "image_size 1048576x524288"),
    Row("weights width NaN", R, weights("w_nan_width"), "width nan"),
    Row("weights ngf 100000", R, weights("w_ngf_huge", "attention"), "ngf 100000"),
    Row("weights ngf 1000 (1.4G parameters)", R, weights("w_ngf_1000", "attention"), "parameters"),
    Row("weights header not JSON", R, weights("w_header_garbage"), "not JSON"),
    Row("weights header a list", R, weights("w_header_list"), "not a JSON object"),
    Row("weights header offsets strings", R, weights("w_header_offsets"), "malformed"),
    Row("weights metadata not JSON", R, weights("w_meta_notjson"), "metadata is not valid JSON"),
    Row("weights metadata nested deep", R, weights("w_meta_deep"), "metadata is not valid JSON"),
    Row("weights metadata a number", R, weights("w_meta_numbers"), "__metadata__"),
    Row("weights without metadata", R, weights("w_no_meta"), "without PoseEditor metadata"),
    # ----- train: arguments ------------------------------------------------------------------------------------
    Row("train: no command", T, [], "COMMAND|command"),
    Row("train: unknown command", T, ["fly"], "invalid choice"),
    Row("synth: no -o", T, ["synth"], "-o"),
    Row("synth: 0 identities", T, synth("--identities", "0"), "out of range"),
    Row("synth: identities not a number", T, synth("--identities", "many"), "not a whole"),
    Row("synth: 1 pose per identity", T, synth("--poses-per-identity", "1"), "out of range"),
    Row("synth: negative seed", T, synth("--seed", "-1"), "out of range"),
    Row("synth: size 8x8", T, synth("--size", "8x8"), "out of range"),
    Row("synth: size words", T, synth("--size", "big"), "HEIGHTxWIDTH"),
    # ----- train: synth / prepare outputs ------------------------------------------------------------------------
    Row("synth: -o a file", T, synth("--identities", "1", "--poses-per-identity", "2", out="{out}/f"),
        "is a file", setup=make_file("f")),
    Row("synth: -o under a file", T, synth("--identities", "1", "--poses-per-identity", "2", out="{out}/f/ds"),
        "is a file", setup=make_file("f")),
    Row("synth: -o not empty", T, synth("--identities", "1", "--poses-per-identity", "2", out="{out}"),
        "not empty", setup=make_file("keep.txt")),
    Row("synth: -o an empty name", T, synth(out=""), "an empty name"),
    Row("synth: -o a name too long", T, synth(out="{out}/" + "b" * 300), "too long"),
    # a mistyped name among good ones was passed over; photos that cannot be read were "no person found"
    Row("self-pairs: a photo missing beside a good one", T, ["self-pairs", "{photo}", "{out}/none.jpg", "-o",
                                                              "{out}/sp"], "none.jpg: no such file or folder"),
    Row("self-pairs: no photo can be read", T, ["self-pairs", "{notes}", "{truncated}", "-o", "{out}/sp"],
        "none of the 2 photos could be read"),
    Row("prepare: the one photo truncated", T, prepare("{truncated}"), "could be read .*truncated"),
    Row("prepare: source missing", T, prepare("{out}/none"), "none: no such file or folder"),
    Row("prepare: source a pipe", T, prepare("{out}/f.mp4"),
        "f.mp4: is a pipe, socket or device, not a video, photo or folder", setup=make_fifo("f.mp4")),
    Row("prepare: source /dev/null", T, prepare("/dev/null"), "is a pipe, socket or device, not a video"),
    Row("prepare: source a text file", T, prepare("{notes}"), "neither a video nor a photo"),
    Row("prepare: source an empty folder", T, prepare("{emptydir}"), "no photos"),
    Row("prepare: source a pose-gan dataset", T, prepare("{posegan}"), "already a pose-gan"),
    Row("prepare: source a broken video", T, prepare("{broken}"), "cannot open the video"),
    Row("prepare: source a video without frames", T, prepare("{noframes}"), "noframes.mp4: the video has no frames"),
    Row("prepare: -o is the source folder", T, prepare("{people}", "{people}"), "inside the input"),
    Row("prepare: -o inside the source folder", T, prepare("{people}", "{people}/ds"), "inside the input"),
    Row("prepare: -o a file", T, prepare("{people}", "{out}/f"), "is a file", setup=make_file("f")),
    Row("prepare: -o under a file", T, prepare("{people}", "{out}/f/ds"), "is a file",
        setup=make_file("f")),
    Row("prepare: -o a dataset of another size", T, prepare("{people}", "{ds}", "--size", "64x32"),
        "prepared at 32x16|synthetic"),
    Row("prepare: -o a folder of other things", T, prepare("{people}", "{out}"), "not empty",
        setup=make_file("keep.txt")),
    Row("prepare: --fps-step 0", T, prepare("{people}", "{out}/ds", "--fps-step", "0"), "out of range"),
    Row("prepare: --max-frames -1", T, prepare("{people}", "{out}/ds", "--max-frames", "-1"),
        "out of range"),
    Row("prepare: --size 10x10", T, prepare("{people}", "{out}/ds", "--size", "10x10"), "out of range"),
    # ----- train: import-weights ---------------------------------------------------------------------------------
    Row("import: file missing", T, import_weights("{out}/none.pth"), "no such file"),
    Row("import: -o not .safetensors", T, import_weights("{w_garbage}", out="{out}/o.bin"), "must end in .safetensors"),
    Row("import: -o is the input", T, import_weights("{w_no_meta}", out="{w_no_meta}"),
        "overwrite an input"),
    Row("import: -o in a missing folder", T, import_weights("{w_garbage}", out="{out}/no/o.safetensors"),
        "does not exist"),
    Row("import: unknown backend", T, import_weights("{w_garbage}", "nope"), "unknown backend"),
    Row("import: warp takes no weights", T, import_weights("{w_garbage}", "warp"), "takes no weights"),
    Row("import: a pickle that runs code", T, import_weights("{w_evil}"), "never unpickled"),
    Row("import: garbage", T, import_weights("{w_garbage}"),
        "not a readable PyTorch file"),
    Row("import: damaged h5", T, import_weights("{w_h5}"),
        "not a readable HDF5"),
    Row("import: another network's layout", T, import_weights("{w_wrong_layout}", "attention"),
        "layout|do not fit|match"),
    # ----- train: refine and personalize inputs -----------------------------------------------------------------
    Row("refine: weights missing", T, refine("{out}/none.safetensors"), "none.safetensors: no such file"),
    Row("refine: weights a folder", T, refine("{out}/d"), r"d: is a folder, not a \.safetensors weights file",
        setup=make_dir("d")),
    Row("refine: weights of an unknown backend", T, refine("{w_backend_zzz}"), "w_backend_zzz.safetensors: weights of "
        "the backend 'zzz'"),
    Row("refine: weights a pipe", T, refine("{out}/w.safetensors"),
        r"is a pipe, socket or device, not a \.safetensors weights file", setup=make_fifo("w.safetensors")),
    # its default starter is no named input: a link to it as -o wrote the personal model over the starter
    Row("personalize: -o a link to the starter", T, ["personalize", "{photo}", "--backend", "attention", "-o",
                                                     "{out}/s.safetensors"], "among PoseEditor's own files",
        setup=link_to_starter("attention", "s.safetensors")),
    # into a starter in place, or a run or an evaluation made among the starters: every new user's first launch
    Row("refine: a link to a starter, in place", T, refine("{out}/s.safetensors"), "among PoseEditor's own files",
        setup=link_to_starter("dgan", "s.safetensors")),
    Row("fit: --runs-dir among PoseEditor's files", T, ["fit", "--backend", "dgan", "--data", "{ds}", "--batch", "2",
                                                        "--runs-dir", "{out}/res/runs"], "among PoseEditor's own files",
        setup=link_to_resources("res")),
    Row("evaluate: -o among PoseEditor's files", T, evaluate("{ds}") + ["-o", "{out}/res/eval"],
        "among PoseEditor's own files", setup=link_to_resources("res")),
    Row("personalize: a size the network cannot take", T, personalize("{photo}") + ["--size", "100x50"],
        "attention network: cannot be built"),
    Row("personalize: POSEEDITOR_PRECISION garbage", T, personalize("{photo}"), "POSEEDITOR_PRECISION='garbage'",
        env={"POSEEDITOR_PRECISION": "garbage"}),
    Row("personalize: --scratch and --init", T, personalize("{photo}") + ["--scratch", "--init", "{w_attention}"],
        "not both"),
    Row("render: an empty source name", R, detect(""), "an empty name was given for an image"),
    Row("personalize: an empty source name", T, personalize(""), "an empty name"),
    Row("fit: --resume a lone file", T, ["fit", "--resume", "{out}/plain.pt"], "not a checkpoint of a training run",
        setup=make_file("plain.pt")),
    Row("prepare: a photo given twice", T, ["prepare", "{photo}", "{photo}", "-o", "{out}/ds"], "given twice"),
    Row("self-pairs: --same-person of an empty folder", T, ["self-pairs", "{photo}", "-o", "{out}/sp",
                                                           "--same-person", "{out}/d"], "needs two photos",
        setup=make_dir("d")),
    Row("personalize: a photo missing", T, personalize("{photo}", "{out}/none.jpg"), "none.jpg: no such file"),
    # a folder is its photos (as prepare takes it); one without any says so
    Row("personalize: a photo a folder", T, personalize("{photo}", "{out}/d.jpg"), "d.jpg: a folder without photos",
        setup=make_dir("d.jpg")),
    Row("personalize: a photo a pipe", T, personalize("{out}/f.jpg"),
        "f.jpg: is a pipe, socket or device, not a photo", setup=make_fifo("f.jpg")),
    Row("personalize: the video a folder", T, personalize("{out}/clip.mp4"), "clip.mp4: a folder without photos",
        setup=make_dir("clip.mp4")),
    Row("personalize: the video a pipe", T, personalize("{out}/clip.mp4"),
        "clip.mp4: is a pipe, socket or device, not a video", setup=make_fifo("clip.mp4")),
    Row("personalize: --init a folder", T, personalize("{photo}", "--init", "{out}/d"),
        r"d: is a folder, not a \.safetensors weights file", setup=make_dir("d")),
    # ----- train: datasets read by evaluate --------------------------------------------------------------------
    Row("dataset missing", T, evaluate("{out}/none"), "no such dataset"),
    Row("dataset.json a list", T, evaluate("{ds_json_list}"),
        "not a poseeditor-dataset"),
    Row("dataset.json image_size a string", T, evaluate("{ds_json_size}"),
        "image_size"),
    Row("dataset.json version a string", T, evaluate("{ds_json_version}"),
        "version"),
    Row("dataset.json parsing_flip a list", T, evaluate("{ds_json_flip}"),
        "parsing_flip"),
    Row("annotation line longer than 1 MB", T, evaluate("{out}/dsx"),
        "line 2: longer than 1 MB; not an annotation CSV",
        setup=dataset_with("annotations.csv", "name:keypoints_y:keypoints_x\n" + "x" * 2 ** 20 + "\n")),
    Row("annotations with a Latin-1 byte", T, evaluate("{ds_latin1}"),
        r"line 3: not UTF-8"),
    Row("annotation row of 17 joints", T, evaluate("{ds_short_row}"),
        r"line 3: .*17"),
    Row("annotation row with NaN", T, evaluate("{ds_nan_row}"),
        r"line 3: .*NaN"),
    Row("pairs row of 4 fields", T, evaluate("{ds_pairs_fields}"),
        r"line 2: expected 'from,to'"),
    Row("pairs naming a missing image", T, evaluate("{ds_pairs_missing}"),
        r"line 2: image 'nobody.png'"),
    # said before prepare's minutes of reading and detecting the photos
    Row("personalize: --init with a NaN", T, ["personalize", "{photo}", "--backend", "dgan", "-o",
                                              "{out}/o.safetensors", "--init", "{w_nan}"], "w_nan.safetensors: .*NaN"),
    Row("evaluate weights with a NaN", T, ["evaluate", "{w_nan}", "--data", "{ds}"], "NaN or infinite"),
]


def test_the_table_is_large_enough():
    assert len(ROWS) >= 70
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, bad_inputs, tmp_path, capfd, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    if row.setup:
        row.setup(out, bad_inputs)
    names = {k: str(v) for k, v in bad_inputs.items()}
    argv = [a.format(out=out, **names) for a in row.args]
    inputs_root = bad_inputs["root"]
    before_in, before_out = tree_digest(inputs_root), tree_digest(out)
    if row.fault == "full-disk":
        from engine import fileio

        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(fileio.os, "fsync", full)
    for k, v in row.env.items():
        monkeypatch.setenv(k, v)
    code, err = run_cli(row.cli, argv, capfd)
    prog = "poseeditor-render" if row.cli == R else "poseeditor-train"
    check_one_line(prog, code, err, row.match)
    assert tree_digest(inputs_root) == before_in, "an input changed"
    if not row.writes:
        assert tree_digest(out) == before_out, "the failed command left files behind"
