"""What a TIFF file's first image holds, read from its header alone (no decoder), to tell "unsupported" from "damaged".

Pillow reads 8/16-bit integer TIFFs and single-channel 32-bit float ones; a valid TIFF of another sample layout
(RGB floats, 64-bit or 16-bit floats, ...) is *unsupported*, not damaged.
"""

from __future__ import annotations

import struct
from typing import IO

__all__ = ["tiff_samples"]

_BITS, _SAMPLES, _FORMAT = 258, 277, 339
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}
_FORMAT_NAMES = {1: "integer", 2: "signed integer", 3: "floating-point", 4: "undefined", 5: "complex integer",
                 6: "complex floating-point"}


def tiff_samples(fp: IO[bytes]) -> str | None:
    """A description like ``3 channels of 32-bit floating-point samples`` when the first IFD can be read, else None."""
    try:
        fp.seek(0)
        head = fp.read(8)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or struct.unpack(order + "H", head[2:4])[0] != 42:
            return None
        fp.seek(struct.unpack(order + "I", head[4:8])[0])
        (count,) = struct.unpack(order + "H", fp.read(2))
        if not 0 < count < 4096:
            return None
        raw = fp.read(12 * count)
        tags: dict[int, int] = {}
        for i in range(count):
            tag, typ, n, value = struct.unpack(order + "HHI4s", raw[12 * i : 12 * i + 12])
            if tag in (_BITS, _SAMPLES, _FORMAT) and typ in (3, 4):
                size = _SIZES[typ]
                data = value if n * size <= 4 else _read_at(fp, struct.unpack(order + "I", value)[0], size)
                tags[tag] = struct.unpack(order + ("H" if typ == 3 else "I"), data[:size])[0]
    except (OSError, struct.error, ValueError, KeyError):
        return None
    channels, bits = tags.get(_SAMPLES, 1), tags.get(_BITS, 1)
    kind = _FORMAT_NAMES.get(tags.get(_FORMAT, 1), "unknown")
    return f"{channels} channel{'s' if channels != 1 else ''} of {bits}-bit {kind} samples"


def _read_at(fp: IO[bytes], offset: int, size: int) -> bytes:
    fp.seek(offset)
    return fp.read(size)
