"""A small fake of the engine facade and the ``make_window`` factory fixture for the GUI tests.

The fake answers like ``engine.api.Library`` (same method names, same data types) without a backbone, so widget
tests run in milliseconds. Import from here: ``from tests.test_gui_fakes import FakeLibrary, make_window``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from engine.errors import Cancelled, NotIndexed, UnknownWords
from engine.types import Settings
from engine.types import FileError, ModelInfo, Neighbor, Photo, PhotoId, Progress, WordMatches

pytestmark = pytest.mark.gui


def make_images(folder: Path, n: int, size=(120, 90)) -> list[Path]:
    """Small distinct images (a hue per file), quick to write and to thumbnail."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"img{i:03d}.jpg"
        hue = int(255 * i / max(n, 1))
        Image.new("HSV", size, (hue, 180, 220)).convert("RGB").save(p, quality=80)
        out.append(p)
    return out


class FakeLibrary:
    """``engine.api.LibraryFacade`` without a backbone, with knobs for tests (tests/test_boundaries.py checks it)."""

    def __init__(self, home: Path):
        from engine.library.thumbcache import ThumbCache

        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.cache_dir = self.home / "cache"
        self.thumbs = ThumbCache(self.cache_dir / "thumbs")
        self.settings = Settings(auto_train=False)
        self._folders: list[str] = []
        self._photos: list[Photo] = []
        self.endless_index = False  # index() runs until cancelled
        self.index_error: BaseException | None = None
        self.groups: list = []  # engine.types.DuplicateGroup
        self.duplicate_runs = 0
        self.refused: set[tuple[int, int]] = set()  # pairs of photo ids said to be "not copies"
        self.failed: list[FileError] = []
        self.model_list = [ModelInfo(1, "itq", 64, "2026-01-01", True)]
        self.available = (True, "PyTorch is installed")
        self.gpu = (False, "no CUDA GPU was found (or its driver is not loaded); training runs on the CPU")
        self.train_epochs = 5
        self.train_endless = False
        self.discarded = False
        self.image_queries: list[str] = []
        self.text_queries: list[str] = []
        self.saved: Settings | None = None
        self.index_runs = 0
        self.similarity_drop = 0.0  # lowers every similarity (a query without a close match)
        self.lock = threading.Lock()

    def view(self) -> FakeLibrary:
        """The fake has no index to protect from its own jobs: it is its own read-only view."""
        return self

    def close(self) -> None:
        pass

    # folders
    def folders(self) -> list[str]:
        return list(self._folders)

    def offline_folders(self) -> list[str]:
        return [f for f in self._folders if not Path(f).is_dir()]

    def not_copies(self, photos) -> int:
        """Remembers every pair (as the catalog does); ``duplicates()`` leaves out a group all of whose pairs are
        refused."""
        pairs = _pairs([int(p) if isinstance(p, int) else int(self.photo_at(p).id) for p in photos])
        self.refused |= pairs
        return len(pairs)

    def add_folder(self, folder) -> None:
        path = str(Path(folder).absolute())
        if path not in self._folders:
            self._folders.append(path)

    def remove_folder(self, folder) -> int:
        path = str(Path(folder).absolute())
        self._folders.remove(path)
        before = len(self._photos)
        self._photos = [p for p in self._photos if not p.path.startswith(path + "/")]
        self.failed = [f for f in self.failed if not f.path.startswith(path + "/")]  # as the real library does
        kept = [[m for m in g.members if not m.photo.path.startswith(path + "/")] for g in self.groups]
        self.groups = [replace(g, members=m) for g, m in zip(self.groups, kept) if len(m) > 1]
        return before - len(self._photos)

    # jobs
    def index(self, folders=None):
        self.index_runs += 1
        if self.index_error is not None:
            raise self.index_error
        files = sorted(f for d in self._folders for f in Path(d).rglob("*.jpg"))
        yield Progress("scan", len(files), None, message="looking for photos")
        if self.endless_index:
            i = 0
            while True:
                i += 1
                time.sleep(0.002)
                yield Progress("encode", i, 1_000_000, rate=500.0, eta_s=2000.0)
        photos = []
        for i, f in enumerate(files, 1):
            photos.append(Photo(PhotoId(i), str(f), 120, 90, f.stat().st_size, f.stat().st_mtime))
            if i % 4 == 0 or i == len(files):
                yield Progress("encode", i, len(files), rate=40.0, eta_s=(len(files) - i) / 40.0)
        self._photos = photos
        yield Progress("index", len(photos), len(photos))
        return len(photos)

    def training_available(self):
        return self.available

    def gpu_status(self):
        return self.gpu

    def train(self, bits=None, device=None, seed=0, should_stop=None):
        epoch = 0
        while self.train_endless or epoch < self.train_epochs:
            epoch += 1
            if should_stop is not None and should_stop():
                raise Cancelled("training stopped; checkpoint kept")
            time.sleep(0.002)
            yield Progress("train", epoch, None if self.train_endless else self.train_epochs, rate=10.0,
                           eta_s=3.0, metrics={"loss": 1.0 / epoch, "epoch": epoch})
        info = ModelInfo(2, "distillhash", bits or 64, "2026-01-02", True)
        self.model_list = [info, ModelInfo(1, "itq", 64, "2026-01-01", False)]
        return info

    train_in_subprocess = train

    def discard_training(self, bits=None) -> None:
        self.discarded = True

    # queries
    def photo_count(self) -> int:
        return len(self._photos)

    def photos(self, offset=0, limit=-1) -> list[Photo]:
        return self._photos[offset:] if limit < 0 else self._photos[offset:offset + limit]

    def photo(self, photo_id):
        return next((p for p in self._photos if p.id == photo_id), None)

    def thumbnail_file(self, path, size, mtime=None):
        return self.thumbs.get(path, size, mtime)

    def photo_at(self, path):
        return next((p for p in self._photos if p.path == str(Path(path).absolute())), None)

    def similar(self, photo, k=None, max_distance=None):
        if not self._photos:
            raise NotIndexed("the library has no searchable photos yet; index a folder first")
        pid = int(photo)
        others = sorted((p for p in self._photos if p.id != pid), key=lambda p: (abs(int(p.id) - pid), p.id))
        # similarity falls 7 points per step of id: 92 (very similar), 85, 78 (similar), ... 57 (loosely related)
        return [Neighbor(p, 3 * abs(int(p.id) - pid), 1.0 - 0.01 * abs(int(p.id) - pid), None,
                         max(0.0, 99.0 - 7 * abs(int(p.id) - pid) - self.similarity_drop))
                for p in others[: k or 50]]

    def similar_to_image(self, path, k=None, max_distance=None):
        self.image_queries.append(str(path))
        return self.similar(self._photos[0].id, k, max_distance) if self._photos else []

    def similar_to_text(self, text, k=None):
        """Known words answer with the photos nearest the first one; "zzz..." words are unknown."""
        self.text_queries.append(text)
        if text.startswith("zzz"):
            raise UnknownWords([text], ["dog"])
        found = self.similar(self._photos[0].id, k) if self._photos else []
        return WordMatches(text, f"{text} (3 kinds)", (), found)

    # names the user teaches: {name: {photo id: shows}}, proposals are the photos not answered, by id
    def names(self):
        from engine.api import NameInfo

        book = getattr(self, "_names", {})
        return [NameInfo(n, sum(a.values()), sum(not v for v in a.values()), 0.0) for n, a in sorted(book.items())]

    def named_photos(self, name):
        answers = getattr(self, "_names", {}).get(name, {})
        return [p for p in self._photos if answers.get(p.id)]

    def name_proposals(self, name, k=None):
        answers = getattr(self, "_names", {}).get(name, {})
        return [Neighbor(p, 0, None, 0.5, 70.0) for p in self._photos if p.id not in answers][: k or 20]

    def similar_refined(self, photo, more=(), less=(), k=None):
        """Nearest (by id) to the photo and the ``more`` ones, away from the ``less`` ones; those are not listed."""
        keep, away = [int(photo), *map(int, more)], [int(i) for i in less]
        def cost(p):
            return sum(abs(int(p.id) - i) for i in keep) / len(keep) - sum(min(abs(int(p.id) - i), 6) for i in away)
        ranked = sorted((p for p in self._photos if int(p.id) not in keep + away), key=lambda p: (cost(p), p.id))
        return [Neighbor(p, 0, None, 0.5, max(0.0, 90.0 - 3 * j)) for j, p in enumerate(ranked[: k or 50])]

    def name_photos(self, name, photos, shows=True):
        book = self.__dict__.setdefault("_names", {})
        ids = {p.path: p.id for p in self._photos}
        answers = book.setdefault(name, {})
        for p in photos:
            answers[ids.get(p, p)] = bool(shows)
        return len(photos)

    def rename_name(self, old, new):
        book = self.__dict__.setdefault("_names", {})
        book.setdefault(new, {}).update(book.pop(old, {}))
        return new

    def remove_name(self, name):
        return len(self.__dict__.setdefault("_names", {}).pop(name, {}))

    def duplicates(self, max_distance=None, min_cosine=None, progress=None):
        self.duplicate_runs += 1
        if progress is not None:
            progress(Progress("dupes", 1, 2, message="comparing the pixels of look-alike photos"))
        return [g for g in self.groups if not _pairs([int(m.photo.id) for m in g.members]) <= self.refused]

    def failures(self):
        return list(self.failed)

    def models(self):
        return list(self.model_list)

    def save_settings(self, settings=None):
        settings.validate()
        self.settings = settings
        self.saved = settings


def _pairs(ids: list[int]) -> set[tuple[int, int]]:
    ids = sorted(set(ids))
    return {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}


@pytest.fixture
def fake_gpu(monkeypatch):
    """A real library reports no GPU without starting a child process that imports torch."""
    import engine.jobs.learn

    monkeypatch.setattr(engine.jobs.learn, "gpu_status_isolated",
                        lambda: (False, "no CUDA GPU was found (or its driver is not loaded); training runs on the CPU"))


@pytest.fixture
def make_window(qtbot, tmp_path, fake_gpu):
    """Factory: ``make_window(library=None, state_file=None)`` -> MainWindow on a fake (or given) library facade.

    Windows are registered with qtbot, and closed (jobs stopped, workers drained) at teardown.
    """
    from PySide6.QtCore import QSettings

    from gui.mainwindow import MainWindow
    from gui.session import LibrarySession
    from gui.thumbnails import ThumbnailLoader
    from gui.theme import apply_theme

    made = []

    def factory(library=None, state_file: Path | None = None, size=(1200, 800)):
        from PySide6.QtWidgets import QApplication

        apply_theme(QApplication.instance(), "light")
        lib = library if library is not None else FakeLibrary(tmp_path / "home")
        state = QSettings(str(state_file or tmp_path / "state.ini"), QSettings.Format.IniFormat)
        session = LibrarySession(lib)
        loader = ThumbnailLoader(session.reader.thumbnail_file)
        window = MainWindow(session, loader, state)
        if size:
            window.resize(*size)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield factory
    for w in made:
        if w.isVisible():
            w.close()
        w.session.shutdown()


def index_done(qtbot, window, timeout=15_000):
    """Context manager: the block starts an index run; leaving it waits until the run has ended."""
    return qtbot.waitSignal(window.session.job_ended, timeout=timeout,
                            check_params_cb=lambda kind, _outcome, _p: kind == "index")


def grid_filled(qtbot, window, timeout=10_000) -> None:
    """Wait until the grid shows every indexed photo and its first page is loaded."""
    n = window.session.reader.photo_count()
    qtbot.waitUntil(lambda: window.grid_model.rowCount() == n and (n == 0 or window.grid_model.is_loaded(0)),
                    timeout=timeout)
