"""The sidebar's Duplicates count: remembered between runs, and counted again in the background when it is stale.

Finding duplicates compares photos' pixels, so it is never run on the GUI thread nor on every start. The count is
kept in the window's state with a key of what it was counted on (library, photo count, active model, duplicate
settings). At start the remembered count is shown when the key still matches; otherwise, and whenever an index run,
a removed folder or a training changes the photos or their codes, the duplicates are counted again on their own
pool, after the running job has ended, so searches and indexing never wait for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from engine.errors import Cancelled
from engine.types import Progress
from gui.session import JOB_INDEX, LibrarySession
from gui.workers import FunctionWorker, if_alive, start

__all__ = ["DuplicateCounter"]

log = logging.getLogger(__name__)

COUNT_KEY = "duplicates/count"
BASIS_KEY = "duplicates/basis"


class DuplicateCounter(QObject):
    """Keeps the Duplicates count true; ``counted(n)`` each time it is known (n = groups, sure and maybe).

    Args:
        session: the library's session (its read-only view is asked, on the ``dupes`` pool).
        state: the window's state, where the count and its basis are remembered.
    """

    counted = Signal(int)

    def __init__(self, session: LibrarySession, state: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.state = state
        self._token = 0
        self._wanted = False  # a recount waits for the running job to end
        self._stop = threading.Event()
        self._folders = set(session.folders())
        session.job_ended.connect(self.on_job_ended)
        session.folders_changed.connect(self.on_folders_changed)

    def basis(self) -> str:
        """What a count depends on; a different basis means the remembered count may be wrong (worker thread)."""
        reader = self.session.reader
        s = reader.settings
        active = next((m for m in reader.models() if m.active), None)
        model = f"{active.id}:{active.kind}:{active.bits}:{active.created}" if active else "none"
        return (f"{reader.home}|{reader.photo_count()}|{model}|{s.dupe_max_distance}|{s.dupe_min_cosine}")

    def start(self) -> None:
        """Show the remembered count when it still holds, else count again (in the background)."""
        self._wanted = True
        self._run_when_idle()

    def invalidate(self) -> None:
        """The photos changed: forget the remembered count and count again once no job runs."""
        self.state.remove(BASIS_KEY)
        self.start()

    def remember(self, groups: int) -> None:
        """The Duplicates page found ``groups``: keep that count with its basis (the basis is read off-thread)."""
        self._token += 1
        token = self._token
        self.counted.emit(groups)
        worker = FunctionWorker(self.basis)
        worker.returned.connect(lambda basis: self._on_counted(token, (basis, groups)))
        worker.errored.connect(lambda exc: log.debug("duplicates basis unknown: %s", exc))
        start(worker, "dupes")

    def stop(self) -> None:
        """The window closes: a count under way gives up at its next step."""
        self._stop.set()

    def on_job_ended(self, kind: str, outcome: str, payload: Any) -> None:
        """An index run that changed photos voids the count; any other job end checks the basis again."""
        if kind == JOB_INDEX and outcome == "done" and _changed(payload):
            self.invalidate()
        else:
            self.start()

    def on_folders_changed(self, folders: list[str]) -> None:
        """A removed folder takes its photos' groups with it (an added one is counted after its index run)."""
        gone = self._folders - set(folders)
        self._folders = set(folders)
        if gone:
            self.invalidate()

    def _run_when_idle(self) -> None:
        # On the next turn of the event loop: a job the session starts right after this signal is seen running.
        QTimer.singleShot(0, self, self._run_now)

    def _run_now(self) -> None:
        if not self._wanted or self.session.running() is not None or self._stop.is_set():
            return
        self._wanted = False
        self._token += 1
        token = self._token
        remembered = (str(self.state.value(BASIS_KEY, "")), self.state.value(COUNT_KEY, None))
        worker = FunctionWorker(self._count, remembered)
        worker.returned.connect(lambda found: self._on_counted(token, found))
        worker.errored.connect(lambda exc: isinstance(exc, Cancelled) or log.warning(
            "could not count the duplicates: %s", exc))
        start(worker, "dupes")

    def _count(self, remembered: tuple[str, Any]) -> tuple[str, int]:
        """Worker thread: the remembered count if its basis holds, else the number of groups found now."""
        basis = self.basis()
        if remembered[0] == basis and remembered[1] is not None:
            return basis, int(remembered[1])
        return basis, len(self.session.reader.duplicates(progress=self._check_stop))

    def _check_stop(self, _step: Progress) -> None:
        if self._stop.is_set():
            raise Cancelled("the window closed")

    @if_alive
    def _on_counted(self, token: int, found: tuple[str, int]) -> None:
        if token != self._token:
            return  # a newer count (or the Duplicates page) has the last word
        basis, groups = found
        self.state.setValue(BASIS_KEY, basis)
        self.state.setValue(COUNT_KEY, groups)
        self.counted.emit(groups)


def _changed(report: Any) -> bool:
    """Whether an index run changed the photos (``engine.types.IndexReport``; anything else counts as a change)."""
    fields = ("added", "updated", "removed", "moved")
    if not all(hasattr(report, f) for f in fields):
        return True
    return any(getattr(report, f) for f in fields)
