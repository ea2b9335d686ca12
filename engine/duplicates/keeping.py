"""Which copy a group keeps, how each other copy differs from it, and which of several similar shots is best.

The copy kept is the fullest and cleanest one: never a crop when the whole photo is there, never one with added
borders, black corners of a rotation or a caption band when a clean one exists, in colour when another copy is;
then the most pixels, the least compressed, the oldest and the shortest path (``KEEP_RULE``). A camera RAW file is
the original before anything else: a JPEG of it is what was made from it. Among similar shots
(other captures of one scene) nothing is chosen for the user: the sharpest, largest, least compressed is
*suggested*, with the reason.
"""

from __future__ import annotations

import os

import numpy as np

from engine.duplicates.verdicts import Verdicts
from engine.images.formats import is_raw
from engine.images.signature import colour_distance
from engine.types import DuplicateGroup, Photo

__all__ = ["KEEP_RULE", "keep_order", "differences", "best_shot", "greyish", "derived"]

KEEP_RULE = DuplicateGroup.KEEP_RULE
_BAND = 0.03  # an edge band wider than this share of the side is added (a border, a letterbox bar, a caption)


def greyish(sig: bytes | None) -> bool:
    if sig is None:
        return False
    grid = np.frombuffer(sig[8:], np.uint8).reshape(-1, 3).astype(np.int16)
    return bool((grid.max(axis=1) - grid.min(axis=1)).mean() < 6)


def bytes_per_pixel(p: Photo) -> float:
    return (p.size or 0) / max((p.width or 1) * (p.height or 1), 1)


def _added(verdicts: Verdicts, pid: int, others: list[int]) -> bool:
    """Whether the photo carries what an edit adds: black corners, or a border, letterbox bar or caption band that
    another copy of the group does not show, about where the band is (the share of the photo the other copy lacks
    is about the band's: a crop lacks a frame all round instead). A flat edge that every copy shows (a floor, a
    wall, a sky) is part of the picture: the band test alone (one flat strip along an edge) cannot tell it from a
    border, and JPEG noise tips it either way, so an original at full quality lost to its own recompressed copy."""
    looks = verdicts.looks(pid)
    if looks is None:
        return False
    if looks[0]:
        return True
    if looks[1] <= _BAND:
        return False
    for j in others:
        m = verdicts.match(pid, j)
        if m.verdict == "copy" and looks[1] / 2 <= 1.0 - m.cover_a <= 2.5 * looks[1]:  # j lacks about the band
            return True
    return False


def _inside(verdicts: Verdicts, a: int, b: int) -> bool:
    """Whether ``a`` is a crop of ``b``: b covers all of a, a covers clearly less of b than b's own picture."""
    m = verdicts.match(a, b)
    return m.verdict == "copy" and m.cover_a >= 0.95 and m.cover_b < 0.9 and not _added(verdicts, b, [a])


def derived(verdicts: Verdicts, sigs: dict[int, bytes], group: list[int]) -> dict[int, int]:
    """How many signs of being a derived copy each photo shows (0 for the original)."""
    colour = any(not greyish(sigs.get(i)) for i in group)
    out = {}
    for i in group:
        out[i] = int(_added(verdicts, i, [j for j in group if j != i])) + int(colour and greyish(sigs.get(i)))
        out[i] += int(any(_inside(verdicts, i, j) for j in group if j != i))
    return out


def keep_order(verdicts: Verdicts, sigs: dict[int, bytes], group: list[int]) -> list[int]:
    """The group's photos in ``KEEP_RULE`` order: the one to keep first."""
    signs = derived(verdicts, sigs, group)

    def key(i: int):
        p = verdicts.photos[i]
        date = p.taken_at or ""
        return (not is_raw(p.path), signs[i], -(p.width or 0) * (p.height or 0), -bytes_per_pixel(p), date == "", date,
                p.mtime or 0.0, len(p.path), p.path)

    return sorted(group, key=key)


def differences(verdicts: Verdicts, sigs: dict[int, bytes], keep: int, other: int) -> list[str]:
    """How ``other`` differs from the kept copy, in a few words."""
    k, o = verdicts.photos[keep], verdicts.photos[other]
    m = verdicts.match(keep, other)
    out = []
    looks = verdicts.looks(other)
    if m.verdict == "copy" and m.cover_b >= 0.95 and m.cover_a < 0.9:
        out.append("cropped")
    if looks is not None and looks[0] and not (verdicts.looks(keep) or (False,))[0]:
        out.append("rotated, with black corners")
    elif looks is not None and looks[1] > _BAND and _added(verdicts, other, [keep]) and not _added(verdicts, keep, [other]):
        out.append("with borders or a caption")
    px_k, px_o = (k.width or 0) * (k.height or 0), (o.width or 0) * (o.height or 0)
    if px_o < 0.9 * px_k:
        out.append("smaller copy")
    elif px_o > 1.1 * px_k:
        out.append("enlarged copy")
    # a smaller copy at the same quality takes more bytes per pixel: about the square root of the pixel ratio
    if bytes_per_pixel(o) < 0.8 * bytes_per_pixel(k) * np.sqrt(max(px_k, 1) / max(px_o, 1)) or (
            os.path.splitext(o.path)[1].lower() != os.path.splitext(k.path)[1].lower()):
        out.append("recompressed")
    if greyish(sigs.get(other)) and not greyish(sigs.get(keep)):
        out.append("black-and-white")
    elif keep in sigs and other in sigs and colour_distance(sigs[keep], sigs[other]) > 12:
        out.append("colours changed")
    if m.mirrored:
        out.append("mirrored")
    angle = abs(m.angle) % 90
    if min(angle, 90 - angle) >= 1.5 and "rotated, with black corners" not in out:
        out.append("rotated")
    if m.texture < 0.9 and not out:
        out.append("softer or noisier")
    if not out:
        out.append("same size" if (o.size == k.size and px_o == px_k) else "near-identical")
    return out


def best_shot(verdicts: Verdicts, group: list[int]) -> tuple[list[int], str]:
    """The shots best first (sharpest, then largest, then least compressed) and why the first is suggested."""
    def sharp(i: int) -> float:
        looks = verdicts.looks(i)
        return looks[2] if looks is not None else 0.0

    def pixels(i: int) -> int:
        p = verdicts.photos[i]
        return (p.width or 0) * (p.height or 0)

    order = sorted(group, key=lambda i: (-round(sharp(i), -1), -pixels(i), -bytes_per_pixel(verdicts.photos[i]), i))
    best, rest = order[0], order[1:]
    why = []
    if all(sharp(best) > 1.1 * sharp(i) for i in rest):
        why.append("the sharpest")
    if all(pixels(best) > pixels(i) for i in rest):
        why.append("the largest")
    if all(bytes_per_pixel(verdicts.photos[best]) > 1.1 * bytes_per_pixel(verdicts.photos[i]) for i in rest):
        why.append("the least compressed")
    reason = (" and ".join([", ".join(why[:-1]), why[-1]] if len(why) > 1 else why) or "as good as the others")
    return order, f"suggested as the best shot: {reason}"
