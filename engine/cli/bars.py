"""Progress on stderr while a command runs: tqdm bars on a terminal, plain lines every few seconds when stderr is
piped or logged (``Lines``), and progress as JSON lines on stdout for the GUI (``JsonLines``)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Generator
from dataclasses import asdict
from typing import Any

from engine.progress import run_to_end
from engine.types import PERCENT_STAGES, STAGE_UNITS, stage_title

log = logging.getLogger("engine")


class Bars:
    """tqdm bars on stderr, one per stage (a stage whose total changes keeps its bar), cleared when the stage
    ends: the result lines stay, no half-finished bar. Each bar is titled in the app's words
    (``engine.types.STAGE_TITLES``) and counts the stage's unit (photos, files, pairs); stages whose units mean
    nothing to people (``PERCENT_STAGES``) show a share of the work; a stage whose total is not known yet shows
    what it has done and the time."""

    SHARE = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"
    COUNT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}]"
    PHOTOS = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}]"
    OPEN = "{desc}: {n_fmt} {unit} [{elapsed}]"
    BUSY = "{desc} [{elapsed}]"

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.stage = None
        self.shown: list[str] = []  # stages that got a bar, in order

    @classmethod
    def bar_format(cls, stage: str, total: int | None) -> str:
        unit = STAGE_UNITS.get(stage)
        if total and stage in PERCENT_STAGES:
            return cls.SHARE
        if total:
            return cls.PHOTOS if stage in ("encode", "reencode") else cls.COUNT if unit else cls.SHARE
        return cls.OPEN if unit else cls.BUSY

    def update(self, p) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.stage != self.stage:
            self.close()
            self.stage = p.stage
            self.shown.append(p.stage)
            self.bar = tqdm(total=p.total, desc=stage_title(p.stage), unit=STAGE_UNITS.get(p.stage, ""),
                            file=sys.stderr, dynamic_ncols=True, leave=False,
                            bar_format=self.bar_format(p.stage, p.total))
        elif self.bar.total != p.total:
            self.bar.total = p.total
            self.bar.bar_format = self.bar_format(p.stage, p.total)
        self.bar.n = p.done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Lines:
    """Plain progress lines on stderr for a stderr that is not a terminal (a pipe, a log file): a redrawn bar
    would be noise there, and silence for minutes looks like a hang. A line is written once a stage has run
    ``EVERY_S`` seconds (or ``$SIMILI_PROGRESS_EVERY``) and then at most that often, and a last one when such a
    stage ends, so a command that finishes in a few seconds writes nothing. Nothing ever goes to stdout (``--json``
    stays strict)."""

    EVERY_S = 5.0

    def __init__(self, every_s: float | None = None, clock=time.monotonic):
        if every_s is None:
            try:
                every_s = max(0.0, float(os.environ.get("SIMILI_PROGRESS_EVERY", self.EVERY_S)))
            except ValueError:
                every_s = self.EVERY_S
        self.every_s = every_s
        self.clock = clock
        self.stage: str | None = None
        self.last = None  # the stage's latest Progress
        self.started = self.written = 0.0
        self.lines = 0  # lines written for the current stage
        self.shown: list[str] = []  # stages that got a line, in order

    def update(self, p) -> None:
        now = self.clock()
        if p.stage != self.stage:
            self.close()
            self.stage, self.started, self.written, self.lines = p.stage, now, now, 0
        self.last = p
        if now - self.written >= self.every_s:
            self._write(self.describe(p, now - self.started))
            self.written = now

    def _write(self, text: str) -> None:
        if not self.lines:
            self.shown.append(self.stage)
        self.lines += 1
        try:
            print(text, file=sys.stderr, flush=True)
        except (OSError, ValueError):  # a closed or broken stderr never stops the work
            pass

    @staticmethod
    def describe(p, elapsed: float, done: bool = False) -> str:
        """One line in the app's words: 'Checking look-alike photos for copies: 1,200 of 3,000 pairs (40%), about
        2 min left'."""
        unit = STAGE_UNITS.get(p.stage, "")
        if p.total and p.stage not in PERCENT_STAGES and unit:
            what = f"{p.done:,} of {p.total:,} {unit} ({100 * p.done / p.total:.0f}%)"
        elif p.total:
            what = f"{100 * p.done / p.total:.0f}%"
        elif unit:
            what = f"{p.done:,} {unit}"
        else:
            what = "working"
        if done:  # the stage ended (or the command stopped): where it got to
            return f"{stage_title(p.stage)}: {what} after {_duration(elapsed)}"
        if p.eta_s is not None and p.eta_s >= 1:
            tail = f"about {_duration(p.eta_s)} left"
        else:
            tail = f"{_duration(elapsed)} so far"
        return f"{stage_title(p.stage)}: {what}, {tail}"

    def close(self) -> None:
        if self.lines and self.last is not None:
            self._write(self.describe(self.last, self.clock() - self.started, done=True))
        self.stage, self.last, self.lines = None, None, 0


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_for(quiet: bool, json_out: bool, terminal: bool) -> Bars | Lines:
    """The progress a command shows: none with ``--quiet``; bars on a terminal; plain lines every few seconds
    when stderr is piped or logged, or beside ``--json`` (whose stdout holds only the JSON)."""
    if quiet:
        return Bars(enabled=False)
    if terminal and not json_out:
        return Bars(enabled=True)
    return Lines()


def drive(job: Generator, bars: Bars | Lines) -> Any:
    try:
        return run_to_end(job, bars.update)
    finally:
        bars.close()


class JsonLines:
    """Progress as JSON lines on stdout, read by a parent process (engine.jobs.learn.train_in_subprocess)."""

    def update(self, p) -> None:
        sys.stdout.write(json.dumps({"progress": asdict(p)}) + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass
