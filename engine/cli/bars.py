"""Progress on stderr while a command runs (tqdm bars), and progress as JSON lines for the GUI."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Generator
from dataclasses import asdict
from typing import Any

from engine.progress import run_to_end

log = logging.getLogger("engine")


class Bars:
    """tqdm bars on stderr, one per stage (a stage whose total changes keeps its bar), cleared when the stage
    ends: the result lines stay, no half-finished ``codes: 0% 0/1`` bar. Only photo stages show a rate (photos a
    second); the others, which jump through cached work, show a share and the time."""

    PLAIN = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.stage = None
        self.shown: list[str] = []  # stages that got a bar, in order

    def update(self, p) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.stage != self.stage:
            self.close()
            self.stage = p.stage
            self.shown.append(p.stage)
            photos = p.stage in ("encode", "reencode")
            self.bar = tqdm(total=p.total, desc=p.stage, unit="photos" if photos else "it", file=sys.stderr,
                            dynamic_ncols=True, leave=False, bar_format=None if photos else
                            (self.PLAIN if p.total else "{desc}: {n_fmt} [{elapsed}]"))
        elif self.bar.total != p.total:
            self.bar.total = p.total
        self.bar.n = p.done
        self.bar.set_description(p.stage, refresh=False)
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
