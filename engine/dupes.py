"""Duplicate groups: Hamming radius candidates confirmed on stored features, joined by union-find."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.api import Library
    from engine.index import CodeIndex

__all__ = ["find_groups"]

_CHUNK = 4096


def find_groups(lib: Library, index: CodeIndex, radius: int, min_cosine: float) -> list[list[int]]:
    """Photo-id groups (each of 2+ photos), largest first, members in id order."""
    ids = index.ids()
    if len(ids) < 2:
        return []
    rows_of = lib.catalog.feat_row_of(ids.tolist())
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
            feats = lib.features.get([rows_of[int(qid)]] + [rows_of[h] for h in hits])
            feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
            cos = feats[1:] @ feats[0]
            for h, c in zip(hits, cos):
                if c >= min_cosine:
                    a, b = root(int(qid)), root(h)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(root(i), []).append(i)
    out = [sorted(g) for g in groups.values() if len(g) > 1]
    return sorted(out, key=lambda g: (-len(g), g[0]))
