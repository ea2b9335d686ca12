"""engine.library.thumbcache: the on-disk thumbnail cache the GUI reads from (Qt-free)."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from engine.errors import DecodeError
from engine.library.thumbcache import ThumbCache


def test_thumbnail_is_made_once_and_keyed_by_size_and_mtime(tmp_path):
    photo = tmp_path / "a.jpg"
    Image.new("RGB", (800, 600), (200, 30, 30)).save(photo)
    cache = ThumbCache(tmp_path / "cache")
    mtime = os.stat(photo).st_mtime
    first = cache.get(str(photo), 256, mtime)
    assert first.is_file() and Image.open(first).size == (256, 192)
    stamp = first.stat().st_mtime_ns
    assert cache.get(str(photo), 256, mtime) == first and first.stat().st_mtime_ns == stamp  # not made again
    assert cache.cached(str(photo), 256, mtime) == first
    assert cache.get(str(photo), 640, mtime) != first  # another size, another file
    assert cache.path_for(str(photo), 256, mtime + 1) != first  # an edited photo gets a fresh thumbnail
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # written atomically


def test_unreadable_photo_raises_decode_error_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    cache = ThumbCache(tmp_path / "cache")
    with pytest.raises(DecodeError):
        cache.get(str(bad), 256, None)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_prune_removes_stale_temp_files(tmp_path):
    cache = ThumbCache(tmp_path / "cache")
    tmp = tmp_path / "cache" / "256" / "ab" / ".x.tmp"
    tmp.parent.mkdir(parents=True)
    tmp.write_bytes(b"half")
    old = tmp.stat().st_mtime - 7200
    os.utime(tmp, (old, old))
    assert cache.prune() == 1 and not tmp.exists()
