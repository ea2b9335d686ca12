"""Retrieval metrics against hand-computed examples, and a tiny end-to-end run of ``python -m bench.retrieval``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench._metrics import (average_precision, evaluate_ranking, hamming_distances, pr_curve, rank_asymmetric,
                            rank_by_cosine, rank_by_hamming, rank_like_the_app)
from engine.codes.binary import asymmetric_scores, pack_signs, shortlist_size

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_average_precision_by_hand():
    # relevant at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    # relevant at ranks 2, 3, 5: (1/2 + 2/3 + 3/5) / 3
    assert average_precision([0, 1, 1, 0, 1]) == pytest.approx((0.5 + 2 / 3 + 0.6) / 3)
    assert average_precision([1, 1, 0]) == 1.0
    assert np.isnan(average_precision([0, 0]))


def test_evaluate_ranking_map_and_precision_at_k():
    db_labels = np.array(["a", "b", "a", "b", "a"])
    query_labels = np.array(["a", "b", "c"])  # "c" has no relevant item: left out
    ranking = np.array([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0]])
    out = evaluate_ranking(ranking, query_labels, db_labels, ks=(2, 10))
    ap_a = (1 + 2 / 3 + 3 / 5) / 3
    ap_b = (1 / 2 + 2 / 4) / 2
    assert out["map"] == pytest.approx((ap_a + ap_b) / 2)
    assert out["p@2"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert out["p@10"] == pytest.approx((3 / 5 + 2 / 5) / 2)  # k capped at the database size
    assert out["queries"] == 2


def test_hamming_distances_and_tie_break():
    q = np.packbits(np.array([[1, 0, 0, 0, 0, 0, 0, 0]], dtype=bool), axis=1)
    db = np.packbits(np.array([[1, 0, 0, 0, 0, 0, 0, 1],
                               [0, 0, 0, 0, 0, 0, 0, 0],
                               [1, 0, 0, 0, 0, 0, 0, 0],
                               [0, 1, 1, 1, 1, 1, 1, 1]], dtype=bool), axis=1)
    assert hamming_distances(q, db).tolist() == [[1, 1, 0, 8]]
    assert rank_by_hamming(q, db).tolist() == [[2, 0, 1, 3]]
    # ties (items 0 and 1, distance 1) follow the tie-break key, not the database order
    assert rank_by_hamming(q, db, tiebreak=[5, 1, 0, 9]).tolist() == [[2, 1, 0, 3]]


def test_asymmetric_scores_are_the_dot_product_with_signed_bits():
    rng = np.random.default_rng(0)
    proj = rng.standard_normal((3, 24)).astype(np.float32)
    codes = pack_signs(rng.standard_normal((9, 24)))
    signs = np.where(np.unpackbits(codes, axis=1)[:, :24] > 0, 1.0, -1.0)
    np.testing.assert_allclose(asymmetric_scores(proj, codes), proj @ signs.T, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(asymmetric_scores(proj[1], codes), proj[1] @ signs.T, rtol=1e-6, atol=1e-5)
    # a query's own sign code gets the highest score any code can get: sum |p|
    assert asymmetric_scores(proj[0], pack_signs(proj[:1]))[0] == pytest.approx(np.abs(proj[0]).sum(), rel=1e-6)
    assert shortlist_size(50, 100) == 100 and shortlist_size(50, 10**6) == 512 and shortlist_size(200, 10**6) == 1600


def test_rank_asymmetric_reorders_only_the_shortlist():
    # One query, 8 bits. Items 0 and 1 are both at Hamming distance 1, but item 1 flips the query's weakest bit.
    proj = np.array([[3.0, 2.0, 1.0, 0.5, -1.0, -2.0, -3.0, -0.1]], dtype=np.float32)
    base = proj[0] > 0
    def code(flip):
        bits = base.copy()
        bits[flip] = ~bits[flip]
        return np.packbits(bits)
    db = np.stack([code([0]), code([7]), code([0, 1, 2]), code([7, 3])])
    assert rank_by_hamming(pack_signs(proj), db, tiebreak=[0, 1, 2, 3]).tolist() == [[0, 1, 3, 2]]
    assert rank_asymmetric(proj, db, tiebreak=[0, 1, 2, 3]).tolist() == [[1, 3, 0, 2]]
    # with a shortlist of 2, items beyond it keep their Hamming order
    assert rank_asymmetric(proj, db, tiebreak=[0, 1, 2, 3], shortlist=2).tolist() == [[1, 0, 3, 2]]


def test_app_order_refines_equal_codes_with_features():
    # Items 0 and 1 share the query's own code (same match); item 1's stored feature equals the query's.
    proj = np.array([[1.0, -2.0, 0.5, 3.0, -1.0, 0.2, -0.3, 2.0]], dtype=np.float32)
    q_feat = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    db_feats = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.7, 0.7, 0.0]], dtype=np.float32)
    flipped = (proj[0] > 0).copy()
    flipped[5] = ~flipped[5]
    db_codes = np.stack([pack_signs(proj)[0], pack_signs(proj)[0], np.packbits(flipped)])
    assert rank_asymmetric(proj, db_codes, tiebreak=[0, 1, 2]).tolist() == [[0, 1, 2]]
    # blended: item 1 = 1 + 0.5, item 2 = (1 - 0.4 / 10) + 0.5 x 0.71, item 0 = 1 + 0
    assert rank_like_the_app(proj, db_codes, q_feat, db_feats, tiebreak=[0, 1, 2]).tolist() == [[1, 2, 0]]


def test_rank_by_cosine_and_pr_curve():
    db = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    ranking = rank_by_cosine(np.array([[2.0, 0.0]]), db)
    assert ranking.tolist() == [[0, 2, 1]]
    recall, precision = pr_curve(ranking, np.array(["x"]), np.array(["x", "y", "x"]), levels=3)
    assert recall.tolist() == [0.0, 0.5, 1.0]
    assert precision.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.slow
@pytest.mark.train
def test_bench_end_to_end_on_a_subset(tmp_path):
    pytest.importorskip("torch")
    manifest = SHARED / "clothing10-dev" / "manifest.csv"
    if not manifest.is_file():
        pytest.skip("shared data sets are not available")
    from bench import retrieval
    from engine.resources import backbone_model_path

    if not backbone_model_path().is_file():
        pytest.skip("backbone model not built")
    out = tmp_path / "r.json"
    code = retrieval.main(["--manifest", str(manifest), "--bits", "16", "--limit", "80", "--out", str(out),
                           "--methods", "float,distillhash,distillhash-app,distillhash-hamming,app-trained,rankpres,"
                                        "rankpres-recon,itq,itq-asym,itq-app,lsh",
                           "--splits", "2",
                           "--plot"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["n"] == 80 and report["n_queries"] == 8 and report["n_database"] == 72
    got = {(r["method"], r["bits"]) for r in report["results"]}
    assert got == {("float", None), ("distillhash", 16), ("distillhash-app", 16), ("distillhash-hamming", 16),
                   ("app-trained", 16), ("rankpres", 16), ("rankpres-recon", 16),
                   ("itq", 16), ("itq-asym", 16), ("itq-app", 16), ("lsh", 16)}
    for r in report["results"]:
        assert 0.0 <= r["map"] <= 1.0 and 0.0 <= r["p@10"] <= 1.0
        assert r["splits"] == 2 and r["map_std"] >= 0.0
    assert report["training"]["distillhash-16"]["parity_max_abs_diff"] < 1e-4
    assert report["training"]["rankpres-16"]["variant"] == "rankpres"
    # app-trained is the trained order where the held-out check accepted the model, else ITQ's
    rows = {r["method"]: r for r in report["results"]}
    for check, m in zip(report["checks"], rows["app-trained"]["map_splits"]):
        assert check["check_queries"] == 7
        other = rows["itq-app"]["map_splits"] if not check["check_passed"] else None
        assert other is None or m in other
    assert out.with_suffix(".png").is_file()


def test_the_garments_10_set_holds_the_demo_kinds_from_both_garment_folders():
    from collections import Counter

    from bench._sets import rows_of
    from bench.words import DATA

    rows = rows_of(DATA / "garments-10")
    demo = rows_of(DATA / "clothing10-dev")
    kinds = Counter(r["label"] for r in rows)
    assert set(kinds) == {r["label"] for r in demo} and len(kinds) == 10
    assert len(rows) == 895 and len({r["path"] for r in rows}) == 895  # 245 demo photos + 650 look-alike photos
    assert {r["path"] for r in demo} < {r["path"] for r in rows}
    assert all(Path(r["path"]).is_file() for r in rows)
