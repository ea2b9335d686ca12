"""Small pixel signatures that confirm near-duplicates: a DCT perceptual hash and a coarse colour grid.

Backbone features say two photos show the same *kind* of thing; a copy (resized, recompressed, lightly
cropped, rotated) must also keep the same layout and colours. Both signatures are computed from the
224x224 pixels the encoder already decoded, so they cost microseconds and no extra decoding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["SIGNATURE_BYTES", "FRAME_BYTES", "THUMB", "signature", "colour_distance", "frame_signature", "frame_hash",
           "frame_thumb"]

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


def colour_distance(a: bytes, b: bytes) -> float:
    """Mean absolute difference of the colour grids, 0-255."""
    ga = np.frombuffer(a[8:], np.uint8).astype(np.int16)
    gb = np.frombuffer(b[8:], np.uint8).astype(np.int16)
    return float(np.abs(ga - gb).mean())


# -- whole-frame thumbnail ----------------------------------------------------------------------------------------
# Flat borders (letterbox bars, scanner edges) trimmed, the rest as a small grey thumbnail: its hash finds
# recoloured and black-and-white copies whose codes drifted apart (``engine.duplicates.lookalikes``), and it is
# part of the stamp that says a stored copy verdict is still about the same pixels (``engine.duplicates.verdicts``).

THUMB = 32
FRAME_BYTES = 4 + THUMB * THUMB  # trimmed borders (top, bottom, left, right in frame pixels) + grey thumbnail
_TRIM_MAX = 0.4

def _uniform_lines(lines: npt.NDArray[np.float32]) -> int:
    """How many leading lines (rows of ``lines``) are one flat colour, like a letterbox bar or a scanner border."""
    edge = lines[0].mean()
    n = 0
    for line in lines[: int(len(lines) * _TRIM_MAX)]:
        if line.std() > 4.0 or abs(line.mean() - edge) > 10.0:
            break
        n += 1
    return n


def frame_signature(frame: npt.NDArray[np.uint8]) -> bytes:
    """Flat borders trimmed, the rest as a ``THUMB`` x ``THUMB`` grey thumbnail (squashed), with the trim."""
    from PIL import Image

    g = frame.astype(np.float32)
    m = g.shape[0]
    top, bottom = _uniform_lines(g), _uniform_lines(g[::-1])
    left, right = _uniform_lines(g.T), _uniform_lines(g.T[::-1])
    if top + bottom > m // 2 or left + right > m // 2:
        top = bottom = left = right = 0
    inner = Image.fromarray(frame[top : m - bottom, left : m - right])
    thumb = np.asarray(inner.resize((THUMB, THUMB), Image.Resampling.BOX), dtype=np.uint8)
    return bytes([top, bottom, left, right]) + thumb.tobytes()


def frame_hash(sig: bytes) -> int:
    """A 64-bit pHash of the trimmed grey thumbnail, as a signed integer: close for black-and-white, recoloured,
    blurred, recompressed, resized and letterboxed copies, whose backbone features can drift apart."""
    band = (_DCT32 @ frame_thumb(sig) @ _DCT32.T)[:8, :8].ravel()
    return int.from_bytes(np.packbits(band > np.median(band[1:])).tobytes(), "little", signed=True)


def frame_thumb(sig: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(sig[4:FRAME_BYTES], np.uint8).reshape(THUMB, THUMB).astype(np.float32)
