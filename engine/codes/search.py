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
from engine.codes.calibration import FIXED, Calibration
from engine.types import Neighbor

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.codes.codeindex import CodeIndex
    from engine.library.featstore import FeatureStore

__all__ = ["search", "nearest_score", "library_photo", "distance_limit", "similarity_percent", "match_order", "refined_order",
           "app_order", "average_precision", "mean_average_precision"]

def similarity_percent(blended: np.ndarray | float) -> np.ndarray:
    """The user-facing similarity (0-100 %) of blended scores by the fixed map (``engine.codes.calibration.FIXED``,
    measured once with the demo clothes; searches use the library's own calibration)."""
    return FIXED.percent(blended)


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
    pid = catalog.shot_of(pid)  # a RAW's camera JPEG is searched as its RAW file, the photo both are
    if pid not in index:
        raise NotIndexed(f"photo {pid} has no code yet; run `simili index` again")
    return pid


def search(catalog: Catalog, features: FeatureStore, index: CodeIndex, coder, feature: np.ndarray, k: int,
           limit: int, exclude: int | None = None, copies: Mapping[int, float] | None = None,
           calibration: Calibration | None = None) -> list[Neighbor]:
    """The ``k`` photos nearest to a backbone ``feature`` within Hamming distance ``limit``, best first.

    1. faiss gives the ``shortlist_size`` nearest codes by Hamming distance (from the query's sign code);
    2. they are ordered by the asymmetric score (``asymmetric_scores``: the query keeps its real projection);
    3. the best ``refine_size(k)`` are re-ordered by ``blended_scores``: code match plus the cosine of the stored
       features (read only for those), which separates near-duplicates finer than 64 bits can.
    4. ``copies`` ({photo id: texture correlation}, from the duplicate check's stored verdicts) are the photos
       whose pixels were found to be the same picture as the query's: a black-and-white, cropped or captioned copy
       whose features drifted. They take part whatever their code distance and score at least the calibration's
       copy line (``Calibration.copy_score``), so they come first, their percentage saying so (95-100 %).
    5. the scores become percentages by the model's ``calibration`` (measured on the library: engine.codes.calibration;
       the fixed map when None); the best match of a library photo (``exclude``, the photo itself) that is not one
       of the library's loneliest reads at least "similar" (``Calibration.answer_percent``), a stranger's never
       reads more than its score.
    A clicked photo is queried exactly like a dropped image, from its own backbone feature: the database codes of
    a trained model also carry each photo's neighbourhood (``engine.learning.train.database_features``), queries never do.
    """
    cal = calibration or FIXED
    ranked = _ranked(catalog, features, index, coder, feature, k, limit, exclude, copies, cal)
    if ranked is None:
        return []
    top, final, blended, dist, cos, match = ranked
    percent = np.empty(len(blended))
    percent[final] = cal.answer_percent(blended[final], raise_best=exclude is not None)
    photos = catalog.photos_by_ids([top[j] for j in final])
    return [Neighbor(photos[top[j]], int(dist[j]), float(cos[j]), float(match[j]), float(percent[j]))
            for j in final if top[j] in photos]


def nearest_score(catalog: Catalog, features: FeatureStore, index: CodeIndex, coder, feature: np.ndarray,
                  limit: int, exclude: int | None) -> float | None:
    """The blended score of the nearest photo as ``search`` finds it (None when none is within ``limit``): what
    engine.codes.calibration measures its anchors on. Pixel-confirmed copies are not raised here."""
    ranked = _ranked(catalog, features, index, coder, feature, 1, limit, exclude, None, FIXED)
    return None if ranked is None or not len(ranked[1]) else float(ranked[2][ranked[1][0]])


def _ranked(catalog, features, index, coder, feature, k, limit, exclude, copies, cal):
    """(photo ids of the refined head, their final order cut to k, blended scores, Hamming distances, cosines, code
    matches), the last four by head position; None when nothing is within ``limit``."""
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
        return None
    match = asymmetric_scores(projection, index.codes_of(cand)) / max(float(np.abs(projection).sum()), 1e-12)
    head = match_order(match, cand_dist)[: refine_size(k)]
    if copies:
        head = np.r_[head, np.setdiff1d(np.flatnonzero(np.isin(cand, list(copies))), head)]
    top = [int(i) for i in cand[head]]
    rows = catalog.feat_row_of(top)
    cos = _cosine(features.get([rows[i] for i in top]), feature)
    floor = [cal.copy_score(copies[i]) if i in copies else -np.inf for i in top] if copies else None
    final, blended = refined_order(match[head], cos, floor)
    return top, final[:k], blended, cand_dist[head], cos, match[head]


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
