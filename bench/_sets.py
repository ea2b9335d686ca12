"""The labelled photo sets of ``../shared/data``, one manifest row per photo, including one composite set.

``garments-10`` is the demo clothes (clothing10-dev) with the look-alike folder's photos of the same ten kinds
(garments-lookalike, labels lower-cased; its ten other kinds and its unlabelled photos left out): 895 photos of ten
kinds from one upstream collection, as the held-out garments are, rather than a folder built to be full of look-alikes
of other kinds.
"""

from __future__ import annotations

import csv
from pathlib import Path

GARMENTS_10 = "garments-10"


def rows_of(folder: Path) -> list[dict[str, str]]:
    """The manifest rows of a set's folder (``folder.name`` ``garments-10``: the composite set), each ``path``
    made absolute."""
    if folder.name == GARMENTS_10:
        demo = rows_of(folder.parent / "clothing10-dev")
        kinds = {r["label"] for r in demo}
        extra = [{**r, "label": r["label"].lower()} for r in rows_of(folder.parent / "garments-lookalike")]
        return demo + [r for r in extra if r["label"] in kinds]
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as f:
        return [{**r, "path": str((folder / r["path"]).resolve())} for r in csv.DictReader(f)]
