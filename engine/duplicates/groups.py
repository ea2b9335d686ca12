"""Duplicate groups a user can trust with the delete key.

1. **Candidates**: photos within a Hamming radius of each other in the code index whose backbone features agree
   (cosine >= ``min_cosine``).
2. **Pixel check**: each candidate pair is aligned on the photos' whole-frame grey thumbnails
   (``engine.images.signature.align``: which one lies inside the other, mirrored or not, angle, size, position), and
   compared there on layout and on fine texture. Texture is what two shots of the same shirt on the same hanger
   do not share, and what a recompressed, resized, recoloured, black-and-white, blurred or noisy copy keeps.
   Pairs clearly the same picture are *sure*; pairs that nearly pass are *maybe*; the rest are dropped.
3. **Groups**: sure pairs are joined, then every member is checked against the copy the group keeps (``KEEP_RULE``)
   directly, so a chain of partial overlaps (two different crops of one large photo) never ends up in one group;
   a member that fails moves to the "maybe" groups, which are never marked for the trash.
4. **Stored**: the pixel check of a pair depends only on the two photos' frames and sizes, so its result is kept in
   the catalog (``pair_checks``, stamped with what it was measured on) and the look-alike pairs with a digest of
   the search's inputs (``look_alikes``). The index run ends with ``check_job``, which measures what the next
   search will need; opening the duplicates then reads the stored answers (1.2 s at 100k photos instead of 4
   minutes; bench/DUPES.md). A search with other settings, after training changed the codes, or of photos added
   since, measures only the pairs it has not seen.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.progress import run_to_end
from engine.images.signature import ALIGN_VERSION, Alignment, align, colour_distance, frame_trim, untouched
from engine.duplicates import lookalikes
from engine.duplicates.lookalikes import Inputs, progress, store_derived
from engine.types import DuplicateGroup, DuplicateMember, Photo, Progress

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.codes.codeindex import CodeIndex
    from engine.library.featstore import FeatureStore

__all__ = ["find_groups", "group_job", "check_job", "copies_of", "KEEP_RULE", "keep_order", "SURE", "MAYBE"]

log = logging.getLogger(__name__)

_UNTOUCHED_BATCH = 1024
_SAVE_EVERY_S = 5.0  # new pixel checks are stored at least this often, so a cancelled run keeps them
SURE = (0.90, 0.70)  # (layout, detail) correlations a pair must reach to be the same picture
MAYBE = (0.85, 0.66)  # ... to be shown as "maybe"
MIN_SIDE = 0.7  # a copy that keeps less of the other photo's width or height (a 60% crop) is at most "maybe"

KEEP_RULE = DuplicateGroup.KEEP_RULE  # implemented by keep_order: derived copies last, then pixels, bytes per
# pixel, date taken (else file date) and the shortest path


@dataclass
class _Pair:
    found: Alignment | None = None
    sure: bool = False
    maybe: bool = False
    first: Alignment | None = None  # the untouched placement, measured for all candidates at once


@dataclass
class _Facts:
    """What the pixel check reads (photos, frames, colour signatures) and what it has found.

    ``stored`` holds the checks of earlier runs (``Catalog.pair_checks``): a check depends only on the two
    photos' frames and sizes, so it is reused while its stamp (``stamp``) still matches; ``fresh`` collects the
    checks measured now, for ``save``.
    """

    photos: dict[int, Photo]
    frames: dict[int, bytes]
    sigs: dict[int, bytes]
    stored: dict[tuple[int, int], tuple[int, tuple]] = field(default_factory=dict)
    pairs: dict[tuple[int, int], _Pair] = field(default_factory=dict)
    fresh: list[tuple[int, int, int, tuple]] = field(default_factory=list)

    def stamp(self, a: int, b: int) -> int:
        """A checksum of what the check of (a, b) depends on: both frames, both sizes and the aligner's version."""
        out = ALIGN_VERSION
        for pid in (a, b):
            p = self.photos[pid]
            out = zlib.crc32(self.frames[pid] + f"{p.width}x{p.height}".encode(), out)
        return out

    def _known(self, key: tuple[int, int]) -> Alignment | None:
        hit = self.stored.get(key)
        if hit is None or hit[0] != self.stamp(*key):
            return None
        layout, detail, inner, mirrored, angle, width, height = hit[1]
        return Alignment(float(layout), float(detail), int(inner), bool(mirrored), float(angle), float(width),
                         float(height))

    def save(self, catalog: Catalog) -> None:
        """Store the checks measured since the last save (a cache: a library that cannot be written keeps none)."""
        rows, self.fresh = self.fresh, []
        if rows:
            store_derived(catalog, f"pixel checks of {len(rows)} look-alike pairs", lambda: catalog.set_pair_checks(rows))

    def aspect(self, pid: int) -> float:
        p = self.photos[pid]
        t, b, l, r = frame_trim(self.frames[pid])
        return max((p.width or 1) * (1 - l - r), 1e-3) / max((p.height or 1) * (1 - t - b), 1e-3)

    def check(self, a: int, b: int) -> _Pair:
        """The pair (a, b) aligned and judged once; alignments are cached in both directions."""
        key = (min(a, b), max(a, b))
        pair = self.pairs.get(key)
        if pair is not None and pair.found is not None:
            return pair
        pair = pair or _Pair()
        if self._ready(key):
            pair.found = self._known(key)
            if pair.found is None:
                pair.found = align(self.frames[key[0]], self.frames[key[1]], self.aspect(key[0]),
                                   self.aspect(key[1]), first=pair.first)
                if pair.found is not None:
                    self.fresh.append((*key, self.stamp(*key), tuple(pair.found)))
        f = pair.found
        if f is not None:
            pair.sure = _sure(f)
            pair.maybe = not pair.sure and f.layout >= MAYBE[0] and f.detail >= MAYBE[1]
        self.pairs[key] = pair
        return pair

    def untouched(self, pairs: list[tuple[int, int]]) -> None:
        """Measure the untouched placement of many pairs at once (``engine.images.signature.untouched``); ``check``
        then starts from it, and a plain copy (resized, recompressed, recoloured) needs nothing more."""
        keys = [(min(a, b), max(a, b)) for a, b in pairs]
        keys = [k for k in dict.fromkeys(keys) if self.unmeasured(*k)]
        firsts = untouched([self.frames[a] for a, _ in keys], [self.frames[b] for _, b in keys],
                           [self.aspect(b) for _, b in keys])
        for key, first in zip(keys, firsts):
            self.pairs[key] = _Pair(first=first)

    def unmeasured(self, a: int, b: int) -> bool:
        """Whether the pair (a, b) has neither been measured in this run nor has a stored check."""
        key = (min(a, b), max(a, b))
        return key not in self.pairs and self._ready(key) and self._known(key) is None

    def _ready(self, key: tuple[int, int]) -> bool:
        return all(pid in self.frames and pid in self.photos for pid in key)

    def relation(self, keep: int, other: int) -> tuple[Alignment | None, bool]:
        """The alignment of ``other`` against ``keep`` and whether ``other`` is the inner photo."""
        pair = self.check(keep, other)
        if pair.found is None:
            return None, False
        other_first = other < keep
        return pair.found, (pair.found.inner == 0) == other_first

    def greyish(self, pid: int) -> bool:
        sig = self.sigs.get(pid)
        if sig is None:
            return False
        grid = np.frombuffer(sig[8:], np.uint8).reshape(-1, 3).astype(np.int16)
        return bool((grid.max(axis=1) - grid.min(axis=1)).mean() < 6)


class _Sets:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def root(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for x in list(self.parent):
            out.setdefault(self.root(x), []).append(x)
        return [sorted(g) for g in out.values() if len(g) > 1]


def _sure(f: Alignment) -> bool:
    """Whether an alignment shows the same picture (the "sure" verdict)."""
    return f.layout >= SURE[0] and f.detail >= SURE[1] and min(f.width, f.height) >= MIN_SIDE


def copies_of(catalog: Catalog, photo_id: int) -> dict[int, float]:
    """{photo id: texture correlation} of the photos that stored pixel checks found to be copies of ``photo_id``
    (sure verdicts on unchanged frames), directly or through one photo both are copies of, as a duplicate group
    joins its members through the copy it keeps; for the similar-photos search to rank first. Reads only stored
    checks: a library indexed before they existed, or a photo whose pairs were not checked yet, has none."""
    first = _sure_partners(catalog, photo_id)
    out = dict(first)
    for middle, detail in first.items():
        for other, d in _sure_partners(catalog, middle).items():
            if other != photo_id and other not in out:
                out[other] = min(d, detail)
    return out


def _sure_partners(catalog: Catalog, photo_id: int) -> dict[int, float]:
    stored = catalog.pair_checks_of(photo_id)
    if not stored:
        return {}
    ids = sorted({i for key in stored for i in key})
    facts = _Facts(catalog.photos_by_ids(ids), catalog.frames_of(ids), {}, stored)
    out = {}
    for key in stored:
        found = facts._known(key) if facts._ready(key) else None
        if found is not None and _sure(found):
            out[key[1] if key[0] == photo_id else key[0]] = found.detail
    return out


def _bytes_per_pixel(p: Photo) -> float:
    return (p.size or 0) / max((p.width or 1) * (p.height or 1), 1)


def keep_order(facts: _Facts, group: list[int]) -> list[int]:
    """The group's photos in ``KEEP_RULE`` order: the one to keep first."""
    ref = max(group, key=lambda i: ((facts.photos[i].width or 0) * (facts.photos[i].height or 0), -i))
    colour = any(not facts.greyish(i) for i in group)
    derived = {i: 0 for i in group}
    for i in group:
        if i == ref:
            continue
        found, inner = facts.relation(ref, i)
        if found is None:
            continue
        if found.width * found.height < 0.9:
            if inner:
                derived[i] += 1  # a crop of the reference
            elif _bordered(facts, i):
                derived[i] += 1  # the reference plus borders or a caption
            else:
                derived[ref] += 1  # the reference is a crop of it
    for i in group:
        derived[i] += int(colour and facts.greyish(i)) + int(_bordered(facts, i))

    def key(i: int):
        p = facts.photos[i]
        date = p.taken_at or ""
        return (derived[i], -(p.width or 0) * (p.height or 0), -_bytes_per_pixel(p), date == "", date,
                p.mtime or 0.0, len(p.path), p.path)

    return sorted(group, key=key)


def _bordered(facts: _Facts, pid: int) -> bool:
    return max(frame_trim(facts.frames[pid])) > 0.03 if pid in facts.frames else False


def differences(facts: _Facts, keep: int, other: int) -> list[str]:
    """How ``other`` differs from the kept copy, in a few words."""
    k, o = facts.photos[keep], facts.photos[other]
    out = []
    found, inner = facts.relation(keep, other)
    px_k, px_o = (k.width or 0) * (k.height or 0), (o.width or 0) * (o.height or 0)
    if found is not None and found.width * found.height < 0.9:
        out.append("cropped" if inner else "with borders or a caption")
    elif _bordered(facts, other) and not _bordered(facts, keep):
        out.append("with borders or a caption")
    if px_o < 0.9 * px_k:
        out.append("smaller copy")
    elif px_o > 1.1 * px_k:
        out.append("enlarged copy")
    # a smaller copy at the same quality takes more bytes per pixel: about the square root of the pixel ratio
    if _bytes_per_pixel(o) < 0.8 * _bytes_per_pixel(k) * np.sqrt(max(px_k, 1) / max(px_o, 1)) or (
            os.path.splitext(o.path)[1].lower() != os.path.splitext(k.path)[1].lower()):
        out.append("recompressed")
    if facts.greyish(other) and not facts.greyish(keep):
        out.append("black-and-white")
    elif keep in facts.sigs and other in facts.sigs and colour_distance(facts.sigs[keep], facts.sigs[other]) > 12:
        out.append("colours changed")
    if found is not None and found.mirrored:
        out.append("mirrored")
    if found is not None and abs(found.angle) >= 1.5:
        out.append("rotated")
    if found is not None and found.detail < 0.85 and not out:
        out.append("softer or noisier")
    if not out:
        out.append("same size" if (o.size == k.size and px_o == px_k) else "near-identical")
    return out


def _group(facts: _Facts, ids: list[int], sure: bool) -> DuplicateGroup:
    order = keep_order(facts, ids)
    keep = order[0]
    members = [DuplicateMember(facts.photos[keep], True, [], 1.0)]
    for i in order[1:]:
        found = facts.check(keep, i).found
        members.append(DuplicateMember(facts.photos[i], not sure, differences(facts, keep, i),
                                       round(float(found.detail), 3) if found else 0.0))
    return DuplicateGroup(members, sure)


def find_groups(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int, min_cosine: float,
                progress: Callable[[Progress], None] | None = None) -> list[DuplicateGroup]:
    """Sure groups (largest first), then "maybe" groups; members kept copy first.

    ``progress`` (called from this thread) hears how far the search is: stage ``dupes``, pairs compared so far.
    """
    return run_to_end(group_job(catalog, features, index, radius, min_cosine), progress)


def group_job(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int, min_cosine: float,
              inputs: Inputs | None = None) -> Generator[Progress, None, list[DuplicateGroup]]:
    """``find_groups`` as a job: yields its progress, returns the groups. The pixel checks it measures are stored
    in the catalog as it goes (``Catalog.pair_checks``), so the next search, or one cancelled half-way and run
    again, measures only pairs it has not seen. ``inputs``: the search's inputs when the caller has read them."""
    if len(index) < 2:
        return []
    yield progress(0, None, f"looking for look-alikes among {len(index)} photos")
    candidates = yield from lookalikes.candidates(catalog, features, inputs or Inputs.read(catalog, index), radius, min_cosine)
    involved = sorted({i for _, a, b in candidates for i in (a, b)})
    yield progress(0, len(candidates), f"comparing the pixels of {len(candidates)} look-alike pairs")
    facts = _Facts(catalog.photos_by_ids(involved), catalog.frames_of(involved), catalog.signatures_of(involved),
                   catalog.pair_checks() if candidates else {})
    saved = started = time.monotonic()
    try:
        sure, maybe = _Sets(), _Sets()
        for n, (_, a, b) in enumerate(candidates):
            if n % 64 == 0:
                rate = n / max(time.monotonic() - started, 1e-6) if n else None
                yield Progress("dupes", n, len(candidates), rate, (len(candidates) - n) / rate if rate else None,
                               "comparing the pixels of look-alike photos")
                if time.monotonic() - saved > _SAVE_EVERY_S:
                    facts.save(catalog)
                    saved = time.monotonic()
            if sure.root(a) == sure.root(b):
                continue  # already in one group: the member-to-kept check below decides
            if facts.unmeasured(a, b):  # the untouched placement of the next unmeasured pairs, at once
                facts.untouched([(c, d) for _, c, d in candidates[n : n + _UNTOUCHED_BATCH]
                                 if sure.root(c) != sure.root(d)])
            pair = facts.check(a, b)
            if pair.sure:
                sure.join(a, b)
            elif pair.maybe:
                maybe.join(a, b)
        groups, doubtful = [], []
        for ids in sure.groups():
            keep = keep_order(facts, ids)[0]
            ok = [keep] + [i for i in ids if i != keep and facts.check(keep, i).sure]
            if len(ok) > 1:
                groups.append(_group(facts, ok, True))
            for i in ids:
                if i not in ok:
                    maybe.join(keep, i)
        sure_of = {m.photo.id: n for n, g in enumerate(groups) for m in g.members}
        for ids in maybe.groups():
            if len({sure_of.get(i, -1 - i) for i in ids}) > 1:  # not all already surely together
                doubtful.append(_group(facts, ids, False))
    finally:
        facts.save(catalog)
    yield progress(len(candidates), len(candidates), f"{len(groups)} groups of copies")
    key = lambda g: (-len(g.members), int(g.members[0].photo.id))  # noqa: E731
    return sorted(groups, key=key) + sorted(doubtful, key=key)


def check_job(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int,
              min_cosine: float) -> Generator[Progress, None, None]:
    """Measure ahead what the next duplicate search will need (the index run's last stage), so that opening
    the duplicates costs seconds, not minutes. A library unchanged since the last check (same digest of the
    search's inputs, ``Inputs.digest``) is not searched again."""
    if catalog.read_only or len(index) < 2:
        return
    inputs = Inputs.read(catalog, index)
    digest = inputs.digest(radius, min_cosine)
    if catalog.get_meta("pair_checks_for") == digest:
        return
    with catalog.transaction():
        catalog.prune_pair_checks()
    yield from group_job(catalog, features, index, radius, min_cosine, inputs)
    store_derived(catalog, "checked-library mark", lambda: catalog.set_meta("pair_checks_for", digest))
