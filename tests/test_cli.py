"""The command-line contract: JSON shapes, exit codes, one-line errors, python -m engine == simili."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.codes.binary import blended_scores

from tests.conftest import REPO, demo_photos, photo_folder


def simili(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"simili {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def cli_library(tmp_path_factory):
    home = tmp_path_factory.mktemp("clihome")
    folder = tmp_path_factory.mktemp("cliphotos")
    photo_folder(folder, demo_photos(per_class=3))
    (folder / "broken.jpg").write_bytes(b"")
    out = json.loads(simili("--json", "index", str(folder), home=home).stdout)
    return home, folder, out


def test_index_json(cli_library):
    home, folder, out = cli_library
    assert out["indexed"] == 30 and out["failed"] == 1
    assert out["failures"][0]["path"].endswith("broken.jpg")
    assert "empty" in out["failures"][0]["message"]


def test_similar_json_nearest_first(cli_library):
    home, folder, _ = cli_library
    query = sorted(folder.glob("shoes-*.jpg"))[0]
    out = json.loads(simili("similar", str(query), "-k", "5", "--json", home=home).stdout)
    assert out["query"] == str(query)
    assert len(out["results"]) == 5
    assert all(-1 <= r["match"] <= 1 and -1 <= r["cosine"] <= 1 for r in out["results"])
    final = blended_scores([r["match"] for r in out["results"]], [r["cosine"] for r in out["results"]])
    assert (np.diff(final) <= 1e-3).all()  # best first (JSON rounds to 4 decimals)
    assert all(Path(r["path"]).exists() and r["path"] != str(query) for r in out["results"])


def test_similar_by_external_image(cli_library, tmp_path):
    home, folder, _ = cli_library
    src = sorted(folder.glob("hat-*.jpg"))[0]
    ext = tmp_path / "query.jpg"
    shutil.copyfile(src, ext)
    out = json.loads(simili("--json", "similar", "--image", str(ext), "-k", "3", home=home).stdout)
    assert out["results"][0]["path"] == str(src)
    assert out["results"][0]["distance"] == 0


def test_status_and_dupes_json(cli_library):
    home, folder, _ = cli_library
    st = json.loads(simili("status", "--json", home=home).stdout)
    assert st["indexed"] == 30 and st["failed"] == 1
    assert st["failures"][0]["code"] == "empty"
    assert "ExecutionProvider" in st["provider"]
    assert st["model"]["kind"] in ("itq", "lsh")
    dupes = json.loads(simili("dupes", "--json", home=home).stdout)
    assert isinstance(dupes["groups"], list)


def test_human_output_and_errors(cli_library, tmp_path):
    home, folder, _ = cli_library
    text = simili("status", home=home).stdout
    assert "30 indexed, 1 failed" in text
    bad = simili("similar", str(tmp_path / "nope.jpg"), home=home, check=False)
    assert bad.returncode == 1
    assert bad.stderr.startswith("simili: ") and bad.stderr.count("\n") == 1
    missing = simili("index", str(tmp_path / "no-such-folder"), home=home, check=False)
    assert missing.returncode == 1 and missing.stderr.strip().endswith("no-such-folder does not exist")
    (tmp_path / "a-file.jpg").write_bytes(b"x")
    afile = simili("index", str(tmp_path / "a-file.jpg"), home=home, check=False)
    assert afile.returncode == 1 and "a-file.jpg is a file, not a folder" in afile.stderr
    gone = simili("similar", "--image", str(tmp_path / "gone.jpg"), home=home, check=False)
    assert gone.returncode == 1 and "gone.jpg: file not found" in gone.stderr  # names the file
    alone = simili(home=home, check=False)  # `simili` alone prints what it can do
    assert alone.returncode == 2 and "positional arguments" in alone.stdout and "dupes" in alone.stdout
    alone_json = simili("--json", home=home, check=False)
    assert alone_json.returncode == 2 and alone_json.stdout == "" and alone_json.stderr.count("\n") == 1


def test_console_script_is_the_same_program():
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    if "simili" not in scripts:
        pytest.skip("package not installed (running from a bare checkout)")
    assert scripts["simili"] == "engine.cli:main"


def test_common_options_also_work_after_the_command(cli_library, tmp_path):
    """`simili index DIR -q --json` and `simili status --home LIB -v` work like the options given first."""
    home, folder, _ = cli_library
    after = simili("status", "-q", "--json", "--home", str(home), home=tmp_path / "elsewhere")
    assert json.loads(after.stdout)["indexed"] == 30 and after.stderr == ""
    verbose = simili("similar", str(next(folder.glob("*.jpg"))), "-v", "--json", "-k", "2", home=home)
    assert len(json.loads(verbose.stdout)["results"]) == 2 and "INFO" in verbose.stderr
    assert not (tmp_path / "elsewhere").exists()
