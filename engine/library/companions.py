"""The catalog's RAW+JPEG pairs (``engine.images.pairs``): a camera's JPEG kept as its RAW file's companion.

A companion keeps its row, features and codes-to-be, with ``companion_of`` naming the RAW photo, and is left out of
everything that lists photos: the grid, the photo count, the search index (so searches, words and duplicates
never see it) and training. Its RAW's ``Photo.companion`` names it. When the RAW file goes, its row goes and
``ON DELETE SET NULL`` makes the JPEG a photo of its own again, already read; the index run's pairing step
(``engine.jobs.pairing``) links and unlinks the rest.
"""

from __future__ import annotations

import os

__all__ = ["CompanionTables", "SHOWN"]

SHOWN = "status='ok' AND companion_of IS NULL"  # the photos a user sees: indexed, and not a RAW's companion


class CompanionTables:
    """Mixed into ``Catalog``: reading and writing ``photos.companion_of``."""

    db: object

    def raw_folders(self) -> list[bytes]:
        """The folders (by path) that hold an indexed RAW file."""
        rows = self.db.execute("SELECT path FROM photos WHERE format='RAW' AND status='ok'")  # index photos_raw
        return sorted({os.path.dirname(bytes(r[0])) for r in rows})

    def photos_in_folder(self, folder: bytes) -> list[tuple[int, bytes, str | None]]:
        """(id, path, capture time) of the indexed photos directly in ``folder`` (not in its subfolders)."""
        base = folder.rstrip(os.sep.encode()) + os.sep.encode()
        end = base[:-1] + bytes([base[-1] + 1])
        rows = self.db.execute(
            "SELECT id, path, taken_at FROM photos WHERE path >= ? AND path < ? AND +status='ok'"  # by path
            " AND instr(substr(path, ?), ?) = 0", (base, end, len(base) + 1, os.sep.encode()))
        return [(r[0], bytes(r[1]), r[2]) for r in rows]

    def companion_links(self) -> dict[int, int]:
        """{companion id: its RAW photo's id}."""
        return dict(self.db.execute("SELECT id, companion_of FROM photos WHERE companion_of IS NOT NULL"))

    def set_companion_links(self, links: dict[int, int]) -> bool:
        """Make ``links`` ({companion id: RAW id}) the catalog's pairs; whether anything changed."""
        now = self.companion_links()
        gone = [(pid,) for pid in now if pid not in links]
        new = [(raw, pid) for pid, raw in links.items() if now.get(pid) != raw]
        self.db.executemany("UPDATE photos SET companion_of=NULL WHERE id=?", gone)
        self.db.executemany("UPDATE photos SET companion_of=? WHERE id=?", new)
        return bool(gone or new)

    def companion_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM photos WHERE companion_of IS NOT NULL").fetchone()[0])

    def shot_of(self, photo_id: int) -> int:
        """The photo that stands for ``photo_id``: its RAW file when it is a RAW's companion, else itself."""
        row = self.db.execute("SELECT companion_of FROM photos WHERE id=?", (int(photo_id),)).fetchone()
        return int(row[0]) if row and row[0] is not None else int(photo_id)
