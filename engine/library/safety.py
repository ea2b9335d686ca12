"""The library folder is the only place Simili writes, and what it holds never sends a write or a delete elsewhere.

A catalog row names files by paths relative to the library folder; a row can be altered or planted, and so can the
folder itself (a link where a file or a subfolder should be). Every path read from the catalog goes through
:func:`contained` before it is opened for writing or unlinked, and :func:`remove_planted_links` takes away links
that stand where the library keeps its own files before anything is opened: the link itself is removed (never its
target), and what it stood for is then missing and rebuilt like any lost file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from engine.errors import SimiliError

__all__ = ["contained", "UnsafePath", "remove_planted_links", "LIBRARY_FILES", "LIBRARY_DIRS"]

log = logging.getLogger(__name__)

LIBRARY_FILES = ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal",
                 "features.f16", "settings.json", "folders.json", "concepts.bin", "names.json", "writer.lock")
LIBRARY_DIRS = ("index", "models", "train", "cache", "salvaged")


class UnsafePath(SimiliError):
    """A path from the catalog or the library folder that leads outside the library folder."""


def contained(home: Path, path: str | os.PathLike[str]) -> Path:
    """``path`` (relative to the library folder ``home``, or absolute) when it lies inside ``home`` and no part of it
    below ``home`` is a symbolic link; raises :class:`UnsafePath` otherwise (``../x``, ``/etc/x``, a linked folder)."""
    home = Path(os.path.abspath(home))
    full = Path(os.path.abspath(home / path))
    try:
        rel = full.relative_to(home)
    except ValueError:
        raise UnsafePath(f"{path} lies outside the library folder {home}; it is left alone") from None
    if not rel.parts:
        raise UnsafePath(f"{path} is the library folder itself; it is left alone")
    here = home
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            raise UnsafePath(f"{here} is a link out of the library folder; Simili never writes through it")
    return full


def remove_planted_links(home: Path) -> list[str]:
    """Remove links standing where the library keeps its own files and folders (one level inside its folders).

    Returns what was removed, in words. Only the links go; what they point at is never touched.
    """
    home = Path(home)
    removed = []
    candidates = [home / n for n in LIBRARY_FILES + LIBRARY_DIRS]
    for d in LIBRARY_DIRS:
        sub = home / d
        if sub.is_dir() and not sub.is_symlink() and d != "cache":
            try:
                candidates.extend(sub.iterdir())
            except OSError:
                pass
    for p in candidates:
        if p.is_symlink():
            try:
                target = os.readlink(p)
                p.unlink()
            except OSError as exc:
                raise SimiliError(f"{p} is a link out of the library folder and cannot be removed "
                                  f"({exc.strerror or exc}); remove it, then run simili repair") from None
            log.warning("%s was a link to %s: removed (Simili never writes through a link)", p, target)
            removed.append(f"{p.name} was a link to {target}; the link was removed, nothing it points at was touched")
    return removed
