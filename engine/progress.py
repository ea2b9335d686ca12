"""Driving a long job (a generator of Progress that returns a result) to its end."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from engine.types import Progress

__all__ = ["run_to_end"]

R = TypeVar("R")


def run_to_end(job: Generator[Progress, None, R], on_progress: Callable[[Progress], Any] | None = None) -> R:
    """Run ``job`` to completion, handing each Progress to ``on_progress``; returns the job's result.

    The generator is closed on the way out, so an exception (or Ctrl-C) in the caller still runs the job's
    clean-up (locks released, the current batch committed or rolled back).
    """
    try:
        while True:
            step = next(job)
            if on_progress is not None:
                on_progress(step)
    except StopIteration as stop:
        return stop.value
    finally:
        job.close()
