"""Rows of the bad-input table run as real processes, where in-process runs would hide what matters: native
libraries writing to file descriptor 2 (mediapipe's TensorFlow Lite and absl notices come from its graph threads
at any moment until the graph closes), an endless pipe, a real full disk."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.bad_inputs.helpers import ROOT, check_one_line, tree_digest

ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
ENV.pop("POSEEDITOR_DEBUG", None)


def run(module: str, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=timeout, cwd=ROOT)


def render(*args):
    return run("engine.cli_render", *args)


def check(proc, prog, match):
    check_one_line(prog, proc.returncode, proc.stderr, match)


def test_nobody_in_the_source_is_one_line_without_tflite_notices(bad_inputs, tmp_path):
    before = tree_digest(bad_inputs["root"])
    proc = render("--source", bad_inputs["noise"], "--pose-out", tmp_path / "p.json")
    check(proc, "poseeditor-render", "no person found")
    assert not (tmp_path / "p.json").exists()
    assert tree_digest(bad_inputs["root"]) == before


def test_nobody_in_the_target_photo_is_one_line(bad_inputs, tmp_path):
    # the source's landmarks are projected (absl warns about IMAGE_DIMENSIONS) before the target is refused
    proc = render("--source", bad_inputs["photo"], "--source-pose", bad_inputs["pose"], "--target",
                  bad_inputs["noise"], "-o", tmp_path / "o.png")
    check(proc, "poseeditor-render", "noise.png: no person found")
    assert list(tmp_path.iterdir()) == []


def test_a_render_that_works_prints_nothing_on_stderr(bad_inputs, tmp_path):
    proc = render("--source", bad_inputs["photo"], "--source-pose", bad_inputs["pose"], "--target",
                  bad_inputs["pose"], "-o", tmp_path / "o.png")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert (tmp_path / "o.png").stat().st_size > 1000


def test_output_onto_the_source_photo_refuses_and_keeps_it(bad_inputs, tmp_path):
    photo = tmp_path / "photo.png"
    shutil.copy(bad_inputs["photo"], photo)
    before = photo.read_bytes()
    proc = render("--source", photo, "--source-pose", bad_inputs["pose"], "--target", bad_inputs["pose"],
                  "-o", photo)
    check(proc, "poseeditor-render", "overwrite an input")
    assert photo.read_bytes() == before


def test_an_endless_pipe_as_target_stops_at_the_bound(bad_inputs, tmp_path):
    fifo = tmp_path / "endless.json"
    os.mkfifo(fifo)

    def feed():
        try:
            with open(fifo, "wb") as f:
                while True:
                    f.write(b" " * 65536)
        except (BrokenPipeError, OSError):
            pass
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = render("--source", bad_inputs["photo"], "--source-pose", bad_inputs["pose"], "--target", fifo,
                  "-o", tmp_path / "o.png")
    writer.join(10)
    check(proc, "poseeditor-render", "larger than 16 MB")
    assert not writer.is_alive()


def test_dev_zero_as_a_source_pose_stops_at_the_bound(bad_inputs, tmp_path):
    proc = render("--source", bad_inputs["photo"], "--source-pose", "/dev/zero", "--pose-out", tmp_path / "p.json")
    check(proc, "poseeditor-render", "larger than 16 MB")


def _mount_tmpfs(mnt: Path, options: str) -> None:
    """A small tmpfs at ``mnt``: needs root and mount (skipped elsewhere; root passes every permission check,
    so a real full or read-only file system is the only way to test those as root)."""
    mnt.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a small tmpfs")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")


@pytest.fixture
def full_disk(tmp_path):
    """A 64 kB file system that is already full."""
    mnt = tmp_path / "full"
    _mount_tmpfs(mnt, "size=64k")
    try:
        with open(mnt / "filler", "wb") as f:
            try:
                f.write(b"\0" * 60_000)
            except OSError:
                pass
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.fixture
def read_only_folder(tmp_path):
    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "size=64k,ro")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_read_only_folder_is_refused_before_any_work(bad_inputs, read_only_folder):
    proc = render("--source", bad_inputs["photo"], "--source-pose", bad_inputs["pose"], "--target",
                  bad_inputs["pose"], "-o", read_only_folder / "o.png")
    check(proc, "poseeditor-render", "not writable")
    proc = run("training.cli", "synth", "-o", read_only_folder / "ds", "--identities", "1",
               "--poses-per-identity", "2")
    check(proc, "poseeditor-train", "not writable")
    assert list(read_only_folder.iterdir()) == []


def test_a_real_full_disk_is_one_line_and_leaves_no_part_file(bad_inputs, full_disk):
    proc = render("--source", bad_inputs["photo"], "--source-pose", bad_inputs["pose"], "--target",
                  bad_inputs["pose"], "-o", full_disk / "o.png")
    check(proc, "poseeditor-render", "disk is full")
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_prepare_with_nobody_is_one_line_without_tflite_notices(bad_inputs, tmp_path):
    proc = run("training.cli", "prepare", bad_inputs["nobody"], "-o", tmp_path / "ds", "--size", "64x32")
    check(proc, "poseeditor-train", "no person found in any of its 1 photos")
    assert not list(Path(tmp_path / "ds" / "images").glob("*.png"))


def test_import_of_a_pickle_that_runs_code_is_one_line(bad_inputs, tmp_path):
    proc = run("training.cli", "import-weights", bad_inputs["w_evil"], "--backend", "dgan", "-o",
               tmp_path / "o.safetensors")
    check(proc, "poseeditor-train", "never unpickled")
    assert "pwned" not in proc.stdout + proc.stderr
    assert list(tmp_path.iterdir()) == []
