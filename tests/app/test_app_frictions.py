"""The small frictions of a session, on the real window: opening photos over unsaved edits asks first, save
dialogs open beside the photo, Ctrl+K from the menu shows its Done banner, the Presets button lets go of its
highlight, person-trained weights say whom they were trained on, and the live tier follows a steady time."""
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

from engine.pose import J
from tests.app.driver import (close_window, drag_joint, new_window, untrained_weights, wait_engine,
                              wait_idle_result, wait_loaded)


def answer_modal(handle, tries=200):
    """Run ``handle(dialog)`` on the next modal dialog once it is up (a static QMessageBox/QFileDialog call
    blocks the test in its own event loop until then)."""
    def poll(n=tries):
        w = QApplication.activeModalWidget()
        if w is not None:
            handle(w)
        elif n:
            QTimer.singleShot(20, lambda: poll(n - 1))
    QTimer.singleShot(20, poll)


@pytest.fixture
def edited(qtbot, procedural_photos, tmp_path):
    """A window with a photo (copied to its own folder) and an edited pose."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo = shutil.copy(procedural_photos[0][0], folder / "anna.png")
    win = new_window(qtbot, [photo])
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    drag_joint(qtbot, win, J["l_wrist"], 20, -30)
    wait_idle_result(qtbot, win)
    yield win
    close_window(win)


def test_ctrl_o_with_unsaved_edits_asks_first(qtbot, edited):
    win = edited
    win.confirm_close = True
    assert win.has_unsaved_edits()
    edited_pose = win.doc.target.copy()
    asked = []

    def cancel(box):
        asked.append((type(box), box.text()))
        box.button(QMessageBox.StandardButton.Cancel).click()

    answer_modal(cancel)
    win.activateWindow()
    qtbot.keyClick(win, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert asked and asked[0][0] is QMessageBox and "unsaved edits" in asked[0][1]
    assert win.doc.target == edited_pose and len(win.doc.refs) == 1       # cancelled: nothing dropped

    # Discard: then the file dialog comes, beside nothing in particular; closing it keeps the photo too
    seen = []

    def discard(box):
        seen.append("asked")
        box.button(QMessageBox.StandardButton.Discard).click()
        answer_modal(lambda d: (seen.append(type(d)), d.reject()))

    answer_modal(discard)
    win.a_open.trigger()
    assert seen[0] == "asked" and issubclass(seen[1], QFileDialog)
    # reference edits count as unsaved edits too, with the pose saved
    win.undo.setClean()
    assert not win.has_unsaved_edits()
    win.add_references([str(win.doc.main.path)])
    wait_loaded(qtbot, win, 2)
    assert win.has_unsaved_edits()
    win.confirm_close = False


def test_save_dialogs_open_beside_the_photo(qtbot, edited):
    win = edited
    folder = str(win.doc.main.path).rsplit("/", 1)[0]
    dirs = []

    def look(d):
        dirs.append(d.directory().absolutePath())
        d.reject()

    for action in (win.a_export_pose, win.a_save_result, win.a_save_session_as):
        answer_modal(look)
        action.trigger()
    assert dirs == [folder] * 3, dirs


def test_ctrl_k_from_the_menu_shows_its_done_banner(qtbot, edited):
    win = edited
    win.a_adjust.trigger()
    assert win.mode == "source" and win.banner.isVisible()
    assert win.banner.action.text() == "Done" and "Correcting" in win.banner.message()
    win.banner.action.click()
    assert win.mode == "target" and not win.banner.isVisible() and not win.a_adjust.isChecked()
    win.a_adjust.trigger()
    win.a_adjust.trigger()                 # Ctrl+K again leaves the mode: its banner goes with it
    assert win.mode == "target" and not win.banner.isVisible()


def test_presets_button_lets_go_of_its_highlight_when_the_menu_closes(qtbot, edited):
    win = edited
    b = win.preset_button
    answer_modal(lambda m: None)  # the menu is a popup, not modal: close it from a timer below
    QTimer.singleShot(200, lambda: win.preset_menu.hide())
    b.setAttribute(Qt.WidgetAttribute.WA_UnderMouse, True)   # the pointer was over it when it was clicked
    b.showMenu()                                            # blocks until the menu closes
    assert not b.isDown() and not b.underMouse()


def test_person_trained_weights_say_whom_they_were_trained_on(qtbot, procedural_photos, tmp_path):
    name, path = untrained_weights(tmp_path, "maria", "Maria")
    win = new_window(qtbot, [procedural_photos[0][0]])
    wait_loaded(qtbot, win)
    wait_engine(qtbot, win)
    win.load_weights(str(path))
    qtbot.waitUntil(lambda: win.backend_info["name"] == name and win.backend_info["ready"], timeout=60000)
    assert win.backend_info["weights_data"] == "maria"
    win.open_photos([str(procedural_photos[1][0])])          # another photo, the weights still in use
    wait_loaded(qtbot, win)
    qtbot.waitUntil(win.banner.isVisible, timeout=10000)
    msg = win.banner.message()
    assert "“maria”" in msg and "Maria" in msg and "person2.png" in msg
    assert win.banner.action.text().startswith("Train on This Person")
    win.set_backend("warp")
    qtbot.waitUntil(lambda: win.backend_info["name"] == "warp", timeout=30000)
    close_window(win)


def test_live_tier_follows_a_steady_time_and_the_panel_says_the_same(qapp):
    from poseeditor.engine_panel import EnginePanel
    from poseeditor.render_tiers import LIVE_BUDGET_MS, RenderTimes

    times = RenderTimes()
    times.add("dgan", 900.0)                         # a slow first render (warm-up)
    assert not times.live_uses("dgan")
    times.add("dgan", 60.0)
    times.add("dgan", 70.0)
    assert times["dgan"] == 70.0 and times.live_uses("dgan")   # steady: the median of the last renders
    for _ in range(5):
        times.add("dgan", 400.0)
    assert not times.live_uses("dgan") and times["dgan"] >= LIVE_BUDGET_MS
    panel = EnginePanel()
    panel.set_backend_info(dict(name="dgan", title="Deformable GAN", multi_shot=False, ready=True,
                                needs_weights=True, weights_kind="file", weights_label="x", weights_path="/x",
                                device="cpu", image_size=[256, 256], last_ms=None))
    panel.set_timing(900.0, 70.0)
    assert "preview uses the same backend" in panel.timing.text() and "typically 70 ms" in panel.timing.text()
    panel.set_timing(60.0, 400.0)
    assert "warp backend" in panel.timing.text()


def test_menus_say_what_can_be_done_and_the_shortcut_list_is_the_menus(qtbot, procedural_photos):
    # with no photo, the presets (menu and button) and the view's zoom items are off, as the toolbar's are; the
    # F1 list is read from the menus: every item with keys is in it (a hand-kept list left out Open Session, Save
    # Session As and Quit). A joint chosen on one photo is not chosen on the next one opened.
    from PySide6.QtGui import QKeySequence

    win = new_window(qtbot)
    try:
        assert not win.preset_menu.isEnabled() and not win.preset_button.isEnabled()
        assert not any(a.isEnabled() for a in (win.a_fit, win.a_zoom_in, win.a_zoom_out, win.a_actual))
        rows = dict(win.shortcut_rows())
        native = QKeySequence.SequenceFormat.NativeText
        for a in (win.a_open, win.a_save_session_as, win.a_undo, win.a_box, win.a_ghost):
            assert rows[a.text().replace("&", "").rstrip("…")].startswith(a.shortcut().toString(native))
        assert "Open Session" in rows and "arrow keys" in rows.values()
        win.open_photos([str(procedural_photos[0][0])])
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        assert win.preset_menu.isEnabled() and win.a_fit.isEnabled()
        win.canvas.select(J["l_wrist"])
        assert win.joint_list.currentRow() == J["l_wrist"]
        win.open_photos([str(procedural_photos[1][0])])
        wait_loaded(qtbot, win)
        assert win.canvas.selected == -1 and win.joint_list.currentRow() == -1
    finally:
        close_window(win)


def test_a_small_person_in_a_wide_photo_is_shown_zoomed_in(qtbot, procedural_photos, tmp_path):
    # a person a fifth of a wide photo's height: at the whole photo's zoom its eighteen handles (a fixed size on
    # screen) hid it; it opens zoomed to the person, and View > Zoom to Person (Shift+F) comes back to it after
    # Fit to Window
    import numpy as np

    from engine.images import load_image, save_image

    person = load_image(procedural_photos[0][0])
    h, w = person.shape[:2]
    wide = np.empty((h * 5, w * 8, 3), np.uint8)
    wide[:] = person[2, 2]  # the wall the person stands at
    wide[2 * h:3 * h, 3 * w:4 * w] = person
    path = tmp_path / "landscape.png"
    save_image(path, wide)
    win = new_window(qtbot, [path])
    try:
        wait_loaded(qtbot, win)
        if win.doc.main.detected is None:
            pytest.skip("the detector does not find the small person in this photo")
        wait_idle_result(qtbot, win)
        x0, y0, x1, y1 = win.person_box()
        vp = win.canvas.viewport().rect()
        centre = win.canvas.mapFromScene((x0 + x1) / 2, (y0 + y1) / 2)
        assert abs(centre.x() - vp.center().x()) < 10 and abs(centre.y() - vp.center().y()) < 10
        shown = (y1 - y0) * win.canvas.zoom()
        assert shown > 0.8 * (vp.height() - 16) or (x1 - x0) * win.canvas.zoom() > 0.8 * (vp.width() - 16)
        win.a_fit.trigger()
        fitted = win.canvas.zoom()
        assert (y1 - y0) * fitted < 0.5 * vp.height()  # the whole photo: the person small again
        win.a_zoom_person.trigger()
        assert win.canvas.zoom() > 2 * fitted
    finally:
        close_window(win)


def test_a_reference_caption_is_as_wide_as_its_name(qtbot, procedural_photos, tmp_path):
    # the strip's captions were cut at 104 px ("placed by ha…", "landscape.…") while the strip stood empty
    long_name = tmp_path / "anna-on-the-terrace-2026.png"
    shutil.copy(procedural_photos[0][0], long_name)
    win = new_window(qtbot, [long_name])
    try:
        wait_loaded(qtbot, win)
        item = win.strip.list.item(0)
        fm = win.strip.list.fontMetrics()
        widest = max(fm.horizontalAdvance(line) for line in item.text().split("\n"))
        assert long_name.name in item.text()
        assert win.strip.list.visualItemRect(item).width() >= 60 + widest
    finally:
        close_window(win)


def test_tab_goes_through_the_controls_without_dead_stops(qtbot):
    # Tab from the canvas visits controls a user can work, each named for a screen reader: not the engine panel's
    # scroll area itself (focus on nothing visible), nor one toolbar button out of all of them. The Tab stops are
    # the focus chain's widgets that take focus by Tab, as QWidget.focusNextPrevChild walks it
    from PySide6.QtWidgets import QScrollArea, QToolBar, QToolButton

    win = new_window(qtbot)
    try:
        wait_engine(qtbot, win)
        seen, w = [], win.canvas.nextInFocusChain()
        while w is not win.canvas and len(seen) < 200:
            if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.isVisibleTo(win) and w.isEnabled() \
                    and w.window() is win:
                seen.append(w)
            w = w.nextInFocusChain()
        assert seen and not any(isinstance(w, QScrollArea) for w in seen), seen
        assert not any(isinstance(w, QToolButton) and isinstance(w.parent(), QToolBar) for w in seen), seen
        assert win.engine_panel.backend in seen and win.engine_panel.backend.accessibleName() == "Backend"
        assert win.engine_panel.device.accessibleName() == "Device"
    finally:
        close_window(win)


def test_saving_over_the_photo_is_refused_before_any_replace_question(qtbot, edited, tmp_path):
    # The file dialog asked "replace?" and the window then refused to replace the photo: one clear refusal now,
    # and the window's own question for any other file that exists. Either way the dialog comes back (it closed
    # on a refusal, and a newcomer had to find the folder again), until it is cancelled.
    import hashlib

    win = edited
    photo = win.doc.main.path
    digest = hashlib.sha256(open(photo, "rb").read()).hexdigest()
    seen, offered = [], []

    def chain(path, answer):
        """Type ``path`` in the first file dialog, answer the message box after it with ``answer``, and cancel
        the file dialog that comes back, noting the name it offers."""
        def cancel(d):
            seen.append(type(d).__name__)
            offered.append(d.selectedFiles()[0] if isinstance(d, QFileDialog) else "")
            d.reject()

        def box(b):
            seen.append(type(b).__name__)
            b.button(answer).click()
            answer_modal(cancel)

        def pick(d):
            seen.append(type(d).__name__)
            d.findChild(QLineEdit, "fileNameEdit").setText(str(path))  # typed, as a user would
            d.accept()
            answer_modal(box)
        return pick

    answer_modal(chain(photo, QMessageBox.StandardButton.Ok))
    win.a_save_result.trigger()
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert seen == ["QFileDialog", "QMessageBox", "QFileDialog"] and "would overwrite an input" in win.last_error
    assert Path(offered[0]).parent == Path(photo).parent and Path(offered[0]) != Path(photo)
    qtbot.wait(300)
    assert hashlib.sha256(open(photo, "rb").read()).hexdigest() == digest
    assert win.exporter.pending == 0

    other = tmp_path / "old-result.png"
    other.write_bytes(b"kept")
    seen.clear()
    offered.clear()
    answer_modal(chain(other, QMessageBox.StandardButton.No))
    win.a_save_result.trigger()
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert seen == ["QFileDialog", "QMessageBox", "QFileDialog"]  # asked; answered No: asked for another name
    assert Path(offered[0]) == other
    qtbot.wait(300)
    assert other.read_bytes() == b"kept"

def test_an_animation_of_the_unchanged_pose_is_refused_with_a_reason(qtbot, procedural_photos):
    # The dialog offered "From the detected pose to the edited pose" on a pose not edited, and wrote a still
    win = new_window(qtbot, [procedural_photos[0][0]])
    try:
        wait_loaded(qtbot, win)
        wait_idle_result(qtbot, win)
        opened = []
        answer_modal(lambda d: (opened.append(type(d).__name__), d.reject()), tries=15)
        win.a_animation.trigger()
        qtbot.wait(400)
        assert not opened and "Nothing to animate yet" in win.last_error
    finally:
        close_window(win)
