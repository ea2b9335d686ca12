"""The scan stage of the index job: what is new, changed, moved and gone in the library folders.

A photo leaves the library only when its folder could be read and the file is not there. A folder that is absent,
cannot be listed, or holds no photo where it had photos (an unplugged drive whose mount point stays, an unmounted
share) is *offline*: its photos keep their rows, features, codes and verdicts, and nothing is read again when it
returns. The same holds for a subfolder that cannot be listed or is now empty (a drive mounted inside a folder).

A photo is recognised by its content fingerprint, whatever happened to its path: moved within a folder, to another
library folder, out of a folder the user renamed (``mv Photos Pictures``, then index ``Pictures``), or only touched
(its mtime changed, not its bytes): its row moves with it and it is never decoded again.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.errors import DecodeError
from engine.images.scan import FoundFile, walk
from engine.library.catalog import fs_bytes, fs_str
from engine.types import FileError, Progress

if TYPE_CHECKING:
    from engine.library.catalog import Catalog, FileRecord
    from engine.library.store import Store

__all__ = ["scan_folders", "ScanReport", "offline_folders", "RETRIED", "Rate"]

log = logging.getLogger(__name__)

SCAN_BATCH = 2000
RETRIED = ("permission", "io", "broken_link")  # errors that go away without the file changing (chmod, a link fixed)


class Rate:
    """Units/s and ETA over a whole stage."""

    def __init__(self, total: int | None):
        self.total = total
        self.start = time.perf_counter()

    def progress(self, stage: str, done: int, message: str = "") -> Progress:
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        rate = done / elapsed if done else None
        eta = (self.total - done) / rate if rate and self.total is not None else None
        return Progress(stage, done, self.total, rate, eta, message)


@dataclass
class ScanReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    moved: int = 0
    unchanged: int = 0
    offline: list[str] = field(default_factory=list)  # library folders that are offline (their photos are kept)
    unlisted: list[FileError] = field(default_factory=list)  # folders inside them that could not be listed


@dataclass
class _Found:
    folder_id: int
    folder: str
    known: dict[bytes, FileRecord]
    fresh: list[FoundFile]
    broken: list[FoundFile]
    vanished: dict[bytes, FileRecord]


def _dir_error(folder: bytes, exc: OSError) -> FileError:
    reasons = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.ENAMETOOLONG: "its path is too long for this system"}
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return FileError(fs_str(folder), "folder_unreadable", f"folder cannot be read ({reason}); its photos are kept")


def _kept_offline(path: bytes, root: bytes, unlisted: list[bytes], empty: dict[bytes, bool]) -> bool:
    """Whether a photo not found under ``root`` lies where the scan could not look: below a folder that could not
    be listed, or below a folder that exists but is empty (a mount point whose drive is gone)."""
    if any(path.startswith(d.rstrip(b"/") + b"/") for d in unlisted):
        return True
    folder = os.path.dirname(path)
    while len(folder) >= len(root):
        if folder not in empty:
            try:
                with os.scandir(folder) as it:
                    empty[folder] = next(it, None) is None
            except FileNotFoundError:
                folder = os.path.dirname(folder)
                continue
            except OSError:
                empty[folder] = True  # cannot look: keep
        return empty[folder]
    return False


def _walk_folder(store: Store, folder_id: int, folder: str, report: ScanReport) -> Generator[Progress, None,
                                                                                               _Found | None]:
    catalog = store.catalog
    known = catalog.records(folder_id)
    nested = tuple(raw for _, raw in catalog.nested_folders(fs_bytes(folder)))  # they own their photos
    excluded = tuple(fs_bytes(p) for p in store.settings.excluded) + nested
    if not os.path.isdir(folder):
        log.warning("folder %s is not reachable; its photos are kept until it is back", folder)
        report.offline.append(folder)
        return None
    root = fs_bytes(folder)
    unlisted: list[bytes] = []
    errors: list[FileError] = []

    def on_dir_error(path: bytes, exc: OSError) -> None:
        unlisted.append(path)
        errors.append(_dir_error(path, exc))

    seen: set[bytes] = set()
    fresh: list[FoundFile] = []
    broken: list[FoundFile] = []
    rate = Rate(None)
    for n, found in enumerate(walk(folder, excluded, on_dir_error, store.settings.skipped_names), 1):
        seen.add(found.path)
        rec = known.get(found.path)
        if found.error_code:
            broken.append(found)
        elif rec is None or rec.size != found.size or rec.mtime_ns != found.mtime_ns:
            fresh.append(found)
        elif rec.status == "error" and rec.error_code in RETRIED:
            fresh.append(found)  # a permission fixed later (chmod) does not change the mtime
        elif rec.status in ("ok", "error"):
            report.unchanged += 1
        if n % SCAN_BATCH == 0:
            yield rate.progress("scan", n, f"looking for photos in {folder}")
    had_photos = any(r.status == "ok" for r in known.values())
    if root in unlisted or (had_photos and not seen):
        log.warning("folder %s holds none of its %d photos (a drive unplugged or a share unmounted?); they are kept",
                    folder, len(known))
        report.offline.append(folder)
        report.unlisted.extend(e for e in errors if fs_bytes(e.path) != root)
        return None
    report.unlisted.extend(errors)
    empty: dict[bytes, bool] = {}
    vanished = {p: r for p, r in known.items() if p not in seen and not _kept_offline(p, root, unlisted, empty)}
    yield rate.progress("scan", len(seen), f"{len(seen)} photos in {folder}")
    return _Found(folder_id, folder, known, fresh, broken, vanished)


def scan_folders(store: Store) -> Generator[Progress, None, ScanReport]:
    """Scan every library folder, then record what changed (moves are matched across all folders first)."""
    report = ScanReport()
    found: list[_Found] = []
    for folder_id, folder in store.catalog.folders():
        result = yield from _walk_folder(store, folder_id, folder, report)
        if result is not None:
            found.append(result)
    # a photo gone from one place may be the new file in another: its row (and features) follows it
    pool = {r.fingerprint: r for f in found for r in f.vanished.values() if r.fingerprint and r.status == "ok"}
    moved_ids: set[int] = set()
    for f in found:
        yield from _apply(store.catalog, f, pool, moved_ids, report)
    gone = [r.id for f in found for r in f.vanished.values() if r.id not in moved_ids]
    with store.catalog.transaction():
        store.catalog.delete(gone)
    report.removed += len(gone)
    return report


def _ghosts(catalog: Catalog, fingerprints: list[str], moved_ids: set[int]) -> dict[str, FileRecord]:
    """Indexed photos with these fingerprints whose file is no longer where the catalog says (a renamed folder)."""
    out = {}
    for rec in catalog.indexed_with_fingerprints(fingerprints):
        if rec.id not in moved_ids and rec.fingerprint not in out and not os.path.lexists(rec.path):
            out[rec.fingerprint] = rec
    return out


def _apply(catalog: Catalog, f: _Found, pool: dict[str, FileRecord], moved_ids: set[int],
           report: ScanReport) -> Generator[Progress, None, None]:
    """Record new/changed files as pending, moves and touches as moves (batched commits)."""
    from engine.images.decode import file_fingerprint

    for start in range(0, max(len(f.fresh), 1), SCAN_BATCH):
        batch = f.fresh[start : start + SCAN_BATCH]
        prints = {}
        for item in batch:
            try:
                prints[item.path] = file_fingerprint(os.fsdecode(item.path), item.size)
            except (OSError, DecodeError):
                prints[item.path] = None
        lost = [fp for p, fp in prints.items() if fp and p not in f.known and fp not in pool]
        ghosts = _ghosts(catalog, lost, moved_ids) if lost else {}
        pending, moves = [], []
        for item in batch:
            fp, rec = prints[item.path], f.known.get(item.path)
            if rec is not None and fp and rec.fingerprint == fp and rec.status == "ok" and rec.size == item.size:
                moves.append((rec, item))  # touched, not changed: the same bytes need no new reading
                report.unchanged += 1
                continue
            old = None
            if fp and rec is None:
                old = pool.get(fp) or ghosts.get(fp)
                if old is not None and (old.id in moved_ids or old.size != item.size):
                    old = None
            if old is not None:
                moves.append((old, item))
                moved_ids.add(old.id)
                pool.pop(fp, None)
                ghosts.pop(fp, None)
                report.moved += 1
            else:
                pending.append((item.path, item.size, item.mtime_ns, fp))
                if rec is None:
                    report.added += 1
                else:
                    report.updated += 1
        with catalog.transaction():
            catalog.insert_pending(f.folder_id, pending)
            for old, item in moves:
                catalog.move(old.id, f.folder_id, item.path, item.size, item.mtime_ns)
        if batch:
            yield Progress("scan", start + len(batch), len(f.fresh), message="recording new and changed photos")
    if f.broken:
        with catalog.transaction():
            catalog.insert_pending(f.folder_id, [(b.path, 0, 0, None) for b in f.broken])
            ids = catalog.ids_of_paths([b.path for b in f.broken])
            catalog.mark_error([(ids[b.path], b.error_code, b.error) for b in f.broken if b.path in ids])


def offline_folders(catalog: Catalog) -> list[str]:
    """Library folders that are offline now: absent, unreadable, or holding no entry where photos were indexed.

    Cheap (one listing step per folder), for ``status`` and the app; the index run decides with a full scan.
    """
    out = []
    for folder_id, folder in catalog.folders():
        try:
            with os.scandir(folder) as it:
                empty = next(it, None) is None
        except OSError:
            out.append(folder)
            continue
        if empty and catalog.has_photos(folder_id):
            out.append(folder)
    return out
