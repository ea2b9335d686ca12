"""Versioned models of one library: files under ``models/``, checksums in the catalog, one index per model.

:class:`ModelStore` owns what a search needs from them: the active model's coder and its search index, loaded once
and kept until the library changes. The index-generation protocol lives here too: whoever saves the active model's
index bumps the catalog's ``index_generation``, and every other view (another window, another process) reloads its
copy the next time it asks. Nothing is ever unpickled from the library folder: training-free coders are ``.npz``
read with ``allow_pickle=False`` and DistillHash coders are ONNX graphs.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine._atomic import atomic_write_bytes, sha256_file
from engine.library.catalog import ModelRecord
from engine.errors import CatalogError, ModelCorrupt, ModelMissing, SimiliError
from engine.library.safety import UnsafePath, contained
from engine.codes.calibration import FIXED, SAMPLE, Calibration, from_nearest
from engine.codes.neighbourhood import neighbourhood_features, smoothing_of
from engine.types import ModelInfo

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.codes.codeindex import CodeIndex
    from engine.codes.binary import LinearCoder
    from engine.library.featstore import FeatureStore

__all__ = ["ModelStore", "TRAINING_FREE", "index_path"]

log = logging.getLogger(__name__)

TRAINING_FREE = ("itq", "pca", "lsh")


def index_path(home: Path, model_id: int) -> Path:
    return home / "index" / f"model-{model_id}.cidx"


class ModelStore:
    """The models of the library at ``home``, with the active one's coder and index cached.

    Args:
        home: the library folder (model files and indexes live under it).
        catalog: the library's catalog (model rows, photo ids, feature rows).
        features: the feature cache the indexes are built from.
    """

    def __init__(self, home: Path, catalog: Catalog, features: FeatureStore):
        self.home = Path(home)
        self.catalog = catalog
        self.features = features
        self._lock = threading.RLock()
        self._coder = None
        self._coder_id: int | None = None
        self._index: CodeIndex | None = None
        self._index_key: tuple | None = None
        self._calibrated: tuple | None = None  # ((model id, photos), Calibration)

    # -- the catalog's model rows --------------------------------------------------------------------
    def infos(self) -> list[ModelInfo]:
        """Every model, newest first."""
        return [r.info for r in self.catalog.model_records()]

    def active(self) -> ModelRecord | None:
        return self.catalog.active_record()

    def add(self, kind: str, bits: int, payload_file: Path, n_fit: int, metrics: dict,
            activate: bool = True) -> ModelInfo:
        """Register a model file that already sits in ``models/`` (and make it active unless told not to)."""
        sha = sha256_file(payload_file)
        rel = payload_file.relative_to(self.home).as_posix()
        with self.catalog.transaction():
            model_id = self.catalog.add_model(kind, bits, rel, sha, n_fit, metrics)
            if activate:
                self.catalog.activate_model(model_id)
        return self.catalog.model_record(model_id).info

    def save_linear(self, coder: LinearCoder, n_fit: int) -> ModelInfo:
        """Store a training-free coder and make it the active model."""
        path = self.new_file(f"{coder.kind}-{coder.bits}", ".npz")
        atomic_write_bytes(path, coder.to_bytes())
        info = self.add(coder.kind, coder.bits, path, n_fit, {})
        self.forget()
        return info

    def new_file(self, stem: str, suffix: str, *, also: tuple[str, ...] = ()) -> Path:
        """A file name in ``models/`` no file has: ``STEM-N.SUFFIX`` with N above every model id and file there.

        Named by number, not by the time of day, so a clock set back (daylight saving, an NTP step) never gives a
        new model the name of an older one. ``also``: suffixes of companion files that must be free too.
        """
        folder = contained(self.home, "models")
        folder.mkdir(parents=True, exist_ok=True)
        n = max([r.info.id for r in self.catalog.model_records()] + [0]) + 1
        while any((folder / f"{stem}-{n}{end}").exists() for end in (suffix, *also)):
            n += 1
        return folder / f"{stem}-{n}{suffix}"

    def sweep(self) -> list[str]:
        """Remove model files no model row names (left by a training run killed during its export); a line each.

        Only regular files directly in ``models/`` are considered, never a link's target; a trained model's
        encoder (``NAME-encoder.onnx`` beside ``NAME.onnx``) belongs to its model.
        """
        try:
            folder = contained(self.home, "models")
            entries = list(folder.iterdir()) if folder.is_dir() else []
        except (UnsafePath, OSError):
            return []
        owned = {Path(r.file).name for r in self.catalog.model_records()}
        owned |= {n[: -len(".onnx")] + "-encoder.onnx" for n in owned if n.endswith(".onnx")}
        done = []
        for p in entries:
            if p.name in owned or p.is_symlink() or not p.is_file() or not p.name.endswith((".onnx", ".npz", ".tmp")):
                continue
            try:
                size = p.stat().st_size
                p.unlink()
            except OSError:
                continue
            done.append(f"{p.name} ({size / 1e6:.0f} MB) was left by an interrupted training run: removed")
        return done

    def drop(self, record: ModelRecord) -> None:
        """Delete a model's row, file and index (an earlier state of the catalog may still call it active)."""
        with self.catalog.transaction():
            current = self.catalog.model_record(record.info.id)
            if current is not None and current.info.active:
                raise CatalogError("the active model cannot be deleted")
            self.catalog.delete_model(record.info.id)
        for p in (record.file, index_path(self.home, record.info.id)):
            try:
                contained(self.home, p).unlink(missing_ok=True)
            except UnsafePath as exc:  # an altered or planted row: the file it names is not the library's
                log.warning("model %d: %s", record.info.id, exc)

    # -- coders --------------------------------------------------------------------------------------
    def verify(self, record: ModelRecord) -> str | None:
        """What is wrong with a model's file (missing, or not matching its checksum), or None when it is sound."""
        try:
            path = contained(self.home, record.file)
        except UnsafePath:
            return "outside the library folder (the catalog row was altered)"
        if not path.is_file():
            return "missing"
        try:
            same = sha256_file(path) == record.sha256
        except OSError as exc:
            return f"unreadable ({exc.strerror or exc})"
        return None if same else "damaged (it does not match its checksum)"

    def load_coder(self, record: ModelRecord):
        """The coder of a model (``encode(features) -> packed codes``), after checking its file's checksum."""
        info, path = record.info, self.home / record.file
        wrong = self.verify(record)
        if wrong == "missing":
            raise ModelMissing(f"model {info.id} ({info.kind}) is missing its file {path}; run `simili index` to"
                               " fall back to a working model")
        if wrong:
            raise ModelCorrupt(f"model {info.id} ({info.kind}) file {path} is {wrong}; it was not loaded."
                               " Run `simili index` to fall back to a working model")
        if info.kind in TRAINING_FREE:
            from engine.codes.binary import LinearCoder

            try:
                return LinearCoder.from_bytes(path.read_bytes())
            except (OSError, ValueError, KeyError) as exc:
                raise ModelCorrupt(f"model file {path} cannot be read: {exc}") from exc
        if info.kind == "distillhash":
            from engine.codes.hashcoder import HashCoder

            return HashCoder(path)
        raise ModelMissing(f"model {info.id} has an unknown kind {info.kind!r}")

    def coder(self):
        """The active model's coder, loaded once and checksum-verified; None before the first model."""
        with self._lock:
            active = self.active()
            if active is None:
                return None
            if self._coder is None or self._coder_id != active.info.id:
                self._coder = self.load_coder(active)
                self._coder_id = active.info.id
            return self._coder

    # -- indexes -------------------------------------------------------------------------------------
    def index(self) -> CodeIndex | None:
        """The active model's index, reconciled with the catalog (reloaded when another view saved a newer one)."""
        with self._lock:
            active = self.active()
            if active is None:
                return None
            self._refresh_rows()  # another process may have added photos since
            key = (active.info.id, self.catalog.get_meta("index_generation", "0"), self.features.rows)
            if self._index is None or self._index_key != key:
                self._index = self._open(active.info)
                self._index_key = key
            return self._index

    def _open(self, info: ModelInfo) -> CodeIndex:
        """Load the model's index file and bring it in line with the catalog (a lost one is rebuilt)."""
        from engine.codes.codeindex import CodeIndex

        path = index_path(self.home, info.id)
        index = None
        if path.exists():
            try:
                index = CodeIndex.load(path)
            except CatalogError as exc:
                log.warning("index %s unreadable (%s); rebuilding it from the feature cache", path, exc)
        if index is None or index.bits != info.bits:
            index = CodeIndex(info.bits)
        return self.reconcile(info, index)

    def reconcile(self, info: ModelInfo, index: CodeIndex, coder=None) -> CodeIndex:
        """Bring ``index`` (model ``info``'s) in line with the catalog: codes of gone photos out, new ones in."""
        want = self.catalog.ok_ids()
        self._refresh_rows()  # read after the ids: a writer commits a photo's feature row with its "ok"
        have = index.ids()
        extra = np.setdiff1d(have, want, assume_unique=True)
        if len(extra):
            index.remove(extra)
        missing = np.setdiff1d(want, have, assume_unique=True)
        if len(missing):
            coder = coder or self.coder()
            smoothing = smoothing_of(info)
            prepare = None
            if smoothing is not None and len(index):
                # Photos indexed since training: their neighbourhood found by the index itself (a lost index is
                # rebuilt from the photos' own features instead; the next training restores neighbourhood codes).
                k, self_weight = smoothing
                prepare = functools.partial(neighbourhood_features, self.catalog, self.features, index, coder,
                                            k=k, self_weight=self_weight)
            index.add(missing, self.encode_rows(coder, missing, prepare=prepare))
        return index

    def _refresh_rows(self) -> None:
        self.features.rows = max(self.features.rows, int(self.catalog.get_meta("feat_rows", "0") or 0))

    def encode_rows(self, coder, ids: np.ndarray, chunk: int = 65536, prepare=None) -> np.ndarray:
        """Codes of photos from their cached features, in chunks (1M photos never sit in RAM as floats).

        ``prepare``, when given, maps each chunk of features before it is encoded (``neighbourhood_features``).
        """
        rows_of = self.catalog.feat_row_of(ids.tolist())
        out = np.empty((len(ids), coder.bits // 8), dtype=np.uint8)
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            feats = self.features.get([rows_of[int(i)] for i in part])
            out[start : start + len(part)] = coder.encode(feats if prepare is None else prepare(feats))
        return out

    def save_index(self, index: CodeIndex, model_id: int | None = None) -> None:
        """Write a model's index (the active model's by default); for the active one, tell other views to reload."""
        active = self.active()
        if model_id is None:
            if active is None:
                return
            model_id = active.info.id
        path = contained(self.home, index_path(self.home, model_id).relative_to(self.home))
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save(path)
        if active is None or active.info.id != model_id:
            return
        with self._lock:
            with self.catalog.transaction():
                generation = int(self.catalog.get_meta("index_generation", "0") or 0) + 1
                self.catalog.set_meta("index_generation", str(generation))
            self._index, self._index_key = index, (model_id, str(generation), self.features.rows)

    def activate(self, model_id: int, index: CodeIndex | None = None) -> ModelInfo:
        """Make a model the active one: its coder is verified first, then its index is saved as the active one.

        ``index`` is the model's index when the caller has just built it (training); otherwise it is loaded
        (roll-back). Searches keep using the previous model until the switch.
        """
        record = self.catalog.model_record(model_id)
        if record is None:
            raise SimiliError(f"there is no model {model_id}; `simili models` lists them")
        self.load_coder(record)  # verify before switching
        self.catalog.activate_model(model_id)
        index = index if index is not None else self.index()
        if index is not None:
            self.save_index(index)
        return self.catalog.model_record(model_id).info

    def forget(self) -> None:
        """Drop the cached coder and index (the models changed behind this store, e.g. in a child process)."""
        with self._lock:
            self._coder = self._coder_id = None
            self._index = self._index_key = None
            self._calibrated = None

    # -- what the percentages mean (engine.codes.calibration) ------------------------------------------------------
    def calibration(self, index: CodeIndex) -> Calibration:
        """The active model's calibration on this library: the stored one when it was measured for this model on
        about as many photos, else measured now (about a second) and kept in memory; writers store it."""
        active = self.active()
        if active is None or len(index) == 0:
            return FIXED
        key = (active.info.id, len(index))
        with self._lock:
            if self._calibrated is not None and self._calibrated[0] == key:
                return self._calibrated[1]
            stored = Calibration.from_json(self.catalog.get_meta("calibration"))
            cal = stored if stored is not None and stored.fits(*key) else self._measure(index, active.info.id)
            self._calibrated = (key, cal)
            return cal

    def save_calibration(self) -> None:
        """Store the active model's calibration in the catalog (after indexing, learning or a roll-back)."""
        index = self.index()
        if index is None or len(index) == 0:
            return
        cal = self.calibration(index)
        if self.catalog.get_meta("calibration") != cal.to_json():
            with self.catalog.transaction():
                self.catalog.set_meta("calibration", cal.to_json())

    def _measure(self, index: CodeIndex, model_id: int) -> Calibration:
        from engine.codes.search import nearest_score

        coder = self.coder()
        ids = np.asarray(index.ids(), dtype=np.int64)
        chosen = ids if len(ids) <= SAMPLE else np.random.default_rng(model_id).choice(ids, SAMPLE, replace=False)
        rows = self.catalog.feat_row_of([int(i) for i in chosen])
        chosen = [int(i) for i in chosen if int(i) in rows]
        feats = self.features.get([rows[i] for i in chosen]) if chosen else np.zeros((0, 1), np.float32)
        found = [nearest_score(self.catalog, self.features, index, coder, f, index.bits, pid)
                 for pid, f in zip(chosen, feats)]
        return from_nearest(np.array([s for s in found if s is not None], dtype=np.float64), model_id, len(ids))
