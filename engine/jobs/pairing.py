"""The pairing step of the index job: a camera's JPEG beside its RAW file becomes the RAW's companion.

Run after the new photos are read (their capture times and features are known) and before the codes and the
search index are brought up to date, which then leave companions out (``engine.library.companions``). Only the
folders holding a RAW file are listed, one query each: a library without RAW files pays one query per run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from engine.images.pairs import pair_up

if TYPE_CHECKING:
    from engine.library.store import Store

__all__ = ["pair_companions", "LOOK_ALIKE"]

log = logging.getLogger(__name__)

# Without capture times, a RAW's JPEG must look like it: the camera's JPEG and the RAW's preview (or a plain
# demosaic of it) agree far above this (0.87 measured for a black-and-white JPEG of a colour RAW), while
# another photo given the RAW's name falls far below (at most 0.51 for photos of the same kind of garment).
LOOK_ALIKE = 0.75


def pair_companions(store: Store) -> int:
    """Link every RAW file's companions (and unlink those that are no longer); returns how many there are."""
    catalog = store.catalog
    links: dict[int, int] = {}
    for folder in catalog.raw_folders():
        links.update(pair_up(catalog.photos_in_folder(folder), lambda a, b: _look_alike(store, a, b)))
    with catalog.transaction():
        changed = catalog.set_companion_links(links)
    if changed:
        log.info("%d camera JPEGs are kept with their RAW files as one photo", len(links))
    return len(links)


def _look_alike(store: Store, a: int, b: int) -> bool:
    rows = store.catalog.feat_row_of([a, b])
    if a not in rows or b not in rows:
        return False
    fa, fb = store.features.get([rows[a], rows[b]]).astype(np.float64)
    cosine = float(fa @ fb / max(np.linalg.norm(fa) * np.linalg.norm(fb), 1e-12))
    return cosine >= LOOK_ALIKE
