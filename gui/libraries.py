"""Which library the app opens: the last one used, File > Open library… and File > Recent libraries.

:class:`LibraryHistory` keeps the last library and the recent ones in the per-user settings (QSettings; the key
``library/home`` is also where Settings > Library location puts the library to open next time).
:class:`LibrarySwitcher` owns the one main window: switching library builds the new window first (a library that
cannot be opened leaves the old one as it was), then closes the old one, whose close stops its jobs and waits for
its workers (``LibrarySession.shutdown``) before its library is closed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from engine.api import is_library
from gui.errors import show_error

__all__ = ["MAX_RECENT", "LibraryHistory", "LibrarySwitcher", "usable_library_folder"]

log = logging.getLogger(__name__)

MAX_RECENT = 8
KEY_LAST = "library/home"
KEY_RECENT = "library/recent"


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(path))))


class LibraryHistory:
    """The last library opened and the recent ones (newest first, no repeats, at most :data:`MAX_RECENT`)."""

    def __init__(self, settings: QSettings):
        self.settings = settings

    def last(self) -> str | None:
        """The library to open when none is named, if its folder is there (an unplugged drive's is not)."""
        value = self.settings.value(KEY_LAST, "")
        if not value or not isinstance(value, str):
            return None
        if not Path(value).is_dir():
            log.info("the last library %s is not there; opening the default one", value)
            return None
        return _norm(value)

    def recent(self) -> list[str]:
        value = self.settings.value(KEY_RECENT, [])
        if isinstance(value, str):  # QSettings gives a one-item list back as a string
            value = [value] if value else []
        if not isinstance(value, list):
            return []
        out: list[str] = []
        for v in value:
            if isinstance(v, str) and v and _norm(v) not in out:
                out.append(_norm(v))
        return out[:MAX_RECENT]

    def remember(self, home: str | os.PathLike[str]) -> None:
        """``home`` was opened: it is the last library and heads the recent ones."""
        home = _norm(home)
        self.settings.setValue(KEY_LAST, home)
        self.settings.setValue(KEY_RECENT, [home] + [p for p in self.recent() if p != home][: MAX_RECENT - 1])
        self.settings.sync()

    def open_next_time(self, home: str | os.PathLike[str]) -> None:
        """Open ``home`` at the next start (Settings > Library location), without opening it now."""
        self.settings.setValue(KEY_LAST, _norm(home))
        self.settings.sync()


def usable_library_folder(path: str) -> bool:
    """A folder that holds a library, or an empty one to start a new library in (never a folder of photos)."""
    p = Path(path)
    if is_library(p):
        return True
    try:
        return p.is_dir() and not any(p.iterdir())
    except OSError:
        return False


class LibrarySwitcher(QObject):
    """Keeps the app's one main window and switches it to another library.

    Args:
        history: where the last and recent libraries are kept.
        opener: ``opener(home) -> MainWindow`` opens a library and builds its window (raises when it cannot).
        remember: whether opening a library makes it the last one (automation runs leave the history alone).

    Signals:
        switched(window): the new window is shown and the old one closed.
    """

    switched = Signal(object)

    def __init__(self, history: LibraryHistory, opener: Callable[[str], QWidget], remember: bool = True,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.history = history
        self.opener = opener
        self.remember = remember
        self.window = None

    def adopt(self, window) -> None:
        """``window`` is the app's window now: add the library actions to its File menu, remember its library."""
        self.window = window
        if self.remember:
            self.history.remember(str(window.session.home))
        self._install_menu(window)

    def open_library(self, home: str) -> bool:
        """Switch to the library at ``home``; False (the old window left as it was) when it cannot be opened."""
        old = self.window
        home = _norm(home)
        if old is not None and _norm(old.session.home) == home:
            return True
        if old is not None:
            old.save_state()
        try:
            new = self.opener(home)
        except Exception as exc:  # noqa: BLE001 - said to the user; the old library stays open
            log.error("cannot open the library %s", home, exc_info=exc)
            show_error(old, exc)
            return False
        if old is not None:
            if not old.isMaximized():
                new.resize(old.size())
            new.move(old.pos())
        self.adopt(new)
        new.show()
        if old is not None:
            old.close()  # stops its jobs and waits for its workers (MainWindow.closeEvent)
            old.deleteLater()  # then its library closes (gui.app.open_window)
        self.switched.emit(new)
        return True

    # -- the File menu -------------------------------------------------------------------------------
    def _install_menu(self, window) -> None:
        menu = window.menuBar().actions()[0].menu()  # File
        first = menu.actions()[0] if menu.actions() else None
        act = QAction("Open library…", window)
        act.setShortcut(QKeySequence("Ctrl+Shift+O"))
        tip = "Open another library, or start a new one in an empty folder (Ctrl+Shift+O)"
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.triggered.connect(self.on_open_library)
        recent = QMenu("Recent libraries", window)
        recent.setObjectName("recentLibraries")
        recent.aboutToShow.connect(lambda: self._fill_recent(recent))
        menu.insertAction(first, act)
        menu.insertMenu(first, recent)
        menu.insertSeparator(first)
        window.act_open_library, window.recent_menu = act, recent
        self._fill_recent(recent)

    def _fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        current = _norm(self.window.session.home) if self.window is not None else None
        for home in self.history.recent():
            act = menu.addAction(home)
            there = Path(home).is_dir()
            act.setEnabled(there and home != current)  # greyed out: a drive unplugged, a folder gone
            act.setCheckable(True)
            act.setChecked(home == current)
            act.setToolTip(home if there else f"{home} is not there (a drive unplugged?)")
            act.triggered.connect(lambda _=False, h=home: self.open_library(h))
        if menu.isEmpty():
            menu.addAction("No other libraries yet").setEnabled(False)

    def on_open_library(self) -> None:
        parent = self.window
        start = str(Path(str(self.window.session.home)).parent) if self.window is not None else str(Path.home())
        path = QFileDialog.getExistingDirectory(parent, "Open a library, or choose an empty folder for a new one",
                                                start)
        if not path:
            return
        if not usable_library_folder(path):
            QMessageBox.information(
                parent, "Not a library",
                f"{path} holds no Simili library.\n\nChoose a folder that holds one, or an empty folder to start "
                "a new library there. (Photo folders are added with “Add photo folder…”.)")
            return
        self.open_library(path)
