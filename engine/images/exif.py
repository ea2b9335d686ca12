"""What a photo's EXIF says about itself: its orientation and when it was taken (DateTimeOriginal, with its offset).

Read defensively: a damaged or hostile EXIF block gives the defaults (upright, no date), never an error.
"""

from __future__ import annotations

import re
from datetime import datetime

from PIL import Image

__all__ = ["metadata", "taken_at", "iso_datetime"]

_EXIF_IFD = 0x8769
_ORIENTATION = 0x0112
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_SUBSEC_TIME_ORIGINAL = 0x9291


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION, 1)
        value = int(value)
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def metadata(im: Image.Image) -> tuple[int, str | None, bool]:
    """(orientation, taken_at, pre_rotated); pre_rotated when the decoder already applies the orientation."""
    if im.format == "HEIF":  # libheif applies irot/imir itself; pillow-heif keeps the original tag in info
        try:
            orientation = int(im.info.get("original_orientation") or 1)
        except (TypeError, ValueError):
            orientation = 1
        return (orientation if 1 <= orientation <= 8 else 1), taken_at(im), True
    return _orientation(im), taken_at(im), False


def taken_at(im: Image.Image) -> str | None:
    try:
        exif = im.getexif()
        ifd = exif.get_ifd(_EXIF_IFD)
        raw = ifd.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME_ORIGINAL)
        offset = ifd.get(_OFFSET_TIME_ORIGINAL)
        subsec = ifd.get(_SUBSEC_TIME_ORIGINAL)
    except Exception:
        return None
    return iso_datetime(raw, offset, subsec)


def iso_datetime(raw: object, offset: object = None, subsec: object = None) -> str | None:
    """'2023:07:14 18:02:11' (+ SubSecTime '25', + '+02:00') -> '2023-07-14T18:02:11.25+02:00'; None for blank or
    impossible dates. The fraction of a second tells two shots of one burst apart (``engine.duplicates``)."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str):
        return None
    raw = raw.strip().strip("\x00").strip()
    try:
        when = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        try:
            when = datetime.strptime(raw[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    text = when.isoformat()
    if isinstance(subsec, bytes):
        subsec = subsec.decode("ascii", "replace")
    if isinstance(subsec, str) and re.fullmatch(r"\d{1,9}", subsec.strip().strip("\x00").strip()):
        text += "." + subsec.strip().strip("\x00").strip()
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d\d:\d\d", offset.strip().strip("\x00")):
        text += offset.strip().strip("\x00")
    return text
