"""Walking photo folders: finds image files, never follows a directory loop, never writes anything.

Paths are handled as bytes so that names which are not valid UTF-8 are kept exactly.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine.images.formats import IMAGE_EXTENSIONS

__all__ = ["FoundFile", "walk", "has_image_suffix", "name_filter", "MAX_MTIME_NS"]

MAX_MTIME_NS = 2**63 - 1  # SQLite's largest integer: a file dated after 2262 is stored at this date

log = logging.getLogger(__name__)

_SUFFIXES = tuple(sorted(e.encode() for e in IMAGE_EXTENSIONS))  # index reads what ``similar --image`` reads


def has_image_suffix(name: bytes) -> bool:
    return name.lower().endswith(_SUFFIXES)


def name_filter(patterns: tuple[str, ...] | list[str]) -> Callable[[bytes], bool]:
    """Whether a folder or file name matches one of the shell-style ``patterns`` (any case)."""
    if not patterns:
        return lambda name: False
    rx = re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns), re.DOTALL)
    return lambda name: rx.match(os.fsdecode(name).lower()) is not None


@dataclass(frozen=True)
class FoundFile:
    """An image-named file under a root: its stat, or why it cannot be read (``error_code``/``error``)."""

    path: bytes
    size: int = 0
    mtime_ns: int = 0
    error_code: str | None = None
    error: str | None = None


def _link_error(path: bytes, exc: OSError) -> FoundFile:
    if exc.errno == errno.ELOOP:
        return FoundFile(path, error_code="broken_link", error="symbolic link loop (the link points back at itself)")
    if exc.errno == errno.ENOENT:
        return FoundFile(path, error_code="broken_link", error="broken symbolic link (its target does not exist)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FoundFile(path, error_code="permission", error="permission denied")
    return FoundFile(path, error_code="io", error=f"cannot read file information: {exc.strerror or exc}")


def walk(
    root: bytes | str,
    excluded: tuple[bytes, ...] = (),
    on_dir_error: Callable[[bytes, OSError], None] | None = None,
    skipped_names: tuple[str, ...] | list[str] = (),
) -> Iterator[FoundFile]:
    """Yield every image-named file below ``root`` (recursively, sorted per folder).

    Directory symlinks are followed once: a directory already visited (same device and inode) is skipped,
    so link loops end. Hidden folders (``.name``) are skipped, as are folders in ``excluded`` and folders and files
    whose name matches ``skipped_names`` (NAS and system litter). A folder that cannot be listed is reported to
    ``on_dir_error`` (its photos are then neither found nor gone).
    """
    skipped = name_filter(tuple(skipped_names))
    root_b = os.fsencode(root)
    stack = [root_b]
    seen: set[tuple[int, int]] = set()
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if on_dir_error is None:
                log.warning("cannot list %s: %s", os.fsdecode(folder), exc)
            else:  # the caller tells the user, in its own words
                log.info("cannot list %s: %s", os.fsdecode(folder), exc)
                on_dir_error(folder, exc)
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if not name.startswith(b".") and entry.path not in excluded and not skipped(name):
                    subdirs.append(entry.path)
                continue
            if not has_image_suffix(name) or name.startswith(b"._") or skipped(name):
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                yield _link_error(entry.path, exc)
                continue
            if not _is_regular(st.st_mode):
                continue
            yield FoundFile(entry.path, st.st_size, max(0, min(st.st_mtime_ns, MAX_MTIME_NS)))
        stack.extend(reversed(subdirs))


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)
