"""Words the user teaches ("tomato", "Max", "grandma's garden"): a small model per word on the cached features.

A taught word is its example photos (and the photos the user said it is not). Nothing is decoded again: the model
is trained on the feature cache, in three steps, each measured by ``python -m bench.words --taught``
(docs/words.md has the numbers):

1. **The word's two directions**, from the examples' features, each first centred on the collection's mean feature
   and made unit length: the *centred prototype* (their mean) and the *whitened prototype* (the same mean through
   the collection's shrunk inverse covariance, ``(C + SHRINK tr(C)/d I)^-1 m``: the linear classifier of the
   examples against the collection when both share the collection's spread, Fisher's discriminant). The whitened
   one finds what sets the examples apart from the collection (grocery coarse classes, 3 examples: P@20 .81 ->
   .87); the centred one is steadier where the collection is small or all alike (garments). Both are kept and
   averaged. The collection's mean and covariance (:class:`Space`) are computed once per library from a sample of
   its photos and shared by all words. Rejected photos push the word away from them (Rocchio's relevance
   feedback: ``m = mean(examples) - REJECT_WEIGHT mean(rejections)``, :func:`directions`).
2. **Calibration**: each direction's projection is placed between the collection's median photo (0) and the
   examples' median (1), the two are averaged and mapped to 0..1 without a ceiling that would tie the best photos
   (:func:`calibrate`), so a taught word's match reads like a classifier's (0 = unrelated, ~0.8 = like the
   examples) and is ranked and shown by the same code as every other word.
3. **The photo graph**: the calibrated scores go through the same step as a known word's
   (``engine.words.concepts.diffuse``): spread along each photo's nearest photos.

The models are a few kilobytes (two directions, 1,280 numbers each) and are derived from what the catalog keeps
(the word, its examples and its rejections, ``engine.library.names``), so they are never stored: they are trained
again when a library is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Space", "RowStats", "TaughtModel", "directions", "calibrate", "teach", "REJECT_WEIGHT", "SAMPLE", "SHRINK"]

SAMPLE = 4096  # photos whose mean and covariance every word is measured from (they settle well before this)
SHRINK = 1.0  # the covariance's shrinkage towards its mean variance (bench.words --taught: 0.3 to 3 are alike)
REJECT_WEIGHT = 0.5  # share of the rejections in the "not the word" mean, once there are some
SPREAD = 1.6  # calibrate(): a photo as far along as the examples' median scores 1 - exp(-SPREAD) = 0.8
CHUNK = 8192


def unit(x: npt.ArrayLike) -> npt.NDArray[np.float32]:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class Space:
    """A collection's mean feature (of unit-length features) and the shrunk inverse covariance of its centred
    features: what every word's directions are measured from."""

    mean: npt.NDArray[np.float32]
    whiten: npt.NDArray[np.float32]  # (C + SHRINK tr(C)/d I)^-1, d x d

    @classmethod
    def of(cls, features: npt.ArrayLike, sample: int = SAMPLE, seed: int = 0, shrink: float = SHRINK) -> Space:
        x = np.asarray(features)
        if len(x) > sample:
            x = x[np.sort(np.random.default_rng(seed).choice(len(x), sample, replace=False))]
        x = unit(x)
        mean = x.mean(axis=0).astype(np.float32)
        xc = unit(x - mean)
        xc = xc - xc.mean(axis=0)
        d = xc.shape[1]
        cov = (xc.T @ xc) / max(1, len(xc) - 1)
        ridge = shrink * max(float(np.trace(cov)) / d, 1e-6)
        whiten = np.linalg.inv(cov.astype(np.float64) + ridge * np.eye(d)) * ridge  # scaled: I where C is 0
        return cls(mean, whiten.astype(np.float32))

    def centred(self, features: npt.ArrayLike) -> npt.NDArray[np.float32]:
        return unit(unit(features) - self.mean)


def directions(space: Space, examples: npt.ArrayLike, rejections: npt.ArrayLike | None = None,
               reject_weight: float = REJECT_WEIGHT) -> npt.NDArray[np.float32]:
    """Step 1: the word's two directions (columns: centred prototype, whitened prototype), unit length."""
    m = space.centred(examples).mean(axis=0)
    if rejections is not None and len(rejections):
        m = m - reject_weight * space.centred(rejections).mean(axis=0)
    return unit(np.stack([m, space.whiten @ m])).T.copy()


@dataclass
class RowStats:
    """What ``centred`` needs of each photo besides its projections, measured once per library and shared by all
    words: the feature's length and its unit vector's dot product with the collection's mean. With them a word's
    projections take one product per photo (``project``), not a normalisation of every feature per word."""

    norms: npt.NDArray[np.float32]
    dots: npt.NDArray[np.float32]

    @classmethod
    def of(cls, space: Space, features_of, rows: npt.NDArray[np.int64]) -> RowStats:
        norms = np.empty(len(rows), np.float32)
        dots = np.empty(len(rows), np.float32)
        for start in range(0, len(rows), CHUNK):
            x = np.asarray(features_of(rows[start : start + CHUNK]), dtype=np.float32)
            n = np.maximum(np.linalg.norm(x, axis=1), 1e-12)
            norms[start : start + CHUNK] = n
            dots[start : start + CHUNK] = (x @ space.mean) / n
        return cls(norms, dots)


def project(space: Space, w: npt.NDArray[np.float32], features_of, rows: npt.NDArray[np.int64],
            stats: RowStats | None = None) -> npt.NDArray[np.float32]:
    """``centred(x) @ w`` for the feature rows ``rows``, read ``CHUNK`` at a time through ``features_of(rows)``.

    With the rows' ``stats``: ``centred(x) = (x/|x| - mean) / |x/|x| - mean|`` and ``|x/|x| - mean|^2 = 1 -
    2 dot + |mean|^2``, so only ``x @ w`` is computed per word (the same numbers, about three times faster)."""
    out = np.empty((len(rows), w.shape[1]), dtype=np.float32)
    if stats is None:
        for start in range(0, len(rows), CHUNK):
            out[start : start + CHUNK] = space.centred(features_of(rows[start : start + CHUNK])) @ w
        return out
    mean_w = space.mean @ w
    length = np.sqrt(np.maximum(1.0 - 2.0 * stats.dots + float(space.mean @ space.mean), 1e-24))
    for start in range(0, len(rows), CHUNK):
        x = np.asarray(features_of(rows[start : start + CHUNK]), dtype=np.float32)
        part = slice(start, start + len(x))
        out[part] = ((x @ w) / stats.norms[part, None] - mean_w) / length[part, None]
    return out


def calibrate(raw: npt.NDArray[np.float32], example_pos: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Step 2: each column of projections -> 0 at the collection's median photo, 1 at the examples' median; the
    columns averaged, then ``1 - exp(-SPREAD t)`` (0..1, increasing, so the best photos keep their order)."""
    raw = raw.reshape(len(raw), -1)
    low = np.median(raw, axis=0)
    high = np.median(raw[example_pos], axis=0) if len(example_pos) else raw.max(axis=0)
    t = ((raw - low) / np.maximum(high - low, 1e-6)).mean(axis=1)
    return (1.0 - np.exp(-SPREAD * np.maximum(t, 0.0))).astype(np.float32)


@dataclass
class TaughtModel:
    """One taught word, trained: its directions and its calibrated score for every photo of a table."""

    word: str
    w: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]  # calibrated, in the table's order (step 2)


def teach(word: str, space: Space, table_features, table_rows: npt.NDArray[np.int64],
          example_pos: npt.NDArray[np.int64], rejected_pos: npt.NDArray[np.int64],
          stats: RowStats | None = None) -> TaughtModel:
    """Train a word on the photos at table positions ``example_pos`` (and against ``rejected_pos``) and score
    every photo of the table (``table_features(rows)`` reads feature rows)."""
    examples = table_features(table_rows[example_pos])
    rejections = table_features(table_rows[rejected_pos]) if len(rejected_pos) else None
    w = directions(space, examples, rejections)
    raw = project(space, w, table_features, table_rows, stats)
    scores = calibrate(raw, example_pos)
    scores[example_pos] = 1.0
    if len(rejected_pos):
        scores[rejected_pos] = 0.0
    return TaughtModel(word, w, scores)


def positions(table_ids: npt.NDArray[np.int64], ids: list[int]) -> npt.NDArray[np.int64]:
    """Table positions of the photo ids ``ids`` that the table holds."""
    if not len(table_ids) or not ids:
        return np.zeros(0, np.int64)
    sorter = np.argsort(table_ids, kind="stable")
    want = np.asarray(ids, dtype=np.int64)
    at = np.searchsorted(table_ids, want, sorter=sorter).clip(0, len(table_ids) - 1)
    pos = sorter[at]
    return pos[table_ids[pos] == want].astype(np.int64)


class TaughtCache:
    """A library's trained words: one model per (name, answers), and the collection's mean, per concept table.

    Training a word reads every photo's cached feature once (~0.3 s at 100k photos, ``bench.words``); its scores
    are kept, so later queries of the word only rank (a few milliseconds).
    """

    def __init__(self) -> None:
        self._space: tuple[tuple, Space] | None = None
        self._stats: tuple[tuple, RowStats | None] = ((), None)  # measured with the space, for the same table
        self._models: dict[tuple, TaughtModel] = {}

    def scores(self, table, features, name: str, examples: list[int],
               rejections: list[int]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64],
                                               npt.NDArray[np.int64]]:
        """(calibrated scores in the table's order, example positions, rejected positions) of a taught word."""
        key_table = (id(table), len(table))
        pos, neg = positions(table.ids, examples), positions(table.ids, rejections)
        key = (name.lower(), key_table, tuple(pos.tolist()), tuple(neg.tolist()))
        model = self._models.get(key)
        if model is None:
            if not len(pos):
                return np.zeros(len(table), np.float32), pos, neg
            space = self.space(table, features)
            model = teach(name, space, features.get, np.asarray(table.rows, np.int64), pos, neg, self._stats[1])
            self._models = {k: m for k, m in self._models.items() if k[1] == key_table and k[0] != key[0]}
            self._models[key] = model
        return model.scores, pos, neg

    def space(self, table, features) -> Space:
        key = (id(table), len(table))
        if self._space is None or self._space[0] != key:
            rows = np.asarray(table.rows, np.int64)
            if len(rows) > SAMPLE:
                rows = np.sort(np.random.default_rng(0).choice(rows, SAMPLE, replace=False))
            space = Space.of(features.get(rows))
            self._space = (key, space)
            self._stats = (key, RowStats.of(space, features.get, np.asarray(table.rows, np.int64)))
        return self._space[1]
