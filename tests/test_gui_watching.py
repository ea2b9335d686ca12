"""The library keeps up by itself (gui.watching): photos copied into a watched folder become searchable in seconds."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from gui.session import ANY_DISTANCE
from gui.watching import FolderWatcher, folders_to_watch
from tests.test_gui_app import _real
from tests.test_gui_fakes import FakeLibrary, fake_gpu, make_images, make_window  # noqa: F401

pytestmark = pytest.mark.gui


def _photos(folder: Path, names: list[str], seed: int) -> list[Path]:
    """Pillow-made photos with some structure (stripes and a block), distinct per name."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(names):
        img = Image.new("RGB", (160, 120), ((seed * 53 + i * 97) % 256, (seed * 29 + i * 41) % 256, 120))
        for x in range(0, 160, 8 + i):
            img.paste(((x * 7 + seed) % 256, 80, (i * 60) % 256), (x, 0, x + 3, 120))
        img.paste((250, 250, 250), (20 + 10 * i, 30, 70 + 10 * i, 80))
        p = folder / name
        img.save(p, quality=90)
        out.append(p)
    return out


def _fake_library(tmp_path: Path, photos: int, cls=FakeLibrary) -> tuple[FakeLibrary, Path]:
    """A fake library (``cls``) with one folder of ``photos`` Pillow-made images added (not yet indexed)."""
    folder = tmp_path / "photos"
    make_images(folder, photos)
    lib = cls(tmp_path / "home")
    lib.add_folder(folder)
    return lib, folder


def _watch(window, **kw) -> FolderWatcher:
    watcher = FolderWatcher(window.session, window, **kw)
    watcher.start()
    return watcher


def _searchable(reader, paths: list[Path], probe: Path) -> bool:
    """Every one of ``paths`` is in the library, and a similar-photos search from ``probe`` finds them."""
    try:
        found = {Path(n.photo.path) for n in reader.similar(str(probe), k=50, max_distance=ANY_DISTANCE)}
    except Exception:  # noqa: BLE001 - not indexed yet
        return False
    return all(reader.photo_at(str(p)) is not None for p in paths) and set(paths) <= found


def test_new_photos_are_searchable_within_10_s(make_window, qtbot, tmp_path):
    folder = tmp_path / "photos"
    first = _photos(folder, ["a0.jpg", "a1.jpg"], 1) + _photos(folder / "sub", ["b0.jpg"], 2)
    lib = _real(tmp_path / "lib")
    lib.add_folder(folder)
    window = make_window(lib)
    watcher = _watch(window)
    reader = window.session.reader
    # The start-up rescan finds the photos that are there (the first run also loads the model: slower).
    qtbot.waitUntil(lambda: reader.photo_count() == 3 and window.session.running() is None, timeout=120_000)
    qtbot.waitUntil(lambda: len(watcher.watched()) == 2, timeout=5_000)  # the folder and its subfolder
    assert watcher.complete
    runs = watcher.rescans

    staging = tmp_path / "staging"
    new = _photos(staging, ["n0.jpg", "n1.jpg"], 3) + _photos(staging, ["n2.jpg"], 4)
    t0 = time.monotonic()
    shutil.copy2(new[0], folder / new[0].name)
    shutil.copy2(new[1], folder / new[1].name)
    shutil.copy2(new[2], folder / "sub" / new[2].name)
    copied = [folder / new[0].name, folder / new[1].name, folder / "sub" / new[2].name]
    qtbot.waitUntil(lambda: reader.photo_count() == 6 and _searchable(reader, copied, first[0]), timeout=10_000)
    took = time.monotonic() - t0
    print(f"new photos searchable {took:.1f} s after they were copied in")
    assert watcher.rescans > runs
    assert _searchable(reader, [first[0], *copied[1:]], copied[0])  # a new photo is a query like any other

    # Indexing reads the photos and writes the library: neither starts another rescan (no loop).
    qtbot.waitUntil(lambda: window.session.running() is None and not window.session._queue, timeout=30_000)
    settled = watcher.rescans
    qtbot.wait(2500)
    assert watcher.rescans == settled
    assert window.session.running() is None


def test_setting_off_indexes_nothing_by_itself(make_window, qtbot, tmp_path):
    lib, folder = _fake_library(tmp_path, 3)
    lib.settings.watch_folders = False
    window = make_window(lib)
    watcher = _watch(window, quiet_ms=200)
    _photos(folder, ["new0.jpg", "new1.jpg"], 5)
    watcher.on_activated()  # the app coming back to the front does not rescan either
    qtbot.wait(1500)
    assert lib.index_runs == 0 and lib.photo_count() == 0
    assert watcher.watched() == [] and not watcher.enabled

    # Turned on in Settings: what was missed is indexed at once, and the folder is watched from then on.
    on = window.session.settings
    on.watch_folders = True
    window.session.save_settings(on)
    qtbot.waitUntil(lambda: lib.photo_count() == 5, timeout=5_000)
    qtbot.waitUntil(lambda: watcher.watched() == [str(folder)], timeout=5_000)
    runs = lib.index_runs
    _photos(folder, ["new2.jpg"], 6)
    qtbot.waitUntil(lambda: lib.photo_count() == 6, timeout=5_000)
    assert lib.index_runs > runs

    # And off again: the watch is dropped.
    off = window.session.settings
    off.watch_folders = False
    window.session.save_settings(off)
    assert watcher.watched() == [] and not watcher.enabled
    runs = lib.index_runs
    _photos(folder, ["new3.jpg"], 7)
    qtbot.wait(1000)
    assert lib.index_runs == runs


def test_a_busy_training_is_not_paused_and_bursts_make_one_rescan(make_window, qtbot, tmp_path):
    lib, folder = _fake_library(tmp_path, 4)
    lib.train_endless = True
    window = make_window(lib)
    session = window.session
    watcher = _watch(window, quiet_ms=300)
    qtbot.waitUntil(lambda: lib.photo_count() == 4 and session.running() is None, timeout=5_000)
    qtbot.waitUntil(lambda: watcher.watched() == [str(folder)], timeout=5_000)
    runs, rescans = lib.index_runs, watcher.rescans
    session.start_training()
    qtbot.waitUntil(lambda: session.running() == "train", timeout=5_000)
    for i in range(5):  # a burst of copies: one rescan after the quiet
        _photos(folder, [f"burst{i}.jpg"], 10 + i)
        qtbot.wait(50)
    qtbot.waitUntil(lambda: "index" in session._queue, timeout=5_000)
    qtbot.wait(500)
    assert session.running() == "train"  # learning goes on; the rescan waits its turn
    assert session._queue == ["index"]
    assert lib.index_runs == runs and watcher.rescans == rescans + 1
    with qtbot.waitSignal(session.job_ended, timeout=5_000):
        session.pause_training()
    qtbot.waitUntil(lambda: lib.photo_count() == 9 and session.running() is None, timeout=5_000)
    assert lib.index_runs == runs + 1


def test_offline_folders_and_the_cap(make_window, qtbot, tmp_path):
    folder = tmp_path / "photos"
    for i in range(6):
        make_images(folder / f"d{i}" / "inner", 1)
    (folder / ".hidden").mkdir()
    (folder / "@eaDir").mkdir()
    dirs, complete, online = folders_to_watch([str(folder), str(tmp_path / "unplugged")],
                                              skipped_names=["@eaDir"])
    assert complete and online == [str(folder)]
    assert len(dirs) == 13 and str(folder / ".hidden") not in dirs and str(folder / "@eaDir") not in dirs
    # Capped: the top levels first, and not complete.
    dirs, complete, _ = folders_to_watch([str(folder)], skipped_names=["@eaDir"], cap=4)
    assert not complete and dirs == [str(folder)] + [str(folder / f"d{i}") for i in range(3)]

    lib = FakeLibrary(tmp_path / "home")
    lib.add_folder(folder)
    drive = tmp_path / "drive"
    make_images(drive, 2)
    lib.add_folder(drive)
    shutil.rmtree(drive)  # unplugged before the app starts: normal, no error
    window = make_window(lib)
    errors = []
    window.session.error.connect(errors.append)
    watcher = _watch(window, cap=5)
    qtbot.waitUntil(lambda: len(watcher.watched()) == 5 and lib.index_runs >= 1, timeout=5_000)
    assert not watcher.complete and str(drive) not in watcher.watched()
    qtbot.waitUntil(lambda: window.session.running() is None, timeout=5_000)

    # The drive comes back: the next listing (on activation, or every minute) notices it and rescans.
    make_images(drive, 2)
    watcher._last_rescan = time.monotonic()  # just rescanned: activation alone would not rescan again
    runs = lib.index_runs
    watcher.on_activated()
    qtbot.waitUntil(lambda: lib.index_runs > runs and lib.photo_count() == 8, timeout=5_000)
    assert errors == []


class _Reporting(FakeLibrary):
    """The fake, answering an index run with the engine's IndexReport (how many photos were new)."""

    def index(self, folders=None):
        from engine.types import IndexReport

        before = {p.path for p in self._photos}
        n = yield from super().index(folders)
        added = len({p.path for p in self._photos} - before)
        return IndexReport(added, 0, 0, 0, 0, n - added, n)


def test_a_rescan_that_finds_nothing_new_does_not_start_learning(make_window, qtbot, tmp_path):
    lib, folder = _fake_library(tmp_path, 4, _Reporting)
    lib.settings.auto_train = True
    lib.settings.auto_train_min_photos = 2
    list(lib.index())  # indexed before the app started
    window = make_window(lib)
    session = window.session
    started = []
    session.job_started.connect(started.append)
    watcher = _watch(window, quiet_ms=200)
    qtbot.waitUntil(lambda: lib.index_runs == 2 and session.running() is None, timeout=5_000)
    qtbot.wait(300)
    assert started == ["index"]  # the start-up rescan found nothing new: no learning by itself
    _photos(folder, ["new.jpg"], 9)  # a new photo: learning starts by itself, as after adding photos
    qtbot.waitUntil(lambda: "train" in started, timeout=5_000)
    assert watcher.rescans == 2 and lib.photo_count() == 5
