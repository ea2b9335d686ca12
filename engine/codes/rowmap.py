"""Photo id to row of the code store, for ``engine.codes.codeindex.CodeIndex``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["RowMap"]

Ids = npt.NDArray[np.int64]


class RowMap:
    """Catalog id -> row of the code store.

    A direct int32 table while ids are dense, as SQLite rowids are (4 bytes per id up to the largest); sorted keys
    searched by bisection when ids are too sparse for that.
    """

    def __init__(self) -> None:
        self._table = np.empty(0, dtype=np.int32)
        self._keys: Ids | None = None
        self._rows: npt.NDArray[np.int32] | None = None

    @staticmethod
    def _dense_limit(n: int) -> int:
        return max(4 * n, 1 << 20)

    @property
    def nbytes(self) -> int:
        sparse = 0 if self._keys is None or self._rows is None else self._keys.nbytes + self._rows.nbytes
        return self._table.nbytes + sparse

    def rebuild(self, ids: Ids) -> None:
        n = len(ids)
        top = int(ids.max()) + 1 if n else 0
        rows = np.arange(n, dtype=np.int32)
        if top <= self._dense_limit(n):
            self._table = np.full(top, -1, dtype=np.int32)
            self._table[ids] = rows
            self._keys = self._rows = None
        else:
            order = np.argsort(ids, kind="stable")
            self._table = np.empty(0, dtype=np.int32)
            self._keys, self._rows = ids[order], rows[order]

    def append(self, new_ids: Ids, first_row: int, all_ids: Ids) -> None:
        """Record ``new_ids`` at rows ``first_row, first_row + 1, ...``; ``all_ids`` is the whole store after it."""
        top = int(new_ids.max()) + 1
        if self._keys is not None or top > self._dense_limit(len(all_ids)):
            self.rebuild(all_ids)
            return
        if top > len(self._table):
            grown = np.full(min(max(top, 2 * len(self._table)), self._dense_limit(len(all_ids))), -1, np.int32)
            grown[: len(self._table)] = self._table
            self._table = grown
        self._table[new_ids] = np.arange(first_row, first_row + len(new_ids), dtype=np.int32)

    def lookup(self, ids: Ids) -> npt.NDArray[np.int64]:
        """Rows of ``ids``, -1 where an id is absent."""
        rows = np.full(len(ids), -1, dtype=np.int64)
        if self._keys is None or self._rows is None:
            inside = (ids >= 0) & (ids < len(self._table))
            rows[inside] = self._table[ids[inside]]
        elif len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, ids), len(self._keys) - 1)
            hit = self._keys[pos] == ids
            rows[hit] = self._rows[pos[hit]]
        return rows

    def row(self, photo_id: int) -> int:
        if self._keys is None:
            return int(self._table[photo_id]) if 0 <= photo_id < len(self._table) else -1
        return int(self.lookup(np.array([photo_id], dtype=np.int64))[0])
