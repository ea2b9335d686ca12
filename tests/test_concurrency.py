"""Two processes on one library (the app and the CLI): one writer at a time, readers never blocked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from engine.api import Library
from engine.progress import run_to_end
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

    # The writer is this process, paused mid-run inside its encode stage with the writer lock held: the state the
    # other processes meet is fixed by events (steps of the job), not by how fast a loaded machine runs.
    writer = Library(home)
    job = writer.index([folder])
    try:
        for step in job:
            if step.stage == "encode" and step.done >= 32:
                break
        else:
            raise AssertionError("the index job ended before its encode stage")
        assert writer.store.catalog.counts()["pending"] > 0
        second = subprocess.run([sys.executable, "-m", "engine", "index"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 1
        assert "busy" in second.stderr and second.stderr.count("\n") == 1
        # reading while the other process writes: search answers from the last saved index
        query = subprocess.run([sys.executable, "-m", "engine", "--json", "similar", str(small / first[0].name),
                                "-k", "3"], env=env, capture_output=True, text=True, timeout=120)
        assert query.returncode == 0, query.stderr
        assert len(json.loads(query.stdout)["results"]) == 3
        run_to_end(job)  # the paused run finishes
    finally:
        job.close()
        writer.close()
    lib = Library(home)
    assert lib.store.catalog.integrity_ok()
    assert lib.store.catalog.counts()["ok"] == 190
    lib.close()
