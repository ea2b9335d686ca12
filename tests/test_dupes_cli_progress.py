"""`simili dupes` piped or logged still says how far it is: plain lines on stderr, never in the --json stdout.

The first duplicate search after training measures every look-alike pair again (minutes on a large library);
with stderr piped the tqdm bars are off, and before this the command said nothing until it was done.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageOps

from engine.api import Library
from engine.cli.bars import Bars, Lines, progress_for
from engine.types import Progress, stage_title
from tests.conftest import REPO, demo_photos, photo_folder
from tests.test_library import run

DUPES = stage_title("dupes")


@pytest.fixture(scope="module")
def measured_again(tmp_path_factory):
    """A small library with two copies of one photo, indexed, whose stored copy checks were then dropped, as after
    training (new codes, new look-alike pairs): the next `dupes` compares every pair again."""
    folder = tmp_path_factory.mktemp("photos")
    photos = photo_folder(folder, demo_photos(per_class=1)[:6])
    im = Image.open(photos[0]).convert("RGB")
    im.resize((im.width // 2, im.height // 2)).save(folder / "copy-half.jpg", quality=60)
    ImageOps.mirror(im).save(folder / "copy-mirrored.jpg", quality=85)
    home = tmp_path_factory.mktemp("lib")
    lib = Library(home)
    try:
        run(lib.index([folder]))
        catalog = lib.store.catalog
        with catalog.transaction():
            catalog.db.execute("DROP TABLE IF EXISTS copy_matches")
            catalog.db.execute("DROP TABLE IF EXISTS look_alikes")
            catalog.db.execute("DELETE FROM meta WHERE key IN ('pair_checks_for', 'look_alikes_for')")
    finally:
        lib.close()
    return home, folder, photos[0]


def _simili(home, *args: str, every: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO), "SIMILI_PROGRESS_EVERY": every}
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, env=env, check=False,
                          cwd=REPO, timeout=300)


def test_piped_json_dupes_writes_progress_lines_on_stderr_and_only_json_on_stdout(measured_again):
    home, _, original = measured_again
    proc = _simili(home, "--json", "dupes")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # strict JSON: not one progress line in it
    assert DUPES not in proc.stdout
    copies = [{os.path.basename(m["path"]) for m in g} for g in out["groups"]]
    assert {original.name, "copy-half.jpg", "copy-mirrored.jpg"} in copies
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"{DUPES}: ")]
    assert lines, proc.stderr
    assert any(" pairs (" in line and " of " in line for line in lines), lines  # how far, in pairs
    assert "\r" not in proc.stderr and "|" not in proc.stderr  # plain lines, not a redrawn bar


def test_piped_text_dupes_keeps_progress_off_stdout_and_quiet_shows_none(measured_again):
    home, _, _ = measured_again
    text = _simili(home, "dupes")
    assert text.returncode == 0, text.stderr
    assert f"{DUPES}: " in text.stderr and DUPES not in text.stdout
    assert text.stdout.startswith("copies 1 ")
    quiet = _simili(home, "-q", "--json", "dupes")
    assert quiet.returncode == 0 and quiet.stderr == "" and json.loads(quiet.stdout)["groups"]


def test_a_quick_piped_command_writes_no_progress_at_the_default_rate(measured_again):
    home, _, _ = measured_again
    proc = _simili(home, "--json", "dupes", every="60")  # all stored now: a second or two
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads(proc.stdout)["groups"]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_at_a_modest_rate_and_say_where_the_stage_got_to(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    clock = _Clock()
    lines = Lines(every_s=5.0, clock=clock)
    for k in range(121):  # a stage reporting ten times a second for 12 s
        clock.now = k / 10
        lines.update(Progress("dupes", 10 * k, 1210, rate=100.0, eta_s=(1210 - 10 * k) / 100))
    for k in range(30):  # then a stage of 3 s: nothing said about it
        clock.now = 12.1 + k / 10
        lines.update(Progress("index", k, 30))
    lines.close()
    text = err.getvalue().splitlines()
    assert len(text) == 3, text  # at 5 s, at 10 s, and where it ended
    assert text[0] == f"{DUPES}: 500 of 1,210 pairs (41%), about 7 s left"
    assert text[-1] == f"{DUPES}: 1,200 of 1,210 pairs (99%) after 12 s"
    assert lines.shown == ["dupes"]


def test_stages_without_a_count_or_a_unit_read_as_shares_or_time():
    assert Lines.describe(Progress("train", 3, 10), 75.0) == "Learning from your photos: 30%, 1 min 15 s so far"
    assert Lines.describe(Progress("scan", 5000, None), 3.0) == f"{stage_title('scan')}: 5,000 files, 3 s so far"


def test_the_progress_shown_follows_the_terminal_json_and_quiet():
    assert isinstance(progress_for(quiet=False, json_out=False, terminal=True), Bars)
    assert progress_for(quiet=False, json_out=False, terminal=True).enabled
    assert isinstance(progress_for(quiet=False, json_out=False, terminal=False), Lines)
    assert isinstance(progress_for(quiet=False, json_out=True, terminal=True), Lines)  # the bars' redraws stay off
    quiet = progress_for(quiet=True, json_out=True, terminal=False)
    assert isinstance(quiet, Bars) and not quiet.enabled
