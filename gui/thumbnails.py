"""Thumbnails for the views: made in a thread pool from the on-disk cache, kept in a small in-memory LRU.

The GUI thread only asks (:meth:`ThumbnailLoader.image`) and paints what is ready. Requests go on a LIFO stack
with a cap, so while the user scrolls fast the newest (visible) cells are served first and cells that scrolled
away long ago are dropped instead of decoded.
"""

from __future__ import annotations

import collections
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, Signal
from PySide6.QtGui import QImage

from engine.thumbs import ThumbCache
from gui.workers import pools

__all__ = ["ThumbnailLoader", "Key", "load_scaled"]

log = logging.getLogger(__name__)

Key = tuple  # (photo id, target edge in device pixels, mode)
DISK_SIZES = (256, 640)


def _disk_size(edge: int) -> int:
    return next((s for s in DISK_SIZES if s >= edge * 0.9), DISK_SIZES[-1])


def load_scaled(cache: ThumbCache, path: str, mtime: float | None, edge: int, crop: bool) -> QImage:
    """Read (or make) a cached thumbnail and scale it: a square of ``edge`` px (crop) or fit in ``edge`` px."""
    file = cache.get(path, _disk_size(edge), mtime)
    image = QImage(str(file))
    if image.isNull():  # a damaged cache file: make it again
        Path(file).unlink(missing_ok=True)
        image = QImage(str(cache.get(path, _disk_size(edge), mtime)))
    if image.isNull():
        raise OSError(f"the thumbnail of {path} cannot be read")
    mode = Qt.AspectRatioMode.KeepAspectRatioByExpanding if crop else Qt.AspectRatioMode.KeepAspectRatio
    scaled = image.scaled(QSize(edge, edge), mode, Qt.TransformationMode.SmoothTransformation)
    if crop:
        x, y = (scaled.width() - edge) // 2, (scaled.height() - edge) // 2
        scaled = scaled.copy(max(x, 0), max(y, 0), min(edge, scaled.width()), min(edge, scaled.height()))
    return scaled.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


class _Signals(QObject):
    ready = Signal(object, QImage)
    failed = Signal(object, str)


class _Drain(QRunnable):
    """Takes requests off the loader's stack until it is empty."""

    def __init__(self, loader: ThumbnailLoader):
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        loader = self.loader
        while True:
            job = loader._pop()
            if job is None:
                return
            key, path, mtime, edge, crop = job
            try:
                image = load_scaled(loader.cache, path, mtime, edge, crop)
            except Exception as exc:  # noqa: BLE001 - DecodeError, OSError...: shown as a broken tile
                loader.signals.failed.emit(key, str(exc))
            else:
                loader.signals.ready.emit(key, image)


class ThumbnailLoader(QObject):
    """Asynchronous thumbnails keyed by ``(photo id, edge, crop)``.

    Args:
        cache: the on-disk cache.
        memory_items: how many scaled images to keep in RAM.
        workers: threads decoding at once.
    """

    ready = Signal(object)  # key
    failed = Signal(object, str)

    def __init__(self, cache: ThumbCache, memory_items: int = 1500, workers: int = 2,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.cache = cache
        self.signals = _Signals()
        self.signals.ready.connect(self._on_ready)
        self.signals.failed.connect(self._on_failed)
        self._images: collections.OrderedDict[Key, QImage] = collections.OrderedDict()
        self._broken: dict[Key, str] = {}
        self._memory_items = memory_items
        self._stack: collections.OrderedDict[Key, tuple] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queued: set[Key] = set()
        self._running = 0
        self._workers = workers
        self.max_pending = 600

    # -- GUI thread ----------------------------------------------------------------------------------
    def image(self, photo_id: int, path: str, mtime: float | None, edge: int, crop: bool = True) -> QImage | None:
        """The image if ready (else None, and it is requested)."""
        key = (photo_id, edge, crop)
        img = self._images.get(key)
        if img is not None:
            self._images.move_to_end(key)
            return img
        if key not in self._broken:
            self._request(key, (key, path, mtime, edge, crop))
        return None

    def error(self, photo_id: int, edge: int, crop: bool = True) -> str | None:
        return self._broken.get((photo_id, edge, crop))

    def clear(self) -> None:
        with self._lock:
            self._stack.clear()
            self._queued.clear()
        self._images.clear()
        self._broken.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._stack) + self._running

    def _request(self, key: Key, job: tuple) -> None:
        start = False
        with self._lock:
            if key in self._stack:
                self._stack.move_to_end(key)  # asked again: it is visible now, serve it first
            elif key not in self._queued:
                self._stack[key] = job
                while len(self._stack) > self.max_pending:
                    self._stack.popitem(last=False)  # the oldest request scrolled away long ago
            if self._running < self._workers and self._stack:
                self._running += 1
                start = True
        if start:
            pools("thumbs").start(_Drain(self))

    def _on_ready(self, key: Key, image: QImage) -> None:
        with self._lock:
            self._queued.discard(key)
        self._images[key] = image
        while len(self._images) > self._memory_items:
            self._images.popitem(last=False)
        self.ready.emit(key)

    def _on_failed(self, key: Key, message: str) -> None:
        with self._lock:
            self._queued.discard(key)
        self._broken[key] = message
        self.failed.emit(key, message)

    # -- worker threads ------------------------------------------------------------------------------
    def _pop(self) -> tuple | None:
        with self._lock:
            if not self._stack:
                self._running -= 1
                return None
            key, job = self._stack.popitem(last=True)
            self._queued.add(key)
            return job
