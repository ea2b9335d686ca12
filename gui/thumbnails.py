"""Thumbnails for the views: made in a thread pool from the on-disk cache, kept in a small in-memory LRU.

The GUI thread only asks (:meth:`ThumbnailLoader.image`) and paints what is ready. Requests go on a LIFO stack
with a cap, so while the user scrolls fast the newest (visible) cells are served first and cells that scrolled
away long ago are dropped instead of decoded.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal
from PySide6.QtGui import QImage

from gui.workers import pools

__all__ = ["ThumbnailLoader", "Key", "load_scaled"]

log = logging.getLogger(__name__)

Key = tuple  # (photo id, target edge in device pixels, mode)
ThumbnailFile = Callable[[str, int, "float | None"], Path]  # (photo path, long side, mtime) -> cached file
DISK_SIZES = (256, 640)


def _disk_size(edge: int) -> int:
    return next((s for s in DISK_SIZES if s >= edge * 0.9), DISK_SIZES[-1])


def load_scaled(thumbnail_file: ThumbnailFile, path: str, mtime: float | None, edge: int, crop: bool,
                radius: float = 0.0) -> QImage:
    """Read (or make) a cached thumbnail and scale it: a square of ``edge`` px (crop) or fit in ``edge`` px.

    Decoding and scaling use Pillow, which releases the GIL while it works (Qt's QImage calls here would hold
    it and stall the GUI thread for tens of milliseconds per image); only the final copy into a QImage is Qt.
    """
    from PIL import Image, ImageOps

    file = thumbnail_file(path, _disk_size(edge), mtime)
    try:
        with Image.open(file) as im:
            im.load()
            image = im.convert("RGB")
    except (OSError, ValueError):  # a damaged cache file: make it again
        Path(file).unlink(missing_ok=True)
        with Image.open(thumbnail_file(path, _disk_size(edge), mtime)) as im:
            image = im.convert("RGB")
    if crop:
        image = ImageOps.fit(image, (edge, edge), Image.Resampling.BICUBIC)
    else:
        scale = edge / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    if radius > 0:
        from PIL import ImageDraw

        # Round the corners here (4x supersampled mask), so the GUI thread only blits the tile.
        big = Image.new("L", (image.width * 4, image.height * 4), 0)
        ImageDraw.Draw(big).rounded_rectangle((0, 0, big.width - 1, big.height - 1), radius=radius * 4, fill=255)
        image.putalpha(big.resize(image.size, Image.Resampling.LANCZOS))
        data = image.tobytes()
        qimage = QImage(data, image.width, image.height, image.width * 4, QImage.Format.Format_RGBA8888)
        return qimage.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    data = image.tobytes()
    return QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()


class _Signals(QObject):
    wake = Signal()  # results are waiting (sent once per batch, not once per image)


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
            key, path, mtime, edge, crop, radius = job
            try:
                result: QImage | str = load_scaled(loader.thumbnail_file, path, mtime, edge, crop, radius)
            except Exception as exc:  # noqa: BLE001 - DecodeError, OSError...: shown as a broken tile
                result = str(exc) or type(exc).__name__
            loader._deliver(key, result)


class ThumbnailLoader(QObject):
    """Asynchronous thumbnails keyed by ``(photo id, edge, crop)``.

    Args:
        thumbnail_file: the on-disk cache's look-up (``Library.thumbnail_file``), called in worker threads.
        memory_items: how many scaled images to keep in RAM.
        workers: threads decoding at once.
    """

    ready = Signal(object)  # key
    failed = Signal(object, str)

    def __init__(self, thumbnail_file: ThumbnailFile, memory_items: int = 1500, workers: int = 2,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.thumbnail_file = thumbnail_file
        self.signals = _Signals()
        self.signals.wake.connect(self._on_wake)
        self._done: list[tuple[Key, QImage | str]] = []
        self._images: collections.OrderedDict[Key, QImage] = collections.OrderedDict()
        self._latest: dict[object, QImage] = {}
        self._broken: dict[Key, str] = {}
        self._memory_items = memory_items
        self._stack: collections.OrderedDict[Key, tuple] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queued: set[Key] = set()
        self._running = 0
        self._workers = workers
        self.max_pending = 600

    # -- GUI thread ----------------------------------------------------------------------------------
    def image(self, photo_id, path: str, mtime: float | None, edge: int, crop: bool = True,
              radius: float = 0.0) -> QImage | None:
        """The image if ready (else None, and it is requested). ``radius`` rounds the corners (in pixels)."""
        key = (photo_id, edge, crop)
        img = self._images.get(key)
        if img is not None:
            self._images.move_to_end(key)
            return img
        if key not in self._broken:
            self._request(key, (key, path, mtime, edge, crop, radius))
        return None

    def any_image(self, photo_id) -> QImage | None:
        """The most recent image of a photo at any size (a stand-in while the right size is being made)."""
        return self._latest.get(photo_id)

    def error(self, photo_id: int, edge: int, crop: bool = True) -> str | None:
        return self._broken.get((photo_id, edge, crop))

    def clear(self) -> None:
        with self._lock:
            self._stack.clear()
            self._queued.clear()
        self._images.clear()
        self._latest.clear()
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

    def _on_wake(self) -> None:
        # One GUI-thread visit per batch of finished thumbnails: fewer thread hand-overs, shorter GIL waits.
        with self._lock:
            done, self._done = self._done, []
            for key, _ in done:
                self._queued.discard(key)
        for key, result in done:
            if isinstance(result, QImage):
                self._images[key] = result
                if key[2]:  # cropped squares only: they stand in for each other at another size
                    self._latest[key[0]] = result
            else:
                self._broken[key] = result
        while len(self._images) > self._memory_items:
            self._images.popitem(last=False)
        while len(self._latest) > self._memory_items:
            self._latest.pop(next(iter(self._latest)))
        for key, result in done:
            if isinstance(result, QImage):
                self.ready.emit(key)
            else:
                self.failed.emit(key, result)

    # -- worker threads ------------------------------------------------------------------------------
    def _deliver(self, key: Key, result: QImage | str) -> None:
        with self._lock:
            first = not self._done
            self._done.append((key, result))
        if first:
            self.signals.wake.emit()

    def _pop(self) -> tuple | None:
        with self._lock:
            if not self._stack:
                self._running -= 1
                return None
            key, job = self._stack.popitem(last=True)
            self._queued.add(key)
            return job
