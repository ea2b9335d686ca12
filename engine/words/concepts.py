"""What each photo shows, in ImageNet's 1,000 concepts, and the maths that turns a word into ranked photos.

The backbone's last layer is linear (``logits = W f + b``, exported by ``engine.model.export_head``), so the concepts of
every indexed photo come from the feature cache: no photo is decoded again. Per photo the cache keeps the
``TOP`` most likely classes with their probabilities, and the photo's ``NEIGHBOURS`` nearest photos by code
(Hamming distance), and its share of each basic colour (``engine.images.colours``): 107 bytes a photo, in one file
``concepts.bin`` beside the catalog. It is derived data: checked when read (a checksum over the body), rebuilt from
the features when missing or damaged.

A word query is ranked in three steps, the idea of UGACH (Zhang, Peng and Yuan, AAAI 2018: one Hamming space for
words and photos, and a correlation graph that carries the manifold structure across the two), without the
adversarial training (docs/words.md):

1. **Word-photo correlation**: ``s0(x) = sum_c w_c p(c | x)`` over the word's ImageNet classes ``c``
   (:meth:`Concepts.scores`).
2. **Photo-photo graph**: ``s = a s0 + (1 - a) mean over x's neighbours of s``, twice (:func:`diffuse`): a photo
   whose neighbours show the word scores higher than its own, sometimes confused, classifier says.
3. **The word's code**: the sign of the ``s``-weighted sum of the codes (+-1) of the best ``SEEDS`` photos
   (:func:`text_code`), a 64-bit code in the photos' own Hamming space, so a word is searched like a photo.
   The match is ``s(x) * exp(-max(0, d(x) - d_ref) / TAU)`` (:func:`match_scores`), with ``d`` the Hamming distance
   from the word's code and ``d_ref`` the median distance of the seeds themselves.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine._atomic import atomic_write_bytes, sha256_file
from engine.codes.binary import popcount
from engine.images.colours import COLOURS, GRID_BYTES, colour_shares
from engine.errors import ModelCorrupt, ModelMissing
from engine.resources import resource_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.library.catalog import Catalog
    from engine.codes.codeindex import CodeIndex
    from engine.library.featstore import FeatureStore

__all__ = ["TOP", "NEIGHBOURS", "CONCEPTS_FILE", "ClassifierHead", "Concepts", "refresh", "update_file", "rank",
           "neighbours_of", "diffuse", "graph_of", "text_code", "match_scores", "hamming", "rank_scores"]

log = logging.getLogger(__name__)

TOP = 10  # classes kept per photo: beyond the 10th the probabilities of the backbone sum to ~2 %
NEIGHBOURS = 10  # photo-photo graph degree
KEEP = 0.5  # own share in each diffusion step
STEPS = 2
SEEDS = 20  # photos whose codes make the word's code
TAU = 8.0  # bits: how fast the match decays with the distance from the word's code
_MAGIC = b"SIMILI-CONCEPTS 2\n"
CONCEPTS_FILE = "concepts.bin"
_HEADER_MAX = 4096
_HEAD_FILE = "imagenet_head.npy"
REGRAPH_GROWTH = 1.25  # rebuild every photo's neighbours when the library grew by a quarter since
CHUNK = 8192


class ClassifierHead:
    """The backbone's ImageNet classifier as numpy (``imagenet_head.npy``, checked against its sidecar)."""

    _cached: ClassifierHead | None = None

    def __init__(self, path: str | os.PathLike[str] | None = None):
        path = Path(path) if path else resource_path("models", _HEAD_FILE)
        side = path.with_suffix(".json")
        try:
            expected = json.loads(side.read_text(encoding="utf-8"))["sha256"]
        except FileNotFoundError as exc:
            raise ModelMissing(f"{side} is missing. Reinstall Simili to restore it.") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelCorrupt(f"{side} is unreadable ({exc}). Reinstall Simili to restore it.") from exc
        if sha256_file(path) != expected:
            raise ModelCorrupt(f"{path} does not match its checksum. Reinstall Simili to restore it.")
        packed = np.load(path, allow_pickle=False).astype(np.float32)
        self.weight = np.ascontiguousarray(packed[:, :-1].T)  # (1280, 1000)
        self.bias = packed[:, -1].copy()

    @classmethod
    def shipped(cls) -> ClassifierHead:
        """The head that ships with the app, loaded once per process."""
        if cls._cached is None:
            cls._cached = cls()
        return cls._cached

    def probabilities(self, features: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Softmax of the logits, ``(n, 1000)``."""
        logits = np.asarray(features, dtype=np.float32) @ self.weight + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def top(self, features: npt.ArrayLike, k: int = TOP, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most likely classes per photo (uint16) and their probabilities (float16), best first."""
        feats = np.asarray(features)
        classes = np.empty((len(feats), k), dtype=np.uint16)
        probs = np.empty((len(feats), k), dtype=np.float16)
        for start in range(0, len(feats), chunk):
            p = self.probabilities(feats[start : start + chunk])
            part = np.argpartition(-p, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(p, part, axis=1), axis=1, kind="stable")
            best = np.take_along_axis(part, order, axis=1)
            classes[start : start + chunk] = best
            probs[start : start + chunk] = np.take_along_axis(p, best, axis=1)
        return classes, probs


@dataclass
class Concepts:
    """Per photo (``ids``, in one order): top classes, their probabilities and the nearest photos' positions."""

    ids: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]  # each photo's feature row when it was read (a photo re-read gets a new one)
    classes: npt.NDArray[np.uint16]  # (n, TOP)
    probs: npt.NDArray[np.float16]  # (n, TOP)
    neighbours: npt.NDArray[np.int32]  # (n, NEIGHBOURS), positions in this table, -1 where none
    colours: npt.NDArray[np.uint8]  # (n, len(COLOURS)): share of each basic colour x 255 (engine.images.colours)
    graph_n: int = 0  # photos when the graph was last built in full
    _by_class: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    _graph: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, weights: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """``s0 = sum_c w_c p(c | x)`` (step 1) for a weight per ImageNet class, ``(1000,)``.

        Read through an inverted list (class -> photos that have it among their top classes, built once), so a
        word touches only the photos that may show it: ~1 ms at 100k photos.
        """
        if self._by_class is None:
            flat = self.classes.ravel()
            order = np.argsort(flat, kind="stable")
            self._by_class = (np.searchsorted(flat[order], np.arange(1001)).astype(np.int64),
                              (order // self.classes.shape[1]).astype(np.int32),
                              self.probs.ravel()[order].astype(np.float32))
        starts, rows, probs = self._by_class
        w = np.asarray(weights, dtype=np.float32)
        wanted = [c for c in np.flatnonzero(w).tolist() if starts[c + 1] > starts[c]]
        if not wanted:
            return np.zeros(len(self), dtype=np.float32)
        at = np.concatenate([np.arange(starts[c], starts[c + 1]) for c in wanted])
        lengths = np.array([starts[c + 1] - starts[c] for c in wanted])
        contrib = probs[at] * np.repeat(w[wanted], lengths)
        return np.bincount(rows[at], weights=contrib, minlength=len(self)).astype(np.float32)

    def subset(self, keep: npt.NDArray[np.bool_]) -> Concepts:
        """The rows where ``keep`` is true, with the graph's positions renumbered (lost neighbours become -1)."""
        new_pos = np.full(len(self) + 1, -1, dtype=np.int32)  # last slot maps -1 to -1
        new_pos[:-1][keep] = np.arange(int(keep.sum()), dtype=np.int32)
        return Concepts(self.ids[keep], self.rows[keep], self.classes[keep], self.probs[keep],
                        new_pos[self.neighbours[keep]], self.colours[keep], self.graph_n)

    # -- file ----------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        body = b"".join(np.ascontiguousarray(a).tobytes()
                        for a in (self.ids, self.rows, self.classes, self.probs, self.neighbours, self.colours))
        header = {"n": len(self), "top": self.classes.shape[1], "neighbours": self.neighbours.shape[1],
                  "graph_n": int(self.graph_n), "crc32": zlib.crc32(body)}
        atomic_write_bytes(path, _MAGIC + json.dumps(header).encode() + b"\n" + body)

    def save_or_warn(self, path: Path) -> bool:
        """:meth:`save`, logging instead of raising when the disk refuses (full, or something planted in its
        place): the table is derived data, and search keeps it in memory meanwhile."""
        try:
            self.save(path)
        except OSError as exc:
            log.warning("could not save %s: %s", path, exc)
            return False
        return True

    @classmethod
    def load(cls, path: Path) -> Concepts | None:
        """The table in ``path``; None when it is missing, of another format, or damaged (it is rebuilt).

        The header is read first and the file's size checked against it, so a planted or runaway file is never
        read whole into memory.
        """
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return None  # a folder, a FIFO or a device planted there: never opened (a FIFO would hang)
            with open(path, "rb") as f:
                head = f.read(_HEADER_MAX)
                if not head.startswith(_MAGIC) or b"\n" not in head[len(_MAGIC) :]:
                    return None
                end = head.index(b"\n", len(_MAGIC))
                header = json.loads(head[len(_MAGIC) : end])
                n, top, k = int(header["n"]), int(header["top"]), int(header["neighbours"])
                if n < 0 or top != TOP or k != NEIGHBOURS:
                    return None
                sizes = (n * 8, n * 8, n * top * 2, n * top * 2, n * k * 4, n * len(COLOURS))
                if os.fstat(f.fileno()).st_size != end + 1 + sum(sizes):
                    return None
                f.seek(end + 1)
                body = f.read()
            if zlib.crc32(body) != int(header["crc32"]):
                return None
            parts, at = [], 0
            for size, dtype in zip(sizes, (np.int64, np.int64, np.uint16, np.float16, np.int32, np.uint8)):
                parts.append(np.frombuffer(body, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=at))
                at += size
        except (OSError, ValueError, KeyError, TypeError):
            return None
        table = cls(parts[0], parts[1], parts[2].reshape(n, top), parts[3].reshape(n, top), parts[4].reshape(n, k),
                    parts[5].reshape(n, len(COLOURS)), int(header.get("graph_n", n)))
        sane = (table.classes < 1000).all() and np.isfinite(table.probs).all() and \
            ((table.neighbours >= -1) & (table.neighbours < max(n, 1))).all()
        return table if sane else None


def hamming(codes: npt.ArrayLike, code: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Hamming distance of each row of ``codes`` (uint8, (n, bytes)) from one ``code``."""
    rows = np.ascontiguousarray(codes, dtype=np.uint8)
    one = np.ascontiguousarray(code, dtype=np.uint8).reshape(1, -1)
    if rows.shape[1] % 8 == 0:
        rows, one = rows.view(np.uint64), one.view(np.uint64)
    return popcount(rows ^ one).astype(np.int32)


def diffuse(s0: npt.ArrayLike, neighbours: npt.NDArray[np.int32], keep: float = KEEP, steps: int = STEPS,
            graph: tuple[np.ndarray, np.ndarray] | None = None) -> npt.NDArray[np.float32]:
    """Step 2: spread word-photo scores along the photo graph, ``s = keep s0 + (1 - keep) mean_nbrs(s)``."""
    s0 = np.asarray(s0, dtype=np.float32)
    safe, share = graph if graph is not None else graph_of(neighbours)
    padded = np.zeros(len(s0) + 1, dtype=np.float32)  # slot n stands for "no neighbour" and stays 0
    s = s0
    for _ in range(steps):
        padded[:-1] = s
        s = np.where(share > 0, keep * s0 + (1.0 - keep) * share * padded[safe].sum(axis=1), s0)
    return s.astype(np.float32, copy=False)


def graph_of(neighbours: npt.NDArray[np.int32]) -> tuple[np.ndarray, np.ndarray]:
    """The graph as :func:`diffuse` reads it: positions with -1 sent to a zero slot, and 1 / neighbour count."""
    valid = neighbours >= 0
    safe = np.where(valid, neighbours, len(neighbours)).astype(np.int32)  # int32: 40 MB, not 80, at 1M photos
    count = valid.sum(axis=1)
    return safe, np.where(count > 0, 1.0 / np.maximum(count, 1), 0.0).astype(np.float32)


def text_code(codes: npt.NDArray[np.uint8], scores: npt.NDArray[np.float32],
              seeds: int = SEEDS) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Step 3: the word's code (the sign of the score-weighted sum of the best photos' +-1 codes) and the seeds."""
    m = max(1, min(seeds, len(scores)))
    best = np.argpartition(-scores, m - 1)[:m] if m < len(scores) else np.arange(len(scores))
    signs = np.unpackbits(codes[best], axis=1).astype(np.float32) * 2.0 - 1.0
    vote = (signs * np.maximum(scores[best], 1e-6)[:, None]).sum(axis=0)
    return np.packbits((vote > 0).astype(np.uint8)), best


def match_scores(scores: npt.NDArray[np.float32], codes: npt.NDArray[np.uint8],
                 tau: float = TAU) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """The final match ``s * exp(-max(0, d - d_ref) / tau)`` per photo, and ``d``, each photo's distance in bits
    from the word's code; ``d_ref`` is the seeds' median distance, so a typical seed keeps its own score."""
    code, seeds = text_code(codes, scores)
    dist = hamming(codes, code)
    ref = float(np.median(dist[seeds]))
    return scores * np.exp(-np.maximum(0.0, dist - ref) / tau).astype(np.float32), dist


def _empty() -> Concepts:
    return Concepts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, TOP), np.uint16),
                    np.zeros((0, TOP), np.float16), np.zeros((0, NEIGHBOURS), np.int32),
                    np.zeros((0, len(COLOURS)), np.uint8), 0)


def neighbours_of(index: CodeIndex, ids: np.ndarray, all_ids: np.ndarray) -> np.ndarray:
    """Positions (in ``all_ids``) of each photo's ``NEIGHBOURS`` nearest photos by code, itself left out."""
    sorter = np.argsort(all_ids, kind="stable")
    out = np.full((len(ids), NEIGHBOURS), -1, dtype=np.int32)
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        _, found = index.search(index.codes_of(part), NEIGHBOURS + 1)
        found = np.where(found == part[:, None], -1, found)
        # keep the first NEIGHBOURS hits that are other photos, in order
        order = np.argsort(found < 0, axis=1, kind="stable")[:, :NEIGHBOURS]
        found = np.take_along_axis(found, order, axis=1)
        at = np.searchsorted(all_ids, found, sorter=sorter).clip(0, len(all_ids) - 1)
        pos = sorter[at]
        out[start : start + CHUNK] = np.where((found >= 0) & (all_ids[pos] == found), pos, -1)
    return out


def refresh(table: Concepts | None, catalog: Catalog, features: FeatureStore, index: CodeIndex,
            head: ClassifierHead | None = None,
            progress: Callable[[int, int], None] | None = None) -> tuple[Concepts, bool]:
    """The table for the photos of ``index`` now, reusing ``table``'s rows; ``(table, changed)``.

    Photos gone from the index, or read again since (a new feature row: the file changed), are dropped; new ones
    get their classes from the feature cache and their neighbours from the index. Every photo's neighbours are
    found again when the library grew by a quarter since they last were (``REGRAPH_GROWTH``), so early photos are
    not left with the neighbours of a small library. ``progress(done, total)`` is called as new photos are done.
    """
    table = table if table is not None else _empty()
    cat_ids, cat_rows = (np.asarray(a, dtype=np.int64) for a in catalog.feature_rows())
    wanted = np.isin(cat_ids, index.ids())
    ids, rows = cat_ids[wanted], cat_rows[wanted]  # in id order
    # keep a row while its photo is searchable and was not read again (same feature row)
    at = np.searchsorted(ids, table.ids).clip(0, max(len(ids) - 1, 0))
    keep = (ids[at] == table.ids) & (rows[at] == table.rows) if len(ids) else np.zeros(len(table), bool)
    changed = not bool(keep.all())
    if changed:
        table = table.subset(keep)
    fresh = ~np.isin(ids, table.ids)
    new, new_rows = ids[fresh], rows[fresh]
    regraph = len(ids) > 0 and len(ids) >= REGRAPH_GROWTH * max(table.graph_n, 1) and len(ids) > table.graph_n
    if not len(new) and not regraph:
        return table, changed
    head = head or ClassifierHead.shipped()
    classes = np.empty((len(new), TOP), np.uint16)
    probs = np.empty((len(new), TOP), np.float16)
    for start in range(0, len(new), CHUNK):
        part = new_rows[start : start + CHUNK]
        classes[start : start + len(part)], probs[start : start + len(part)] = head.top(features.get(part))
        if progress:
            progress(start + len(part), len(new))
    all_ids = np.concatenate([table.ids, new])
    nbrs = np.concatenate([table.neighbours, np.full((len(new), NEIGHBOURS), -1, np.int32)])
    todo = np.arange(len(all_ids)) if regraph else np.arange(len(table), len(all_ids))
    nbrs[todo] = neighbours_of(index, all_ids[todo], all_ids)
    graph_n = len(all_ids) if regraph else table.graph_n
    return Concepts(all_ids, np.concatenate([table.rows, new_rows]), np.concatenate([table.classes, classes]),
                    np.concatenate([table.probs, probs]), nbrs,
                    np.concatenate([table.colours, _colours_of(catalog, new)]), graph_n), True


def _colours_of(catalog: Catalog, ids: np.ndarray) -> np.ndarray:
    """Colour shares x 255 of photos, from the colour grid of their catalog signature (zeros where none)."""
    out = np.zeros((len(ids), len(COLOURS)), np.uint8)
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK].tolist()
        sigs = catalog.signatures_of(part)
        have = [j for j, i in enumerate(part) if i in sigs and len(sigs[i]) >= GRID_BYTES]
        if have:
            grids = np.stack([np.frombuffer(sigs[part[j]], np.uint8)[-GRID_BYTES:] for j in have])
            out[start + np.array(have)] = np.round(colour_shares(grids) * 255).astype(np.uint8)
    return out


def rank(table: Concepts, codes: npt.NDArray[np.uint8], weights: npt.ArrayLike,
         steps: str = "code") -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """A word's match for every photo of ``table`` (``codes`` in the table's order) and its distance in bits from
    the word's code: steps 1-3 of the module docstring. ``steps`` stops early for the benchmark's rows:
    ``"classifier"`` (step 1), ``"graph"`` (1-2), ``"code"`` (all; the app's)."""
    return rank_scores(table, codes, table.scores(weights), steps)


def rank_scores(table: Concepts, codes: npt.NDArray[np.uint8], scores: npt.NDArray[np.float32],
                steps: str = "code") -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """:func:`rank` from step 1's word-photo scores on (a taught word's come from ``engine.words.taught``)."""
    if steps != "classifier":
        if table._graph is None:
            table._graph = graph_of(table.neighbours)
        scores = diffuse(scores, table.neighbours, graph=table._graph)
    if steps != "code":
        return scores, np.zeros(len(scores), dtype=np.int32)
    return match_scores(scores, codes)


def update_file(home: Path, catalog: Catalog, features: FeatureStore, index: CodeIndex,
                progress: Callable[[int, int], None] | None = None) -> Concepts:
    """Bring ``home/concepts.bin`` up to date with ``index`` (a writer's step at the end of ``index``)."""
    path = Path(home) / CONCEPTS_FILE
    table, changed = refresh(Concepts.load(path), catalog, features, index, progress=progress)
    if changed or not path.is_file():
        table.save_or_warn(path)
    return table
