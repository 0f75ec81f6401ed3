"""Files and start-up: sessions, bad files, a photo with nobody in it, dropped files, recent files and window
geometry across runs, the desktop entry, and the command line."""
import json
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine.pose import J
from tests.app.driver import close_window, drag_joint, new_window, wait_idle_result, wait_loaded


def synthetic_photo(path, w=160, h=200):
    """A photo the test makes itself: soft gradients and blobs, no person in it."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([120 + 60 * np.sin(xx / 17), 140 + 50 * np.cos(yy / 23), 110 + 40 * np.sin((xx + yy) / 31)], -1)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def test_session_save_and_reopen(qtbot, tmp_path, procedural_photos):
    (person1, _), (person2, _) = procedural_photos[:2]
    win = new_window(qtbot, [person1, person2])
    wait_loaded(qtbot, win, 2)
    wait_idle_result(qtbot, win)
    drag_joint(qtbot, win, J["l_wrist"], 25, -45)
    wait_idle_result(qtbot, win)
    edited = win.doc.target.copy()
    path = tmp_path / "s.pose-session.json"
    assert win.save_session(path)
    assert win.undo.isClean() and win.windowTitle().startswith("s.pose-session.json")
    data = json.loads(path.read_text())
    assert data["format"] == "poseeditor-session" and len(data["references"]) == 2
    close_window(win)

    # saved again by an editor that writes a byte-order mark (as the pose reader takes it)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    win2 = new_window(qtbot)
    assert win2.open_session(path)
    wait_loaded(qtbot, win2, 2)
    res = wait_idle_result(qtbot, win2)
    assert [Path(r.path).resolve() for r in win2.doc.refs] == [Path(person1).resolve(), Path(person2).resolve()]
    assert win2.doc.target == edited and res.pose == edited
    assert win2.backend_info is None or win2.backend_info["name"] == data["backend"]
    # the session is in the recent files, and reopening it from there works too
    assert str(path.resolve()) in win2.settings.recent_files()
    close_window(win2)


def test_bad_files_are_messages_not_crashes(qtbot, tmp_path):
    win = new_window(qtbot)
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a picture")
    win.open_photos([str(fake)])
    qtbot.waitUntil(lambda: bool(win.last_error), timeout=30000)
    assert "holiday.jpg" in win.last_error and "not an image" in win.last_error
    assert win.banner.isVisible() and not win.doc.refs
    # the panes no longer say they are looking for a person in it
    assert win.canvas.message == "" and "Finding" not in win.result.pane.placeholder
    missing = tmp_path / "gone.png"
    win.last_error = ""
    win.open_photos([str(missing)])
    qtbot.waitUntil(lambda: bool(win.last_error), timeout=30000)
    assert "no such file" in win.last_error
    bad_session = tmp_path / "x.pose-session.json"
    bad_session.write_text('{"format": "something-else"}')
    assert not win.open_session(bad_session)
    assert "not a PoseEditor session" in win.last_error
    # a session whose photo was deleted since: said plainly
    from poseeditor.session import Session, SessionRef, save_session

    gone = synthetic_photo(tmp_path / "deleted-since.png")
    save_session(tmp_path / "old.pose-session.json", Session([SessionRef(str(gone))]))
    gone.unlink()
    assert not win.open_session(tmp_path / "old.pose-session.json")
    assert "deleted-since.png" in win.last_error and "exist" in win.last_error
    assert win.isVisible()
    close_window(win)


def test_no_person_found_lets_the_user_place_a_skeleton(qtbot, tmp_path):
    photo = synthetic_photo(tmp_path / "empty-room.png")
    win = new_window(qtbot, [photo])
    wait_loaded(qtbot, win)
    assert win.placing and "No person found in empty-room.png" in win.banner.message()
    ref = win.doc.main
    assert ref.hand_placed and ref.pose.count == 18        # the standing skeleton, all joints
    res = wait_idle_result(qtbot, win)
    assert res.image.shape == (200, 160, 3)
    # drag a joint of the photo's skeleton (the canvas edits the reference pose while placing)
    before = ref.pose.copy()
    drag_joint(qtbot, win, J["r_wrist"], 15, 10)
    qtbot.waitUntil(lambda: not (win.doc.main.pose == before), timeout=5000)
    assert win.doc.target == win.doc.main.pose            # while placing, the target follows
    moved = [j for j in range(18) if not np.allclose(win.doc.main.pose.xy[j], before.xy[j])]
    assert moved == [J["r_wrist"]]                          # fitting the skeleton: the joint moves alone
    # a message arriving meanwhile (a training's end) goes to the status bar: it took the place of the banner's
    # Done, and the skeleton could no longer be finished
    from training.personalize import starter_weights

    win._on_trained(str(starter_weights("spgnet")))
    assert win.banner.action_id == "done-placing" and "No person found" in win.banner.message()
    assert win.statusBar().currentMessage().startswith("Training done")
    qtbot.waitUntil(lambda: (win.backend_info or {}).get("name") == "spgnet", timeout=60000)
    win._on_banner_action("done-placing")
    assert not win.placing and win.mode == "target"
    placed = win.doc.main.pose.copy()
    drag_joint(qtbot, win, J["l_wrist"], -20, -20)
    wait_idle_result(qtbot, win)
    assert win.doc.main.pose == placed and not (win.doc.target == placed)
    close_window(win)


def test_dropping_image_files_adds_references(qtbot, tmp_path, procedural_photos):
    person1, person3 = procedural_photos[0][0], procedural_photos[2][0]
    win = new_window(qtbot)

    def drop(paths, target):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        pos = QPointF(target.rect().center())
        with warnings.catch_warnings():  # PySide 6.12 flags the only QDragEnterEvent constructor as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                    Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(target, enter)
        assert enter.isAccepted()
        QApplication.sendEvent(target, QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                                  Qt.KeyboardModifier.NoModifier))

    drop([person1], win)                      # on the window: the first photo
    wait_loaded(qtbot, win, 1)
    drop([person3], win.strip.list.viewport())  # on the reference strip: another reference (on the photo: opened)
    wait_loaded(qtbot, win, 2)
    assert [r.path for r in win.doc.refs] == [str(person1), str(person3)]
    wait_idle_result(qtbot, win)
    close_window(win)


def test_geometry_and_recent_files_are_remembered(qtbot, tmp_path):
    photo = synthetic_photo(tmp_path / "p.png")
    win = new_window(qtbot, [photo])
    # a size the window can take (its minimum is the panes' and the Engine dock's) and the offscreen screen holds
    w = min(win.screen().availableGeometry().width() - 4, max(720, win.minimumSizeHint().width() + 8))
    win.resize(w, 620)
    qtbot.waitUntil(lambda: (win.width(), win.height()) == (w, 620))
    close_window(win)
    win2 = new_window(qtbot)
    assert (win2.width(), win2.height()) == (w, 620)
    assert str(photo.resolve()) in win2.settings.recent_files()
    assert any(a.text().startswith("&1 p.png — ") for a in win2.recent_menu.actions())
    assert win2.settings.path.parent.name == "PoseEditor"  # appdirs' user config dir
    close_window(win2)


def test_install_and_uninstall_desktop_entry(tmp_path, monkeypatch, capsys):
    from poseeditor.app import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["--install-desktop"]) == 0
    entry = tmp_path / "applications" / "poseeditor.desktop"
    text = entry.read_text()
    assert "[Desktop Entry]" in text and "Icon=poseeditor" in text and "@" not in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith("%F") and "poseeditor" in exec_line
    assert (tmp_path / "icons/hicolor/scalable/apps/poseeditor.svg").is_file()
    assert (tmp_path / "icons/hicolor/256x256/apps/poseeditor.png").is_file()
    assert main(["--uninstall-desktop"]) == 0
    assert not entry.exists() and not (tmp_path / "icons/hicolor/256x256/apps/poseeditor.png").exists()
    assert "Removed" in capsys.readouterr().out


def test_the_ui_path_does_not_import_torch_or_the_backends():
    """The window must appear fast: torch, mediapipe and the backend modules load in the worker threads."""
    import subprocess
    import sys

    code = ("import sys, poseeditor.app, poseeditor.main_window; "
            "bad = [m for m in ('torch', 'mediapipe', 'engine.backends.warp', 'engine.backends.dgan') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_sessions_poses_never_reach_other_photos_and_photos_dropped_with_it_join_it(qtbot, tmp_path,
                                                                                   procedural_photos):
    # (1) a session whose second photo has nobody in it (refused as a reference): its edited pose waited for that
    # photo and was put on the next photo opened. (2) a session dropped with a photo onto an open window: the photo
    # joins the session's (it went to the photos the session replaced). (3) a session with a byte-order mark,
    # dropped, is a session (the sniffing read it without the mark and took it for a pose)
    person0, person1, person2 = (str(p) for p, _ in procedural_photos[:3])
    wall = synthetic_photo(tmp_path / "wall.png")
    win = new_window(qtbot, [person0])
    try:
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        det = win.doc.main.pose
        sh = det.point("r_shoulder")
        edited = det.moved("r_elbow", sh[0] - 20, sh[1] - 10)
        s1 = tmp_path / "one.pose-session.json"
        s1.write_text(json.dumps({"format": "poseeditor-session", "version": 1, "target": edited.to_openpose(),
                                  "references": [{"path": person0}, {"path": str(wall)}]}))
        win.last_error = ""
        assert win.open_session(s1)
        qtbot.waitUntil(lambda: "No person found" in win.last_error, timeout=60000)
        wait_loaded(qtbot, win)
        assert win.doc.target == edited
        win.open_photos([person1])
        wait_loaded(qtbot, win)
        qtbot.waitUntil(lambda: win.doc.main.pose is not None and win.doc.target is not None, timeout=60000)
        assert win.doc.target == win.doc.main.pose and not (win.doc.target == edited)

        s2 = tmp_path / "two.pose-session.json"
        s2.write_bytes(b"\xef\xbb\xbf" + json.dumps({"format": "poseeditor-session", "version": 1,
                                                     "references": [{"path": person0}]}).encode())
        win.handle_dropped([s2, Path(person2)])
        wait_loaded(qtbot, win, 2)
        assert [r.path for r in win.doc.refs] == [person0, person2] and win.session_path == s2
    finally:
        close_window(win)
