"""The catalog: one SQLite database (WAL) per library with folders, photos, per-file errors and models.

Paths are stored as bytes (``os.fsencode``) so that file names which are not valid UTF-8 survive; the
``display`` column holds a readable version for listing. Schema changes go through ``_MIGRATIONS``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import CatalogError
from engine.library.companions import SHOWN, CompanionTables
from engine.library.duplicate_tables import DuplicateTables
from engine.library.names import NameTables
from engine.library.schema import _MIGRATIONS, SCHEMA_VERSION
from engine.library.sqlite import Transaction, catalog_error, translated
from engine.types import FileError, ModelInfo, Photo, PhotoId

__all__ = ["Catalog", "FileRecord", "ModelRecord", "SCHEMA_VERSION", "fs_bytes", "fs_str"]

log = logging.getLogger(__name__)


def fs_bytes(path: str | os.PathLike[str] | bytes) -> bytes:
    return path if isinstance(path, bytes) else os.fsencode(os.fspath(path))


def fs_str(raw: bytes) -> str:
    return os.fsdecode(raw)


def _display(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class FileRecord:
    """What the scanner knows about a photo without decoding it."""

    id: int
    path: bytes
    size: int
    mtime_ns: int
    fingerprint: str | None
    status: str
    feat_row: int | None
    error_code: str | None = None


@dataclass(frozen=True)
class ModelRecord:
    """A model's catalog row: what the user sees (``info``) and what loading it needs (file, checksum, fit size)."""

    info: ModelInfo
    file: str  # relative to the library folder
    sha256: str
    n_fit: int  # photos a training-free model was fitted on (its refit trigger)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Catalog(CompanionTables, DuplicateTables, NameTables):
    """Thread-safe handle on the catalog database.

    One connection per thread (SQLite connections must not be shared across threads); writers use
    ``with catalog.transaction():`` so a batch lands whole or not at all.
    """

    def __init__(self, path: Path, read_only: bool = False, frozen: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.frozen = frozen  # read as it is on disk, no WAL index (a full disk has no room for one)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if read_only and not self.path.is_file():
            raise CatalogError(f"the library {self.path.parent} is read-only and holds no catalog yet")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
            if not read_only:
                self.adopt_nested()
        except sqlite3.DatabaseError as exc:
            raise catalog_error(self.path, exc) from exc

    # -- connections ---------------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            if self.read_only:
                frozen = "" if os.access(self.path.parent, os.W_OK) and not self.frozen else "&immutable=1"
                uri = f"file:{self.path.as_posix()}?mode=ro{frozen}"
                con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    def transaction(self):
        return Transaction(self.db, self.path)

    def _migrate(self) -> None:
        db = self.db
        if not self.read_only:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"this library was written by a newer Simili (schema {version} > {SCHEMA_VERSION}); update Simili"
            )
        if self.read_only and version < SCHEMA_VERSION:
            raise CatalogError(f"the library {self.path.parent} is read-only and was written by an older Simili;"
                               " open it once where it can be written")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip() and "CREATE TABLE IF NOT EXISTS meta" not in statement:
                        db.execute(statement)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(target),))

    def integrity_ok(self) -> bool:
        return not self.integrity_problems(full=True)

    def integrity_problems(self, full: bool = False) -> list[str]:
        """What SQLite finds wrong with the database file (``quick_check``, or ``integrity_check`` when ``full``)."""
        try:
            rows = self.db.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if [r[0] for r in rows] == ["ok"] else [str(r[0]) for r in rows]

    # -- meta ----------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- folders -------------------------------------------------------------------------------------
    def folders(self) -> list[tuple[int, str]]:
        return [(r[0], fs_str(r[1])) for r in self.db.execute("SELECT id, path FROM folders ORDER BY path")]

    def add_folder(self, path: str | os.PathLike[str]) -> int:
        """Add a folder (a canonical path). A folder inside another library folder takes over its photos there,
        so that a photo always has one row whichever folders cover it."""
        raw = fs_bytes(path)
        db = self.db
        with self.transaction():
            db.execute("INSERT OR IGNORE INTO folders (path, added) VALUES (?, ?)", (raw, _now()))
            folder_id = int(db.execute("SELECT id FROM folders WHERE path=?", (raw,)).fetchone()[0])
            self._adopt(folder_id, raw)
        return folder_id

    def _adopt(self, folder_id: int, raw: bytes) -> None:
        """Give folder ``folder_id`` (at ``raw``) the photos below it that no deeper library folder owns."""
        deeper = [p for _, p in self.nested_folders(raw)]
        lo, hi = _below(raw)
        rows = self.db.execute("SELECT id, path FROM photos WHERE path >= ? AND path < ? AND folder_id != ?",
                               (lo, hi, folder_id)).fetchall()
        mine = [(folder_id, pid) for pid, p in rows
                if not any(bytes(p).startswith(_below(d)[0]) for d in deeper)]
        self.db.executemany("UPDATE photos SET folder_id=? WHERE id=?", mine)

    def adopt_nested(self) -> int:
        """Give every photo to the innermost library folder that covers it; returns the photos that changed folder.

        A library written before nested folders were handled (a folder and its subfolder both added) keeps the
        subfolder's photos under the outer folder. The next scan would then see them vanish from one folder and
        appear in the other: new rows, read again, features stored twice. Healed when the catalog is opened; free
        when no library folder lies inside another.
        """
        folders = sorted(((i, fs_bytes(p)) for i, p in self.folders()), key=lambda f: len(f[1]))
        inner = [(i, raw) for i, raw in folders if any(raw.startswith(_below(o)[0]) for _, o in folders)]
        if not inner:
            return 0
        before = self.db.total_changes
        with self.transaction():
            for folder_id, raw in inner:  # outer first: each folder then takes what lies inside it
                self._adopt(folder_id, raw)
        moved = self.db.total_changes - before
        if moved:
            log.warning("%d photos of nested library folders were stored under the outer folder; moved", moved)
        return moved

    def nested_folders(self, raw: bytes) -> list[tuple[int, bytes]]:
        """Library folders strictly inside the folder ``raw``."""
        lo, hi = _below(raw)
        return [(r[0], bytes(r[1])) for r in
                self.db.execute("SELECT id, path FROM folders WHERE path >= ? AND path < ?", (lo, hi))]

    def remove_folder(self, path: str | os.PathLike[str]) -> list[int]:
        """Forget a folder and its photos (files are never touched). Returns the removed photo ids.

        Photos that another library folder still covers (the folder was inside it) stay, now under that folder.
        """
        raw = fs_bytes(path)
        with self.transaction():
            row = self.db.execute("SELECT id FROM folders WHERE path=?", (raw,)).fetchone()
            if row is None:
                return []
            outer = [(i, p) for i, p in ((r[0], bytes(r[1])) for r in self.db.execute("SELECT id, path FROM folders"))
                     if raw.startswith(_below(p)[0])]
            if outer:  # the innermost library folder around this one takes its photos over
                parent_id = max(outer, key=lambda f: len(f[1]))[0]
                self.db.execute("UPDATE photos SET folder_id=? WHERE folder_id=?", (parent_id, row[0]))
            ids = [r[0] for r in self.db.execute("SELECT id FROM photos WHERE folder_id=?", (row[0],))]
            self.db.execute("DELETE FROM photos WHERE folder_id=?", (row[0],))
            self.db.execute("DELETE FROM folders WHERE id=?", (row[0],))
        return ids

    # -- photos --------------------------------------------------------------------------------------
    def records(self, folder_id: int) -> dict[bytes, FileRecord]:
        rows = self.db.execute(
            "SELECT id, path, size, mtime_ns, fingerprint, status, feat_row, error_code FROM photos WHERE folder_id=?",
            (folder_id,),
        )
        return {bytes(r[1]): FileRecord(r[0], bytes(r[1]), *r[2:]) for r in rows}

    def has_photos(self, folder_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM photos WHERE folder_id=? AND status='ok' LIMIT 1",
                               (folder_id,)).fetchone() is not None

    def indexed_with_fingerprints(self, fingerprints: Iterable[str]) -> list[FileRecord]:
        """Indexed photos (any folder) whose content fingerprint is one of ``fingerprints``."""
        out = []
        for fp in set(fingerprints):
            rows = self.db.execute("SELECT id, path, size, mtime_ns, fingerprint, status, feat_row, error_code"
                                   " FROM photos WHERE fingerprint=? AND status='ok'", (fp,))
            out.extend(FileRecord(r[0], bytes(r[1]), *r[2:]) for r in rows)
        return out

    def insert_pending(self, folder_id: int, items: Iterable[tuple[bytes, int, int, str | None]]) -> None:
        self.db.executemany(
            "INSERT INTO photos (folder_id, path, display, size, mtime_ns, fingerprint, status)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending')"
            " ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
            " fingerprint=excluded.fingerprint, status='pending', error_code=NULL, error=NULL, feat_row=NULL",
            [(folder_id, raw, _display(raw), size, mtime, fp) for raw, size, mtime, fp in items],
        )

    def insert_indexed(self, folder_id: int, items: Iterable[tuple[bytes, int, int, int, int, int]]) -> None:
        """Photos whose features are already cached: (path, size, mtime_ns, feat_row, width, height) (benches)."""
        self.db.executemany(
            "INSERT INTO photos (folder_id, path, display, size, mtime_ns, status, feat_row, width, height)"
            " VALUES (?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
            [(folder_id, raw, _display(raw), size, mtime, row, w, h) for raw, size, mtime, row, w, h in items],
        )

    def move(self, photo_id: int, folder_id: int, new_path: bytes, size: int, mtime_ns: int) -> None:
        self.db.execute(
            "UPDATE photos SET folder_id=?, path=?, display=?, size=?, mtime_ns=? WHERE id=?",
            (folder_id, new_path, _display(new_path), size, mtime_ns, photo_id),
        )

    def delete(self, ids: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM photos WHERE id=?", [(int(i),) for i in ids])

    def ids_of_paths(self, paths: Iterable[bytes]) -> dict[bytes, int]:
        rows = (self.db.execute("SELECT path, id FROM photos WHERE path=?", (raw,)).fetchone() for raw in paths)
        return {bytes(r[0]): r[1] for r in rows if r}

    def ok_paths(self) -> list[str]:
        """Paths of every indexed photo (a RAW's companion JPEG left out), in id order."""
        return [fs_str(r[0]) for r in self.db.execute(f"SELECT path FROM photos WHERE {SHOWN} ORDER BY id")]

    def pending(self, limit: int | None = None) -> list[tuple[int, bytes]]:
        sql = "SELECT id, path FROM photos WHERE status='pending' ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [(r[0], r[1]) for r in self.db.execute(sql)]

    def mark_ok(self, rows: Iterable[tuple]) -> None:
        """rows: (id, feat_row, width, height, orientation, taken_at, format, signature)."""
        now = time.time()
        self.db.executemany(
            "UPDATE photos SET status='ok', error_code=NULL, error=NULL, feat_row=?, width=?, height=?,"
            " orientation=?, taken_at=?, format=?, signature=?, indexed_at=? WHERE id=?",
            [(fr, w, h, o, t, f, sig, now, pid) for pid, fr, w, h, o, t, f, sig in rows],
        )

    def mark_error(self, rows: Iterable[tuple[int, str, str]]) -> None:
        now = time.time()
        self.db.executemany(
            "UPDATE photos SET status='error', error_code=?, error=?, feat_row=NULL, indexed_at=? WHERE id=?",
            [(code, msg, now, pid) for pid, code, msg in rows],
        )

    def counts(self) -> dict[str, int]:
        """Photos by status; a RAW's companion JPEG is not counted (the pair is one photo)."""
        out = {"ok": 0, "error": 0, "pending": 0}
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM photos GROUP BY status"):
            out[status] = n
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM photos WHERE companion_of IS NOT NULL"
                                         " GROUP BY status"):  # a few rows, by their index: the sum stays fast
            out[status] -= n
        return out

    def failures(self, limit: int | None = None) -> list[FileError]:
        sql = "SELECT path, error_code, error FROM photos WHERE status='error' ORDER BY display"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [FileError(fs_str(p), c or "error", m or "") for p, c, m in self.db.execute(sql)]

    def ok_ids(self) -> np.ndarray:
        """Ids of every indexed photo as an int64 array (no per-row Python objects kept: 1M rows = 8 MB)."""
        cur = self.db.execute(f"SELECT id FROM photos WHERE {SHOWN}")  # what the index holds (index photos_shown)
        return np.sort(np.fromiter((r[0] for r in cur), dtype=np.int64))

    def feature_rows(self) -> tuple[list[int], list[int]]:
        """(photo ids, feature rows) of every photo with features, in id order."""
        rows = self.db.execute(f"SELECT id, feat_row FROM photos WHERE {SHOWN} ORDER BY id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    _PHOTO_COLS = ("id, path, width, height, size, mtime_ns, taken_at, (SELECT c.path FROM photos AS c"
                   " WHERE c.companion_of = photos.id ORDER BY c.display LIMIT 1)")

    @staticmethod
    def _photo(row: tuple) -> Photo:
        pid, raw, w, h, size, mtime_ns, taken, companion = row
        return Photo(PhotoId(pid), fs_str(raw), w, h, size, (mtime_ns or 0) / 1e9, taken,
                     fs_str(companion) if companion is not None else None)

    def photo(self, photo_id: int) -> Photo | None:
        row = self.db.execute(f"SELECT {self._PHOTO_COLS} FROM photos WHERE id=?", (int(photo_id),)).fetchone()
        return self._photo(row) if row else None

    def photo_by_path(self, path: str | os.PathLike[str] | bytes) -> tuple[Photo, str, int | None] | None:
        """(photo, status, feature row) for a path, or None."""
        row = self.db.execute(
            f"SELECT {self._PHOTO_COLS}, status, feat_row FROM photos WHERE path=?", (fs_bytes(path),)
        ).fetchone()
        return (self._photo(row[:8]), row[8], row[9]) if row else None

    def photos_by_ids(self, ids: Sequence[int]) -> dict[int, Photo]:
        out: dict[int, Photo] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT {self._PHOTO_COLS} FROM photos WHERE id IN ({marks})", chunk):
                out[row[0]] = self._photo(row)
        return out

    def iter_photos(self, offset: int = 0, limit: int = -1) -> Iterator[Photo]:
        """Indexed photos in path order (the grid's order)."""
        rows = self.db.execute(
            f"SELECT {self._PHOTO_COLS} FROM photos WHERE {SHOWN} ORDER BY display LIMIT ? OFFSET ?",
            (limit, offset),
        )
        for row in rows:
            yield self._photo(row)

    def _column_of(self, column: str, ids: Sequence[int]) -> dict[int, object]:
        """{id: column} for the ids that have a value, in chunks under SQLite's variable limit."""
        out: dict[int, object] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, {column} FROM photos WHERE id IN ({marks}) AND {column} IS NOT NULL"
            out.update(dict(self.db.execute(sql, chunk).fetchall()))
        return out

    def signatures_of(self, ids: Sequence[int]) -> dict[int, bytes]:
        return self._column_of("signature", ids)  # type: ignore[return-value]

    def feat_row_of(self, ids: Sequence[int]) -> dict[int, int]:
        return self._column_of("feat_row", ids)  # type: ignore[return-value]

    # -- models --------------------------------------------------------------------------------------
    def add_model(self, kind: str, bits: int, file: str, sha256: str, n_fit: int, metrics: dict) -> int:
        cur = self.db.execute(
            "INSERT INTO models (kind, bits, created, file, sha256, n_fit, metrics) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, bits, _now(), file, sha256, n_fit, json.dumps(metrics)),
        )
        return int(cur.lastrowid)

    def activate_model(self, model_id: int) -> None:
        with self.transaction():
            if not self.db.execute("SELECT 1 FROM models WHERE id=?", (model_id,)).fetchone():
                raise CatalogError(f"there is no model {model_id}")
            self.db.execute("UPDATE models SET active = (id = ?)", (model_id,))

    def model_records(self) -> list[ModelRecord]:
        """Every model, newest first."""
        rows = self.db.execute(
            "SELECT id, kind, bits, created, active, metrics, file, sha256, n_fit FROM models ORDER BY id DESC"
        )
        return [ModelRecord(ModelInfo(r[0], r[1], r[2], r[3], bool(r[4]), json.loads(r[5])), r[6], r[7], r[8])
                for r in rows]

    def model_record(self, model_id: int) -> ModelRecord | None:
        return next((m for m in self.model_records() if m.info.id == model_id), None)

    def active_record(self) -> ModelRecord | None:
        return next((m for m in self.model_records() if m.info.active), None)

    def delete_model(self, model_id: int) -> None:
        self.db.execute("DELETE FROM models WHERE id=?", (int(model_id),))

    def deactivate_models(self) -> None:
        """No model is active any more (the active one's file is lost; the next index run fits a new code)."""
        self.db.execute("UPDATE models SET active = 0")

    def live_feature_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM photos WHERE feat_row IS NOT NULL").fetchone()[0])

    def live_feature_rows(self) -> tuple[list[int], list[int]]:
        """(photo ids, their feature rows) of every photo with cached features, in row order."""
        rows = self.db.execute("SELECT id, feat_row FROM photos WHERE feat_row IS NOT NULL ORDER BY feat_row").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def set_feature_rows(self, pairs: Iterable[tuple[int, int]]) -> None:
        self.db.executemany("UPDATE photos SET feat_row=? WHERE id=?", ((int(r), int(i)) for i, r in pairs))

    def forget_features(self, rows: Sequence[int] = (), from_row: int | None = None) -> int:
        """Photos whose cached features are lost (rows ``rows``, or every row from ``from_row`` on) go back to
        ``pending``, so the next index run reads them again. Returns how many."""
        n = 0
        with self.transaction():
            if from_row is not None:
                n += self.db.execute("UPDATE photos SET status='pending', feat_row=NULL"
                                     " WHERE status='ok' AND feat_row >= ?", (int(from_row),)).rowcount
                self.set_meta("feat_rows", str(int(from_row)))
            for start in range(0, len(rows), 900):
                chunk = [int(r) for r in rows[start : start + 900]]
                marks = ",".join("?" * len(chunk))
                n += self.db.execute(f"UPDATE photos SET status='pending', feat_row=NULL"
                                     f" WHERE status='ok' AND feat_row IN ({marks})", chunk).rowcount
        return n


def _below(raw: bytes) -> tuple[bytes, bytes]:
    """[lo, hi): the byte range of every path strictly inside the folder ``raw``."""
    sep = os.sep.encode()
    base = raw if raw.endswith(sep) else raw + sep
    return base, base[:-1] + bytes([base[-1] + 1])


_members = {n: m for cls in reversed(Catalog.__mro__[:-1]) for n, m in vars(cls).items()}
for _name, _member in _members.items():  # every SQLite error leaves the catalog as one sentence
    if callable(_member) and not _name.startswith("_") and _name not in ("transaction", "iter_photos", "close"):
        setattr(Catalog, _name, translated(_member))
