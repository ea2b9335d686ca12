"""Rebuilding a damaged catalog: every row SQLite can still read is copied into a fresh catalog, which replaces it.

``simili repair`` runs this when the catalog fails ``PRAGMA integrity_check``. The damaged file is kept beside the
new one (``catalog.sqlite.damaged``). Photos whose rows were lost are found again by the next index run; their
cached features are simply read again (the feature cache is never trusted for a photo without a row).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

from engine.library.catalog import Catalog

__all__ = ["salvage", "respell_folders"]

log = logging.getLogger(__name__)

_TABLES = ("folders", "photos", "models", "meta")
_CHUNK = 256
_GUESS_MAX_ROWID = 2_000_000


def _sound(path: Path) -> bool:
    try:
        con = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True)
        try:
            return con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return False


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    try:
        return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    except sqlite3.DatabaseError:
        return []


def _readable_rows(con: sqlite3.Connection, table: str, cols: list[str]) -> list[tuple]:
    """Every row of ``table`` that can be read: all at once, else rowid range by range, else one by one."""
    select = f"SELECT {', '.join(cols)} FROM {table}"
    try:
        return con.execute(select).fetchall()
    except sqlite3.DatabaseError:
        pass
    try:
        top = int(con.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0)
    except sqlite3.DatabaseError:
        top = _GUESS_MAX_ROWID
    rows: list[tuple] = []
    for lo in range(0, top + 1, _CHUNK):
        try:
            rows += con.execute(f"{select} WHERE rowid BETWEEN ? AND ?", (lo, lo + _CHUNK - 1)).fetchall()
        except sqlite3.DatabaseError:
            for rowid in range(lo, lo + _CHUNK):
                with contextlib.suppress(sqlite3.DatabaseError):
                    rows += con.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchall()
    return rows


def salvage(path: Path) -> str | None:
    """Rebuild the catalog at ``path`` if it is damaged; a line saying what was kept, or None when it was sound."""
    path = Path(path)
    if not path.exists() or _sound(path):
        return None
    fresh_path = path.with_name(path.name + ".rebuilt")
    for p in (fresh_path, Path(f"{fresh_path}-wal"), Path(f"{fresh_path}-shm")):
        p.unlink(missing_ok=True)
    fresh = Catalog(fresh_path)
    kept: dict[str, int] = {}
    try:
        old = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        old = None
    try:
        db = fresh.db
        db.execute("PRAGMA foreign_keys=OFF")
        with fresh.transaction():
            for table in _TABLES:
                have = set(_columns(fresh.db, table))
                cols = [c for c in (_columns(old, table) if old is not None else []) if c in have]
                rows = _readable_rows(old, table, cols) if cols else []
                kept[table] = len(rows)
                if not rows:  # nothing of it could be read (the file may not be a database at all)
                    continue
                if table == "meta":
                    rows = [r for r in rows if r[cols.index("key")] != "schema_version"]
                marks = ",".join("?" * len(cols))
                db.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
                kept[table] = len(rows)
            # rows whose folder row was lost cannot be scanned again from it: they are found anew by the next run
            db.execute("DELETE FROM photos WHERE folder_id NOT IN (SELECT id FROM folders)")
        db.execute("PRAGMA foreign_keys=ON")
    finally:
        if old is not None:
            old.close()
        fresh.close()
    damaged = path.with_name(path.name + ".damaged")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            os.replace(src, Path(f"{damaged}{suffix}"))
    os.replace(fresh_path, path)
    log.warning("catalog %s was damaged; rebuilt from its readable rows %s", path, kept)
    return (f"the catalog was damaged and has been rebuilt from what could be read ({kept['folders']} folders,"
            f" {kept['photos']} photos, {kept['models']} models); the damaged file is kept as {damaged.name}")


def respell_folders(catalog: Catalog, canonical) -> list[str]:
    """Folders an older Simili stored unnormalised (``a/../b``, relative parts, links) take their canonical spelling,
    their photos' paths with them; a photo already stored under the canonical spelling keeps that row, the duplicate
    row goes. ``canonical`` maps a folder path to its canonical one. A line per folder respelled."""
    from engine.library.catalog import _display, fs_bytes

    done = []
    db = catalog.db
    for folder_id, path in catalog.folders():
        new = fs_bytes(canonical(path))
        old = fs_bytes(path)
        if new == old or not os.path.isdir(new):
            continue
        with catalog.transaction():
            for pid, raw in db.execute("SELECT id, path FROM photos WHERE folder_id=?", (folder_id,)).fetchall():
                spelled = new + bytes(raw)[len(old):]
                if db.execute("SELECT 1 FROM photos WHERE path=?", (spelled,)).fetchone():
                    db.execute("DELETE FROM photos WHERE id=?", (pid,))
                else:
                    db.execute("UPDATE photos SET path=?, display=? WHERE id=?", (spelled, _display(spelled), pid))
            kept = catalog.add_folder(new)  # the canonical row (new or existing)
            db.execute("UPDATE photos SET folder_id=? WHERE folder_id=?", (kept, folder_id))
            db.execute("DELETE FROM folders WHERE id=?", (folder_id,))
        done.append(f"folder {path} is now spelled {os.fsdecode(new)}")
    return done
