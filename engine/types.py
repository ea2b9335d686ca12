"""Plain data that crosses the engine boundary (to the CLI and the GUI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NewType

__all__ = ["PhotoId", "Progress", "Photo", "Neighbor", "FileError", "ModelInfo", "Status"]

PhotoId = NewType("PhotoId", int)


@dataclass(frozen=True)
class Progress:
    """One step of a long job.

    Attributes:
        stage: what runs now: ``scan``, ``encode``, ``codes``, ``index``, ``train``, ``export``, ``reencode``.
        done: units finished in this stage.
        total: units in this stage, or None while unknown.
        rate: units per second, when known.
        eta_s: seconds left, when known.
        message: one short line for a status bar.
        metrics: extra numbers, e.g. ``{"loss": 0.31, "epoch": 3}`` during training.
    """

    stage: str
    done: int = 0
    total: int | None = None
    rate: float | None = None
    eta_s: float | None = None
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Photo:
    id: PhotoId
    path: str
    width: int | None = None
    height: int | None = None
    size: int | None = None
    mtime: float | None = None
    taken_at: str | None = None


@dataclass(frozen=True)
class Neighbor:
    """A search result: a photo, its Hamming distance to the query code and the scores results are ordered by."""

    photo: Photo
    distance: int
    score: float | None = None  # cosine similarity of backbone features
    match: float | None = None  # asymmetric code score / its maximum, in [-1, 1]
    # results come in decreasing engine.codes.blended_scores(match, score)


@dataclass(frozen=True)
class FileError:
    path: str
    code: str
    message: str


@dataclass(frozen=True)
class ModelInfo:
    id: int
    kind: str  # "itq" (training-free) or "distillhash"
    bits: int
    created: str
    active: bool
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Status:
    home: str
    folders: list[str]
    photos: int
    indexed: int
    failed: int
    pending: int
    provider: str
    model: ModelInfo | None
    training_available: bool
    training_reason: str
    failures: list[FileError] = field(default_factory=list)
