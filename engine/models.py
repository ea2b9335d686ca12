"""Versioned models in the library: files under ``models/``, checksums in the catalog, one index per model.

Nothing is ever unpickled from the library folder: training-free coders are ``.npz`` read with
``allow_pickle=False`` and DistillHash coders are ONNX graphs.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine._atomic import atomic_write_bytes, sha256_file
from engine.errors import CatalogError, ModelCorrupt, ModelMissing
from engine.neighbourhood import neighbourhood_features, smoothing_of
from engine.types import ModelInfo

if TYPE_CHECKING:
    from engine.api import Library
    from engine.codes import LinearCoder
    from engine.index import CodeIndex

__all__ = ["add_model", "load_coder", "index_path", "open_index", "reconcile", "save_index", "encode_rows"]

log = logging.getLogger(__name__)

TRAINING_FREE = ("itq", "pca", "lsh")


def add_model(lib: Library, kind: str, bits: int, payload_file: Path, n_fit: int, metrics: dict,
              activate: bool = True) -> ModelInfo:
    """Register a model file that already sits in ``models/`` (and make it active unless told not to)."""
    sha = sha256_file(payload_file)
    rel = payload_file.relative_to(lib.home).as_posix()
    with lib.catalog.transaction():
        model_id = lib.catalog.add_model(kind, bits, rel, sha, n_fit, metrics)
        if activate:
            lib.catalog.activate_model(model_id)
    return next(m for m in lib.models() if m.id == model_id)


def save_linear(lib: Library, coder: LinearCoder, n_fit: int) -> ModelInfo:
    path = lib.home / "models" / f"{coder.kind}-{coder.bits}-{time.strftime('%Y%m%d-%H%M%S')}-{n_fit}.npz"
    atomic_write_bytes(path, coder.to_bytes())
    return add_model(lib, coder.kind, coder.bits, path, n_fit, {})


def load_coder(home: Path, info: ModelInfo, file: str, sha256: str):
    """The coder of a model (``encode(features) -> packed codes``), after checking its file's checksum."""
    path = home / file
    if not path.is_file():
        raise ModelMissing(f"model {info.id} ({info.kind}) is missing its file {path}; activate another model")
    if sha256_file(path) != sha256:
        raise ModelCorrupt(
            f"model {info.id} ({info.kind}) file {path} does not match its checksum (truncated or altered);"
            " it was not loaded. Activate another model or train again."
        )
    if info.kind in TRAINING_FREE:
        from engine.codes import LinearCoder

        try:
            return LinearCoder.from_bytes(path.read_bytes())
        except (OSError, ValueError, KeyError) as exc:
            raise ModelCorrupt(f"model file {path} cannot be read: {exc}") from exc
    if info.kind == "distillhash":
        from engine.hashcoder import HashCoder

        return HashCoder(path)
    raise ModelMissing(f"model {info.id} has an unknown kind {info.kind!r}")


def index_path(home: Path, model_id: int) -> Path:
    return home / "index" / f"model-{model_id}.cidx"


def encode_rows(lib: Library, coder, ids: np.ndarray, chunk: int = 65536, prepare=None) -> np.ndarray:
    """Codes of photos from their cached features, in chunks (1M photos never sit in RAM as floats).

    ``prepare``, when given, maps each chunk of features before it is encoded (``neighbourhood_features``).
    """
    rows_of = lib.catalog.feat_row_of(ids.tolist())
    out = np.empty((len(ids), coder.bits // 8), dtype=np.uint8)
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        feats = lib.features.get([rows_of[int(i)] for i in part])
        out[start : start + len(part)] = coder.encode(feats if prepare is None else prepare(feats))
    return out


def open_index(lib: Library, info: ModelInfo, coder=None) -> CodeIndex:
    """Load the model's index and bring it in line with the catalog (codes added/removed in memory)."""
    from engine.index import CodeIndex

    path = index_path(lib.home, info.id)
    index = None
    if path.exists():
        try:
            index = CodeIndex.load(path)
        except CatalogError as exc:
            log.warning("index %s unreadable (%s); rebuilding it from the feature cache", path, exc)
    if index is None or index.bits != info.bits:
        index = CodeIndex(info.bits)
    return reconcile(lib, info, index, coder)


def reconcile(lib: Library, info: ModelInfo, index: CodeIndex, coder=None) -> CodeIndex:
    """Bring ``index`` (the model ``info``'s) in line with the catalog: codes of gone photos removed, new ones added."""
    want = lib.catalog.ok_ids()
    have = index.ids()
    extra = np.setdiff1d(have, want, assume_unique=True)
    if len(extra):
        index.remove(extra)
    missing = np.setdiff1d(want, have, assume_unique=True)
    if len(missing):
        coder = coder or lib.coder()
        smoothing = smoothing_of(info)
        prepare = None
        if smoothing is not None and len(index):
            # Photos indexed since training: their neighbourhood found by the index itself (a lost index is
            # rebuilt from the photos' own features instead; the next training restores neighbourhood codes).
            k, self_weight = smoothing
            prepare = functools.partial(neighbourhood_features, lib, index, coder, k=k, self_weight=self_weight)
        index.add(missing, encode_rows(lib, coder, missing, prepare=prepare))
    return index


def save_index(lib: Library, index: CodeIndex, model_id: int | None = None) -> None:
    """Write a model's index (the active model's by default) and tell other processes to reload it."""
    active = lib.catalog.active_model()
    if model_id is None:
        if active is None:
            return
        model_id = active[0].id
    path = index_path(lib.home, model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    index.save(path)
    if active is None or active[0].id != model_id:
        return
    with lib.catalog.transaction():
        generation = int(lib.catalog.get_meta("index_generation", "0") or 0) + 1
        lib.catalog.set_meta("index_generation", str(generation))
    lib._index_key = (active[0].id, str(generation), lib.features.rows)


def drop_model(lib: Library, info: ModelInfo, file: str) -> None:
    """Delete an inactive model's row, file and index."""
    if info.active:
        raise CatalogError("the active model cannot be deleted")
    with lib.catalog.transaction():
        lib.catalog.db.execute("DELETE FROM models WHERE id=?", (info.id,))
    for p in (lib.home / file, index_path(lib.home, info.id)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
