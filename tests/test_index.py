"""CodeIndex against a brute-force numpy popcount ranking, plus persistence and kind switching."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest

import engine.codes.codeindex as index_mod
from engine.errors import CatalogError, NotIndexed
from engine.codes.codeindex import CodeIndex

BITS = 64
WIDTH = BITS // 8


def hamming(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Brute-force Hamming distances (q, n) by popcount of XOR, independent of faiss."""
    xor = np.bitwise_xor(queries[:, None, :], codes[None, :, :])
    return np.unpackbits(xor, axis=2).sum(axis=2).astype(np.int32)


def clustered_codes(n: int, seed: int = 0, bits: int = BITS) -> np.ndarray:
    """Codes near a few centres, so neighbours and ties exist at small distances."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, (max(1, n // 50), bits // 8), dtype=np.uint8)
    flips = np.packbits(rng.random((n, bits)) < 0.08, axis=1)
    return centres[rng.integers(0, len(centres), n)] ^ flips


def check_knn(index: CodeIndex, ids: np.ndarray, codes: np.ndarray, queries: np.ndarray, k: int) -> None:
    """Distances are the brute-force top-k multiset; every id is real and at the distance reported."""
    dist, got = index.search(queries, k)
    ref = hamming(queries, codes)
    kk = min(k, len(codes))
    assert dist.shape == got.shape == (len(queries), k)
    assert dist.dtype == np.int32 and got.dtype == np.int64
    np.testing.assert_array_equal(dist[:, :kk], np.sort(ref, axis=1)[:, :kk])
    assert (got[:, kk:] == -1).all() and (dist[:, kk:] == -1).all()
    row_of = {int(i): r for r, i in enumerate(ids)}
    for q in range(len(queries)):
        rows = [row_of[int(i)] for i in got[q, :kk]]
        assert len(set(rows)) == kk
        np.testing.assert_array_equal(ref[q, rows], dist[q, :kk])


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = clustered_codes(3000)
    ids = np.random.default_rng(1).permutation(np.arange(10, 3010) * 3)  # unordered, non-contiguous ids
    queries = np.concatenate([codes[:20], clustered_codes(20, seed=7)])
    return ids, codes, queries


@pytest.mark.parametrize("k", [1, 10, 50])
def test_flat_matches_brute_force(data, k):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind="flat")
    index.add(ids, codes)
    check_knn(index, ids, codes, queries, k)


def test_ivf_probing_every_cell_is_exact(data):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind="ivf")
    index.add(ids, codes)
    assert index.active_kind == "ivf" and index.nlist > 1
    index.nprobe = index.nlist
    check_knn(index, ids, codes, queries, 10)


def test_ivf_default_recall_is_high_on_clustered_codes(data):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind="ivf")
    index.add(ids, codes)
    dist, _ = index.search(queries, 10)
    kth = np.sort(hamming(queries, codes), axis=1)[:, 9:10]
    assert np.mean(dist <= kth) >= 0.9


def test_single_query_shapes_and_padding(data):
    ids, codes, _ = data
    index = CodeIndex(BITS)
    index.add(ids[:3], codes[:3])
    dist, got = index.search(index.code_of(int(ids[1])), 5)  # a 1-D code is one query
    assert got.shape == (1, 5)
    assert got[0, 0] == ids[1] and dist[0, 0] == 0
    assert list(got[0, 3:]) == [-1, -1] and list(dist[0, 3:]) == [-1, -1]


def test_empty_index_returns_empty_results():
    index = CodeIndex(BITS)
    queries = clustered_codes(2)
    dist, got = index.search(queries, 4)
    assert (got == -1).all() and (dist == -1).all() and got.shape == (2, 4)
    assert [len(i) for i, _ in index.range_search(queries, 10)] == [0, 0]
    assert index.search(queries, 0)[1].shape == (2, 0)
    assert len(index) == 0 and index.ids().size == 0 and 5 not in index


def test_store_lookup_and_upsert(data):
    ids, codes, _ = data
    index = CodeIndex(BITS)
    index.add(ids, codes)
    assert len(index) == len(ids) and int(ids[5]) in index and 1 not in index
    assert sorted(index.ids()) == sorted(ids)
    np.testing.assert_array_equal(index.code_of(int(ids[5])), codes[5])
    with pytest.raises(NotIndexed):
        index.code_of(1)
    new = np.full(WIDTH, 0xAB, dtype=np.uint8)
    index.add([ids[5]], new[None])  # an id already present takes its new code
    assert len(index) == len(ids)
    np.testing.assert_array_equal(index.code_of(int(ids[5])), new)
    assert index.search(new, 1)[1][0, 0] == ids[5]


def test_sparse_ids_use_the_sorted_map():
    codes = clustered_codes(200)
    ids = np.arange(200, dtype=np.int64) * (1 << 40) + 7
    index = CodeIndex(BITS)
    index.add(ids, codes)
    np.testing.assert_array_equal(index.code_of(int(ids[123])), codes[123])
    assert int(ids[3]) in index and int(ids[3]) + 1 not in index
    index.remove(ids[:100])
    check_knn(index, ids[100:], codes[100:], codes[:10], 5)


def test_rejects_bad_input():
    index = CodeIndex(BITS)
    with pytest.raises(ValueError):
        index.add([1, 2], clustered_codes(3))
    with pytest.raises(ValueError):
        index.add([1, 1], clustered_codes(2))
    with pytest.raises(ValueError):
        index.add([-1], clustered_codes(1))
    with pytest.raises(ValueError):
        index.add([1], np.zeros((1, WIDTH + 1), np.uint8))
    with pytest.raises(ValueError):
        index.search(np.zeros((1, WIDTH), np.float32), 3)
    with pytest.raises(ValueError):
        CodeIndex(BITS, kind="hnsw")
    with pytest.raises(ValueError):
        CodeIndex(12)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_remove(data, kind):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind=kind)
    index.add(ids, codes)
    gone = ids[::3]
    assert index.remove(np.concatenate([gone, [999_999_999]])) == len(gone)
    assert index.remove(gone) == 0
    keep = np.ones(len(ids), bool)
    keep[::3] = False
    assert len(index) == keep.sum() and int(gone[0]) not in index
    assert not np.isin(index.search(queries, 20)[1], gone).any()
    if kind == "flat":
        check_knn(index, ids[keep], codes[keep], queries, 10)
    np.testing.assert_array_equal(index.code_of(int(ids[1])), codes[1])
    index.add(gone[:5], codes[::3][:5])
    assert len(index) == keep.sum() + 5


@pytest.mark.parametrize("radius", [0, 3, 8, 14])
def test_range_search_is_inclusive_and_agrees_with_search(data, radius):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind="flat")
    index.add(ids, codes)
    ref = hamming(queries, codes)
    dist, got = index.search(queries, 200)
    for q, (rids, rdist) in enumerate(index.range_search(queries, radius)):
        expected = np.flatnonzero(ref[q] <= radius)
        assert sorted(rids) == sorted(ids[expected])
        np.testing.assert_array_equal(rdist, np.sort(ref[q, expected]))  # sorted by distance
        within = dist[q] <= radius
        if (dist[q] > radius).any():  # search saw past the radius: the same multiset of distances
            np.testing.assert_array_equal(np.sort(dist[q][within & (dist[q] >= 0)]), rdist)


@pytest.mark.parametrize("kind", ["flat", "ivf", "auto"])
def test_save_load_round_trip(tmp_path, data, kind):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind=kind)
    index.add(ids, codes)
    index.remove(ids[:7])
    path = tmp_path / "codes.idx"
    index.save(path)
    loaded = CodeIndex.load(path)
    assert (loaded.kind, loaded.active_kind, loaded.nlist, loaded.nprobe, len(loaded)) == (
        index.kind, index.active_kind, index.nlist, index.nprobe, len(index))
    for a, b in zip(index.search(queries, 10), loaded.search(queries, 10)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(index.ids()))
    np.testing.assert_array_equal(loaded.code_of(int(ids[9])), codes[9])
    assert [p.name for p in tmp_path.iterdir()] == ["codes.idx"]  # no temp file left


def test_empty_index_round_trip(tmp_path):
    CodeIndex(128, kind="ivf").save(tmp_path / "e.idx")
    loaded = CodeIndex.load(tmp_path / "e.idx")
    assert (loaded.bits, loaded.kind, len(loaded)) == (128, "ivf", 0)


def test_failed_save_keeps_the_old_file(tmp_path, data, monkeypatch):
    ids, codes, queries = data
    path = tmp_path / "codes.idx"
    old = CodeIndex(BITS)
    old.add(ids[:100], codes[:100])
    old.save(path)
    before = path.read_bytes()

    bigger = CodeIndex(BITS)
    bigger.add(ids, codes)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_mod.os, "fsync", disk_full)
    with pytest.raises(CatalogError, match="No space left"):
        bigger.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["codes.idx"]
    assert len(CodeIndex.load(path)) == 100


def test_unwritable_folder_raises_catalog_error(tmp_path):
    index = CodeIndex(BITS)
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(CatalogError):
        index.save(tmp_path / "a-file" / "codes.idx")  # the "folder" is a file: nothing can be written


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated in the data
        lambda b: b[:10],  # truncated in the header
        lambda b: b"",
        lambda b: b[:-1],
        lambda b: b + b"\0",
        lambda b: b[:-100] + bytes([b[-100] ^ 1]) + b[-99:],  # one flipped bit in the codes
        lambda b: b[:30] + bytes([b[30] ^ 1]) + b[31:],  # one flipped bit in the header
        lambda b: b"PK\x03\x04" + b[4:],  # another file type
    ],
)
@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_damaged_file_raises_catalog_error(tmp_path, data, damage, kind):
    ids, codes, _ = data
    path = tmp_path / "codes.idx"
    index = CodeIndex(BITS, kind=kind)
    index.add(ids, codes)
    index.save(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CatalogError, match="damaged"):
        CodeIndex.load(path)


def test_missing_file_raises_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="cannot read"):
        CodeIndex.load(tmp_path / "nope.idx")


def test_auto_switches_kind_and_stays_exact_enough(tmp_path, data):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind="auto", auto_threshold=1000)
    index.add(ids[:600], codes[:600])
    assert index.active_kind == "flat" and not index.rebuild_if_needed()
    check_knn(index, ids[:600], codes[:600], queries, 10)

    index.add(ids[600:], codes[600:])  # grows past the threshold: add() keeps flat, the next check moves
    assert index.active_kind == "flat"
    check_knn(index, ids, codes, queries, 10)
    assert index.rebuild_if_needed() and index.active_kind == "ivf"
    index.nprobe = index.nlist
    check_knn(index, ids, codes, queries, 10)
    index.nprobe = None

    index.remove(ids[:2300])  # 700 left: above half the threshold, hysteresis keeps IVF
    assert not index.rebuild_if_needed() and index.active_kind == "ivf"
    index.remove(ids[2300:2600])  # 400 left: back to exact flat, at save time
    index.save(tmp_path / "codes.idx")
    loaded = CodeIndex.load(tmp_path / "codes.idx")
    assert index.active_kind == loaded.active_kind == "flat"
    check_knn(loaded, ids[2600:], codes[2600:], queries, 10)


def test_first_add_above_threshold_builds_ivf_directly(data):
    ids, codes, _ = data
    index = CodeIndex(BITS, kind="auto", auto_threshold=1000)
    index.add(ids, codes)
    assert index.active_kind == "ivf" and index.nprobe == max(1, index.nlist // 8)


def test_ivf_retrains_when_the_collection_grows(data):
    ids, codes, queries = data
    index = CodeIndex(BITS, kind="ivf")
    index.add(ids[:100], codes[:100])
    small = index.nlist
    index.add(ids[100:], codes[100:])
    assert index.rebuild_if_needed() and index.nlist > small
    index.nprobe = index.nlist
    check_knn(index, ids, codes, queries, 10)


def test_single_queries_use_one_thread_without_touching_others(data, monkeypatch):
    ids, codes, queries = data
    index = CodeIndex(BITS)
    index.add(ids, codes)
    seen: list[int] = []
    real_search = faiss.IndexBinaryIDMap.search

    def spy(self, *args, **kwargs):
        seen.append(faiss.omp_get_max_threads())
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(faiss.IndexBinaryIDMap, "search", spy)
    before = faiss.omp_get_max_threads()
    batch = np.repeat(queries, 2, axis=0)
    index.search(queries[:1], 5)
    index.search(batch, 5)  # threads=1 by default, batches too
    index.threads = 0  # faiss's default team, for batches only
    index.search(queries[:1], 5)
    index.search(batch, 5)
    assert seen == [1, 1, 1, before] and faiss.omp_get_max_threads() == before
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(faiss.omp_get_max_threads()))
    thread.start()
    thread.join()
    assert other == [before]


def test_nbytes_stays_small():
    index = CodeIndex(BITS)
    index.add(np.arange(100_000), np.random.default_rng(0).integers(0, 256, (100_000, WIDTH), dtype=np.uint8))
    assert index.nbytes < 100_000 * 48  # codes twice, ids twice, a 4-byte row map: 36 bytes a photo
