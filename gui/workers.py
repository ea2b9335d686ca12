"""Background work: engine generator jobs and plain calls, run on a QThreadPool, results back through signals.

The pattern is superqt's ``GeneratorWorker``/``FunctionWorker`` (a QRunnable with a signals object, ``quit()``
honoured between yields), cloned in ~100 lines because importing superqt costs ~0.4 s of start time and its
worker treats any ``RuntimeError`` from the job as "worker deleted" and drops it. No QThread subclasses, no
widget access from job code: a job only sees the engine, and the GUI only sees the signals.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from engine.errors import Cancelled

__all__ = ["WorkerSignals", "FunctionWorker", "GeneratorWorker", "start", "pools"]

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of one worker (emitted from the worker thread, delivered queued on the GUI thread)."""

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception; engine.errors.Cancelled when the job was stopped
    finished = Signal()
    released = Signal(object)  # the worker itself, last of all: lets the registry drop its reference


class _Worker(QRunnable):
    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the worker; the registry below keeps it alive while it runs
        self.signals = WorkerSignals()
        self._stop = threading.Event()
        self.running = False
        self.done = False

    # Convenience aliases, so callers can write worker.yielded.connect(...)
    @property
    def started(self):
        return self.signals.started

    @property
    def yielded(self):
        return self.signals.yielded

    @property
    def returned(self):
        return self.signals.returned

    @property
    def errored(self):
        return self.signals.errored

    @property
    def finished(self):
        return self.signals.finished

    def quit(self) -> None:
        """Ask the job to stop at its next yield; it then ends with ``errored(Cancelled)``."""
        self._stop.set()

    @property
    def abort_requested(self) -> bool:
        return self._stop.is_set()

    def work(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self) -> None:
        self.running = True
        signals = self.signals
        signals.started.emit()
        try:
            result = self.work()
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the GUI as a signal
            if not isinstance(exc, Cancelled):
                log.debug("worker failed", exc_info=exc)
            signals.errored.emit(exc)
        else:
            signals.returned.emit(result)
        finally:
            self.running = False
            self.done = True
            signals.finished.emit()
            signals.released.emit(self)


class FunctionWorker(_Worker):
    """Runs ``func(*args, **kwargs)`` once; ``returned`` carries its result."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._call = (func, args, kwargs)

    def work(self) -> Any:
        func, args, kwargs = self._call
        if self.abort_requested:
            raise Cancelled("cancelled before it started")
        return func(*args, **kwargs)


class GeneratorWorker(_Worker):
    """Drives a generator job: each yielded value is emitted, its return value comes with ``returned``.

    The generator is closed in the worker thread when the job is stopped, so its ``finally`` blocks (the
    engine's writer lock, open transactions) run there and at once, not later in the garbage collector.
    """

    def __init__(self, func: Callable[..., Generator], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._call = (func, args, kwargs)

    def work(self) -> Any:
        func, args, kwargs = self._call
        gen = func(*args, **kwargs)
        try:
            while True:
                if self.abort_requested:
                    raise Cancelled("stopped at the user's request")
                try:
                    item = next(gen)
                except StopIteration as stop:
                    return stop.value
                self.signals.yielded.emit(item)
        finally:
            gen.close()


_pools: dict[str, QThreadPool] = {}


class _Registry(QObject):
    """Keeps running workers alive; lives on the GUI thread, so releases arrive after every other signal."""

    def __init__(self) -> None:
        super().__init__()
        self.alive: set[_Worker] = set()

    def on_released(self, worker: _Worker) -> None:
        self.alive.discard(worker)


_registry: _Registry | None = None


def pools(name: str) -> QThreadPool:
    """Named thread pools: ``job`` (one writer job), ``query`` (searches), ``io`` (catalog pages), ``thumbs``."""
    if name not in _pools:
        pool = QThreadPool()
        pool.setMaxThreadCount({"thumbs": 2}.get(name, 1))
        pool.setExpiryTimeout(30_000)
        _pools[name] = pool
    return _pools[name]


def start(worker: _Worker, pool: str = "query") -> _Worker:
    """Queue a worker on a named pool (from the GUI thread) and keep a reference to it until it has finished."""
    global _registry
    if _registry is None:
        _registry = _Registry()
    _registry.alive.add(worker)
    worker.signals.released.connect(_registry.on_released)
    # Start on the next turn of the event loop, so the caller can connect to the signals first.
    QTimer.singleShot(0, _registry, lambda: pools(pool).start(worker))
    return worker


def wait_all(timeout_ms: int = 10_000) -> bool:
    """Wait for every pool to drain (at exit, so no job outlives the window that started it)."""
    ok = True
    for pool in _pools.values():
        ok = pool.waitForDone(timeout_ms) and ok
    return ok


def if_alive(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a widget's result handler so that a worker finishing after its widget was closed is ignored.

    Results arrive through queued signals; when the window closes first, the handler would touch a deleted
    C++ object and raise. Every handler connected to a worker's ``returned``/``errored`` through a lambda
    carries this decorator.
    """

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        if not shiboken6.isValid(self):
            return None
        return method(self, *args, **kwargs)

    return wrapper
