"""The copy decision of look-alike pairs (``engine.duplicates.matching``), stored and reused, and what files are.

A verdict depends on the two files' pixels only, so it is kept in the catalog (``copy_matches``) stamped with what
it was measured on (frames, sizes, dates and ``MATCH_VERSION``), like the aligner's pixel checks were; so are each
photo's looks (black corners, edge bands, sharpness: ``photo_looks``) that the keep rule reads. A photo is decoded
(a grey view of ``matching.VIEW`` pixels) only when one of its pairs has no valid stored verdict.

Capture times (EXIF DateTimeOriginal with SubSecTimeOriginal) tell bursts from copies: two photos whose camera
says they were taken at different moments are two captures, whatever their pixels say ("similar", not "copy").

Files are files: ``identity`` says which paths are one file (a symlink, a hard link, the same inode), and a file
that cannot be reached has none, so it is never kept nor offered for the trash.
"""

from __future__ import annotations

import logging
import os
import zlib
from typing import TYPE_CHECKING

import numpy as np

from engine.duplicates.lookalikes import store_derived
from engine.duplicates.matching import MATCH_VERSION, NONE, VIEW, Match, View, match, view_of
from engine.errors import SimiliError
from engine.types import Photo

if TYPE_CHECKING:
    from engine.library.catalog import Catalog

__all__ = ["Verdicts", "identity", "Looks", "other_capture"]

log = logging.getLogger(__name__)

Looks = tuple[bool, float, float]  # (black corners, edge band share, sharpness)


def identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file a path reaches (through links), or None when it cannot be reached."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def other_capture(a: Photo, b: Photo) -> bool:
    """Whether both photos carry a capture time and the times differ: two captures (a burst), not copies."""
    return bool(a.taken_at and b.taken_at and a.taken_at != b.taken_at)


class Verdicts:
    """Copy verdicts and looks of the photos in ``photos``, read from the catalog or measured now."""

    def __init__(self, catalog: Catalog | None, photos: dict[int, Photo], frames: dict[int, bytes]):
        self.photos, self.frames = photos, frames
        self.stored = catalog.copy_matches() if catalog is not None else {}
        self.stored_looks = catalog.photo_looks(list(photos)) if catalog is not None else {}
        self.views: dict[int, View | None] = {}
        self.known: dict[tuple[int, int], Match] = {}
        self.fresh: list[tuple[int, int, int, tuple]] = []
        self.fresh_looks: list[tuple[int, int, bool, float, float]] = []

    def _stamp(self, pid: int) -> int:
        p = self.photos[pid]
        return zlib.crc32(self.frames.get(pid, b"") + f"{p.width}x{p.height}:{p.size}:{p.mtime}".encode(),
                          MATCH_VERSION)

    def _pair_stamp(self, a: int, b: int) -> int:
        return zlib.crc32(f"{self._stamp(a)}:{self._stamp(b)}".encode(), MATCH_VERSION)

    def stored_match(self, a: int, b: int) -> bool:
        """Whether (a, b) has a verdict measured before on the same files."""
        key = (min(a, b), max(a, b))
        hit = self.stored.get(key)
        return key in self.known or (hit is not None and hit[0] == self._pair_stamp(*key))

    def view(self, pid: int) -> View | None:
        if pid not in self.views:
            from engine.images.decode import thumbnail

            try:
                self.views[pid] = view_of(np.asarray(thumbnail(self.photos[pid].path, 2 * VIEW)))
            except (SimiliError, OSError, ValueError) as exc:
                log.info("no view of %s: %s", self.photos[pid].path, exc)
                self.views[pid] = None
            v = self.views[pid]
            if v is not None:
                self.fresh_looks.append((pid, self._stamp(pid), v.black_corners, v.band, v.sharpness))
        return self.views[pid]

    def match(self, a: int, b: int) -> Match:
        """The verdict on (a, b) in that order (``Match.cover_a`` is a's share covered by b)."""
        key = (min(a, b), max(a, b))
        found = self.known.get(key)
        if found is None:
            hit = self.stored.get(key)
            if hit is not None and hit[0] == self._pair_stamp(*key):
                v, inliers, texture, scale, angle, mirrored, ca, cb = hit[1]
                found = Match(str(v), int(inliers), float(texture), float(scale), float(angle), bool(mirrored),
                              float(ca), float(cb))
            else:
                va, vb = self.view(key[0]), self.view(key[1])
                found = NONE if va is None or vb is None else match(va, vb)
                if va is not None and vb is not None:
                    self.fresh.append((*key, self._pair_stamp(*key), tuple(found)))
            if found.verdict == "copy" and other_capture(self.photos[key[0]], self.photos[key[1]]):
                found = found._replace(verdict="similar")
            self.known[key] = found
        if key == (a, b):
            return found
        scale = 1.0 / found.scale if found.scale else 1.0
        return found._replace(scale=round(scale, 3), angle=-found.angle, cover_a=found.cover_b, cover_b=found.cover_a)

    def looks(self, pid: int) -> Looks | None:
        hit = self.stored_looks.get(pid)
        if hit is not None and hit[0] == self._stamp(pid):
            return hit[1], hit[2], hit[3]
        v = self.view(pid)
        return None if v is None else (v.black_corners, v.band, v.sharpness)

    def save(self, catalog: Catalog) -> None:
        rows, self.fresh = self.fresh, []
        looks, self.fresh_looks = self.fresh_looks, []
        if rows or looks:
            store_derived(catalog, f"copy checks of {len(rows)} look-alike pairs",
                          lambda: (catalog.set_copy_matches(rows), catalog.set_photo_looks(looks)))
