"""Short names for folders, as editors name tabs: the last part of the path, and as many parent parts as it takes
to tell apart folders whose last parts are the same ("shop/images" and "home/images")."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePath

__all__ = ["short_names"]


def short_names(paths: list[str]) -> dict[str, str]:
    """Each path's shortest distinguishing tail of path parts (the whole path when nothing shorter tells it apart)."""
    parts = {p: PurePath(p).parts or (p,) for p in paths}
    depth = dict.fromkeys(paths, 1)

    def label(p: str) -> str:
        tail = parts[p][-depth[p]:]
        return str(PurePath(*tail)) if tail else p

    while True:
        by_label: dict[str, list[str]] = defaultdict(list)
        for p in paths:
            by_label[label(p)].append(p)
        grew = False
        for same in by_label.values():
            if len(same) > 1:
                for p in same:
                    if depth[p] < len(parts[p]):
                        depth[p] += 1
                        grew = True
        if not grew:
            return {p: label(p) for p in paths}
