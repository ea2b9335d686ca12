"""The aligner Simili used to decide copies before ORB (kept here only so benches can compare the two).

Until the copy decision moved to local features (``engine.duplicates.matching``: ORB keypoints under one
similarity transform, then the warped overlap's texture), a pair was decided on the 32x32 grey thumbnails of the
two whole frames that the index run stores (``engine.images.signature.frame_signature``): which photo lies inside
the other, mirrored or not, angle (-8 to 8 degrees), size (70-100 %) and position were searched on a coarse grid,
then refined by pattern search, and two correlations measured at the best placement: *layout* (the thumbnails)
and *detail* (the thumbnails minus their 3x3 mean). Its bars were: copy at layout >= .90, detail >= .70 and an
inner photo of at least 70 % of each side; similar at layout >= .85 and detail >= .66. ``bench.dupes_lookalike``
runs it beside ORB on the same pairs (bench/DUPES.md, "ORB against the aligner, pair by pair"). Nothing in the
app calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine.images.signature import FRAME_BYTES, THUMB, frame_thumb

__all__ = ["Alignment", "align", "frame_trim", "untouched", "verdict"]

_COARSE = 12
_COARSE_MIN = 0.8  # best coarse layout correlation worth refining
_ANGLES = np.deg2rad([-8.0, -4.0, 0.0, 4.0, 8.0])
_SIZES = (1.0, 0.9, 0.8, 0.7)
_STEP = 1.0 / 12  # placement grid, as a fraction of the outer photo's height
_FIT = 0.04  # how far the inner photo may stick out of the outer one (resampling, rounding)
_FLAT = 3.0  # grey-level spread under which a thumbnail has no layout to compare



def frame_trim(sig: bytes, frame: int = 96) -> tuple[float, float, float, float]:
    """The trimmed borders (top, bottom, left, right) as fractions of the photo's height and width."""
    return tuple(b / frame for b in sig[:4])  # type: ignore[return-value]


class Alignment(NamedTuple):
    """Where one photo lies in the other. ``inner`` is 0 when the first photo lies inside the second.

    ``layout`` and ``detail`` are the correlations of the placed thumbnails and of their fine texture (1 = same);
    ``width``/``height`` are the inner photo's size as fractions of the outer one's; ``angle`` in degrees.
    """

    layout: float
    detail: float
    inner: int
    mirrored: bool
    angle: float
    width: float
    height: float


def _sample(img: npt.NDArray[np.float32], x: npt.NDArray, y: npt.NDArray,
            offset: npt.NDArray | None = None) -> npt.NDArray[np.float32]:
    """Bilinear samples of the square ``img`` at pixel coordinates (x, y), clamped to the image. With a stack of
    images, ``offset`` (broadcast against x) says where in the stack each sample's image starts (k * m * m)."""
    m = img.shape[-1]
    fx = np.clip(x, 0, m - 1.001, dtype=np.float32)
    fy = np.clip(y, 0, m - 1.001, dtype=np.float32)
    x0, i = fx.astype(np.int32), fy.astype(np.int32)
    fx -= x0  # in float32 and in place: these few lines are most of the alignment's time
    fy -= i
    i *= m
    i += x0
    if offset is not None:
        i += offset.astype(np.int32)
    flat = img.ravel()
    top, right = flat.take(i), flat.take(i + 1)
    i += m
    bottom, corner = flat.take(i), flat.take(i + 1)
    right -= top
    right *= fx
    top += right
    corner -= bottom
    corner *= fx
    bottom += corner
    bottom -= top
    bottom *= fy
    top += bottom
    return top


def _detail(imgs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Each image (last two axes) minus its 3x3 mean: the fine texture a different shot does not share."""
    p = np.pad(imgs, [(0, 0)] * (imgs.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    rows = p[..., :-2, :] + p[..., 1:-1, :] + p[..., 2:, :]
    return imgs - (rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]) / 9.0


def _corr(got: npt.NDArray[np.float32], want: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Pearson correlation of each row of ``got`` with ``want``."""
    got = got - got.mean(axis=1, keepdims=True)
    want = want - want.mean()
    return (got @ want) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want) + 1e-6)


def _span(lo: float, hi: float) -> npt.NDArray[np.float64]:
    """Positions from lo to hi, both ends included (a crop from one side sits at an end), about _STEP apart."""
    return np.linspace(lo, hi, int(np.ceil((hi - lo) / _STEP - 0.25)) + 1)


@lru_cache(maxsize=4096)
def _hypotheses(r_in: float, r_out: float) -> npt.NDArray[np.float64]:
    """Rows (size, angle, centre x, centre y, mirror) that keep the inner photo inside the outer one (cached:
    most photos of a library share a few aspect ratios; the rows are read-only)."""
    rows = []
    for s in _SIZES:
        for t in _ANGLES:
            c, si = abs(np.cos(t)), abs(np.sin(t))
            hx, hy = (c * s * r_in + si * s) / 2, (si * s * r_in + c * s) / 2
            if 2 * hx > r_out * (1 + _FIT) or 2 * hy > 1 + _FIT:
                continue
            xs = _span(hx, r_out - hx) if r_out > 2 * hx else [r_out / 2]
            ys = _span(hy, 1 - hy) if 1 > 2 * hy else [0.5]
            for cx in xs:
                for cy in ys:
                    rows.append((s, t, cx, cy, 1.0))
                    rows.append((s, t, cx, cy, -1.0))
    out = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def _grid(shape: tuple[int, int]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Offsets (1, pixels) of a ``shape`` grid's pixel centres from its centre, as fractions of its sides."""
    du, dv = np.meshgrid((np.arange(shape[1], dtype=np.float32) + 0.5) / shape[1] - 0.5,
                         (np.arange(shape[0], dtype=np.float32) + 0.5) / shape[0] - 0.5)
    du, dv = du.ravel()[None, :], dv.ravel()[None, :]
    du.flags.writeable = dv.flags.writeable = False
    return du, dv


def _placed(outer: npt.NDArray[np.float32], shape: tuple[int, int], hyp: npt.NDArray[np.float64], r_in: float,
            r_out: float) -> npt.NDArray[np.float32]:
    """The outer thumbnail resampled on a grid of ``shape`` over the inner photo's place, for each hypothesis."""
    m = outer.shape[0]
    du, dv = _grid(shape)
    h32 = hyp.astype(np.float32)
    s, t, cx, cy, f = (h32[:, i : i + 1] for i in range(5))
    lx, ly = du * (s * r_in * f), dv * s
    c, si = np.cos(t), np.sin(t)
    x = (cx + c * lx - si * ly) * (m / r_out) - 0.5
    y = (cy + si * lx + c * ly) * m - 0.5
    return _sample(outer, x, y)


def _scores(inner: npt.NDArray[np.float32], outer: npt.NDArray[np.float32], hyp: npt.NDArray[np.float64],
            r_in: float, r_out: float) -> npt.NDArray[np.float32]:
    """Correlation of the inner thumbnail with the outer one sampled under each hypothesis."""
    return _corr(_placed(outer, inner.shape, hyp, r_in, r_out), inner.ravel())


def _detail_scores(inner: npt.NDArray[np.float32], outer: npt.NDArray[np.float32], hyp: npt.NDArray[np.float64],
                   r_in: float, r_out: float) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(layout, detail) correlations: of the thumbnails, and of their fine texture.

    Both are compared at the outer photo's resolution over the inner one's place, so that a crop's finer
    thumbnail is not blamed for texture the outer thumbnail cannot hold.
    """
    from PIL import Image

    s = float(np.median(hyp[:, 0]))
    shape = (max(8, round(THUMB * min(s, 1.0))), max(8, round(THUMB * min(s * r_in / r_out, 1.0))))
    if shape != inner.shape:
        inner = np.asarray(Image.fromarray(inner, "F").resize(shape[::-1], Image.Resampling.BOX))
    got = _placed(outer, shape, hyp, r_in, r_out)
    fine = _detail(got.reshape(-1, *shape)).reshape(len(hyp), -1)
    return _corr(got, inner.ravel()), _corr(fine, _detail(inner).ravel())


def _half(img: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The whole thumbnail at the coarse search's resolution."""
    from PIL import Image

    return np.asarray(Image.fromarray(img, "F").resize((_COARSE, _COARSE), Image.Resampling.BOX))


def _best(t_in, t_out, hyp, r_in, r_out, inner_is: int) -> Alignment:
    layout, detail = _detail_scores(t_in, t_out, hyp, r_in, r_out)
    k = int(np.argmax(layout + detail))
    s, t = float(hyp[k, 0]), float(hyp[k, 1])
    return Alignment(float(layout[k]), float(detail[k]), inner_is, bool(hyp[k, 4] < 0), float(np.rad2deg(t)),
                     s * r_in / r_out, s)


_GRID_D = [a.ravel() for a in np.meshgrid([-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0],
                                         indexing="ij")]


def _refine(t_in, t_out, start: npt.NDArray[np.float64], r_in, r_out, inner_is: int) -> Alignment:
    """Pattern search around the best coarse placements, halving the steps: size, angle and position."""
    d_size, d_angle, d_x, d_y = _GRID_D
    best_h, best_v = start[0], -np.inf
    for h0 in start:
        h = h0.copy()
        for scale in (1.0, 0.5, 0.25):
            rows = np.stack([h[0] * (1 + 0.04 * scale * d_size), h[1] + np.deg2rad(2.0) * scale * d_angle,
                             h[2] + 0.5 * _STEP * scale * d_x, h[3] + 0.5 * _STEP * scale * d_y,
                             np.full(d_size.size, h[4])], axis=1)
            layout, detail = _detail_scores(t_in, t_out, rows, r_in, r_out)
            k = int(np.argmax(layout + detail))
            h = rows[k]
        if layout[k] + detail[k] > best_v:
            best_v, best_h, best_ld = layout[k] + detail[k], h, (layout[k], detail[k])
    s_, t = float(best_h[0]), float(best_h[1])
    return Alignment(float(best_ld[0]), float(best_ld[1]), inner_is, bool(best_h[4] < 0), float(np.rad2deg(t)),
                     s_ * r_in / r_out, s_)


def untouched(a: Sequence[bytes], b: Sequence[bytes], aspect_b: Sequence[float]) -> list[Alignment | None]:
    """The first step of ``align`` for many pairs at once: photo ``a[k]`` compared with ``b[k]`` in the same
    frame, mirrored or not (None where a thumbnail is flat). The same arithmetic as ``align``'s, vectorised
    across pairs, so a copy that this settles costs tens of microseconds instead of a millisecond.
    """
    out: list[Alignment | None] = []
    for start in range(0, len(a), 128):  # blocks that stay in the CPU's cache
        out.extend(_untouched_block(a[start : start + 128], b[start : start + 128], aspect_b[start : start + 128]))
    return out


def _untouched_block(a: Sequence[bytes], b: Sequence[bytes], aspect_b: Sequence[float]) -> list[Alignment | None]:
    ta = np.frombuffer(b"".join(x[4:FRAME_BYTES] for x in a), np.uint8).reshape(-1, THUMB, THUMB).astype(np.float32)
    tb = np.frombuffer(b"".join(x[4:FRAME_BYTES] for x in b), np.uint8).reshape(-1, THUMB, THUMB).astype(np.float32)
    flat = (ta.std(axis=(1, 2)) < _FLAT) | (tb.std(axis=(1, 2)) < _FLAT)
    n, m = len(ta), THUMB
    r = np.asarray(aspect_b, dtype=np.float64)
    # the coordinates _placed computes for the rows (size 1, angle 0, centre, mirror +-1), per pair
    du, dv = (g[None] for g in _grid((m, m)))
    r32, cx = r.astype(np.float32)[:, None, None], (r / 2).astype(np.float32)[:, None, None]
    f = np.array([1.0, -1.0], dtype=np.float32)[None, :, None]
    one, zero = np.float32(1.0), np.float32(0.0)
    lx, ly = du * (one * r32 * f), dv * one
    x = (cx + one * lx - zero * ly) * (m / r).astype(np.float32)[:, None, None] - 0.5
    y = (np.float32(0.5) + zero * lx + one * ly) * m - 0.5
    got = _sample(tb, x, y, offset=(np.arange(n) * m * m)[:, None, None])  # (pairs, 2, pixels)
    fine = _detail(got.reshape(n, 2, m, m)).reshape(n, 2, -1)
    layout = _corr_rows(got, ta.reshape(n, -1))
    detail = _corr_rows(fine, _detail(ta).reshape(n, -1))
    k = np.argmax(layout + detail, axis=1)
    return [None if flat[j] else Alignment(float(layout[j, k[j]]), float(detail[j, k[j]]), 0, bool(k[j] == 1),
                                           0.0, 1.0, 1.0) for j in range(n)]


def _corr_rows(got: npt.NDArray, want: npt.NDArray) -> npt.NDArray[np.float64]:
    """``_corr`` per pair: rows (pairs, k, pixels) against (pairs, pixels)."""
    got = got - got.mean(axis=2, keepdims=True)
    want = want - want.mean(axis=1, keepdims=True)
    dot = np.einsum("pkx,px->pk", got, want.astype(got.dtype))
    return dot / (np.linalg.norm(got, axis=2) * np.linalg.norm(want, axis=1)[:, None] + 1e-6)


def align(a: bytes, b: bytes, aspect_a: float, aspect_b: float, good_enough: float = 0.9,
          first: Alignment | None = None) -> Alignment | None:
    """The best placement of one photo inside the other (either way), or None when a thumbnail is flat.

    ``aspect_*`` are width / height of each photo's trimmed frame. The untouched placement (same frame, mirrored
    or not; ``first`` when ``untouched`` has already measured it) is tried first and kept when its texture
    correlation reaches ``good_enough``.
    """
    ta, tb = frame_thumb(a), frame_thumb(b)
    if ta.std() < _FLAT or tb.std() < _FLAT:
        return None
    pairs = ((0, ta, tb, aspect_a, aspect_b), (1, tb, ta, aspect_b, aspect_a))
    if first is None:
        same = np.array([[1.0, 0.0, aspect_b / 2, 0.5, 1.0], [1.0, 0.0, aspect_b / 2, 0.5, -1.0]])
        first = _best(ta, tb, same, aspect_b, aspect_b, 0)
    best = first
    if best.detail >= good_enough and abs(np.log(aspect_a / aspect_b)) < 0.05:
        return best
    for inner_is, t_in, t_out, r_in, r_out in pairs:
        hyp = _hypotheses(r_in, r_out)
        if not len(hyp):
            continue
        sc = _scores(_half(t_in), _half(t_out), hyp, r_in, r_out)
        if sc.max() < _COARSE_MIN:
            continue  # no placement even roughly matches: another photo
        found = _refine(t_in, t_out, hyp[np.argsort(sc)[-2:]], r_in, r_out, inner_is)
        if found.layout + found.detail > best.layout + best.detail:
            best = found
    return best


def verdict(frame_a: bytes, frame_b: bytes, size_a: tuple[int, int], size_b: tuple[int, int]) -> str:
    """The aligner's old answer on two photos' stored frames: "copy", "similar" or "none" (its sure and maybe
    bars); ``size_*`` are the photos' (width, height)."""

    def aspect(frame: bytes, size: tuple[int, int]) -> float:
        t, bo, le, r = frame_trim(frame)
        return (size[0] or 1) * (1 - le - r) / max((size[1] or 1) * (1 - t - bo), 1e-3)

    found = align(frame_a, frame_b, aspect(frame_a, size_a), aspect(frame_b, size_b))
    if found is None:
        return "none"
    if found.layout >= 0.90 and found.detail >= 0.70 and min(found.width, found.height) >= 0.7:
        return "copy"
    return "similar" if found.layout >= 0.85 and found.detail >= 0.66 else "none"
