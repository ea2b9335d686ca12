"""The engine facade: ``Library(home)`` is everything the CLI and the GUI need.

Long jobs (:meth:`Library.index`, :meth:`Library.train`) are generators that yield
:class:`~engine.types.Progress` and commit their work per batch, so dropping them at any yield (Cancel,
Ctrl-C) or killing the process leaves a consistent library that the next run resumes. Queries never import
torch: they run on the cached features, the active model's coder and a faiss binary index.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine import models as model_store
from engine.catalog import Catalog
from engine.codes import asymmetric_scores, blended_scores, pack_signs, refine_size, shortlist_size
from engine.errors import LibraryBusy, NotIndexed, SimiliError
from engine.featstore import FeatureStore
from engine.paths import resolve_home
from engine.settings import Settings, load_settings, save_settings
from engine.types import FileError, ModelInfo, Neighbor, Photo, Progress, Status

if TYPE_CHECKING:
    from engine.backbone import Backbone
    from engine.index import CodeIndex

__all__ = ["Library", "IndexReport"]

log = logging.getLogger(__name__)

FEATURE_DIM = 1280


@dataclass(frozen=True)
class IndexReport:
    """What an index run did."""

    added: int
    updated: int
    removed: int
    moved: int
    failed: int
    unchanged: int
    indexed: int


class Library:
    """One photo library: several folders, one catalog, one feature cache, versioned models, one index.

    Args:
        home: the library folder; default ``$SIMILI_HOME`` or the per-user data dir.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None):
        self.home = resolve_home(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.home / "catalog.sqlite")
        self.settings = load_settings(self.home / "settings.json")
        rows = int(self.catalog.get_meta("feat_rows", "0") or 0)
        self.features = FeatureStore(self.home / "features.f16", FEATURE_DIM, rows)
        self._backbone: Backbone | None = None
        self._index: CodeIndex | None = None
        self._index_key: tuple | None = None
        self._coder = None
        self._coder_id: int | None = None
        self._lock = threading.RLock()

    # -- lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        self.catalog.close()
        self.features.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's writer lock (one mutating job at a time, across processes)."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.home / "writer.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise LibraryBusy(
                f"the library {self.home} is busy: another Simili window or command is indexing or training it;"
                " try again when it has finished"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def save_settings(self, settings: Settings | None = None) -> None:
        if settings is not None:
            self.settings = settings
        save_settings(self.home / "settings.json", self.settings)

    # -- components ----------------------------------------------------------------------------------
    @property
    def backbone(self) -> Backbone:
        with self._lock:
            if self._backbone is None:
                from engine.backbone import Backbone

                self._backbone = Backbone(device="cpu" if self.settings.device == "cpu" else "auto")
            return self._backbone

    def _active(self):
        return self.catalog.active_model()

    def coder(self):
        """The active model's coder (features -> packed codes), loaded once and checksum-verified."""
        with self._lock:
            active = self._active()
            if active is None:
                return None
            info = active[0]
            if self._coder is None or self._coder_id != info.id:
                self._coder = model_store.load_coder(self.home, info, active[1], active[2])
                self._coder_id = info.id
            return self._coder

    def code_index(self) -> CodeIndex | None:
        """The active model's binary index, reconciled with the catalog (reloaded if another process wrote)."""
        with self._lock:
            active = self._active()
            if active is None:
                return None
            self._refresh_feature_rows()  # another process may have added photos since
            key = (active[0].id, self.catalog.get_meta("index_generation", "0"), self.features.rows)
            if self._index is None or self._index_key != key:
                self._index = model_store.open_index(self, active[0])
                self._index_key = key
            return self._index

    def _refresh_feature_rows(self) -> None:
        self.features.rows = int(self.catalog.get_meta("feat_rows", "0") or 0)

    # -- folders -------------------------------------------------------------------------------------
    def folders(self) -> list[str]:
        return [p for _, p in self.catalog.folders()]

    def add_folder(self, folder: str | os.PathLike[str]) -> None:
        path = Path(folder).expanduser().absolute()
        if not path.is_dir():
            raise SimiliError(f"{path} is not a folder that can be read")
        with self.catalog.transaction():
            self.catalog.add_folder(path)

    def remove_folder(self, folder: str | os.PathLike[str]) -> int:
        """Forget a folder and its photos; the files themselves are never touched. Returns photos removed."""
        with self.writing():
            removed = self.catalog.remove_folder(Path(folder).expanduser().absolute())
            index = self.code_index()
            if index is not None and removed:
                index.remove(np.asarray(removed, dtype=np.int64))
                model_store.save_index(self, index)
            return len(removed)

    # -- jobs ----------------------------------------------------------------------------------------
    def index(self, folders: list[str | os.PathLike[str]] | None = None) -> Generator[Progress, None, IndexReport]:
        """Scan folders (all library folders by default), encode new photos, update codes and index."""
        from engine.indexer import run_index

        with self.writing():
            for folder in folders or []:
                self.add_folder(folder)
            report = yield from run_index(self)
        return report

    def training_available(self) -> tuple[bool, str]:
        from engine.trainer import training_available

        return training_available()

    def train(self, bits: int | None = None, device: str | None = None, seed: int = 0,
              should_stop=None) -> Generator[Progress, None, ModelInfo]:
        """Train DistillHash on the cached features, export, verify, re-encode and switch the index."""
        from engine.trainer import run_training

        with self.writing():
            info = yield from run_training(self, bits or self.settings.bits, device or self.settings.device, seed,
                                           should_stop)
        return info

    def train_in_subprocess(self, bits: int | None = None, device: str | None = None, seed: int = 0,
                            should_stop=None) -> Generator[Progress, None, ModelInfo]:
        """Same as :meth:`train`, in a child process, so the caller's process never imports torch."""
        from engine.trainer import train_in_subprocess

        info = yield from train_in_subprocess(self.home, bits or self.settings.bits, device or self.settings.device,
                                              seed, should_stop)
        with self._lock:
            self._coder = None
            self._index = None
        return info

    def discard_training(self, bits: int | None = None) -> None:
        """Forget a paused training run so the next one starts from scratch (Cancel rather than Pause)."""
        import shutil

        shutil.rmtree(self.home / "train" / f"distillhash-{bits or self.settings.bits}", ignore_errors=True)

    # -- models --------------------------------------------------------------------------------------
    def models(self) -> list[ModelInfo]:
        return [m[0] for m in self.catalog.models()]

    def activate_model(self, model_id: int) -> ModelInfo:
        """Make an earlier model active again (roll back); the index switches atomically."""
        with self.writing():
            target = next((m for m in self.catalog.models() if m[0].id == model_id), None)
            if target is None:
                raise SimiliError(f"there is no model {model_id}; `simili models` lists them")
            model_store.load_coder(self.home, target[0], target[1], target[2])  # verify before switching
            self.catalog.activate_model(model_id)
            index = self.code_index()
            if index is not None:
                model_store.save_index(self, index)
            return next(m for m in self.models() if m.id == model_id)

    # -- queries -------------------------------------------------------------------------------------
    def photo_count(self) -> int:
        return self.catalog.counts()["ok"]

    def photos(self, offset: int = 0, limit: int = -1) -> list[Photo]:
        return list(self.catalog.iter_photos(offset, limit))

    def photo(self, photo_id: int) -> Photo | None:
        return self.catalog.photo(photo_id)

    def failures(self) -> list[FileError]:
        return self.catalog.failures()

    def _max_distance(self, max_distance: int | None, fraction: float, bits: int) -> int:
        return int(max_distance) if max_distance is not None else int(round(fraction * bits))

    def similar(self, photo: int | str | os.PathLike[str], k: int | None = None,
                max_distance: int | None = None) -> list[Neighbor]:
        """Photos most similar to a photo of the library (by id or path), nearest first, itself excluded."""
        index = self.code_index()
        if index is None or len(index) == 0:
            raise NotIndexed("the library has no searchable photos yet; index a folder first")
        if isinstance(photo, (int, np.integer)):
            pid = int(photo)
            if self.catalog.photo(pid) is None:
                raise NotIndexed(f"there is no photo {pid} in this library")
        else:
            path = Path(photo).expanduser().absolute()
            found = self.catalog.photo_by_path(path)
            if found is None:
                raise NotIndexed(f"{path} is not in this library; use --image to search by any image file")
            if found[1] != "ok":
                raise NotIndexed(f"{path} is in the library but could not be indexed (see `simili status`)")
            pid = int(found[0].id)
        if pid not in index:
            raise NotIndexed(f"photo {pid} has no code yet; run `simili index` again")
        query_feature = self.features.get([self.catalog.feat_row_of([pid])[pid]])[0]
        return self._search(index, query_feature, k, max_distance, exclude=pid)

    def similar_to_image(self, path: str | os.PathLike[str], k: int | None = None,
                         max_distance: int | None = None) -> list[Neighbor]:
        """Photos most similar to any image file (it need not be in the library)."""
        from engine.decode import decode

        index = self.code_index()
        if index is None or len(index) == 0:
            raise NotIndexed("the library has no searchable photos yet; index a folder first")
        decoded = decode(os.fspath(path), size=self.backbone.input_size)
        feature = self.backbone.embed(decoded.pixels[None])[0]
        return self._search(index, feature, k, max_distance, exclude=None)

    def _search(self, index: CodeIndex, feature: np.ndarray, k: int | None, max_distance: int | None,
                exclude: int | None) -> list[Neighbor]:
        """Hamming shortlist, re-ranked by the asymmetric score of the query's projection, best ones refined.

        1. faiss gives the ``shortlist_size`` nearest codes by Hamming distance (from the query's sign code);
        2. they are ordered by the asymmetric score (``asymmetric_scores``: the query keeps its real projection);
        3. the best ``refine_size(k)`` are re-ordered by ``blended_scores``: code match plus the cosine of the stored
           features (read only for those), which separates near-duplicates finer than 64 bits can.
        A clicked photo is queried exactly like a dropped image, from its own backbone feature: the database codes of
        a trained model also carry each photo's neighbourhood (``engine.train.database_features``), queries never do.
        """
        k = int(k or self.settings.similar_k)
        limit = self._max_distance(max_distance, self.settings.similar_max_distance, index.bits)
        projection = self.coder().project(feature[None])[0]
        want = shortlist_size(k + (exclude is not None), len(index))
        dist, ids = index.search(pack_signs(projection[None]), want)
        hit = (ids[0] >= 0) & (ids[0] != (-1 if exclude is None else exclude)) & (dist[0] <= limit)
        cand, cand_dist = ids[0][hit], dist[0][hit]
        if not len(cand):
            return []
        match = asymmetric_scores(projection, index.codes_of(cand)) / max(float(np.abs(projection).sum()), 1e-12)
        head = np.lexsort((cand_dist, -match))[: refine_size(k)]  # best match first; equal ones by Hamming distance
        top = [int(i) for i in cand[head]]
        rows = self.catalog.feat_row_of(top)
        cos = _cosine(self.features.get([rows[i] for i in top]), feature)
        final = np.argsort(-blended_scores(match[head], cos), kind="stable")[:k]
        photos = self.catalog.photos_by_ids([top[j] for j in final])
        return [Neighbor(photos[top[j]], int(cand_dist[head[j]]), float(cos[j]), float(match[head[j]]))
                for j in final if top[j] in photos]

    def duplicates(self, max_distance: int | None = None, min_cosine: float | None = None) -> list[list[Photo]]:
        """Groups of near-identical photos (resized, recompressed, lightly cropped or rotated copies).

        Candidates come from a Hamming radius search (stricter than "similar"); each candidate pair is then
        confirmed on the stored backbone features (cosine >= ``min_cosine``), and groups are the connected
        components of confirmed pairs. Largest groups first.
        """
        from engine.dupes import find_groups

        index = self.code_index()
        if index is None or len(index) == 0:
            return []
        radius = self._max_distance(max_distance, self.settings.dupe_max_distance, index.bits)
        min_cos = self.settings.dupe_min_cosine if min_cosine is None else float(min_cosine)
        groups = find_groups(self, index, radius, min_cos)
        photos = self.catalog.photos_by_ids([i for g in groups for i in g])
        return [[photos[i] for i in g if i in photos] for g in groups]

    def status(self) -> Status:
        counts = self.catalog.counts()
        active = self._active()
        available, reason = self.training_available()
        try:
            provider = self.backbone.provider
            if self.backbone.fallback_reason:
                provider += f" ({self.backbone.fallback_reason})"
        except SimiliError as exc:
            provider = f"unavailable ({exc})"
        return Status(
            home=str(self.home),
            folders=self.folders(),
            photos=sum(counts.values()),
            indexed=counts["ok"],
            failed=counts["error"],
            pending=counts["pending"],
            provider=provider,
            model=active[0] if active else None,
            training_available=available,
            training_reason=reason,
            failures=self.catalog.failures(),
        )


def _cosine(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    return rows @ q.astype(np.float32)
