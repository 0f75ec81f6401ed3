"""The Train on This Person dialog's words: the name taken from a photo keeps its letters ("phötö 1", not
"ph-t-1"; the weights file's name is made safe apart), its messages are sentences with a capital, and the video
field's hint is not cut off."""
import re
import shutil
import sys

from poseeditor import personalize as P
from poseeditor.train_dialog import TrainContext, TrainDialog
from poseeditor.weights_library import safe_name


def dialog(qtbot, tmp_path, photos):
    ctx = TrainContext([str(p) for p in photos], [("attention", "Attention")], "attention",
                       lambda name: (None, ""), str(tmp_path), {"attention": ((64, 32), 0.25)})
    d = TrainDialog(None, ctx, P.Personalizer(tmp_path / "data"))
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def plain(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html)


def test_the_name_keeps_the_photos_letters_and_the_file_name_is_made_safe_apart(qtbot, tmp_path, procedural_photos,
                                                                                 monkeypatch):
    photo = tmp_path / "phötö 1.png"
    shutil.copyfile(procedural_photos[0][0], photo)
    d = dialog(qtbot, tmp_path, [photo])
    assert d.name.text() == "phötö 1"
    assert "phötö 1.safetensors" in d.plan_text.text() and "“phötö 1”" in d.plan_text.text()
    # a file system whose encoding cannot write the letters gets them without accents; the label keeps them
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")
    assert safe_name("phötö 1") == "photo 1" and safe_name("phötö 1", for_file=False) == "phötö 1"
    assert safe_name("日本") == "weights"


def test_messages_start_with_a_capital_and_the_video_hint_shows_whole(qtbot, tmp_path):
    d = dialog(qtbot, tmp_path, [])  # no photo loaded: a video is the only source
    assert d.src_video.isChecked()
    text = plain(d.plan_text.text())
    assert text.startswith("Choose a video"), text
    # the controller's own message, shown by the dialog
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 64)
    d.video_path.setText(str(video))
    d.name.setText("")
    text = plain(d.plan_text.text())
    assert text[:1].isupper(), text
    # a message that starts with a file's name keeps its spelling
    d.name.setText("Anna")
    qtbot.waitUntil(lambda: not plain(d.plan_text.text()).startswith("Counting"), timeout=10_000)
    assert "clip.mp4" in plain(d.plan_text.text()) and "Clip.mp4" not in plain(d.plan_text.text())
    d.video_path.setText("")
    hint = d.video_path.placeholderText()
    room = d.video_path.width() - 12  # the frame and the text's inset
    assert d.video_path.fontMetrics().horizontalAdvance(hint) <= room, (hint, room)
    assert "minutes" in hint and "a few minutes" in d.video_path.toolTip()


def test_the_plan_reads_as_steps_and_keeps_the_numbers_apart(qtbot, tmp_path, procedural_photos):
    """The review: the plan read as a configuration ("128×64, width 0.25, batches of up to 8 ... 24 pairs unlike
    the training ones"). The steps say what happens in words; the numbers are in a Details line after them."""
    d = dialog(qtbot, tmp_path, [procedural_photos[0][0]])
    steps, details = plain(d.plan_text.text()).split("Details:")
    assert "Train" in steps and "checking how it draws the person" in steps
    assert not any(w in steps for w in ("×", "batches", "width", "unlike the training ones"))
    assert "64×32" in details and "batches of up to" in details and "unlike the training ones" in details
