"""The library's health: what is damaged (:func:`problems`), and putting it right (:func:`heal`, :func:`run_repair`).

Cheap checks run on every ``simili index`` (feature cache cut short, active model file missing or altered, index file
missing, settings with wrong values) and are repaired there, re-reading only the photos whose features were lost.
``simili repair`` adds the costly ones: SQLite's full ``integrity_check`` (a damaged catalog is rebuilt from its
readable rows first, ``engine.library.salvage``) and a read of every cached feature (rows of random bytes hold NaN or
infinity, which the image model never gives).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.errors import SimiliError
from engine.jobs.indexing import run_index
from engine.library.compact import compact, dead_rows
from engine.library.modelstore import TRAINING_FREE, index_path
from engine.library.paths import canonical_folder
from engine.library.salvage import respell_folders
from engine.types import IndexReport, Progress

if TYPE_CHECKING:
    from engine.library.store import Store

__all__ = ["problems", "heal", "run_repair", "Repair"]

log = logging.getLogger(__name__)


@dataclass
class Repair:
    """What ``simili repair`` did: one line per repair, and the index run that followed."""

    repaired: list[str] = field(default_factory=list)
    report: IndexReport | None = None


def problems(store: Store, full: bool = False) -> list[str]:
    """One line per kind of damage, each saying what to run; empty for a sound library."""
    out: list[str] = []
    if store.read_only:
        out.append("the library is read-only: searching works, but indexing and other changes cannot be saved")
    bad = store.catalog.integrity_problems(full=full)
    if bad:
        return out + [f"the catalog is damaged ({bad[0]}): run `simili repair`"]
    try:
        out += _feature_problems(store, full)
        out += _model_problems(store)
    except SimiliError as exc:
        out.append(str(exc))
    out += [f"{line}: run `simili index`" for line in store.settings_file.problems]
    return out


def _feature_problems(store: Store, full: bool) -> list[str]:
    out = []
    lost = store.features.lost()
    if lost:
        out.append(f"the feature cache was cut short ({lost} photos lost their features): run `simili index`"
                   " to read only those photos again")
    if full:
        bad = store.features.bad_rows()
        if bad:
            out.append(f"{len(bad)} cached features are damaged: run `simili repair` to read those photos again")
    return out


def _model_problems(store: Store) -> list[str]:
    models = store.models
    active = models.active()
    if active is None:
        return ["photos are waiting for a search code: run `simili index`"] if store.catalog.counts()["ok"] else []
    wrong = models.verify(active)
    if wrong:
        return [f"the active model #{active.info.id} file is {wrong}: run `simili index` to fall back to a"
                " working model"]
    if store.catalog.counts()["ok"] and not index_path(store.home, active.info.id).exists():
        return ["the search index file is missing (searches rebuild it in memory): run `simili index` to save it"]
    return []


def heal(store: Store, full: bool = False) -> list[str]:
    """Repair what :func:`problems` finds, short of the catalog itself (writer lock held); a line per repair."""
    features, catalog = store.features, store.catalog
    done, store.healed = list(store.healed), []  # what opening the library put right, reported once
    done += respell_folders(catalog, canonical_folder)
    if features.lost():
        have = features.file_rows()
        n = catalog.forget_features(from_row=have)
        features.rows = have
        done.append(f"the feature cache was cut short: {n} photos are read again")
    if full:
        bad = features.bad_rows()
        if bad:
            n = catalog.forget_features(rows=bad)
            done.append(f"{len(bad)} damaged cached features: {n} photos are read again")
    line = _heal_model(store)
    if line:
        done.append(line)
    done += store.models.sweep()
    if full and dead_rows(catalog, features):
        n = compact(catalog, features)
        done.append(f"the feature cache held {n} rows of photos changed or removed: reclaimed")
    if store.settings_file.problems:
        path = store.settings_file.path
        try:
            os.replace(path, path.with_name(path.name + ".damaged"))
        except OSError:
            pass
        store.settings_file.save()
        done.append(f"settings.json had wrong values and was rewritten (the old file is kept as {path.name}.damaged)")
    if done:
        store.models.forget()
        for line in done:
            log.warning("repaired: %s", line)
    return done


def _heal_model(store: Store) -> str | None:
    """An active model whose file is lost: the newest sound trained model takes over, else a new code is fitted."""
    models, catalog = store.models, store.catalog
    active = models.active()
    if active is None or not models.verify(active):
        return None
    broken = active.info
    for record in catalog.model_records():
        if record.info.id != broken.id and record.info.kind not in TRAINING_FREE and not models.verify(record):
            catalog.activate_model(record.info.id)
            return f"model #{broken.id} was lost; search uses model #{record.info.id} again"
    with catalog.transaction():
        catalog.deactivate_models()
    if broken.kind in TRAINING_FREE:
        models.drop(active)
    return f"model #{broken.id} was lost; the next steps fit a new search code from the cached features"


def run_repair(store: Store) -> Generator[Progress, None, Repair]:
    """Full checks and repairs, then an index run that reads again only the photos whose features were lost."""
    yield Progress("repair", 0, None, message="checking every part of the library")
    done = heal(store, full=True)
    report = yield from run_index(store)
    return Repair(done, report)
