"""Progress on stderr while a command runs (tqdm bars), and progress as JSON lines for the GUI."""

from __future__ import annotations

import json
import logging
import sys
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


def drive(job: Generator, bars: Bars) -> Any:
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
