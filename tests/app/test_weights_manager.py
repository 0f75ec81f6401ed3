"""The weights manager dialog: what it lists, the read-only starters, rename, delete (confirmed), import of good,
foreign and pickled files (the importer runs as a child process), export, and "Use" loading the file into the
engine panel's backend."""
import torch
from PySide6.QtWidgets import QMessageBox

from engine.weights import read_meta
from poseeditor.weights_manager import COLUMNS, WeightsManagerDialog
from tests.app.driver import close_window, new_window
from tests.app.test_weights_library import tiny_attention


def make_dialog(qtbot, tmp_path):
    mine, starters = tmp_path / "weights", tmp_path / "starters"
    mine.mkdir()
    starters.mkdir()
    tiny_attention(mine / "anna.safetensors", "Anna, 10 min", "anna-photos")
    tiny_attention(starters / "attention.safetensors", "starter attention", "synthetic people")
    d = WeightsManagerDialog(None, mine, starters)
    qtbot.addWidget(d)
    d.show()
    return d, mine, starters


def row_texts(d, row):
    return [d.table.item(row, c).text() for c in range(len(COLUMNS))]


def test_lists_and_protects_starters(qtbot, tmp_path):
    d, mine, starters = make_dialog(qtbot, tmp_path)
    assert d.table.rowCount() == 2
    anna, starter = row_texts(d, 0), row_texts(d, 1)
    col = {c: i for i, c in enumerate(COLUMNS)}
    assert anna[col["Label"]] == "Anna, 10 min" and anna[col["Backend"]] == "attention"
    assert anna[col["Image size"]] == "64×32" and anna[col["Trained on"]] == "Dataset: anna-photos"
    assert anna[col["Created"]][:2] == "20" and "MB" in anna[col["File size"]]
    assert anna[col["File"]] == "anna.safetensors"
    assert anna[col["Kind"]] == "yours" and starter[col["Kind"]] == "starter, read-only"
    # a starter's row says what it is; the file's own label (a line of training details) is in the tooltip
    assert starter[col["Label"]] == "Starter weights, a rough figure"
    assert "starter attention" in d.table.item(1, 0).toolTip()
    assert starter[col["Trained on"]] == "Synthetic people (starter)"
    d.table.selectRow(1)
    assert d.use_btn.isEnabled() and d.export_btn.isEnabled()
    assert not d.rename_btn.isEnabled() and not d.delete_btn.isEnabled()
    assert d.delete_selected(confirm=False) is False
    assert (starters / "attention.safetensors").is_file() and "cannot be deleted" in d.last_message
    d.table.selectRow(0)
    assert d.rename_btn.isEnabled() and d.delete_btn.isEnabled()
    # the file in use is marked
    d.refresh(str(mine / "anna.safetensors"))
    assert d.table.item(0, 0).text().startswith("●") and d.table.item(0, 0).font().bold()


def test_trained_on_says_in_plain_words_what_each_kind_learnt_from(qtbot, tmp_path, monkeypatch):
    """One phrase per kind, read from the weights' metadata (and the dataset a training read, while it is there):
    the folder names it held (synth-256x128, prior-256x128, a person's dataset) said little and differently."""
    import json
    from pathlib import Path

    from safetensors.torch import load_file

    from engine.weights import WeightsMeta, save_weights

    mine, starters = tmp_path / "weights", tmp_path / "starters"
    datasets = tmp_path / "datasets"
    net = read_meta(tiny_attention(tmp_path / "net.safetensors"))
    tensors = load_file(tmp_path / "net.safetensors")

    def weights(folder, name, provenance, label="x"):
        folder.mkdir(parents=True, exist_ok=True)
        save_weights(folder / f"{name}.safetensors", tensors, WeightsMeta("attention", net.config, (64, 32),
                                                                         provenance, label))

    def dataset(name, source):
        (datasets / name).mkdir(parents=True)
        (datasets / name / "dataset.json").write_text(json.dumps({"source": source}))
        return f"poseeditor-train fit --backend attention --data '{datasets / name}' --label x"

    weights(starters, "attention", {"data": "synth-256x128"})
    weights(starters, "dgan", {"steps": 800})                    # exported from a checkpoint: no "data"
    weights(starters, "spgnet", {"data": "prior-256x128"})
    weights(mine, "anna", {"data": "Anna", "command": dataset(
        "Anna", f"self-pairs: {datasets / 'Anna.photos' / 'Anna' / '000-a.png'}")}, label="Anna")
    weights(mine, "dancer", {"data": "dancer", "command": dataset("dancer", "/videos/dance.mp4")}, label="Dancer")
    weights(mine, "authors", {"imported_from": "latest_net_G.pth", "data": "the authors' release"})
    weights(mine, "synth-cli", {"data": "synth-256x128", "command": "poseeditor-train fit --data gone/synth"})
    weights(mine, "gone", {"data": "Bob", "command": "poseeditor-train fit --data /nowhere/datasets/Bob"})
    d = WeightsManagerDialog(None, mine, starters)
    qtbot.addWidget(d)
    col = COLUMNS.index("Trained on")
    said = {e.path.stem + (" (starter)" if e.starter else ""): d.table.item(i, col).text()
            for i, e in enumerate(d.entries)}
    assert said == {
        "attention (starter)": "Synthetic people (starter)",
        "dgan (starter)": "Synthetic people (starter)",
        "spgnet (starter)": "Synthetic people, then real photos (starter)",
        "anna": "Your photos: Anna",
        "dancer": "Video: dance.mp4",
        "authors": "Imported: latest_net_G.pth",
        "synth-cli": "Synthetic people",
        "gone": "Dataset: Bob",                                  # its dataset is gone: the name it kept
    }, said


    # a refill (after every action) reads no header and no dataset.json that has not changed since: each was
    # read on the UI thread, slow on a network folder
    import poseeditor.weights_library as lib

    reads = []
    for name in ("_read_source", "read_meta"):
        real = getattr(lib, name)
        monkeypatch.setattr(lib, name, lambda p, real=real: (reads.append(Path(p).name), real(p))[1])
    d.refresh()
    assert reads == [] and d.table.rowCount() == 8
    (datasets / "dancer" / "dataset.json").write_text(json.dumps({"source": "/videos/dance-2.mp4"}))
    d.refresh()
    assert reads == ["dataset.json"]
    assert d.table.item([e.path.stem for e in d.entries].index("dancer"), col).text() == "Video: dance-2.mp4"
    tensors_file = mine / "anna.safetensors"
    lib.rename(tensors_file, label="Anne")                       # the header rewritten, the same length
    reads.clear()
    d.refresh()
    assert reads == ["anna.safetensors"] and [e.label for e in d.entries if e.path.stem == "anna"] == ["Anne"]


def test_rename_delete_export(qtbot, tmp_path, monkeypatch):
    d, mine, _ = make_dialog(qtbot, tmp_path)
    d.select(mine / "anna.safetensors")
    new = d.rename_selected(label="Anna on the beach", name="anna-beach")
    assert new == mine / "anna-beach.safetensors" and read_meta(new).label == "Anna on the beach"
    assert row_texts(d, 0)[0] == "Anna on the beach" and d.selected().path == new

    out = d.export_selected(tmp_path / "shared")
    assert out == tmp_path / "shared.safetensors" and out.read_bytes() == new.read_bytes()

    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: next(answers))
    assert not d.delete_selected() and new.is_file()  # cancelled
    assert d.delete_selected() and not new.exists()
    assert d.table.rowCount() == 1 and "Deleted" in d.last_message


def test_import_good_bad_and_foreign(qtbot, tmp_path):
    d, mine, _ = make_dialog(qtbot, tmp_path)
    friend = tiny_attention(tmp_path / "from-bob.safetensors", "Bob")
    new = d.import_path(friend)
    assert new == mine / "from-bob.safetensors" and d.selected().path == new and d.table.rowCount() == 3

    junk = tmp_path / "broken.safetensors"
    junk.write_bytes(b"\x00" * 5)
    assert d.import_path(junk) is None and "truncated" in d.last_message and d.table.rowCount() == 3

    # a pickle: refused by read_meta, offered to the importer, which runs in a child process and reports its error
    pickled = tmp_path / "netG.pth"
    torch.save({"not.a.layer": torch.zeros(3)}, pickled)
    assert d.import_path(pickled, backend="attention") is None
    assert d.converting and "Converting netG.pth" in d.last_message and not d.import_btn.isEnabled()
    qtbot.waitUntil(lambda: not d.converting, timeout=60000)
    assert "could not convert" in d.last_message and "netG.pth" in d.last_message, d.last_message
    assert d.table.rowCount() == 3 and not (mine / "netG.safetensors").exists() and d.import_btn.isEnabled()


def test_use_loads_into_the_engine(qtbot, tmp_path):
    from poseeditor.weights_library import user_weights_dir

    path = tiny_attention(user_weights_dir() / "mine.safetensors", "My attention")
    win = new_window(qtbot)
    qtbot.waitUntil(lambda: win.backend_info is not None, timeout=60000)
    d = win.open_weights_manager()
    assert d.isVisible() and "attention" in d.backends
    assert d.select(path)
    d.use_btn.click()
    qtbot.waitUntil(lambda: (win.backend_info or {}).get("weights_path") == str(path), timeout=60000)
    assert win.backend_info["name"] == "attention" and "My attention" in win.engine_panel.weights.text()
    assert win.settings.weights_for("attention") == str(path)
    d.refresh(win.backend_info["weights_path"])
    assert d.table.item(0, 0).text().startswith("● My attention")
    d.close()
    close_window(win)
