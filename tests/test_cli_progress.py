"""The command line's progress bars: one bar per stage, none left behind, no absurd rates for cached work."""

from __future__ import annotations

import io
import sys

from engine.cli.bars import Bars
from engine.types import Progress


def test_bars_one_per_stage_cleared_when_done(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bars = Bars(enabled=True)
    steps = [Progress("scan", 0, None), Progress("scan", 5000, None),  # walking the folders: total unknown
             Progress("scan", 0, 245), Progress("scan", 245, 245),      # then recording: the same stage
             Progress("encode", 100, 245, rate=10.0), Progress("encode", 245, 245, rate=10.0),
             Progress("codes", 0, 1), Progress("index", 0, 245), Progress("index", 245, 245)]
    for p in steps:
        bars.update(p)
    bars.close()
    assert bars.shown == ["scan", "encode", "codes", "index"]  # one "scan" bar, not two
    text = err.getvalue()
    assert "\n" not in text  # every bar is cleared: no "codes: 0% 0/1" left behind
    assert "it/s" not in text  # stages that jump through cached work show no rate
    assert "photos/s" in text  # reading photos does


def test_bars_speak_the_apps_words_with_one_colon_and_their_units(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bars = Bars(enabled=True)
    for p in (Progress("codes", 0, 1), Progress("dupes", 64, None), Progress("train", 3, 10),
              Progress("encode", 7, 20, rate=3.0)):
        bars.update(p)
    bars.close()
    text = err.getvalue()
    assert ": :" not in text and "::" not in text  # was "codes: :   0%| 0/1", "dupes: : 64"
    assert "Preparing search:" in text and "0/1" not in text  # a share of the work, not a count of nothing
    assert "Checking look-alike photos for copies: 64 pairs" in text  # no total yet: what was done, in its unit
    assert "Learning from your photos:" in text and "train:" not in text
    assert "7/20 photos" in text and "photos/s" in text


def test_bars_off_when_disabled(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bars = Bars(enabled=False)
    bars.update(Progress("scan", 1, 2))
    bars.close()
    assert err.getvalue() == "" and bars.shown == []


def test_dupes_shows_its_progress(monkeypatch):
    """`simili dupes` hands the comparison's progress to the bars (it can take minutes on a large library)."""
    from engine.cli import bars, searching

    seen = []
    monkeypatch.setattr(bars.Bars, "update", lambda self, p: seen.append(p.stage))

    class Lib:
        def duplicates(self, max_distance=None, min_cosine=None, progress=None):
            progress(Progress("dupes", 1, 2, message="comparing"))
            return []

    args = type("Args", (), {"max_distance": None, "min_cosine": None, "json": True})()
    assert searching.cmd_dupes(Lib(), args, bars.Bars(enabled=True))["groups"] == []
    assert seen == ["dupes"]
