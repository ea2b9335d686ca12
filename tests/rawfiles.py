"""Camera RAW test files: a small DNG of Bayer sensor data written with tifffile (LibRaw reads it as a camera's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dng(path: Path, width: int = 384, height: int = 256, orientation: int = 1,
              scene: np.ndarray | None = None) -> Path:
    """A DNG whose scene is red growing from left to right and blue from top to bottom (RGGB mosaic, 12 bits),
    or ``scene`` (RGB, 0-255, its size taken over), with the EXIF-style ``orientation`` (1 upright, 6 turned a
    quarter clockwise, ...)."""
    import tifffile

    if scene is not None:
        rgb = np.asarray(scene, np.float64)[: scene.shape[0] // 2 * 2, : scene.shape[1] // 2 * 2] / 255.0
        height, width = rgb.shape[:2]
    else:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
        rgb = np.stack([xx / width, np.full_like(xx, 0.35), yy / height], -1)
    cfa = np.zeros((height, width), np.uint16)
    for dy, dx, ch in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):
        cfa[dy::2, dx::2] = np.round(rgb[dy::2, dx::2, ch] * 4000)
    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)
    tags = [(33421, "H", 2, (2, 2)), (33422, "B", 4, (0, 1, 1, 2)), (50706, "B", 4, (1, 4, 0, 0)),
            (50707, "B", 4, (1, 1, 0, 0)), (50708, "s", 0, "Simili Test Camera"), (50717, "I", 1, 4095),
            (50721, "2i", 9, identity), (50728, "2I", 3, (1, 1, 1, 1, 1, 1)), (50778, "H", 1, 21),
            (274, "H", 1, orientation)]
    tifffile.imwrite(path, cfa, photometric=32803, extratags=tags, subfiletype=0)
    return path
