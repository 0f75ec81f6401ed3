"""The app survives the GL driver's LLVM: torch's compiler imports triton, whose own LLVM crashed the process
when loaded after Mesa's (choosing SPGNet segfaulted the window on a desktop with llvmpipe or radeonsi)."""
from __future__ import annotations

import sys


# The crash, by hand (not in the suite: under the test run's Xvfb it hung past minutes where it took seconds
# alone): Qt and an OpenGL widget load the system's GL driver, then a worker thread does what choosing SPGNet did
# (a network built on torch's meta device, whose kernels import torch._dynamo and, with it, triton). With
# KEEP_TRITON=no it dies by SIGSEGV where Mesa loads LLVM (Xvfb's llvmpipe), without it it prints "built (4, 4)":
#   KEEP_TRITON=no xvfb-run -a python -c "$(python -c 'from tests.app.test_app_gl_driver import SCRIPT as S; print(S.format(root="."))')"
SCRIPT = r"""
import sys, os
sys.path.insert(0, {root!r})
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QApplication
import poseeditor.app as A
if os.environ.get("KEEP_TRITON") == "no":
    A.keep_triton_out = lambda: None
app = A.make_app(["t"])
gl = QOpenGLWidget(); gl.resize(64, 64); gl.show()
class Work(QObject):
    done = Signal(str)
    @Slot()
    def run(self):
        import torch
        with torch.device("meta"):
            x = torch.randn(4, 4) / 2
        import torch._dynamo  # noqa: F401
        self.done.emit("built " + str(tuple(x.shape)))
t = QThread(); w = Work(); w.moveToThread(t); t.started.connect(w.run)
w.done.connect(lambda s: (print(s, flush=True), app.quit()))
QTimer.singleShot(300, t.start); app.exec(); t.quit(); t.wait()
"""


def test_the_app_keeps_triton_out_and_torch_still_builds_on_the_meta_device(qapp):
    import importlib.util
    import threading

    assert sys.modules.get("triton", "absent") is None and importlib.util.find_spec("triton") is None
    from engine.registry import backend_class
    from engine.weights import check_config

    out = {}

    def build():  # a configuration other than the shipped one is counted on the meta device (a worker's job)
        out["config"] = check_config(backend_class("spgnet"), {"width": 0.3}, "test")

    th = threading.Thread(target=build)
    th.start()
    th.join()
    assert out["config"]["width"] == 0.3
