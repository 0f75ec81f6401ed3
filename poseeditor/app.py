"""Entry point: `poseeditor [PHOTO ...]`, `poseeditor --session FILE`, `poseeditor --install-desktop`.

The window is shown before anything heavy is imported: torch, mediapipe and the backends are imported by the
worker threads (worker.py), so the editor appears at once and fills in as the engine comes up.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="poseeditor", description="Repose people in photos: drag a skeleton, see "
                                "the person re-rendered.")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos of one person (the first is edited); "
                   "a .json argument opens a saved session")
    p.add_argument("--session", metavar="FILE", help="open a saved session")
    p.add_argument("--install-desktop", action="store_true",
                   help="add PoseEditor to the desktop's application menu (for this user) and exit")
    p.add_argument("--uninstall-desktop", action="store_true", help="remove what --install-desktop added and exit")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def _fix_qt_env() -> None:
    # opencv (mediapipe's cv2) points Qt at its own Qt5 plugins when imported; PySide6 must use its own.
    plugin_path = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    if "cv2" in plugin_path:
        os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)


def keep_triton_out() -> None:
    """Make ``import triton`` fail in the app's process (torch then runs as on a machine without it).

    mediapipe and Qt load the system's OpenGL driver, and Mesa's (llvmpipe, radeonsi) loads libLLVM; triton's
    library carries its own LLVM, and loading it after Mesa's crashed the process (a segfault, no message) the
    first time torch imported its compiler: choosing SPGNet built its configuration on torch's meta device,
    whose kernels import torch._dynamo, which imports triton. The app never compiles (torch.compile gained
    nothing here, docs/speed.md), so it has no use for triton; training runs in its own processes."""
    sys.modules.setdefault("triton", None)


# Qt 6's X11 plugin links or opens these; desktops that never ran a Qt 6 program (a fresh Debian, Ubuntu 22.04)
# often lack some of them, and Qt then aborts the process with a page of plugin advice
XCB_PACKAGES = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0"


def display_problem(env=None, load_library=None) -> str | None:
    """Why no window can open on this Linux desktop, in one line, or None; checked before Qt starts. X11 is
    checked by loading Qt's xcb plugin (it fails naming the first system library it lacks) and libxcb-cursor,
    which the plugin opens only at run time (Qt 6.5+)."""
    import ctypes
    import re

    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: chosen on purpose, and Qt says what it lacks itself
    if not platform and env.get("WAYLAND_DISPLAY"):
        return None
    if not env.get("DISPLAY"):
        return "no display to open a window on (DISPLAY is not set): start PoseEditor from a desktop session"
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    try:
        for lib in ([str(plugin)] if plugin.is_file() else []) + ["libxcb-cursor.so.0"]:
            (load_library or ctypes.CDLL)(lib)
    except OSError as e:
        lacking = re.search(r"lib[\w.+-]*?\.so[.\d]*", str(e))
        return (f"Qt cannot open a window on X11: the system library {lacking.group(0) if lacking else 'for it'} "
                f"is missing; install Qt 6's X11 libraries (Debian/Ubuntu: sudo apt install {XCB_PACKAGES}) "
                "and start again")
    return None


def make_app(argv=None):
    """The QApplication, named and themed (also used by tests and benchmarks)."""
    from . import heap

    _fix_qt_env()
    keep_triton_out()
    heap.limit_arenas()  # before the worker threads start
    from PySide6.QtWidgets import QApplication

    from . import icons

    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("PoseEditor")
    app.setOrganizationName("PoseEditor")
    app.setApplicationDisplayName("PoseEditor")
    app.setDesktopFileName("poseeditor")
    app.setWindowIcon(icons.app_icon())
    from .theme import apply_theme

    apply_theme(app)
    if not hasattr(app, "_gui_thread_gc"):
        # Python's cyclic collector runs in whichever thread happens to allocate: a closed window or dialog
        # still in a reference cycle (a lambda connected to its signal) was then destroyed in a render worker,
        # and Qt widgets must die in the GUI thread (a test run deadlocked there, in QObject's destructor).
        # Automatic collection off; the GUI thread collects on a timer instead (pyqtgraph's GarbageCollector).
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app._gui_thread_gc = GarbageCollector(interval=1.0)
    return app


def main(argv=None) -> int:
    t0 = time.perf_counter()
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        from . import __version__

        print(f"poseeditor {__version__}")
        return 0
    if args.install_desktop or args.uninstall_desktop:
        from . import desktop

        if args.install_desktop:
            print(desktop.describe(desktop.install(), "Installed"))
        else:
            print(desktop.describe(desktop.uninstall(), "Removed"))
        return 0
    missing = [p for p in args.photos if not Path(p).exists()]
    if missing:  # said on the terminal too, but the app still opens and shows it
        print(f"poseeditor: no such file: {', '.join(missing)}", file=sys.stderr)

    problem = display_problem()
    if problem:
        print(f"poseeditor: error: {problem}", file=sys.stderr)
        return 2
    app = make_app(sys.argv[:1])
    from .main_window import MainWindow

    win = MainWindow()
    win.show()
    sessions = [p for p in args.photos if p.lower().endswith(".json")]
    photos = [p for p in args.photos if not p.lower().endswith(".json")]
    if args.session:
        sessions.insert(0, args.session)
    win.start_engine(photos_pending=bool(sessions or photos))
    if sessions:
        win.open_session(sessions[0])
    elif photos:
        win.open_photos(photos)
    if os.environ.get("POSEEDITOR_TIMING"):
        print(f"window shown after {(time.perf_counter() - t0) * 1000:.0f} ms", file=sys.stderr)
        win.resultShown.connect(lambda r: print(f"result ({r.backend}, {r.tier}) after "
                                                f"{(time.perf_counter() - t0) * 1000:.0f} ms", file=sys.stderr))
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
