"""Entry point of the desktop app (``simili-gui`` / ``python -m gui``): logging, theme, library, window.

Test and automation flags: ``--home`` (library folder), ``--folder DIR`` (add and index it), ``--query FILE``
(search by it), ``--words TEXT`` (search by words), ``--screenshot OUT.png`` (save the window once everything has
loaded, then exit), ``--quit-after-ready`` (exit once the first screen of photos shows; prints the start time),
``--self-test``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

T0 = time.perf_counter()

__all__ = ["main", "build_parser", "open_window"]

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simili-gui", description="Simili: find visually similar photos.")
    p.add_argument("--home", help="library folder (default: $SIMILI_HOME, the last one used, or the user data dir)")
    p.add_argument("--folder", action="append", default=[], help="add this photo folder and index it")
    p.add_argument("--query", help="search by this image once the library is indexed")
    p.add_argument("--words", help='search by these words once the library is indexed, e.g. "shoes"')
    p.add_argument("--page", choices=("photos", "duplicates", "problems"), help="show this view")
    p.add_argument("--screenshot", help="save a PNG of the window once everything has loaded, then exit")
    p.add_argument("--while-indexing", action="store_true",
                   help="with --folder and --screenshot: take the screenshot a third of the way through indexing")
    p.add_argument("--quit-after-ready", action="store_true", help="exit once the window is usable (benchmarks)")
    p.add_argument("--self-test", action="store_true", help="open the window offscreen, check it, exit 0")
    p.add_argument("--size", default=None, help="window size WxH, e.g. 1440x900")
    p.add_argument("--theme", choices=("auto", "light", "dark"), help="colour scheme (default: follow the system)")
    p.add_argument("--train", action="store_true", help="with --folder: also train DistillHash and wait for it")
    p.add_argument("--timeout", type=float, default=900.0, help="automation gives up after this many seconds")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return p


def _setup_logging(verbose: bool) -> None:
    from logging.handlers import RotatingFileHandler

    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    from engine.api import log_dir

    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / "simili-gui.log", maxBytes=2_000_000, backupCount=3,
                                      encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    except OSError as exc:  # a read-only home must not stop the app
        root.warning("no log file: %s", exc)
    qt_log = logging.getLogger("qt")
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}
    qInstallMessageHandler(lambda kind, _ctx, msg: qt_log.log(levels.get(kind, logging.INFO), msg))


def _state_settings(home_explicit: str | None):
    """GUI state (geometry, splitter, last view): per library when a home is given, else per user."""
    from pathlib import Path

    from PySide6.QtCore import QSettings

    if home_explicit:
        return QSettings(str(Path(home_explicit) / "gui-state.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Simili", "Simili")


def _choose_home(args, user_state) -> tuple[str, str | None]:
    """(home, explicit home or None): --home, $SIMILI_HOME, the last one used (gui.libraries), the default."""
    from engine.api import resolve_home
    from gui.libraries import LibraryHistory

    explicit = args.home or os.environ.get("SIMILI_HOME")
    if explicit:
        return str(resolve_home(explicit)), str(resolve_home(explicit))
    last = LibraryHistory(user_state).last() if user_state is not None else None
    return str(resolve_home(last)), None


def _window_state(home: str, user_state):
    """The GUI state of the library at ``home``: the per-user one for the default library, else its own."""
    from engine.api import resolve_home

    default = None if os.environ.get("SIMILI_HOME") else str(resolve_home(None))
    return user_state if home == default else _state_settings(home)


def open_window(home: str, state, auto_train: bool = True, watch: bool = True):
    """Open the library at ``home`` and build the main window (the QApplication must exist).

    ``watch``: keep up with the library folders (gui.watching; automation runs turn it off).
    """
    from engine.api import Library
    from gui.mainwindow import MainWindow
    from gui.session import LibrarySession
    from gui.thumbnails import ThumbnailLoader
    from gui.watching import FolderWatcher

    library = Library(home)
    session = LibrarySession(library)
    session.auto_train_enabled = auto_train
    window = MainWindow(session, ThumbnailLoader(session.reader.thumbnail_file), state)
    window.destroyed.connect(lambda *_: _close_library(library))
    window.watcher = FolderWatcher(session, window)
    if watch:
        window.watcher.start()
    return window


def launch(args, user_state, home: str | None = None, automated: bool = False):
    """Open the library for ``args`` (``home`` when already chosen) and its window, with File > Open library…

    The window's ``switcher`` (gui.libraries) opens other libraries; a library opened by a person becomes the
    last one used (automation runs leave that alone). Raises when the library cannot be opened.
    """
    from gui.libraries import LibraryHistory, LibrarySwitcher

    if home is None:
        home = _choose_home(args, user_state)[0]
    auto_train = not automated or args.train

    def opener(path: str):
        window = open_window(path, _window_state(path, user_state), auto_train=auto_train, watch=not automated)
        window.switcher = switcher
        return window

    switcher = LibrarySwitcher(LibraryHistory(user_state), opener, remember=not automated)
    window = opener(home)
    switcher.adopt(window)
    return window


def _close_library(library) -> None:
    """Close a window's library once its workers are done (none may outlive it; at exit the pools are gone)."""
    from gui.workers import wait_all

    try:
        wait_all(5000)
    except RuntimeError:  # interpreter exit: Qt's thread pools were deleted first
        pass
    library.close()


def _platform_problem() -> str | None:
    """On Linux, say which packages Qt's X11 plugin lacks (instead of Qt's abort); shown as a notification too."""
    from gui.platform_check import check_before_qt, display_problem

    problem = check_before_qt()
    if problem:
        print(problem, file=sys.stderr)
        import shutil
        import subprocess

        if shutil.which("notify-send") and display_problem(os.environ.get("DISPLAY")) is None:
            try:
                subprocess.Popen(["notify-send", "-u", "critical", "Simili cannot start", problem])
            except OSError:
                pass
    return problem


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    automated = bool(args.screenshot or args.quit_after_ready or args.self_test)
    if automated and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = _platform_problem()
    if problem:
        return 1
    _setup_logging(args.verbose)

    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication, QMessageBox

    from gui.errors import describe, install_hooks
    from gui.resources import app_icon
    from gui.theme import apply_theme

    QCoreApplication.setOrganizationName("Simili")
    QCoreApplication.setApplicationName("Simili")
    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("simili")
    user_state = _state_settings(None)
    home, _explicit = _choose_home(args, user_state)
    state = _window_state(home, user_state)
    apply_theme(app, args.theme or str(state.value("ui/theme", "auto")))
    switcher = []
    install_hooks(lambda: switcher[0].window if switcher else None)

    try:
        window = launch(args, user_state, home, automated)
    except Exception as exc:  # noqa: BLE001 - the library cannot be opened: say why, exit cleanly
        title, text, details = describe(exc)
        log.error("cannot open the library %s: %s", home, text, exc_info=exc)
        if not automated:
            QMessageBox.critical(None, title, f"{text}\n\nLibrary: {home}")
        else:
            print(f"simili-gui: {title}: {text}", file=sys.stderr)
        return 1
    switcher.append(window.switcher)
    if args.size:
        w, h = (int(v) for v in args.size.lower().split("x"))
        window.resize(w, h)
    if args.page:
        window.show_page(args.page)
    window.show()
    if not automated and not args.folder and not args.query and not args.words:
        return app.exec()

    from gui.automation import Automation

    auto = Automation(window, args, T0)
    auto.start()
    code = app.exec()
    return auto.exit_code if auto.exit_code is not None else code


if __name__ == "__main__":
    sys.exit(main())
