"""Words the user teaches ("tomato", "Max", "grandma's garden"): a small model per word on the cached features.

A taught word is its example photos (and the photos the user said it is not). Nothing is decoded again: the model
is trained on the feature cache, in three steps, each measured by ``python -m bench.words --taught``
(docs/words.md has the numbers):

1. **The word's direction**: the mean of the examples' features, each first centred on the collection's mean
   feature and made unit length (a centred prototype; measured against the plain prototype, the mean feature with
   a cosine, in docs/words.md). The collection's mean (:class:`Space`) is computed once per library from a sample
   of its photos and shared by all words. Rejected photos push the direction away from them (Rocchio's relevance
   feedback: ``w = mean(examples) - REJECT_WEIGHT mean(rejections)``, :func:`direction`).
2. **Calibration**: a photo's score is where its projection falls between the collection's typical photo and the
   examples (:func:`calibrate`), so a taught word's match reads like a classifier's (0 = unrelated, ~1 = like the
   examples) and is ranked and shown by the same code as every other word.
3. **The photo graph and the word's code**: the calibrated scores go through the same steps as a known word's
   (``engine.words.concepts.diffuse`` and ``match_scores``): spread along each photo's nearest photos, then the
   word's own 64-bit code in the photos' Hamming space.

The models are a few kilobytes (the direction, 1,280 numbers) and are derived from what the catalog keeps (the
word, its examples and its rejections, ``engine.library.names``), so they are never stored: they are trained again
when a library is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Space", "TaughtModel", "direction", "calibrate", "teach", "REJECT_WEIGHT", "SAMPLE"]

SAMPLE = 4096  # photos whose mean centres every word's direction (it settles well before this)
REJECT_WEIGHT = 0.5  # share of the rejections in the "not the word" mean, once there are some
CHUNK = 8192


def unit(x: npt.ArrayLike) -> npt.NDArray[np.float32]:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class Space:
    """A collection's mean feature (of unit-length features): what every word's direction is measured from."""

    mean: npt.NDArray[np.float32]

    @classmethod
    def of(cls, features: npt.ArrayLike, sample: int = SAMPLE, seed: int = 0) -> Space:
        x = np.asarray(features)
        if len(x) > sample:
            x = x[np.sort(np.random.default_rng(seed).choice(len(x), sample, replace=False))]
        return cls(unit(x).mean(axis=0).astype(np.float32))

    def centred(self, features: npt.ArrayLike) -> npt.NDArray[np.float32]:
        return unit(unit(features) - self.mean)


def direction(space: Space, examples: npt.ArrayLike, rejections: npt.ArrayLike | None = None,
              reject_weight: float = REJECT_WEIGHT) -> npt.NDArray[np.float32]:
    """Step 1: the word's direction from its examples' features (and its rejections'), unit length."""
    w = space.centred(examples).mean(axis=0)
    if rejections is not None and len(rejections):
        w = w - reject_weight * space.centred(rejections).mean(axis=0)
    return unit(w)


def project(space: Space, w: npt.NDArray[np.float32], features_of,
            rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """``w . centred(x)`` for the feature rows ``rows``, read ``CHUNK`` at a time through ``features_of(rows)``."""
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), CHUNK):
        out[start : start + CHUNK] = space.centred(features_of(rows[start : start + CHUNK])) @ w
    return out


def calibrate(raw: npt.NDArray[np.float32], example_raw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Step 2: raw projections -> 0..1, 0 up to the collection's median photo, 1 at the examples' median."""
    low = float(np.median(raw))
    high = float(np.median(example_raw)) if len(example_raw) else float(raw.max())
    if high <= low:
        high = low + 1e-6
    return np.clip((raw - low) / (high - low), 0.0, 1.0).astype(np.float32) ** 2


@dataclass
class TaughtModel:
    """One taught word, trained: its direction and its calibrated score for every photo of a table."""

    word: str
    w: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]  # calibrated, in the table's order (step 2)


def teach(word: str, space: Space, table_features, table_rows: npt.NDArray[np.int64],
          example_pos: npt.NDArray[np.int64], rejected_pos: npt.NDArray[np.int64]) -> TaughtModel:
    """Train a word on the photos at table positions ``example_pos`` (and against ``rejected_pos``) and score
    every photo of the table (``table_features(rows)`` reads feature rows)."""
    examples = table_features(table_rows[example_pos])
    rejections = table_features(table_rows[rejected_pos]) if len(rejected_pos) else None
    w = direction(space, examples, rejections)
    raw = project(space, w, table_features, table_rows)
    scores = calibrate(raw, raw[example_pos])
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
            model = teach(name, space, features.get, np.asarray(table.rows, np.int64), pos, neg)
            self._models = {k: m for k, m in self._models.items() if k[1] == key_table and k[0] != key[0]}
            self._models[key] = model
        return model.scores, pos, neg

    def space(self, table, features) -> Space:
        key = (id(table), len(table))
        if self._space is None or self._space[0] != key:
            rows = np.asarray(table.rows, np.int64)
            if len(rows) > SAMPLE:
                rows = np.sort(np.random.default_rng(0).choice(rows, SAMPLE, replace=False))
            self._space = (key, Space.of(features.get(rows)))
        return self._space[1]
