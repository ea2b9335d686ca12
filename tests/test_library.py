"""The engine facade end to end on real photos: index, similar, search by image, dupes, rescans."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from engine.duplicates import groups as duplicates
from engine.api import Library
from engine.codes.binary import blended_scores
from engine.errors import LibraryBusy, ModelCorrupt, NotIndexed
from tests.conftest import demo_photos, photo_folder, tree_digest


def run(job):
    """Drive a job generator to the end; return (progress list, result)."""
    seen = []
    try:
        while True:
            seen.append(next(job))
    except StopIteration as stop:
        return seen, stop.value


@pytest.fixture(scope="module")
def copies_library(copies_folder, tmp_path_factory):
    root, copies = copies_folder
    before = tree_digest(root)
    lib = Library(tmp_path_factory.mktemp("lib"))
    progress, report = run(lib.index([root]))
    yield lib, root, copies, progress, report, before
    lib.close()


def test_index_reports_progress_and_counts(copies_library):
    lib, root, copies, progress, report, _ = copies_library
    n_files = sum(1 for p in root.rglob("*") if p.is_file())
    assert report.indexed == n_files == report.added
    assert report.failed == 0
    stages = {p.stage for p in progress}
    assert {"scan", "encode", "index"} <= stages
    encode = [p for p in progress if p.stage == "encode" and p.done]
    assert encode[-1].done == encode[-1].total == n_files
    assert encode[-1].rate and encode[-1].rate > 0


def test_photo_folder_is_never_written(copies_library):
    lib, root, *_, before = copies_library
    assert tree_digest(root) == before


def test_copies_rank_in_top5(copies_library):
    """A photo's own copies (50% resize, JPEG q50, 10% crop, EXIF-tagged 90° rotation) are its nearest."""
    lib, root, copies, *_ = copies_library
    hits = total = 0
    for original, its_copies in copies.items():
        top5 = {Path(n.photo.path) for n in lib.similar(original, k=5)}
        hits += len(top5 & set(its_copies))
        total += len(its_copies)
    assert hits / total >= 0.9, f"only {hits}/{total} copies in the top 5"


def test_similar_results_are_sorted_and_exclude_query(copies_library):
    lib, root, copies, *_ = copies_library
    original = next(iter(copies))
    results = lib.similar(original, k=20)
    assert len(results) > 0
    assert all(Path(n.photo.path) != original for n in results)
    assert all(a.similarity >= b.similarity for a, b in zip(results, results[1:]))  # the order the numbers say
    copies_confirmed = duplicates.copies_of(lib.store.catalog, lib.photo_at(original).id)
    assert copies_confirmed  # the index run checked its copies
    assert {n.photo.id for n in results[: len(copies_confirmed)]} == set(copies_confirmed)  # confirmed copies first
    rest = [n for n in results if n.photo.id not in copies_confirmed]
    final = blended_scores([n.match for n in rest], [n.score for n in rest])
    assert (np.diff(final) <= 1e-6).all()  # then code match + feature cosine, best first
    # by id works the same as by path
    pid = lib.store.catalog.photo_by_path(original)[0].id
    assert [n.photo.id for n in lib.similar(pid, k=20)] == [n.photo.id for n in results]


def test_search_by_external_image(copies_library, tmp_path):
    lib, root, copies, *_ = copies_library
    original = sorted(copies)[3]
    from PIL import Image

    outside = tmp_path / "outside.png"
    Image.open(original).convert("RGB").resize((300, 220)).save(outside)
    results = lib.similar_to_image(outside, k=5)
    assert Path(results[0].photo.path) in {original, *copies[original]}


def test_duplicate_groups_are_the_copies(copies_library):
    lib, root, copies, *_ = copies_library
    groups = [{Path(p.path) for p in g.photos} for g in lib.duplicates() if g.sure]
    found = 0
    for original, its_copies in copies.items():
        family = {original, *its_copies}
        group = next((g for g in groups if original in g), set())
        assert group <= family, "a duplicate group mixes different photos"
        found += len(group & family) >= 3
    assert found >= 0.75 * len(copies)


def test_rescan_unchanged_decodes_nothing(copies_library, monkeypatch):
    lib, root, *_ = copies_library
    import engine.images.decode

    def boom(*a, **k):
        raise AssertionError("an unchanged file was decoded again")

    monkeypatch.setattr(engine.images.decode, "decode", boom)
    _, report = run(lib.index())
    assert report.added == report.updated == report.removed == 0
    assert report.unchanged == report.indexed


def test_modified_moved_and_deleted_files(tmp_path):
    photos = demo_photos(per_class=2)[:12]
    folder = tmp_path / "photos"
    photo_folder(folder, photos)
    lib = Library(tmp_path / "lib")
    run(lib.index([folder]))
    names = sorted(folder.iterdir())
    moved_src, deleted, changed = names[0], names[1], names[2]
    old_id = lib.store.catalog.photo_by_path(moved_src)[0].id
    (folder / "sub").mkdir()
    moved_dst = folder / "sub" / "renamed.jpg"
    os.rename(moved_src, moved_dst)
    deleted.unlink()
    shutil.copyfile(photos[-1], changed)  # new content, same name
    os.utime(changed, (time.time() + 5, time.time() + 5))
    _, report = run(lib.index())
    assert report.moved == 1 and report.removed == 1 and report.updated == 1
    assert lib.store.catalog.photo_by_path(moved_dst)[0].id == old_id
    assert lib.store.catalog.photo_by_path(deleted) is None
    index = lib.store.models.index()
    assert len(index) == report.indexed == len(photos) - 1
    with pytest.raises(NotIndexed):
        lib.similar(deleted)
    lib.close()


def test_training_free_model_and_checksum(tmp_path):
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=16))
    lib = Library(tmp_path / "lib")
    run(lib.index([folder]))
    (model,) = lib.models()
    assert model.active and model.kind == "itq" and model.bits == 64
    # A tampered model file is refused with a clear message, not loaded.
    path = lib.home / lib.store.catalog.active_record().file
    path.write_bytes(path.read_bytes()[:-10])
    lib2 = Library(lib.home)
    with pytest.raises(ModelCorrupt, match="checksum"):
        lib2.store.models.coder()
    lib.close()
    lib2.close()


def test_second_writer_is_told_the_library_is_busy(tmp_path):
    lib = Library(tmp_path / "lib")
    other = Library(tmp_path / "lib")
    with lib.writing():
        with pytest.raises(LibraryBusy, match="busy"):
            with other.writing():
                pass
    with other.writing():
        pass
    lib.close()
    other.close()


def test_remove_folder_forgets_photos_but_keeps_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    photo_folder(a, demo_photos(per_class=1)[:5])
    photo_folder(b, demo_photos(per_class=1)[5:])
    lib = Library(tmp_path / "lib")
    _, report = run(lib.index([a, b]))
    assert report.indexed == 10
    assert lib.remove_folder(a) == 5
    assert len(list(a.iterdir())) == 5
    assert lib.folders() == [str(b)]
    assert len(lib.store.models.index()) == 5
    lib.close()


def test_features_are_cached_float16(copies_library):
    lib, *_ = copies_library
    ids, rows = lib.store.catalog.feature_rows()
    feats = lib.store.features.get(rows)
    assert feats.shape == (len(ids), 1280)
    assert (lib.home / "features.f16").stat().st_size >= len(ids) * 1280 * 2
    assert np.isfinite(feats).all() and feats.std() > 0
