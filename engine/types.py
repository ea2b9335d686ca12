"""Plain data that crosses the engine boundary (to the CLI and the GUI)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NewType, Protocol

__all__ = ["PhotoId", "Progress", "Photo", "Neighbor", "FileError", "ModelInfo", "Status", "IndexReport", "Settings",
           "DuplicateMember", "DuplicateGroup", "WordMatches",
           "SIMILARITY_LEVELS", "CLOSE_MATCH", "similarity_level", "shown_percent", "STAGE_TITLES", "STAGE_UNITS",
           "PERCENT_STAGES", "stage_title", "LibraryFacade"]

PhotoId = NewType("PhotoId", int)


# What each stage of a long job is called for people, the unit it counts and the stages whose units mean nothing
# to people (shown as a share of the work): one wording for the CLI's bars and the app's progress panel.
STAGE_TITLES: dict[str, str] = {
    "scan": "Looking for photos",
    "encode": "Reading photos",
    "codes": "Preparing search",
    "index": "Updating search",
    "train": "Learning from your photos",
    "export": "Saving what was learned",
    "reencode": "Applying what was learned to your photos",
    "frames": "Preparing photos for the duplicate check",
    "words": "Noting what each photo shows",
    "dupes": "Checking look-alike photos for copies",
    "repair": "Checking the library",
    "compact": "Reclaiming space",
}
STAGE_UNITS: dict[str, str] = {"scan": "files", "encode": "photos", "reencode": "photos", "frames": "photos",
                               "words": "photos", "dupes": "pairs"}
PERCENT_STAGES: tuple[str, ...] = ("train", "export", "codes", "index", "repair", "compact")


def stage_title(stage: str) -> str:
    """``STAGE_TITLES`` of a stage, or the stage's own name capitalised when it has none."""
    return STAGE_TITLES.get(stage, stage.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Progress:
    """One step of a long job.

    Attributes:
        stage: what runs now: ``scan``, ``encode``, ``frames``, ``codes``, ``index``, ``words``, ``dupes``, ``train``,
            ``export``, ``reencode``.
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
    companion: str | None = None  # a RAW file's JPEG (or HEIF) from the same shot: one photo, two files


# The one similarity people see, in percent (engine.codes.search.similarity_percent: a monotonic map of the very score
# results are ordered by), and its named levels, strictest first: (lowest percent of the level, its name).
# Calibrated on real photos (tests/test_similarity.py): edited copies of a photo score 97-100 %, photos of the same
# kind of garment mostly 60-90 %, and grocery photos searched among clothes at most 58 % (148 queries).
SIMILARITY_LEVELS: tuple[tuple[float, str], ...] = (
    (95.0, "near-identical"), (80.0, "very similar"), (60.0, "similar"), (0.0, "loosely related"))
CLOSE_MATCH = 60.0  # a result below this is not a close match; a query whose best result is below it has none


def similarity_level(percent: float) -> str:
    """The named level of a similarity in percent (``SIMILARITY_LEVELS``)."""
    return next(name for low, name in SIMILARITY_LEVELS if percent >= low)


def shown_percent(percent: float) -> float:
    """A similarity as people see it: a whole percent, halves rounded up. Every result carries only this rounded
    value, so its level, its close-match flag and the number printed or painted beside it come from one number
    (a raw 59.7 % would otherwise print as "60%" under the line that says "under 60%")."""
    return float(math.floor(float(percent) + 0.5))


@dataclass(frozen=True)
class Neighbor:
    """A search result: a photo, its Hamming distance to the query code and the scores results are ordered by.

    Results come in decreasing ``engine.codes.binary.blended_scores(match, score)``; ``similarity`` is that same score
    mapped monotonically to 0-100 % and rounded to the whole percent people see (``shown_percent``), so the
    numbers never contradict the order, and a result's level is the level of the number shown beside it.
    """

    photo: Photo
    distance: int
    score: float | None = None  # cosine similarity of backbone features
    match: float | None = None  # asymmetric code score / its maximum, in [-1, 1]
    similarity: float | None = None  # whole percent, 0-100 (shown_percent of engine.codes.search.similarity_percent)
    offline: bool = False  # the photo's file cannot be reached now (its drive unplugged, its share unmounted)

    def __post_init__(self) -> None:
        if self.similarity is not None:
            object.__setattr__(self, "similarity", shown_percent(self.similarity))

    @property
    def level(self) -> str | None:
        """``near-identical``, ``very similar``, ``similar`` or ``loosely related`` (None when unknown)."""
        return None if self.similarity is None else similarity_level(self.similarity)

    @property
    def close(self) -> bool:
        """Whether this is a close match (similarity at least ``CLOSE_MATCH``)."""
        return self.similarity is not None and self.similarity >= CLOSE_MATCH


@dataclass(frozen=True)
class WordMatches:
    """The photos that show a text's words, best first (``Library.similar_to_text``).

    Attributes:
        text: the text as typed.
        understood: what it was read as, in plain words, e.g. ``"dog (118 kinds)"``.
        ignored: words left out as unknown, because others were known.
        results: the photos, best first; ``similarity`` is the match in percent (never "near-identical"),
            ``distance`` the Hamming distance from the words' own code, ``match`` the raw score (0-1).
    """

    text: str
    understood: str
    ignored: tuple[str, ...]
    results: list[Neighbor]

    @property
    def close_match(self) -> bool:
        """Whether some photo clearly shows the words (its similarity is at least ``CLOSE_MATCH``)."""
        return bool(self.results) and self.results[0].close


@dataclass(frozen=True)
class DuplicateMember:
    """One photo of a duplicate group and how it differs from the copy the group keeps.

    Attributes:
        photo: the photo.
        keep: True for the copy the group keeps (``engine.duplicates.groups.KEEP_RULE``); the others are trash candidates.
        differences: short phrases, e.g. ``["smaller copy", "recompressed", "mirrored"]``; empty for the kept one.
        likeness: how closely its pixels match the kept copy once aligned (0-1; 1 for the kept one).
    """

    photo: Photo
    keep: bool
    differences: list[str] = field(default_factory=list)
    likeness: float = 1.0


@dataclass(frozen=True)
class DuplicateGroup:
    """Copies of one photo (``sure``), or similar shots (``sure`` False): other captures of one scene or object.

    Copies come kept copy first. Similar shots come suggested best shot first, with ``suggestion`` saying why; in
    them no member is marked for the trash (every ``keep`` is True).
    """

    members: list[DuplicateMember]
    sure: bool = True
    suggestion: str = ""

    KEEP_RULE: ClassVar[str] = (
        "Simili keeps the original rather than a derived copy (a camera RAW file before a JPEG of it, not cropped, "
        "no added borders, black corners or caption, in colour when another copy is), then the copy with the most "
        "pixels, then the least compressed, then the oldest.")

    @property
    def photos(self) -> list[Photo]:
        return [m.photo for m in self.members]


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

    def outcome(self) -> str:
        """What learning did for search, in photos (a model that learned: the label-free check's verdict, in
        ``metrics``; engine.learning.train_check). One wording for the CLI and the app."""
        m = self.metrics
        if "check_better" in m:
            tested, better, worse = int(m["check_queries"]), int(m["check_better"]), int(m["check_worse"])
            test = (f"Tested on {tested:,} of your photos set aside while learning: their closest matches got better "
                    f"for {better:,}, worse for {worse:,} and stayed the same for {tested - better - worse:,}.")
        elif "check_gain" in m:
            test = "Tested on photos set aside while learning."
        else:
            test = ""
        if self.active:
            if not test:
                return ("Searches now use what Simili learned from your photos (too few photos to set some aside and "
                        "test it).")
            return f"Searches now use what Simili learned from your photos. {test}"
        return (f"Learning made no difference worth keeping, so searches stay as they were and nothing else changed. "
                f"{test}").strip()


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
    offline: list[str] = field(default_factory=list)  # library folders offline now (absent, unreadable, emptied)


@dataclass(frozen=True)
class IndexReport:
    """What an index run did."""

    added: int
    updated: int
    removed: int
    moved: int
    failed: int
    unchanged: int
    indexed: int
    offline: tuple[str, ...] = ()  # library folders that are offline: their photos are kept, nothing was read
    unreadable_folders: tuple[FileError, ...] = ()  # folders inside them that could not be listed
    companions: int = 0  # camera JPEGs kept with their RAW file as one photo (not counted in ``indexed``)


# Folders and files no photo collection means to show: NAS thumbnails and recycle bins (Synology, QNAP), Windows
# and macOS system folders, desktop trash and thumbnail caches, AppleDouble resource forks. Hidden folders (".name")
# are never scanned either. Editable in Settings and with ``simili folders --skip/--unskip``.
SKIPPED_NAMES: tuple[str, ...] = (
    "@eaDir", "#recycle", "#snapshot", "@Recycle", "@Recently-Snapshot", ".@__thumb", "$RECYCLE.BIN",
    "System Volume Information", "lost+found", ".Trash-*", ".Trashes", ".thumbnails", "._*", "Thumbs.db",
    "SYNOPHOTO_THUMB_*", "SYNOFILE_THUMB_*",
)


@dataclass
class Settings:
    """What a user can change. Thresholds are in bits of Hamming distance at the active code length.

    Attributes:
        bits: code length of new models (16, 32, 64 or 128).
        device: where training runs: ``auto`` (GPU when there is one), ``cuda`` or ``cpu``.
        similar_k: how many neighbours a "similar photos" query returns.
        similar_max_distance: loosest Hamming distance shown as similar, as a fraction of ``bits``.
        dupe_max_distance: Hamming radius for duplicate candidates, as a fraction of ``bits`` (stricter).
        dupe_min_cosine: backbone-feature cosine a candidate pair must reach before its pixels are compared.
        auto_train: train DistillHash by itself after indexing once the library is big enough.
        auto_train_min_photos: how many indexed photos "big enough" means.
        excluded: folders (absolute paths) never scanned.
        skipped_names: names of folders and files never scanned wherever they are (shell-style patterns, any
            case): NAS and system litter such as Synology thumbnails (``@eaDir``) and recycle bins.
        compact_share: share of the feature cache that may be rows no photo uses (changed and deleted photos')
            before an index run reclaims them.
        watch_folders: while the desktop app runs, notice photos added to, changed in or removed from the library
            folders and index them by itself (no "Rescan folders" needed).
    """

    bits: int = 64
    device: str = "auto"
    similar_k: int = 50
    similar_max_distance: float = 0.50
    dupe_max_distance: float = 0.16
    dupe_min_cosine: float = 0.6
    auto_train: bool = True
    auto_train_min_photos: int = 200
    excluded: list[str] = field(default_factory=list)
    skipped_names: list[str] = field(default_factory=lambda: list(SKIPPED_NAMES))
    compact_share: float = 0.25
    watch_folders: bool = True

    def validate(self) -> None:
        if self.bits not in (16, 32, 64, 128):
            raise ValueError(f"code length must be 16, 32, 64 or 128 bits, not {self.bits}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"device must be auto, cuda or cpu, not {self.device!r}")
        if not 0 < self.compact_share <= 1:
            raise ValueError(f"compact_share must be above 0 and at most 1, not {self.compact_share}")
        if not 0 <= self.dupe_max_distance <= self.similar_max_distance <= 1:
            raise ValueError("thresholds must satisfy 0 <= duplicate distance <= similar distance <= 1")


class LibraryFacade(Protocol):
    """What a client (the desktop app) may call on a library; ``Library`` and the GUI's test doubles implement it."""

    @property
    def home(self) -> Path: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def cache_dir(self) -> Path: ...
    def view(self) -> Any: ...
    def folders(self) -> list[str]: ...
    def offline_folders(self) -> list[str]: ...
    def photo_count(self) -> int: ...
    def photos(self, offset: int = 0, limit: int = -1) -> list[Photo]: ...
    def photo(self, photo_id: int) -> Photo | None: ...
    def photo_at(self, path: str | os.PathLike[str]) -> Photo | None: ...
    def failures(self) -> list[FileError]: ...
    def models(self) -> list[ModelInfo]: ...
    def thumbnail_file(self, path: str, size: int, mtime: float | None = None) -> Path: ...
    def similar(self, photo: int | str | os.PathLike[str], k: int | None = None,
                max_distance: int | None = None) -> list[Neighbor]: ...
    def similar_to_image(self, path: str | os.PathLike[str], k: int | None = None,
                         max_distance: int | None = None) -> list[Neighbor]: ...
    def similar_to_text(self, text: str, k: int | None = None) -> WordMatches: ...
    def names(self) -> list[Any]: ...
    def named_photos(self, name: str) -> list[Photo]: ...
    def name_proposals(self, name: str, k: int | None = None) -> list[Neighbor]: ...
    def similar_refined(self, photo: int, more: list[int] = (), less: list[int] = (),
                        k: int | None = None) -> list[Neighbor]: ...
    def name_photos(self, name: str, photos: list[Any], shows: bool = True) -> int: ...
    def rename_name(self, old: str, new: str) -> str: ...
    def remove_name(self, name: str) -> int: ...
    def duplicates(self, max_distance: int | None = None, min_cosine: float | None = None,
                   progress: Callable[[Progress], None] | None = None) -> list[DuplicateGroup]: ...
    def not_copies(self, photos: list[int | str | os.PathLike[str]]) -> int: ...
    def training_available(self) -> tuple[bool, str]: ...
    def gpu_status(self) -> tuple[bool, str]: ...
    def save_settings(self, settings: Settings | None = None) -> None: ...
    def add_folder(self, folder: str | os.PathLike[str]) -> None: ...
    def remove_folder(self, folder: str | os.PathLike[str]) -> int: ...
    def index(self, folders: list[str | os.PathLike[str]] | None = None) -> Generator[Progress, None, Any]: ...
    def train_in_subprocess(self, bits: int | None = None, device: str | None = None, seed: int = 0,
                            should_stop: Callable[[], bool] | None = None) -> Generator[Progress, None, Any]: ...
    def discard_training(self, bits: int | None = None) -> None: ...
    def close(self) -> None: ...
