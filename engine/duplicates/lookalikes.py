"""Look-alike pairs: the photos close enough in code and features for the pixel check to compare.

Pairs come from the codes (multi-index hashing on 16-bit pieces of the binary codes, or an exhaustive scan when
the radius is wide), in a library of up to ``FEATURE_SCAN`` photos from each photo's nearest by feature cosine
(codes fitted on a few photos are coarse: a copy rotated in its frame can be 16 bits off), and from the photos'
own whole-frame hashes, which catch a black-and-white or recoloured copy
whose features drifted out of the radius; each photo keeps only its ``NEAREST`` partners, so a burst of hundreds
of shots costs no more than a few. The list is stored with a digest of its inputs and read back while nothing
changed.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.codes.binary import popcount
from engine.errors import CatalogError
from engine.duplicates.matching import MATCH_VERSION
from engine.types import Progress

if TYPE_CHECKING:
    from engine.codes.codeindex import CodeIndex
    from engine.library.catalog import Catalog
    from engine.library.featstore import FeatureStore

__all__ = ["Inputs", "candidates", "near_pairs", "flat_pairs", "feature_pairs", "progress", "store_derived", "NEAREST"]

log = logging.getLogger(__name__)

_CHUNK = 4096
_TABLE_BITS = 16  # multi-index hashing on the codes' 16-bit pieces
_MAX_MASKS = 4000  # beyond this many probes per photo (a wide radius) the exhaustive scan is cheaper
NEAREST = 12  # look-alike partners kept per photo
FRAME_MIN_COSINE = 0.3  # pairs proposed by their frames need features that agree this much
FRAME_RADIUS = 6  # pHash bits of the whole frame within which a pair is compared whatever its features
FEATURE_SCAN = 5000  # up to this many photos, each photo's nearest by feature cosine are candidates too
FEATURE_NEAREST = 6
FEATURE_MIN_COSINE = 0.85


def _tables(bits: int, radius: int) -> list[tuple[int, int]]:
    """(first bit, threshold) of each ``_TABLE_BITS``-bit hash table, for multi-index hashing (Norouzi et al.,
    "Fast search in Hamming space with multi-index hashing", CVPR 2012), with the thresholds of the generalised
    pigeonhole principle: they sum to ``radius - tables + 1``, so two codes within ``radius`` bits differ in at
    most its threshold on at least one table's bits (were every table off by threshold + 1, the codes would
    differ in radius + 1 bits). A threshold of -1 drops the table.
    """
    count = bits // _TABLE_BITS
    total = radius - count + 1
    return [(t * _TABLE_BITS, total // count + (1 if t < total % count else 0)) for t in range(count)]


def _masks(width: int, threshold: int) -> np.ndarray:
    """Every ``width``-bit mask with 1 to ``threshold`` bits set."""
    return np.array([sum(1 << b for b in c) for k in range(1, threshold + 1)
                     for c in itertools.combinations(range(width), k)], dtype=np.int64)


def _table_pairs(keys: np.ndarray, table: int, threshold: int, words: np.ndarray,
                 radius: int, thresholds: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row pairs (i, j, distance) within ``radius`` whose ``table`` keys differ in at most ``threshold`` bits,
    each pair once, and only where no earlier table would have found it (so no pair comes from two tables)."""
    key = keys[:, table]
    order = np.argsort(key, kind="stable").astype(np.int32)
    skey = key[order]
    sw = words[order]
    start = np.zeros(2**_TABLE_BITS + 1, dtype=np.int32)
    np.cumsum(np.bincount(skey, minlength=2**_TABLE_BITS), out=start[1:])

    def probes():
        # mask 0: pairs inside one bucket; then each pair of buckets (g, g ^ mask) once, from its lower key
        pos = np.arange(len(skey), dtype=np.int32)
        yield pos, pos + 1, start[skey + 1] - pos - 1
        for mask in _masks(_TABLE_BITS, threshold):
            other = skey ^ mask
            q = np.flatnonzero(other > skey).astype(np.int32)
            lo = start[other[q]]
            yield q, lo, start[other[q] + 1] - lo

    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for q, lo, cnt in probes():
        for a, b in _expand(q, lo, cnt):
            dist = popcount(sw[a] ^ sw[b])
            keep = np.flatnonzero(dist <= radius)
            left, right, dist = order[a[keep]], order[b[keep]], dist[keep]
            for earlier in range(table):  # found there already
                if thresholds[earlier] >= 0:
                    keep = popcount(keys[left, earlier : earlier + 1] ^ keys[right, earlier : earlier + 1]) \
                        > thresholds[earlier]
                    left, right, dist = left[keep], right[keep], dist[keep]
            out.append((left.astype(np.int64), right.astype(np.int64), dist.astype(np.int64)))
    return tuple(np.concatenate(x) for x in zip(*out)) if out else (np.zeros(0, np.int64),) * 3  # type: ignore


def _expand(q: np.ndarray, lo: np.ndarray, cnt: np.ndarray, block: int = 1 << 22):
    """Sorted-row pairs (q[k], lo[k] + c) for c < cnt[k], in blocks of about ``block`` pairs; yields (left,
    right) position arrays."""
    nz = cnt > 0
    q, lo, cnt = q[nz], lo[nz], cnt[nz]
    if not len(q):
        return
    ends = np.cumsum(cnt)
    cuts = np.searchsorted(ends, np.arange(block, int(ends[-1]), block), side="right")
    for s, e in zip(np.r_[0, cuts], np.r_[cuts, len(q)]):
        if s == e:
            continue
        c = cnt[s:e]
        total = int(c.sum())
        base = np.repeat(lo[s:e] - (np.cumsum(c) - c), c)
        base += np.arange(total, dtype=base.dtype)
        yield np.repeat(q[s:e], c), base


def near_pairs(codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i < j) whose codes are within ``radius`` bits, kept where one is among the other's
    ``NEAREST`` nearest (a burst of hundreds of look-alikes would otherwise make the work grow with its square).

    Exact: multi-index hashing on the codes' 16-bit quarters (``_tables``), each pair of buckets whose keys are
    within a table's threshold compared on the whole code. The work is one pass over the photos per probed mask
    plus the pairs sharing probed buckets (about n^2 / 65536 per mask: at 1M photos that dominates).
    """
    n, nbytes = codes.shape
    bits = nbytes * 8
    words = np.zeros((n, -(-nbytes // 8) * 8), dtype=np.uint8)
    words[:, :nbytes] = codes
    words = words.view(np.uint64)
    tables = _tables(bits, radius) if bits % _TABLE_BITS == 0 else []
    if not tables or sum(len(_masks(_TABLE_BITS, t)) for _, t in tables) > _MAX_MASKS:
        return flat_pairs(codes, radius)
    padded = np.zeros((n, -(-nbytes // 2) * 2), dtype=np.uint8)
    padded[:, :nbytes] = codes
    keys = padded.view("<u2").astype(np.int64)[:, [first // _TABLE_BITS for first, _ in tables]]
    thresholds = [t for _, t in tables]
    parts = [_table_pairs(keys, t, thr, words, radius, thresholds) for t, thr in enumerate(thresholds) if thr >= 0]
    left, right, dist = (np.concatenate(x) for x in zip(*parts))
    return _nearest(np.minimum(left, right), np.maximum(left, right), dist, n)


def _nearest(left: np.ndarray, right: np.ndarray, dist: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs where either photo is among the other's ``NEAREST`` nearest (ties: lower row first)."""
    src, dst = np.r_[left, right], np.r_[right, left]
    spread = int(dist.max()) + 1 if len(dist) else 1
    order = np.argsort((src * spread + np.r_[dist, dist]) * n + dst, kind="stable")
    ranked = src[order]
    rank = np.arange(len(order)) - np.searchsorted(ranked, ranked)
    near = np.zeros(len(order), dtype=bool)
    near[order] = rank < NEAREST
    keep = near[: len(left)] | near[len(left) :]
    return left[keep], right[keep]


def feature_pairs(feats: np.ndarray, k: int = FEATURE_NEAREST,
                  floor: float = FEATURE_MIN_COSINE) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i < j) where j is among i's ``k`` nearest by feature cosine (or i among j's), at ``floor`` or
    above: an exact scan, for libraries of up to ``FEATURE_SCAN`` photos."""
    f = np.asarray(feats, np.float32)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    n = len(f)
    left, right = [], []
    for start in range(0, n, 1024):
        sims = f[start : start + 1024] @ f.T
        rows = np.arange(start, start + len(sims))
        sims[rows - start, rows] = -1.0
        kk = min(k, n - 1)
        if kk < 1:
            break
        near = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        ok = np.take_along_axis(sims, near, axis=1) >= floor
        q = np.repeat(rows, kk).reshape(-1, kk)[ok]
        left.append(np.minimum(q, near[ok]))
        right.append(np.maximum(q, near[ok]))
    if not left:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.concatenate(left).astype(np.int64) * n + np.concatenate(right))
    return pairs // n, pairs % n


def flat_pairs(codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The same pairs by an exhaustive scan (codes whose length or radius defeats the hash tables)."""
    import faiss

    n, bits = len(codes), codes.shape[1] * 8
    index = faiss.IndexBinaryFlat(bits)
    index.add(codes)
    left, right, dist = [], [], []
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # an OpenMP team spinning on busy cores costs 10x the CPU (engine.codes.codeindex)
    try:
        for start in range(0, n, 65536):
            lims, d, hits = index.range_search(codes[start : start + 65536], int(radius) + 1)
            query = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims.astype(np.int64)))
            keep = hits > query
            left.append(query[keep])
            right.append(hits[keep])
            dist.append(d[keep].astype(np.int64))
    finally:
        faiss.omp_set_num_threads(threads)
    return _nearest(np.concatenate(left), np.concatenate(right), np.concatenate(dist), n)


@dataclass
class Inputs:
    """What the look-alike search reads: photos with features and a code (ids sorted), and the frame hashes."""

    ids: np.ndarray
    feat_rows: np.ndarray
    codes: np.ndarray
    hash_ids: np.ndarray
    hashes: np.ndarray

    @classmethod
    def read(cls, catalog: Catalog, index: CodeIndex) -> Inputs:
        ids = np.sort(index.ids())
        known_ids, known_rows = (np.asarray(a, dtype=np.int64) for a in catalog.feature_rows())
        at = np.minimum(np.searchsorted(known_ids, ids), max(len(known_ids) - 1, 0))
        has_row = (known_ids[at] == ids) if len(known_ids) else np.zeros(len(ids), bool)
        ids = ids[has_row]
        return cls(ids, known_rows[at[has_row]], index.codes_of(ids), *catalog.frame_hashes())

    def digest(self, radius: int, min_cosine: float) -> str:
        """A checksum of everything the search's answer depends on (with the copy check's version)."""
        crc = 0
        for a in (self.ids, self.feat_rows, self.codes, self.hash_ids, self.hashes):
            crc = zlib.crc32(np.ascontiguousarray(a).tobytes(), crc)
        return f"m{MATCH_VERSION}:{radius}:{min_cosine!r}:{len(self.ids)}:{crc:08x}"


def candidates(catalog: Catalog, features: FeatureStore, inputs: Inputs, radius: int,
                min_cosine: float) -> Generator[Progress, None, list[tuple[float, int, int]]]:
    """(cosine, a, b) of every pair within the radius whose features agree, best first.

    The list is stored in the catalog with the digest of its inputs (``Catalog.look_alikes``): while the library
    is unchanged, the next search reads it instead of searching again.
    """
    digest = inputs.digest(radius, min_cosine)
    stored = catalog.look_alikes(digest)
    if stored is not None:
        return sorted(stored, reverse=True)
    ids, feat_rows, hash_ids, hashes = inputs.ids, inputs.feat_rows, inputs.hash_ids, inputs.hashes
    if len(ids) < 2:
        return []
    left, right = near_pairs(inputs.codes, radius)
    if len(ids) <= FEATURE_SCAN:  # codes fitted on a small library are coarse: the features' own nearest too
        fl, fr = feature_pairs(features.get(feat_rows))
        both = np.unique(np.concatenate([left * len(ids) + right, fl * len(ids) + fr]))
        left, right = both // len(ids), both % len(ids)
    yield progress(0, None, "looking for look-alikes: photos with a close thumbnail")
    # the photos' own pixels propose pairs too: a black-and-white or recoloured copy can drift out of the radius
    if len(hash_ids) > 1:
        at = np.searchsorted(ids, hash_ids)
        ok = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == hash_ids)
        hl, hr = near_pairs(hashes[ok].view(np.uint8).reshape(-1, 8), FRAME_RADIUS)
        rows = at[ok]
        hl, hr = np.minimum(rows[hl], rows[hr]), np.maximum(rows[hl], rows[hr])
        by_pixels = hl * len(ids) + hr
        both = np.unique(np.concatenate([left * len(ids) + right, by_pixels]))
        left, right = both // len(ids), both % len(ids)
        floor = np.where(np.isin(both, by_pixels), min(min_cosine, FRAME_MIN_COSINE), min_cosine)
    else:
        floor = np.full(len(left), min_cosine)
    yield progress(0, None, f"looking for look-alikes: comparing the features of {len(left)} close pairs")
    out = []
    for start in range(0, len(left), _CHUNK):
        a, b = left[start : start + _CHUNK], right[start : start + _CHUNK]
        fa, fb = features.get(feat_rows[a]), features.get(feat_rows[b])
        cos = (fa * fb).sum(axis=1) / np.maximum(np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1), 1e-12)
        ok = cos >= floor[start : start + _CHUNK]
        out.extend(zip(cos[ok].tolist(), ids[a[ok]].tolist(), ids[b[ok]].tolist()))
    store_derived(catalog, "look-alike pairs", lambda: catalog.set_look_alikes(digest, out))
    return sorted(out, reverse=True)


def store_derived(catalog: Catalog, what: str, write: Callable[[], None]) -> None:
    """Write derived data in one transaction; a library that cannot be written (or is busy) keeps none."""
    if catalog.read_only:
        return
    try:
        with catalog.transaction():
            write()
    except (CatalogError, sqlite3.Error) as exc:
        log.warning("the %s were not stored: %s", what, exc)


def progress(done: int, total: int | None, message: str) -> Progress:
    return Progress("dupes", done, total, message=message)
