"""Small pixel signatures that confirm near-duplicates: a DCT perceptual hash and a coarse colour grid.

Backbone features say two photos show the same *kind* of thing; a copy (resized, recompressed, lightly
cropped, rotated) must also keep the same layout and colours. Both signatures are computed from the
224x224 pixels the encoder already decoded, so they cost microseconds and no extra decoding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["SIGNATURE_BYTES", "signature", "phash_distance", "colour_distance"]

_GRID = 4
SIGNATURE_BYTES = 8 + _GRID * _GRID * 3  # 64-bit pHash + 4x4 RGB means


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n))
    m[0] /= np.sqrt(2)
    return m


_DCT32 = _dct_matrix(32)


def _block_mean(a: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
    h, w = a.shape[:2]
    return a[: h - h % n, : w - w % n].reshape(n, h // n, n, w // n, *a.shape[2:]).mean(axis=(1, 3))


def signature(pixels: npt.NDArray[np.uint8]) -> bytes:
    """pHash (Zauner 2010: sign of the 8x8 low DCT band of a 32x32 grey image vs its median) + colour grid."""
    rgb = pixels.astype(np.float32)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    small = _block_mean(grey, 32) if grey.shape[0] >= 32 else grey
    band = (_DCT32 @ small @ _DCT32.T)[:8, :8].ravel()
    bits = np.packbits(band > np.median(band[1:]))
    grid = np.clip(_block_mean(rgb, _GRID).round(), 0, 255).astype(np.uint8)
    return bits.tobytes() + grid.tobytes()


def phash_distance(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a[:8], np.uint8) ^ np.frombuffer(b[:8], np.uint8)).sum())


def colour_distance(a: bytes, b: bytes) -> float:
    """Mean absolute difference of the colour grids, 0-255."""
    ga = np.frombuffer(a[8:], np.uint8).astype(np.int16)
    gb = np.frombuffer(b[8:], np.uint8).astype(np.int16)
    return float(np.abs(ga - gb).mean())
