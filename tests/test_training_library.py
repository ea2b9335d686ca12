"""Training through the library: CLI train, model versioning and roll-back, kill -9 mid-training, search throughout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.api import Library
from tests.conftest import REPO, demo_photos, photo_folder

pytestmark = pytest.mark.train
pytest.importorskip("torch")


def _cli(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "engine", *args], env=env, capture_output=True, text=True,
                          timeout=600, **kw)


def _train_and_use(home: Path, *args: str) -> dict:
    """`simili train`, then the new model made active even where the held-out check kept the old codes: these tests
    are about what a trained library does (the check's two outcomes are tested in tests/test_jobs.py)."""
    out = _cli(home, "--json", "train", "--device", "cpu", *args)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)["model"]
    if not model["active"]:
        assert _cli(home, "models", "--activate", str(model["id"])).returncode == 0
    return model


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    photo_folder(folder, demo_photos(per_class=14))  # 134 photos: more than 2 x 64, so the code is ITQ
    home = tmp_path_factory.mktemp("lib")
    assert _cli(home, "-q", "index", str(folder)).returncode == 0
    return home, folder


def test_train_switches_index_and_rolls_back(indexed, tmp_path):
    src_home, folder = indexed
    home = tmp_path / "lib"
    shutil.copytree(src_home, home)
    query = sorted(folder.glob("shoes-*.jpg"))[0]
    before = json.loads(_cli(home, "--json", "similar", str(query), "-k", "5").stdout)
    out = _cli(home, "--json", "train", "--bits", "64", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr.lower(), out.stderr  # no library's notes reach the user
    model = json.loads(out.stdout)["model"]
    m = model["metrics"]
    assert model["kind"] == "distillhash" and model["bits"] == 64 and m["check_queries"] == 14
    # the held-out check decides; on these 134 photos its verdict hangs on 14 queries, so both are accepted here
    # (tests/test_jobs.py pins each branch) as long as what happened is what was reported
    assert model["active"] == (m["check_passed"] == 1.0)
    from engine.cli.library import describe_training
    from engine.types import ModelInfo

    said = describe_training(ModelInfo(**model))  # the outcome in photos, one wording with the app
    assert ("Searches now use what Simili learned" in said) == model["active"]
    assert ("searches stay as they were" in said) != model["active"]
    assert f"Tested on 14 of your photos set aside while learning: their closest matches got better for " \
        f"{m['check_better']:.0f}, worse for {m['check_worse']:.0f}" in said
    assert 0 <= m["check_better"] + m["check_worse"] <= 14
    if not model["active"]:
        assert _cli(home, "models", "--activate", str(model["id"])).returncode == 0
    # the percentages are measured again for the model searches now use, on this library (engine.codes.calibration)
    from engine.codes.calibration import Calibration

    probe = Library(home)
    cal = Calibration.from_json(probe.store.catalog.get_meta("calibration"))
    photos = probe.photo_count()
    probe.close()
    assert cal is not None and cal.model == model["id"] and cal.photos == photos
    assert m["head_max_abs_diff"] < 1e-4 and m["head_bits_differ"] == 0
    assert m["encoder_max_abs_diff"] < 1e-4 and m["encoder_bits_differ"] == 0 and m["encoder_n"] > 0
    models = json.loads(_cli(home, "--json", "models").stdout)["models"]
    assert [x["kind"] for x in models] == ["distillhash", "itq"]
    after = json.loads(_cli(home, "--json", "similar", str(query), "-k", "5").stdout)
    assert len(after["results"]) == 5
    # words are searched in the trained model's Hamming space too: their code is made from its codes
    words = json.loads(_cli(home, "--json", "similar", "--text", "shoes", "-k", "5").stdout)
    assert [Path(r["path"]).name.split("-")[0] for r in words["results"]] == ["shoes"] * 5
    # a dropped copy of a library photo still finds that photo first, although it is stored under its neighbourhood
    dropped = tmp_path / "dropped.jpg"
    shutil.copyfile(query, dropped)
    found = json.loads(_cli(home, "--json", "similar", "--image", str(dropped), "-k", "3").stdout)
    assert found["results"][0]["path"] == str(query)
    lib = Library(home)
    assert lib.store.models.index().bits == 64 and len(lib.store.models.index()) == lib.photo_count()
    assert type(lib.store.models.coder()).__name__ == "HashCoder"
    # every photo trained on is stored under the code of its neighbourhood feature, not of its own feature
    from engine.codes.binary import l2_normalize
    from engine.learning.train import TrainConfig
    from engine.learning.train_graph import knn_graph, neighbourhood_features

    ids, rows = lib.store.catalog.feature_rows()
    x = l2_normalize(lib.store.features.get(rows))
    cfg = TrainConfig()
    z = neighbourhood_features(x, knn_graph(x, cfg.smooth_k), cfg.smooth_k, cfg.smooth_self)
    stored = lib.store.models.index().codes_of(ids)
    # (10 % of the photos are held out for the label-free check: they, and the trained photos whose nearest
    # photos they are, have neighbourhoods found among the trained photos only)
    assert (stored == lib.store.models.coder().encode(z)).all(axis=1).mean() >= 0.85
    assert not (stored == lib.store.models.coder().encode(x)).all()
    # queried with its own feature, (nearly) every photo comes back first
    feats = lib.store.features.get(rows)
    first = [lib._search(lib.store.models.index(), f, 1, None, exclude=None)[0].photo.id for f in feats]
    assert np.mean(np.array(first) == ids) >= 0.97
    lib.close()
    # roll back to the training-free model: same answers as before training
    itq_id = next(x["id"] for x in models if x["kind"] == "itq")
    assert _cli(home, "models", "--activate", str(itq_id)).returncode == 0
    again = json.loads(_cli(home, "--json", "similar", str(query), "-k", "5").stdout)
    assert again["results"] == before["results"]
    # search keeps working from another process and never imported torch there
    probe = ("import sys, json; from engine.api import Library; lib = Library(sys.argv[1]);"
             "lib.similar(sys.argv[2], k=3); print(json.dumps('torch' in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", probe, str(home), str(query)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and json.loads(res.stdout) is False


def test_kill9_during_training_leaves_a_working_library(indexed, tmp_path):
    src_home, folder = indexed
    home = tmp_path / "lib"
    shutil.copytree(src_home, home)
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    for delay in (1.0, 3.5):
        proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--progress-jsonl", "--device", "cpu"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        start = time.monotonic()
        for line in proc.stdout:  # wait until training really runs, then a little more
            if '"stage": "train"' in line and time.monotonic() - start > delay:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lib = Library(home)
        assert lib.store.catalog.integrity_ok()
        active = lib.store.catalog.active_record().info
        assert active.kind in ("itq", "distillhash")
        assert len(lib.similar(sorted(folder.glob("hat-*.jpg"))[0], k=3)) == 3
        lib.close()
    _train_and_use(home)
    lib = Library(home)
    assert lib.store.catalog.active_record().info.kind == "distillhash"
    assert len(lib.store.models.index()) == lib.photo_count()
    lib.close()


def test_training_needs_enough_photos(tmp_path):
    folder = tmp_path / "few"
    photo_folder(folder, demo_photos(per_class=1))
    home = tmp_path / "lib"
    _cli(home, "-q", "index", str(folder))
    out = _cli(home, "train")
    assert out.returncode == 1 and "at least" in out.stderr


def test_photos_added_after_training_get_neighbourhood_codes(indexed, tmp_path):
    """A photo indexed after training is stored under 0.7 x its feature + 0.3 x the mean of its 2 nearest photos,
    found by the library's own search; checked against brute-force nearest neighbours on the stored features."""
    from engine.codes.binary import l2_normalize

    src_home, folder = indexed
    home, photos = tmp_path / "lib", tmp_path / "photos"
    shutil.copytree(src_home, home)
    _train_and_use(home, "--bits", "64")
    have = {p.name for p in folder.iterdir()}
    extra = [p for p in demo_photos(per_class=17) if f"{p.parent.name}-{p.name}" not in have]
    assert len(extra) >= 20
    added = photo_folder(photos, extra)  # a second folder of photos the model never saw
    assert _cli(home, "-q", "index", str(photos)).returncode == 0
    lib = Library(home)
    assert next(m for m in lib.models() if m.active).metrics["db_smooth_k"] == 2
    ids, rows = lib.store.catalog.feature_rows()
    ids = np.asarray(ids)
    x = l2_normalize(lib.store.features.get(rows))
    new = np.array([lib.store.catalog.photo_by_path(p)[0].id for p in added])
    is_new = np.isin(ids, new)
    old_x = x[~is_new]
    want = []
    for i in np.flatnonzero(is_new):
        nearest = old_x[np.argsort(-(old_x @ x[i]))[:2]]
        want.append(0.7 * x[i] + 0.3 * nearest.mean(axis=0))
    want_codes = lib.store.models.coder().encode(l2_normalize(np.array(want)))
    stored = lib.store.models.index().codes_of(ids[is_new])
    assert (stored == want_codes).all(axis=1).mean() >= 0.95
    assert not (stored == lib.store.models.coder().encode(x[is_new])).all()
    lib.close()
