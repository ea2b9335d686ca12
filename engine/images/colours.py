"""Colour words ("red shoes", "a blue car") read from the colour grid every indexed photo already has.

The catalog keeps, per photo, a 4x4 grid of mean RGB colours of the centre square the encoder saw
(``engine.images.signature``). Each cell is named softly by its distance in CIELAB to a prototype of each of the eleven
basic colour terms (Berlin and Kay's; typical sRGB values picked by hand, checked on the demo photos):
``weight(cell, colour) = softmax_c(-dE(cell, c)^2 / (2 TEMP^2))``. A photo's share of a colour is the weighted mean
over its cells, the centre four counting twice (the subject is usually there), and each cell by how far its
colour is from the photo's background (the median colour of the edge cells): a white sheet or a wooden floor
under a garment does not make it white or brown.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["COLOURS", "GRID_BYTES", "colour_of", "colour_shares"]

# basic colour term -> sRGB prototype
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20), "white": (240, 240, 240), "grey": (128, 128, 128), "red": (190, 30, 40),
    "orange": (235, 125, 30), "yellow": (240, 215, 40), "green": (50, 140, 60), "blue": (35, 65, 165),
    "purple": (125, 50, 150), "pink": (235, 140, 170), "brown": (110, 70, 40),
}
# other everyday words for them
_SYNONYMS = {
    "gray": "grey", "silver": "grey", "navy": "blue", "turquoise": "blue", "violet": "purple", "lilac": "purple",
    "crimson": "red", "scarlet": "red", "maroon": "red", "beige": "brown", "tan": "brown", "golden": "yellow",
    "gold": "yellow", "khaki": "brown", "olive": "green",
}
GRID_BYTES = 48  # the 4x4 RGB grid: the last bytes of engine.images.signature.signature
TEMP = 18.0  # CIELAB units: how softly a cell is named (about the distance between neighbouring prototypes / 2)
BACKGROUND = 15.0  # CIELAB units: a cell this far from the edge colour counts ~40 % as a subject cell
_EDGE = np.array([0, 1, 2, 3, 4, 7, 8, 11, 12, 13, 14, 15])
_CELL_WEIGHT = np.array([1, 1, 1, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1], dtype=np.float32)


def colour_of(word: str) -> str | None:
    """The basic colour a word names ("gray" -> "grey", "navy" -> "blue"), or None."""
    word = word.strip().lower()
    return word if word in COLOURS else _SYNONYMS.get(word)


def _lab(rgb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """sRGB (0-255) to CIELAB (D65)."""
    c = rgb / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]],
                       dtype=np.float32)
    xyz /= np.array([0.9505, 1.0, 1.089], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


_PROTO_LAB = _lab(np.array(list(COLOURS.values()), dtype=np.float32))


def colour_shares(grids: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """``(n, 11)`` shares of each colour of ``COLOURS`` (in order) for ``n`` 4x4 RGB grids (``(n, 48)`` uint8)."""
    cells = _lab(np.asarray(grids, dtype=np.float32).reshape(-1, 16, 3))
    d2 = ((cells[:, :, None, :] - _PROTO_LAB[None, None]) ** 2).sum(axis=-1)
    logits = -d2 / (2 * TEMP**2)
    logits -= logits.max(axis=2, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=2, keepdims=True)
    # the background: the median colour of the 12 edge cells; cells like it count little (a floor, a sheet)
    background = np.median(cells[:, _EDGE], axis=1)
    apart = 1.0 - np.exp(-((cells - background[:, None]) ** 2).sum(axis=-1) / (2 * BACKGROUND**2))
    cell_w = _CELL_WEIGHT[None, :] * (0.05 + apart)
    return (w * cell_w[:, :, None]).sum(axis=1) / cell_w.sum(axis=1, keepdims=True)
