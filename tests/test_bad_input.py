"""A folder full of awkward files: every good file is indexed, every bad one has a clear error, nothing crashes,
and the photo folder is byte-for-byte unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.api import Library
from engine.library.catalog import fs_bytes
from engine.progress import run_to_end
from tests.conftest import REPO, demo_photos, photo_folder, tree_digest
from tests.corpus import make_bad_corpus, unreadable


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    expected = make_bad_corpus(root)
    for p in demo_photos(per_class=1)[:4]:  # a few ordinary photos beside the awkward ones
        shutil.copyfile(p, root / p.name)
        expected[p.name] = "ok"
    # a folder symlink loop must not hang the scanner
    (root / "sub").mkdir()
    os.symlink("..", root / "sub" / "up")
    return root, expected


def test_every_file_gets_a_result_and_the_folder_is_untouched(bad_folder, tmp_path):
    root, expected = bad_folder
    before = tree_digest(root)
    lib = Library(tmp_path / "lib")
    report = run_to_end(lib.index([root]))
    assert tree_digest(root) == before
    rows = {bytes(r[0]): (r[1], r[2], r[3]) for r in lib.store.catalog.db.execute(
        "SELECT path, status, error_code, error FROM photos")}
    for name, outcome in expected.items():
        status, code, message = rows[fs_bytes(root / name)]
        if outcome == "ok":
            assert status == "ok", f"{name}: {code} {message}"
        else:
            assert status == "error" and code == outcome, f"{name}: expected {outcome}, got {status}/{code}"
            assert message and "\n" not in message and "Traceback" not in message
    # the folder loop (sub/up -> ..) did not make anything appear twice
    assert len(rows) == len(expected)
    assert report.indexed == sum(v == "ok" for v in expected.values())
    assert report.failed == sum(v != "ok" for v in expected.values())
    lib.close()


def test_unreadable_file_is_a_permission_error(tmp_path):
    folder = tmp_path / "p"
    photos = demo_photos(per_class=1)[:3]
    locked = photo_folder(folder, photos)[0]
    lib = Library(tmp_path / "lib")
    with unreadable([locked]):  # tests run as root, where chmod 000 would not stop a read
        report = run_to_end(lib.index([folder]))
    assert report.indexed == 2 and report.failed == 1
    (failure,) = lib.failures()
    assert failure.code == "permission" and Path(failure.path) == locked
    lib.close()


def test_cli_status_lists_failures_and_exits_zero(bad_folder, tmp_path):
    root, expected = bad_folder
    env = {**os.environ, "SIMILI_HOME": str(tmp_path / "lib"), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "engine", "--json", "index", str(root)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    status = json.loads(subprocess.run([sys.executable, "-m", "engine", "status", "--json"], env=env,
                                       capture_output=True, text=True, timeout=120, check=True).stdout)
    bad = {k for k, v in expected.items() if v != "ok"}
    assert status["failed"] == len(bad)
    listed = {os.path.relpath(f["path"], root) for f in status["failures"]}
    assert listed == bad
    assert all(f["message"] for f in status["failures"])
