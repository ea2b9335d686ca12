"""Local detail that two different photos cannot fake: ORB keypoints matched under one geometric transform.

A copy of a photo (resized, recompressed, cropped, rotated with or without black corners, recoloured, greyscale,
mirrored, captioned, letterboxed) keeps the photo's local detail -- prints, text, seams, folds, texture -- where
one similarity transform (rotation, scale, shift, perhaps a mirror) puts it. Two different garments on the same
cloth share the layout and the colours, but not that: their keypoints match here and there, never under one
transform. So a pair is a *copy* when many ORB matches (Rublee et al. 2011) agree on one similarity transform
within a few pixels (RANSAC, OpenCV's ``estimateAffinePartial2D``), the fine texture of the overlap agrees once
one photo is warped onto the other (another capture of the same scene, a burst shot a second later, moves by
parallax and loses it), and one photo covers most of the other. A pair is a *similar shot* when many matches
agree under one perspective transform (``findHomography``: the same scene from a slightly different place) but
the texture or the similarity does not; otherwise it is nothing. Everything runs on grey views of ``VIEW``
pixels on the long side, so colour changes and black-and-white never count for or against.

Each view also tells whether its photo looks derived -- black corners of a rotation, a flat band or border, a
caption strip -- and how sharp it is, for the keep rule (``engine.duplicates.groups.keep_order``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["View", "Match", "view_of", "match", "MATCH_VERSION", "COPY", "SIMILAR", "VIEW", "NONE"]

VIEW = 320  # long side of the grey view the keypoints are found on
MATCH_VERSION = 1  # raise it when match's verdicts change: stored verdicts are then measured again
_FEATURES = 600
_RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
_REPROJ = 3.0  # RANSAC inlier distance in view pixels
# (inliers under one similarity transform, texture correlation once warped, share of the smaller photo's area
# the other covers) of a copy; set on contributors with even ids of garments-lookalike and on grocery bursts
# (bench/DUPES.md, "Copy decision")
COPY = (30, 0.80, 0.45)
SIMILAR = 40  # inliers under one perspective transform of another shot of the same scene


class Match(NamedTuple):
    """What ``match`` found for (a, b): the verdict ("copy", "similar" or "none") and its evidence.

    ``inliers``: matches agreeing on one similarity transform (or, for "similar", one perspective transform);
    ``texture``: fine-texture correlation of the overlap once b is warped onto a; ``scale``: b's content size
    relative to a's (2 = b shows it twice as big); ``angle`` in degrees; ``mirrored``; ``cover_a``/``cover_b``:
    the share of each photo that the other one covers.
    """

    verdict: str
    inliers: int
    texture: float
    scale: float
    angle: float
    mirrored: bool
    cover_a: float
    cover_b: float


NONE = Match("none", 0, 0.0, 1.0, 0.0, False, 0.0, 0.0)


@dataclass
class View:
    """A photo's grey view with its keypoints (also of its mirror image), and what looks added to it."""

    grey: npt.NDArray[np.uint8]
    points: tuple
    mirror_points: tuple
    black_corners: bool
    band: float  # share of the height or width taken by a flat or captioned band along one edge
    sharpness: float  # variance of the view's Laplacian: higher is sharper


def _points(grey: npt.NDArray[np.uint8]) -> tuple:
    import cv2

    kp, desc = cv2.ORB_create(nfeatures=_FEATURES, fastThreshold=10).detectAndCompute(grey, None)
    if desc is None:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.float32([k.pt for k in kp]), desc


def view_of(rgb: npt.NDArray[np.uint8]) -> View:
    """The view of an upright RGB (or grey) image of any size."""
    import cv2
    from PIL import Image

    im = Image.fromarray(rgb).convert("L")
    scale = VIEW / max(im.size)
    im = im.resize((max(8, round(im.width * scale)), max(8, round(im.height * scale))),
                   Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    grey = np.asarray(im, dtype=np.uint8)
    return View(grey, _points(grey), _points(np.ascontiguousarray(grey[:, ::-1])), _black_corners(grey),
                _band(grey), float(cv2.Laplacian(grey, cv2.CV_32F).var()))


def _black_corners(grey: npt.NDArray[np.uint8]) -> bool:
    """Whether at least two corners are flat black triangles, as a rotation without a crop leaves."""
    h, w = grey.shape
    k = max(3, min(h, w) // 25)
    n = 0
    for ys, xs in ((slice(0, k), slice(0, k)), (slice(0, k), slice(w - k, w)), (slice(h - k, h), slice(0, k)),
                   (slice(h - k, h), slice(w - k, w))):
        c = grey[ys, xs].astype(np.float32)
        n += int(c.max() < 20 and c.std() < 4)
    return n >= 2


def _band(grey: npt.NDArray[np.uint8]) -> float:
    """The widest edge band (as a share of the side) whose lines are mostly one flat colour (borders, letterbox
    bars, a caption strip with a line of text on it)."""
    best = 0.0
    for lines in (grey, grey[::-1], grey.T, grey.T[::-1]):
        edge = float(np.median(lines[0]))
        near = (np.abs(lines.astype(np.int16) - edge) <= 12).mean(axis=1)
        n = 0
        for share in near[: int(len(lines) * 0.4)]:
            if share < 0.8:
                break
            n += 1
        best = max(best, n / len(lines))
    return best


def _matches(pa: tuple, pb: tuple) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    import cv2

    (xa, da), (xb, db) = pa, pb
    if len(da) < 2 or len(db) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < _RATIO * m[1].distance]
    return xa[[m.queryIdx for m in good]], xb[[m.trainIdx for m in good]]


def match(a: View, b: View) -> Match:
    """The verdict on (a, b), trying b as it is and mirrored."""
    import cv2

    best = NONE
    for mirrored in (False, True):
        src, dst = _matches(a.points, b.mirror_points if mirrored else b.points)
        if len(src) < min(COPY[0], SIMILAR):
            continue
        m, keep = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=_REPROJ,
                                              maxIters=2000, confidence=0.995)
        inliers = int(keep.sum()) if keep is not None else 0
        found = NONE
        if m is not None and inliers >= COPY[0]:
            found = _judged(a, b, m, inliers, mirrored)
            if found.verdict != "copy":  # a loose fit (half a degree off) blurs the texture: fit the inliers tightly
                k = keep.ravel() > 0
                tight, _ = cv2.estimateAffinePartial2D(src[k], dst[k], method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                                       maxIters=2000, confidence=0.995)
                if tight is not None:
                    again = _judged(a, b, tight, inliers, mirrored)
                    found = again if again.texture > found.texture else found
        if found.verdict != "copy":
            h, hk = cv2.findHomography(src, dst, cv2.RANSAC, _REPROJ * 2)
            if h is not None and hk is not None and int(hk.sum()) >= SIMILAR:
                found = found._replace(verdict="similar", inliers=max(found.inliers, int(hk.sum())))
        if _rank(found) > _rank(best):
            best = found
    return best


def _rank(m: Match) -> tuple[int, int]:
    return ({"copy": 2, "similar": 1}.get(m.verdict, 0), m.inliers)


def _flat_dark(g: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Flat black pixels: the corners a rotation leaves, letterbox bars; no evidence either way."""
    import cv2

    local = cv2.blur(g * g, (7, 7)) - cv2.blur(g, (7, 7)) ** 2
    return (local < 4.0) & (g < 25)


def _judged(a: View, b: View, m: npt.NDArray[np.float64], inliers: int, mirrored: bool) -> Match:
    """Warp b onto a with the similarity ``m`` (a -> b, b perhaps mirrored) and compare their fine texture."""
    import cv2

    grey_b = np.ascontiguousarray(b.grey[:, ::-1]) if mirrored else b.grey
    (ha, wa), (hb, wb) = a.grey.shape, grey_b.shape
    inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    fb = grey_b.astype(np.float32)
    fa = a.grey.astype(np.float32)
    warped = cv2.warpAffine(fb, m, (wa, ha), flags=inverse)
    inside = cv2.warpAffine(np.ones((hb, wb), np.uint8), m, (wa, ha), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    cover_a = float(inside.mean())
    covered_b = cv2.warpAffine(np.ones((ha, wa), np.uint8), m, (wb, hb), flags=cv2.INTER_NEAREST)
    cover_b = float(covered_b.mean())
    mask = cv2.erode(inside, np.ones((9, 9), np.uint8)) > 0
    dark_b = cv2.warpAffine(_flat_dark(fb).astype(np.uint8), m, (wa, ha), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    mask &= (dark_b == 0) & ~_flat_dark(fa)
    texture = 0.0
    if mask.sum() > 400:
        # at one blur (sigma 1 view pixel) both sides, so that resampling a half-size copy costs it nothing
        da, db = (_detail(cv2.GaussianBlur(x, (0, 0), 1.0))[mask] for x in (fa, warped))
        da, db = da - da.mean(), db - db.mean()
        texture = float((da @ db) / (np.linalg.norm(da) * np.linalg.norm(db) + 1e-6))
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    angle = float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
    copy = texture >= COPY[1] and min(cover_a, cover_b) >= COPY[2] and max(cover_a, cover_b) >= 0.85
    return Match("copy" if copy else "none", inliers, round(texture, 3), round(scale, 3), round(angle, 2), mirrored,
                 round(cover_a, 3), round(cover_b, 3))


def _detail(img: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import cv2

    return img - cv2.blur(img, (5, 5))
