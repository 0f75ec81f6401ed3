"""The weights library without Qt: listing, renaming (label and file name), deleting, importing good, foreign
and pickled files, exporting, and that a renamed file still loads into its backend."""
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import WeightsError
from engine.weights import WeightsMeta, load_weights, read_meta, save_weights
from poseeditor import weights_library as lib


def tiny_attention(path, label="tiny", data="my-video", half=False):
    """Real weights of a real (tiny) attention network."""
    from engine.backends.attention import AttentionBackend

    cfg = dict(AttentionBackend.default_config, image_size=[64, 32], width=0.25)
    net = AttentionBackend.build_network(cfg)
    sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in net.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # the user's weights folder exists once something is saved
    save_weights(path, sd, WeightsMeta("attention", net.config, (64, 32), {"data": data, "steps": 3}, label))
    return path


@pytest.fixture
def dirs(tmp_path):
    mine, starters = tmp_path / "weights", tmp_path / "starters"
    mine.mkdir()
    starters.mkdir()
    return mine, starters


def test_list_shows_user_files_then_starters(dirs):
    mine, starters = dirs
    tiny_attention(mine / "anna.safetensors", "Anna, 10 min", "anna-photos")
    tiny_attention(starters / "attention.safetensors", "starter", "synthetic")
    (mine / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    (mine / "notes.txt").write_text("not weights")
    entries = lib.list_weights(mine, starters)
    names = [(e.name, e.starter) for e in entries]
    assert ("anna", False) in names and ("broken", False) in names and names[-1] == ("attention", True)
    assert len(entries) == 3  # the .txt is not listed
    anna = next(e for e in entries if e.name == "anna")
    assert (anna.backend, anna.label, anna.image_size, anna.data) == ("attention", "Anna, 10 min", (64, 32),
                                                                       "anna-photos")
    assert anna.created and anna.file_size == (mine / "anna.safetensors").stat().st_size and not anna.error
    broken = next(e for e in entries if e.name == "broken")
    assert broken.meta is None and "not a safetensors file" in broken.error
    # a starter whose file keeps no "data" (exported from a checkpoint, as dgan's) learnt synthetic people all the
    # same; a user's file without it says nothing
    tiny_attention(starters / "dgan.safetensors", "starter", None)
    tiny_attention(mine / "nodata.safetensors", "mine", None)
    entries = {(e.name, e.starter): e for e in lib.list_weights(mine, starters)}
    assert entries[("dgan", True)].data == "synthetic people" and entries[("nodata", False)].data == ""


def test_rename_label_keeps_tensors_and_loads(dirs):
    mine, starters = dirs
    p = tiny_attention(mine / "a.safetensors", "old label", half=True)
    before, meta0 = load_weights(p)
    new = lib.rename(p, label="Anna on the beach", new_name="anna beach", starters=starters)
    assert new == mine / "anna beach.safetensors" and new.is_file() and not p.exists()
    after, meta = load_weights(new)
    assert meta.label == "Anna on the beach" and meta.created == meta0.created and meta.config == meta0.config
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    # the safetensors header stays 8-byte aligned, and the engine loads the file into its backend
    n = struct.unpack("<Q", new.read_bytes()[:8])[0]
    assert n % 8 == 0
    from engine.runtime import Engine

    eng = Engine("attention", device="cpu", weights=new)
    assert eng.backend.weights_info.label == "Anna on the beach"
    # file name only, then label only
    p2 = lib.rename(new, new_name="anna", starters=starters)
    assert p2.name == "anna.safetensors" and read_meta(p2).label == "Anna on the beach"
    p3 = lib.rename(p2, label="Anna", starters=starters)
    assert p3 == p2 and read_meta(p3).label == "Anna"
    tiny_attention(mine / "bob.safetensors")
    with pytest.raises(lib.WeightsLibraryError, match="already exists"):
        lib.rename(p3, new_name="bob", starters=starters)


def test_starters_are_read_only(dirs):
    mine, starters = dirs
    s = tiny_attention(starters / "attention.safetensors")
    with pytest.raises(lib.WeightsLibraryError, match="starter weights"):
        lib.rename(s, label="mine now", starters=starters)
    with pytest.raises(lib.WeightsLibraryError, match="starter weights"):
        lib.delete(s, starters=starters)
    assert s.is_file() and read_meta(s).label == "tiny"


def test_delete(dirs):
    mine, starters = dirs
    p = tiny_attention(mine / "x.safetensors")
    lib.delete(p, starters=starters)
    assert not p.exists()
    with pytest.raises(lib.WeightsLibraryError, match="no such"):
        lib.delete(p, starters=starters)


def test_import_good_foreign_and_pickle(dirs, tmp_path):
    mine, _ = dirs
    good = tiny_attention(tmp_path / "download.safetensors", "from a friend")
    dest = lib.import_file(good, mine)
    assert dest == mine / "download.safetensors" and read_meta(dest).label == "from a friend"
    dest2 = lib.import_file(good, mine)  # a second copy does not overwrite the first
    assert dest2 == mine / "download-2.safetensors"
    with pytest.raises(lib.WeightsLibraryError, match="already in"):
        lib.import_file(dest, mine)

    pickled = tmp_path / "netG.pth"
    torch.save({"w": torch.zeros(2)}, pickled)
    with pytest.raises(WeightsError, match="pickle.*import-weights"):
        lib.import_file(pickled, mine)
    assert lib.looks_foreign(pickled)
    cmd = lib.importer_command(pickled, "dgan", mine / "netG.safetensors")
    assert cmd[1:5] == ["-m", "training.cli", "import-weights", str(pickled)] and "--backend" in cmd

    from safetensors.numpy import save_file

    bare = tmp_path / "someone-elses.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(bare))
    with pytest.raises(WeightsError, match="without PoseEditor metadata"):
        lib.import_file(bare, mine)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello")
    with pytest.raises(WeightsError, match="empty or truncated"):
        lib.import_file(junk, mine)
    assert sorted(p.name for p in mine.iterdir()) == ["download-2.safetensors", "download.safetensors"]


def test_export(dirs, tmp_path):
    mine, _ = dirs
    p = tiny_attention(mine / "anna.safetensors")
    out = tmp_path / "usb"
    out.mkdir()
    got = lib.export_file(p, out)
    assert got == out / "anna.safetensors" and got.read_bytes() == p.read_bytes()
    got2 = lib.export_file(p, out / "for-bob")
    assert got2.name == "for-bob.safetensors" and read_meta(got2).backend == "attention"
    with pytest.raises(lib.WeightsLibraryError, match="itself"):
        lib.export_file(p, mine)


def test_names():
    assert lib.safe_name("  Anna / beach.safetensors ") == "Anna - beach"
    assert lib.safe_name("../..") == ""
    assert lib.human_size(2_500_000) == "2.5 MB" and lib.human_size(12) == "12 bytes"


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_the_weights_file_and_the_dataset_folder_spell_a_name_by_one_accent_rule(monkeypatch, encoding):
    """training.names.plain_if_unwritable is the one rule: where the file system cannot write the letters, the
    weights file (safe_name) and the dataset folder (slug) both drop the accents, else both keep them."""
    import sys

    from training import names

    assert lib.plain_if_unwritable is names.plain_if_unwritable and not hasattr(lib, "_encodable")
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: encoding)
    for name, utf8, ascii_ in [("Émile Zoë", "Émile Zoë", "Emile Zoe"), ("phötö", "phötö", "photo")]:
        want = utf8 if encoding == "utf-8" else ascii_
        assert lib.safe_name(name) == want and names.slug(name) == want.replace(" ", "-")


def test_starter_label_reads_the_header_again_only_when_the_file_changed(tmp_path, monkeypatch):
    """The engine panel names the starter weights whenever it refills: the header is read on the UI thread."""
    reads = []
    real = lib.read_meta
    monkeypatch.setattr(lib, "read_meta", lambda p: (reads.append(p), real(p))[1])
    p = tiny_attention(tmp_path / "starter.safetensors", data="synth-256x128")
    assert lib.starter_label(p) == lib.starter_label(p) == "starter weights (synthetic people)"
    assert len(reads) == 1
    tiny_attention(p, data="prior-256x128")                   # replaced: read again
    assert lib.starter_label(p) == "starter weights (synthetic people, then real photos)" and len(reads) == 2
