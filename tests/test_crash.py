"""kill -9 in the middle of indexing leaves a consistent library that the next run resumes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.api import Library
from tests.conftest import REPO, demo_photos, photo_folder


def _indexed(home: Path) -> int:
    db = home / "catalog.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)  # a busy catalog: ask again soon
        try:
            return con.execute("SELECT COUNT(*) FROM photos WHERE status='ok'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _start(home: Path, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "engine", "-q", "index", str(folder)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_kill9_during_indexing_resumes_without_redoing_work(tmp_path):
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos()[:160])
    home = tmp_path / "lib"
    rng = np.random.default_rng(7)
    kills = 0
    for attempt in range(3):
        before = _indexed(home)
        proc = _start(home, folder)
        target = before + int(rng.integers(8, 40))
        deadline = time.monotonic() + 120
        while proc.poll() is None and _indexed(home) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        lib = Library(home)
        assert lib.store.catalog.integrity_ok()
        counts = lib.store.catalog.counts()
        ids, rows = lib.store.catalog.feature_rows()
        assert len(set(rows)) == len(rows) == counts["ok"], "two photos share a feature row"
        assert max(rows, default=-1) < lib.store.features.rows
        lib.close()
    assert kills >= 1

    lib = Library(home)
    done_before = {pid: t for pid, t in lib.store.catalog.db.execute(
        "SELECT id, indexed_at FROM photos WHERE status='ok'")}
    lib.close()
    proc = _start(home, folder)
    assert proc.wait(timeout=300) == 0
    lib = Library(home)
    after = dict(lib.store.catalog.db.execute("SELECT id, indexed_at FROM photos WHERE status='ok'"))
    assert len(after) == 160
    assert all(after[pid] == t for pid, t in done_before.items()), "finished photos were encoded again"
    index = lib.store.models.index()
    assert sorted(index.ids().tolist()) == sorted(after)
    lib.close()


def _default_signals() -> None:
    """In the child: Ctrl-C as a terminal delivers it. A shell's background job (``.ci/run &``) inherits SIGINT
    ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_stops_cleanly_with_the_same_message(tmp_path, signum, status):
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos()[:240])
    home = tmp_path / "lib"
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "index", str(folder)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    deadline = time.monotonic() + 120
    while proc.poll() is None and _indexed(home) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("indexing finished before the signal arrived")
    assert proc.returncode == status
    assert err.strip() == "simili: cancelled; work done so far is kept and the next run resumes"
    lib = Library(home)
    assert lib.store.catalog.integrity_ok()
    assert 0 < lib.store.catalog.counts()["ok"] < 240
    lib.close()


def test_bits_option_changes_the_training_free_code(tmp_path):
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=8))  # 80 photos: enough for a 32-bit ITQ (needs more than 64)
    env = {**os.environ, "SIMILI_HOME": str(tmp_path / "lib"), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "engine", "-q", "index", "--bits", "32", str(folder)], env=env,
                   check=True, capture_output=True, timeout=300)
    lib = Library(tmp_path / "lib")
    (model,) = lib.models()
    assert model.kind == "itq" and model.bits == 32 and lib.store.models.index().bits == 32
    assert lib.settings.bits == 32
    lib.close()
