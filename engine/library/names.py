"""The catalog's table of words the user taught (``simili name``): each name's example photos and rejections.

A row is (name, photo path, answer): ``answer`` 1 for a photo that shows the name, 0 for one the user said does
not. Rows are keyed by the photo's path, not its id, so a name survives a photo read again and a catalog rebuilt by
``repair`` (the rows find their photos again by path). Names compare without case ("Max" and "max" are one name)
and keep the spelling first typed. Every change is also written to ``names.json`` beside the catalog (a backup in
the library folder, never in a photo folder); a catalog without the table (rebuilt by ``repair`` from its readable
rows, or from an older Simili) takes the names back from it. ``NameTables`` is a part of
``engine.library.catalog.Catalog``; the models trained from these rows are ``engine.words.taught``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine._atomic import atomic_write_bytes
from engine.errors import NotIndexed, SimiliError

__all__ = ["NameTables", "NameInfo", "LibraryNames", "BACKUP_FILE", "clean_name"]

log = logging.getLogger(__name__)

BACKUP_FILE = "names.json"
MAX_NAME = 80


def clean_name(text: str) -> str:
    """A name as stored: inner spaces collapsed, ends trimmed; ValueError when empty or too long."""
    name = " ".join(str(text).split())
    if not name or not any(ch.isalnum() for ch in name):
        raise ValueError("give a word or a name, e.g. tomato or Max")
    if len(name) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    return name


@dataclass(frozen=True)
class NameInfo:
    """A taught name: how it is spelled, how many photos show it (examples) and how many were rejected."""

    name: str
    examples: int
    rejections: int
    changed: float  # time of its last change (seconds since the epoch)


class NameTables:
    """Methods of ``Catalog`` (which provides ``db``, ``path``, ``read_only`` and ``transaction``) for names."""

    _NAMES = ("CREATE TABLE IF NOT EXISTS names (name TEXT NOT NULL COLLATE NOCASE, path BLOB NOT NULL,"
              " answer INTEGER NOT NULL CHECK (answer IN (0, 1)), changed REAL NOT NULL, PRIMARY KEY (name, path))"
              " WITHOUT ROWID")

    def _has_names(self, write: bool = False) -> bool:
        """Whether the table is there; a writer creates it, restoring the backup when the table was missing."""
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='names'").fetchone():
            return True
        if not write:
            return False
        self.db.execute(self._NAMES)
        self._restore_names()
        return True

    @property
    def names_backup(self) -> Path:
        return Path(self.path).parent / BACKUP_FILE

    def _restore_names(self) -> None:
        try:
            rows = json.loads(self.names_backup.read_text(encoding="utf-8"))["rows"]
            rows = [(clean_name(n), os.fsencode(p), int(bool(a)), float(t)) for n, p, a, t in rows]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the names backup %s is unreadable (%s); names start empty", self.names_backup, exc)
            return
        self.db.executemany("INSERT OR REPLACE INTO names (name, path, answer, changed) VALUES (?, ?, ?, ?)", rows)
        log.warning("took %d named photos back from %s", len(rows), self.names_backup)

    def save_names_backup(self) -> None:
        """Write every row to ``names.json`` (after a change; a refused write is logged, the catalog keeps them)."""
        rows = [[n, os.fsdecode(bytes(p)), a, t] for n, p, a, t in
                self.db.execute("SELECT name, path, answer, changed FROM names ORDER BY name, path")] \
            if self._has_names() else []
        try:
            atomic_write_bytes(self.names_backup, json.dumps({"names": 1, "rows": rows}).encode())
        except OSError as exc:
            log.warning("could not save %s: %s", self.names_backup, exc)

    def set_name_answers(self, name: str, photo_ids: Sequence[int], answer: bool) -> int:
        """Mark photos as showing ``name`` (``answer`` True) or not; the spelling first typed is kept. Returns how
        many photos were marked (ids that are no photo of the library are left out)."""
        self._has_names(write=True)
        name = self.name_spelling(name) or clean_name(name)
        ids = [int(i) for i in photo_ids]
        now = time.time()
        paths = [bytes(p) for (p,) in self._rows_in("SELECT path FROM photos WHERE id IN ({})", ids)]
        self.db.executemany("INSERT OR REPLACE INTO names (name, path, answer, changed) VALUES (?, ?, ?, ?)",
                            [(name, p, int(bool(answer)), now) for p in paths])
        return len(paths)

    def _rows_in(self, sql: str, ids: list[int]) -> list[tuple]:
        out = []
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            out += self.db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
        return out

    def forget_name_answers(self, name: str, photo_ids: Sequence[int]) -> int:
        """Take photos out of a name (neither example nor rejection)."""
        if not self._has_names():
            return 0
        paths = [bytes(p) for (p,) in self._rows_in("SELECT path FROM photos WHERE id IN ({})",
                                                     [int(i) for i in photo_ids])]
        return sum(self.db.execute("DELETE FROM names WHERE name = ? AND path = ?", (name, p)).rowcount
                   for p in paths)

    def name_spelling(self, name: str) -> str | None:
        """How a taught name is spelled, or None when no such name was taught."""
        if not self._has_names():
            return None
        row = self.db.execute("SELECT name FROM names WHERE name = ? LIMIT 1", (" ".join(str(name).split()),))
        found = row.fetchone()
        return found[0] if found else None

    def name_infos(self) -> list[NameInfo]:
        """Every taught name (examples counted among the library's indexed photos), by name."""
        if not self._has_names():
            return []
        rows = self.db.execute(
            "SELECT n.name, sum(n.answer = 1 AND p.status = 'ok'), sum(n.answer = 0 AND p.status = 'ok'),"
            " max(n.changed) FROM names n LEFT JOIN photos p ON p.path = n.path GROUP BY n.name"
            " ORDER BY n.name COLLATE NOCASE").fetchall()
        return [NameInfo(n, int(y or 0), int(no or 0), float(t)) for n, y, no, t in rows]

    def name_answers(self, name: str) -> tuple[list[int], list[int]]:
        """(ids of the indexed photos that show ``name``, ids of those rejected)."""
        if not self._has_names():
            return [], []
        rows = self.db.execute("SELECT p.id, n.answer FROM names n JOIN photos p ON p.path = n.path"
                               " WHERE n.name = ? AND p.status = 'ok' ORDER BY p.id", (name,)).fetchall()
        return [i for i, a in rows if a == 1], [i for i, a in rows if a == 0]

    def remove_name(self, name: str) -> int:
        """Forget a name (its photos stay); returns how many photos it had."""
        if not self._has_names():
            return 0
        return self.db.execute("DELETE FROM names WHERE name = ?", (name,)).rowcount

    def rename_name(self, old: str, new: str) -> None:
        """Rename a name, or merge it into ``new`` when that name exists (an answer of ``new`` wins over the
        old name's for the same photo)."""
        new = self.name_spelling(new) or clean_name(new)
        if not self._has_names():
            return
        self.db.execute("INSERT OR IGNORE INTO names (name, path, answer, changed)"
                        " SELECT ?, path, answer, ? FROM names WHERE name = ?", (new, time.time(), old))
        if old.lower() != new.lower():
            self.db.execute("DELETE FROM names WHERE name = ?", (old,))
        else:  # a new spelling of the same name
            self.db.execute("UPDATE names SET name = ? WHERE name = ?", (new, old))

    def name_rows(self) -> list[tuple[str, str, bool]]:
        """(name, photo path, shows it) of every answer, for export."""
        if not self._has_names():
            return []
        return [(n, os.fsdecode(bytes(p)), bool(a)) for n, p, a in
                self.db.execute("SELECT name, path, answer FROM names ORDER BY name COLLATE NOCASE, path")]


class LibraryNames:
    """The facade's methods that change names (``engine.api.Library``, which provides ``store``, ``folders`` and
    ``photo_at``); every change lands in one transaction and then in the backup."""

    def name_photos(self, name: str, photos: list[int | str | os.PathLike[str]], shows: bool = True) -> int:
        """Teach a name: the photos (ids or paths) show it (``shows``) or do not; returns how many were marked.
        A photo not in the library raises NotIndexed. Kept in the catalog and its backup ``names.json``."""
        try:
            name = clean_name(name)
        except ValueError as exc:
            raise SimiliError(str(exc)) from None
        ids = [self._photo_id(p) for p in photos]
        with self.store.catalog.transaction():
            done = self.store.catalog.set_name_answers(name, ids, shows)
        self.store.catalog.save_names_backup()
        return done

    def _photo_id(self, photo: int | str | os.PathLike[str]) -> int:
        if not isinstance(photo, (str, bytes, os.PathLike)):
            if self.store.catalog.photo(int(photo)) is None:
                raise NotIndexed(f"photo {photo} is not in the library")
            return int(photo)
        found = self.photo_at(photo)
        if found is None:
            raise NotIndexed(f"{photo} is not an indexed photo of this library; index its folder first")
        return int(found.id)

    def unname_photos(self, name: str, photos: list[int | str | os.PathLike[str]]) -> int:
        """Take photos out of a name (neither shown nor rejected any more)."""
        with self.store.catalog.transaction():
            done = self.store.catalog.forget_name_answers(self._spelled(name), [self._photo_id(p) for p in photos])
        self.store.catalog.save_names_backup()
        return done

    def _spelled(self, name: str) -> str:
        spelled = self.store.catalog.name_spelling(name)
        if spelled is None:
            raise SimiliError(f"no photo is named {name!r}; `simili names` lists the names")
        return spelled

    def remove_name(self, name: str) -> int:
        """Forget a name (the photos stay); returns how many photos it had."""
        with self.store.catalog.transaction():
            done = self.store.catalog.remove_name(self._spelled(name))
        self.store.catalog.save_names_backup()
        return done

    def rename_name(self, old: str, new: str) -> str:
        """Rename a name, or merge it into ``new`` when that name exists; returns the name's spelling now."""
        try:
            new = clean_name(new)
        except ValueError as exc:
            raise SimiliError(str(exc)) from None
        with self.store.catalog.transaction():
            self.store.catalog.rename_name(self._spelled(old), new)
        self.store.catalog.save_names_backup()
        return self._spelled(new)

    def export_names(self, path: str | os.PathLike[str]) -> int:
        """Write every name's photos to ``path`` (``.csv`` or ``.json``: name, path, shows); returns the rows.
        Refused inside a library photo folder (those stay read-only)."""
        import csv
        import io
        import json

        from engine._atomic import atomic_write_bytes

        target = Path(path).expanduser().absolute()
        for folder in self.folders():
            if target.resolve().is_relative_to(Path(folder).resolve()):
                raise SimiliError(f"{target} is inside the photo folder {folder}; give a path outside it")
        rows = self.store.catalog.name_rows()
        if target.suffix.lower() == ".json":
            data = json.dumps({"names": [{"name": n, "path": p, "shows": s} for n, p, s in rows]}, indent=1)
        elif target.suffix.lower() == ".csv":
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["name", "path", "shows"])
            writer.writerows([(n, p, "yes" if s else "no") for n, p, s in rows])
            data = buf.getvalue()
        else:
            raise SimiliError("give a file name ending in .csv or .json")
        atomic_write_bytes(target, data.encode("utf-8"))
        return len(rows)

