"""One user-facing similarity that agrees with the order, named levels, and "no close match" on real photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.codes.binary import blended_scores
from engine.codes.search import similarity_percent
from engine.types import CLOSE_MATCH, SIMILARITY_LEVELS, Neighbor, Photo, PhotoId, shown_percent, similarity_level

from tests.conftest import DEMO, SHARED_DATA, demo_photos

AVOCADO = SHARED_DATA / "grocery-dev" / "images" / "Fruit" / "Avocado" / "Avocado_001.jpg"
HELD_OUT_SHOES = ("0dd87e47-ca85-4d5c-9fd1-59f5a01eb656.jpg", "132e5fa5-ed38-4293-8dff-20727b6b5ac2.jpg")


def test_similarity_is_monotonic_in_the_ranking_score():
    scores = np.linspace(-1.5, 1.5, 3001)
    pct = similarity_percent(scores)
    assert pct[0] == 0 and pct[-1] == 100
    assert np.all(np.diff(pct) > 0)  # strictly increasing: never contradicts the order
    assert similarity_percent(1.0) == pytest.approx(CLOSE_MATCH)


def test_levels_cover_every_percentage_strictest_first():
    assert [similarity_level(p) for p in (100, 95, 94.9, 80, 79, 60, 59.9, 0)] == [
        "near-identical", "near-identical", "very similar", "very similar", "similar", "similar",
        "loosely related", "loosely related"]
    assert [low for low, _ in SIMILARITY_LEVELS] == sorted((low for low, _ in SIMILARITY_LEVELS), reverse=True)
    n = Neighbor(Photo(PhotoId(1), "/x.jpg"), 3, 0.9, 0.9, 61.0)
    assert n.level == "similar" and n.close
    assert Neighbor(Photo(PhotoId(1), "/x.jpg"), 3).level is None and not Neighbor(Photo(PhotoId(1), "/x.jpg"), 3).close


@pytest.mark.parametrize("raw, shown, level", [(59.7, 60.0, "similar"), (59.4, 59.0, "loosely related"),
                                               (94.5, 95.0, "near-identical"), (79.49, 79.0, "similar")])
def test_a_result_carries_one_rounded_percentage_its_level_and_number_agree(raw, shown, level, capsys):
    from engine.cli.searching import print_similar

    n = Neighbor(Photo(PhotoId(1), "/x.jpg"), 3, 0.5, 0.5, raw)
    assert n.similarity == shown and n.level == level and n.close == (shown >= CLOSE_MATCH)
    print_similar("/q.jpg", [Neighbor(Photo(PhotoId(2), "/best.jpg"), 0, 1.0, 1.0, 99.0), n], True)
    rows = capsys.readouterr().out.splitlines()
    below = next((i for i, ln in enumerate(rows) if "below this line" in ln), len(rows))
    row = next(ln for ln in rows if ln.endswith("/x.jpg"))
    assert row.split()[0] == f"{shown:.0f}%" and level in row
    assert (rows.index(row) > below) == (shown < CLOSE_MATCH)  # under the line exactly when the number is under 60


@pytest.fixture(scope="module")
def clothes_library(tmp_path_factory):
    """The demo clothes (all but two shoes, which are dropped on it as queries) as a library."""
    home = tmp_path_factory.mktemp("simhome")
    folder = tmp_path_factory.mktemp("clothes")
    for p in demo_photos():
        if p.name not in HELD_OUT_SHOES:
            dst = folder / p.parent.name / p.name
            dst.parent.mkdir(exist_ok=True)
            shutil.copyfile(p, dst)
    assert cli_main(["--home", str(home), "-q", "index", str(folder)]) == 0
    return home


def _similar(capsys, home: Path, *args: str) -> tuple[str, dict]:
    capsys.readouterr()
    assert cli_main(["--home", str(home), "similar", *args]) == 0
    text = capsys.readouterr().out
    assert cli_main(["--home", str(home), "--json", "similar", *args]) == 0
    return text, json.loads(capsys.readouterr().out)


@pytest.mark.skipif(not AVOCADO.exists(), reason="the grocery data set is not on this machine")
def test_an_avocado_among_clothes_has_no_close_match_but_shows_the_nearest(clothes_library, capsys):
    text, out = _similar(capsys, clothes_library, "--image", str(AVOCADO), "-k", "6")
    assert out["close_match"] is False and out["close_threshold"] == CLOSE_MATCH
    assert len(out["results"]) == 6  # the nearest few are still shown
    assert all(not r["close"] and r["similarity"] < CLOSE_MATCH for r in out["results"])
    assert text.startswith("No close match")
    assert "similarity" in text.splitlines()[1]  # the header


def _calibration(home: Path):
    from engine.api import Library
    from engine.codes.calibration import Calibration

    lib = Library(home)
    try:
        return Calibration.from_json(lib.store.catalog.get_meta("calibration"))
    finally:
        lib.close()


def test_a_shoe_among_clothes_has_close_matches_in_agreeing_order(clothes_library, capsys):
    cal = _calibration(clothes_library)  # measured on the library by the index run, and stored
    assert cal is not None and cal.photos == 243 and cal.close < cal.very < cal.copy
    for name in HELD_OUT_SHOES:
        text, out = _similar(capsys, clothes_library, "--image", str(DEMO / "images" / "shoes" / name), "-k", "10")
        assert out["close_match"] is True, (name, out["results"][:3])
        sims = [r["similarity"] for r in out["results"]]
        assert sims == sorted(sims, reverse=True)
        # the raw numbers are kept, and the percentage is the blended score they are ordered by, in the library's
        # map, less the gap to the best result (Calibration.answer_percent)
        blended = [float(blended_scores(np.float32(r["match"]), np.float32(r["cosine"]))) for r in out["results"]]
        expected = cal.answer_percent(np.array(blended))
        for r, want in zip(out["results"], expected):
            # one rounded value: a whole percent, within half a point of the blended score's percentage
            assert r["similarity"] == round(r["similarity"])
            assert r["similarity"] == pytest.approx(float(want), abs=0.5 + 1e-3)
            assert r["level"] == similarity_level(r["similarity"]) and isinstance(r["distance"], int)
        assert text.startswith("Photos most similar to")
        lines = text.splitlines()
        shown = [ln.split()[0] for ln in lines[2:] if ln.strip() and not ln.strip().startswith("--")]
        assert shown == [f"{s:.0f}%" for s in sims]
        assert "shoes" in out["results"][0]["path"]


def test_an_edited_copy_is_near_identical(clothes_library, capsys, tmp_path):
    from PIL import Image

    src = demo_photos(per_class=1)[0]
    im = Image.open(src)
    copy = tmp_path / "half.jpg"
    im.resize((im.width // 2, im.height // 2)).save(copy, quality=50)
    _, out = _similar(capsys, clothes_library, "--image", str(copy), "-k", "3")
    assert out["results"][0]["level"] == "near-identical"
    assert Path(out["results"][0]["path"]).name == src.name


def test_the_search_the_bench_and_the_learning_check_share_one_order(clothes_library):
    """``engine.codes.search.app_order`` (what the bench and the learning check measure) ranks a whole library as
    ``Library.similar`` returns its results."""
    from engine.api import Library
    from engine.codes.search import app_order, search

    lib = Library(clothes_library)
    try:
        store, index = lib.store, lib.store.models.index()
        ids = np.sort(index.ids())
        rows = store.catalog.feat_row_of(ids.tolist())
        feats = store.features.get([rows[int(i)] for i in ids])
        coder = store.models.coder()
        for q in (0, 40, 97):
            got = search(store.catalog, store.features, index, coder, feats[q], 12, index.bits)
            order = app_order(coder.project(feats[q : q + 1]), index.codes_of(ids), feats[q : q + 1], feats, k=12)[0]
            assert [int(n.photo.id) for n in got] == ids[order[:12]].tolist()
    finally:
        lib.close()


def test_the_map_is_anchored_on_the_library_nearest_photos():
    """engine.codes.calibration: the close line is what four photos in five of the library reach with their nearest
    photo, "very similar" what half reach, the floor what all but one in 25 reach; the map stays strictly
    increasing; copies always read 95 % or more."""
    from engine.codes.calibration import FIXED, Calibration, from_nearest

    nearest = np.linspace(0.9, 1.3, 101)  # a trained model: every nearest photo scores higher than before
    cal = from_nearest(nearest, model=7, photos=101)
    assert cal.close == pytest.approx(0.98) and cal.very == pytest.approx(1.1) and cal.copy == pytest.approx(1.4)
    assert cal.floor == pytest.approx(0.916)
    assert cal.percent(cal.close) == pytest.approx(CLOSE_MATCH) and cal.percent(cal.very) == pytest.approx(80)
    pct = cal.percent(np.linspace(-1.5, 1.5, 3001))
    assert pct[0] == 0 and pct[-1] == 100 and np.all(np.diff(pct) > 0)
    assert cal.percent(cal.copy_score(0.0)) == pytest.approx(95) and cal.percent(cal.copy_score(1.0)) == 100
    # scores crowded at the top (a trained model on look-alikes) still give three distinct, increasing anchors
    crowded = from_nearest(np.full(50, 1.49), model=1, photos=50)
    assert crowded.close < crowded.very < crowded.copy < 1.5
    # too few photos to measure: the fixed map; a stored calibration read back, or refused when altered
    few = from_nearest(np.ones(5), model=2, photos=5)
    assert (few.close, few.very, few.copy) == (FIXED.close, FIXED.very, FIXED.copy)
    assert Calibration.from_json(cal.to_json()) == cal
    assert cal.fits(7, 101) and cal.fits(7, 140) and not cal.fits(8, 101) and not cal.fits(7, 2000)
    for bad in ("", "[]", '{"close": 2}', cal.to_json().replace('"close": 0.98', '"close": 1.2'),
                cal.to_json().replace('"floor": 0.916', '"floor": 1.05'), cal.to_json().replace(', "floor": 0.916', ""),
                "nan"):
        assert Calibration.from_json(bad) is None


def test_within_an_answer_a_result_far_below_the_best_reads_less_similar():
    from engine.codes.calibration import RELATIVE, Calibration

    cal = Calibration(1.0, 1.2, 1.4)
    answer = np.array([1.3, 1.2, 1.0, 0.6])
    pct = cal.answer_percent(answer)
    assert pct[0] == pytest.approx(cal.percent(1.3))  # the best keeps its own score
    assert np.all(np.diff(pct) < 0)  # the order is kept
    assert pct[2] == pytest.approx(cal.percent(1.0 - RELATIVE * 0.3)) and pct[2] < CLOSE_MATCH
    # a near-identical first result (a copy, a reshoot) is not what the others are measured against
    with_copy = cal.answer_percent(np.r_[1.48, answer])
    assert with_copy[0] == pytest.approx(cal.percent(1.48)) and np.allclose(with_copy[1:], pct)
    assert np.allclose(cal.answer_percent(np.array([1.45, 1.42])), cal.percent(np.array([1.45, 1.42])))


def test_the_best_match_of_a_photo_that_is_not_an_outlier_reads_similar():
    """Calibration.floor: an answer whose best result is below the close line but above the floor line is raised
    until the best sits on the line (a close match, 60 %); the others stay below it, in order. Below the floor line
    (the library's loneliest photos) nothing is raised: "No close match"."""
    from engine.codes.calibration import Calibration

    cal = Calibration(1.0, 1.2, 1.4, floor=0.9)
    weak = cal.answer_percent(np.array([0.95, 0.94, 0.7]))
    assert shown_percent(weak[0]) == CLOSE_MATCH and all(shown_percent(p) < CLOSE_MATCH for p in weak[1:])
    assert np.all(np.diff(weak) < 0)
    lonely = cal.answer_percent(np.array([0.85, 0.8]))
    assert np.allclose(lonely, Calibration(1.0, 1.2, 1.4).answer_percent(np.array([0.85, 0.8])))
    assert shown_percent(lonely[0]) < CLOSE_MATCH
    stranger = cal.answer_percent(np.array([0.95, 0.94, 0.7]), raise_best=False)  # a dropped image: never raised
    assert np.allclose(stranger, Calibration(1.0, 1.2, 1.4).answer_percent(np.array([0.95, 0.94, 0.7])))
    copy_first = cal.answer_percent(np.array([1.45, 0.95, 0.94]))  # a near-identical result is never raised
    assert copy_first[0] == pytest.approx(cal.percent(1.45)) and shown_percent(copy_first[1]) == CLOSE_MATCH
    strong = np.array([1.25, 1.1])  # already close: nothing changes
    assert np.allclose(cal.answer_percent(strong), Calibration(1.0, 1.2, 1.4).answer_percent(strong))
