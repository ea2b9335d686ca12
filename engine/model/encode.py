"""Decode + backbone encoding with decoding overlapped with inference.

Decoding (Pillow, mostly GIL-free) runs in a small thread pool one batch ahead of ONNX Runtime, so on a
2-core machine the slower of the two sets the pace rather than their sum.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.errors import DecodeError

if TYPE_CHECKING:
    from engine.model.backbone import Backbone
    from engine.images.decode import Decoded

__all__ = ["EncodedBatch", "encode_files", "decode_safely"]


@dataclass
class EncodedBatch:
    """One batch: ``items[i]`` is a Decoded or a DecodeError for ``paths[i]``; ``features`` has one row per
    successfully decoded item, in order (``ok`` lists their positions)."""

    paths: list[bytes]
    items: list[Decoded | DecodeError]
    ok: list[int]
    features: npt.NDArray[np.float32]


def decode_safely(path: bytes | str, size: int) -> Decoded | DecodeError:
    """decode() that returns the error instead of raising; anything unexpected becomes a DecodeError too."""
    from engine.images.decode import decode

    try:
        return decode(os.fsdecode(path), size=size)
    except DecodeError as exc:
        return exc
    except MemoryError:
        return DecodeError("too_large", "not enough memory to decode this image")
    except Exception as exc:  # a bug in a codec must not stop a 100k-photo run; it is recorded per file
        return DecodeError("corrupt", f"cannot decode: {type(exc).__name__}: {exc}")


def encode_files(
    paths: Sequence[bytes],
    backbone: Backbone,
    batch_size: int = 32,
    threads: int | None = None,
) -> Iterator[EncodedBatch]:
    """Yield EncodedBatch for consecutive slices of ``paths``; decoding of slice i+1 overlaps inference of i."""
    threads = threads or min(4, os.cpu_count() or 2)
    size = backbone.input_size
    chunks = [list(paths[i : i + batch_size]) for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="simili-decode") as pool:

        def submit(chunk: list[bytes]) -> list[Future]:
            return [pool.submit(decode_safely, p, size) for p in chunk]

        pending = submit(chunks[0]) if chunks else []
        for i, chunk in enumerate(chunks):
            current = pending
            pending = submit(chunks[i + 1]) if i + 1 < len(chunks) else []
            items = [f.result() for f in current]
            ok = [j for j, item in enumerate(items) if not isinstance(item, DecodeError)]
            if ok:
                pixels = np.stack([items[j].pixels for j in ok])
                features = backbone.embed(pixels)
            else:
                features = np.zeros((0, backbone.dim), dtype=np.float32)
            yield EncodedBatch(chunk, items, ok, features)
