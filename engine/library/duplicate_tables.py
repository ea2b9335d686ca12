"""The catalog's tables for the duplicate check: whole-frame signatures, the copy verdicts of look-alike pairs
(``copy_matches``) and each photo's looks (``photo_looks``), the look-alike pairs found for one set of search
inputs, and the user's decisions (``not_copies``) (``engine.duplicates``).

All but the last are derived data, created on first write (a library of an older Simili has none of them) and
replaced whole when their shape changed. ``not_copies`` is what the user said: kept through re-index and training.
``DuplicateTables`` is a part of ``engine.library.catalog.Catalog``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["DuplicateTables"]


class DuplicateTables:
    """Methods of ``Catalog`` (which provides ``db``, ``transaction`` and the meta table) for duplicate data."""

    _FRAMES = ("CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,"
               " frame BLOB NOT NULL, hash INTEGER NOT NULL)")

    def _frames_table(self, write: bool) -> bool:
        """Whether the frames table is there in its current shape; a writer creates it (or replaces the
        hash-less table of a development build, whose frames the index run then computes again)."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(frames)")}
        if cols and "hash" in cols:
            return True
        if write:
            if cols:
                self.db.execute("DROP TABLE frames")
            self.db.execute(self._FRAMES)
        return write

    def set_frames(self, rows: Iterable[tuple[int, bytes, int]]) -> None:
        """Whole-frame signatures of photos: (id, ``engine.images.signature.frame_signature``, its ``frame_hash``).

        An empty signature marks a photo whose frame could not be read: it is not tried again until the file
        changes (and is read again), and it takes no part in the duplicate check.

        The table is created on first write, so a library of an older Simili gains it on its next index run.
        """
        self._frames_table(write=True)
        self.db.executemany("INSERT OR REPLACE INTO frames (id, frame, hash) VALUES (?, ?, ?)", list(rows))

    def frame_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, 64-bit frame hashes as int64) of every photo with a whole-frame signature."""
        if not self._frames_table(write=False):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rows = np.array(self.db.execute("SELECT id, hash FROM frames WHERE length(frame) > 0").fetchall(),
                        dtype=np.int64).reshape(-1, 2)
        return rows[:, 0], rows[:, 1]

    def frames_of(self, ids: Sequence[int]) -> dict[int, bytes]:
        if not self._frames_table(write=False):
            return {}
        out: dict[int, bytes] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            out.update(dict(self.db.execute(f"SELECT id, frame FROM frames WHERE id IN ({marks})"
                                            " AND length(frame) > 0", chunk)))
        return out

    def prune_copy_matches(self) -> int:
        """Forget the verdicts of photos that have left the library; returns how many. The aligner's pixel checks
        that an older Simili stored (table ``pair_checks``) are dropped: nothing reads them any more."""
        self.db.execute("DROP TABLE IF EXISTS pair_checks")
        if not self._matches_table():
            return 0
        return self.db.execute("DELETE FROM copy_matches WHERE a NOT IN (SELECT id FROM photos) OR b NOT IN"
                               " (SELECT id FROM photos)").rowcount

    def look_alikes(self, digest: str) -> list[tuple[float, int, int]] | None:
        """The look-alike pairs (cosine, a, b) stored for the search inputs ``digest``, or None (another digest,
        or none stored)."""
        if self.get_meta("look_alikes_for") != digest:
            return None
        try:
            return [tuple(r) for r in self.db.execute("SELECT cosine, a, b FROM look_alikes")]
        except sqlite3.OperationalError:  # the mark without its table: search again
            return None

    def set_look_alikes(self, digest: str, rows: Iterable[tuple[float, int, int]]) -> None:
        """Replace the stored look-alike pairs (cosine, a, b) with ``rows``, found for the inputs ``digest``."""
        self.db.execute("DROP TABLE IF EXISTS look_alikes")  # replaced whole, whatever shape it had
        self.db.execute("CREATE TABLE look_alikes (a INTEGER NOT NULL, b INTEGER NOT NULL, cosine REAL NOT NULL,"
                        " PRIMARY KEY (a, b)) WITHOUT ROWID")
        self.db.executemany("INSERT INTO look_alikes (cosine, a, b) VALUES (?, ?, ?)", rows)
        self.set_meta("look_alikes_for", digest)

    def without_frame(self) -> list[tuple[int, bytes]]:
        """(id, path) of indexed photos that have no whole-frame signature yet (indexed by an older Simili)."""
        with self.transaction():
            self._frames_table(write=True)
        return self.db.execute("SELECT id, path FROM photos WHERE status='ok' AND id NOT IN (SELECT id FROM frames)"
                               " ORDER BY id").fetchall()

    # -- local-feature verdicts of look-alike pairs and how each photo looks (engine.duplicates.verdicts) -------------
    _MATCH_COLUMNS = ("verdict", "inliers", "texture", "scale", "angle", "mirrored", "cover_a", "cover_b")

    def _ensure(self, name: str, create: str, cols: Sequence[str], write: bool) -> bool:
        """Whether table ``name`` is there with columns ``cols``; a writer creates it, or replaces one of another
        shape (its rows are derived data)."""
        have = [r[1] for r in self.db.execute(f"PRAGMA table_info({name})")]
        if have != list(cols):
            if not write:
                return False
            self.db.execute(f"DROP TABLE IF EXISTS {name}")
            self.db.execute(create)
            if name == "copy_matches":
                self.db.execute("CREATE INDEX IF NOT EXISTS copy_matches_b ON copy_matches(b)")
        return True

    def _matches_table(self, write: bool = False) -> bool:
        return self._ensure("copy_matches", "CREATE TABLE copy_matches (a INTEGER NOT NULL, b INTEGER NOT NULL,"
                            " stamp INTEGER NOT NULL, verdict TEXT NOT NULL, inliers INTEGER NOT NULL, texture REAL NOT"
                            " NULL, scale REAL NOT NULL, angle REAL NOT NULL, mirrored INTEGER NOT NULL, cover_a REAL"
                            " NOT NULL, cover_b REAL NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID",
                            ("a", "b", "stamp", *self._MATCH_COLUMNS), write)

    def copy_matches(self) -> dict[tuple[int, int], tuple[int, tuple]]:
        """{(a, b): (stamp, (verdict, inliers, texture, scale, angle, mirrored, cover_a, cover_b))}: the stored
        local-feature verdicts (``engine.duplicates.matching.Match``), valid while their stamp matches."""
        if not self._matches_table():
            return {}
        return {(a, b): (stamp, tuple(rest)) for a, b, stamp, *rest in self.db.execute(
            f"SELECT a, b, stamp, {', '.join(self._MATCH_COLUMNS)} FROM copy_matches")}

    def copy_matches_of(self, photo_id: int) -> dict[tuple[int, int], tuple[int, tuple]]:
        """``copy_matches`` of the pairs one photo belongs to."""
        if not self._matches_table():
            return {}
        cols = ", ".join(self._MATCH_COLUMNS)
        return {(a, b): (stamp, tuple(rest)) for a, b, stamp, *rest in self.db.execute(
            f"SELECT a, b, stamp, {cols} FROM copy_matches WHERE a = ?1 UNION ALL SELECT a, b, stamp, {cols}"
            " FROM copy_matches WHERE b = ?1", (int(photo_id),))}

    def set_copy_matches(self, rows: Iterable[tuple[int, int, int, tuple]]) -> None:
        self._matches_table(write=True)
        marks = ", ".join("?" * (3 + len(self._MATCH_COLUMNS)))
        self.db.executemany(f"INSERT OR REPLACE INTO copy_matches VALUES ({marks})",
                            [(int(a), int(b), int(stamp), *values) for a, b, stamp, values in rows])

    def _looks_table(self, write: bool = False) -> bool:
        return self._ensure("photo_looks", "CREATE TABLE photo_looks (id INTEGER PRIMARY KEY REFERENCES photos(id)"
                            " ON DELETE CASCADE, stamp INTEGER NOT NULL, black_corners INTEGER NOT NULL, band REAL NOT"
                            " NULL, sharpness REAL NOT NULL)", ("id", "stamp", "black_corners", "band", "sharpness"),
                            write)

    def photo_looks(self, ids: Sequence[int]) -> dict[int, tuple[int, bool, float, float]]:
        """{id: (stamp, black corners, edge band share, sharpness)} of the photos whose looks were measured."""
        if not self._looks_table():
            return {}
        out = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for pid, stamp, corners, band, sharp in self.db.execute(
                    f"SELECT id, stamp, black_corners, band, sharpness FROM photo_looks WHERE id IN"
                    f" ({','.join('?' * len(chunk))})", chunk):
                out[pid] = (stamp, bool(corners), band, sharp)
        return out

    def set_photo_looks(self, rows: Iterable[tuple[int, int, bool, float, float]]) -> None:
        self._looks_table(write=True)
        self.db.executemany("INSERT OR REPLACE INTO photo_looks VALUES (?, ?, ?, ?, ?)",
                            [(int(i), int(s), int(c), float(b), float(sh)) for i, s, c, b, sh in rows])

    # -- the user's decisions: pairs of photos that are not copies (engine.duplicates.groups) ------------------------
    def _not_copies_table(self, write: bool = False) -> bool:
        return self._ensure("not_copies", "CREATE TABLE not_copies (a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY"
                            " (a, b)) WITHOUT ROWID", ("a", "b"), write)

    def not_copies(self) -> set[tuple[str, str]]:
        """Pairs of photo keys (``Catalog.photo_keys``) the user said are not copies: never grouped again. Not
        derived data: kept through re-index and training, dropped only with the library."""
        if not self._not_copies_table():
            return set()
        return {(a, b) for a, b in self.db.execute("SELECT a, b FROM not_copies")}

    def add_not_copies(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._not_copies_table(write=True)
        self.db.executemany("INSERT OR IGNORE INTO not_copies VALUES (?, ?)", [tuple(sorted(p)) for p in pairs])

    def photo_keys(self, ids: Sequence[int]) -> dict[int, str]:
        """{id: key} that survives a re-index and a move: the file's content fingerprint, else its id."""
        out = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for pid, fp in self.db.execute(f"SELECT id, fingerprint FROM photos WHERE id IN"
                                           f" ({','.join('?' * len(chunk))})", chunk):
                out[pid] = f"f:{fp}" if fp else f"id:{pid}"
        return out
