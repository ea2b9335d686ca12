"""The similarity search: a query feature against the active model's index, results as ``Neighbor``s.

It takes the parts of the store it reads (catalog, feature cache, index and coder) and owns none of them, so a
test can search a hand-built index without a library or an image model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.codes.binary import (asymmetric_scores, blended_scores, l2_normalize, pack_signs, popcount, refine_size,
                                 shortlist_size)
from engine.errors import NotIndexed
from engine.types import Neighbor

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.codes.codeindex import CodeIndex
    from engine.library.featstore import FeatureStore

__all__ = ["search", "library_photo", "distance_limit", "similarity_percent", "match_order", "refined_order",
           "app_order", "average_precision", "mean_average_precision"]

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
    a trained model also carry each photo's neighbourhood (``engine.learning.train.database_features``), queries never do.
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
    head = match_order(match, cand_dist)[: refine_size(k)]
    if copies:
        head = np.r_[head, np.setdiff1d(np.flatnonzero(np.isin(cand, list(copies))), head)]
    top = [int(i) for i in cand[head]]
    rows = catalog.feat_row_of(top)
    cos = _cosine(features.get([rows[i] for i in top]), feature)
    floor = [COPY_SCORE + 0.1 * copies[i] if i in copies else -np.inf for i in top] if copies else None
    final, blended = refined_order(match[head], cos, floor)
    final = final[:k]
    percent = similarity_percent(blended)
    photos = catalog.photos_by_ids([top[j] for j in final])
    return [Neighbor(photos[top[j]], int(cand_dist[head[j]]), float(cos[j]), float(match[head[j]]),
                     float(percent[j])) for j in final if top[j] in photos]


def _cosine(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    return rows @ q.astype(np.float32)


# --- the app's order, one definition: search() above, the learning check and the bench all rank with it ---------


def match_order(match: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Order of a Hamming shortlist: best code match (asymmetric score) first; equal ones by Hamming distance
    (or by any rank the caller passes, such as the shortlist's own position)."""
    return np.lexsort((distance, -np.asarray(match)))


def refined_order(match: np.ndarray, cosine: np.ndarray,
                  floor: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(order, blended scores) of the refined head: ``blended_scores`` of code match and feature cosine, higher
    first, ties kept in their match order; ``floor`` raises scores (a copy the pixel check confirmed)."""
    blended = blended_scores(match, cosine)
    if floor is not None:
        blended = np.maximum(blended, np.asarray(floor, dtype=np.float32))
    return np.argsort(-blended, kind="stable"), blended


def app_order(query_projections: npt.ArrayLike, db_codes: npt.ArrayLike, query_feats: npt.ArrayLike,
              db_feats: npt.ArrayLike, k: int = 50, tiebreak: npt.ArrayLike | None = None) -> np.ndarray:
    """Rankings (nq, ndb) of a whole database in the order ``search`` returns ``k`` results, for measuring it.

    The database is sorted by Hamming distance from each query's sign code (ties by ``tiebreak``, default the
    database order); its first ``shortlist_size(k)`` are ordered by ``match_order``, and the best ``refine_size(k)``
    of those by ``refined_order`` with the cosine of the features. The rest keep their Hamming order.
    """
    proj = np.asarray(query_projections, dtype=np.float32)
    codes = np.asarray(db_codes, dtype=np.uint8)
    q, db = l2_normalize(query_feats), l2_normalize(db_feats)
    n = len(codes)
    tie = np.arange(n) if tiebreak is None else np.asarray(tiebreak)
    shortlist, refine = shortlist_size(k, n), min(refine_size(k), n)
    ranking = np.empty((len(proj), n), dtype=np.int64)
    for qi in range(len(proj)):
        dist = popcount(codes ^ pack_signs(proj[qi : qi + 1]))
        order = np.lexsort((tie, dist))
        head = order[:shortlist]
        match = asymmetric_scores(proj[qi], codes[head]) / max(float(np.abs(proj[qi]).sum()), 1e-12)
        by_match = match_order(match, np.arange(len(head)))
        head, match = head[by_match], match[by_match]
        top = head[:refine]
        order[:refine] = top[refined_order(match[:refine], db[top] @ q[qi])[0]]
        order[refine:shortlist] = head[refine:]
        ranking[qi] = order
    return ranking


def average_precision(relevant_in_rank_order: npt.ArrayLike) -> float:
    """AP of one ranked list: mean over relevant items of the precision at their rank (NaN if none relevant)."""
    hits = np.flatnonzero(np.asarray(relevant_in_rank_order, dtype=bool))
    if len(hits) == 0:
        return float("nan")
    return float(np.mean(np.arange(1, len(hits) + 1) / (hits + 1)))


def mean_average_precision(ranking: np.ndarray, query_labels: npt.ArrayLike, db_labels: npt.ArrayLike) -> float:
    """mAP of rankings (nq, ndb) against "same label as the query"; queries with no relevant item are left out
    (0.0 when none is left)."""
    rel = np.asarray(db_labels)[ranking] == np.asarray(query_labels)[:, None]
    aps = [average_precision(row) for row in rel if row.any()]
    return float(np.mean(aps)) if aps else 0.0
