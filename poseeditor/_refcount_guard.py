"""Guard against a reference-counting bug of PySide6 6.12 on CPython < 3.12.

``SignalInstance.emit()`` returns ``True`` without taking a reference, so every signal emitted from Python
takes one reference away from the ``True`` singleton. A drag emits a few signals per mouse move; after some
thousands of emits CPython frees ``True`` and aborts ("bool_dealloc: deallocating True or False"). Measured
here: 100 emits lower sys.getrefcount(True) by exactly 100; signals emitted by Qt itself are not affected.

CPython 3.12 made True/False/None immortal, which is exactly the cure; on older CPythons we do the same by
adding a very large number to their reference counts once, at import. This cannot hurt if PySide6 fixes the
bug (the singletons are never freed anyway) and it is verified after writing.
"""
from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40  # ~10^12 emits before the count could run out: far beyond any session
_done = False


def make_singletons_immortal() -> bool:
    """Return True when the guard is in place (or not needed)."""
    global _done
    if _done or sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return True
    for obj in (True, False, None):
        before = sys.getrefcount(obj)
        cell = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every PyObject
        if cell.value != before - 1 and cell.value != before:  # not the layout we expect: leave it alone
            return False
        cell.value += _BOOST
        if sys.getrefcount(obj) - before != _BOOST:
            cell.value -= _BOOST
            return False
    _done = True
    return True
