"""Moving duplicates to the trash and "Not copies" from the Duplicates view (issue 21 points 4 and 5, issue 24).

The confirmation shows each photo that goes beside the copy that stays; Cancel moves nothing; Move sends them to
the system trash (send2trash's own freedesktop trash, pointed into the test's folder) and the app says where they
went and how to get them back. "Not copies" is stored in the library: the group does not come back.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QMenu

from engine.api import Library
from engine.types import DuplicateGroup, DuplicateMember
from gui.widgets.trashconfirm import (
    TrashConfirmDialog, TrashItem, photo_facts, restore_hint, summary_text, trash_name,
)
from tests.test_gui_fakes import fake_gpu, index_done, make_images, make_window  # noqa: F401
from tests.test_library import run

pytestmark = pytest.mark.gui

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo" / "images"
ORIGINAL = DEMO / "shoes" / "0dd87e47-ca85-4d5c-9fd1-59f5a01eb656.jpg"


@pytest.fixture
def trash_bin(tmp_path, monkeypatch) -> Path:
    """The system trash for this test: send2trash's freedesktop trash inside tmp_path (never the user's Trash).
    Returns the folder the trashed files land in."""
    import send2trash

    home = tmp_path / "user"
    home.mkdir()
    files = home / ".local" / "share" / "Trash" / "files"
    if send2trash.send2trash.__module__ == "send2trash.plat_other":
        other = sys.modules["send2trash.plat_other"]
        xdg = os.fsencode(home / ".local" / "share")
        monkeypatch.setenv("HOME", str(home))  # the trash's disk is the photos' disk
        monkeypatch.setattr(other, "XDG_DATA_HOME", xdg)
        monkeypatch.setattr(other, "HOMETRASH_B", os.path.join(xdg, b"Trash"))
        monkeypatch.setattr(other, "HOMETRASH", os.fsdecode(os.path.join(xdg, b"Trash")))
    else:  # macOS / Windows / gio: a stand-in that moves the file the same way
        def move(path):
            if not os.path.exists(path):
                raise FileNotFoundError(2, "File not found", path)
            files.mkdir(parents=True, exist_ok=True)
            shutil.move(path, files / Path(path).name)

        monkeypatch.setattr(send2trash, "send2trash", move)
    return files


def _indexed(home: Path, folder: Path) -> Library:
    """A real library at ``home`` that has indexed ``folder``, learning off (nothing starts behind the test)."""
    lib = Library(home)
    lib.settings.auto_train = False
    lib.save_settings()
    run(lib.index([folder]))
    return lib


@pytest.fixture
def copies_window(make_window, qtbot, tmp_path):
    """A real library of a demo photo, its half-size recompressed copy (made with Pillow) and two other photos,
    indexed; a window on it showing the Duplicates page. Yields (window, folder)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    im = Image.open(ORIGINAL).convert("RGB")
    im.save(folder / "original.jpg", quality=95)
    im.resize((im.width // 2, im.height // 2)).save(folder / "half.jpg", quality=50)
    for p in sorted((DEMO / "shirt").glob("*.jpg"))[:2]:
        shutil.copy(p, folder / p.name)
    lib = _indexed(tmp_path / "lib", folder)
    window = make_window(lib, size=(1000, 700))
    with qtbot.waitSignal(window.duplicates.loaded, timeout=30_000):
        window.show_page("duplicates")
    yield window, folder
    window.close()
    window.session.shutdown()
    lib.close()


def _when_confirming(answer: str, seen: list) -> None:
    """When the trash confirmation opens, note what it lists, then ``answer`` it: "move", "escape" or "enter"."""
    tries = [0]

    def handle():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, TrashConfirmDialog):
            tries[0] += 1
            assert tries[0] < 500, "the trash confirmation never opened"
            QTimer.singleShot(10, handle)
            return
        seen.append(dialog.rows())
        if answer == "move":
            dialog.move_button.click()
        else:
            QTest.keyClick(dialog, Qt.Key.Key_Escape if answer == "escape" else Qt.Key.Key_Return)

    QTimer.singleShot(0, handle)


def _photo(window, name: str):
    return next(p for p in window.session.reader.photos() if Path(p.path).name == name)


def test_the_confirmation_lists_each_photo_going_beside_the_kept_one_and_cancel_trashes_nothing(
        copies_window, qtbot, trash_bin):
    window, folder = copies_window
    panel = window.duplicates
    half, original = _photo(window, "half.jpg"), _photo(window, "original.jpg")
    assert [[(p.id, keep) for p, keep in g] for g in panel.groups()] == [[(original.id, True), (half.id, False)]]
    for answer in ("escape", "enter"):  # Escape cancels; Enter presses the default button, Cancel
        seen: list = []
        _when_confirming(answer, seen)
        qtbot.mouseClick(panel.trash_button, Qt.MouseButton.LeftButton)
        [rows] = seen
        [(going, kept, how)] = rows  # exactly the photo that goes, beside the one that stays
        assert (going.id, kept.id) == (half.id, original.id)
        assert "smaller copy" in how and "recompressed" in how
        assert f"{half.width}×{half.height}" in how and f"→ kept {original.width}×{original.height}" in how
        assert photo_facts(half) in how and photo_facts(original) in how
    qtbot.wait(200)
    assert (folder / "half.jpg").is_file() and (folder / "original.jpg").is_file()
    assert not trash_bin.exists() or not any(trash_bin.iterdir())
    assert panel.tree.topLevelItemCount() == 1 and panel.last_report is None
    assert not window.findChildren(TrashConfirmDialog)  # not kept as hidden children until exit


def test_accepting_moves_them_to_the_trash_and_says_how_to_get_them_back(copies_window, qtbot, trash_bin):
    window, folder = copies_window
    panel = window.duplicates
    seen: list = []
    _when_confirming("move", seen)
    with index_done(qtbot, window, timeout=30_000):  # trashing rescans, so the library forgets the photo
        qtbot.mouseClick(panel.trash_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.last_report is not None, timeout=5000)
    assert not (folder / "half.jpg").exists() and (folder / "original.jpg").is_file()
    assert [p.name for p in trash_bin.iterdir()] == ["half.jpg"]  # in the trash, restorable: not deleted
    report = panel.last_report
    assert report.text() == f"Moved 1 photo to the {trash_name()}."
    assert "open the Trash" in report.informativeText() and "Restore" in report.informativeText()
    assert "Moved 1 photo to the Trash." in panel.summary.text()
    assert panel.tree.topLevelItemCount() == 0  # a group of one is no group
    assert window.session.reader.photo_at(folder / "half.jpg") is None
    report.close()


def test_not_copies_is_stored_and_the_group_does_not_come_back(copies_window, qtbot):
    window, folder = copies_window
    panel = window.duplicates
    assert panel.tree.topLevelItemCount() == 1
    qtbot.mouseClick(panel.heading(0).button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 0, timeout=10_000)
    assert "will not show them as copies again" in panel.summary.text()
    assert window.sidebar.nav.item(1).text() == "Duplicates"  # the count went with the group
    names = {"half.jpg", "original.jpg"}
    view = window.session.library.view()
    assert not [g for g in view.duplicates() if names & {Path(m.photo.path).name for m in g.members}]
    with qtbot.waitSignal(panel.loaded, timeout=30_000):
        panel.refresh()
    assert panel.tree.topLevelItemCount() == 0
    assert (folder / "half.jpg").is_file()  # "Not copies" keeps both


@pytest.fixture
def fake_groups(make_window, qtbot, tmp_path):
    """A window on the fake library: 8 photos, one copy group and one group of similar shots in which the engine's
    answer (wrongly) marks a shot for the trash."""
    folder = tmp_path / "photos"
    make_images(folder, 8)

    def build(size=(1200, 800)):
        window = make_window(size=size)
        with index_done(qtbot, window):
            window.session.add_folders([str(folder)])
        photos = window.session.reader.photos()
        big = replace(photos[1], width=2400, height=1600, size=1_250_000)
        window.session.reader.groups = [
            DuplicateGroup([DuplicateMember(big, True), DuplicateMember(photos[0], False, ["smaller copy"]),
                            DuplicateMember(photos[2], False, ["recompressed", "mirrored"])]),
            DuplicateGroup([DuplicateMember(photos[5], True), DuplicateMember(photos[6], False, ["another shot"])],
                           sure=False, suggestion="suggested as the best shot: sharpest"),
        ]
        with qtbot.waitSignal(window.duplicates.loaded, timeout=5000):
            window.show_page("duplicates")
        return window, photos, big

    return build


def test_similar_shots_are_never_offered_for_the_trash_unless_the_user_unticks_them(fake_groups):
    window, photos, big = fake_groups()
    panel = window.duplicates
    assert [keep for _, keep in panel.groups()[1]] == [True, True]
    items = panel.trash_items()
    assert [(i.photo.id, i.kept.id, i.shot) for i in items] == [(photos[0].id, big.id, False),
                                                               (photos[2].id, big.id, False)]
    assert [i.how for i in items] == ["smaller copy", "recompressed, mirrored"]
    panel.set_keep(int(photos[6].id), False)  # the user's own choice
    shot = panel.trash_items()[-1]
    assert (shot.photo.id, shot.kept.id, shot.shot) == (photos[6].id, photos[5].id, True)
    dialog = TrashConfirmDialog(panel.trash_items(), window.loader, window)
    assert dialog.rows()[-1][2].startswith("another shot, not a copy")
    assert "1 similar shot is not a copy" in dialog.note.text()
    dialog.deleteLater()


def test_the_dialog_shows_both_thumbnails_and_defaults_to_cancel(fake_groups, qtbot):
    window, photos, big = fake_groups()
    items = [TrashItem(photos[0], big, "smaller copy"), TrashItem(photos[3])]  # the second: from the context menu
    dialog = TrashConfirmDialog(items, window.loader, window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.cancel_button.isDefault() and not dialog.move_button.isDefault()
    assert dialog.move_button.text() == f"Move 2 photos to the {trash_name()}"
    listed = [(g.id, k.id if k else None) for g, k, _ in dialog.rows()]
    assert listed == [(photos[0].id, big.id), (photos[3].id, None)]
    assert dialog.rows()[1][2].endswith("no copy of it stays") and "1 photo has no copy that stays" in dialog.note.text()
    assert "120×90" in dialog.rows()[0][2] and "→ kept 2400×1600, 1.2 MB" in dialog.rows()[0][2]
    edge = int(96 * dialog.devicePixelRatioF())
    for photo in (photos[0], photos[3]):  # the thumbnails are asked for as the rows paint, and arrive
        qtbot.waitUntil(lambda p=photo: window.loader.image(int(p.id), p.path, p.mtime, edge) is not None,
                        timeout=5000)
    QTest.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_a_file_that_cannot_be_moved_is_named_and_the_others_still_go(fake_groups, qtbot, trash_bin, monkeypatch):
    window, photos, big = fake_groups()
    panel = window.duplicates
    Path(photos[2].path).unlink()  # gone since the search
    monkeypatch.setattr("gui.widgets.duplicates.confirm_trash", lambda parent, items, loader: True)
    with index_done(qtbot, window):
        qtbot.mouseClick(panel.trash_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.last_report is not None, timeout=5000)
    report = panel.last_report
    assert report.text() == f"Moved 1 photo to the {trash_name()}. 1 photo could not be moved."
    assert f"• {Path(photos[2].path).name}: it is no longer there" in report.informativeText()
    assert [p.name for p in trash_bin.iterdir()] == [Path(photos[0].path).name]
    assert [p.id for p, _ in panel.groups()[0]] == [big.id, photos[2].id]  # the one not moved is still shown
    report.close()


def test_not_copies_on_a_group_of_similar_shots_and_on_a_copy_group(fake_groups, qtbot):
    window, photos, big = fake_groups()
    panel = window.duplicates
    lib = window.session.reader
    assert "Duplicates  (2)" in window.sidebar.nav.item(1).text()
    qtbot.mouseClick(panel.heading(1).button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 1, timeout=5000)
    assert lib.refused == {(int(photos[5].id), int(photos[6].id))}
    assert panel.heading(0).group.sure and "Duplicates  (1)" in window.sidebar.nav.item(1).text()
    qtbot.mouseClick(panel.heading(0).button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 0, timeout=5000)
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.refresh()
    assert panel.tree.topLevelItemCount() == 0 and len(lib.refused) == 4


def test_headings_keep_their_meaning_at_800x600(fake_groups, qtbot):
    window, *_ = fake_groups(size=(800, 600))
    panel = window.duplicates
    viewport = panel.tree.viewport()
    qtbot.waitUntil(lambda: panel.heading(1).label.width() > 0, timeout=3000)
    for i, start in ((0, "Group 1 · 3 copies of one photo"), (1, "Similar shots 1 · 2 photos of one scene")):
        heading = panel.heading(i)
        shown = heading.label.shown_text()
        assert heading.label.text().startswith(start)
        assert shown == heading.label.text() or (shown.endswith("…") and shown[:-1] in heading.label.text()), shown
        assert shown.startswith(start[:12]), shown  # cut at the end, never in the middle
        assert heading.geometry().right() == viewport.width() - 1  # the row's visible width, not column 0's
        right = heading.button.mapTo(viewport, heading.button.rect().topRight()).x()
        assert heading.button.isVisible() and right <= viewport.width(), (right, viewport.width())
    bar = panel.tree.horizontalScrollBar()
    assert bar.maximum() > 0  # the columns are wider than the page at this size
    bar.setValue(bar.maximum())
    qtbot.wait(50)
    for i in (0, 1):  # scrolled sideways, the headings and their buttons stay in view
        heading = panel.heading(i)
        assert heading.geometry().x() == 0 and heading.geometry().right() == viewport.width() - 1


def test_the_trash_has_its_platform_name_and_restore_words():
    assert (trash_name("linux"), trash_name("darwin"), trash_name("win32")) == ("Trash", "Trash", "Recycle Bin")
    assert "Recycle Bin" in restore_hint("win32") and "Put Back" in restore_hint("darwin")
    assert "Restore" in restore_hint("linux")
    assert summary_text([], [("/x/a.jpg", FileNotFoundError())]).startswith("No photo was moved")


def test_photos_trashed_from_the_grid_are_listed_without_an_empty_stays_column(fake_groups, qtbot):
    """From the grid's context menu no copy is involved: the dialog lists the photos and their facts, warns that no
    other copy is kept, and shows no "Stays" column full of "none"."""
    window, photos, _ = fake_groups()
    dialog = TrashConfirmDialog([TrashItem(photos[3]), TrashItem(photos[4])], window.loader, window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.tree.isColumnHidden(1) and not dialog.tree.isColumnHidden(2)
    assert "no other copy of them" in dialog.note.text() and "beside it stays" not in dialog.note.text()
    assert all("no copy of it stays" not in how and "×" in how for _, _, how in dialog.rows())
    assert dialog.cancel_button.isDefault()
    mixed = TrashConfirmDialog([TrashItem(photos[0], photos[1], "smaller copy"), TrashItem(photos[3])],
                               window.loader, window)
    qtbot.addWidget(mixed)
    assert not mixed.tree.isColumnHidden(1) and "beside it stays" in mixed.note.text()


def test_not_copies_from_the_keyboard_and_from_a_photos_context_menu(fake_groups, qtbot, monkeypatch):
    window, photos, big = fake_groups()
    panel = window.duplicates
    lib = window.session.reader
    shot = panel.tree.topLevelItem(1).child(1)  # a photo of the similar shots
    panel.tree.setCurrentItem(shot)
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 1, timeout=5000)
    assert lib.refused == {(int(photos[5].id), int(photos[6].id))}

    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda menu, pos: shown.append(menu))
    panel.context_requested.emit(photos[0], panel.mapToGlobal(panel.rect().center()))
    entry = next(a for a in shown[-1].actions() if a.text().startswith("Not copies"))
    assert entry.shortcut().toString() == "Ctrl+K"
    entry.trigger()
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 0, timeout=5000)
    assert len(lib.refused) == 4  # the copy group's three photos, pairwise


def test_a_raw_photo_goes_to_the_trash_with_its_camera_jpeg(make_window, qtbot, tmp_path, trash_bin):
    """A RAW file and the JPEG the camera saved beside it are one photo: trashing it from the grid takes both
    files (else the JPEG would come back as a photo on the next scan), and the confirmation says so."""
    pytest.importorskip("rawpy")
    from tests.test_raw_pairs import _shot

    folder = tmp_path / "photos"
    folder.mkdir()
    others = sorted((DEMO / "shirt").glob("*.jpg"))[:2]
    _shot(folder, "IMG_0001.dng", ORIGINAL, "IMG_0001.JPG")
    for p in others:
        shutil.copy(p, folder / p.name)
    lib = _indexed(tmp_path / "lib", folder)
    raw = next(p for p in lib.photos() if p.path.endswith(".dng"))
    assert raw.companion == str(folder / "IMG_0001.JPG") and lib.photo_count() == 3
    window = make_window(lib, size=(1000, 700))
    try:
        dialog = TrashConfirmDialog([TrashItem(raw)], window.loader, window)
        qtbot.addWidget(dialog)
        assert "1 RAW photo goes with the JPEG the camera saved beside it" in dialog.note.text()
        seen: list = []
        _when_confirming("move", seen)
        with index_done(qtbot, window, timeout=30_000):
            window.on_trash([raw])
        assert sorted(p.name for p in trash_bin.iterdir()) == ["IMG_0001.JPG", "IMG_0001.dng"]
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in others)
        assert lib.photo_count() == 2 and lib.photo_at(folder / "IMG_0001.JPG") is None
    finally:
        window.close()
        window.session.shutdown()
        lib.close()
