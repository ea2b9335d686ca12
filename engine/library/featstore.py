"""On-disk cache of backbone features (float16 rows), memory-mapped for reading.

Training and re-encoding read features from here, so the collection is never decoded twice. Rows are
appended; the catalog records which row belongs to which photo. Crash safety: rows are written and fsynced
*before* the catalog transaction that references them commits, and the committed row count lives in the
catalog, so rows past it (left by a killed run) are simply overwritten by the next run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.errors import SimiliError

__all__ = ["FeatureStore", "FeaturesDamaged"]


class FeaturesDamaged(SimiliError):
    """Rows of the feature cache are missing (the file was cut short) or hold values no image model gives."""

_PREAD_MAX = 2048


def _seek_read(fd: int, size: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


class FeatureStore:
    """Append-only float16 matrix in one file.

    Args:
        path: the file (created when missing).
        dim: feature width (1280 for EfficientNet-Lite0).
        rows: number of committed rows (from the catalog); later rows are ignored and overwritten.
    """

    def __init__(self, path: Path, dim: int, rows: int, read_only: bool = False):
        self.path = Path(path)
        self.dim = dim
        self.rows = rows
        self._map: np.memmap | None = None
        self._map_rows = -1
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch()

    def file_rows(self) -> int:
        """Whole rows in the file now (fewer than :attr:`rows` when the file was cut short)."""
        try:
            return self.path.stat().st_size // self.row_bytes
        except FileNotFoundError:
            return 0

    def lost(self) -> int:
        """Committed rows the file no longer holds (0 for a sound cache)."""
        return max(0, self.rows - self.file_rows())

    def bad_rows(self, chunk: int = 16384) -> list[int]:
        """Committed rows holding NaN or infinity (random bytes do; the image model never does); reads them all."""
        bad: list[int] = []
        have = min(self.rows, self.file_rows())
        if have == 0:
            return bad
        m = np.memmap(self.path, dtype=np.float16, mode="r", shape=(have, self.dim))
        for start in range(0, have, chunk):
            ok = np.isfinite(m[start : start + chunk]).all(axis=1)
            bad.extend((start + np.flatnonzero(~ok)).tolist())
        return bad

    def _damaged(self, what: str) -> FeaturesDamaged:
        return FeaturesDamaged(f"the feature cache {self.path} is damaged ({what}); run `simili repair`"
                               " (only the photos whose features were lost are read again)")

    @property
    def row_bytes(self) -> int:
        return self.dim * 2

    def append(self, features: npt.ArrayLike) -> range:
        """Write rows after the committed ones, fsync, and return their row numbers.

        The caller commits the catalog rows that reference them and then calls :meth:`commit`.
        """
        arr = np.ascontiguousarray(np.asarray(features, dtype=np.float16))
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(f"expected (n, {self.dim}) features, got {arr.shape}")
        start = self.rows
        with open(self.path, "r+b") as f:
            f.seek(start * self.row_bytes)
            f.write(arr.tobytes())
            f.flush()
            os.fsync(f.fileno())
        return range(start, start + len(arr))

    def commit(self, rows: range) -> None:
        self.rows = max(self.rows, rows.stop)

    def _matrix(self) -> np.memmap | np.ndarray:
        if self.rows == 0:
            return np.zeros((0, self.dim), dtype=np.float16)
        if self._map is None or self._map_rows != self.rows:
            self._map = np.memmap(self.path, dtype=np.float16, mode="r", shape=(self.rows, self.dim))
            self._map_rows = self.rows
        return self._map

    def get(self, rows: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Rows as float32 (n, dim), in the order asked.

        A few rows (a query's shortlist) are read with ``pread``: touching a memory map at random makes the
        kernel read ahead around every row, which at 1M photos adds ~100 MB of resident pages per query
        burst. Bulk reads (training, re-encoding) use the memory map.
        """
        idx = np.asarray(rows, dtype=np.int64)
        if idx.size == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if idx.max() >= self.rows or idx.min() < 0:
            raise IndexError("feature row out of range")
        if idx.max() >= self.file_rows():
            raise self._damaged(f"{self.lost()} rows are missing")
        out = self._pread(idx) if idx.size <= _PREAD_MAX else np.asarray(self._matrix()[idx], dtype=np.float32)
        if not np.isfinite(out).all():
            raise self._damaged("some rows are not numbers")
        return out

    def _pread(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        out = np.empty((len(idx), self.dim), dtype=np.float16)
        size = self.row_bytes
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            for j, row in enumerate(idx.tolist()):
                data = os.pread(fd, size, row * size) if hasattr(os, "pread") else _seek_read(fd, size, row * size)
                if len(data) != size:
                    raise self._damaged("a row ends early")
                out[j] = np.frombuffer(data, dtype=np.float16)
        finally:
            os.close(fd)
        return out.astype(np.float32)

    def close(self) -> None:
        self._map = None
