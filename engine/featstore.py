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

__all__ = ["FeatureStore"]

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

    def __init__(self, path: Path, dim: int, rows: int):
        self.path = Path(path)
        self.dim = dim
        self.rows = rows
        self._map: np.memmap | None = None
        self._map_rows = -1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch()
        have = self.path.stat().st_size // self.row_bytes
        if have < rows:
            raise OSError(f"feature cache {self.path} holds {have} rows, the catalog expects {rows}")

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
        if idx.size <= _PREAD_MAX:
            return self._pread(idx)
        return np.asarray(self._matrix()[idx], dtype=np.float32)

    def _pread(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        out = np.empty((len(idx), self.dim), dtype=np.float16)
        size = self.row_bytes
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            for j, row in enumerate(idx.tolist()):
                data = os.pread(fd, size, row * size) if hasattr(os, "pread") else _seek_read(fd, size, row * size)
                out[j] = np.frombuffer(data, dtype=np.float16)
        finally:
            os.close(fd)
        return out.astype(np.float32)

    def close(self) -> None:
        self._map = None
