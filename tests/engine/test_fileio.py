"""engine.fileio: outputs are checked before work, written whole or not at all, and never onto an input."""
import errno
import os
from pathlib import Path

import pytest

from engine import fileio
from engine.errors import PoseEditorError


def test_refuses_to_overwrite_an_input_even_by_another_spelling(tmp_path):
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"the user's photo")
    (tmp_path / "sub").mkdir()
    for out in (src, tmp_path / "sub" / ".." / "photo.jpg"):
        with pytest.raises(PoseEditorError, match="overwrite an input"):
            fileio.check_output(out, inputs=[src])
    link = tmp_path / "link.jpg"
    link.symlink_to(src)
    with pytest.raises(PoseEditorError, match="overwrite an input"):
        fileio.check_output(link, inputs=[src])
    assert src.read_bytes() == b"the user's photo"


@pytest.mark.parametrize("case", ["missing folder", "under a file", "a folder"])
def test_unwritable_destinations_are_one_line(tmp_path, case):
    (tmp_path / "f").write_text("x")
    out = {"missing folder": tmp_path / "nope" / "o.png", "under a file": tmp_path / "f" / "o.png",
           "a folder": tmp_path}[case]
    with pytest.raises(fileio.OutputError) as e:
        fileio.check_output(out)
    assert "\n" not in str(e.value) and str(out) in str(e.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(fileio.OutputError, match="not writable"):
        fileio.check_output(ro / "o.png")


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path):
    out = tmp_path / "o.txt"
    fileio.atomic_write_text(out, "first")
    with pytest.raises(RuntimeError):
        with fileio.atomic_output(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert out.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.txt"]  # no stray temporary file


def test_full_disk_becomes_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "o.bin"
    with pytest.raises(fileio.OutputError, match="disk is full"):
        with fileio.atomic_output(out) as tmp:
            tmp.write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_reading_an_endless_input_stops_at_the_bound():
    with pytest.raises(PoseEditorError, match="larger than 1 MB"):
        fileio.read_bounded("/dev/zero", limit=2 ** 20)


def test_a_bad_byte_is_reported_with_its_line(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("from,to\na.png,b.png\ncaf\u00e9.png,c.png\n".encode("latin-1"))
    with pytest.raises(PoseEditorError, match=r"a.csv: line 3: not UTF-8 text \(byte 0xe9\)"):
        list(fileio.text_lines(p))
    with pytest.raises(PoseEditorError, match=r"line 3: not UTF-8"):
        fileio.read_text(p)
    lines = fileio.text_lines(p, max_line=64)
    assert [next(lines), next(lines)] == [(1, "from,to"), (2, "a.png,b.png")]  # the good lines before it
    long = tmp_path / "long.csv"
    long.write_bytes(b"x" * 5000)
    with pytest.raises(PoseEditorError, match="line 1: longer than"):
        list(fileio.text_lines(long, max_line=4096))


def test_output_folders_never_hold_or_sit_inside_an_input(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"x")
    for out in (photos, photos / "ds", tmp_path):
        with pytest.raises(fileio.OutputError, match="inside the input"):
            fileio.check_output_folder(out, [photos])
    assert fileio.check_output_folder(tmp_path / "new" / "ds", [photos]) == tmp_path / "new" / "ds"
    (tmp_path / "f").write_text("x")
    with pytest.raises(fileio.OutputError, match="is a file"):
        fileio.check_output_folder(tmp_path / "f" / "ds")


def test_two_outputs_may_not_name_one_file(tmp_path):
    with pytest.raises(fileio.OutputError, match="both the pose file and the image"):
        fileio.check_outputs({"pose file": tmp_path / "x", "image": tmp_path / "." / "x"})


@pytest.mark.parametrize("name", ["x\ud800.jpg", "x\0.jpg"], ids=["lone surrogate", "NUL byte"])
def test_a_name_the_system_cannot_take_is_one_printable_line(name):
    """A lone surrogate (a damaged session's photo) cannot be encoded for the system; a NUL byte ends a C string.
    Every reader says so in one line that prints (the name shown by its repr), not with a ValueError."""
    for read in (fileio.check_input, fileio.read_bounded, fileio.read_text, lambda p: list(fileio.text_lines(p))):
        with pytest.raises(PoseEditorError) as e:
            read(name)
        said = str(e.value)
        assert said.endswith(": not a usable file name") and "\n" not in said
        said.encode("utf-8")  # printable as it is: no lone surrogate in the message


def test_check_input_says_what_the_path_is(tmp_path):
    os.mkfifo(tmp_path / "f.jpg")
    (tmp_path / "d").mkdir()
    (tmp_path / "ok.jpg").write_bytes(b"x")
    said = {}
    for name, kw in [("none.jpg", {}), ("d", {}), ("f.jpg", {}), ("/dev/null", {}),
                     ("none.jpg", {"folder": True}), ("f.jpg", {"folder": True})]:
        with pytest.raises(PoseEditorError) as e:
            fileio.check_input(tmp_path / name, what="image", **kw)
        said[name, bool(kw)] = str(e.value).removeprefix(str(tmp_path / name) + ": ")
    assert said == {("none.jpg", False): "no such file", ("d", False): "is a folder, not an image",
                    ("f.jpg", False): "is a pipe, socket or device, not an image",
                    ("/dev/null", False): "is a pipe, socket or device, not an image",
                    ("none.jpg", True): "no such file or folder",
                    ("f.jpg", True): "is a pipe, socket or device, not an image"}
    assert fileio.check_input(tmp_path / "d", folder=True) == tmp_path / "d"
    assert fileio.check_input(str(tmp_path / "ok.jpg")) == tmp_path / "ok.jpg"
    assert fileio.check_input("/dev/null", regular=False) == Path("/dev/null")


def test_the_readers_messages_say_an_before_a_vowel(tmp_path):
    with pytest.raises(PoseEditorError, match="too large for an image$"):
        fileio.read_bounded("/dev/zero", what="image", limit=2 ** 20)
    long = tmp_path / "long.csv"
    long.write_bytes(b"x" * 5000)
    with pytest.raises(PoseEditorError, match="line 1: longer than 0 MB; not an annotation CSV$"):
        list(fileio.text_lines(long, what="annotation CSV", max_line=4096))
    # a pipe no program writes to reads as empty at once (opened without waiting for a writer)
    os.mkfifo(tmp_path / "ids.csv")
    with pytest.raises(PoseEditorError, match="a pipe nothing was written to, not an identities CSV$"):
        list(fileio.text_lines(tmp_path / "ids.csv", what="identities CSV"))
    with pytest.raises(PoseEditorError, match="a pipe nothing was written to, not an annotation CSV$"):
        fileio.read_bounded(tmp_path / "ids.csv", what="annotation CSV")


def test_a_refused_block_removes_only_the_folder_it_made_and_keeps_work_to_resume(tmp_path):
    from engine.fileio import removed_if_refused

    def refused(folder, **kw):
        with pytest.raises(PoseEditorError):
            with removed_if_refused(folder, **kw):
                (folder / "images").mkdir(parents=True)
                raise PoseEditorError("nobody in the photos")

    refused(tmp_path / "new")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    refused(tmp_path / "old")  # a folder there before is the user's: it stays, with what the block put in it
    assert (tmp_path / "old" / "images").is_dir()
    refused(tmp_path / "kept", keep=lambda f: (f / "images").is_dir())
    assert (tmp_path / "kept").is_dir()
    (tmp_path / "copies").mkdir()
    refused(tmp_path / "with", also=[tmp_path / "copies"])
    assert not (tmp_path / "with").exists() and not (tmp_path / "copies").exists()
    with pytest.raises(KeyboardInterrupt):  # an interrupt leaves its work to resume
        with removed_if_refused(tmp_path / "stopped"):
            (tmp_path / "stopped").mkdir()
            raise KeyboardInterrupt
    assert (tmp_path / "stopped").is_dir()
