"""On-disk thumbnail cache (Qt-free): one small JPEG per photo, size and modification time.

Keys hash the photo's path, the requested size and its mtime, so an edited photo gets a fresh thumbnail and a stale
one is simply never asked for again. Files are written to a temp name and renamed, so a reader never sees half a
file; a crash can at worst leave a ``.tmp`` file behind, which :meth:`ThumbCache.prune` removes. Safe to use from
several threads at once (two threads making the same thumbnail both write, the last rename wins).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from engine.images.decode import thumbnail

__all__ = ["ThumbCache", "QUALITY"]

QUALITY = 85


class ThumbCache:
    """Thumbnails under ``root/<size>/<2 hex>/<hash>.jpg``.

    Args:
        root: the cache folder (e.g. ``engine.library.paths.cache_dir(home) / "thumbs"``); created when missing.
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def path_for(self, photo_path: str, size: int, mtime: float | None) -> Path:
        """Where the thumbnail of ``photo_path`` at ``size`` (long side) lives, whether or not it exists yet."""
        stamp = f"{mtime:.6f}" if mtime is not None else "-"
        key = hashlib.blake2b(f"{photo_path}\0{size}\0{stamp}".encode("utf-8", "surrogateescape"),
                              digest_size=16).hexdigest()
        return self.root / str(int(size)) / key[:2] / f"{key}.jpg"

    def cached(self, photo_path: str, size: int, mtime: float | None) -> Path | None:
        """The cached file, or None when it has not been made yet."""
        path = self.path_for(photo_path, size, mtime)
        return path if path.is_file() else None

    def get(self, photo_path: str, size: int, mtime: float | None = None) -> Path:
        """The thumbnail file of a photo, made (and cached) first when needed.

        Raises:
            DecodeError: the photo cannot be read (the reason is in ``code``/``message``).
            OSError: the cache cannot be written (e.g. the disk is full).
        """
        target = self.path_for(photo_path, size, mtime)
        if target.is_file() and _whole_jpeg(target):
            return target  # a cut or overwritten one (not a whole JPEG) is made again
        image = thumbnail(photo_path, size)

        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                image.save(f, "JPEG", quality=QUALITY, optimize=False)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return target

    def prune(self, max_age_days: float = 90.0) -> int:
        """Delete temp files and thumbnails not read or written for ``max_age_days``; returns files removed."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - max_age_days * 86400
        removed = 0
        for dirpath, _, files in os.walk(self.root):
            for name in files:
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                    stale_tmp = name.endswith(".tmp") and st.st_mtime < time.time() - 3600
                    if stale_tmp or max(st.st_atime, st.st_mtime) < cutoff:
                        os.unlink(p)
                        removed += 1
                except OSError:
                    continue
        return removed


def _whole_jpeg(path: Path) -> bool:
    """A cached thumbnail starts and ends like a JPEG (a cut or overwritten file does not); 4 bytes read."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(-2, os.SEEK_END)
            return head == b"\xff\xd8" and f.read(2) == b"\xff\xd9"
    except OSError:
        return False
