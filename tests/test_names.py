"""Words the user teaches (issue 23): the catalog's names, the taught model, the facade and the CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from engine.words import taught
from tests.conftest import indexed_demo_library


def _kind(path: str) -> str:
    return os.path.basename(path).split("-")[0]


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """An indexed library of real demo photos (8 of each garment kind), its folder and the photo paths by kind."""
    lib, folder, files = indexed_demo_library(tmp_path_factory.mktemp("names"), per_class=8)
    by_kind: dict[str, list[str]] = {}
    for f in files:
        by_kind.setdefault(_kind(str(f)), []).append(str(f))
    yield lib, folder, by_kind
    lib.close()


def test_direction_separates_examples_from_the_collection():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 32)).astype(np.float32)
    kind = rng.normal(size=32).astype(np.float32) * 3
    base[:30] += kind  # 30 photos of one thing
    space = taught.Space.of(base)
    model = taught.teach("thing", space, lambda rows: base[rows], np.arange(300), np.array([0, 1, 2]),
                         np.zeros(0, np.int64))
    order = np.argsort(-model.scores)
    assert set(order[:30]) >= set(range(3)) and np.isin(order[3:30], np.arange(30)).mean() > 0.9
    assert 0.0 <= model.scores.min() and model.scores.max() <= 1.0


def test_projections_from_the_shared_row_stats_are_the_same_numbers():
    """A word's projections through the library's cached row stats (one product per photo) equal the plain path
    that normalises every feature, also for features far from unit length and with CHUNK-sized reads."""
    rng = np.random.default_rng(2)
    x = (np.abs(rng.normal(size=(taught.CHUNK + 300, 24))) * rng.uniform(0.1, 30, size=(taught.CHUNK + 300, 1)))
    x = x.astype(np.float32)
    rows = np.arange(len(x))[::-1].copy()
    space = taught.Space.of(x)
    w = taught.directions(space, x[:3], x[5:8])
    plain = taught.project(space, w, lambda r: x[r], rows)
    fast = taught.project(space, w, lambda r: x[r], rows, taught.RowStats.of(space, lambda r: x[r], rows))
    np.testing.assert_allclose(fast, plain, atol=2e-5)
    assert np.abs(plain).max() > 0.1


def test_rejections_push_the_direction_away():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 16)).astype(np.float32)
    space = taught.Space.of(x)
    w0 = taught.directions(space, x[:3])
    w1 = taught.directions(space, x[:3], x[3:6])
    rejected = space.centred(x[3:6]).mean(axis=0)
    assert w0.shape == (16, 2)
    assert np.all(rejected @ w1 < rejected @ w0)  # both the centred and the whitened direction


def test_whitened_direction_finds_what_sets_the_examples_apart():
    """A feature in which the whole collection varies a lot is no sign of the word; the whitened prototype
    discounts it, the centred one does not (step 1 of engine.words.taught). Mean over 6 collections."""
    hits = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(2000, 16)).astype(np.float32) * 0.2
        x[:, 0] += rng.normal(size=2000) * 2  # every photo varies along feature 0
        x[:, 1] += 20  # features away from the origin, as the backbone's are
        x[:40, 2] += 1.0  # 40 photos of the word: a shift along feature 2
        space = taught.Space.of(x, sample=2000)
        raw = space.centred(x) @ taught.directions(space, x[[0, 1, 2]])
        hits.append([np.isin(np.argsort(-raw[:, j])[:40], np.arange(40)).mean() for j in (0, 1)])
    centred, whitened = np.mean(hits, axis=0)
    assert whitened >= centred + 0.05 and whitened >= 0.55


def test_teach_propose_and_search_a_word_the_vocabulary_lacks(named):
    from engine.errors import UnknownWords

    lib, _, by_kind = named
    kind = sorted(by_kind)[0]
    with pytest.raises(UnknownWords):
        lib.similar_to_text("zorblat")
    assert lib.name_photos("Zorblat", by_kind[kind][:3]) == 3
    proposals = lib.name_proposals("zorblat", k=5)
    assert proposals and all(n.photo.path not in by_kind[kind][:3] for n in proposals)
    assert sum(_kind(n.photo.path) == kind for n in proposals) >= 3  # most proposals are of the kind taught
    found = lib.similar_to_text("zorblat", k=8)
    assert "Zorblat (your word)" in found.understood
    with pytest.raises(UnknownWords) as misspelt:  # a taught name spelled like the word is offered first
        lib.similar_to_text("zorblatt")
    assert misspelt.value.suggestions[0] == "Zorblat"
    assert {n.photo.path for n in found.results[:3]} == set(by_kind[kind][:3])  # the named photos first
    # a rejection is never proposed again, and refines the next proposals
    wrong = [n for n in proposals if _kind(n.photo.path) != kind] or proposals[-1:]
    lib.name_photos("zorblat", [wrong[0].photo.path], shows=False)
    again = lib.name_proposals("Zorblat", k=20)
    assert wrong[0].photo.path not in {n.photo.path for n in again}
    info = {n.name: n for n in lib.names()}["Zorblat"]
    assert (info.examples, info.rejections) == (3, 1)


def test_taught_word_with_a_colour_and_refining_a_known_word(named):
    lib, _, by_kind = named
    kind = sorted(by_kind)[1]
    lib.name_photos("plonk", by_kind[kind][:2])
    coloured = lib.similar_to_text("red plonk", k=5)
    assert coloured.results and "red" in coloured.understood
    plain = lib.similar_to_text("plonk", k=5)
    assert [n.photo.id for n in coloured.results] != [n.photo.id for n in plain.results] or len(plain.results) < 2


def test_rename_merge_remove_backup_and_export(named, tmp_path):
    lib, folder, by_kind = named
    a, b = sorted(by_kind)[2:4]
    lib.name_photos("first", by_kind[a][:2])
    lib.name_photos("second", by_kind[b][:1])
    assert lib.rename_name("first", "renamed") == "renamed"
    lib.rename_name("renamed", "second")  # merge
    assert {n.name: n.examples for n in lib.names()}["second"] == 3
    backup = json.loads((lib.home / "names.json").read_text())
    assert any(row[0] == "second" for row in backup["rows"])
    out = tmp_path / "names.csv"
    assert lib.export_names(out) >= 3 and out.read_text().startswith("name,path,shows")
    from engine.errors import SimiliError

    with pytest.raises(SimiliError):
        lib.export_names(folder / "names.json")  # never into a photo folder
    assert not (folder / "names.json").exists()
    assert lib.remove_name("second") == 3
    assert "second" not in {n.name for n in lib.names()}


def test_names_come_back_from_the_backup_when_the_table_is_lost(named):
    lib, _, by_kind = named
    kind = sorted(by_kind)[4]
    lib.name_photos("kept", by_kind[kind][:2])
    cat = lib.store.catalog
    with cat.transaction():
        cat.db.execute("DROP TABLE names")
    assert cat.name_infos() == []
    with cat.transaction():
        cat.set_name_answers("other", [], True)  # a writer recreates the table from names.json
    assert {n.name: n.examples for n in cat.name_infos()}.get("kept") == 2


def test_more_like_this_reranks(named):
    lib, _, by_kind = named
    kind = sorted(by_kind)[5]
    first = lib.photo_at(by_kind[kind][0])
    more = [lib.photo_at(p).id for p in by_kind[kind][1:3]]
    results = lib.similar_refined(first.id, more=more, k=6)
    assert results and first.id not in {n.photo.id for n in results}
    assert sum(_kind(n.photo.path) == kind for n in results) >= 2  # chance: 6 x 5/77, under one
    wrong = next(n for n in results if _kind(n.photo.path) != kind)
    again = lib.similar_refined(first.id, more=more, less=[wrong.photo.id], k=6)
    assert wrong.photo.id not in {n.photo.id for n in again}


def test_cli_name_and_names_json(named, capsys):
    from engine.cli.run import main

    lib, _, by_kind = named
    kind = sorted(by_kind)[6]
    home = str(lib.home)
    assert main(["--home", home, "--json", "name", "blorp", *by_kind[kind][:3]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["named"] == 3 and out["results"]
    assert main(["--home", home, "--json", "names"]) == 0
    assert "blorp" in {n["name"] for n in json.loads(capsys.readouterr().out)["names"]}
    assert main(["--home", home, "--json", "similar", "--text", "blorp"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert set(found) >= {"query", "results", "understood", "close_match"} and found["results"]
    assert main(["--home", home, "name", "nosuchname"]) == 1
    assert "no photo is named" in capsys.readouterr().err
