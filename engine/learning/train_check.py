"""The label-free check that ends training: does the trained model order the user's photos better than the
training-free one? If not, the training-free model stays active.

Nobody labels their photos, so "better" is measured against the collection's own grouping at several scales: the
photos the model was trained on are clustered by spherical k-means on their backbone features into 4, 16 and 64
groups and into groups of about 8 photos (a few broad kinds of thing down to the same object or product), and a held-out slice of photos, never seen by training,
queries both models. Each model ranks the training photos as the app does (``engine.codes.search.app_order``:
a Hamming shortlist ordered by the asymmetric score of the query's projection, its best ``refine_size(50)``
refined with the feature cosine); the score at
each scale is the mean average precision of that ranking against "same group as the query". The clusters come from
the raw features, not from either model, so neither is favoured by construction; several scales are needed because
a model can gain on narrow groups while losing the broad ones (the failure this check exists for).

The trained model is accepted when it is better on average (by ``MIN_GAIN``) and more than ``TOLERANCE`` below the
training-free one at no scale. Measured on the labelled sets (docs/distillhash.md §6-7), the failure it guards
against costs 5 points or more at the broadest scale, while one scale of a better model can read up to a point
low from the sampling of the held-out photos alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.codes.binary import fit_pca, l2_normalize
from engine.codes.search import app_order, mean_average_precision

__all__ = ["CheckResult", "holdout_rows", "compare_models", "SCALES", "TOLERANCE"]

SCALES = (4, 16, 64)  # broad groups; a fine scale of groups of about FINE_GROUP photos is added (same object/product)
FINE_GROUP = 8
TOLERANCE = 0.015  # mAP the trained model may lose at one scale and still be accepted (the split noise of ~500
MIN_GAIN = 0.005  # held-out queries at one scale is about 1 point); and its least mean gain over the scales
MAX_QUERIES = 500
MAX_DATABASE = 5_000
TOP = 10  # what the outcome says in photos: of a photo's first TOP results, how many belong with it


@dataclass(frozen=True)
class CheckResult:
    """Per-scale mAP of the trained and the training-free model on the held-out photos, and the verdict."""

    passed: bool
    trained: dict[int, float] = field(default_factory=dict)
    baseline: dict[int, float] = field(default_factory=dict)
    queries: int = 0
    better: int = 0  # held-out photos whose first TOP results hold more photos of their own group (averaged over
    worse: int = 0  # the scales) with the trained model than with the training-free one; fewer
    top_after: float = 0.0  # mean such photos among a held-out photo's first TOP results, trained model
    top_before: float = 0.0  # the same with the training-free model

    @property
    def gain(self) -> float:
        """Mean mAP gain over the scales (points of mAP x 100 are what the app reports)."""
        return float(np.mean([self.trained[k] - self.baseline[k] for k in self.trained])) if self.trained else 0.0

    def metrics(self) -> dict[str, float]:
        out = {"check_passed": float(self.passed), "check_gain": self.gain, "check_queries": float(self.queries),
               "check_better": float(self.better), "check_worse": float(self.worse),
               "check_top_after": self.top_after, "check_top_before": self.top_before}
        for k in self.trained:
            out[f"check_map_{k}"] = self.trained[k]
            out[f"check_map_{k}_before"] = self.baseline[k]
        return out


MIN_QUERIES = 5


def holdout_rows(n: int, fraction: float, seed: int, keep: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows), sorted: a seeded ``fraction`` of n (at most ``MAX_QUERIES``) is held out, but
    never so many that fewer than ``keep`` rows are left to train on; fewer than ``MIN_QUERIES``: none."""
    held = min(MAX_QUERIES, int(round(fraction * n)), n - keep)
    held = held if held >= MIN_QUERIES else 0
    perm = np.random.default_rng(seed + 7919).permutation(n)
    return np.sort(perm[held:]), np.sort(perm[:held])


def _groups(px: np.ndarray, pq: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means groups of the photos and the group of each query."""
    import faiss

    km = faiss.Kmeans(px.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False, min_points_per_centroid=1,
                      max_points_per_centroid=max(256, len(px) // k + 1))  # small groups are the point: no warning
    km.train(px)
    return km.index.search(px, 1)[1][:, 0], km.index.search(pq, 1)[1][:, 0]


def compare_models(train_feats: npt.ArrayLike, query_feats: npt.ArrayLike, trained: tuple, baseline: tuple,
                   seed: int = 0) -> CheckResult:
    """Compare two models on held-out queries; each model is ``(projection of the queries, codes of the training
    photos as the library stores them)``, rows in the order of ``train_feats`` and ``query_feats``."""
    x = l2_normalize(train_feats)
    q = l2_normalize(query_feats)
    rows = np.arange(len(x))
    if len(x) > MAX_DATABASE:
        rows = np.sort(np.random.default_rng(seed).choice(len(x), MAX_DATABASE, replace=False))
    x = x[rows]
    orders = {name: app_order(np.asarray(proj, np.float32), np.asarray(codes)[rows], q, x)
              for name, (proj, codes) in (("trained", trained), ("baseline", baseline))}
    scores: dict[str, dict[int, float]] = {"trained": {}, "baseline": {}}
    top = {name: np.zeros(len(q)) for name in orders}  # same-group photos among each query's first TOP, summed
    # Clustered in the photos' top-128 PCA space: it keeps the groups and makes hundreds of clusters cheap.
    pca = fit_pca(x, min(128, len(x) - 1 - (len(x) - 1) % 8), seed=seed)
    px, pq = l2_normalize(pca.project(x)), l2_normalize(pca.project(q))
    scales = sorted({min(k, max(2, len(x) // 16)) for k in SCALES} | {max(2, min(1024, len(x) // FINE_GROUP))})
    for k in scales:
        db_labels, q_labels = _groups(px, pq, k, seed)
        for name, ranking in orders.items():
            scores[name][k] = mean_average_precision(ranking, q_labels, db_labels)
            top[name] += (db_labels[ranking[:, :TOP]] == q_labels[:, None]).sum(axis=1)
    gains = [scores["trained"][k] - scores["baseline"][k] for k in scales]
    after, before = top["trained"] / len(scales), top["baseline"] / len(scales)
    return CheckResult(passed=min(gains) >= -TOLERANCE and float(np.mean(gains)) >= MIN_GAIN, trained=scores["trained"],
                       baseline=scores["baseline"], queries=len(q), better=int((after > before + 1e-9).sum()),
                       worse=int((after < before - 1e-9).sum()), top_after=float(after.mean()),
                       top_before=float(before.mean()))
