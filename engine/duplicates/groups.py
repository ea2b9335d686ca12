"""Duplicate groups a user can trust with the delete key: copies, similar shots, and nothing else.

1. **Candidates**: photos within a Hamming radius of each other in the code index whose backbone features agree
   (cosine >= ``min_cosine``), and photos whose whole-frame hashes are close (``engine.duplicates.lookalikes``).
2. **The copy decision** (``engine.duplicates.matching``): ORB keypoints of each photo's grey view matched under
   one similarity transform (RANSAC), then the fine texture of the overlap compared. A *copy* is the same capture
   edited (resized, recompressed, cropped, rotated, recoloured, greyscale, mirrored, captioned, letterboxed); a
   *similar shot* another capture of the same scene (a burst, a reshoot: one perspective transform, new texture;
   or two photos whose cameras recorded different capture times); everything else -- a different garment on the
   same cloth, in any colour -- is nothing. Verdicts are stored in the catalog (``copy_matches``) and reused.
3. **Files are files**: two paths of one file (a symlink, a hard link) are one photo, never a copy to trash; the
   path kept is the real file, not the link. A photo that cannot be reached takes no part. Neither is a RAW file
   and the JPEG of the same name beside it (``engine.images.pairs``): one shot, saved twice by the camera.
4. **Groups**: copies are joined (connected components: membership never depends on which copy is kept); the
   copy kept is the fullest and cleanest (``engine.duplicates.keeping``); a member is offered for the trash only
   when it was compared directly with the kept copy and found a copy of it. Similar shots are grouped apart,
   nothing in them is marked, and the best shot is suggested with the reason. Pairs the user said are not
   copies (``Catalog.not_copies``) never join again, after re-index or training.
5. **Measured ahead**: the index run ends with ``check_job``, which measures what the next search will need, so
   opening the duplicates reads stored answers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator
from itertools import combinations
from typing import TYPE_CHECKING

from engine.duplicates import lookalikes
from engine.duplicates.keeping import KEEP_RULE, best_shot, differences, keep_order
from engine.duplicates.lookalikes import Inputs, progress, store_derived
from engine.duplicates.verdicts import Verdicts, identity
from engine.images.pairs import same_name
from engine.progress import run_to_end
from engine.types import DuplicateGroup, DuplicateMember, Progress

if TYPE_CHECKING:
    from engine.codes.codeindex import CodeIndex
    from engine.library.catalog import Catalog
    from engine.library.featstore import FeatureStore

__all__ = ["find_groups", "group_job", "check_job", "copies_of", "KEEP_RULE", "keep_order", "not_copies",
           "dismiss"]

log = logging.getLogger(__name__)

SAME_SHOT = "saved by the camera together with the RAW file kept: the same shot"
_SAVE_EVERY_S = 5.0  # new verdicts are stored at least this often, so a cancelled run keeps them
_CHECKED = "pair_checks_for"  # meta key: digest of the inputs last checked ahead (named in the aligner's days)


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


def copies_of(catalog: Catalog, photo_id: int) -> dict[int, float]:
    """{photo id: texture correlation} of the photos that stored verdicts found to be copies of ``photo_id``
    (on unchanged files), directly or through one photo both are copies of; for the similar-photos search to rank
    first. Reads only stored verdicts: a photo whose pairs were not checked yet has none."""
    first = _copy_partners(catalog, photo_id)
    out = dict(first)
    for middle, texture in first.items():
        for other, t in _copy_partners(catalog, middle).items():
            if other != photo_id and other not in out:
                out[other] = min(t, texture)
    return out


def _copy_partners(catalog: Catalog, photo_id: int) -> dict[int, float]:
    stored = catalog.copy_matches_of(photo_id)
    if not stored:
        return {}
    ids = sorted({i for key in stored for i in key})
    photos = catalog.photos_by_ids(ids)
    verdicts = Verdicts(None, photos, catalog.frames_of(ids))
    verdicts.stored = stored
    out = {}
    for a, b in stored:
        if a in photos and b in photos and verdicts.stored_match(a, b):
            found = verdicts.match(a, b)
            if found.verdict == "copy":
                out[b if a == photo_id else a] = found.texture
    return out


def not_copies(catalog: Catalog, ids: list[int]) -> set[tuple[int, int]]:
    """The pairs among ``ids`` that the user said are not copies (``Catalog.not_copies``, kept by file content)."""
    said = catalog.not_copies()
    if not said:
        return set()
    keys = catalog.photo_keys(ids)
    by_key: dict[str, list[int]] = {}
    for pid, key in keys.items():
        by_key.setdefault(key, []).append(pid)
    out = set()
    for ka, kb in said:
        for a in by_key.get(ka, ()):
            for b in by_key.get(kb, ()):
                out.add((min(a, b), max(a, b)))
    return out


def dismiss(catalog: Catalog, ids: list[int]) -> int:
    """Remember that the photos ``ids`` are not copies of one another (every pair); returns how many pairs."""
    keys = catalog.photo_keys(ids)
    pairs = [(keys[a], keys[b]) for a, b in combinations(sorted(set(ids)), 2) if a in keys and b in keys]
    with catalog.transaction():
        catalog.add_not_copies(pairs)
    return len(pairs)


def _files(photos: dict[int, object], ids: set[int]) -> dict[int, int]:
    """{photo: the photo standing for its file}: two paths of one file (a link, a hard link) map to one of them,
    the real file before a symbolic link; a photo that cannot be reached maps to nothing."""
    seen: dict[tuple[int, int], int] = {}
    out: dict[int, int] = {}
    for pid in sorted(ids, key=lambda i: (os.path.islink(photos[i].path), i)):
        ident = identity(photos[pid].path)
        if ident is None:
            continue
        out[pid] = seen.setdefault(ident, pid)
    return out


def find_groups(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int, min_cosine: float,
                progress: Callable[[Progress], None] | None = None) -> list[DuplicateGroup]:
    """Copy groups (largest first), then similar shots; members kept copy (or suggested shot) first.

    ``progress`` (called from this thread) hears how far the search is: stage ``dupes``, pairs compared so far.
    """
    return run_to_end(group_job(catalog, features, index, radius, min_cosine), progress)


def group_job(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int, min_cosine: float,
              inputs: Inputs | None = None) -> Generator[Progress, None, list[DuplicateGroup]]:
    """``find_groups`` as a job: yields its progress, returns the groups. The verdicts it measures are stored in
    the catalog as it goes, so the next search, or one cancelled half-way and run again, measures only pairs it
    has not seen. ``inputs``: the search's inputs when the caller has read them."""
    if len(index) < 2:
        return []
    yield progress(0, None, f"looking for look-alikes among {len(index)} photos")
    candidates = yield from lookalikes.candidates(catalog, features, inputs or Inputs.read(catalog, index), radius,
                                                  min_cosine)
    involved = sorted({i for _, a, b in candidates for i in (a, b)})
    photos = catalog.photos_by_ids(involved)
    verdicts = Verdicts(catalog, photos, catalog.frames_of(involved))
    total = len(candidates)
    yield progress(0, total, f"comparing the details of {total} look-alike pairs")
    saved = started = time.monotonic()
    copy_edges, similar_edges = [], []
    measured = 0
    try:
        for n, (_, a, b) in enumerate(candidates):
            if a not in photos or b not in photos:
                continue
            if not verdicts.stored_match(a, b):
                measured += 1
                if measured % 8 == 1:
                    rate = n / max(time.monotonic() - started, 1e-6) if n else None
                    yield Progress("dupes", n, total, rate, (total - n) / rate if rate else None,
                                   "comparing the details of look-alike photos")
                if time.monotonic() - saved > _SAVE_EVERY_S:
                    verdicts.save(catalog)
                    saved = time.monotonic()
            verdict = verdicts.match(a, b).verdict
            if verdict == "copy":
                copy_edges.append((a, b))
            elif verdict == "similar":
                similar_edges.append((a, b))
        groups = _build(catalog, verdicts, copy_edges, similar_edges)
    finally:
        verdicts.save(catalog)
    yield progress(total, total, f"{sum(g.sure for g in groups)} groups of copies")
    return groups


def _build(catalog: Catalog, verdicts: Verdicts, copy_edges: list[tuple[int, int]],
           similar_edges: list[tuple[int, int]]) -> list[DuplicateGroup]:
    photos = verdicts.photos
    ids = {i for e in copy_edges + similar_edges for i in e}
    file_of = _files(photos, ids)
    refused = not_copies(catalog, sorted(ids))
    sigs = catalog.signatures_of(sorted(ids))

    def edges(pairs):
        for a, b in pairs:
            fa, fb = file_of.get(a), file_of.get(b)
            if fa is not None and fb is not None and fa != fb and (min(fa, fb), max(fa, fb)) not in refused \
                    and (min(a, b), max(a, b)) not in refused and not same_name(photos[a].path, photos[b].path):
                yield fa, fb

    copies = _Sets()
    for a, b in edges(copy_edges):
        copies.join(a, b)
    groups, kept_of = [], {}
    for members in copies.groups():
        order = keep_order(verdicts, sigs, members)
        keep = order[0]
        out = [DuplicateMember(photos[keep], True, [], 1.0)]
        for i in order[1:]:
            m = verdicts.match(keep, i)
            # a member joined only through another copy (or one the user said is not a copy of the kept one) is
            # shown, never marked
            shot = same_name(photos[keep].path, photos[i].path)  # the camera's JPEG of the RAW kept: never marked
            direct = m.verdict == "copy" and (min(keep, i), max(keep, i)) not in refused and not shot
            diff = (differences(verdicts, sigs, keep, i) if direct else
                    [SAME_SHOT] if shot else ["a copy of another photo of this group"])
            out.append(DuplicateMember(photos[i], not direct, diff, round(float(m.texture), 3)))
        groups.append(DuplicateGroup(out, True))
        kept_of.update({i: keep for i in members})
    shots = _Sets()
    for a, b in edges(similar_edges):
        a, b = kept_of.get(a, a), kept_of.get(b, b)  # a shot that has copies stands for them
        if a != b:
            shots.join(a, b)
    similar = []
    for members in shots.groups():
        order, reason = best_shot(verdicts, members)
        similar.append(DuplicateGroup([DuplicateMember(photos[i], True, [] if k == 0 else ["another shot"],
                                                       round(float(verdicts.match(order[0], i).texture), 3)
                                                       if k else 1.0)
                                       for k, i in enumerate(order)], False, reason))
    key = lambda g: (-len(g.members), int(g.members[0].photo.id))  # noqa: E731
    return sorted(groups, key=key) + sorted(similar, key=key)


def check_job(catalog: Catalog, features: FeatureStore, index: CodeIndex, radius: int,
              min_cosine: float) -> Generator[Progress, None, None]:
    """Measure ahead what the next duplicate search will need (the index run's last stage), so that opening
    the duplicates costs seconds, not minutes. A library unchanged since the last check (same digest of the
    search's inputs, ``Inputs.digest``) is not searched again."""
    if catalog.read_only or len(index) < 2:
        return
    inputs = Inputs.read(catalog, index)
    digest = inputs.digest(radius, min_cosine)
    if catalog.get_meta(_CHECKED) == digest:
        return
    with catalog.transaction():
        catalog.prune_copy_matches()
    yield from group_job(catalog, features, index, radius, min_cosine, inputs)
    store_derived(catalog, "checked-library mark", lambda: catalog.set_meta(_CHECKED, digest))
