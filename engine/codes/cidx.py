"""The ``.cidx`` file format of a search index: a checked header and checksummed sections, written atomically.

Layout: an 8-byte magic (its CR LF catches text-mode mangling, as PNG's signature does), the format version and the
header length; the JSON header and its CRC-32; then the sections back to back. The header lists each section's
name, offset, size and CRC-32, so a truncated or altered file is recognised before any of it is used. What the
sections hold is ``engine.codes.codeindex``'s business; this module only frames them.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine._atomic import atomic_writer
from engine.errors import CatalogError

__all__ = ["FORMAT_VERSION", "Damaged", "damaged_error", "write", "read"]

FORMAT_VERSION = 1
_MAGIC = b"SIMIDX\r\n"
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length
_CRC = struct.Struct("<I")


class Damaged(Exception):
    """Why an index file is unusable (turned into a CatalogError that names the file)."""


def damaged_error(path: Path, why: Damaged) -> CatalogError:
    return CatalogError(f"the search index {path} is damaged ({why}); rebuild it from the catalog")


def _byte_view(arr: npt.NDArray[Any] | bytes) -> memoryview:
    if isinstance(arr, (bytes, bytearray, memoryview)):
        return memoryview(arr).cast("B")
    return memoryview(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))


def write(path: Path, header: dict[str, Any], sections: list[tuple[str, Any]]) -> None:
    """Replace ``path`` atomically with ``header`` and the named arrays (the old file survives any failure)."""
    header = {**header, "sections": []}
    views = [_byte_view(arr) for _, arr in sections]
    offset = 0
    for (name, _), view in zip(sections, views):
        header["sections"].append({"name": name, "offset": offset, "size": view.nbytes, "crc32": zlib.crc32(view)})
        offset += view.nbytes
    head = json.dumps(header, sort_keys=True).encode()
    chunks = [_PREFIX.pack(_MAGIC, FORMAT_VERSION, len(head)), head, _CRC.pack(zlib.crc32(head)), *views]
    try:
        with atomic_writer(path) as f:
            for chunk in chunks:
                f.write(chunk)
    except OSError as exc:
        raise CatalogError(f"cannot write the search index {path}: {exc.strerror or exc}") from exc


def read(path: Path) -> tuple[dict[str, Any], dict[str, memoryview]]:
    """(header, sections by name) of a file written by :func:`write`; CatalogError if missing, damaged or cut."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read the search index {path}: {exc.strerror or exc}") from exc
    try:
        return _parse(data)
    except Damaged as exc:
        raise damaged_error(path, exc) from None


def _parse(data: bytes) -> tuple[dict[str, Any], dict[str, memoryview]]:
    if len(data) < _PREFIX.size:
        raise Damaged("file too short")
    magic, version, head_len = _PREFIX.unpack_from(data)
    if magic != _MAGIC:
        raise Damaged("not a Simili search index")
    if version != FORMAT_VERSION:
        raise Damaged(f"format version {version}, this Simili reads version {FORMAT_VERSION}")
    start = _PREFIX.size + head_len + _CRC.size
    if len(data) < start:
        raise Damaged("truncated header")
    head = data[_PREFIX.size : _PREFIX.size + head_len]
    if _CRC.unpack_from(data, _PREFIX.size + head_len)[0] != zlib.crc32(head):
        raise Damaged("header checksum mismatch")
    header = json.loads(head)
    payload = memoryview(data)[start:]
    blobs: dict[str, memoryview] = {}
    for sec in header["sections"]:
        blob = payload[sec["offset"] : sec["offset"] + sec["size"]]
        if len(blob) != sec["size"]:
            raise Damaged(f"truncated ({len(data)} bytes)")
        if zlib.crc32(blob) != sec["crc32"]:
            raise Damaged(f"checksum mismatch in {sec['name']}")
        blobs[sec["name"]] = blob
    if len(payload) != sum(s["size"] for s in header["sections"]):
        raise Damaged("unexpected bytes after the data")
    return header, blobs
