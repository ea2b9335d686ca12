"""Which file names are photos: the suffixes the scanner collects and the decoder reads (one list for both)."""

from __future__ import annotations

__all__ = ["IMAGE_EXTENSIONS", "RAW_EXTENSIONS", "is_raw"]

RAW_EXTENSIONS: frozenset[str] = frozenset(
    {".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf", ".rw2", ".pef",
     ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".kdc", ".dcr", ".mrw", ".rwl"}
)
"""Camera RAW files, read through LibRaw (``engine.images.raw``)."""

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".heic", ".heif", ".hif", ".avif", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
) | RAW_EXTENSIONS
"""Lowercase file suffixes the scanner treats as photos (``engine.images.scan``) and the decoder reads (``.hif``: the
HEIF files Canon and Fujifilm cameras write, read like any HEIF)."""


def is_raw(path: str | bytes) -> bool:
    """Whether a path names a camera RAW file (by its suffix, any case)."""
    name = path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else str(path)
    dot = name.rfind(".")
    return dot >= 0 and name[dot:].lower() in RAW_EXTENSIONS
