"""Where files go, on the real window: a drop on the photo panes opens the photo and a drop on the reference strip
adds it (with a highlight saying so while dragging); a photo larger than the working size is exported at its own
size; a session whose photo moved is opened once the user locates it; Open Recent tells files of one name apart."""
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from engine.pose import J
from poseeditor.window_files import recent_labels
from tests.app.driver import close_window, drag_joint, new_window, wait_idle_result, wait_loaded
from tests.app.test_app_frictions import answer_modal


def drag_over(target, paths, pos=None):
    """A drag of ``paths`` entering ``target`` and moving over it (pos: the target's coordinates); the enter
    event, to see whether it was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(pos if pos is not None else target.rect().center())
    with warnings.catch_warnings():  # PySide 6.12 flags the only QDragEnterEvent constructor as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        move = QDragMoveEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    QApplication.sendEvent(target, move)
    return enter, mime, pos


def drop(target, paths, pos=None):
    enter, mime, pos = drag_over(target, paths, pos)
    assert enter.isAccepted()
    QApplication.sendEvent(target, QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                              Qt.KeyboardModifier.NoModifier))


def leave(target):
    QApplication.sendEvent(target, QDragLeaveEvent())


def test_a_drop_on_the_photo_opens_it_and_a_drop_on_the_strip_adds_it(qtbot, procedural_photos):
    person1, person2, person3 = (str(p) for p, _ in procedural_photos[:3])
    win = new_window(qtbot, [person1])
    try:
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        canvas, strip = win.canvas.viewport(), win.strip.list.viewport()
        name3 = Path(person3).name

        # while dragging: the part of the window the drop goes to is highlighted, saying what it will do
        drag_over(canvas, [person3])
        assert win._drop_open.isVisible() and not win._drop_refs.isVisible()
        assert win.drop_highlight() == f"Open {name3}"
        leave(canvas)
        assert not win.drop_highlight()
        drag_over(strip, [person3, person2])
        assert win._drop_refs.isVisible() and not win._drop_open.isVisible()
        assert win.drop_highlight() == "Add 2 reference photos of the same person"
        leave(strip)
        enter, _, _ = drag_over(canvas, [Path(person1).with_suffix(".txt")])  # nothing the window opens
        assert not enter.isAccepted() and not win.drop_highlight()

        # on the strip: a reference of the photo open
        drop(strip, [person3])
        wait_loaded(qtbot, win, 2)
        assert [r.path for r in win.doc.refs] == [person1, person3] and not win.drop_highlight()
        wait_idle_result(qtbot, win)

        # on the photo, with unsaved edits: asked first; cancelled, nothing changes
        drag_joint(qtbot, win, J["l_wrist"], 20, -30)
        wait_idle_result(qtbot, win)
        win.confirm_close = True
        drag_over(canvas, [person2])
        assert "asks to save your edits first" in win.drop_highlight()
        leave(canvas)
        asked = []
        answer_modal(lambda box: (asked.append(box.text()), box.button(QMessageBox.StandardButton.Cancel).click()))
        drop(canvas, [person2])
        qtbot.waitUntil(lambda: bool(asked), timeout=5000)  # asked once the drop has returned
        assert "unsaved edits" in asked[0]
        qtbot.wait(50)
        assert [r.path for r in win.doc.refs] == [person1, person3] and win._opening is None
        # discarded: the dropped photo is opened, alone, for editing
        answer_modal(lambda box: box.button(QMessageBox.StandardButton.Discard).click())
        drop(canvas, [person2])
        qtbot.waitUntil(lambda: [r.path for r in win.doc.refs] == [person2], timeout=30000)
        wait_loaded(qtbot, win)
        win.confirm_close = False

        # several dropped on the result pane: the first is edited, the others are its references (as Open Photos)
        said = []
        win.statusBar().messageChanged.connect(said.append)  # the references' own searches say more after it
        pos = win.result.mapTo(win, win.result.rect().center())
        drag_over(win, [person3, person1], pos)
        assert win.drop_highlight() == f"Open {name3}\nwith 1 more photo as its references"
        drop(win, [person3, person1], pos)
        wait_loaded(qtbot, win, 2)
        assert [r.path for r in win.doc.refs] == [person3, person1]
        qtbot.waitUntil(lambda: any("1 more photo as its references" in t for t in said), timeout=30000)
    finally:
        close_window(win)


def test_a_photo_larger_than_the_working_size_is_exported_at_its_own_size(qtbot, tmp_path, procedural_photos,
                                                                          monkeypatch):
    import cv2

    import engine.images
    from engine.images import load_full_size

    # the working size (4096) stood in for by 1024: the same path through loader, renders and exporter at a
    # sixteenth of the pixels (a 4096 working photo cost this test 30 s; engine/test_detect_render and
    # test_crafted_inputs read real over-4096 photos)
    MAX_SIDE = 1024
    monkeypatch.setattr(engine.images, "MAX_SIDE", MAX_SIDE)

    small = np.asarray(Image.open(procedural_photos[0][0]).convert("RGB"))
    big = cv2.resize(small, (800, 1200), interpolation=cv2.INTER_CUBIC)      # over the working size
    big = np.clip(big.astype(np.int16) + np.random.default_rng(0).integers(-3, 4, big.shape), 0, 255)
    photo = tmp_path / "big.png"
    Image.fromarray(big.astype(np.uint8)).save(photo, compress_level=1)
    win = new_window(qtbot, [photo])
    try:
        wait_loaded(qtbot, win)
        working = win.doc.main.image
        assert max(working.shape[:2]) == MAX_SIDE
        assert win.doc.main.pose.count >= 16     # the person is found (stretched out of shape, they were not)
        wait_idle_result(qtbot, win, timeout=60000)
        drag_joint(qtbot, win, J["r_wrist"], -25, -40)
        res = wait_idle_result(qtbot, win, timeout=60000)
        out = tmp_path / "out.png"
        assert win.save_result(out)
        # written in a thread: the window is back at once, saying it is saving
        assert not out.exists() and "Saving out.png" in win.statusBar().currentMessage()
        qtbot.waitUntil(lambda: win.exporter.pending == 0, timeout=120000)
        assert "at the photo's own size, 800x1200" in win.statusBar().currentMessage()
        saved = np.asarray(Image.open(out).convert("RGB"))
        original = np.asarray(load_full_size(photo))
        assert saved.shape == original.shape == (1200, 800, 3)
        # the edit's region, from the result against the working photo, in the photo's own pixels
        changed = np.abs(res.image.astype(np.int16) - working.astype(np.int16)).max(axis=2) > 2
        ys, xs = np.nonzero(changed)
        k = 800 / working.shape[1]
        margin = 0.013 * MAX_SIDE + 2                                 # grown and feathered (engine.full_size)
        x0, x1 = int((xs.min() - margin) * k), int((xs.max() + 1 + margin) * k) + 1
        y0, y1 = int((ys.min() - margin) * k), int((ys.max() + 1 + margin) * k) + 1
        outside = np.ones(saved.shape[:2], bool)
        outside[max(0, y0):y1, max(0, x0):x1] = False
        assert outside.mean() > 0.5 and np.array_equal(saved[outside], original[outside])
        inside = cv2.resize(changed.astype(np.uint8), (800, 1200), interpolation=cv2.INTER_NEAREST) > 0
        inside = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0      # well inside the edit
        assert inside.sum() > 1000
        assert np.abs(saved[inside].astype(int) - original[inside]).max(axis=1).mean() > 10
    finally:
        close_window(win)


def test_a_session_whose_photos_moved_opens_once_the_photo_is_located(qtbot, tmp_path, procedural_photos):
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    me = shutil.copy(procedural_photos[0][0], shoot / "me.png")
    side = shutil.copy(procedural_photos[1][0], shoot / "side.png")
    session = tmp_path / "me.pose-session.json"
    win = new_window(qtbot, [me, side])
    try:
        wait_loaded(qtbot, win, 2)
        wait_idle_result(qtbot, win)
        drag_joint(qtbot, win, J["l_wrist"], 20, -30)
        wait_idle_result(qtbot, win)
        edited = win.doc.target.copy()
        assert win.save_session(session)
    finally:
        close_window(win)
    shoot.rename(tmp_path / "shoot-2024")                      # the folder renamed: both photos moved

    win = new_window(qtbot)
    try:
        assert not win.open_session(session)
        assert "me.png no longer exists" in win.last_error and win.banner.action.text() == "Locate Photo…"
        assert not win.doc.refs
        # the banner's button asks where it is, starting in the session's folder with the photo's name
        seen = []

        def look(d):
            seen.append((type(d), d.directory().absolutePath(), d.selectedFiles()))
            d.reject()

        answer_modal(look)
        win.banner.action.click()
        assert seen and issubclass(seen[0][0], QFileDialog) and seen[0][1] == str(tmp_path)
        assert seen[0][2] and seen[0][2][0].endswith("me.png")
        # located (as the dialog would answer): the session opens with its poses, the other photo found beside it
        assert win.locate_photo(tmp_path / "shoot-2024" / "me.png")
        wait_loaded(qtbot, win, 2)
        res = wait_idle_result(qtbot, win)
        assert [Path(r.path).name for r in win.doc.refs] == ["me.png", "side.png"]
        assert all("shoot-2024" in r.path for r in win.doc.refs)
        assert win.doc.target == edited and res.pose == edited and win.session_path == session
        assert win.has_unsaved_edits() and "Save the session" in win.banner.message()
        assert win.save_session(session)                       # saved: it names the new place
        assert all("shoot-2024" in r["path"] for r in json.loads(session.read_text())["references"])
    finally:
        close_window(win)

    # a later photo missing: the session opens without it, and locating it adds it with its pose
    (tmp_path / "shoot-2024" / "side.png").rename(tmp_path / "side-renamed.png")
    win = new_window(qtbot)
    try:
        assert win.open_session(session)
        wait_loaded(qtbot, win)
        qtbot.waitUntil(lambda: "missing" in win.last_error, timeout=30000)
        assert "side.png" in win.last_error and win.banner.action.text() == "Locate Photo…"
        assert len(win.doc.refs) == 1
        assert win.locate_photo(tmp_path / "side-renamed.png")
        wait_loaded(qtbot, win, 2)
        assert Path(win.doc.refs[1].path).name == "side-renamed.png" and win.doc.refs[1].pose is not None
        assert win.has_unsaved_edits()
    finally:
        close_window(win)


def test_open_recent_tells_files_of_one_name_apart(qtbot, tmp_path):
    assert recent_labels(["/x/Pictures/2024/portrait.jpg", "/x/Desktop/2024/portrait.jpg", "/x/Pictures/a.jpg"]) == [
        "portrait.jpg — Pictures/2024", "portrait.jpg — Desktop/2024", "a.jpg — Pictures"]
    assert recent_labels(["/a/b/x.jpg", "/c/a/b/x.jpg"]) == ["x.jpg — /a/b", "x.jpg — c/a/b"]
    win = new_window(qtbot)
    try:
        paths = []
        for folder in ("2023", "2024"):
            (tmp_path / folder).mkdir()
            p = tmp_path / folder / "portrait & me.png"
            Image.new("RGB", (64, 64), (90, 120, 150)).save(p)
            win.settings.add_recent(p)
            paths.append(str(p.resolve()))
        win._fill_recent()
        items = [a for a in win.recent_menu.actions() if a.data()]
        assert [a.text() for a in items] == ["&1 portrait && me.png — 2024", "&2 portrait && me.png — 2023"]
        assert [a.toolTip() for a in items] == paths[::-1] and [a.statusTip() for a in items] == paths[::-1]
        assert win.recent_menu.toolTipsVisible()
    finally:
        close_window(win)


def test_a_drag_reads_a_dropped_json_once_and_a_new_drag_reads_it_again(qtbot, tmp_path, monkeypatch):
    """Whether a dragged JSON is a session is read on the UI thread: once for the drag's enters, moves and its
    drop while the file is unchanged, again when it changes, and afresh by the next drag once this one left."""
    import poseeditor.window_drops as drops

    reads = []
    real = drops.is_session_file
    monkeypatch.setattr(drops, "is_session_file", lambda p: (reads.append(Path(p)), real(p))[1])
    pose = tmp_path / "pose.json"
    pose.write_text('{"people": []}')
    win = new_window(qtbot)
    try:
        imported = []
        monkeypatch.setattr(win, "import_pose", imported.append)
        canvas = win.canvas.viewport()
        for _ in range(3):                      # the enters and moves of one drag: one read
            drag_over(canvas, [pose])
        assert win.drop_highlight() == "Import the pose pose.json" and reads == [pose]
        drop(canvas, [pose])                    # the drop and its deferred handling: no read more
        qtbot.waitUntil(lambda: imported == [pose], timeout=5000)
        assert reads == [pose] and not win._drop_sniffed

        drag_over(canvas, [pose])               # the next drag reads it afresh
        assert reads == [pose] * 2
        pose.write_text('{"people": [], "x": 1}')  # changed during the drag (another size): read again
        drag_over(canvas, [pose])
        assert reads == [pose] * 3
        leave(canvas)                           # left: the answer is forgotten
        assert not win._drop_sniffed and not win.drop_highlight()
        drag_over(canvas, [pose])
        assert reads == [pose] * 4
        leave(canvas)
    finally:
        close_window(win)
