"""The app a new user meets: one similarity that follows the order, "no close match", plain words, and controls
that answer at once (theme, pause, sidebar folders, Keep boxes, Help). Offscreen, on the fake facade."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QGroupBox, QLabel, QTreeWidget, QTreeWidgetItem,
    QWidget,
)

from engine.types import FileError
from gui.itemmodels import NEAREST_FEW
from tests.test_gui_fakes import FakeLibrary, fake_gpu, grid_filled, index_done, make_images, make_window  # noqa: F401

pytestmark = pytest.mark.gui

JARGON = ("Hamming", "≤", " of 64", "Closer", "Looser", "ITQ", "training-free", "epoch", "loss", "DistillHash",
          "bits", "code length", "Code length", "feature similarity", "Train ", "codes")


@pytest.fixture
def indexed(make_window, qtbot, tmp_path):
    window = make_window(FakeLibrary(tmp_path / "home"))
    make_images(tmp_path / "photos", 12)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "photos")])
    grid_filled(qtbot, window)
    return window


def _search(qtbot, window, row: int = 0):
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        window.on_photo_activated(window.grid_model.photo(row))
    return window.similar


def _texts(root: QWidget) -> list[str]:
    """Every word a user can read in ``root``: labels, buttons, group titles, items, suffixes, tips, actions."""
    out = []
    for w in [root, *root.findChildren(QWidget)]:
        out.append(w.toolTip())
        if isinstance(w, (QLabel, QAbstractButton)):
            out.append(w.text())
        if isinstance(w, QGroupBox):
            out.append(w.title())
        if isinstance(w, QComboBox):
            out += [w.itemText(i) for i in range(w.count())]
        if isinstance(w, QAbstractSpinBox):
            out += [w.suffix() if hasattr(w, "suffix") else "", w.text()]
    for a in root.findChildren(QAction):
        out += [a.text(), a.toolTip(), a.statusTip()]
    return [t for t in out if t]


def _jargon(texts: list[str]) -> list[str]:
    return [t for t in texts if any(j in t for j in JARGON)]


def test_badges_are_the_similarity_in_result_order(indexed, qtbot):
    panel = _search(qtbot, indexed, 5)
    model = panel.model
    sims = [model.similarity(r) for r in range(model.rowCount())]
    assert sims and sims == sorted(sims, reverse=True)
    top = model.index(0, 0)
    assert f"{sims[0]:.0f}% similar" in model.data(top, Qt.ItemDataRole.ToolTipRole)
    assert "very similar" in model.data(top, Qt.ItemDataRole.AccessibleTextRole)
    assert "most similar first" in panel.count_label.text()
    assert not _jargon([panel.count_label.text(), panel.threshold_label.text(), panel.slider.toolTip()])
    # keyboard focus starts on the best result, but nothing looks selected
    assert panel.results.currentIndex().row() == 0
    assert panel.results.selectionModel().selectedIndexes() == []


def test_no_close_match_is_said_and_the_nearest_few_still_shown(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.similarity_drop = 45.0  # the best is 54 %: below the close-match line
    window = make_window(lib)
    make_images(tmp_path / "photos", 12)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "photos")])
    grid_filled(qtbot, window)
    with qtbot.waitSignal(window.similar.searched, timeout=5000) as searched:
        window.on_photo_activated(window.grid_model.photo(0))
    panel = window.similar
    # Loose (the default) shows every result, and says that none is a close match
    assert searched.args == [panel.model.total()] and panel.model.total() > NEAREST_FEW
    assert "No close match" in panel.count_label.text() and not panel.model.below_line()
    assert panel.threshold_label.text().startswith("Showing everything")
    panel.slider.setValue(0)  # Strict: nothing is 95 %, the nearest few are shown, and both lines agree
    assert panel.model.rowCount() == NEAREST_FEW and panel.model.below_line()
    text = panel.count_label.text()
    assert "No close match" in text and "none is 95% similar" in text
    assert panel.threshold_label.text().startswith("Asked for only near-identical photos (at least 95%")
    panel.slider.setValue(2)  # every strict position shows the nearest few, what changes is what was asked
    assert panel.model.rowCount() == NEAREST_FEW and "none is 60% similar" in panel.count_label.text()
    lib.similarity_drop = 0.0  # the next query has close matches: every result shows (the control is Loose)
    panel.slider.setValue(panel.slider.maximum())
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        window.on_photo_activated(window.grid_model.photo(0))
    assert panel.model.rowCount() == panel.model.total() > NEAREST_FEW
    assert "No close match" not in panel.count_label.text()
    assert "the first 5 are close matches (60% or more)" in panel.count_label.text()


def test_the_strict_loose_control_is_remembered(make_window, qtbot, tmp_path):
    state = tmp_path / "state.ini"
    window = make_window(FakeLibrary(tmp_path / "home"), state_file=state)
    window.similar.slider.setValue(0)
    window.close()
    again = make_window(FakeLibrary(tmp_path / "home2"), state_file=state)
    assert again.similar.slider.value() == 0
    assert "near-identical" in again.similar.threshold_label.text() or again.similar.min_similarity() == 95


def test_the_window_speaks_in_photos_not_bits(indexed, qtbot):
    from gui.widgets.progress import describe_progress
    from gui.widgets.settings import SettingsDialog

    window = indexed
    _search(qtbot, window, 3)
    assert not _jargon(_texts(window)), _jargon(_texts(window))
    assert window.act_train.text() == "Learn from my photos"
    dialog = SettingsDialog(window.session.settings, str(window.session.home), "auto", None, window)
    qtbot.addWidget(dialog)
    assert not _jargon(_texts(dialog)), _jargon(_texts(dialog))
    assert dialog.advanced.title() == "Advanced" and not dialog.advanced_body.isVisible()
    from engine.types import Progress

    title, detail = describe_progress(Progress("train", 31, 78, 2.0, 20.0, metrics={"loss": 0.4354, "epoch": 31}), 245)
    assert not _jargon([title, detail]) and "245 photos" in detail and "left" in detail


def test_learning_progress_and_pause_answer_at_once(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.train_endless = True
    window = make_window(lib)
    with qtbot.waitSignal(window.session.progress, timeout=5000, check_params_cb=lambda k, p: p.done >= 2):
        window.session.start_training()
    assert window.progress.title.text() == "Learning from your photos"
    assert not _jargon([window.progress.detail.text(), window.progress.device.text()])
    with qtbot.waitSignal(window.session.job_ended, timeout=5000):
        qtbot.mouseClick(window.progress.pause_button, Qt.MouseButton.LeftButton)
        # said in the click itself, before the job has stopped
        assert window.progress.title.text() == "Pausing…"
        assert not window.progress.pause_button.isEnabled()
    assert window.progress.title.text() == "Learning paused"
    assert window.progress.pause_button.isEnabled()


def test_a_finished_learning_note_is_one_short_line(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    window = make_window(lib, size=(800, 600))
    with qtbot.waitSignal(window.session.job_ended, timeout=5000):
        window.session.start_training()
    assert window.progress.title.text() == "Learning finished"
    assert not window.progress.device.isVisible()  # the CPU/GPU sentence is not repeated
    qtbot.waitUntil(lambda: window.progress.height() > 0)
    assert window.progress.height() <= window.height() / 8, window.progress.height()


def _ink_lightness(button: QWidget) -> list[int]:
    image = button.grab().toImage()
    return [image.pixelColor(x, y).lightness() for x in range(image.width()) for y in range(image.height())
            if image.pixelColor(x, y).alpha() > 0]


def test_theme_switch_recolours_every_icon_live(indexed, qtbot):
    window = indexed
    button = window.similar.close_button  # an icon-only button
    button.show()
    window.set_theme("light")
    assert min(_ink_lightness(button)) < 90  # dark ink on a light window
    window.set_theme("dark")
    qtbot.waitUntil(lambda: max(_ink_lightness(button)) > 180, timeout=2000)  # light ink: it stays visible
    toolbar_button = window.findChild(QWidget, "mainToolbar")
    assert max(_ink_lightness(toolbar_button)) > 180
    window.set_theme("light")


def test_unticked_keep_box_is_visible_in_dark_mode(qtbot):
    from gui.theme import apply_theme

    apply_theme(QApplication.instance(), "dark")
    try:
        tree = QTreeWidget()
        qtbot.addWidget(tree)
        tree.setHeaderLabels(["Keep", "Name"])
        item = QTreeWidgetItem(tree, ["", "photo.jpg"])
        item.setCheckState(0, Qt.CheckState.Unchecked)
        tree.resize(300, 120)
        tree.show()
        qtbot.waitExposed(tree)
        image = tree.viewport().grab().toImage()
        rect = tree.visualItemRect(item)
        background = QColor(image.pixelColor(rect.left() + 1, rect.top() + 1)).lightness()
        box = [image.pixelColor(x, y).lightness() for x in range(rect.left(), rect.left() + 30)
               for y in range(rect.top(), rect.bottom())]
        assert max(box) - background > 60, (background, max(box))
    finally:
        apply_theme(QApplication.instance(), "light")


def test_menu_separators_are_visible_in_dark_mode(qtbot):
    from PySide6.QtWidgets import QMenu

    from gui.theme import apply_theme

    apply_theme(QApplication.instance(), "dark")
    try:
        menu = QMenu()
        qtbot.addWidget(menu)
        menu.addAction("A")  # short labels: the middle column below crosses no letter, only the separator
        menu.addSeparator()
        menu.addAction("B")
        menu.setMinimumWidth(240)
        menu.adjustSize()
        image = menu.grab().toImage()
        x = image.width() * 2 // 3
        column = [image.pixelColor(x, y).lightness() for y in range(image.height())]
        background = image.pixelColor(x, 2).lightness()
        assert max(abs(v - background) for v in column) > 20, column  # some row (the separator) stands out
    finally:
        apply_theme(QApplication.instance(), "light")


def test_clicking_a_sidebar_folder_filters_the_grid(make_window, qtbot, tmp_path):
    window = make_window(FakeLibrary(tmp_path / "home"))
    make_images(tmp_path / "a", 3)
    make_images(tmp_path / "b", 5)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "a"), str(tmp_path / "b")])
    qtbot.waitUntil(lambda: window.grid_model.rowCount() == 8, timeout=5000)
    folders = window.sidebar.folders
    item = next(folders.item(i) for i in range(folders.count()) if folders.item(i).text() == "a")
    with qtbot.waitSignal(window.grid_model.reset_done, timeout=5000) as reset:
        qtbot.mouseClick(folders.viewport(), Qt.MouseButton.LeftButton, pos=folders.visualItemRect(item).center())
    assert reset.args == [3]
    assert all("/a/" in window.grid_model.photo(r).path for r in range(3))
    assert window.photos_page.title.text() == "a" and "in this folder" in window.photos_page.subtitle.text()
    nav = window.sidebar.nav
    with qtbot.waitSignal(window.grid_model.reset_done, timeout=5000) as reset:
        qtbot.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=nav.visualItemRect(nav.item(0)).center())
    assert reset.args == [8] and window.photos_page.title.text() == "All photos"


def test_problems_count_follows_a_removed_folder(make_window, qtbot, tmp_path, monkeypatch):
    lib = FakeLibrary(tmp_path / "home")
    window = make_window(lib)
    make_images(tmp_path / "a", 2)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "a")])
    lib.failed = [FileError(str(tmp_path / "a" / "bad.jpg"), "corrupt", "the file is damaged")]
    with qtbot.waitSignal(window.problems.counted, timeout=5000):
        window.problems.refresh()
    nav = window.sidebar.nav
    assert nav.item(2).text() == "Problems  (1)"
    monkeypatch.setattr("gui.mainwindow.QMessageBox.question", lambda *a, **k: a and __import__(
        "PySide6.QtWidgets", fromlist=["QMessageBox"]).QMessageBox.StandardButton.Yes)
    window.on_remove_folder(str(tmp_path / "a"))
    qtbot.waitUntil(lambda: nav.item(2).text() == "Problems", timeout=5000)


def _library_with_copies(tmp_path) -> FakeLibrary:
    """A fake library indexed before any window opens: folders a (2 copies of one photo) and b, one bad file."""
    from engine.types import DuplicateGroup, DuplicateMember

    lib = FakeLibrary(tmp_path / "home")
    for name in ("a", "b"):
        make_images(tmp_path / name, 3)
        lib.add_folder(tmp_path / name)
    list(lib.index())
    a = [p for p in lib.photos() if "/a/" in p.path]
    lib.groups = [DuplicateGroup([DuplicateMember(a[0], True), DuplicateMember(a[1], False, ["smaller copy"])])]
    lib.failed = [FileError(str(tmp_path / "b" / "bad.jpg"), "corrupt", "the file is damaged")]
    return lib


def _counts(window) -> tuple[str, str]:
    nav = window.sidebar.nav
    return nav.item(1).text(), nav.item(2).text()


def test_sidebar_counts_are_true_at_start_and_after_a_restart(make_window, qtbot, tmp_path):
    lib = _library_with_copies(tmp_path)
    state = tmp_path / "state.ini"
    window = make_window(lib, state_file=state)
    qtbot.waitUntil(lambda: _counts(window) == ("Duplicates  (1)", "Problems  (1)"), timeout=5000)
    assert window.current_page() == "photos"  # counted without opening either page
    window.close()
    runs = lib.duplicate_runs
    again = make_window(lib, state_file=state)
    qtbot.waitUntil(lambda: _counts(again) == ("Duplicates  (1)", "Problems  (1)"), timeout=5000)
    assert lib.duplicate_runs == runs  # the remembered count still holds: no new search at start
    again.close()
    lib.groups = lib.groups * 2  # photos changed while the app was closed (the CLI indexed more)
    make_images(tmp_path / "b", 4)
    list(lib.index())
    third = make_window(lib, state_file=state)
    qtbot.waitUntil(lambda: _counts(third)[0] == "Duplicates  (2)", timeout=5000)
    assert lib.duplicate_runs == runs + 1


def test_sidebar_counts_follow_a_removed_folder(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    lib = _library_with_copies(tmp_path)
    window = make_window(lib)
    qtbot.waitUntil(lambda: _counts(window) == ("Duplicates  (1)", "Problems  (1)"), timeout=5000)
    monkeypatch.setattr("gui.mainwindow.QMessageBox.question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.on_remove_folder(str(tmp_path / "a"))
    qtbot.waitUntil(lambda: _counts(window) == ("Duplicates", "Problems  (1)"), timeout=5000)
    window.on_remove_folder(str(tmp_path / "b"))
    qtbot.waitUntil(lambda: _counts(window) == ("Duplicates", "Problems"), timeout=5000)


def test_help_has_shortcuts_and_how_it_works(indexed, qtbot):
    from gui.widgets.help import HelpDialog

    window = indexed
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    labels = [a.text() for a in help_menu.actions() if a.text()]
    assert labels[:2] == ["Keyboard shortcuts", "How Simili works"] and "About Simili" in labels
    window.act_shortcuts.trigger()
    dialog = window.findChild(HelpDialog)
    text = dialog.text.toPlainText()
    assert "Ctrl+F" in text and "F1" in text and "Esc" in text and "Ctrl+L" in text
    dialog.close()
    window.act_how.trigger()
    pages = [d.text.toPlainText() for d in window.findChildren(HelpDialog)]
    assert any("no close match" in p and "Learn from my photos" in p and "Ctrl+L" in p for p in pages)


def test_dialogs_are_deleted_once_closed(make_window, qtbot):
    """A dialog left as a hidden child until exit was torn down out of order there: under X11, after the Settings
    combo box had opened its list, quitting printed "shared QObject was deleted directly" and often crashed."""
    from PySide6.QtCore import QTimer

    from gui.widgets.help import HelpDialog
    from gui.widgets.settings import SettingsDialog

    window = make_window()

    def use_and_close() -> None:
        dialog = window.findChild(SettingsDialog)
        dialog.theme.showPopup()
        dialog.theme.hidePopup()
        dialog.reject()

    QTimer.singleShot(0, use_and_close)
    window.on_settings()
    window.act_how.trigger()
    window.findChild(HelpDialog).close()
    qtbot.waitUntil(lambda: not window.findChildren(SettingsDialog) and not window.findChildren(HelpDialog),
                    timeout=5000)
