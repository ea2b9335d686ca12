"""The similarity search: a query feature against the active model's index, results as ``Neighbor``s.

It takes the parts of the store it reads (catalog, feature cache, index and coder) and owns none of them, so a
test can search a hand-built index without a library or an image model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.codes import asymmetric_scores, blended_scores, pack_signs, popcount, refine_size, shortlist_size
from engine.errors import NotIndexed
from engine.types import Neighbor

if TYPE_CHECKING:
    from engine.catalog import Catalog
    from engine.codeindex import CodeIndex
    from engine.featstore import FeatureStore

__all__ = ["search", "library_photo", "distance_limit", "similarity_percent"]

# similarity_percent's anchors: blended score (match + 0.5 x cosine, in [-1.5, 1.5]) -> percent. Measured with the
# demo clothes as the library (tests/test_similarity.py): edited copies (resized, JPEG q50, cropped, rotated) score
# >= 1.447; a photo's best neighbour of the same garment kind has a median of 0.91-1.26 by kind; the best result of
# grocery photos among clothes is at most 0.964 (148 photos). 1.0 is the close-match line (CLOSE_MATCH, 60 %).
_ANCHORS_SCORE = (-1.5, 0.5, 1.0, 1.2, 1.4, 1.5)
_ANCHORS_PERCENT = (0.0, 30.0, 60.0, 80.0, 95.0, 100.0)


def similarity_percent(blended: np.ndarray | float) -> np.ndarray:
    """The user-facing similarity (0-100 %) of blended scores: piecewise linear and strictly increasing, so a
    list ordered by the score is ordered by the percentage too (ties only where the scores tie)."""
    return np.interp(np.asarray(blended, dtype=np.float64), _ANCHORS_SCORE, _ANCHORS_PERCENT)


def distance_limit(max_distance: int | None, fraction: float, bits: int) -> int:
    """A Hamming limit in bits: the one asked for, else ``fraction`` of the code length (a setting)."""
    return int(max_distance) if max_distance is not None else int(round(fraction * bits))


def library_photo(catalog: Catalog, index: CodeIndex, photo: int | str | os.PathLike[str]) -> int:
    """The id of a library photo given by id or path, checked to have a code; NotIndexed says why not."""
    if isinstance(photo, (int, np.integer)):
        pid = int(photo)
        if catalog.photo(pid) is None:
            raise NotIndexed(f"there is no photo {pid} in this library")
    else:
        path = Path(photo).expanduser().absolute()
        found = catalog.photo_by_path(path)
        if found is None:
            raise NotIndexed(f"{path} is not in this library; use --image to search by any image file")
        if found[1] != "ok":
            raise NotIndexed(f"{path} is in the library but could not be indexed (see `simili status`)")
        pid = int(found[0].id)
    if pid not in index:
        raise NotIndexed(f"photo {pid} has no code yet; run `simili index` again")
    return pid


COPY_SCORE = 1.4  # a copy the pixel check confirmed scores at least this + 0.1 x its texture correlation (98.5-100 %)


def search(catalog: Catalog, features: FeatureStore, index: CodeIndex, coder, feature: np.ndarray, k: int,
           limit: int, exclude: int | None = None, copies: Mapping[int, float] | None = None) -> list[Neighbor]:
    """The ``k`` photos nearest to a backbone ``feature`` within Hamming distance ``limit``, best first.

    1. faiss gives the ``shortlist_size`` nearest codes by Hamming distance (from the query's sign code);
    2. they are ordered by the asymmetric score (``asymmetric_scores``: the query keeps its real projection);
    3. the best ``refine_size(k)`` are re-ordered by ``blended_scores``: code match plus the cosine of the stored
       features (read only for those), which separates near-duplicates finer than 64 bits can.
    4. ``copies`` ({photo id: texture correlation}, from the duplicate check's stored verdicts) are the photos
       whose pixels were found to be the same picture as the query's: a black-and-white, cropped or captioned copy
       whose features drifted. They take part whatever their code distance and score at least ``COPY_SCORE``, so
       they come first, their percentage saying so.
    A clicked photo is queried exactly like a dropped image, from its own backbone feature: the database codes of
    a trained model also carry each photo's neighbourhood (``engine.train.database_features``), queries never do.
    """
    projection = coder.project(feature[None])[0]
    query_code = pack_signs(projection[None])
    want = shortlist_size(k + (exclude is not None), len(index))
    dist, ids = index.search(query_code, want)
    hit = (ids[0] >= 0) & (ids[0] != (-1 if exclude is None else exclude)) & (dist[0] <= limit)
    cand, cand_dist = ids[0][hit], dist[0][hit]
    copies = {i: d for i, d in (copies or {}).items() if i != exclude and i in index}
    extra = np.array(sorted(set(copies) - set(cand.tolist())), dtype=np.int64)
    if len(extra):
        cand = np.r_[cand, extra]
        cand_dist = np.r_[cand_dist, popcount(index.codes_of(extra) ^ query_code).astype(cand_dist.dtype)]
    if not len(cand):
        return []
    match = asymmetric_scores(projection, index.codes_of(cand)) / max(float(np.abs(projection).sum()), 1e-12)
    head = np.lexsort((cand_dist, -match))[: refine_size(k)]  # best match first; equal ones by Hamming distance
    if copies:
        head = np.r_[head, np.setdiff1d(np.flatnonzero(np.isin(cand, list(copies))), head)]
    top = [int(i) for i in cand[head]]
    rows = catalog.feat_row_of(top)
    cos = _cosine(features.get([rows[i] for i in top]), feature)
    blended = blended_scores(match[head], cos)
    if copies:
        blended = np.maximum(blended, [COPY_SCORE + 0.1 * copies[i] if i in copies else -np.inf for i in top])
    final = np.argsort(-blended, kind="stable")[:k]
    percent = similarity_percent(blended)
    photos = catalog.photos_by_ids([top[j] for j in final])
    return [Neighbor(photos[top[j]], int(cand_dist[head[j]]), float(cos[j]), float(match[head[j]]),
                     float(percent[j])) for j in final if top[j] in photos]


def _cosine(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    return rows @ q.astype(np.float32)
