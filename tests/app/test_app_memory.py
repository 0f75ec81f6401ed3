"""A closed window is freed: nothing connected to its signals keeps it (a lambda or functools.partial that holds
the window does: PySide keeps the connected callable alive, and Python's collector cannot see that reference, so
every closed test window, ~125 MB with its engine, stayed for the rest of the run)."""
import gc
import weakref

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtWidgets import QApplication

from engine.pose import J
from tests.app.driver import drag_joint, wait_engine, wait_idle_result, wait_loaded


def _collected(ref: weakref.ref) -> bool:
    """Collect in the GUI thread (the app collects only there) until ``ref`` is dead, letting deferred deletes
    (deleteLater) run between rounds."""
    for _ in range(10):
        QApplication.processEvents()
        QApplication.sendPostedEvents(None, 0)  # DeferredDelete included
        gc.collect()
        if ref() is None:
            return True
    return False


def test_a_closed_window_is_collected_after_editing_menus_and_dialogs(qapp, qtbot, procedural_photos):
    from poseeditor.main_window import MainWindow

    photo = procedural_photos[0][0]
    win = MainWindow()  # not qtbot.addWidget: that keeps a reference until the test ends
    win.confirm_close = False
    win.show()
    qtbot.waitExposed(win)
    win.start_engine(photos_pending=True)
    win.open_photos([str(photo)])
    wait_engine(qtbot, win)
    wait_loaded(qtbot, win)
    wait_idle_result(qtbot, win)
    # what connects the window's slots: an edit (undo texts, the render), a preset, zoom, both context menus,
    # the recent files, the weights manager and the training dialog
    before = win.current_pose().xy[J["r_wrist"]].copy()
    drag_joint(qtbot, win, J["r_wrist"], 25, -30)
    qtbot.waitUntil(lambda: (win.current_pose().xy[J["r_wrist"]] != before).any(), timeout=10000)
    wrist = J["r_wrist"]

    def menu_action(text):
        return next(a for m in [win._menu] + [a.menu() for a in win._menu.actions() if a.menu()]
                    for a in m.actions() if a.text().startswith(text))

    win._joint_menu(wrist, QPoint(50, 50))
    menu_action("Put back").trigger()
    assert (win.current_pose().xy[wrist] == win.doc.main.pose.xy[wrist]).all()
    win._joint_menu(wrist, QPoint(50, 50))
    menu_action("Hide").trigger()
    assert not win.current_pose().present[wrist]
    win._canvas_menu(QPointF(30, 40), QPoint(50, 50))  # right-clicked at photo pixel (30, 40)
    menu_action("Right wrist").trigger()
    assert win.current_pose().present[wrist]
    assert abs(win.current_pose().xy[wrist] - (30, 40)).max() <= 1.5
    win._menu.close()
    n = win.undo.count()
    win.preset_menu.actions()[0].trigger()
    assert win.undo.count() == n + 1
    zoom = win.canvas.transform().m11()
    win.a_zoom_in.trigger()
    assert win.canvas.transform().m11() > zoom
    win.open_weights_manager().close()
    win.open_train_dialog().close()
    wait_idle_result(qtbot, win)

    ref = weakref.ref(win)
    win.close()
    del win
    assert _collected(ref), [type(r).__name__ for r in gc.get_referrers(ref())]
