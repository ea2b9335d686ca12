"""The library keeps up by itself: watch the library folders while the app runs and index what changed.

One watch per *folder*, never per file (inotify allows 8,192 per user on many systems, and other programs need
some): the library folders and their subfolders, breadth first, up to :data:`MAX_WATCHED` of them. A library with
more folders than that is rescanned instead when the app becomes active again (throttled), and a few times an hour.

Changes are debounced (:data:`QUIET_MS` of quiet, at most :data:`MAX_WAIT_MS` after the first one) and start the
normal index job through the session's queue: never two at once, and a running training is never paused for it
(the rescan waits its turn). Listing the folders runs off the GUI thread, so a slow or unplugged drive never
stalls the window; an offline folder is simply not watched until it is back.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from collections.abc import Iterable

from PySide6.QtCore import QEvent, QFileSystemWatcher, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication

from gui.workers import FunctionWorker, start

__all__ = ["MAX_WATCHED", "FolderWatcher", "folders_to_watch"]

log = logging.getLogger(__name__)

MAX_WATCHED = 400  # directories; beyond that, rescans on activation and every few minutes
QUIET_MS = 1500  # a change starts a rescan after this much quiet...
MAX_WAIT_MS = 6000  # ...or this long after the first change, when changes keep coming (a long copy)
ACTIVE_RESCAN_S = 30.0  # the app became active: rescan when the last rescan is older (not everything watched)
ACTIVE_RESCAN_WATCHED_S = 300.0  # ... and when every folder is watched (network shares miss remote changes)
RELIST_MS = 60_000  # list the folders again: new subfolders, a drive plugged back in


def folders_to_watch(folders: Iterable[str], excluded: Iterable[str] = (), skipped_names: Iterable[str] = (),
                     cap: int = MAX_WATCHED) -> tuple[list[str], bool, list[str]]:
    """The directories to watch: ``(dirs, complete, online)``.

    Breadth first from every library folder (the top levels first when capped), skipping what the scanner skips:
    hidden folders, excluded folders and folders whose name matches ``skipped_names``. ``complete`` is False when
    the cap cut the list short; ``online`` are the library folders that could be listed. Runs off the GUI thread.
    """
    excluded_set = {os.path.normpath(e) for e in excluded}
    patterns = [p.lower() for p in skipped_names]
    dirs: list[str] = []
    online: list[str] = []
    seen: set[tuple[int, int]] = set()
    queue = [os.path.normpath(f) for f in folders]
    roots = set(queue)
    complete = True
    while queue:
        folder = queue.pop(0)
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:  # offline (a drive unplugged), gone or unreadable: normal, nothing to watch there
            continue
        seen.add((st.st_dev, st.st_ino))
        if folder in roots:
            online.append(folder)
        if len(dirs) >= cap:
            complete = False
            break
        dirs.append(folder)
        for entry in sorted(entries, key=lambda e: e.name):
            name = entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                continue
            if is_dir and not name.startswith(".") and os.path.normpath(entry.path) not in excluded_set \
                    and not any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns):
                queue.append(entry.path)
    return dirs, complete, online


class FolderWatcher(QObject):
    """Watches one session's library folders and starts its index job when they change.

    Args:
        session: the window's ``gui.session.LibrarySession``.
        window: the main window; closing it stops the watching (before its session shuts down).
        cap: how many directories at most are watched.

    ``enabled`` follows the library's ``Settings.watch_folders`` (checked again whenever the library changes).
    ``rescans`` counts the rescans this watcher started; ``complete`` says whether every folder is watched.
    """

    def __init__(self, session, window=None, cap: int = MAX_WATCHED, quiet_ms: int = QUIET_MS):
        super().__init__(window)
        self.session = session
        self.cap = cap
        self.rescans = 0
        self.complete = True
        self.enabled = False
        self._stopped = False
        self._started = False
        self._online: set[str] | None = None
        self._listing = False
        self._list_again = False
        self._last_rescan = 0.0
        self._first_change: float | None = None
        self._fs = QFileSystemWatcher(self)
        self._fs.directoryChanged.connect(self._on_changed)
        self._quiet = QTimer(self)
        self._quiet.setSingleShot(True)
        self._quiet_ms = quiet_ms
        self._quiet.timeout.connect(self._on_quiet)
        self._relist = QTimer(self)
        self._relist.setInterval(RELIST_MS)
        self._relist.timeout.connect(self._on_relist)
        self._window = window
        if window is not None:
            window.installEventFilter(self)

    # -- life ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin: a rescan now (photos added while the app was closed), then watch. Does nothing when turned off."""
        self._started = True
        self.session.library_changed.connect(self._sync_setting)
        self.session.folders_changed.connect(lambda _folders: self._list())
        app = QGuiApplication.instance()
        if app is not None:
            app.applicationStateChanged.connect(self._on_app_state)
        self._sync_setting()

    def stop(self) -> None:
        """Stop watching for good (the window is closing): no rescan starts after this."""
        self._stopped = True
        self._set_enabled(False)
        if not self._started:
            return
        self._started = False
        try:
            self.session.library_changed.disconnect(self._sync_setting)
        except (RuntimeError, TypeError):
            pass
        app = QGuiApplication.instance()
        if app is not None:
            try:
                app.applicationStateChanged.disconnect(self._on_app_state)
            except (RuntimeError, TypeError):
                pass

    def eventFilter(self, obj, event) -> bool:
        if obj is self._window and event.type() == QEvent.Type.Close:
            self.stop()
        return False

    def watched(self) -> list[str]:
        return list(self._fs.directories())

    def _sync_setting(self) -> None:
        if self._stopped:
            return
        wanted = bool(getattr(self.session.settings, "watch_folders", True))
        if wanted == self.enabled:
            return
        self._set_enabled(wanted)
        if wanted:
            self.rescan()  # what changed while nobody watched (the app closed, the setting off)
            self._list()

    def _set_enabled(self, on: bool) -> None:
        self.enabled = on
        if on:
            self._relist.start()
            return
        self._relist.stop()
        self._quiet.stop()
        self._first_change = None
        if self._fs.directories():
            self._fs.removePaths(self._fs.directories())

    # -- listing the folders (off the GUI thread) ----------------------------------------------------
    def _list(self) -> None:
        if not self.enabled or self._stopped:
            return
        if self._listing:
            self._list_again = True
            return
        self._listing = True
        s = self.session.settings
        # The library's own folders are never watched, even inside a photo folder: its writes would start rescans.
        own = [str(self.session.home), str(self.session.reader.cache_dir)]
        worker = FunctionWorker(folders_to_watch, self.session.folders(), list(s.excluded) + own,
                                list(s.skipped_names), self.cap)
        worker.returned.connect(self._on_listed)
        worker.errored.connect(self._on_list_failed)
        start(worker, "io")

    def _on_list_failed(self, exc: BaseException) -> None:
        self._listing = False
        log.warning("cannot list the library folders to watch them: %s", exc)

    def _on_listed(self, result) -> None:
        self._listing = False
        if not self.enabled or self._stopped:
            return
        dirs, complete, online = result
        had = set(self._fs.directories())
        new = [d for d in dirs if d not in had]
        gone = [d for d in had if d not in set(dirs)]
        if gone:
            self._fs.removePaths(gone)
        failed = self._fs.addPaths(new) if new else []
        if failed:
            log.info("cannot watch %d folders (the system's limit?); rescans cover them", len(failed))
        self.complete = complete and not failed
        back = self._online is not None and bool(set(online) - self._online)
        first = self._online is None
        self._online = set(online)
        if back or (new and not first and had):
            # A drive came back, or new subfolders appeared: photos may have landed there before they were watched.
            self._changed_now()
        if self._list_again:
            self._list_again = False
            self._list()

    # -- changes -------------------------------------------------------------------------------------
    def _on_changed(self, path: str) -> None:
        if not self.enabled or self._stopped:
            return
        log.debug("changed: %s", path)
        self._changed_now()

    def _changed_now(self) -> None:
        now = time.monotonic()
        if self._first_change is None:
            self._first_change = now
        waited_ms = (now - self._first_change) * 1000
        self._quiet.start(max(0, min(self._quiet_ms, int(MAX_WAIT_MS - waited_ms))))

    def _on_quiet(self) -> None:
        self._first_change = None
        if not self.enabled or self._stopped:
            return
        self.rescan()
        self._list()  # new subfolders get watched

    def rescan(self) -> None:
        """Start the index job through the session's queue (it waits for a running job)."""
        if self._stopped or not self.session.folders():
            return
        self.rescans += 1
        self._last_rescan = time.monotonic()
        self.session.start_index(auto=True)

    def _on_app_state(self, state) -> None:
        if state == Qt.ApplicationState.ApplicationActive:
            self.on_activated()

    def on_activated(self) -> None:
        """The app became active again: list the folders, and rescan unless one ran a short while ago."""
        if not self.enabled or self._stopped:
            return
        every = ACTIVE_RESCAN_WATCHED_S if self.complete and not self._offline() else ACTIVE_RESCAN_S
        if time.monotonic() - self._last_rescan >= every:
            self.rescan()
        self._list()

    def _offline(self) -> bool:
        return self._online is not None and len(self._online) < len(self.session.folders())

    def _on_relist(self) -> None:
        self._list()
        if not self.complete and time.monotonic() - self._last_rescan >= 10 * RELIST_MS / 1000:
            self.rescan()  # folders beyond the cap: a rescan every ten minutes
