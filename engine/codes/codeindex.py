"""Hamming search over packed binary codes, keyed by catalog photo ids, saved atomically to one file (``engine.codes.cidx``).

``CodeIndex`` keeps the codes and ids in numpy (so ``code_of`` is a table look-up) and a faiss binary index built
from them for search. Two structures are offered:

* ``flat``: exact exhaustive scan (``IndexBinaryIDMap(IndexBinaryFlat)``), about 0.5 ns per 64-bit code on one core.
* ``ivf``: ``IndexBinaryIVF``, an inverted file over binary k-means cells; approximate, but it scans only
  ``nprobe / nlist`` of the codes (recall@10 vs flat is reported by ``bench/search.py``).

``kind="auto"`` uses flat below ``auto_threshold`` codes (2M by default: about 1 ms per query there) and IVF above
it. The choice is re-evaluated by ``rebuild_if_needed()``, which ``save()`` and ``load()`` call.

Single-query latency: faiss parallelises a flat scan over the queries, once per block of 65536 codes, so one query
on a 2-thread OpenMP team gains nothing and pays fork/join barriers. When another process keeps the second core
busy, each barrier waits for a descheduled worker: on 1M codes and 2 cores p50 stayed 0.5 ms but p99 was 6 ms with
one busy process beside it and 150-400 ms with several. Searches with fewer than 32 queries therefore run on a
1-thread team: p99 0.6 ms with one busy process (with several, preemption alone still costs 5-9 ms).
``omp_set_num_threads`` is per calling thread (an OpenMP ICV), so other threads keep their own setting. Builds and
batches use ``threads`` (default 1, for the same reason; see ``CodeIndex``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from engine.codes import cidx
from engine.codes.rowmap import RowMap
from engine.errors import NotIndexed

__all__ = ["CodeIndex", "KINDS", "AUTO_IVF_THRESHOLD"]

log = logging.getLogger(__name__)

Codes = npt.NDArray[np.uint8]
Ids = npt.NDArray[np.int64]
Dists = npt.NDArray[np.int32]

KINDS = ("auto", "flat", "ivf")
AUTO_IVF_THRESHOLD = 2_000_000

# Only batches of at least this many queries, and builds of at least this many codes, use ``CodeIndex.threads``;
# smaller work always runs on one OpenMP thread (see the module docstring).
PARALLEL_MIN_QUERIES = 32
PARALLEL_MIN_BUILD = 100_000
# IVF: train on at most this many codes per cell, and never fewer than faiss's advised 39 per cell.
_TRAIN_PER_LIST = 64
_MIN_PER_LIST = 39
# k-means rounds: 10 instead of faiss's 25 trained 5x faster with the same recall@10 (0.938 vs 0.936 random,
# 0.991 both clustered, 1M codes in 1024 cells).
_KMEANS_ITERS = 10
# IVF scans 1/8 of its cells: at 10M codes recall@10 0.987 (random) and 0.997 (clustered), p50 1.5 ms.
_NPROBE_DIVISOR = 8



@dataclass(frozen=True)
class _Plan:
    """The faiss structure wanted (or built): ``flat``, or ``ivf`` with ``nlist`` cells."""

    kind: str
    nlist: int = 0


def _nlist_for(n: int) -> int:
    """IVF cells: the power of two nearest sqrt(n), with at least 39 codes per cell."""
    nlist = 2 ** round(math.log2(math.sqrt(max(n, 1))))
    return int(max(1, min(nlist, 65536, n // _MIN_PER_LIST)))


def _has_duplicates(ids: Ids) -> bool:
    # a sort, not np.unique: numpy 2.x's hash-based unique took 1.5 s on 1M ids
    s = np.sort(ids)
    return bool((s[1:] == s[:-1]).any())


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """Run the block on an OpenMP team of ``n`` threads (0: faiss's default), for this calling thread only."""
    prev = faiss.omp_get_max_threads()
    if n <= 0 or n == prev:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


class CodeIndex:
    """Binary codes of photos, searchable by Hamming distance and saved as one checksummed file.

    Not safe for concurrent changes: one writer at a time (searches from several threads are fine while nothing
    changes).

    Args:
        bits: code length, a positive multiple of 8; codes are uint8 arrays of shape (n, bits // 8).
        kind: ``auto`` (flat below ``auto_threshold`` codes, IVF above), ``flat`` (exact) or ``ivf`` (approximate).
        auto_threshold: size at which ``auto`` moves to IVF (it moves back to flat below half of it).
        threads: OpenMP threads for large query batches and builds (0: faiss's default team); single queries
            always use one. The default, 1, is robust when other programs keep the cores busy: on 2 cores shared
            with such work, a 2-thread team searched batches 2.5-3.5x slower and built IVF on 1M codes up to 70x
            slower (48 s vs 0.7 s) than one thread. On an idle machine 2 threads are about 1.8x faster.
    """

    def __init__(self, bits: int, kind: str = "auto", auto_threshold: int = AUTO_IVF_THRESHOLD, threads: int = 1):
        if bits <= 0 or bits % 8:
            raise ValueError(f"code length must be a positive multiple of 8, got {bits}")
        if kind not in KINDS:
            raise ValueError(
                f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)} "
                "(multihash and hnsw were slower or less accurate than ivf in bench/search.py)"
            )
        self.bits = int(bits)
        self.kind = kind
        self.auto_threshold = int(auto_threshold)
        self.threads = int(threads)
        self._width = self.bits // 8
        self._n = 0
        self._codes: Codes = np.empty((0, self._width), dtype=np.uint8)
        self._ids: Ids = np.empty(0, dtype=np.int64)
        self._rows = RowMap()
        self._index: Any = None  # faiss IndexBinary, built from the store on first add
        self._built: _Plan | None = None
        self._nprobe: int | None = None
        self._version = 0

    # ----- the store -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def version(self) -> int:
        """Changes whenever a code is added, replaced or removed (for caches derived from the index)."""
        return self._version

    def __contains__(self, photo_id: object) -> bool:
        if not isinstance(photo_id, (int, np.integer)):
            return False
        return self._rows.row(int(photo_id)) >= 0

    def __repr__(self) -> str:
        active = self._built.kind if self._built else "empty"
        return f"CodeIndex(bits={self.bits}, kind={self.kind!r}, active={active!r}, n={self._n})"

    @property
    def active_kind(self) -> str | None:
        """The structure searched now (``flat`` or ``ivf``), or None before the first add."""
        return self._built.kind if self._built else None

    @property
    def nlist(self) -> int:
        """IVF cells, 0 for flat."""
        return self._built.nlist if self._built else 0

    @property
    def nprobe(self) -> int:
        """IVF cells scanned per query (default nlist / 8); 0 for flat."""
        if not self._built or self._built.kind != "ivf":
            return 0
        return self._nprobe or max(1, self._built.nlist // _NPROBE_DIVISOR)

    @nprobe.setter
    def nprobe(self, value: int | None) -> None:
        self._nprobe = None if value is None else max(1, int(value))
        if self._built and self._built.kind == "ivf":
            self._index.nprobe = self.nprobe

    @property
    def nbytes(self) -> int:
        """Approximate memory held: the numpy store, the id map and the faiss structure."""
        store = self._codes.nbytes + self._ids.nbytes + self._rows.nbytes
        if not self._built:
            return store
        per_code = self._width + 8  # faiss keeps each code and its int64 id (IDMap or inverted list)
        return store + self._n * per_code + self._built.nlist * (self._width + 32)

    def ids(self) -> Ids:
        """Every photo id in the index (a copy, in storage order)."""
        return self._ids[: self._n].copy()

    def code_of(self, photo_id: int) -> Codes:
        """The code stored for ``photo_id`` (bits // 8 bytes); raises NotIndexed if it has none."""
        row = self._rows.row(int(photo_id))
        if row < 0:
            raise NotIndexed(f"photo {photo_id} has no code in the search index yet")
        return self._codes[row].copy()

    def codes_of(self, photo_ids: npt.ArrayLike) -> Codes:
        """Codes of several photos (n, bits // 8), in the order given; raises NotIndexed if one has none."""
        ids = np.asarray(photo_ids, dtype=np.int64).reshape(-1)
        rows = self._rows.lookup(ids)
        if (rows < 0).any():
            raise NotIndexed(f"photo {int(ids[rows < 0][0])} has no code in the search index yet")
        return self._codes[rows]

    def add(self, ids: npt.ArrayLike, codes: npt.ArrayLike) -> None:
        """Add codes under catalog ids (non-negative, unique); an id already present gets its new code."""
        ids_arr = self._check_ids(ids)
        codes_arr = self._check_codes(codes)
        if len(ids_arr) != len(codes_arr):
            raise ValueError(f"{len(ids_arr)} ids but {len(codes_arr)} codes")
        if not len(ids_arr):
            return
        if _has_duplicates(ids_arr):
            raise ValueError("ids given to add() must be unique")
        self._version += 1
        present = self._rows.lookup(ids_arr) >= 0
        if present.any():
            self.remove(ids_arr[present])
        first = self._n
        self._reserve(first + len(ids_arr))
        self._codes[first : first + len(ids_arr)] = codes_arr
        self._ids[first : first + len(ids_arr)] = ids_arr
        self._n += len(ids_arr)
        self._rows.append(ids_arr, first, self._ids[: self._n])
        if self._index is None:
            self._build(self._plan())
        else:
            with _omp_threads(self._team(len(ids_arr), PARALLEL_MIN_BUILD)):
                self._index.add_with_ids(codes_arr, ids_arr)

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove these ids (unknown ones are ignored); returns how many were removed."""
        ids_arr = self._check_ids(ids)
        rows = self._rows.lookup(ids_arr)
        rows = rows[rows >= 0]
        if not len(rows):
            return 0
        self._version += 1
        if self._index is not None:
            with _omp_threads(self._team(self._n, PARALLEL_MIN_BUILD)):
                self._index.remove_ids(faiss.IDSelectorBatch(self._ids[rows]))
        keep = np.ones(self._n, dtype=bool)
        keep[rows] = False
        removed = self._n - int(keep.sum())
        self._codes = self._codes[: self._n][keep]
        self._ids = self._ids[: self._n][keep]
        self._n = len(self._ids)
        self._rows.rebuild(self._ids)
        return removed

    def _team(self, work: int, parallel_from: int) -> int:
        return self.threads if work >= parallel_from else 1

    def _reserve(self, n: int) -> None:
        if n <= len(self._ids):
            return
        cap = max(n, 2 * len(self._ids), 1024)
        codes = np.empty((cap, self._width), dtype=np.uint8)
        ids = np.empty(cap, dtype=np.int64)
        codes[: self._n] = self._codes[: self._n]
        ids[: self._n] = self._ids[: self._n]
        self._codes, self._ids = codes, ids

    def _check_ids(self, ids: npt.ArrayLike) -> Ids:
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"ids must be a 1-D array of integers, got shape {arr.shape} of {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        if arr.size and arr.min() < 0:
            raise ValueError("photo ids must be non-negative (-1 marks a missing result)")
        return arr

    def _check_codes(self, codes: npt.ArrayLike) -> Codes:
        arr = np.asarray(codes)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != self._width:
            raise ValueError(
                f"codes must be uint8 of shape (n, {self._width}) for {self.bits}-bit codes, "
                f"got {arr.dtype} of shape {arr.shape}"
            )
        return np.ascontiguousarray(arr)

    # ----- the faiss structure ---------------------------------------------------------------------------------

    def _plan(self) -> _Plan:
        kind = self.kind
        if kind == "auto":
            in_ivf = self._built is not None and self._built.kind == "ivf"
            limit = self.auto_threshold // 2 if in_ivf else self.auto_threshold  # hysteresis
            kind = "ivf" if self._n >= max(limit, 1) else "flat"
        return _Plan("ivf", _nlist_for(self._n)) if kind == "ivf" else _Plan("flat")

    def rebuild_if_needed(self) -> bool:
        """Rebuild the faiss structure when the size calls for another one; returns True if it rebuilt.

        ``auto`` switches flat -> IVF at ``auto_threshold`` codes and back below half of it; IVF is retrained when
        the cell count its size calls for doubles (the collection grew about 4x) or drops to a quarter.
        Training IVF on 10M codes takes about half a minute on two cores.
        """
        if not self._n:
            return False
        want, have = self._plan(), self._built
        if have is not None and want.kind == have.kind:
            if want.kind == "flat" or have.nlist // 4 < want.nlist < 2 * have.nlist:
                return False
        log.info("rebuilding search index for %d codes: %s -> %s", self._n, have, want)
        self._build(want)
        return True

    def _build(self, plan: _Plan) -> None:
        with _omp_threads(self._team(self._n, PARALLEL_MIN_BUILD)):
            self._build_now(plan)

    def _build_now(self, plan: _Plan) -> None:
        codes, ids = self._codes[: self._n], self._ids[: self._n]
        if plan.kind == "flat":
            index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(self.bits))
        else:
            index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(self.bits), self.bits, plan.nlist)
            index.cp.min_points_per_centroid = 1  # the sample below is sized on purpose; no warning
            index.cp.niter = _KMEANS_ITERS
            sample = min(self._n, _TRAIN_PER_LIST * plan.nlist)
            rows = np.sort(np.random.default_rng(0).choice(self._n, sample, replace=False))
            index.train(codes[rows])
        index.add_with_ids(codes, ids)
        self._set_index(index, plan)

    def _set_index(self, index: Any, plan: _Plan) -> None:
        self._index, self._built = index, plan
        if plan.kind == "ivf":
            index.nprobe = self.nprobe

    # ----- search ----------------------------------------------------------------------------------------------

    def search(self, codes: npt.ArrayLike, k: int) -> tuple[Dists, Ids]:
        """The ``k`` nearest codes to each query, nearest first.

        Args:
            codes: queries, uint8 (q, bits // 8); one code of shape (bits // 8,) counts as q = 1.
            k: neighbours wanted per query.

        Returns:
            ``(dist, ids)``, int32 and int64 of shape (q, k). Where fewer than k codes are found, the rest of the
            row holds id -1 and distance -1.
        """
        queries = self._check_codes(codes)
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        dist = np.full((len(queries), k), -1, dtype=np.int32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        kk = min(k, self._n)
        if not len(queries) or not kk or self._index is None:
            return dist, ids
        with _omp_threads(self._team(len(queries), PARALLEL_MIN_QUERIES)):
            d, i = self._index.search(queries, kk)
        d[i < 0] = -1
        dist[:, :kk], ids[:, :kk] = d, i
        return dist, ids

    def range_search(self, codes: npt.ArrayLike, radius: int) -> list[tuple[Ids, Dists]]:
        """Every code within ``radius`` bits (inclusive) of each query, as ``(ids, dists)`` sorted by distance.

        Exact for flat; IVF only looks in the cells it probes, so a few far-apart matches may be missed.
        """
        queries = self._check_codes(codes)
        if radius < 0:
            raise ValueError(f"radius must be >= 0, got {radius}")
        if self._index is None or not self._n:
            return [(np.empty(0, np.int64), np.empty(0, np.int32)) for _ in range(len(queries))]
        with _omp_threads(self._team(len(queries), PARALLEL_MIN_QUERIES)):
            lims, d, i = self._index.range_search(queries, int(radius) + 1)  # faiss keeps distance < radius
        out = []
        for q in range(len(queries)):
            di = np.asarray(d[lims[q] : lims[q + 1]], dtype=np.int32)
            ii = np.asarray(i[lims[q] : lims[q + 1]], dtype=np.int64)
            order = np.lexsort((ii, di))
            out.append((ii[order], di[order]))
        return out

    # ----- persistence -----------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (the old file survives any failure).

        Calls ``rebuild_if_needed()`` first. Raises CatalogError when the file cannot be written.
        """
        self.rebuild_if_needed()
        sections: list[tuple[str, Any]] = [("ids", self._ids[: self._n]), ("codes", self._codes[: self._n])]
        if self._built is not None and self._built.kind == "ivf":
            sections.append(("faiss", faiss.serialize_index_binary(self._index)))
        header: dict[str, Any] = {
            "bits": self.bits,
            "kind": self.kind,
            "auto_threshold": self.auto_threshold,
            "n": self._n,
            "built": None if self._built is None else {"kind": self._built.kind, "nlist": self._built.nlist},
            "nprobe": self._nprobe,
        }
        cidx.write(Path(path), header, sections)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CodeIndex:
        """Read an index written by ``save``; raises CatalogError if the file is missing, damaged or truncated."""
        header, blobs = cidx.read(Path(path))
        try:
            index = cls(header["bits"], header["kind"], header["auto_threshold"])
            index._restore(header, blobs)
        except cidx.Damaged as exc:
            raise cidx.damaged_error(Path(path), exc) from None
        index.rebuild_if_needed()
        return index

    def _restore(self, header: dict[str, Any], blobs: dict[str, memoryview]) -> None:
        n = int(header["n"])
        ids = np.frombuffer(blobs["ids"], dtype=np.int64).copy()
        codes = np.frombuffer(blobs["codes"], dtype=np.uint8).copy()
        if len(ids) != n or codes.size != n * self._width:
            raise cidx.Damaged("ids and codes disagree in length")
        if n and (ids.min() < 0 or _has_duplicates(ids)):
            raise cidx.Damaged("invalid photo ids")
        self._codes, self._ids, self._n = codes.reshape(n, self._width), ids, n
        self._rows.rebuild(ids)
        self._nprobe = header.get("nprobe")
        built = header.get("built")
        if not n or built is None:
            return
        plan = _Plan(built["kind"], int(built["nlist"]))
        if plan.kind != "ivf":
            self._build(plan)
            return
        try:
            index = faiss.deserialize_index_binary(np.frombuffer(blobs["faiss"], dtype=np.uint8))
        except (KeyError, RuntimeError) as exc:
            raise cidx.Damaged(f"unreadable IVF structure: {exc}") from None
        if index.ntotal != n or index.d != self.bits:
            raise cidx.Damaged("IVF structure does not match the stored codes")
        self._set_index(index, plan)
