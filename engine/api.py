"""The engine facade: ``Library(home)`` is everything the CLI and the GUI need, and all they import from the engine
besides ``engine.types`` and ``engine.errors``.

Long jobs (:meth:`Library.index`, :meth:`Library.train`) are generators that yield
:class:`~engine.types.Progress` and commit their work per batch, so dropping them at any yield (Cancel,
Ctrl-C) or killing the process leaves a consistent library that the next run resumes. Queries never import
torch: they run on the cached features, the active model's coder and a faiss binary index.

:meth:`Library.view` gives a read-only view of the same library for a reader that runs beside a job (the desktop
app's searches while it indexes): it shares the catalog and the settings and keeps its own search index.
:class:`~engine.types.LibraryFacade` is the typed surface both offer to clients (the GUI's test doubles implement it too).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.codes import search
from engine.duplicates import groups as duplicates
from engine.errors import CatalogError, DecodeError, NotIndexed, SimiliError
from engine.images.decode import IMAGE_EXTENSIONS
from engine.jobs import learn
from engine.jobs.scanning import offline_folders
from engine.library.paths import cache_dir, canonical_file, canonical_folder, log_dir, resolve_home
from engine.library.store import FEATURE_DIM, Store
from engine.types import (DuplicateGroup, FileError, IndexReport, LibraryFacade, ModelInfo, Neighbor, Photo,
                          Progress, Settings, Status, WordMatches)
from engine.library.names import LibraryNames, NameInfo
from engine.words.wordsearch import WordQuery, WordSearch, understand

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Library", "LibraryView", "LibraryFacade", "IndexReport", "FEATURE_DIM", "IMAGE_EXTENSIONS",
           "display_image", "resolve_home", "log_dir", "resources_root", "NameInfo", "is_library"]

log = logging.getLogger(__name__)


def display_image(path: str | os.PathLike[str], max_side: int) -> Image:
    """A photo decoded upright for display, no larger than ``max_side`` (a Pillow image; DecodeError if unreadable)."""
    from engine.images.decode import thumbnail

    return thumbnail(os.fspath(path), max_side)


def repair_catalog(home: str | os.PathLike[str] | None = None) -> str | None:
    """Rebuild a damaged catalog from its readable rows before the library is opened (``simili repair``).

    Returns a line saying what was done, or None when the catalog was sound.
    """
    from engine.library.salvage import salvage

    return salvage(resolve_home(home) / "catalog.sqlite")


def is_library(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a Simili library (its catalog), so that opening it shows photos."""
    return (Path(folder) / "catalog.sqlite").is_file()


def _named(folder: str | os.PathLike[str]) -> None:
    """An empty folder name (an unset variable in a script) is refused, never taken for the current folder."""
    if not os.fspath(folder).strip():
        raise SimiliError("no folder given (the name is empty); name a folder, e.g. simili index ~/Pictures")


def resources_root() -> Path:
    """The folder of the app's bundled resources (models, icons) in a checkout, a wheel or a frozen build."""
    from engine.resources import resources_root as root

    return root()


class LibraryView:
    """Queries on one library; every method is safe to call while a job of the same library runs elsewhere."""

    def __init__(self, store: Store):
        self.store = store
        self._thumbs = None
        self._words = WordSearch()

    @property
    def home(self) -> Path:
        return self.store.home

    @property
    def settings(self) -> Settings:
        return self.store.settings

    @property
    def cache_dir(self) -> Path:
        """Throw-away files of this library (thumbnails, pasted images); a read-only library's go to a temp folder."""
        if self.store.read_only:
            import hashlib
            import tempfile

            key = hashlib.blake2b(os.fsencode(self.home), digest_size=8).hexdigest()
            return Path(tempfile.gettempdir()) / f"simili-read-only-{key}"
        return cache_dir(self.home)

    # -- catalog -------------------------------------------------------------------------------------
    def folders(self) -> list[str]:
        return [p for _, p in self.store.catalog.folders()]

    def offline_folders(self) -> list[str]:
        """Library folders that are offline now (absent, unreadable, or empty where photos were): kept, not emptied."""
        return offline_folders(self.store.catalog)

    def photo_count(self) -> int:
        return self.store.catalog.counts()["ok"]

    def photos(self, offset: int = 0, limit: int = -1) -> list[Photo]:
        return list(self.store.catalog.iter_photos(offset, limit))

    def photo(self, photo_id: int) -> Photo | None:
        return self.store.catalog.photo(photo_id)

    def photo_at(self, path: str | os.PathLike[str]) -> Photo | None:
        """The indexed library photo at ``path``, or None (not in the library, or unreadable)."""
        found = self.store.catalog.photo_by_path(self._stored_path(path))
        return found[0] if found and found[1] == "ok" else None

    def _stored_path(self, path: str | os.PathLike[str]) -> Path:
        """``path`` spelled as the catalog stores it (canonical; the plain absolute spelling of older libraries)."""
        canonical = canonical_file(path)
        plain = Path(path).expanduser().absolute()
        if plain != canonical and self.store.catalog.photo_by_path(canonical) is None \
                and self.store.catalog.photo_by_path(plain) is not None:
            return plain
        return canonical

    def failures(self) -> list[FileError]:
        return self.store.catalog.failures()

    def models(self) -> list[ModelInfo]:
        """Every model of the library (the active one has ``active``), newest first."""
        return self.store.models.infos()

    def thumbnail_file(self, path: str, size: int, mtime: float | None = None) -> Path:
        """The cached thumbnail file of a photo (long side ``size``), made first when needed."""
        if self._thumbs is None:
            from engine.library.thumbcache import ThumbCache

            self._thumbs = ThumbCache(self.cache_dir / "thumbs")
        return self._thumbs.get(path, size, mtime)

    # -- search --------------------------------------------------------------------------------------
    def _searchable(self):
        index = self.store.models.index()
        if index is None or len(index) == 0:
            raise NotIndexed("the library has no searchable photos yet; index a folder first")
        return index

    def _search(self, index, feature, k: int | None, max_distance: int | None, exclude: int | None) -> list[Neighbor]:
        store = self.store
        limit = search.distance_limit(max_distance, store.settings.similar_max_distance, index.bits)
        copies = duplicates.copies_of(store.catalog, exclude) if exclude is not None else None
        found = search.search(store.catalog, store.features, index, store.models.coder(), feature,
                              int(k or store.settings.similar_k), limit, exclude, copies,
                              store.models.calibration(index))
        return [n if os.path.exists(n.photo.path) else dataclasses.replace(n, offline=True) for n in found]

    def similar(self, photo: int | str | os.PathLike[str], k: int | None = None,
                max_distance: int | None = None) -> list[Neighbor]:
        """Photos most similar to a photo of the library (by id or path), nearest first, itself excluded. Copies of
        it that the duplicate check confirmed on the pixels come first (``engine.codes.search.search``, point 4)."""
        index = self._searchable()
        if not isinstance(photo, (int, np.integer)):
            photo = self._stored_path(photo)
        pid = search.library_photo(self.store.catalog, index, photo)
        feature = self.store.features.get([self.store.catalog.feat_row_of([pid])[pid]])[0]
        return self._search(index, feature, k, max_distance, exclude=pid)

    def similar_to_image(self, path: str | os.PathLike[str], k: int | None = None,
                         max_distance: int | None = None) -> list[Neighbor]:
        """Photos most similar to any image file (it need not be in the library)."""
        from engine.images.decode import decode

        index = self._searchable()
        backbone = self.store.backbone
        try:
            decoded = decode(os.fspath(path), size=backbone.input_size)
        except DecodeError as exc:  # name the file: the reason alone ("file not found") does not say which
            raise DecodeError(exc.code, f"{os.fspath(path)}: {exc.message}") from exc
        return self._search(index, backbone.embed(decoded.pixels[None])[0], k, max_distance, exclude=None)

    def similar_to_text(self, text: str, k: int | None = None) -> WordMatches:
        """Photos that show what the words say ("dog", "red shoes", "fruit"), best first.

        Raises UnknownWords (with suggestions) when no word is known. The first query of a library indexed by an
        older Simili reads what every photo shows from the feature cache once (``engine.words.concepts``).
        """
        from engine.words.vocab import Vocabulary

        index = self._searchable()
        taught = [n.name for n in self.store.catalog.name_infos()]
        query = understand(Vocabulary.load(), text, taught)
        results = self._words.search(self.store, index, query, int(k or self.store.settings.similar_k))
        return WordMatches(text, query.describe(), query.ignored, results)

    # -- names the user teaches (engine.library.names, engine.words.taught) ------------------------------------
    def names(self) -> list[NameInfo]:
        """Every name the user taught, by name, with how many photos show it and how many were rejected."""
        return self.store.catalog.name_infos()

    def named_photos(self, name: str) -> list[Photo]:
        """The photos the user said show ``name``."""
        yes, _ = self.store.catalog.name_answers(name)
        found = self.store.catalog.photos_by_ids(yes)
        return [found[i] for i in yes if i in found]

    def name_proposals(self, name: str, k: int | None = None) -> list[Neighbor]:
        """Photos that may show a taught name, best first, without those already answered (named or rejected)."""
        index = self._searchable()
        spelled = self.store.catalog.name_spelling(name)
        if spelled is None:
            raise SimiliError(f"no photo is named {name!r} yet; `simili names` lists the names")
        yes, no = self.store.catalog.name_answers(spelled)
        query = WordQuery(spelled, (), (), np.zeros(1000, np.float32), (), (spelled,))
        return self._words.search(self.store, index, query, int(k or self.store.settings.similar_k), hide=yes + no)

    def similar_refined(self, photo: int, more: list[int] = (), less: list[int] = (),
                        k: int | None = None) -> list[Neighbor]:
        """Photos like ``photo`` and the results marked "more like this" (``more``), unlike those marked "not like
        this" (``less``), best first: the same word model as a taught name, trained on the answers."""
        index = self._searchable()
        return self._words.search_examples(self.store, index, [int(photo), *map(int, more)], list(map(int, less)),
                                           int(k or self.store.settings.similar_k))

    def duplicates(self, max_distance: int | None = None, min_cosine: float | None = None,
                   progress: Callable[[Progress], None] | None = None) -> list[DuplicateGroup]:
        """Groups of copies of one photo (resized, recompressed, recoloured, cropped, mirrored, straightened...).

        Copy groups (``sure``) come first, largest first, then similar shots (``sure`` False: other captures of one
        scene, nothing marked for the trash). Each group lists the copy to keep first (``engine.duplicates.groups.
        KEEP_RULE``) and says how each other member differs from it. Candidates come from a Hamming radius search
        confirmed by the stored features; each pair's local detail is then matched on the photos' own pixels (ORB
        keypoints under one geometric transform, then the overlap's texture: ``engine.duplicates.matching``).
        ``progress`` is called (on this thread) as the comparison goes on. The index run measures these verdicts
        ahead and the catalog keeps them, so on an indexed library this reads stored answers and takes seconds.
        """
        store = self.store
        index = store.models.index()
        if index is None or len(index) == 0:
            return []
        radius, min_cos = self._dupe_limits(index, max_distance, min_cosine)
        return duplicates.find_groups(store.catalog, store.features, index, radius, min_cos, progress)

    def not_copies(self, photos: list[int | str | os.PathLike[str]]) -> int:
        """Remember that these photos (ids or paths, two or more) are not copies of one another: "Not copies" /
        "keep both". Stored in the catalog by file content, so the pair never comes back, after re-index, a move or
        training. Returns how many pairs were remembered."""
        ids = []
        for p in photos:
            found = self.photo(int(p)) if isinstance(p, int) else self.photo_at(p)
            if found is None:
                raise NotIndexed(f"{p} is not a photo of this library")
            ids.append(int(found.id))
        if len(set(ids)) < 2:
            raise NotIndexed("name two different photos of this library")
        if self.store.read_only:
            raise CatalogError("this library is read-only here: the decision cannot be stored")
        return duplicates.dismiss(self.store.catalog, ids)

    def _dupe_limits(self, index, max_distance: int | None = None,
                     min_cosine: float | None = None) -> tuple[int, float]:
        settings = self.store.settings
        radius = search.distance_limit(max_distance, settings.dupe_max_distance, index.bits)
        return radius, settings.dupe_min_cosine if min_cosine is None else float(min_cosine)

    # -- runtime -------------------------------------------------------------------------------------
    def training_available(self) -> tuple[bool, str]:
        return learn.training_available()

    def gpu_status(self) -> tuple[bool, str]:
        """Whether training can use a GPU, and why not (asked in a child process: torch never loads here)."""
        return learn.gpu_status_isolated()

    def health(self, full: bool = False) -> list[str]:
        """What is damaged in the library, one line each saying what to run; empty when it is sound.

        ``full`` also reads every cached feature and runs SQLite's full ``integrity_check`` (``simili repair``).
        """
        from engine.jobs.health import problems

        return problems(self.store, full=full)

    def status(self) -> Status:
        counts = self.store.catalog.counts()
        active = self.store.models.active()
        available, reason = self.training_available()
        try:
            backbone = self.store.backbone
            provider = backbone.provider
            if backbone.fallback_reason:
                provider += f" ({backbone.fallback_reason})"
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
            model=active.info if active else None,
            training_available=available,
            training_reason=reason,
            failures=self.store.catalog.failures(),
            offline=self.offline_folders(),
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Library(LibraryNames, LibraryView):
    """One photo library: several folders, one catalog, one feature cache, versioned models, one index.

    Args:
        home: the library folder; default ``$SIMILI_HOME`` or the per-user data dir.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None):
        super().__init__(Store(home))
        self._views: list[LibraryView] = []

    def view(self) -> LibraryView:
        """A read-only view of this library with its own search index (closed with the library)."""
        view = LibraryView(self.store.view())
        self._views.append(view)
        return view

    def close(self) -> None:
        for view in self._views:
            view.close()
        super().close()

    def writing(self):
        """Hold the library's writer lock (one mutating job at a time, across processes)."""
        return self.store.writing()

    def save_settings(self, settings: Settings | None = None) -> None:
        """Save the settings (``settings``, or the current ones edited in place); every view sees them."""
        self.store.settings_file.save(settings)

    # -- folders -------------------------------------------------------------------------------------
    def add_folder(self, folder: str | os.PathLike[str]) -> None:
        _named(folder)
        path = canonical_folder(folder)
        if not path.is_dir():
            raise SimiliError(f"{path} does not exist" if not path.exists() else f"{path} is a file, not a folder")
        if not os.access(path, os.R_OK | os.X_OK):
            raise SimiliError(f"{path} cannot be read (permission denied)")
        with self.store.catalog.transaction():
            self.store.catalog.add_folder(path)
        self.store.note_folders()

    def remove_folder(self, folder: str | os.PathLike[str]) -> int:
        """Forget a folder and its photos; the files themselves are never touched. Returns photos removed."""
        _named(folder)
        store = self.store
        with store.writing():
            known = {p for _, p in store.catalog.folders()}
            plain = str(Path(folder).expanduser().absolute())
            target = plain if plain in known else str(canonical_folder(folder))
            if target not in known:
                raise NotIndexed(f"{folder} is not a folder of this library; `simili folders` lists them")
            removed = store.catalog.remove_folder(target)
            store.note_folders()

            index = store.models.index()
            if index is not None and removed:
                index.remove(np.asarray(removed, dtype=np.int64))
                store.models.save_index(index)
            return len(removed)

    # -- jobs ----------------------------------------------------------------------------------------
    def index(self, folders: list[str | os.PathLike[str]] | None = None) -> Generator[Progress, None, IndexReport]:
        """Scan folders (all library folders by default), encode new photos, update codes and index."""
        from engine.jobs.health import heal
        from engine.jobs.indexing import run_index

        with self.writing():
            for folder in folders or []:
                self.add_folder(folder)
            heal(self.store)
            self.store.note_folders()
            report = yield from run_index(self.store)
            yield from self._check_copies()
            self.store.models.save_calibration()
        return report

    def train(self, bits: int | None = None, device: str | None = None, seed: int = 0,
              should_stop: Callable[[], bool] | None = None) -> Generator[Progress, None, ModelInfo]:
        """Train DistillHash on the cached features, export, verify, re-encode and switch the index."""
        with self.writing():
            info = yield from learn.run_training(self.store, bits or self.settings.bits,
                                                 device or self.settings.device, seed, should_stop)
            self.store.models.save_calibration()
        return info

    def _check_copies(self) -> Generator[Progress, None, None]:
        """At the end of an index run: the copy verdicts the next duplicate search needs, measured now
        (``engine.duplicates.groups.check_job``), so the duplicates open in seconds. (Not after training: its codes bring
        few new look-alike pairs, which the next search measures, and a training run cancelled during the check
        would look unfinished.)"""
        store = self.store
        index = store.models.index()
        if index is not None:
            yield from duplicates.check_job(store.catalog, store.features, index, *self._dupe_limits(index))

    def train_in_subprocess(self, bits: int | None = None, device: str | None = None, seed: int = 0,
                            should_stop: Callable[[], bool] | None = None) -> Generator[Progress, None, ModelInfo]:
        """Same as :meth:`train`, in a child process, so the caller's process never imports torch."""
        info = yield from learn.train_in_subprocess(self.home, bits or self.settings.bits,
                                                    device or self.settings.device, seed, should_stop)
        self.store.models.forget()
        return info

    def repair(self) -> Generator[Progress, None, Any]:
        """Check everything (``health(full=True)``), repair what can be, then index: only lost photos are re-read.

        Returns a :class:`engine.jobs.health.Repair` (what was repaired, and the index run's report).
        """
        from engine.jobs.health import run_repair

        with self.writing():
            done = yield from run_repair(self.store)
        return done

    def discard_training(self, bits: int | None = None) -> None:
        """Forget a paused training run so the next one starts from scratch (Cancel rather than Pause)."""

        learn.discard_checkpoint(self.store, bits or self.settings.bits)

    def activate_model(self, model_id: int) -> ModelInfo:
        """Make an earlier model active again (roll back); the index switches atomically."""
        with self.writing():
            info = self.store.models.activate(model_id)
            self.store.models.save_calibration()
            return info

