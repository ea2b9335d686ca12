"""Neighbourhood features for photos a trained model has not seen: the ones indexed after it was trained.

A "smoothed" DistillHash model stores every photo it was trained on under the code of z = normalise(a x + (1 - a)
mean of its k nearest photos) (``engine.learning.train.database_features``, which uses the training's exact kNN graph). A photo
added later gets the same kind of code here, with its k nearest photos found by the library's own search: a Hamming
shortlist of the index, re-ranked by the asymmetric score, the best few compared on their stored features. numpy,
faiss and the catalog only; no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.codes.binary import asymmetric_scores, l2_normalize, pack_signs

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.codes.codeindex import CodeIndex
    from engine.library.featstore import FeatureStore
    from engine.types import ModelInfo

__all__ = ["smoothing_of", "neighbourhood_features"]

SHORTLIST = 128  # Hamming candidates per photo
CHECKED = 8  # candidates compared on features, beyond the k wanted


def smoothing_of(info: ModelInfo | None) -> tuple[int, float] | None:
    """(k, own weight) of a model that stores neighbourhood codes, from its metrics; None for other models."""
    if info is None:
        return None
    k, a = info.metrics.get("db_smooth_k"), info.metrics.get("db_smooth_self")
    if not k or a is None:
        return None
    return int(k), float(a)


def neighbourhood_features(catalog: Catalog, store: FeatureStore, index: CodeIndex, coder, features: npt.ArrayLike,
                           k: int, self_weight: float) -> npt.NDArray[np.float32]:
    """z for each row of ``features`` from its ``k`` nearest photos already in ``index`` (rows unchanged if empty)."""
    x = l2_normalize(features)
    if len(x) == 0 or index is None or len(index) == 0 or k <= 0:
        return x
    proj = coder.project(x)
    _, ids = index.search(pack_signs(proj), min(SHORTLIST, len(index)))
    heads = []
    for i in range(len(x)):
        cand = ids[i][ids[i] >= 0]
        order = np.argsort(-asymmetric_scores(proj[i], index.codes_of(cand)), kind="stable")
        heads.append(cand[order[: k + CHECKED]])
    wanted = np.unique(np.concatenate(heads)).tolist()
    rows_of = catalog.feat_row_of(wanted)
    known = [i for i in wanted if rows_of.get(i) is not None]
    feats = dict(zip(known, l2_normalize(store.get([rows_of[i] for i in known]))))
    out = x.copy()
    for i, head in enumerate(heads):
        f = np.array([feats[int(j)] for j in head if int(j) in feats], dtype=np.float32).reshape(-1, x.shape[1])
        if len(f):
            nearest = f[np.argsort(-(f @ x[i]), kind="stable")[:k]]
            out[i] = self_weight * x[i] + (1.0 - self_weight) * nearest.mean(axis=0)
    return l2_normalize(out)
