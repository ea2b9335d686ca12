"""What can be done to one photo from any view: open, reveal, copy its path, find similar, view (context menu)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu, QWidget

from engine.types import Photo
from gui.resources import icon

__all__ = ["open_external", "reveal_in_file_manager", "copy_path", "photo_menu"]

log = logging.getLogger(__name__)


def open_external(path: str) -> bool:
    """Open a file with the system's default application."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def reveal_in_file_manager(path: str) -> bool:
    """Show the file selected in the system file manager (its folder, where selecting is not possible)."""
    p = Path(path)
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(p)])
            return True
        if sys.platform.startswith("win"):
            subprocess.Popen(["explorer", "/select,", str(p)])
            return True
        if _freedesktop_show_items(p):
            return True
    except OSError as exc:
        log.info("could not reveal %s: %s", p, exc)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(p.parent)))


def _freedesktop_show_items(path: Path) -> bool:
    """org.freedesktop.FileManager1.ShowItems over D-Bus (Nautilus, Dolphin, Nemo, Thunar...)."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    iface = QDBusInterface("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                           "org.freedesktop.FileManager1", bus)
    if not iface.isValid():
        return False
    reply = iface.call("ShowItems", [QUrl.fromLocalFile(str(path)).toString()], "")
    return not reply.errorName()


def copy_path(paths: list[str]) -> None:
    QGuiApplication.clipboard().setText("\n".join(paths))


def photo_menu(parent: QWidget, photo: Photo, selected: list[Photo], *, on_similar: Callable[[Photo], None],
               on_view: Callable[[Photo], None], on_trash: Callable[[list[Photo]], None] | None = None) -> QMenu:
    """The context menu of a photo (``selected`` are all selected photos, for copy and trash)."""
    targets = selected if photo in selected else [photo]
    menu = QMenu(parent)
    menu.addAction(icon("similar"), "Find similar photos", lambda: on_similar(photo))
    menu.addAction(icon("viewer"), "View", lambda: on_view(photo))
    menu.addSeparator()
    menu.addAction(icon("open-external"), "Open with default app", lambda: open_external(photo.path))
    menu.addAction(icon("reveal"), "Show in file manager", lambda: reveal_in_file_manager(photo.path))
    label = "Copy path" if len(targets) == 1 else f"Copy {len(targets)} paths"
    menu.addAction(icon("copy"), label, lambda: copy_path([p.path for p in targets]))
    if on_trash is not None:
        menu.addSeparator()
        label = "Move to trash…" if len(targets) == 1 else f"Move {len(targets)} photos to trash…"
        menu.addAction(icon("trash"), label, lambda: on_trash(targets))
    return menu


def popup(menu: QMenu, pos: QPoint) -> None:
    menu.popup(pos)
