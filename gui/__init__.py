"""Simili's desktop app (PySide6): a client of ``engine.api`` that never imports torch.

Start it with ``simili-gui`` or ``python -m gui``; see :mod:`gui.app` for the flags.
"""

from __future__ import annotations

import sys

__all__: list[str] = []


def _guard_none_refcount() -> None:
    """WORKAROUND for PySide6 6.12.0 (abi3 wheels) on CPython < 3.12.

    Every call of a Qt method that returns nothing (``painter.save()``, ``label.setText()``...) gives Python a
    ``None`` without taking a reference, as if ``None`` were immortal (it is from Python 3.12 on). On 3.11 each
    call lowers ``None``'s reference count by one, and after some thousands of paints CPython aborts with
    "Fatal Python error: none_dealloc". 6.11.3 does not have the bug. We make ``None`` effectively immortal,
    which is what Python 3.12 does itself: its count starts 2**40 higher, so it can never reach zero.
    """
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    import ctypes

    import PySide6

    if tuple(PySide6.__version_info__[:2]) < (6, 12):
        return
    count = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of every PyObject
    if count.value < 1 << 40:
        count.value += 1 << 40


_guard_none_refcount()
