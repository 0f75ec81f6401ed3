"""Crafted inputs that once cost gigabytes, hung, crashed or printed more than one line, each met the way a user
meets it (the real poseeditor-render, real files): a refiner tensor asking for a huge network, an image whose
header claims more pixels than any camera makes, a pipe named like a photo, a canvas size beyond any float,
weights settings and dtypes no network can use, an unreadable file in the weights library, a damaged TIFF, and
outputs that must not be replaced when an input is bad."""
from __future__ import annotations

import builtins
import errno
import json
import os
import struct
import subprocess
import sys
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli_render import main
from engine.errors import ImageReadError, WeightsError
from engine.weights import WeightsMeta, read_meta, save_weights

RENDER = Path(sys.executable).with_name("poseeditor-render")


# ----- helpers ----------------------------------------------------------------------------------------------------
def dgan_weights(path: Path, config: dict | None = None, extra: dict | None = None, cast=None) -> Path:
    """Real weights of a real tiny DGAN network, with ``config`` in their metadata, ``extra`` tensors added and
    ``cast`` applied to every tensor."""
    from engine.backends.dgan import DganBackend

    size = [64, 32]
    net = DganBackend.build_network(dict(DganBackend.default_config, image_size=size, width=0.0625))
    tensors = {k: v.clone() for k, v in net.state_dict().items()}
    if cast is not None:
        tensors = {k: cast(v) for k, v in tensors.items()}
    tensors.update(extra or {})
    cfg = dict(net.config, **(config or {}))
    return save_weights(path, tensors, WeightsMeta("dgan", cfg, tuple(size), label="test"))


def render_cli(*args, cwd: Path, timeout: float = 300) -> tuple[int, str, str, float]:
    """(exit status, stdout, stderr, peak memory in MB) of the real poseeditor-render; killed after ``timeout``
    seconds (then the status is the signal's)."""
    out, err = cwd / "cli.out", cwd / "cli.err"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([str(RENDER), *map(str, args)], stdout=o, stderr=e, cwd=cwd, env=env)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(p.pid, 0)  # the child's own peak memory, which communicate() would not give
    finally:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out.read_text(), err.read_text(), usage.ru_maxrss / 1024


def one_error_line(status: int, err: str, *words: str) -> str:
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("poseeditor-render: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def cli(argv, capsys) -> tuple[int, str]:
    """engine.cli_render.main in this process: (exit status, stderr)."""
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return status, err


@pytest.fixture
def unreadable(monkeypatch):
    """Make a file unreadable as it is for a user who may not read it: mode 000, and when the tests run as root
    (who reads anyway) open() of it fails as the kernel fails it for anyone else."""
    locked: set[str] = set()

    def refusing(real):  # builtins.open and os.open alike
        def fake_open(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) in locked:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real(file, *args, **kwargs)
        return fake_open

    def lock(path: Path) -> Path:
        path.chmod(0)
        if os.geteuid() == 0:
            locked.add(os.path.abspath(path))
            monkeypatch.setattr(builtins, "open", refusing(builtins.open))
            monkeypatch.setattr(os, "open", refusing(os.open))
        return path

    yield lock


def png_bomb(path: Path, w: int, h: int) -> Path:
    """A valid PNG of w x h black RGB pixels: zeros compress about 1000 to 1, so it is small on disk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = b"\0" * (w * 3 + 1)
    data = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


# ----- weights ----------------------------------------------------------------------------------------------------
def test_a_refiner_tensor_asking_for_a_huge_network_is_refused_before_it_is_built(tmp_path, person):
    """3 KB more than a valid file made the loader build a 3000-channel refiner (5.3 GB) before it said no."""
    photo, pose = person
    peaks = {}
    for channels in (3, 1500):  # 1500 would be 1.2 GB built; 3 is refused at the same place for nothing
        w = dgan_weights(tmp_path / f"r{channels}.safetensors",
                         extra={"refiner.inp.weight": torch.zeros(channels, dtype=torch.uint8)})
        status, _, err, peaks[channels] = render_cli("--source", photo, "--target", pose, "--backend", "dgan",
                                                      "--weights", w, "-o", tmp_path / "out.png", cwd=tmp_path)
        one_error_line(status, err, "its refiner's tensors do not fit a refiner")
    assert peaks[1500] - peaks[3] < 150, peaks
    assert not (tmp_path / "out.png").exists()


def test_refiner_tensors_that_do_not_fit_are_one_error_and_no_warning(tmp_path):
    from engine.refiner import MAX_CHANNELS, PREFIX, build, from_tensors

    good = {PREFIX + k: v.clone() for k, v in build(8).state_dict().items()}
    assert from_tensors(good, "good") is not None  # a refiner as training saves it still loads
    cases = {
        "zero-size": {PREFIX + "inp.weight": torch.zeros(0)},          # torch warned on stderr building it
        "scalar": {PREFIX + "inp.weight": torch.zeros(())},
        "integers": {k: v.to(torch.int64) for k, v in good.items()},   # loaded as if they were weights
        "missing": {k: v for k, v in good.items() if not k.endswith("out.bias")},
        "extra": dict(good, **{PREFIX + "bogus\nname": torch.zeros(1)}),
        "wrong shape": dict(good, **{PREFIX + "c1.weight": torch.zeros(8, 8, 3, 3)}),
        "too wide": {PREFIX + "inp.weight": torch.zeros(MAX_CHANNELS + 1, 7, 3, 3)},
    }
    for name, tensors in cases.items():
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(WeightsError, match="do not fit a refiner") as e:
                from_tensors(tensors, "w.safetensors")
        assert not seen, (name, [str(w.message) for w in seen])
        assert str(e.value).isprintable(), (name, str(e.value))


def test_weights_settings_out_of_their_range_are_refused_at_load(tmp_path, person, capsys):
    """sigma 1e308 loaded, then the render died of an OverflowError in the heatmaps."""
    from engine.registry import backend_class
    from engine.weights import check_config

    photo, pose = person
    w = dgan_weights(tmp_path / "sigma.safetensors", {"sigma": 1e308})
    status, err = cli(["--source", photo, "--source-pose", pose, "--target", pose, "--backend", "dgan",
                       "--weights", w, "-o", tmp_path / "out.png"], capsys)
    one_error_line(status, err, "refused: sigma 1e+308")
    assert not (tmp_path / "out.png").exists()

    for backend, key, bad in (("dgan", "sigma", 0), ("dgan", "dropout", 5.0), ("spgnet", "kappa", 5.0),
                              ("attention", "pad_value", 3.0), ("pnr", "max_condition", 1.0),
                              ("pnr", "irls_eps", 0.0), ("pnr", "an_unknown_float", 1e300)):
        with pytest.raises(WeightsError, match=f"refused: {key} "):
            check_config(backend_class(backend), {key: bad}, "w.safetensors")
    for backend in ("dgan", "dgan-sa", "spgnet", "attention", "pnr"):  # every shipped configuration passes
        cls = backend_class(backend)
        for config in [cls.default_config, *getattr(cls, "configs", {}).values()]:
            check_config(cls, dict(config), "shipped")


def test_tensors_of_a_dtype_no_network_uses_are_refused_by_name(tmp_path, person):
    """float8 tensors ended in NotImplementedError from the finiteness check."""
    photo, pose = person
    w = dgan_weights(tmp_path / "fp8.safetensors",
                     cast=lambda t: t.to(torch.float8_e4m3fn) if t.is_floating_point() else t)
    status, _, err, _ = render_cli("--source", photo, "--target", pose, "--backend", "dgan", "--weights", w,
                                   "-o", tmp_path / "out.png", cwd=tmp_path)
    one_error_line(status, err, "F8_E4M3", "cannot use")
    with pytest.raises(WeightsError, match="F8_E4M3"):  # the weights library lists it as unusable
        read_meta(w)
    half = dgan_weights(tmp_path / "fp16.safetensors", cast=lambda t: t.half() if t.is_floating_point() else t)
    assert read_meta(half).backend == "dgan"  # fp16, as the starters ship, still loads


def test_an_unreadable_file_in_the_weights_library_is_listed_with_its_reason(tmp_path, unreadable):
    from poseeditor import weights_library as lib

    mine = tmp_path / "weights"
    mine.mkdir()
    dgan_weights(mine / "good.safetensors")
    locked = unreadable(dgan_weights(mine / "locked.safetensors"))
    entries = {e.name: e for e in lib.list_weights(mine, tmp_path / "no-starters")}
    assert set(entries) == {"good", "locked"}
    assert entries["good"].backend == "dgan" and not entries["good"].error
    assert entries["locked"].meta is None and "cannot read" in entries["locked"].error
    assert "denied" in entries["locked"].error.lower()
    with pytest.raises(WeightsError, match="cannot read the weights file"):
        read_meta(locked)


def test_saved_weights_follow_the_umask_like_any_file(tmp_path):
    old = os.umask(0o022)
    try:
        assert (dgan_weights(tmp_path / "a.safetensors").stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        assert (dgan_weights(tmp_path / "b.safetensors").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)


def test_the_advice_for_a_pickle_names_a_command_that_can_read_it(tmp_path, person, capsys):
    """A pickle named .safetensors: the render refuses it and names the import command, which reads it as what it
    is (by its first bytes; it went by the suffix and called it a damaged safetensors file)."""
    from training.importers import read_foreign

    photo, pose = person
    pickled = tmp_path / "mine.safetensors"
    torch.save({"w": torch.ones(3)}, pickled)
    status, err = cli(["--source", photo, "--target", pose, "--backend", "dgan", "--weights", pickled,
                       "-o", tmp_path / "out.png"], capsys)
    line = one_error_line(status, err, "pickle", "import-weights mine.safetensors")
    assert set(read_foreign(pickled)) == {"w"}, line


# ----- photos -----------------------------------------------------------------------------------------------------
def test_an_image_claiming_more_pixels_than_any_camera_is_refused_before_decoding(tmp_path):
    """A 1 MB PNG of 20000 x 20000 took 3.5 GB and 11 s before "no person found"."""
    from engine.images import MAX_DECODE_PIXELS, MAX_SIDE, load_image

    bomb = png_bomb(tmp_path / "bomb.png", 15000, 14000)  # 210 MP, 0.6 MB on disk
    assert 15000 * 14000 > MAX_DECODE_PIXELS
    (tmp_path / "text.png").write_text("not an image")  # refused at the same place, for nothing
    peaks = {}
    for name in ("text.png", "bomb.png"):
        status, _, err, peaks[name] = render_cli("--source", name, "--pose-out", "p.json", cwd=tmp_path)
        assert status == 2
    assert peaks["bomb.png"] - peaks["text.png"] < 150, peaks
    one_error_line(status, err, "15000x14000", f"{MAX_DECODE_PIXELS // 1_000_000} MP")
    assert bomb.stat().st_size < 1_000_000 and not (tmp_path / "p.json").exists()

    # a large picture under the limit still opens: reduced first, then turned upright by its EXIF
    img = np.zeros((2500, 6000, 3), np.uint8)
    img[:, :300] = 255  # a white band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(tmp_path / "wide.png", exif=exif)
    out = load_image(tmp_path / "wide.png")
    assert out.shape[:2] == (MAX_SIDE, round(2500 * MAX_SIDE / 6000))  # displayed upright: portrait
    assert out[:150].mean() > 200 and out[-150:].mean() < 50          # the band is now at the top


def test_a_pipe_named_like_a_photo_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "f.jpg")  # opening it for reading waits for a writer forever
    status, _, err, _ = render_cli("--source", "f.jpg", "--pose-out", "p.json", cwd=tmp_path, timeout=60)
    one_error_line(status, err, "f.jpg: is a pipe, socket or device, not an image")


def test_a_photo_that_cannot_be_read_says_so(tmp_path, person, unreadable, capsys):
    photo, _ = person
    locked = tmp_path / "locked.png"
    locked.write_bytes(photo.read_bytes())
    unreadable(locked)
    status, err = cli(["--source", locked, "--pose-out", tmp_path / "p.json"], capsys)
    line = one_error_line(status, err, "cannot read the image", "Permission denied")
    assert "damaged" not in line


def test_damaged_tiffs_say_one_line_not_libtiffs_or_pillows_too(tmp_path):
    """libtiff printed "tempfile.tif: Using code not yet in table." and Pillow a UserWarning before the error."""
    from engine.images import load_image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "lzw.tif",
                                                                             compression="tiff_lzw")
    raw = bytearray((tmp_path / "lzw.tif").read_bytes())
    strip = Image.open(tmp_path / "lzw.tif").tag_v2[273][0]
    raw[strip + 10:strip + 12] = b"\xff\xff"  # LZW codes the table does not hold yet
    (tmp_path / "lzw.tif").write_bytes(bytes(raw))

    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(tmp_path / "tags.tif", tiffinfo={270: "d" * 100})
    raw = bytearray((tmp_path / "tags.tif").read_bytes())
    ifd = struct.unpack("<I", raw[4:8])[0]
    for i in range(struct.unpack("<H", raw[ifd:ifd + 2])[0]):
        at = ifd + 2 + 12 * i
        if struct.unpack("<H", raw[at:at + 2])[0] == 270:  # the description's text, pointed past the file's end
            raw[at + 8:at + 12] = struct.pack("<I", len(raw) + 1000)
    (tmp_path / "tags.tif").write_bytes(bytes(raw))

    for name in ("lzw.tif", "tags.tif"):
        status, _, err, _ = render_cli("--source", name, "--pose-out", "p.json", cwd=tmp_path)
        one_error_line(status, err, name)
        with pytest.raises(ImageReadError):
            load_image(tmp_path / name)


# ----- poses and outputs --------------------------------------------------------------------------------------------
def test_a_canvas_size_beyond_any_float_is_a_pose_format_error(tmp_path, person, capsys):
    """canvas_width 10**20 ended in "TypeError: ufunc 'isfinite' not supported"."""
    photo, pose = person
    data = json.loads(pose.read_text())
    for key, value in (("canvas_width", 10 ** 20), ("canvas_height", 2 ** 64), ("canvas_width", 10 ** 4000)):
        big = tmp_path / "big.json"
        big.write_text(json.dumps(dict(data, **{key: value})))
        for argv in (["--target", big], ["--source-pose", big, "--target", pose]):
            status, err = cli(["--source", photo, *argv, "-o", tmp_path / "out.png"], capsys)
            line = one_error_line(status, err, key, "a canvas side must be 1..65536")
            assert len(line) < 300
    assert not (tmp_path / "out.png").exists()


def test_a_bad_target_leaves_the_pose_file_as_it_was(tmp_path, person, capsys):
    """--pose-out was written from the source before the target was read, then the target was refused."""
    photo, pose = person
    keep = tmp_path / "keep.json"
    keep.write_text('{"people": [], "note": "the user\'s own file"}')
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    before = keep.read_bytes()
    status, err = cli(["--source", photo, "--source-pose", pose, "--pose-out", keep, "--target",
                       tmp_path / "one.png", "-o", tmp_path / "out.png"], capsys)
    one_error_line(status, err, "one.png", "too small")
    assert keep.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json", "one.png"]
