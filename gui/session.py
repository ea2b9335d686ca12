"""The GUI's handle on one library: background jobs (index, train), queries, settings, and their signals.

One facade per window: ``library`` runs the one mutating job at a time (the engine's writer lock), and ``reader``,
its read-only view (``Library.view()``), answers queries and pages for the views. The view keeps its own search
index, so a search never reads an index that the running job is changing; it reloads when the job saves a new
generation. Settings are the library's own, so both always agree.
Widgets never call the engine directly for anything slow: they call this object and listen to its signals.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.types import LibraryFacade
from engine.errors import Cancelled, SimiliError, TrainingUnavailable
from engine.types import Photo, Progress, Settings
from gui.workers import FunctionWorker, GeneratorWorker, start

__all__ = ["LibrarySession", "JOB_INDEX", "JOB_TRAIN"]

log = logging.getLogger(__name__)

JOB_INDEX = "index"
JOB_TRAIN = "train"
ANY_DISTANCE = 1 << 12  # larger than any code length: the slider filters locally
REFRESH_EVERY_S = 2.0


class LibrarySession(QObject):
    """Owns the jobs and the queries of one library.

    Args:
        library: the library's facade (``engine.api.Library`` or a test double); its jobs run here, and its
            read-only view (``library.view()``) answers the queries.

    Signals:
        progress(kind, Progress): a running job moved on.
        job_started(kind) / job_ended(kind, outcome, payload): outcome is ``done`` (payload: the result),
            ``cancelled``, ``paused`` or ``failed`` (payload: the exception).
        library_changed(): photos or codes changed; views reload.
        folders_changed(list): the library's folders.
        device_known(bool, str): whether training runs on a GPU, and the reason or device name.
        training_note(str): why training did not start by itself (shown quietly, not as a dialog).
        error(exception): something the user asked for failed; show it.
    """

    progress = Signal(str, object)
    job_started = Signal(str)
    job_ended = Signal(str, str, object)
    library_changed = Signal()
    folders_changed = Signal(list)
    device_known = Signal(bool, str)
    training_note = Signal(str)
    error = Signal(object)

    def __init__(self, library: LibraryFacade, parent: QObject | None = None):
        super().__init__(parent)
        self.library = library
        self.reader = library.view()
        self._job: tuple[str, GeneratorWorker] | None = None
        self._queue: list[str] = []
        self._train_stop = threading.Event()
        self._train_discard = False
        self._user_paused = False
        self._auto = False
        self._index_quiet = False  # the pending index run is only gui.watching's
        self.auto_train_enabled = True  # automation runs (screenshots, benchmarks) turn it off
        self._last_refresh = 0.0
        self.last_progress: Progress | None = None

    # -- state ---------------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return Path(self.reader.home)

    @property
    def settings(self) -> Settings:
        return self.reader.settings

    def running(self) -> str | None:
        """The kind of job running now, or None."""
        return self._job[0] if self._job else None

    def folders(self) -> list[str]:
        return list(self.reader.folders())

    def offline_folders(self) -> list[str]:
        return list(self.reader.offline_folders())

    def active_bits(self) -> int:
        active = next((m for m in self.reader.models() if m.active), None)
        return active.bits if active else self.settings.bits

    def active_model_kind(self) -> str | None:
        active = next((m for m in self.reader.models() if m.active), None)
        return active.kind if active else None

    # -- folders -------------------------------------------------------------------------------------
    def add_folders(self, paths: list[str]) -> None:
        """Add folders to the library (checked first) and index them in the background."""
        good = []
        for raw in paths:
            path = Path(raw).expanduser().absolute()
            if not path.is_dir():
                self.error.emit(SimiliError(f"{path} is not a folder"))
            elif not os.access(path, os.R_OK | os.X_OK):
                self.error.emit(SimiliError(f"the folder {path} cannot be read (permission denied)"))
            else:
                good.append(str(path))
        if not good:
            return
        worker = FunctionWorker(lambda: [self.library.add_folder(p) for p in good])
        worker.returned.connect(lambda _: self._on_folders_added())
        worker.errored.connect(self.error.emit)
        start(worker, "io")

    def _on_folders_added(self) -> None:
        self.folders_changed.emit(self.folders())
        self.start_index()

    def remove_folder(self, path: str) -> None:
        """Forget a folder and its photos (the files are never touched); stops a running job first."""
        if self._job:
            self._stop_current(pause_training=True)
        worker = FunctionWorker(self.library.remove_folder, path)
        worker.returned.connect(lambda _: self._on_folder_removed())
        worker.errored.connect(self.error.emit)
        start(worker, "job")  # the job pool has one thread: this runs after the stopped job has let go

    def _on_folder_removed(self) -> None:
        self.folders_changed.emit(self.folders())
        self.library_changed.emit()
        self._run_next()

    # -- jobs ----------------------------------------------------------------------------------------
    def start_index(self, *, auto: bool = False) -> None:
        """Scan every folder and encode new photos (queued when another job runs).

        ``auto``: a rescan nobody asked for (gui.watching): it waits for running training instead of pausing it,
        and when it fails (the library busy in another window, read-only, a full disk) that is logged, not shown.
        """
        if self.running() == JOB_TRAIN and not auto:
            self._stop_current(pause_training=True)
        if not auto:
            self._index_quiet = False
        elif self.running() != JOB_INDEX and JOB_INDEX not in self._queue:
            self._index_quiet = True
        self._enqueue(JOB_INDEX)

    def start_training(self, auto: bool = False) -> None:
        """Train DistillHash in the background (resumes from the engine's checkpoint when there is one)."""
        self._auto = auto
        if not auto:
            self._user_paused = False
            ok, why = self.reader.training_available()
            if not ok:
                self.error.emit(TrainingUnavailable(why))
                return
        self._enqueue(JOB_TRAIN)

    def pause_training(self) -> None:
        """Stop training but keep the engine's checkpoint: the next run resumes from it."""
        if self.running() == JOB_TRAIN:
            self._user_paused = True
            self._train_stop.set()

    def cancel(self) -> None:
        """Stop the running job; a cancelled training also discards its checkpoint."""
        if self._job is None:
            return
        kind, worker = self._job
        if kind == JOB_TRAIN:
            self._user_paused = True
            self._train_discard = True
            self._train_stop.set()
        self._queue = [k for k in self._queue if k != kind]
        worker.quit()

    def _stop_current(self, pause_training: bool) -> None:
        kind, worker = self._job
        if kind == JOB_TRAIN:
            # should_stop lets the engine end at a safe point with its checkpoint saved; no hard quit.
            self._train_stop.set()
            if pause_training and JOB_TRAIN not in self._queue:
                self._queue.append(JOB_TRAIN)  # resume after the job that pre-empted it
            return
        worker.quit()

    def _enqueue(self, kind: str) -> None:
        if self.running() == kind and kind == JOB_INDEX:
            if kind not in self._queue:
                self._queue.append(kind)  # folders changed while scanning: scan again afterwards
            return
        if self.running() == kind or kind in self._queue:
            return
        if kind == JOB_INDEX:
            self._queue.insert(0, kind)
        else:
            self._queue.append(kind)
        if self._job is None:
            self._run_next()

    def _run_next(self) -> None:
        if self._job is not None or not self._queue:
            return
        kind = self._queue.pop(0)
        if kind == JOB_INDEX:
            worker = GeneratorWorker(self.library.index)
        else:
            self._train_stop.clear()
            self._train_discard = False
            worker = GeneratorWorker(self._train_job)
        self._job = (kind, worker)
        worker.yielded.connect(lambda item, k=kind: self._on_yielded(k, item))
        worker.returned.connect(lambda result, k=kind: self._on_job_returned(k, result))
        worker.errored.connect(lambda exc, k=kind: self._on_job_errored(k, exc))
        self.last_progress = None
        self.job_started.emit(kind)
        start(worker, "job")

    def _train_job(self):
        """Runs in the worker thread; torch is imported there by the engine, never on the GUI thread."""
        ok, why = self.reader.gpu_status()
        yield ("device", ok, why)
        # A child process: importing torch and training must never stall the window (GIL).
        return (yield from self.library.train_in_subprocess(device=self.settings.device,
                                                           should_stop=self._train_stop.is_set))

    def _on_yielded(self, kind: str, item: Any) -> None:
        if isinstance(item, tuple) and item and item[0] == "device":
            self.device_known.emit(bool(item[1]), str(item[2]))
            return
        self.last_progress = item
        self.progress.emit(kind, item)
        now = time.monotonic()
        if kind == JOB_INDEX and item.stage == "encode" and now - self._last_refresh > REFRESH_EVERY_S:
            self._last_refresh = now
            self.library_changed.emit()  # photos appear in the grid while they are encoded

    def _on_job_returned(self, kind: str, result: Any) -> None:
        self._job = None
        if kind == JOB_TRAIN and self._train_stop.is_set() and result is None:
            self.job_ended.emit(kind, "cancelled" if self._train_discard else "paused", result)
        else:
            self.job_ended.emit(kind, "done", result)
        self.library_changed.emit()
        if kind == JOB_INDEX and not (self._index_quiet and not getattr(result, "added", 1)):
            self._maybe_auto_train()  # (not after an automatic rescan that found no new photo)
        self._run_next()

    def _on_job_errored(self, kind: str, exc: BaseException) -> None:
        self._job = None
        stopped = isinstance(exc, Cancelled)
        if kind == JOB_TRAIN and (stopped or self._train_stop.is_set()):
            outcome = "cancelled" if self._train_discard else "paused"
            if self._train_discard:
                self._discard_checkpoint()
        else:
            outcome = "cancelled" if stopped else "failed"
        self.job_ended.emit(kind, outcome, exc)
        if outcome == "failed" and kind == JOB_TRAIN and self._auto:
            from gui.errors import describe

            self.training_note.emit(describe(exc)[1])  # training nobody asked for fails quietly
        elif outcome == "failed" and kind == JOB_INDEX and self._index_quiet:
            log.warning("an automatic rescan failed: %s", exc)  # so does a rescan nobody asked for
        elif outcome == "failed":
            self.error.emit(exc)
        self.library_changed.emit()
        self._run_next()

    def _discard_checkpoint(self) -> None:
        worker = FunctionWorker(self.library.discard_training)
        worker.errored.connect(lambda exc: log.warning("could not discard the training checkpoint: %s", exc))
        start(worker, "job")

    def _maybe_auto_train(self) -> None:
        s = self.settings
        if not (s.auto_train and self.auto_train_enabled) or self._user_paused or JOB_TRAIN in self._queue:
            return
        try:
            if self.reader.photo_count() < s.auto_train_min_photos:
                return
            if self.active_model_kind() == "distillhash":
                return
            ok, why = self.reader.training_available()
        except SimiliError as exc:
            self.training_note.emit(str(exc))
            return
        if not ok:
            self.training_note.emit(why)
            return
        self._auto = True
        self._enqueue(JOB_TRAIN)

    # -- queries -------------------------------------------------------------------------------------
    def query(self, func: Callable[..., Any], *args: Any, pool: str = "query", **kwargs: Any) -> FunctionWorker:
        """Run ``func`` off the GUI thread; connect to the returned worker's ``returned``/``errored``."""
        worker = FunctionWorker(func, *args, **kwargs)
        start(worker, pool)
        return worker

    def similar(self, photo_id: int) -> FunctionWorker:
        """Neighbours of a library photo: ``returned((neighbors, bits))``."""
        return self.query(self._similar, photo_id)

    def similar_to_image(self, path: str) -> FunctionWorker:
        return self.query(self._similar_to_image, path)

    def similar_to_text(self, text: str) -> FunctionWorker:
        """Photos showing what words say: ``returned((neighbors, bits, WordMatches))``."""
        return self.query(self._similar_to_text, text)

    def _similar_to_text(self, text: str):
        found = self.reader.similar_to_text(text, k=self.settings.similar_k)
        return found.results, self.active_bits(), found

    def _similar(self, photo_id: int):
        found = self.reader.similar(photo_id, k=self.settings.similar_k, max_distance=ANY_DISTANCE)
        return found, self.active_bits()

    def _similar_to_image(self, path: str):
        found = self.reader.similar_to_image(path, k=self.settings.similar_k, max_distance=ANY_DISTANCE)
        return found, self.active_bits()

    def similar_refined(self, photo_id: int, more: list[int], less: list[int]) -> FunctionWorker:
        """Photos like ``photo_id`` and ``more``, unlike ``less`` ("more/not like this"): ``returned((neighbors, bits))``."""
        return self.query(self._similar_refined, int(photo_id), list(more), list(less))

    def _similar_refined(self, photo_id: int, more: list[int], less: list[int]):
        found = self.reader.similar_refined(photo_id, more=more, less=less, k=self.settings.similar_k)
        return found, self.active_bits()

    def gpu_status(self) -> FunctionWorker:
        """Whether training can use a GPU: ``returned((ok, text))``."""
        return self.query(self.reader.gpu_status, pool="io")

    def duplicates(self, progress: Callable[[Progress], None] | None = None) -> FunctionWorker:
        """Duplicate groups: ``returned(list of DuplicateGroup)``; ``progress`` is called on the worker thread."""
        return self.query(self.reader.duplicates, progress=progress)

    def failures(self) -> FunctionWorker:
        return self.query(self.reader.failures, pool="io")

    def move_to_trash(self, photos: list[Photo]) -> FunctionWorker:
        """Send photos' files to the system trash (never deletes), then rescan so the library forgets them:
        ``returned((moved paths, [(path, exception), ...] of the files that could not be moved))``. A RAW photo's
        camera JPEG (``Photo.companion``: one photo, two files) goes with it, or it would come back as a photo."""
        worker = self.query(_trash, [(p.path, p.companion) for p in photos], pool="io")
        worker.returned.connect(lambda result: result[0] and self.start_index())
        return worker

    # -- settings ------------------------------------------------------------------------------------
    def save_settings(self, new: Settings) -> None:
        """Validate and save (the library's own settings, which its view shares); rescan when the codes change."""
        old = self.settings
        new.validate()
        self.library.save_settings(new)
        if new.bits != old.bits or sorted(new.excluded) != sorted(old.excluded):
            self.start_index()
        else:
            self.library_changed.emit()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop jobs (training keeps its checkpoint) and wait for workers before the library closes."""
        from gui.workers import wait_all

        self._queue.clear()
        if self._job:
            self._stop_current(pause_training=True)
            self._queue.clear()
        wait_all(int(timeout_s * 1000))


def _trash(files: list[tuple[str, str | None]]) -> tuple[list[str], list[tuple[str, BaseException]]]:
    """Each photo on its own: one that cannot be moved (gone, no permission) never stops the others. A photo's
    companion file is moved after it, only when the photo itself was; ``moved`` lists the photos."""
    from send2trash import send2trash

    moved, failed = [], []

    def move(p: str) -> bool:
        try:
            send2trash(p)
            return True
        except Exception as exc:  # noqa: BLE001 - OSError, TrashPermissionError...: reported per file
            failed.append((p, exc))
            return False

    for path, companion in files:
        if move(path):
            moved.append(path)
            if companion:
                move(companion)
    return moved, failed
