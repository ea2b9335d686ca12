"""Two processes on one library (the app and the CLI): one writer at a time, readers never blocked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from engine.api import Library
from tests.conftest import REPO, demo_photos, photo_folder


def test_second_writer_process_is_told_busy_and_readers_keep_working(tmp_path):
    folder = tmp_path / "photos"
    photos = demo_photos()[:150]
    photo_folder(folder, photos)
    home = tmp_path / "lib"
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    # a first, small index so that there is something to search while the big run goes on
    first = sorted(folder.iterdir())[:40]
    small = tmp_path / "small"
    small.mkdir()
    for p in first:
        shutil.copyfile(p, small / p.name)
    subprocess.run([sys.executable, "-m", "engine", "-q", "index", str(small)], env=env, check=True,
                   capture_output=True, timeout=300)

    writer = subprocess.Popen([sys.executable, "-m", "engine", "-q", "index", str(folder)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lib = Library(home)
        deadline = time.monotonic() + 60
        while lib.store.catalog.counts()["pending"] == 0 and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.poll() is None, "the writer finished too early for this test"
        second = subprocess.run([sys.executable, "-m", "engine", "index"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 1
        assert "busy" in second.stderr and second.stderr.count("\n") == 1
        # reading while the other process writes: search answers from the last saved index
        query = subprocess.run([sys.executable, "-m", "engine", "--json", "similar", str(small / first[0].name),
                                "-k", "3"], env=env, capture_output=True, text=True, timeout=120)
        assert query.returncode == 0, query.stderr
        assert len(json.loads(query.stdout)["results"]) == 3
        lib.close()
    finally:
        assert writer.wait(timeout=300) == 0
    lib = Library(home)
    assert lib.store.catalog.integrity_ok()
    assert lib.store.catalog.counts()["ok"] == 190
    lib.close()
