"""Everything one library keeps on disk, opened together: ``Store(home)``.

A store holds the catalog, the feature cache, the settings, the writer lock and the model store (coder and index
caches). Jobs and queries take the parts they need from it; the facade (``engine.api``) is built on top of it.
:meth:`Store.view` opens a second store on the same library for a reader that must never see an index a running
job is changing (the desktop app searches while it indexes): it shares the catalog and the settings, and has its own
feature map and model caches, which reload when the writer saves a new index generation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from engine._atomic import atomic_write_bytes
from engine.library.catalog import Catalog
from engine.library.compact import finish_swap
from engine.library.safety import contained, remove_planted_links
from engine.errors import LibraryBusy, SimiliError
from engine.library.featstore import FeatureStore
from engine.library.modelstore import ModelStore
from engine.library.paths import resolve_home
from engine.library.settings import SettingsFile
from engine.types import Settings

if TYPE_CHECKING:
    from engine.model.backbone import Backbone

__all__ = ["Store", "FEATURE_DIM", "note_folders", "restore_folders"]

log = logging.getLogger(__name__)

FEATURE_DIM = 1280
_FOLDERS_NOTE = "folders.json"


def _no_free_space(home: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(home).free < (1 << 20)
    except OSError:
        return False


def _sidecars(db: Path) -> bool:
    return any(Path(f"{db}{end}").exists() and Path(f"{db}{end}").stat().st_size for end in ("-wal", "-journal"))


def note_folders(home: Path, catalog: Catalog) -> None:
    """Write the library folders to ``folders.json``, so that a catalog lost whole keeps its folders."""
    payload = {"folders": [f for _, f in catalog.folders()]}
    try:
        atomic_write_bytes(contained(home, _FOLDERS_NOTE), json.dumps(payload, indent=1).encode("utf-8"))
    except (OSError, SimiliError) as exc:
        log.warning("folders.json not written: %s", exc)


def restore_folders(home: Path, catalog: Catalog) -> int:
    """Folders a catalog without any folder lost (``folders.json`` lists them): added back; how many."""
    if catalog.folders():  # the usual case, checked first: no file is read when a library opens
        return 0
    try:
        listed = json.loads((Path(home) / _FOLDERS_NOTE).read_text(encoding="utf-8"))["folders"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return 0
    if not isinstance(listed, list):
        return 0
    folders = [f for f in listed if isinstance(f, str) and f.strip()]
    for folder in folders:
        catalog.add_folder(folder)
    if folders:
        log.warning("the catalog had no folders; %d restored from %s", len(folders), _FOLDERS_NOTE)
    return len(folders)


class Store:
    """The parts of the library at ``home`` (default ``$SIMILI_HOME`` or the per-user data dir).

    Args:
        home: the library folder, created when missing.
        catalog, settings: shared with the store this one is a view of (:meth:`view`); opened when omitted.
        backbone: the image model (anything with ``input_size``, ``dim`` and ``embed``); the ONNX one, loaded on
            first use, when omitted.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, *, catalog: Catalog | None = None,
                 settings: SettingsFile | None = None, backbone: Backbone | None = None):
        self.home = resolve_home(home)
        if self.home.exists() and not self.home.is_dir():
            raise SimiliError(f"{self.home} is a file, not a library folder; give another --home")
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SimiliError(f"cannot create the library folder {self.home}: {exc.strerror or exc}") from None
        db = self.home / "catalog.sqlite"
        self.read_only = not os.access(self.home, os.W_OK) or (db.exists() and not os.access(db, os.W_OK))
        self.healed: list[str] = []  # what opening the library put right (links taken away, folders restored)
        if not self.read_only and catalog is None:
            self.healed += remove_planted_links(self.home)
            if db.is_file() and db.stat().st_size == 0 and not _sidecars(db):
                db.unlink()  # a zero-byte catalog holds nothing: it is rebuilt below, keeping the folders
                self.healed.append("the catalog was an empty file")
        self._owns_catalog = catalog is None
        self.disk_full = False
        if catalog is None and not self.read_only and _no_free_space(self.home):
            # reads need no space: on a full disk the library is opened for reading, and writes say why they fail
            self.read_only = self.disk_full = db.is_file()
        self.catalog = catalog if catalog is not None else Catalog(db, read_only=self.read_only,
                                                                           frozen=self.disk_full)
        if not self.read_only and catalog is None:
            restored = restore_folders(self.home, self.catalog)
            if restored:
                self.healed.append(f"the catalog had lost its folders: {restored} restored from folders.json;"
                                   " their photos are read again by the next index")
        self.settings_file = settings if settings is not None else SettingsFile(self.home / "settings.json")
        if not self.read_only and catalog is None:
            finish_swap(self.catalog, self.home / "features.f16")
        rows = int(self.catalog.get_meta("feat_rows", "0") or 0)
        self.features = FeatureStore(self.home / "features.f16", FEATURE_DIM, rows, read_only=self.read_only)
        self.models = ModelStore(self.home, self.catalog, self.features)
        self._backbone = backbone
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self.settings_file.current

    @property
    def backbone(self) -> Backbone:
        """The image model (ONNX Runtime), loaded on first use."""
        with self._lock:
            if self._backbone is None:
                from engine.model.backbone import Backbone

                self._backbone = Backbone(device="cpu" if self.settings.device == "cpu" else "auto")
            return self._backbone

    def view(self) -> Store:
        """Another store on this library with its own feature map and model caches (see the module docstring)."""
        return Store(self.home, catalog=self.catalog, settings=self.settings_file)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's writer lock (one mutating job at a time, across processes)."""
        from filelock import FileLock, Timeout

        if self.disk_full:
            raise SimiliError(f"the disk of the library {self.home} is full: searching works, but indexing, training"
                              " and other changes need free space; free some and try again")
        if self.read_only:
            raise SimiliError(f"the library {self.home} is read-only: searching works, but indexing, training and"
                              " other changes need a folder that can be written")
        lock = FileLock(str(self.home / "writer.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise LibraryBusy(
                f"the library {self.home} is busy: another Simili window or command is indexing or training it;"
                " try again when it has finished"
            ) from None
        except OSError as exc:
            raise SimiliError(f"the library {self.home} is read-only ({exc.strerror or exc}): searching works, but"
                              " changes need a folder that can be written") from None
        try:
            yield
        finally:
            lock.release()

    def training_dir(self, bits: int) -> Path:
        """Where a DistillHash run of ``bits`` keeps its checkpoint between pauses."""
        return self.home / "train" / f"distillhash-{bits}"

    def note_folders(self) -> None:
        """Keep ``folders.json`` (the folders list's second home) in step with the catalog."""
        note_folders(self.home, self.catalog)

    def close(self) -> None:
        self.features.close()
        if self._owns_catalog:
            self.catalog.close()
