"""Search by words: the concept table, its ranking steps, the facade and the CLI (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from engine.words import concepts
from engine.errors import UnknownWords
from tests.conftest import REPO, demo_photos, indexed_demo_library, photo_folder


@pytest.fixture(scope="module")
def word_library(tmp_path_factory):
    """An indexed library of real demo photos: 6 of each garment kind."""
    lib, _, _ = indexed_demo_library(tmp_path_factory.mktemp("words"), per_class=6)
    yield lib
    lib.close()


def _kind(path: str) -> str:
    return os.path.basename(path).split("-")[0]


def test_head_gives_the_backbones_own_classes():
    """The float16 head on the features agrees with the ONNX model's logits."""
    from engine.model.backbone import Backbone
    from engine.images.decode import decode

    backbone = Backbone(device="cpu")
    pixels = np.stack([decode(p, size=224).pixels for p in demo_photos(per_class=1)])
    feats, logits = backbone.run(pixels)
    head = concepts.ClassifierHead.shipped()
    probs = head.probabilities(feats)
    assert (probs.argmax(1) == logits.argmax(1)).all()
    exp = np.exp(logits - logits.max(1, keepdims=True))
    assert np.abs(probs - exp / exp.sum(1, keepdims=True)).max() < 1e-3
    classes, top = head.top(feats)
    assert (classes[:, 0] == logits.argmax(1)).all() and (np.diff(top.astype(np.float32), axis=1) <= 0).all()


def test_damaged_head_is_refused(tmp_path):
    from engine.errors import ModelCorrupt
    from engine.resources import resource_path

    src = resource_path("models", "imagenet_head.npy")
    bad = tmp_path / src.name
    data = bytearray(src.read_bytes())
    data[-7] ^= 0xFF
    bad.write_bytes(bytes(data))
    bad.with_suffix(".json").write_text(src.with_suffix(".json").read_text())
    with pytest.raises(ModelCorrupt):
        concepts.ClassifierHead(bad)


def _table(n: int, seed: int = 0) -> concepts.Concepts:
    rng = np.random.default_rng(seed)
    return concepts.Concepts(np.arange(n, dtype=np.int64) * 3, np.arange(n, dtype=np.int64),
                             rng.integers(0, 1000, (n, concepts.TOP), np.uint16),
                             rng.random((n, concepts.TOP)).astype(np.float16),
                             rng.integers(-1, n, (n, concepts.NEIGHBOURS), dtype=np.int32),
                             rng.integers(0, 256, (n, 11), dtype=np.uint8), n)


def test_table_file_round_trip_and_damage(tmp_path):
    table = _table(50)
    path = tmp_path / concepts.CONCEPTS_FILE
    table.save(path)
    back = concepts.Concepts.load(path)
    assert back is not None and np.array_equal(back.ids, table.ids) and np.array_equal(back.neighbours,
                                                                                        table.neighbours)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x55
    path.write_bytes(bytes(data))
    assert concepts.Concepts.load(path) is None  # damaged: rebuilt by the next refresh, never trusted
    path.write_bytes(b"garbage")
    assert concepts.Concepts.load(path) is None


def test_subset_renumbers_the_graph():
    table = _table(6)
    table.neighbours[:] = -1
    table.neighbours[0, :2] = [4, 5]
    keep = np.array([True, False, True, True, False, True])
    sub = table.subset(keep)
    assert list(sub.ids) == [0, 6, 9, 15]
    assert list(sub.neighbours[0, :2]) == [-1, 3]  # photo 4 is gone, photo 5 is now the 4th row


def test_graph_lifts_a_photo_whose_neighbours_show_the_word():
    s0 = np.array([0.9, 0.9, 0.1, 0.1, 0.1], np.float32)
    nbrs = np.full((5, concepts.NEIGHBOURS), -1, np.int32)
    nbrs[2, :2] = [0, 1]  # photo 2 sits among photos that show the word; photo 3 among those that do not
    nbrs[3, :1] = [4]
    s = concepts.diffuse(s0, nbrs)
    assert s[2] > s[3] and s[2] > s0[2]
    assert s[0] == pytest.approx(0.9)  # no neighbours: its own score


def test_word_code_pulls_its_seeds_own_kind():
    """The word's code is the seeds' majority; a photo far from it loses to one near it at equal score."""
    codes = np.zeros((6, 8), np.uint8)
    codes[3:] = 0xFF  # two kinds, far apart in Hamming space
    scores = np.array([0.9, 0.8, 0.5, 0.5, 0.1, 0.1], np.float32)
    code, seeds = concepts.text_code(codes, scores, seeds=3)
    assert np.array_equal(code, np.zeros(8, np.uint8))
    match, dist = concepts.match_scores(scores, codes)
    assert match[2] > match[3] and dist[3] == 64


def test_words_find_the_right_photos(word_library):
    found = word_library.similar_to_text("shoes", k=5)
    assert found.close_match and [_kind(n.photo.path) for n in found.results] == ["shoes"] * 5
    sims = [n.similarity for n in found.results]
    assert sims == sorted(sims, reverse=True) and max(sims) < 95  # never called near-identical
    assert [_kind(n.photo.path) for n in word_library.similar_to_text("T-shirts", k=4).results] == ["t"] * 4
    plural = word_library.similar_to_text("Sneakers", k=5)
    assert [n.photo.id for n in plural.results] == [n.photo.id for n in word_library.similar_to_text(
        "sneaker", k=5).results]


def test_unknown_words_say_so_with_suggestions(word_library):
    with pytest.raises(UnknownWords) as err:
        word_library.similar_to_text("bananna")
    assert "banana" in err.value.suggestions and "bananna" in str(err.value)
    with pytest.raises(UnknownWords):
        word_library.similar_to_text("qwertyzzz")
    mixed = word_library.similar_to_text("qwertyzzz shoes", k=3)
    assert mixed.ignored == ("qwertyzzz",) and mixed.results


def test_no_close_match_is_said(word_library):
    """A furry hat may look a little like a dog, but no photo of clothes is a clear match for "dog"; and no photo
    at all shows a banana."""
    found = word_library.similar_to_text("dog", k=5)
    assert found.results and not found.close_match and all(not n.close for n in found.results)
    assert word_library.similar_to_text("banana", k=5).results == []


def test_table_follows_the_library(word_library, tmp_path):
    path = word_library.home / concepts.CONCEPTS_FILE
    table = concepts.Concepts.load(path)
    assert table is not None and len(table) == word_library.photo_count()
    path.write_bytes(b"damaged")
    again = word_library.similar_to_text("shoes", k=3)  # rebuilt from the feature cache, and saved
    assert again.results and concepts.Concepts.load(path) is not None


def test_cli_text_query_json_and_errors(word_library):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "engine", "--home", str(word_library.home)]
    out = subprocess.run(cli + ["--json", "similar", "--text", "running shoes", "-k", "3"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"query", "close_match", "close_threshold", "results", "understood"} <= set(data)
    assert len(data["results"]) == 3 and {"path", "distance", "id", "similarity", "level", "close"} <= set(
        data["results"][0])
    bad = subprocess.run(cli + ["similar", "--text", "zzqqxx"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and "does not know 'zzqqxx'" in bad.stderr and "Traceback" not in bad.stderr
    assert "to teach it, name a few photos that show it: simili name zzqqxx PHOTO..." in bad.stderr
    two_words = subprocess.run(cli + ["similar", "--text", "grandma's zzqqxx"], capture_output=True, text=True,
                               env=env, timeout=120)
    assert "for those words yet" in two_words.stderr
    assert 'simili name "grandma\'s zzqqxx" PHOTO...' in two_words.stderr
    for args in (["similar", "--text", "!!!"], ["similar", "x.jpg", "--text", "dog"],
                 ["similar", "--text", "dog", "--max-distance", "3"]):
        two = subprocess.run(cli + args, capture_output=True, text=True, env=env, timeout=120)
        assert two.returncode == 2 and "Traceback" not in two.stderr, args


def test_colour_shares_name_the_subject_not_the_background():
    from engine.images.colours import COLOURS, colour_shares

    names = list(COLOURS)
    grid = np.full((4, 4, 3), 240, np.uint8)  # a white sheet...
    grid[1:3, 1:3] = (200, 30, 35)  # ...under a red shirt
    shares = colour_shares(grid.reshape(1, 48))[0]
    assert names[int(shares.argmax())] == "red" and shares[names.index("red")] > 0.5
    navy = np.tile(np.array([25, 35, 90], np.uint8), 16)  # a photo filled by the subject
    assert names[int(colour_shares(navy[None])[0].argmax())] == "blue"


def test_colour_words_modify_and_stand_alone():
    from engine.words.vocab import Vocabulary
    from engine.words.wordsearch import understand

    vocab = Vocabulary.load()
    q = understand(vocab, "red running shoes")
    assert q.colours == ("red",) and q.terms and q.describe().startswith("red ")
    assert understand(vocab, "navy").colours == ("blue",) and not understand(vocab, "navy").terms
    fruit = understand(vocab, "orange")
    assert fruit.colours == () and fruit.terms  # alone, orange is the fruit
    assert understand(vocab, "orange shoes").colours == ("orange",)


def test_colour_reorders_the_word_results(word_library):
    from engine.images.colours import COLOURS, colour_shares

    def black(found):
        sigs = word_library.store.catalog.signatures_of([n.photo.id for n in found.results])
        grids = np.stack([np.frombuffer(sigs[n.photo.id], np.uint8)[-48:] for n in found.results])
        return colour_shares(grids)[:, list(COLOURS).index("black")]

    plain, dark = word_library.similar_to_text("shoes", k=3), word_library.similar_to_text("black shoes", k=3)
    assert all(_kind(n.photo.path) == "shoes" for n in dark.results)
    assert black(dark).mean() > black(plain).mean()
    sims = [n.similarity for n in dark.results]
    assert sims == sorted(sims, reverse=True)


def test_a_changed_photo_is_described_again(tmp_path):
    """A file replaced by another photo keeps its id but gets new features: its concepts follow."""
    import shutil

    from engine.api import Library

    shoes = [p for p in demo_photos(per_class=2) if p.parent.name == "shoes"]
    tshirts = [p for p in demo_photos(per_class=2) if p.parent.name == "t-shirt"]
    folder = tmp_path / "p"
    folder.mkdir()
    shutil.copyfile(shoes[0], folder / "a.jpg")
    shutil.copyfile(shoes[1], folder / "b.jpg")
    with Library(tmp_path / "lib") as lib:
        for _ in lib.index([folder]):
            pass
        before = concepts.Concepts.load(lib.home / concepts.CONCEPTS_FILE)
        shutil.copyfile(tshirts[0], folder / "a.jpg")
        os.utime(folder / "a.jpg", (1, 1))
        for _ in lib.index():
            pass
        after = concepts.Concepts.load(lib.home / concepts.CONCEPTS_FILE)
        pid = lib.photo_at(folder / "a.jpg").id
    assert len(after) == 2
    row_before = before.classes[list(before.ids).index(pid)]
    row_after = after.classes[list(after.ids).index(pid)]
    assert row_before[0] != row_after[0]


def test_a_planted_table_is_not_read_whole(tmp_path):
    """A header that lies about its size, or a huge file: refused from the header, the body never loaded."""
    path = tmp_path / concepts.CONCEPTS_FILE
    _table(5).save(path)
    with open(path, "ab") as f:
        f.truncate(3 * 2**30)  # 3 GiB sparse tail
    assert concepts.Concepts.load(path) is None
    path.write_bytes(b"SIMILI-CONCEPTS 2\n" + b"{" * 8000)  # no end of header in sight
    assert concepts.Concepts.load(path) is None


def test_something_planted_in_place_of_the_table_neither_hangs_nor_stops_indexing(tmp_path):
    """A FIFO (reading it would block for ever) or a folder where concepts.bin belongs: ignored, search works."""
    from engine.api import Library

    folder = tmp_path / "p"
    photo_folder(folder, [p for p in demo_photos(per_class=2) if p.parent.name == "shoes"])
    home = tmp_path / "lib"
    home.mkdir()
    os.mkfifo(home / concepts.CONCEPTS_FILE)
    assert concepts.Concepts.load(home / concepts.CONCEPTS_FILE) is None
    with Library(home) as lib:
        for _ in lib.index([folder]):
            pass
        assert lib.similar_to_text("shoes", k=2).results
    (home / concepts.CONCEPTS_FILE).unlink()
    (home / concepts.CONCEPTS_FILE).mkdir()
    with Library(home) as lib:
        for _ in lib.index():
            pass
        assert lib.similar_to_text("shoes", k=2).results


def test_popcount_without_numpy_2(monkeypatch):
    """The Hamming distances word search and duplicates share also hold on numpy 1.x (no bitwise_count)."""
    from engine.codes.binary import popcount

    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**63, (50, 2), dtype=np.uint64)
    want = np.array([bin(int(a)).count("1") + bin(int(b)).count("1") for a, b in x])
    assert (popcount(x) == want).all()
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert (popcount(x) == want).all()
    codes = rng.integers(0, 256, (20, 8), dtype=np.uint8)
    assert (concepts.hamming(codes, codes[3]) == [int(np.unpackbits(c ^ codes[3]).sum()) for c in codes]).all()
