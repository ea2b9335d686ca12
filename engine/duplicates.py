"""Duplicate groups: Hamming-radius candidates, confirmed pair by pair, joined by union-find.

A pair is a duplicate when three things agree (measured on the demo set, where different garments are
photographed on the same backgrounds: 164/164 edited copies kept, 1 false pair in 30k):
the backbone features (cosine >= ``min_cosine``), the layout (pHash distance <= ``PHASH_MAX``) and the colours
(colour-grid distance <= ``COLOUR_MAX``). Feature cosine alone cannot tell a 10% crop (0.86) from another
pair of trousers on the same hanger (0.88-0.90).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.signature import colour_distance, phash_distance

if TYPE_CHECKING:
    from engine.catalog import Catalog
    from engine.codeindex import CodeIndex
    from engine.featstore import FeatureStore

__all__ = ["find_groups"]

_CHUNK = 4096
PHASH_MAX = 20
COLOUR_MAX = 20.0
COSINE_WITHOUT_SIGNATURE = 0.95  # photos indexed before signatures existed: features alone, stricter


def _confirmed(sig_a: bytes | None, sig_b: bytes | None, cosine: float, min_cosine: float) -> bool:
    if cosine < min_cosine:
        return False
    if sig_a is None or sig_b is None:
        return cosine >= max(min_cosine, COSINE_WITHOUT_SIGNATURE)
    return phash_distance(sig_a, sig_b) <= PHASH_MAX and colour_distance(sig_a, sig_b) <= COLOUR_MAX


def find_groups(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int,
                min_cosine: float) -> list[list[int]]:
    """Photo-id groups (each of 2+ photos), largest first, members in id order."""
    ids = index.ids()
    if len(ids) < 2:
        return []
    rows_of = catalog.feat_row_of(ids.tolist())
    sigs = catalog.signatures_of(ids.tolist())
    parent = {int(i): int(i) for i in ids}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        codes = np.stack([index.code_of(int(i)) for i in chunk])
        for qid, (hits, _) in zip(chunk, index.range_search(codes, radius)):
            hits = [int(h) for h in hits if int(h) > int(qid)]
            if not hits:
                continue
            feats = features.get([rows_of[int(qid)]] + [rows_of[h] for h in hits])
            feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
            cos = feats[1:] @ feats[0]
            for h, c in zip(hits, cos):
                if _confirmed(sigs.get(int(qid)), sigs.get(h), float(c), min_cosine):
                    a, b = root(int(qid)), root(h)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(root(i), []).append(i)
    out = [sorted(g) for g in groups.values() if len(g) > 1]
    return sorted(out, key=lambda g: (-len(g), g[0]))
