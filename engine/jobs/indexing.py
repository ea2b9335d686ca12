"""The index job: scan folders, encode new photos with the backbone, keep codes and the index current.

Every stage commits per batch: a killed run leaves a catalog in which each photo is either finished (its
features are on disk and recorded) or still ``pending``, and the next run picks up the pending ones.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import DecodeError
from engine.library.modelstore import TRAINING_FREE
from engine.codes.neighbourhood import neighbourhood_features, smoothing_of
from engine.jobs.pairing import pair_companions
from engine.jobs.scanning import Rate, scan_folders
from engine.library.compact import compact, dead_rows
from engine.types import IndexReport, Progress

if TYPE_CHECKING:
    from engine.library.catalog import ModelRecord
    from engine.library.store import Store

__all__ = ["run_index", "ensure_codes"]

log = logging.getLogger(__name__)

ENCODE_BATCH = 32
REFIT_GROWTH = 1.25  # refit the training-free code when the library grew by a quarter since its fit
FIT_SAMPLE = 50_000


def run_index(store: Store) -> Generator[Progress, None, IndexReport]:
    """Scan every library folder, encode new photos, keep the codes and the index current (writer lock held)."""
    scan = yield from scan_folders(store)
    yield from _encode_pending(store)
    yield from _add_frames(store)
    companions = pair_companions(store)  # before the codes: the index leaves a RAW's JPEG out
    yield from ensure_codes(store)
    yield from _describe_photos(store)
    if dead_rows(store.catalog, store.features) > store.settings.compact_share * max(store.features.rows, 1):
        yield Progress("compact", 0, None, message="reclaiming the space of photos changed or removed")
        compact(store.catalog, store.features)
    counts = store.catalog.counts()
    return IndexReport(
        added=scan.added, updated=scan.updated, removed=scan.removed, moved=scan.moved,
        failed=counts["error"], unchanged=scan.unchanged, indexed=counts["ok"], offline=tuple(scan.offline),
        unreadable_folders=tuple(scan.unlisted), companions=companions,
    )


def _encode_pending(store: Store) -> Generator[Progress, None, None]:
    from engine.model.encode import encode_files
    from engine.images.signature import signature

    catalog, features, models = store.catalog, store.features, store.models
    pending = catalog.pending()
    if not pending:
        return
    ids = [pid for pid, _ in pending]
    paths = [raw for _, raw in pending]
    rate = Rate(len(paths))
    index = models.index()
    coder = models.coder() if index is not None else None
    active = models.active()
    smoothing = smoothing_of(active.info if active else None)
    done = 0
    last_save = time.monotonic()
    yield rate.progress("encode", 0, "loading the image model")
    for start, batch in zip(range(0, len(paths), ENCODE_BATCH), encode_files(paths, store.backbone, ENCODE_BATCH)):
        batch_ids = ids[start : start + len(batch.paths)]
        ok_rows, errors = [], []
        for j, item in enumerate(batch.items):
            if isinstance(item, DecodeError):
                errors.append((batch_ids[j], item.code, item.message))
        rows = features.append(batch.features) if len(batch.ok) else range(features.rows, features.rows)
        for row, j in zip(rows, batch.ok):
            d = batch.items[j]
            ok_rows.append((batch_ids[j], row, d.width, d.height, d.orientation, d.taken_at, d.format,
                            signature(d.pixels)))
        with catalog.transaction():
            catalog.mark_ok(ok_rows)
            catalog.set_frames([_framed(batch_ids[j], batch.items[j].frame) for j in batch.ok])
            catalog.mark_error(errors)
            catalog.set_meta("feat_rows", str(rows.stop if len(rows) else features.rows))
        features.commit(rows)
        if index is not None and ok_rows:
            new_ids = np.asarray([r[0] for r in ok_rows], dtype=np.int64)
            feats = batch.features if smoothing is None else neighbourhood_features(
                catalog, features, index, coder, batch.features, *smoothing)
            index.add(new_ids, coder.encode(feats))
            if time.monotonic() - last_save > 30:
                models.save_index(index)
                last_save = time.monotonic()
        done += len(batch.paths)
        yield rate.progress("encode", done, f"encoding photos ({len(errors)} unreadable in this batch)"
                            if errors else "encoding photos")


def _framed(pid: int, frame: np.ndarray) -> tuple[int, bytes, int]:
    from engine.images.signature import frame_hash, frame_signature

    sig = frame_signature(frame)
    return pid, sig, frame_hash(sig)


def _add_frames(store: Store) -> Generator[Progress, None, None]:
    """Whole-frame signatures for photos indexed before they existed (decodes only those photos, once)."""
    from engine.images.decode import FRAME, decode

    missing = store.catalog.without_frame()
    rate = Rate(len(missing))
    for start in range(0, len(missing), ENCODE_BATCH):
        rows = []
        for pid, raw in missing[start : start + ENCODE_BATCH]:
            try:
                rows.append(_framed(pid, decode(os.fsdecode(raw), size=FRAME).frame))
            except (OSError, DecodeError) as exc:
                log.info("no duplicate signature for %s: %s", os.fsdecode(raw), exc)
                rows.append((pid, b"", 0))  # marked, so the next index run does not try it again
        with store.catalog.transaction():
            store.catalog.set_frames(rows)
        yield rate.progress("frames", start + len(rows), "preparing photos for the duplicate check")


def _should_refit(active: ModelRecord | None, n: int, bits: int, has_trained: bool) -> bool:
    if active is None:
        return True
    info, n_fit = active.info, active.n_fit
    if info.kind not in TRAINING_FREE:
        return False
    if info.bits != bits and not has_trained:
        return True
    if info.kind == "lsh" and n > 2 * bits:
        return True
    return n >= REFIT_GROWTH * max(n_fit, 1)


def _describe_photos(store: Store) -> Generator[Progress, None, None]:
    """Keep the word-search table (``concepts.bin``: what each photo shows, and its nearest photos) current."""
    from engine.words.concepts import update_file

    index = store.models.index()
    if index is None or not len(index):
        return
    done: list[tuple[int, int]] = []
    yield Progress("words", 0, None, message="noting what each photo shows, for search by words")
    update_file(store.home, store.catalog, store.features, index, progress=lambda d, t: done.append((d, t)))
    if done:
        yield Progress("words", done[-1][0], done[-1][1], message=f"{done[-1][1]} photos described")


def ensure_codes(store: Store) -> Generator[Progress, None, None]:
    """Make sure an active model exists and the index holds a code for every indexed photo.

    Before DistillHash has trained, the code is ITQ fitted on the library's own features (LSH while there
    are too few photos for a PCA of ``bits`` dimensions); it is refitted as the library grows.
    """
    from engine.codes import binary as codes

    catalog, models = store.catalog, store.models
    n = catalog.counts()["ok"]
    if n == 0:
        return
    bits = store.settings.bits
    records = catalog.model_records()
    active = models.active()
    has_trained = any(m.info.kind not in TRAINING_FREE for m in records)
    if _should_refit(active, n, bits, has_trained):
        yield Progress("codes", 0, 1, message=f"fitting a {bits}-bit code on {n} photos")
        ids, rows = catalog.feature_rows()
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(len(rows), size=min(len(rows), FIT_SAMPLE), replace=False))
        feats = store.features.get(np.asarray(rows)[sample])
        kind = "itq" if n > 2 * bits else "lsh"
        coder = codes.fit(kind, feats, bits, seed=0)
        models.save_linear(coder, n)
        for record in records:  # older training-free models are superseded, not history
            if record.info.kind in TRAINING_FREE:
                models.drop(record)
    yield Progress("index", 0, n, message="updating the search index")
    index = models.reconcile(models.active().info, models.index())  # photos that left or rejoined the search
    models.save_index(index)
    yield Progress("index", n, n, message=f"{len(index)} photos searchable")
