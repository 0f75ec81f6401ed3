"""Inputs no CLI row reaches, checked by the one rule of engine.fileio.check_input: the app's weights library and
manager, the personal-training plan and the video reader. A folder says it is a folder (not "no such file"), and a
named pipe is refused before anything opens it: opening a pipe no program writes to waits forever, which on the
weights manager's thread would hang the app.

Code that would wait on a pipe runs under ``released_after``: a test of it ends either way.
"""
from __future__ import annotations

import contextlib
import os
import threading

import pytest

from engine.errors import DatasetError
from poseeditor import weights_library as lib
from training import protocol as P


@contextlib.contextmanager
def released_after(fifo, seconds: float = 5.0):
    """While the block runs, a reader found waiting in open() of ``fifo`` is let go every ``seconds`` (opening the
    pipe to write lets that open return; with no writer left its read ends at once). Yields a list that holds an
    entry for every reader that had to be let go: a check that came first leaves it empty."""
    released, done = [], threading.Event()

    def watch():
        while not done.wait(seconds):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader waits
                continue
            os.close(fd)
            released.append(True)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        yield released
    finally:
        done.set()
        t.join()


def test_looks_foreign_refuses_a_pipe_before_opening_it(tmp_path):
    fifo = tmp_path / "w.pth"  # a suffix the importer converts: a pipe is never offered to it
    os.mkfifo(fifo)
    with released_after(fifo) as released:
        assert lib.looks_foreign(fifo) is False
    assert released == [], "looks_foreign waited in open() of a pipe"
    assert lib.looks_foreign(tmp_path / "none.pth") is False  # nothing to convert
    (tmp_path / "d.pth").mkdir()
    assert lib.looks_foreign(tmp_path / "d.pth") is False
    (tmp_path / "real.pth").write_bytes(b"\x80\x02}q\x00.")
    assert lib.looks_foreign(tmp_path / "real.pth") is True


@pytest.fixture(scope="session")
def qapp():
    from poseeditor.app import make_app

    return make_app(["poseeditor-tests"])


@pytest.mark.parametrize("kind", ["pipe", "missing"])
def test_the_weights_manager_says_why_and_converts_nothing(qtbot, tmp_path, monkeypatch, kind):
    """Import of a pipe or of a missing file named like PyTorch weights: the reason is shown at once, the UI thread
    never waits on the pipe, and no importer process is started on it."""
    from poseeditor.weights_manager import WeightsManagerDialog

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "starters").mkdir()
    d = WeightsManagerDialog(None, tmp_path / "mine", tmp_path / "starters")
    qtbot.addWidget(d)
    given = tmp_path / "w.pth"
    if kind == "pipe":
        os.mkfifo(given)
    with released_after(given) as released:
        assert d.import_path(given, backend="dgan") is None
    assert released == [], "the weights manager waited in open() of a pipe"
    assert d._proc is None, "an importer was started"
    said = {"pipe": "w.pth: is a pipe, socket or device, not a .safetensors weights file",
            "missing": "w.pth: no such file"}[kind]
    assert d.last_message.endswith(said) and "\n" not in d.last_message
    assert list((tmp_path / "mine").iterdir()) == []


def test_the_library_says_a_folder_or_a_pipe_is_not_a_weights_file(tmp_path):
    (tmp_path / "d.safetensors").mkdir()
    os.mkfifo(tmp_path / "f.safetensors")
    (tmp_path / "out").mkdir()
    for name, said in (("d.safetensors", "is a folder, not a weights file"),
                       ("f.safetensors", "is a pipe, socket or device, not a weights file"),
                       ("none.safetensors", "no such file")):
        path = tmp_path / name
        for act in (lambda: lib.rename(path, label="x", starters=tmp_path / "starters"),
                    lambda: lib.delete(path, starters=tmp_path / "starters"),
                    lambda: lib.export_file(path, tmp_path / "out")):
            with pytest.raises(lib.WeightsLibraryError) as e:
                act()
            assert str(e.value) == f"{path}: {said}"
    assert (tmp_path / "d.safetensors").is_dir() and list((tmp_path / "out").iterdir()) == []


def test_the_video_reader_says_a_folder_is_not_a_video(tmp_path):
    from training.video import frame_count

    (tmp_path / "clip.mp4").mkdir()
    with pytest.raises(DatasetError, match=r"clip.mp4: is a folder, not a video$"):
        frame_count(tmp_path / "clip.mp4")
    with pytest.raises(DatasetError, match=r"none.mp4: no such file$"):
        frame_count(tmp_path / "none.mp4")


def test_a_damaged_video_read_after_a_video_was_written_says_one_line(tmp_path):
    """FFmpeg's own "moov atom not found" printed before the one-line error whenever the process had written or
    read a video before the video reader was imported (the app's animation export, a test's clip): OpenCV takes
    FFmpeg's log level once, at its first video. In a process of its own: this one's videos came before."""
    import subprocess
    import sys

    (tmp_path / "broken.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"\x13" * 500)
    code = f"""
import engine, cv2, numpy as np
w = cv2.VideoWriter({str(tmp_path / "first.avi")!r}, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
w.write(np.zeros((64, 64, 3), np.uint8)); w.release()
from training.video import frame_count
try:
    frame_count({str(tmp_path / "broken.mp4")!r})
except Exception as e:
    print(type(e).__name__)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "DatasetError" and run.stderr == "", run.stderr


SCRATCH = ((128, 64), None)  # a plan from scratch at this size: no weights read, no backend imported


def test_a_plans_video_or_photo_that_is_a_folder_says_so(tmp_path):
    (tmp_path / "clip.mp4").mkdir()
    (tmp_path / "a.jpg").mkdir()
    os.mkfifo(tmp_path / "b.jpg")
    with pytest.raises(P.PersonalizeError, match=r"clip.mp4: is a folder, not a video$"):
        P.check_plan(P.make_plan("anna", "attention", video=tmp_path / "clip.mp4", scratch=SCRATCH))
    for name, said in (("a.jpg", "is a folder, not a photo"), ("b.jpg", "is a pipe, socket or device, not a photo"),
                       ("none.jpg", "no such file")):
        with pytest.raises(P.PersonalizeError) as e:
            P.check_plan(P.make_plan("anna", "attention", photos=[tmp_path / name] * 2, scratch=SCRATCH))
        assert str(e.value) == f"{tmp_path / name}: {said}"


def test_an_error_from_a_dataloader_worker_is_its_own_last_line():
    # torch re-raises a worker's error with the worker's whole traceback as its message: `fit --workers 1` on a
    # damaged image printed a thousand characters of traceback as its one line
    from engine.errors import error_line

    worker = ("Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
              '  File "training/datasets.py", line 190, in __getitem__\n    raise DatasetError(why)\n'
              "training.datasets.DatasetError: /d/train/a.png: not a readable image\n")
    assert error_line("poseeditor-train", worker) == "poseeditor-train: error: /d/train/a.png: not a readable image"
    assert error_line("p", "x.json: line 2: bad") == "p: error: x.json: line 2: bad"  # others as they are


def test_a_phones_heic_photo_read_as_a_pose_file_is_called_an_image(tmp_path):
    # An ISO media file is a video or, with a HEIF/AVIF brand, a photo: a phone's HEIC was called "a video"
    from engine.errors import PoseFormatError
    from engine.fileio import read_text

    for brand, kind in ((b"heic", "a HEIF or AVIF image"), (b"isom", "a video")):
        f = tmp_path / f"x-{brand.decode()}.json"
        f.write_bytes(b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00\xff\xfe")
        with pytest.raises(PoseFormatError, match=f"is {kind}, not a pose file"):
            read_text(f, PoseFormatError, "pose file")
