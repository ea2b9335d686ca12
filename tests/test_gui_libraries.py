"""Which library opens (gui.libraries): the last one used, File > Open library…, Recent libraries, switching."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSettings

from engine.api import Library
from gui.app import build_parser, launch
from gui.libraries import MAX_RECENT, LibraryHistory, usable_library_folder
from tests.test_gui_fakes import fake_gpu, grid_filled, make_images  # noqa: F401

pytestmark = pytest.mark.gui


@pytest.fixture
def user_state(tmp_path, monkeypatch, fake_gpu):
    """The per-user GUI settings, in a temp file; the default library also lives in the temp dir."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return QSettings(str(tmp_path / "user.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def windows(qtbot):
    """Windows opened by ``launch`` (the app's own start): closed, their workers drained, at the end."""
    made = []
    yield made
    for w in made:
        switcher = getattr(w, "switcher", None)
        current = switcher.window if switcher is not None else w
        if shiboken6.isValid(current) and current.isVisible():
            current.close()
            current.session.shutdown()
            current.deleteLater()
    qtbot.wait(50)


def _library(home: Path, folder: Path, n: int) -> list[Path]:
    """A real library at ``home`` whose ``folder`` of ``n`` photos is indexed."""
    photos = make_images(folder, n)
    lib = Library(home)
    lib.settings.auto_train = False
    lib.save_settings()
    lib.add_folder(folder)
    for _ in lib.index():
        pass
    lib.close()
    return photos


def _start(argv: list[str], user_state, windows, automated: bool = False):
    window = launch(build_parser().parse_args(argv), user_state, automated=automated)
    window.show()
    windows.append(window)
    return window


def _shown(window) -> set[str]:
    return {window.grid_model.photo(r).path for r in range(window.grid_model.rowCount())}


def test_without_home_the_last_library_opens(user_state, windows, qtbot, tmp_path, monkeypatch):
    lib_x = tmp_path / "x"
    first = _start(["--home", str(lib_x)], user_state, windows)
    assert first.session.home == lib_x
    first.close()
    monkeypatch.delenv("SIMILI_HOME")
    again = _start([], user_state, windows)
    assert again.session.home == lib_x
    assert hasattr(again, "watcher") and again.watcher.enabled  # the folders are watched in the real app
    again.close()

    # Automation runs (screenshots, benchmarks, self-test) leave the choice alone.
    other = _start(["--home", str(tmp_path / "bench"), "--quit-after-ready"], user_state, windows, automated=True)
    assert not other.watcher.enabled
    other.close()
    assert LibraryHistory(user_state).last() == str(lib_x)

    # The last library gone (an unplugged drive): the default library opens, nothing is made where X was.
    shutil.rmtree(lib_x)
    fallback = _start([], user_state, windows)
    assert fallback.session.home == tmp_path / "data" / "Simili"
    assert not lib_x.exists()
    fallback.close()


def test_recent_libraries_are_kept_deduplicated_and_capped(tmp_path):
    state = tmp_path / "user.ini"
    history = LibraryHistory(QSettings(str(state), QSettings.Format.IniFormat))
    assert history.recent() == [] and history.last() is None
    homes = [tmp_path / f"lib{i}" for i in range(MAX_RECENT + 3)]
    for h in homes:
        h.mkdir()
    history.remember(homes[0])
    assert history.recent() == [str(homes[0])]  # one item survives QSettings' list-or-string
    for h in homes[1:]:
        history.remember(h)
    history.remember(str(homes[5]) + "/")  # the same folder spelled differently: moved to the front
    again = LibraryHistory(QSettings(str(state), QSettings.Format.IniFormat))  # kept across runs
    recent = again.recent()
    assert len(recent) == MAX_RECENT and len(set(recent)) == MAX_RECENT
    assert recent[0] == str(homes[5]) and again.last() == str(homes[5])
    assert recent[1:] == [str(h) for h in reversed(homes) if h != homes[5]][: MAX_RECENT - 1]
    assert str(homes[0]) not in recent

    # What Open library… accepts: a library, or an empty folder; never a folder of photos.
    photos = tmp_path / "photos"
    make_images(photos, 1)
    assert not usable_library_folder(str(photos))
    assert usable_library_folder(str(homes[0]))
    assert not usable_library_folder(str(tmp_path / "missing"))


def test_switching_libraries_shows_the_other_librarys_photos(user_state, windows, qtbot, tmp_path, monkeypatch):
    a_photos = _library(tmp_path / "a", tmp_path / "photos-a", 2)
    b_photos = _library(tmp_path / "b", tmp_path / "photos-b", 3)
    window = _start(["--home", str(tmp_path / "a")], user_state, windows)
    grid_filled(qtbot, window)
    assert _shown(window) == {str(p) for p in a_photos}
    assert window.act_open_library in window.menuBar().actions()[0].menu().actions()

    switcher = window.switcher
    old_session = window.session
    assert switcher.open_library(str(tmp_path / "b"))
    new = switcher.window
    assert new is not window and new.isVisible()
    grid_filled(qtbot, new)
    assert _shown(new) == {str(p) for p in b_photos}
    # The old window is closed and gone, its jobs stopped.
    qtbot.waitUntil(lambda: not shiboken6.isValid(window), timeout=5_000)
    assert old_session.running() is None and not old_session._queue

    # Recent libraries: the current one ticked (not clickable), a missing one greyed out.
    ghost = tmp_path / "ghost"
    ghost.mkdir()
    switcher.history.remember(ghost)
    switcher.history.remember(tmp_path / "b")
    ghost.rmdir()
    new.recent_menu.aboutToShow.emit()
    acts = {a.text(): a for a in new.recent_menu.actions()}
    assert list(acts) == [str(tmp_path / "b"), str(ghost), str(tmp_path / "a")]
    assert acts[str(tmp_path / "b")].isChecked() and not acts[str(tmp_path / "b")].isEnabled()
    assert not acts[str(ghost)].isEnabled()
    assert acts[str(tmp_path / "a")].isEnabled()

    # Back to A from the menu.
    acts[str(tmp_path / "a")].trigger()
    back = switcher.window
    assert back is not new
    grid_filled(qtbot, back)
    assert _shown(back) == {str(p) for p in a_photos}
    assert LibraryHistory(user_state).last() == str(tmp_path / "a")

    # A library that cannot be opened: said, and the window stays as it was.
    errors = []
    monkeypatch.setattr("gui.libraries.show_error", lambda parent, exc: errors.append(exc))

    def cannot_open(home):
        raise OSError("the drive is not there")

    switcher.opener = cannot_open
    assert not switcher.open_library(str(tmp_path / "b"))
    assert errors and switcher.window is back and back.isVisible()
