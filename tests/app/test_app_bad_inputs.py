"""Bad inputs through the real window: every one is a one-line message (banner and status bar), no traceback,
the file untouched, and the open photo and pose as they were."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.app.driver import close_window, module_window, wait_idle_result, wait_loaded

PNG_HEAD = bytes.fromhex("89504e470d0a1a0a0000000d49484452")


def _deep(n):
    return "[" * n + "]" * n


def _pose(**people):
    return json.dumps({"canvas_width": 320, "canvas_height": 480, **people})


POSES = {  # name -> file content (bytes or str)
    "not json": "{not json",
    "empty": "",
    "a list": "[1, 2, 3]",
    "ten numbers": json.dumps({"people": [{"pose_keypoints_2d": [1] * 10}]}),
    "keypoints a string": json.dumps({"people": [{"pose_keypoints_2d": "nose"}]}),
    "infinite canvas": '{"canvas_width": Infinity, "canvas_height": 480, "people": []}',
    "coordinates 1e308": json.dumps({"canvas_width": 320, "canvas_height": 480,
                                     "people": [{"pose_keypoints_2d": [1e308, 1e308, 1.0] * 18}]}),
    "NaN coordinates": '{"people": [{"pose_keypoints_2d": [' + ",".join(["NaN"] * 54) + "]}]}",
    "nested 100k deep": _deep(100_000),
    "latin-1 bytes": b'{"people": [], "name": "Jos\xe9"}',
    "no people": json.dumps({"people": []}),
    "canvas a string": json.dumps({"canvas_width": "wide", "canvas_height": 480,
                                   "people": [{"pose_keypoints_2d": [10, 10, 1] * 18}]}),
}

SESSIONS = {
    "not json": "{",
    "empty": "",
    "wrong format": json.dumps({"format": "something-else"}),
    "version a string": json.dumps({"format": "poseeditor-session", "version": "one", "references": []}),
    "references a number": json.dumps({"format": "poseeditor-session", "version": 1, "references": 7}),
    "references a dict": json.dumps({"format": "poseeditor-session", "version": 1, "references": {"a": 1}}),
    "path a number": json.dumps({"format": "poseeditor-session", "version": 1, "references": [{"path": 3}]}),
    "pose a string": None,  # filled in with a real photo path below
    "target a list": None,
    "latin-1 bytes": b'{"format": "poseeditor-session", "name": "Jos\xe9"}',
    "nested 100k deep": _deep(100_000),
    "a list": "[]",
    "weights a number": None,  # these with a real photo path below
    "weights a list": None,
    "backend a number": None,
    "a NUL in the photo path": json.dumps({"format": "poseeditor-session", "version": 1,
                                           "references": [{"path": "a\u0000b.png"}]}),
    "the photo a symlink loop": None,
}

PHOTOS = {
    "text named jpg": ("holiday.jpg", b"this is not a picture"),
    "empty png": ("empty.png", b""),
    "truncated png": ("cut.png", None),   # the first bytes of a real PNG
    "png header only": ("head.png", PNG_HEAD),
}

WEIGHTS = {
    "pickle": b"\x80\x02}q\x00garbage",
    "empty": b"",
    "random bytes": bytes(range(256)) * 8,
    "header length past the end": (10**12).to_bytes(8, "little") + b"{}",
    "header not json": (5).to_bytes(8, "little") + b"{nope",
    "header a list": (2).to_bytes(8, "little") + b"[]",
}


@pytest.fixture(scope="module")
def win(qapp, procedural_photos, tmp_path_factory):
    w = module_window(tmp_path_factory.mktemp("cfg"), procedural_photos[0][0])
    yield w
    close_window(w)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_message(win, before_pose, path, digest_before):
    msg = win.last_error
    assert msg, "no message"
    assert "\n" not in msg.strip() and "Traceback" not in msg, msg
    assert win.banner.isVisible() and win.banner.message() == msg
    assert digest(path) == digest_before                  # the input is untouched
    if before_pose is not None:
        assert win.doc.target == before_pose               # the edit in progress is kept


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("case", sorted(POSES))
def test_bad_pose_json_is_a_message(qtbot, win, tmp_path, case):
    refused(qtbot, win, write(tmp_path / "pose.json", POSES[case]), win.import_pose)


def refused(qtbot, win, path, action):
    """``action(path)`` on a bad file: False, with its message, the file and the pose as they were."""
    wait_loaded(qtbot, win)
    before = win.doc.target.copy()
    d = digest(path)
    win.last_error = ""
    assert not action(path)
    check_message(win, before, path, d)


@pytest.mark.parametrize("case", sorted(SESSIONS))
def test_bad_session_is_a_message(qtbot, win, tmp_path, case, procedural_photos):
    photo = str(procedural_photos[0][0])
    content = SESSIONS[case]
    if case == "pose a string":
        content = json.dumps({"format": "poseeditor-session", "version": 1,
                              "references": [{"path": photo, "pose": "standing"}]})
    elif case == "target a list":
        content = json.dumps({"format": "poseeditor-session", "version": 1,
                              "references": [{"path": photo}], "target": [1, 2]})
    elif case in ("weights a number", "weights a list", "backend a number"):
        key, value = {"weights a number": ("weights", 7), "weights a list": ("weights", ["x"]),
                      "backend a number": ("backend", 3)}[case]
        content = json.dumps({"format": "poseeditor-session", "version": 1, "references": [{"path": photo}],
                              key: value})
    elif case == "the photo a symlink loop":
        (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
        content = json.dumps({"format": "poseeditor-session", "version": 1, "references": [{"path": "loop.png"}]})
    refused(qtbot, win, write(tmp_path / "s.pose-session.json", content), win.open_session)


@pytest.mark.parametrize("how", ["added", "opened"])
@pytest.mark.parametrize("case", sorted(PHOTOS))
def test_bad_photo_is_a_message(qtbot, win, tmp_path, case, how, procedural_photos):
    # added as a reference, or opened over the photo being edited: the photo, its edit, the session it came from
    # and the recent files stay as they were
    name, content = PHOTOS[case]
    if content is None:
        content = procedural_photos[0][0].read_bytes()[:300]
    path = write(tmp_path / name, content)
    d = digest(path)
    wait_loaded(qtbot, win)
    before, session = win.doc.target.copy(), win.session_path
    recent = win.settings.recent_files()
    win.last_error = ""
    if how == "added":
        win.add_references([str(path)])
    else:
        win.open_photos([str(path)])
    qtbot.waitUntil(lambda: bool(win.last_error), timeout=30000)
    check_message(win, before, path, d)
    assert len(win.doc.refs) == 1 and win.doc.main.path == str(procedural_photos[0][0])
    assert win.doc.main.image is not None and win.canvas._rgb is win.doc.main.image
    assert win.session_path == session and win.settings.recent_files() == recent


@pytest.mark.parametrize("case", sorted(WEIGHTS))
def test_bad_weights_are_a_message(qtbot, win, tmp_path, case):
    from tests.app.driver import wait_engine

    wait_loaded(qtbot, win)
    wait_engine(qtbot, win)
    path = write(tmp_path / "w.safetensors", WEIGHTS[case])
    d = digest(path)
    name = win.backend_info["name"]
    win.last_error = ""
    win.load_weights(str(path))
    qtbot.waitUntil(lambda: bool(win.last_error), timeout=30000)
    check_message(win, None, path, d)
    assert win.backend_info["name"] == name                 # still working on what it had
    wait_idle_result(qtbot, win)


@pytest.mark.parametrize("what", ["pose", "session", "dropped"])
@pytest.mark.parametrize("target", ["/dev/zero", "folder", "fifo"])
def test_endless_or_non_file_inputs_are_refused_before_reading(qtbot, win, tmp_path, what, target):
    # opened as a pose or a session, or dropped on the window (which reads a JSON to tell which it is): refused
    # before anything reads it (a FIFO hung the window, /dev/zero would fill the memory)
    import os

    wait_loaded(qtbot, win)
    before = win.doc.target.copy()
    if target == "folder":
        path = tmp_path / "a-folder.json"
        path.mkdir()
    elif target == "fifo":
        path = tmp_path / "pipe.json"
        os.mkfifo(path)
    else:
        path = tmp_path / "endless.json"
        path.symlink_to(target)
    win.last_error = ""
    if what == "dropped":
        win.handle_dropped([path])
    else:
        assert not (win.import_pose(path) if what == "pose" else win.open_session(path))
    said = "is a folder" if target == "folder" else "is a pipe, socket or device"
    assert said in win.last_error and "\n" not in win.last_error
    assert win.doc.target == before


@pytest.mark.parametrize("kind", ["pose", "result", "session", "animation"])
def test_an_output_never_replaces_the_open_photo(qtbot, win, tmp_path, kind):
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    photo = win.doc.main.path
    d = digest(Path(photo))
    name = shutil.copy(photo, tmp_path / "photo.gif")   # an input named like an animation, for that case
    target = name if kind == "animation" else photo
    if kind == "animation":
        win.add_references([str(name)])
        wait_loaded(qtbot, win, 2)
    win.last_error = ""
    ok = {"pose": win.export_pose, "result": win.save_result, "session": win.save_session,
          "animation": win.export_animation}[kind](target)
    assert not ok and "would overwrite an input" in win.last_error and "\n" not in win.last_error
    assert digest(Path(photo)) == d
    if kind == "animation":
        win.remove_reference(win.doc.refs[1].id)


def test_no_display_or_a_missing_x11_library_is_one_line_not_a_qt_abort(tmp_path):
    """Without a display, or on X11 without a library Qt 6's xcb plugin needs (many desktops lack some), Qt
    aborts the process with a page of plugin advice; the app says what to do in one line and exits 2."""
    import os
    import subprocess
    import sys

    from poseeditor.app import display_problem

    def missing(name):
        raise OSError("libxcb-icccm.so.4: cannot open shared object file: No such file or directory")

    said = display_problem({"DISPLAY": ":0"}, missing)
    assert "libxcb-icccm.so.4 is missing" in said and "libxcb-cursor0" in said
    assert display_problem({"DISPLAY": ":0"}, lambda name: None) is None
    assert display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, missing) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, missing) is None
    assert "DISPLAY" in display_problem({}, missing)

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "poseeditor", str(tmp_path / "photo.jpg")], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and lines[-1].startswith("poseeditor: error: no display"), r.stderr
    assert "Traceback" not in r.stderr and "Aborted" not in r.stderr
