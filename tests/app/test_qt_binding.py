"""Pins the Qt binding's fitness: PySide6 6.12.0's SignalInstance.emit() leaked a reference to True on every
call, and a few thousand emits (one drag session) aborted CPython 3.11. pyproject.toml pins 6.11.3; this
test fails if a version with that bug comes back."""
import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    moved = Signal(int)


def test_signal_emit_keeps_reference_counts(qapp):
    e = _Emitter()
    got = []
    e.moved.connect(got.append)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(200):
        e.moved.emit(i)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert len(got) == 200
    assert abs(after[0] - before[0]) < 20 and abs(after[1] - before[1]) < 20, (before, after)
