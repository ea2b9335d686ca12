"""RAW+JPEG pairs: a camera set to write both saves one shot twice, ``IMG_0001.CR2`` and ``IMG_0001.JPG``.

Such a pair is one photo (as digiKam and Lightroom stack it): the RAW is the original, the JPEG (or HEIF) its
*companion*. A file is a RAW's companion when it lies in the same folder under the same name (any case, any case
of suffix) with a camera's own JPEG or HEIF suffix, and it is the same shot: taken within ``MAX_SECONDS`` of it
when both record a capture time, otherwise looking alike (the caller's check). A JPEG of that name that was taken
at another time is another photo (a file renamed or copied in by hand), and a JPEG in another folder is never a
companion (an export, or a copy the duplicate check may find).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime

from engine.images.formats import is_raw

__all__ = ["COMPANION_EXTENSIONS", "MAX_SECONDS", "shot_name", "is_companion_name", "same_name", "same_moment",
           "pair_up"]

COMPANION_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif"})
"""What a camera writes beside its RAW file (a PNG or TIFF of that name is an export, not the camera's)."""

MAX_SECONDS = 2.0  # a RAW and its JPEG carry the same capture time; a couple of seconds allow for rounding


def _split(path: bytes) -> tuple[bytes, bytes, str]:
    folder, name = os.path.split(path)
    stem, suffix = os.path.splitext(name)
    return folder, stem.lower(), suffix.decode("utf-8", "replace").lower()


def shot_name(path: bytes) -> tuple[bytes, bytes]:
    """(folder, name without suffix in lower case): what a RAW file and its companions share."""
    folder, stem, _ = _split(path)
    return folder, stem


def is_companion_name(path: bytes) -> bool:
    """Whether the file is a JPEG or HEIF a camera could write beside a RAW file."""
    return _split(path)[2] in COMPANION_EXTENSIONS


def same_name(a: str | bytes, b: str | bytes) -> bool:
    """Whether one path is a RAW file and the other a JPEG or HEIF of the same name in the same folder."""
    a, b = (os.fsencode(p) for p in (a, b))
    if is_raw(b):
        a, b = b, a
    return is_raw(a) and is_companion_name(b) and shot_name(a) == shot_name(b)


def _wall_clock(when: str) -> datetime | None:
    try:
        return datetime.fromisoformat(when).replace(tzinfo=None)  # one camera's clock: compare as written
    except ValueError:
        return None


def same_moment(a: str | None, b: str | None) -> bool | None:
    """Whether two capture times (ISO, as ``engine.images.exif`` gives them) are within ``MAX_SECONDS``; None when
    either is unknown."""
    ta, tb = (_wall_clock(t) if t else None for t in (a, b))
    if ta is None or tb is None:
        return None
    return abs((ta - tb).total_seconds()) <= MAX_SECONDS


def pair_up(photos: Iterable[tuple[int, bytes, str | None]],
            look_alike: Callable[[int, int], bool]) -> dict[int, int]:
    """{companion id: RAW id} among ``photos`` (id, path, capture time): each JPEG or HEIF goes with the first RAW
    file of its name and folder (by path) that is the same shot; ``look_alike(raw, other)`` decides when a capture
    time is missing."""
    by_name: dict[tuple[bytes, bytes], tuple[list, list]] = {}
    for pid, path, when in photos:
        if is_raw(path):
            by_name.setdefault(shot_name(path), ([], []))[0].append((path, pid, when))
        elif is_companion_name(path):
            by_name.setdefault(shot_name(path), ([], []))[1].append((path, pid, when))
    out: dict[int, int] = {}
    for raws, others in by_name.values():
        for _, pid, when in others:
            for _, raw_id, raw_when in sorted(raws):
                same = same_moment(raw_when, when)
                if same or (same is None and look_alike(raw_id, pid)):
                    out[pid] = raw_id
                    break
    return out
