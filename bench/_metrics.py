"""Retrieval metrics for the bench: rankings by Hamming distance or cosine, mAP over the whole database, precision@k.

Ties. Many database items share a Hamming distance with a query, so the order inside a tie decides part of the
score. Every ranking here breaks ties by a fixed ``tiebreak`` key (the bench passes a seeded random permutation of
the database), never by the database order itself: manifests are usually sorted by class, and ties broken by
position would then favour whichever class happens to come first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.codes.search import average_precision

__all__ = [
    "hamming_distances",
    "rank_by_hamming",
    "rank_by_cosine",
    "rank_asymmetric",
    "rank_like_the_app",
    "average_precision",
    "evaluate_ranking",
    "pr_curve",
]

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming_distances(query_codes: npt.ArrayLike, db_codes: npt.ArrayLike, batch: int = 256) -> np.ndarray:
    """Hamming distances (nq, ndb) between packed uint8 codes."""
    q = np.asarray(query_codes, dtype=np.uint8)
    db = np.asarray(db_codes, dtype=np.uint8)
    out = np.empty((len(q), len(db)), dtype=np.int32)
    for s in range(0, len(q), batch):
        xor = np.bitwise_xor(q[s : s + batch, None, :], db[None, :, :])
        out[s : s + batch] = _POPCOUNT[xor].sum(axis=2, dtype=np.int32)
    return out


def _rank(keys: np.ndarray, tiebreak: np.ndarray | None) -> np.ndarray:
    """Row-wise argsort of ``keys`` (ascending); equal keys ordered by ``tiebreak`` (ascending)."""
    if tiebreak is None:
        tiebreak = np.arange(keys.shape[1])
    tiebreak = np.asarray(tiebreak)
    return np.stack([np.lexsort((tiebreak, row)) for row in keys])


def rank_by_hamming(query_codes, db_codes, tiebreak: npt.ArrayLike | None = None) -> np.ndarray:
    """Database indices of each query sorted by Hamming distance (nq, ndb), ties by ``tiebreak``."""
    return _rank(hamming_distances(query_codes, db_codes), tiebreak)


def rank_asymmetric(query_projections, db_codes, tiebreak: npt.ArrayLike | None = None,
                    shortlist: int | None = None) -> np.ndarray:
    """The app's search order: a Hamming shortlist re-ranked by the asymmetric score, then the rest by Hamming.

    Query projections are real (pre-sign) outputs; the query code is their sign. The first ``shortlist`` items of
    the Hamming ranking (default ``engine.codes.binary.shortlist_size`` for the app's 50 results) are re-ordered by
    ``engine.codes.binary.asymmetric_scores``, higher first, equal scores keeping their Hamming order.
    """
    from engine.codes.binary import asymmetric_scores, pack_signs, shortlist_size

    proj = np.asarray(query_projections, dtype=np.float32)
    db_codes = np.asarray(db_codes, dtype=np.uint8)
    ranking = rank_by_hamming(pack_signs(proj), db_codes, tiebreak)
    r = shortlist_size(50, len(db_codes)) if shortlist is None else min(int(shortlist), len(db_codes))
    for qi in range(len(proj)):
        head = ranking[qi, :r]
        scores = asymmetric_scores(proj[qi], db_codes[head])
        ranking[qi, :r] = head[np.argsort(-scores, kind="stable")]
    return ranking


def rank_like_the_app(query_projections, db_codes, query_feats, db_feats,
                      tiebreak: npt.ArrayLike | None = None) -> np.ndarray:
    """``Library.similar``'s order for 50 results over the whole database: ``engine.codes.search.app_order``, the
    one definition the app's search and the learning check use too."""
    from engine.codes.search import app_order

    return app_order(query_projections, db_codes, query_feats, db_feats, k=50, tiebreak=tiebreak)


def rank_by_cosine(query_feats, db_feats, tiebreak: npt.ArrayLike | None = None) -> np.ndarray:
    """Database indices sorted by decreasing cosine similarity (nq, ndb), ties by ``tiebreak``."""
    q = np.asarray(query_feats, dtype=np.float64)
    db = np.asarray(db_feats, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    db = db / np.maximum(np.linalg.norm(db, axis=1, keepdims=True), 1e-12)
    return _rank(-(q @ db.T), tiebreak)


def evaluate_ranking(ranking: np.ndarray, query_labels, db_labels, ks=(10, 100)) -> dict[str, float]:
    """mAP over the whole database and precision@k, averaged over queries.

    Queries with no relevant item in the database are left out of every average (their AP is undefined);
    precision@k uses min(k, database size) as the denominator.
    """
    rel = np.asarray(db_labels)[ranking] == np.asarray(query_labels)[:, None]
    keep = rel.any(axis=1)
    rel = rel[keep]
    out = {"map": float(np.mean([average_precision(r) for r in rel])) if len(rel) else float("nan")}
    for k in ks:
        kk = min(k, rel.shape[1])
        out[f"p@{k}"] = float(rel[:, :kk].mean()) if len(rel) else float("nan")
    out["queries"] = float(len(rel))
    return out


def pr_curve(ranking: np.ndarray, query_labels, db_labels, levels: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision (max precision at recall >= r) at ``levels`` recall points, averaged over queries."""
    rel = np.asarray(db_labels)[ranking] == np.asarray(query_labels)[:, None]
    rel = rel[rel.any(axis=1)]
    recall_pts = np.linspace(0.0, 1.0, levels)
    if not len(rel):
        return recall_pts, np.full(levels, np.nan)
    cum = np.cumsum(rel, axis=1)
    precision = cum / np.arange(1, rel.shape[1] + 1)
    recall = cum / cum[:, -1:]
    # Interpolate: precision envelope from the right, then read it at each recall level.
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    out = np.empty((len(rel), levels))
    for qi in range(len(rel)):
        idx = np.searchsorted(recall[qi], recall_pts, side="left")
        idx = np.minimum(idx, rel.shape[1] - 1)
        out[qi] = envelope[qi, idx]
    return recall_pts, out.mean(axis=0)
