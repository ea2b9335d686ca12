"""Each job and query on only the store parts it takes: no ``Library``, no ONNX image model.

The catalog rows and the feature cache are filled directly with clustered random features, so every test runs in
well under a second and says exactly which parts a job needs.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.library.catalog import Catalog, fs_bytes
from engine.codes.codeindex import CodeIndex
from engine.codes.binary import fit_itq, l2_normalize
from engine.duplicates.groups import find_groups
from engine.library.featstore import FeatureStore
from engine.progress import run_to_end
from engine.codes.neighbourhood import neighbourhood_features
from engine.codes.search import search
from engine.library.store import FEATURE_DIM, Store

DIM = 64
BITS = 32


def _clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, dim)).astype(np.float32)
    return centres[np.arange(n) % 8] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)


def _fill(catalog: Catalog, features: FeatureStore, feats: np.ndarray, folder: Path) -> np.ndarray:
    """One indexed photo per feature row; returns their ids in row order."""
    rows = features.append(feats)
    with catalog.transaction():
        folder_id = catalog.add_folder(folder)
        catalog.insert_indexed(folder_id, [(fs_bytes(folder / f"{r:05d}.jpg"), 1, 0, r, 8, 8) for r in rows])
        catalog.set_meta("feat_rows", str(rows.stop))
    features.commit(rows)
    return catalog.ok_ids()


@pytest.fixture
def parts(tmp_path):
    """(catalog, feature cache, ids, features, coder, index) of 200 photos."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    features = FeatureStore(tmp_path / "features.f16", DIM, 0)
    feats = _clustered(200)
    ids = _fill(catalog, features, feats, tmp_path / "photos")
    coder = fit_itq(feats, BITS)
    index = CodeIndex(BITS)
    index.add(ids, coder.encode(feats))
    yield catalog, features, ids, features.get(np.arange(len(ids))), coder, index
    features.close()
    catalog.close()


def test_search_ranks_a_stored_photo_first_and_honours_exclude_and_limit(parts):
    catalog, features, ids, feats, coder, index = parts
    for row in (0, 17, 123):
        found = search(catalog, features, index, coder, feats[row], k=5, limit=BITS)
        assert found[0].photo.id == ids[row] and found[0].distance == 0
        assert len(found) == 5 and len({n.photo.id for n in found}) == 5
        same = search(catalog, features, index, coder, feats[row], k=5, limit=BITS, exclude=int(ids[row]))
        assert ids[row] not in {n.photo.id for n in same}
    assert all(n.distance <= 3 for n in search(catalog, features, index, coder, feats[5], k=50, limit=3))


def test_duplicates_need_pixel_evidence_not_only_features(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    features = FeatureStore(tmp_path / "features.f16", DIM, 0)
    feats = _clustered(60)
    copies = feats[[3, 3, 40]] + 0.01 * np.random.default_rng(1).standard_normal((3, DIM)).astype(np.float32)
    ids = _fill(catalog, features, np.concatenate([feats, copies]), tmp_path / "photos")
    coder = fit_itq(feats, BITS)
    index = CodeIndex(BITS)
    index.add(ids, coder.encode(features.get(np.arange(len(ids)))))
    # features alone never make a group: without the photos' pixel signatures nothing is proposed
    assert find_groups(catalog, features, index, radius=6, min_cosine=0.85) == []


def test_neighbourhood_features_mix_in_the_nearest_stored_photo(parts):
    catalog, features, ids, feats, coder, index = parts
    near = [4, 50, 77, 150]  # new photos: slightly edited copies of these stored ones
    new = feats[near] + 0.05 * np.random.default_rng(5).standard_normal((len(near), DIM)).astype(np.float32)
    got = neighbourhood_features(catalog, features, index, coder, new, k=1, self_weight=0.6)
    x = l2_normalize(new)
    assert np.allclose(got, l2_normalize(0.6 * x + 0.4 * l2_normalize(feats[near])), atol=1e-5)
    assert np.allclose(neighbourhood_features(catalog, features, CodeIndex(BITS), coder, new, 1, 0.6), x)


def test_model_store_switches_models_and_other_views_reload_on_a_new_generation(tmp_path):
    store = Store(tmp_path / "lib")
    feats = np.abs(_clustered(100, FEATURE_DIM))
    ids = _fill(store.catalog, store.features, feats, tmp_path / "photos")
    first = store.models.save_linear(fit_itq(feats, 16), len(ids))
    reader = store.view()
    assert len(reader.models.index()) == 100 and reader.models.index().bits == 16

    index = store.models.index()
    index.remove(ids[:10])
    store.models.save_index(index)  # a new generation: the reader reloads, the writer keeps its own copy
    assert store.models.index() is index
    assert len(reader.models.index()) == 100  # reconciled again with the catalog, which still has them all

    second = store.models.save_linear(fit_itq(feats, 32), len(ids))
    assert reader.models.index().bits == 32 and reader.models.coder().bits == 32
    assert store.models.activate(first.id).active
    assert reader.models.index().bits == 16
    with pytest.raises(Exception, match="active model"):
        store.models.drop(store.catalog.model_record(first.id))
    store.models.drop(store.catalog.model_record(second.id))
    assert [m.id for m in store.models.infos()] == [first.id]
    store.close()


class _Backbone:
    """A stand-in image model: each image's feature is a fixed projection of its mean colour."""

    input_size = 32
    dim = FEATURE_DIM

    def __init__(self):
        self.basis = np.abs(np.random.default_rng(0).standard_normal((3, FEATURE_DIM))).astype(np.float32)

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        return pixels.reshape(len(pixels), -1, 3).mean(axis=1).astype(np.float32) @ self.basis


def test_index_job_scans_encodes_and_indexes_then_rescans_nothing(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(40):
        Image.new("HSV", (48, 36), (6 * i, 200, 90 + 4 * i)).convert("RGB").save(folder / f"{i:03d}.jpg")
    (folder / "broken.jpg").write_bytes(b"not a photo")
    store = Store(tmp_path / "lib", backbone=_Backbone())
    with store.catalog.transaction():
        store.catalog.add_folder(folder)
    from engine.jobs.indexing import run_index

    report = run_to_end(run_index(store))
    assert (report.added, report.indexed, report.failed) == (41, 40, 1)
    assert len(store.models.index()) == 40 and store.models.active().info.kind == "lsh"
    again = run_to_end(run_index(store))
    assert (again.added, again.unchanged, again.indexed) == (0, 41, 40)
    store.close()


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.parametrize("verdict", [True, False])
def test_learning_job_trains_checks_and_switches_only_when_the_check_passes(tmp_path, monkeypatch, verdict):
    pytest.importorskip("torch")
    import engine.learning.train
    from engine.jobs.learn import run_training
    from engine.learning.train_check import CheckResult

    seen = {}

    def check(train_feats, query_feats, trained, baseline, seed=0):
        seen["queries"] = len(query_feats)
        return CheckResult(passed=verdict, trained={4: 0.6}, baseline={4: 0.5}, queries=len(query_feats))

    monkeypatch.setattr(engine.learning.train, "compare_models", check)
    store = Store(tmp_path / "lib")
    feats = np.abs(_clustered(160, FEATURE_DIM))
    ids = _fill(store.catalog, store.features, feats, tmp_path / "photos")  # no files: no encoder parity images
    itq = store.models.save_linear(fit_itq(feats, 16), len(ids))
    info = run_to_end(run_training(store, bits=16, device="cpu", seed=0))
    assert seen["queries"] == 16  # 10 % held out
    assert info.kind == "distillhash" and info.active == verdict and info.metrics["head_bits_differ"] == 0
    assert info.metrics["check_passed"] == float(verdict)
    assert store.models.index().bits == 16 and len(store.models.index()) == len(ids)
    assert store.models.active().info.id == (info.id if verdict else itq.id)  # a failed check leaves search as it was
    assert not store.training_dir(16).exists()  # finished: nothing left to resume
    assert {m.id for m in store.models.infos()} == {itq.id, info.id}
    store.close()


@pytest.mark.train
def test_the_app_can_stop_training_even_when_it_was_started_with_ctrl_c_ignored(tmp_path):
    pytest.importorskip("torch")
    from engine.errors import Cancelled
    from engine.jobs.learn import train_in_subprocess

    store = Store(tmp_path / "lib")
    feats = np.abs(_clustered(160, FEATURE_DIM))
    ids = _fill(store.catalog, store.features, feats, tmp_path / "photos")
    store.models.save_linear(fit_itq(feats, 16), len(ids))
    store.close()
    learning = []
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a GUI started as `simili-gui &` has
    try:
        job = train_in_subprocess(tmp_path / "lib", bits=16, device="cpu", should_stop=lambda: bool(learning))
        with pytest.raises(Cancelled):
            for p in job:
                if p.stage == "train":
                    learning.append(p)  # the child is learning: ask it to stop
    finally:
        signal.signal(signal.SIGINT, previous)
    assert learning
    assert not [m for m in Store(tmp_path / "lib").catalog.model_records() if m.info.kind == "distillhash"]
