"""DistillHash training on cached features: quality on a clustered toy set, determinism, cancel/resume, export."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from bench._metrics import evaluate_ranking, rank_asymmetric, rank_by_hamming  # noqa: E402
from engine.codes.binary import fit_itq, pack_signs  # noqa: E402
from engine.errors import Cancelled  # noqa: E402
from engine.learning.train import (CHECKPOINT_NAME, TrainConfig, build_head, database_features, run_to_end,  # noqa: E402
                          train_distillhash)

pytestmark = pytest.mark.train

FAST = TrainConfig(min_steps=60, max_steps=60, checkpoint_every_s=0.0)


def clustered(n: int = 320, d: int = 96, classes: int = 8, seed: int = 0):
    """Gaussian clusters on the sphere, with a shared offset like CNN features (all in one orthant-ish cone)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)) * 0.6
    labels = rng.integers(0, classes, n)
    x = centres[labels] + rng.standard_normal((n, d)) + 2.0
    return x.astype(np.float32), labels


def head_outputs(result, feats):
    head = build_head(result.in_dim, result.bits, result.hidden)
    head.load_state_dict(result.state_dict)
    with torch.no_grad():
        return head.eval()(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))).numpy()


def head_codes(result, feats):
    return pack_signs(head_outputs(result, feats))


def hamming_map(codes_q, codes_db, lq, ldb) -> float:
    return evaluate_ranking(rank_by_hamming(codes_q, codes_db), lq, ldb)["map"]


def test_training_reaches_itq_and_beats_random_head():
    x, y = clustered()
    q, db = slice(0, 40), slice(40, None)
    result = run_to_end(train_distillhash(x[db], bits=32, seed=0, config=FAST, device="cpu"))
    # the app's search: database codes of neighbourhood features, ranked by the query's asymmetric score
    ranking = rank_asymmetric(head_outputs(result, x[q]), head_codes(result, database_features(x[db], result)))
    trained = evaluate_ranking(ranking, y[q], y[db])["map"]
    itq = fit_itq(x[db], 32)
    itq_map = hamming_map(itq.encode(x[q]), itq.encode(x[db]), y[q], y[db])
    random_head = build_head(x.shape[1], 32)  # torch's default init, untrained
    with torch.no_grad():
        rq = pack_signs(random_head(torch.from_numpy(x[q])).numpy())
        rdb = pack_signs(random_head(torch.from_numpy(x[db])).numpy())
    random_map = hamming_map(rq, rdb, y[q], y[db])
    assert trained > random_map + 0.1
    assert trained >= itq_map - 0.02
    assert set(result.diagnostics) >= {"pairs_pos", "pairs_neg", "pairs_zero", "final_loss", "seconds"}


def test_faithful_variant_runs_and_distils_pairs():
    x, _ = clustered(n=200)
    cfg = TrainConfig.faithful(min_steps=15, max_steps=15)
    result = run_to_end(train_distillhash(x, bits=16, seed=0, config=cfg, device="cpu"))
    d = result.diagnostics
    assert d["pairs_pos"] + d["pairs_neg"] > 0
    assert abs(d["pairs_pos"] + d["pairs_neg"] + d["pairs_zero"] - 1.0) < 1e-9
    assert result.hidden == cfg.hidden


def test_same_seed_same_head():
    x, _ = clustered(n=200)
    a = run_to_end(train_distillhash(x, bits=16, seed=3, config=FAST, device="cpu"))
    b = run_to_end(train_distillhash(x, bits=16, seed=3, config=FAST, device="cpu"))
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k]), k


def test_progress_is_reported():
    x, _ = clustered(n=200)
    steps = list(train_distillhash(x, bits=16, config=TrainConfig(min_steps=60, max_steps=60, progress_every_s=0.0)))
    trained = [p for p in steps if p.total]
    assert trained[-1].done == trained[-1].total == 60
    assert all(p.stage == "train" for p in steps)
    assert {"loss", "epoch"} <= set(trained[-1].metrics)


def test_cancel_raises_and_resume_continues(tmp_path):
    x, _ = clustered(n=200)
    calls = {"n": 0}

    def stop_after_25() -> bool:
        calls["n"] += 1
        return calls["n"] > 25

    with pytest.raises(Cancelled):
        run_to_end(train_distillhash(x, bits=16, seed=1, config=FAST, checkpoint_dir=tmp_path,
                                     should_stop=stop_after_25))
    saved = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert saved["step"] == 25

    resumed_steps = []
    gen = train_distillhash(x, bits=16, seed=1, config=FAST, checkpoint_dir=tmp_path)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            resumed = stop.value
            break
        if p.total:
            resumed_steps.append(p.done)
    assert min(resumed_steps) > 25  # continued, not restarted
    straight = run_to_end(train_distillhash(x, bits=16, seed=1, config=FAST))
    for k in straight.state_dict:
        assert torch.allclose(straight.state_dict[k], resumed.state_dict[k], atol=1e-6), k


def test_checkpoint_of_another_run_is_ignored(tmp_path):
    x, _ = clustered(n=200)
    with pytest.raises(Cancelled):
        run_to_end(train_distillhash(x, bits=16, config=FAST, checkpoint_dir=tmp_path, should_stop=lambda: True))
    # different bits: the checkpoint does not fit and training starts from step 0
    every_step = TrainConfig(min_steps=60, max_steps=60, checkpoint_every_s=0.0, progress_every_s=0.0)
    progress = list(train_distillhash(x, bits=24, config=every_step, checkpoint_dir=tmp_path))
    assert [p.done for p in progress if p.total][0] == 1


@pytest.mark.parametrize("variant", ["graph", "faithful"])
def test_onnx_export_parity_and_hashcoder(tmp_path, variant):
    from engine.learning.export_hash import check_parity, export_head
    from engine.codes.hashcoder import HashCoder

    x, _ = clustered(n=200)
    cfg = TrainConfig(variant=variant, min_steps=10, max_steps=10)
    result = run_to_end(train_distillhash(x, bits=32, config=cfg))
    path = export_head(result, tmp_path / "head.onnx")
    report = check_parity(result, path, x)
    assert report["max_abs_diff"] < 1e-4 and report["bits_differ"] == 0
    coder = HashCoder(path)
    assert coder.bits == 32
    head = build_head(result.in_dim, result.bits, result.hidden)
    head.load_state_dict(result.state_dict)
    with torch.no_grad():
        ref = head.eval()(torch.from_numpy(x)).numpy()
    got = coder.project(x.astype(np.float16))
    assert np.max(np.abs(ref - got)) < 1e-2  # fp16 input rounding
    np.testing.assert_allclose(coder.project(x), ref, atol=1e-4)
    far = np.abs(ref) > 1e-4
    assert np.array_equal((coder.project(x) > 0)[far], (ref > 0)[far])
    assert coder.encode(x).shape == (200, 4)


def test_parity_failure_raises(tmp_path):
    from engine.learning.export_hash import ParityError, check_parity, export_head

    x, _ = clustered(n=120)
    result = run_to_end(train_distillhash(x, bits=16, config=TrainConfig(min_steps=5, max_steps=5)))
    path = export_head(result, tmp_path / "head.onnx")
    result.state_dict["proj.bias"] = result.state_dict["proj.bias"] + 1.0
    with pytest.raises(ParityError):
        check_parity(result, path, x)


def test_database_features_are_each_photos_neighbourhood():
    from engine.codes.binary import l2_normalize
    from engine.learning.train import database_features

    x, _ = clustered(n=200)
    cfg = TrainConfig(min_steps=5, max_steps=5)
    result = run_to_end(train_distillhash(x, bits=16, seed=0, config=cfg, device="cpu"))
    nb = result.neighbours
    assert nb.shape == (200, cfg.smooth_k) and not (nb == np.arange(200)[:, None]).any()
    xn = l2_normalize(x)
    sims = np.sort(xn @ xn.T, axis=1)[:, ::-1]
    # the stored neighbours are the nearest other photos (rank 0 is the photo itself)
    np.testing.assert_allclose(np.einsum("nd,nkd->nk", xn, xn[nb]), sims[:, 1 : cfg.smooth_k + 1], atol=1e-5)
    z = database_features(x, result)
    want = l2_normalize(cfg.smooth_self * xn + (1 - cfg.smooth_self) * xn[nb].mean(axis=1))
    np.testing.assert_allclose(z, want, atol=1e-6)
    with pytest.raises(ValueError):
        database_features(x[:50], result)
    faithful = run_to_end(train_distillhash(x, bits=16, seed=0, device="cpu",
                                            config=TrainConfig.faithful(min_steps=2, max_steps=2)))
    assert faithful.neighbours is None
    np.testing.assert_allclose(database_features(x, faithful), xn, atol=1e-6)


@pytest.mark.parametrize("variant", ["dsg", "dmuh", "rankpres"])
def test_refinement_variants_train_and_keep_the_structure(variant):
    x, y = clustered()
    q, db = slice(0, 40), slice(40, None)
    cfg = TrainConfig(variant=variant, min_steps=40, max_steps=40)
    result = run_to_end(train_distillhash(x[db], bits=32, seed=0, config=cfg, device="cpu"))
    ranking = rank_asymmetric(head_outputs(result, x[q]), head_codes(result, database_features(x[db], result)))
    itq = fit_itq(x[db], 32)
    assert evaluate_ranking(ranking, y[q], y[db])["map"] >= hamming_map(itq.encode(x[q]), itq.encode(x[db]),
                                                                        y[q], y[db]) - 0.02
    assert result.diagnostics["steps"] == 40
    if variant != "rankpres":  # the listwise loss has no distilled pairs
        assert 0 < result.diagnostics["pairs_pos"] < result.diagnostics["pairs_neg"]


def test_diffusion_start_separates_clusters_better_than_its_own_features():
    """The start alone (no refinement step) orders a clustered set at least as well as ITQ, from the query's own
    feature: the multi-scale targets add the collection's structure, the ridge map carries it to new photos."""
    x, y = clustered(n=600, classes=6, seed=2)
    q, db = slice(0, 60), slice(60, None)
    result = run_to_end(train_distillhash(x[db], bits=32, seed=0, config=TrainConfig(epochs=0), device="cpu"))
    assert result.diagnostics["steps"] == 0 and 0 < result.diagnostics["start_variance_kept"] <= 1
    ranking = rank_asymmetric(head_outputs(result, x[q]), head_codes(result, database_features(x[db], result)))
    itq = fit_itq(x[db], 32)
    itq_map = evaluate_ranking(rank_asymmetric(itq.project(x[q]), itq.encode(x[db])), y[q], y[db])["map"]
    assert evaluate_ranking(ranking, y[q], y[db])["map"] > itq_map


def test_holdout_check_accepts_a_good_model_and_rejects_a_scrambled_one():
    from engine.learning.train_check import compare_models

    x, _ = clustered(n=700, classes=6, seed=4)
    result = run_to_end(train_distillhash(x, bits=32, seed=0, config=TrainConfig(epochs=0), device="cpu",
                                          holdout=0.1))
    rows = result.rows
    held = np.setdiff1d(np.arange(len(x)), rows)
    assert len(rows) + len(held) == len(x) and len(held) == 70
    assert result.check is not None and result.check.queries == 70
    # broad scales capped at N / 16 groups, plus groups of about 8 photos: 630 trained photos -> 4, 16, 39, 78
    assert set(result.check.trained) == {4, 16, 39, 78}
    assert result.diagnostics["check_passed"] == float(result.check.passed)
    # a model that ignores the structure (random projection) must be refused against ITQ
    itq = fit_itq(x[rows], 32)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((x.shape[1], 32)).astype(np.float32)
    scrambled = (x[held] @ w, pack_signs(x[rows] @ w))
    verdict = compare_models(x[rows], x[held], scrambled, (itq.project(x[held]), itq.encode(x[rows])))
    assert not verdict.passed and verdict.gain < 0
    same = compare_models(x[rows], x[held], (itq.project(x[held]), itq.encode(x[rows])),
                          (itq.project(x[held]), itq.encode(x[rows])))
    assert not same.passed and same.gain == 0  # no gain is no reason to switch


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the planted file itself
def test_planted_pickle_in_the_checkpoint_is_never_run(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (exec, ("open(%r, 'w').write('pwned')" % str(tmp_path / "ran"),))

    tmp_path.joinpath(CHECKPOINT_NAME).write_bytes(pickle.dumps({"meta": Payload()}))
    x, _ = clustered(n=120)
    result = run_to_end(train_distillhash(x, bits=16, config=TrainConfig(min_steps=3, max_steps=3),
                                          checkpoint_dir=tmp_path))
    assert not (tmp_path / "ran").exists()
    assert result.diagnostics["steps"] == 3


def test_feature_decoder_reconstructs_from_codes():
    from engine.codes.binary import fit_decoder, l2_normalize

    x, _ = clustered(n=400)
    itq = fit_itq(x, 32)
    codes = itq.encode(x)
    recon = fit_decoder(codes, x).decode(codes)
    xn = l2_normalize(x)
    own = np.einsum("nd,nd->n", recon, xn)
    other = np.einsum("nd,nd->n", recon, xn[np.roll(np.arange(400), 1)])
    assert recon.shape == x.shape and own.mean() > other.mean() + 0.05
