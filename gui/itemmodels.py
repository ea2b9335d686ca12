"""Item models: the whole library as a lazily paged list, and a ranked list of search results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal

from engine.types import CLOSE_MATCH, Neighbor, Photo, similarity_level
from gui.workers import FunctionWorker, if_alive, start

__all__ = ["PhotoRole", "DistanceRole", "ScoreRole", "PhotoGridModel", "NeighborListModel", "ResultsModel",
           "photo_tooltip", "photo_at", "similarity_at", "NEAREST_FEW"]

log = logging.getLogger(__name__)

# WORKAROUND: PySide6 6.12 on Python < 3.12 drops a reference to None each time QModelIndex.data() (or an item's
# data()) returns an empty value to Python; enough calls (a few paints) deallocate None and abort the process.
# Our code therefore never reads a role that can be empty through .data(): it asks the model with
# :func:`photo_at` / :func:`similarity_at`, and item views store a non-None placeholder in every role they read.
PhotoRole = Qt.ItemDataRole.UserRole + 1
DistanceRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3


def photo_at(index) -> Photo | None:
    """The photo of a view index (without QModelIndex.data(), see the WORKAROUND above)."""
    if not index.isValid():
        return None
    photo = getattr(index.model(), "photo", None)
    return photo(index.row()) if photo is not None else None


def similarity_at(index) -> float | None:
    """The similarity (percent) of a result index, or None for models without one."""
    if not index.isValid():
        return None
    similarity = getattr(index.model(), "similarity", None)
    return similarity(index.row()) if similarity is not None else None


def photo_tooltip(photo: Photo, extra: str = "") -> str:
    lines = [f"<b>{Path(photo.path).name}</b>", Path(photo.path).parent.as_posix()]
    facts = []
    if photo.width and photo.height:
        facts.append(f"{photo.width} × {photo.height}")
    if photo.size:
        facts.append(_human_size(photo.size))
    if photo.taken_at:
        facts.append(photo.taken_at.replace("T", " ")[:16])
    if facts:
        lines.append(" · ".join(facts))
    if photo.companion:  # a RAW file's JPEG from the same shot: one photo, two files
        lines.append(f"also saved by the camera as {Path(photo.companion).name}")
    if extra:
        lines.append(extra)
    return "<br>".join(lines)


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


class PhotoGridModel(QAbstractListModel):
    """All indexed photos, read in pages from ``library.photos(offset, limit)`` on a worker thread.

    ``rowCount`` is known up front (``photo_count``); a page is requested the first time one of its rows is
    painted, so scrolling to row 90,000 of 100,000 reads one page, not 90,000 photos.
    ``set_folder(path)`` shows only the photos under one folder (read once on a worker, then served from memory).
    """

    PAGE = 512
    MAX_PAGES = 400
    page_loaded = Signal(int)
    reset_done = Signal(int)  # row count

    def __init__(self, photos: Callable[[int, int], list[Photo]], count: Callable[[], int],
                 parent: QObject | None = None):
        super().__init__(parent)
        self._photos = photos
        self._count_fn = count
        self._count = 0
        self._pages: dict[int, list[Photo]] = {}
        self._pending: set[int] = set()
        self._generation = 0
        self.folder: str | None = None
        self.listing: tuple[str, Callable[[], list[Photo]]] | None = None  # (what, fetch): e.g. a taught name
        self._subset: list[Photo] | None = None
        self._similarity: list[float | None] | None = None  # a listing of search results: each one's percent

    # -- loading -------------------------------------------------------------------------------------
    def set_folder(self, folder: str | None) -> None:
        """Show only the photos under ``folder`` (None: all of them)."""
        if folder != self.folder or self.listing is not None:
            self.folder = folder
            self.listing = None
            self._generation += 1  # answers for the previous choice are dropped
            self.refresh()

    def set_listing(self, what: str, fetch: Callable[[], list[Photo]]) -> None:
        """Show only the photos ``fetch()`` returns (called on a worker), e.g. those of a taught name; search results
        (``Neighbor``, best first) keep their similarity badge."""
        self.folder, self.listing = None, (what, fetch)
        self._generation += 1
        self.refresh()

    def refresh(self) -> None:
        """Re-count in the background, then reset (pages are read again as they are shown)."""
        gen = self._generation
        if self.listing is not None:
            worker = FunctionWorker(self.listing[1])
            worker.returned.connect(lambda photos: self._on_subset(gen, photos))
        elif self.folder is not None:
            worker = FunctionWorker(self._photos_under, self.folder)
            worker.returned.connect(lambda photos: self._on_subset(gen, photos))
        else:
            worker = FunctionWorker(self._count_fn)
            worker.returned.connect(lambda n: self._on_counted(gen, n))
        start(worker, "io")

    def _photos_under(self, folder: str) -> list[Photo]:
        root = Path(folder).as_posix().rstrip("/") + "/"
        return [p for p in self._photos(0, max(int(self._count_fn()), 1)) if Path(p.path).as_posix().startswith(root)]

    @if_alive
    def _on_subset(self, generation: int, photos: list[Photo]) -> None:
        if generation == self._generation:
            found = bool(photos) and all(isinstance(p, Neighbor) for p in photos)
            self._similarity = [n.similarity for n in photos] if found else None
            self._subset = [n.photo for n in photos] if found else list(photos)
            self.set_count(len(photos))

    @if_alive
    def _on_counted(self, generation: int, count: int) -> None:
        if generation != self._generation:
            return
        self._subset = self._similarity = None
        self.set_count(int(count))

    def set_count(self, count: int) -> None:
        self.beginResetModel()
        self._generation += 1
        self._count = count
        self._pages.clear()
        self._pending.clear()
        if self._subset is not None:
            self._pages.update({i: self._subset[i * self.PAGE:(i + 1) * self.PAGE]
                                for i in range((len(self._subset) + self.PAGE - 1) // self.PAGE)})
        self.endResetModel()
        if count and self._subset is None:
            self._request(0)
        elif count:
            self.page_loaded.emit(0)
        self.reset_done.emit(count)

    def _request(self, page: int) -> None:
        if page in self._pending or page in self._pages:
            return
        self._pending.add(page)
        worker = FunctionWorker(self._photos, page * self.PAGE, self.PAGE)
        gen = self._generation
        worker.returned.connect(lambda photos: self._on_page(gen, page, photos))
        worker.errored.connect(lambda exc: self._on_page_failed(gen, page, exc))
        start(worker, "io")

    @if_alive
    def _on_page(self, generation: int, page: int, photos: Sequence[Photo]) -> None:
        if generation != self._generation:
            return
        self._pending.discard(page)
        if len(self._pages) >= self.MAX_PAGES and self._subset is None:
            self._pages.pop(next(iter(self._pages)))
        self._pages[page] = list(photos)
        first = page * self.PAGE
        last = min(first + len(photos), self._count) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first), self.index(last))
        self.page_loaded.emit(page)

    @if_alive
    def _on_page_failed(self, generation: int, page: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._pending.discard(page)
            log.warning("could not read photos %d..%d: %s", page * self.PAGE, (page + 1) * self.PAGE, exc)

    def is_loaded(self, row: int) -> bool:
        return row // self.PAGE in self._pages

    # -- model API -----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._count

    def photo(self, row: int) -> Photo | None:
        page = self._pages.get(row // self.PAGE)
        if page is None:
            if 0 <= row < self._count:
                self._request(row // self.PAGE)
            return None
        offset = row % self.PAGE
        return page[offset] if offset < len(page) else None

    def similarity(self, row: int) -> float | None:
        """A search result's similarity in percent (a listing of results, e.g. word results); else None."""
        scores = self._similarity
        return scores[row] if scores is not None and 0 <= row < len(scores) else None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        photo = self.photo(index.row())
        if photo is None:
            return None
        if role == PhotoRole:
            return photo
        similarity = self.similarity(index.row())
        level = None if similarity is None else similarity_level(similarity)
        if role == Qt.ItemDataRole.ToolTipRole:
            return photo_tooltip(photo, "" if level is None else f"<b>{similarity:.0f}% match</b> ({level})")
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            name = Path(photo.path).name
            return name if level is None else f"{name}, {similarity:.0f}% match ({level})"
        return None

    def row_of(self, photo_id: int) -> int | None:
        """Row of a photo among the loaded pages (None when its page is not loaded)."""
        for page, photos in self._pages.items():
            for i, p in enumerate(photos):
                if p.id == photo_id:
                    return page * self.PAGE + i
        return None


NEAREST_FEW = 6  # shown below the line when no result is as similar as asked


class NeighborListModel(QAbstractListModel):
    """A list of ``Neighbor``s shown in order (``_rows``): the accessors and roles every result list shares.
    Subclasses say how a row reads (``row_text``) and what its tooltip adds (``row_tooltip``)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[Neighbor] = []

    def row_text(self, n: Neighbor) -> str:
        return Path(n.photo.path).name

    def row_tooltip(self, n: Neighbor) -> str:
        return ""

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def photo(self, row: int) -> Photo | None:
        return self._rows[row].photo if 0 <= row < len(self._rows) else None

    def similarity(self, row: int) -> float | None:
        return self._rows[row].similarity if 0 <= row < len(self._rows) else None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        n = self._rows[index.row()]
        if role == PhotoRole:
            return n.photo
        if role == DistanceRole:
            return n.distance
        if role == ScoreRole:
            return n.similarity
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.row_text(n)
        if role == Qt.ItemDataRole.ToolTipRole:
            return photo_tooltip(n.photo, self.row_tooltip(n))
        return None


class ResultsModel(NeighborListModel):
    """Search results (most similar first), filtered live by a lowest similarity in percent.

    When none reaches the asked similarity, the nearest ``NEAREST_FEW`` are shown (``below_line()``): a strict
    query says so and still shows what comes nearest, without a page of unrelated photos. At the loosest setting
    every result is shown, close or not (the panel says when none is a close match).
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._all: list[Neighbor] = []
        self._limit: float | None = None
        self._below = False
        self.bits = 64

    def set_results(self, neighbors: Sequence[Neighbor], bits: int) -> None:
        self.beginResetModel()
        self._all = list(neighbors)
        self.bits = bits
        self._rows, self._below = self._filter()
        self.endResetModel()

    def set_limit(self, min_similarity: float | None) -> None:
        if min_similarity == self._limit:
            return
        self._limit = min_similarity
        shown, below = self._filter()
        self._below = below
        if [n.photo.id for n in shown] == [n.photo.id for n in self._rows]:
            return
        self.beginResetModel()
        self._rows = shown
        self.endResetModel()

    def _filter(self) -> tuple[list[Neighbor], bool]:
        limit = self._limit
        passing = [n for n in self._all if n.similarity is None or limit is None or n.similarity >= limit]
        if self._all and not passing:
            return self._all[:NEAREST_FEW], True
        return passing, False

    def no_close_match(self) -> bool:
        """The best result is below the close-match line."""
        best = self.best()
        return best is not None and best.similarity is not None and best.similarity < CLOSE_MATCH

    def below_line(self) -> bool:
        """True when none passes the limit and the nearest few are shown instead."""
        return self._below

    def passing(self) -> int:
        """How many results reach the limit (0 when only the nearest few below it are shown)."""
        return 0 if self._below else len(self._rows)

    def best(self) -> Neighbor | None:
        return self._all[0] if self._all else None

    def total(self) -> int:
        return len(self._all)

    def neighbors(self) -> list[Neighbor]:
        return list(self._rows)

    def row_text(self, n: Neighbor) -> str:
        name = Path(n.photo.path).name
        return name if n.similarity is None else f"{name}, {n.similarity:.0f}% similar ({n.level})"

    def row_tooltip(self, n: Neighbor) -> str:
        if n.similarity is None:
            return ""
        return f"<b>{n.similarity:.0f}% similar</b> ({n.level}); results are ordered by this"
