"""The desktop app trains DistillHash for real: in a child process, then searches with the new codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.api import Library
from tests.conftest import REPO, demo_photos, photo_folder

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.train]


def test_gui_indexes_trains_and_queries(tmp_path):
    pytest.importorskip("torch")
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=7))
    query = sorted(folder.glob("shoes-*.jpg"))[0]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "gui", "--home", str(tmp_path / "lib"), "--folder", str(folder),
                          "--train", "--query", str(query), "--screenshot", str(tmp_path / "shot.png"),
                          "--timeout", "400"], env=env, capture_output=True, text=True, timeout=500)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["photos"] == 70 and report["results"] > 0
    assert (tmp_path / "shot.png").stat().st_size > 10_000
    lib = Library(tmp_path / "lib")
    active = lib.store.catalog.active_record().info
    assert active.kind == "distillhash" and active.metrics["encoder_bits_differ"] == 0
    lib.close()
