"""What the main window remembers between runs (geometry, splitter, panel, page, the Strict/Loose control)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize

from gui.widgets.similar import DEFAULT_STRICTNESS

__all__ = ["restore", "save"]


def restore(window) -> None:
    state = window.state
    geometry = state.value("window/geometry", QByteArray())
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
        size = state.value("window/size", QSize())
        if isinstance(size, QSize) and size.isValid() and not window.isMaximized():
            window.resize(size)  # restoreGeometry clamps to the screen it guesses; the size is what was left
    else:
        window.resize(1320, 840)
    splitter = state.value("window/splitter", QByteArray())
    if isinstance(splitter, QByteArray) and not splitter.isEmpty():
        window.splitter.restoreState(splitter)
    window._similar_wanted = state.value("window/similar", "true") in (True, "true")
    window.similar.set_strictness(state.value("similar/strictness", DEFAULT_STRICTNESS))
    page = str(state.value("window/page", "photos"))
    window.show_page(page if page in ("photos", "duplicates", "problems") else "photos")


def save(window) -> None:
    state = window.state
    state.setValue("window/geometry", window.saveGeometry())
    state.setValue("window/size", window.size())
    if window.similar.isVisible():
        state.setValue("window/splitter", window.splitter.saveState())
    state.setValue("window/similar", "true" if window._similar_wanted else "false")
    state.setValue("window/page", window.current_page() if window.current_page() != "welcome" else "photos")
    state.sync()
