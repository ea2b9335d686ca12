"""Reclaiming the feature cache's dead rows.

``features.f16`` only grows: a changed photo gets a new row, a deleted one leaves its row behind. When the dead rows
pass a share of the file (``Settings.compact_share``, checked at the end of every index run) or on ``simili
repair``, the live rows are copied, in their order, into ``features.f16.new``, and the file is swapped in:

1. the new file is written and fsynced; a run killed now leaves only ``.new``, removed when the library opens;
2. one catalog transaction gives every photo its new row and sets ``features_swap``;
3. the new file replaces the old one; the flag is cleared. A run killed between 2 and 3 is finished when the
   library next opens (the flag says the catalog already speaks of the new file).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine._atomic import fsync_dir

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.library.featstore import FeatureStore

__all__ = ["dead_rows", "compact", "finish_swap"]

log = logging.getLogger(__name__)

_CHUNK = 65536
_FLAG = "features_swap"


def _new_path(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def dead_rows(catalog: Catalog, features: FeatureStore) -> int:
    """Rows of the cache no photo uses."""
    return max(0, features.rows - catalog.live_feature_count())


def compact(catalog: Catalog, features: FeatureStore) -> int:
    """Copy the live rows into a new cache and swap it in (writer lock held); returns the rows reclaimed."""
    dead = dead_rows(catalog, features)
    if dead == 0:
        return 0
    ids, rows = catalog.live_feature_rows()  # ordered by row
    order = np.asarray(rows, dtype=np.int64)
    target = _new_path(features.path)
    with open(target, "wb") as out:
        for start in range(0, len(order), _CHUNK):
            part = order[start : start + _CHUNK]
            out.write(np.ascontiguousarray(features.get(part).astype(np.float16)).tobytes())
        out.flush()
        os.fsync(out.fileno())
    with catalog.transaction():
        catalog.set_feature_rows(zip(ids, range(len(ids)), strict=True))
        catalog.set_meta("feat_rows", str(len(ids)))
        catalog.set_meta(_FLAG, "1")
    features.close()
    os.replace(target, features.path)
    fsync_dir(features.path.parent)
    features.rows = len(ids)
    catalog.set_meta(_FLAG, "0")
    log.warning("feature cache compacted: %d dead rows reclaimed, %d kept", dead, len(ids))
    return dead


def finish_swap(catalog: Catalog, path: Path) -> None:
    """Finish (or forget) a compaction a killed run left half done (see the module docstring)."""
    new = _new_path(Path(path))
    flagged = catalog.get_meta(_FLAG, "0") == "1"
    if flagged and new.exists():
        os.replace(new, path)
        fsync_dir(Path(path).parent)
    elif new.exists():
        new.unlink()
    if flagged:
        catalog.set_meta(_FLAG, "0")
