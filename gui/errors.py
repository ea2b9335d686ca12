"""One way to show errors: ``show_error(parent, exc)``, plus hooks so no exception ends as a bare traceback."""

from __future__ import annotations

import errno
import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine.errors import (
    CatalogError, Cancelled, DecodeError, LibraryBusy, ModelCorrupt, ModelMissing, NotIndexed, SimiliError,
    TrainingUnavailable, UnknownWords,
)

__all__ = ["describe", "show_error", "install_hooks"]

log = logging.getLogger(__name__)

_TITLES = [
    (LibraryBusy, "The library is busy"),
    (NotIndexed, "Not searchable yet"),
    (ModelMissing, "A model file is missing"),
    (ModelCorrupt, "A model file is damaged"),
    (TrainingUnavailable, "Training is not available"),
    (DecodeError, "This image cannot be read"),
    (CatalogError, "The library cannot be read"),
    (UnknownWords, "Unknown words"),
    (SimiliError, "Simili could not do that"),
]


def describe(exc: BaseException) -> tuple[str, str, str | None]:
    """(title, message for a person, technical details or None) for any exception."""
    for kind, title in _TITLES:
        if isinstance(exc, kind):
            text = exc.reason if isinstance(exc, TrainingUnavailable) else str(exc)
            if isinstance(exc, UnknownWords) and len(exc.words) == 1:
                title = "Unknown word"
            return title, _sentence(text), None
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return ("The disk is full",
                    "There is no space left on the disk that holds the library or its cache. Free some space "
                    "and try again; nothing was lost.", _details(exc))
        if isinstance(exc, PermissionError):
            where = f" ({exc.filename})" if exc.filename else ""
            return "Permission denied", f"Simili is not allowed to read or write a file{where}.", _details(exc)
        if isinstance(exc, FileNotFoundError):
            where = f" {exc.filename}" if exc.filename else ""
            return "File not found", f"The file or folder{where} does not exist (moved or deleted?).", _details(exc)
        return "Input/output error", _sentence(exc.strerror or str(exc)), _details(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory", "The computer ran out of memory. Close other programs and try again.", None
    if isinstance(exc, ModuleNotFoundError):
        return ("A component is missing",
                f"Part of Simili is not installed ({exc.name}). Reinstall Simili or install the missing extra.",
                _details(exc))
    return ("Something went wrong",
            "Simili hit an unexpected problem. The details below help to report it; your photos were not changed.",
            _details(exc))


def _sentence(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return "No further information."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _details(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def show_error(parent: QWidget | None, exc: BaseException) -> QMessageBox | None:
    """Show an exception as a clear message (non-blocking); cancellations are quiet and return None."""
    if isinstance(exc, Cancelled):
        return None
    title, text, details = describe(exc)
    if details:
        log.error("%s: %s", title, text, exc_info=exc)
    else:
        log.info("%s: %s", title, text)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if details is None else QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(f"<b>{title}</b>")
    box.setInformativeText(text)
    if details:
        box.setDetailedText(details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("errorBox")
    box.open()
    return box


class _Relay(QObject):
    """Carries exceptions from any thread to the GUI thread."""

    raised = Signal(object)


_relay: _Relay | None = None


def install_hooks(parent_getter=lambda: None) -> None:
    """Route uncaught exceptions (GUI thread and other threads) to :func:`show_error` instead of stderr."""
    global _relay
    _relay = _Relay()
    _relay.raised.connect(lambda exc: show_error(parent_getter(), exc))

    def hook(kind, exc, tb):
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        log.error("uncaught exception", exc_info=(kind, exc, tb))
        if _relay is not None:
            _relay.raised.emit(exc)

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)
