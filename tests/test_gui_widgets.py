"""Fast GUI tests: the real widgets, offscreen, on a fake engine facade (tests/test_gui_fakes.py)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.errors import LibraryBusy
from engine.types import FileError, Progress
from tests.test_gui_fakes import FakeLibrary, fake_gpu, grid_filled, index_done, make_images, make_window  # noqa: F401

pytestmark = pytest.mark.gui


def _drop(window, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def _open_boxes(window) -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


@pytest.fixture
def indexed(make_window, qtbot, tmp_path):
    """A window on a fake library holding 12 photos, indexed through the UI."""
    folder = tmp_path / "photos"
    make_images(folder, 12)
    window = make_window()
    with index_done(qtbot, window):
        window.session.add_folders([str(folder)])
    grid_filled(qtbot, window)
    return window


def test_first_run_shows_welcome_with_one_action(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    assert window.stack.currentWidget() is window.welcome
    assert window.welcome.button.text().strip().startswith("Add photo folder")
    folder = tmp_path / "p"
    make_images(folder, 5)
    monkeypatch.setattr("gui.mainwindow.QFileDialog.getExistingDirectory", lambda *a, **k: str(folder))
    with index_done(qtbot, window):
        qtbot.mouseClick(window.welcome.button, Qt.MouseButton.LeftButton)
    grid_filled(qtbot, window)
    assert window.stack.currentWidget() is window.photos_page
    assert window.grid_model.rowCount() == 5
    assert window.sidebar.folders.count() == 1


def test_dropping_a_folder_adds_it(make_window, qtbot, tmp_path):
    window = make_window()
    folder = tmp_path / "dropped"
    make_images(folder, 3)
    with index_done(qtbot, window):
        _drop(window, [folder])
    assert window.session.folders() == [str(folder)]


def test_click_photo_shows_ranked_neighbours_with_badges(indexed, qtbot):
    window = indexed
    view = window.grid
    index = window.grid_model.index(4, 0)
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    assert window.similar.isVisible()
    model = window.similar.model
    assert model.rowCount() > 0
    first = [model.photo(r).id for r in range(3)]
    assert first[0] in (4, 6) and set(first) <= {3, 4, 6, 7, 2}  # the fake ranks by id distance
    sims = [model.similarity(r) for r in range(model.rowCount())]
    assert sims == sorted(sims, reverse=True)


def test_enter_on_photo_and_threshold_slider(indexed, qtbot):
    window = indexed
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.grid_model.index(0, 0))
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    panel = window.similar
    total = panel.model.rowCount()
    panel.slider.setValue(1)  # very similar and closer: the fake gives 92 % and 85 % to the next two photos
    assert panel.model.rowCount() == 2 < total
    assert "2 similar photos, most similar first" in panel.count_label.text()
    panel.slider.setValue(panel.slider.maximum())
    assert panel.model.rowCount() == panel.model.total()
    # Enter on a result searches from it; Alt+Left goes back; Esc closes the panel.
    first_query = panel.query()
    panel.results.setFocus()
    panel.results.setCurrentIndex(panel.model.index(1, 0))
    with qtbot.waitSignal(panel.searched, timeout=5000):
        qtbot.keyClick(panel.results, Qt.Key.Key_Return)
    assert panel.query() != first_query
    with qtbot.waitSignal(panel.searched, timeout=5000):
        window.act_back.trigger()
    assert panel.query() == first_query
    window.act_close_similar.trigger()
    assert not panel.isVisible() and panel.query() is None


def test_drop_external_image_searches_by_it(indexed, qtbot, tmp_path):
    window = indexed
    outside = make_images(tmp_path / "outside", 1)[0]
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        _drop(window, [outside])
    assert window.session.reader.image_queries == [str(outside)]
    assert "Searching by image" in window.similar.query_caption.text()
    assert window.similar.model.rowCount() > 0


def test_paste_image_file_searches_by_it(indexed, qtbot, tmp_path):
    window = indexed
    outside = make_images(tmp_path / "clip", 1)[0]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    QApplication.clipboard().setMimeData(mime)
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        window.act_paste.trigger()
    assert window.session.reader.image_queries == [str(outside)]


def test_progress_area_shows_step_count_rate_eta_and_cancel_stops(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.endless_index = True
    window = make_window(lib)
    make_images(tmp_path / "p", 2)
    with qtbot.waitSignal(window.session.progress, timeout=5000,
                          check_params_cb=lambda kind, p: p.stage == "encode" and p.done > 3):
        window.session.add_folders([str(tmp_path / "p")])
    panel = window.progress
    assert panel.isVisible() and panel.cancel_button.isVisible()
    text = panel.detail.text()
    assert "of 1,000,000 photos" in text and "photos a second" in text and "left" in text
    with qtbot.waitSignal(window.session.job_ended, timeout=5000) as ended:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args[:2] == ["index", "cancelled"]
    assert not panel.isVisible()
    assert not _open_boxes(window)  # a cancel is not an error


def test_auto_training_after_index_shows_loss_and_device(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.settings.auto_train = True
    lib.settings.auto_train_min_photos = 5
    lib.train_epochs = 30
    window = make_window(lib)
    make_images(tmp_path / "p", 6)
    with qtbot.waitSignal(window.session.job_ended, timeout=10_000,
                          check_params_cb=lambda kind, *_: kind == "train") as ended:
        window.session.add_folders([str(tmp_path / "p")])
    assert ended.args[1] == "done"
    assert "on the processor" in window.progress.device.text()
    assert "no CUDA GPU" in window.progress.device.toolTip()
    assert not window.progress.device.isVisible()  # the finished note is short: no device sentence again
    assert "tuned to your photos" in window.summary.text()


def test_training_progress_pause_and_cancel(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.train_endless = True
    window = make_window(lib)
    session = window.session
    with qtbot.waitSignal(session.progress, timeout=5000, check_params_cb=lambda k, p: p.done >= 2):
        session.start_training()
    detail = window.progress.detail.text()
    assert "left" in detail and "loss" not in detail and "epoch" not in detail
    assert window.progress.pause_button.isVisible()
    with qtbot.waitSignal(session.job_ended, timeout=5000) as ended:
        qtbot.mouseClick(window.progress.pause_button, Qt.MouseButton.LeftButton)
    assert ended.args[:2] == ["train", "paused"] and not lib.discarded
    assert "continue" in window.progress.train_button.text().lower()
    with qtbot.waitSignal(session.progress, timeout=5000):
        qtbot.mouseClick(window.progress.train_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(session.job_ended, timeout=5000) as ended:
        qtbot.mouseClick(window.progress.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args[:2] == ["train", "cancelled"]
    qtbot.waitUntil(lambda: lib.discarded, timeout=5000)


def test_training_unavailable_is_explained(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.available = (False, "training needs PyTorch, which is not installed")
    window = make_window(lib)
    window.session.start_training()
    qtbot.waitUntil(lambda: bool(_open_boxes(window)), timeout=3000)
    box = _open_boxes(window)[0]
    assert "PyTorch" in box.informativeText()
    box.close()


def test_errors_are_messages_not_tracebacks(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.index_error = LibraryBusy("the library is busy: another Simili window is indexing it")
    window = make_window(lib)
    window.session.add_folders([str(tmp_path / "missing")])
    qtbot.waitUntil(lambda: bool(_open_boxes(window)), timeout=3000)
    assert "not a folder" in _open_boxes(window)[0].informativeText()
    for b in _open_boxes(window):
        b.close()
    make_images(tmp_path / "p", 1)
    with qtbot.waitSignal(window.session.job_ended, timeout=5000) as ended:
        window.session.add_folders([str(tmp_path / "p")])
    assert ended.args[1] == "failed"
    qtbot.waitUntil(lambda: bool(_open_boxes(window)), timeout=3000)
    box = _open_boxes(window)[0]
    assert box.windowTitle() == "The library is busy" and not box.detailedText()
    box.close()


def test_describe_disk_full():
    from gui.errors import describe

    title, text, _ = describe(OSError(errno.ENOSPC, "No space left on device"))
    assert title == "The disk is full" and "space" in text


def test_problems_panel_lists_failures(make_window, qtbot, tmp_path):
    lib = FakeLibrary(tmp_path / "home")
    lib.failed = [FileError("/x/broken.jpg", "truncated", "file is truncated"),
                  FileError("/x/empty.jpg", "empty", "file is empty (0 bytes)")]
    window = make_window(lib)
    make_images(tmp_path / "p", 1)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "p")])
    with qtbot.waitSignal(window.problems.counted, timeout=5000):
        window.act_pages[2].trigger()
    assert window.problems.table.topLevelItemCount() == 2
    assert "Problems  (2)" in window.sidebar.nav.item(2).text()
    reasons = {window.problems.table.topLevelItem(i).text(1) for i in range(2)}
    assert reasons == {"Truncated", "Empty file"}


def test_duplicates_keep_best_and_trash_only_unticked(indexed, qtbot, monkeypatch):
    window = indexed
    photos = window.session.reader.photos()
    from dataclasses import replace

    from engine.types import DuplicateGroup, DuplicateMember

    big = replace(photos[1], width=4000, height=3000)
    window.session.reader.groups = [
        DuplicateGroup([DuplicateMember(big, True), DuplicateMember(photos[0], False, ["smaller copy"]),
                        DuplicateMember(photos[2], False, ["cropped", "mirrored"])]),
        DuplicateGroup([DuplicateMember(photos[5], True), DuplicateMember(photos[6], False, ["recompressed"])]),
        DuplicateGroup([DuplicateMember(photos[7], True), DuplicateMember(photos[8], True, ["cropped"])], sure=False),
    ]
    trashed = []
    monkeypatch.setattr("send2trash.send2trash", lambda p: trashed.append(p))
    monkeypatch.setattr("gui.widgets.duplicates.confirm_trash", lambda parent, items, loader: True)
    with qtbot.waitSignal(window.duplicates.loaded, timeout=5000):
        window.show_page("duplicates")
    groups = window.duplicates.groups()
    assert [keep for _, keep in groups[0]] == [True, False, False]  # the engine's choice is ticked
    assert [keep for _, keep in groups[1]] == [True, False]
    assert [keep for _, keep in groups[2]] == [True, True]  # a "maybe" group is never marked for the trash
    tree = window.duplicates.tree
    assert tree.topLevelItem(0).child(2).text(1) == "cropped, mirrored"
    assert tree.topLevelItem(2).text(0).startswith("Similar shots 1 · 2 photos")
    window.duplicates.set_keep(int(photos[6].id), True)  # the user keeps the other one instead
    window.duplicates.set_keep(int(photos[5].id), False)
    expected = {photos[0].path, photos[2].path, photos[5].path}
    with index_done(qtbot, window):  # trashing rescans the library
        qtbot.mouseClick(window.duplicates.trash_button, Qt.MouseButton.LeftButton)
    assert set(trashed) == expected


def test_settings_dialog_saves_engine_settings(make_window, qtbot, tmp_path, monkeypatch):
    from gui.widgets.settings import SettingsDialog

    window = make_window()
    dialog = SettingsDialog(window.session.settings, str(window.session.home), "auto", None, window)
    qtbot.addWidget(dialog)
    dialog.similar.setValue(10)
    dialog.dupes.setValue(30)  # stricter must not exceed looser
    dialog.accept()
    assert "farthest match" in dialog.error_label.text().lower() and dialog.result() == 0
    assert dialog.advanced.isChecked()  # the error is about an advanced setting: the group opens
    dialog.dupes.setValue(5)
    dialog.bits.setCurrentIndex(1)
    dialog.device.setCurrentIndex(2)
    dialog.accept()
    new = dialog.result_settings()
    assert (new.bits, new.device, new.similar_max_distance, new.dupe_max_distance) == (32, "cpu", 0.10, 0.05)
    window.session.save_settings(new)
    assert window.session.reader.saved.bits == 32


def test_restart_restores_window_state(make_window, qtbot, tmp_path):
    state = tmp_path / "gui.ini"
    lib = FakeLibrary(tmp_path / "home")
    window = make_window(lib, state_file=state, size=(1000, 700))
    make_images(tmp_path / "p", 3)
    with index_done(qtbot, window):
        window.session.add_folders([str(tmp_path / "p")])
    window.zoom_slider.setValue(200)
    window.show_page("problems")
    window.close()
    again = make_window(lib, state_file=state, size=(10, 10))
    assert again.current_page() == "problems"
    assert again.zoom_slider.value() == 200
    assert again.sidebar.folders.count() == 1


def test_grid_pages_lazily_through_100k_photos(qtbot):
    """Scrolling a 100k-row grid reads only the pages it shows."""
    from engine.types import Photo, PhotoId
    from gui.itemmodels import PhotoGridModel

    calls = []

    def photos(offset, limit):
        calls.append(offset)
        return [Photo(PhotoId(i + 1), f"/nowhere/{i:06d}.jpg") for i in range(offset, min(offset + limit, 100_000))]

    model = PhotoGridModel(photos, lambda: 100_000)
    model.set_count(100_000)
    qtbot.waitUntil(lambda: model.is_loaded(0), timeout=3000)
    assert model.photo(99_999) is None  # not loaded yet: requested
    qtbot.waitUntil(lambda: model.is_loaded(99_999), timeout=3000)
    assert model.photo(99_999).path.endswith("099999.jpg")
    assert len(calls) == 2


def test_grid_view_scrolls_100k_rows_quickly(qtbot, tmp_path):
    """Laying out and scrolling 100k rows does per-visible-row work only: counted in model reads, and bounded in the
    GUI thread's own CPU time (not wall time, which a loaded machine stretches)."""
    import time

    from engine.library.thumbcache import ThumbCache
    from engine.types import Photo, PhotoId
    from gui.itemmodels import PhotoGridModel
    from gui.thumbnails import ThumbnailLoader
    from gui.widgets.photogrid import PhotoGridView

    def photos(offset, limit):
        return [Photo(PhotoId(i + 1), f"/nowhere/{i:06d}.jpg") for i in range(offset, min(offset + limit, 100_000))]

    reads: list[int] = []

    class CountingModel(PhotoGridModel):
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            reads.append(index.row())
            return super().data(index, role)

    model = CountingModel(photos, lambda: 100_000)
    view = PhotoGridView(ThumbnailLoader(ThumbCache(tmp_path / "t").get))
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.setModel(model)
    view.show()
    start = time.thread_time()
    model.set_count(100_000)
    QApplication.processEvents()
    layout_s = time.thread_time() - start
    layout_reads = len(reads)
    bar = view.verticalScrollBar()
    worst = 0.0
    for value in range(0, bar.maximum(), bar.maximum() // 20):
        t = time.thread_time()
        bar.setValue(value)
        view.viewport().repaint()
        worst = max(worst, time.thread_time() - t)
    assert layout_reads < 1_000, layout_reads  # no row-by-row layout (uniform sizes, batched)
    assert len(reads) < 10_000, len(reads)  # 21 screens of rows at most, not 100k rows
    assert layout_s < 0.5, layout_s
    assert worst < 0.05, worst


def test_every_icon_renders_and_app_pngs_exist():
    from gui import resources

    for name in resources.ICON_NAMES:
        assert not resources.icon(name).isNull(), name
    with pytest.raises(KeyError):
        resources.icon("no-such-icon")
    for size in resources.PNG_SIZES:
        assert (resources.icons_dir() / "png" / f"simili-{size}.png").is_file()


def test_describe_progress_lines():
    from gui.widgets.progress import describe_progress

    title, detail = describe_progress(Progress("encode", 120, 1000, 35.5, 130.0))
    assert title == "Reading photos"
    assert detail == "120 of 1,000 photos · 36 photos a second · about 2 min 10 s left"
    title, detail = describe_progress(Progress("train", 3, 20, None, 60, metrics={"loss": 0.25, "epoch": 3}), 245)
    assert title == "Learning from your photos"
    assert detail == "studying 245 photos · 15% done · about 1 min 00 s left"  # photos and time, no epochs or loss
    title, detail = describe_progress(Progress("dupes", 64, 7389, 20.0, 366.0))
    assert (title, detail) == ("Checking look-alike photos for copies", "64 of 7,389 pairs · about 6 min 06 s left")


def test_context_menu_actions(indexed, qtbot, monkeypatch):
    from gui import actions

    window = indexed
    photo = window.session.reader.photos()[0]
    menu = actions.photo_menu(window, photo, [photo], on_similar=lambda p: None, on_view=lambda p: None,
                              on_trash=lambda ps: None)
    labels = [a.text() for a in menu.actions() if a.text()]
    assert labels[:2] == ["Find similar photos", "View"]
    assert {"Open with default app", "Show in file manager", "Copy path"} <= set(labels)
    copy = next(a for a in menu.actions() if a.text() == "Copy path")
    copy.trigger()
    assert QApplication.clipboard().text() == photo.path
    opened = []
    monkeypatch.setattr("gui.actions.QDesktopServices.openUrl", lambda url: opened.append(url) or True)
    next(a for a in menu.actions() if a.text() == "Open with default app").trigger()
    assert opened and opened[0].toLocalFile() == photo.path


def test_viewer_opens_on_double_click(indexed, qtbot):
    from gui.widgets.viewer import ViewerDialog

    window = indexed
    view = window.grid
    rect = view.visualRect(window.grid_model.index(2, 0))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialogs = [w for w in window.findChildren(ViewerDialog)]
    assert dialogs
    dialog = dialogs[-1]
    qtbot.waitUntil(lambda: dialog._image is not None, timeout=5000)
    assert "img002.jpg" in dialog.caption.text()
    dialog.close()


def test_folder_removal_never_touches_files(indexed, qtbot, monkeypatch):
    window = indexed
    folder = window.session.folders()[0]
    before = sorted(Path(folder).iterdir())
    monkeypatch.setattr("gui.mainwindow.QMessageBox.question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.sidebar.folders.setCurrentRow(0)
    with qtbot.waitSignal(window.session.folders_changed, timeout=5000):
        window.sidebar.remove_button.click()
    assert window.session.folders() == []
    assert sorted(Path(folder).iterdir()) == before
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.welcome, timeout=3000)




def test_none_survives_many_void_qt_calls(qtbot):
    """Guards the WORKAROUND in gui/__init__.py: PySide6 6.12 on Python 3.11 drops a reference to None per call
    of a Qt method returning nothing; without the guard this loop aborts the interpreter ("none_dealloc")."""
    import sys

    import gui  # noqa: F401 - installs the guard
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    for _ in range(300_000):
        label.update()
    assert sys.getrefcount(None) > 0


def test_duplicates_view_shows_the_search_progress(indexed, qtbot):
    window = indexed
    seen = []
    window.duplicates.progressed.connect(lambda token, step: seen.append(step.stage))
    with qtbot.waitSignal(window.duplicates.loaded, timeout=5000):
        window.show_page("duplicates")
    assert seen == ["dupes"]
    assert "No duplicates found" in window.duplicates.summary.text()


def test_an_offline_folder_is_marked_in_the_sidebar(qtbot, tmp_path):
    from gui.widgets.sidebar import Sidebar

    bar = Sidebar()
    qtbot.addWidget(bar)
    bar.set_folders([str(tmp_path / "here"), str(tmp_path / "usb")], [str(tmp_path / "usb")])
    texts = [bar.folders.item(i).text() for i in range(bar.folders.count())]
    assert texts == ["here", "usb (offline)"]
    assert "Offline" in bar.folders.item(1).toolTip() and "Offline" not in bar.folders.item(0).toolTip()


def test_learning_shows_the_time_left_and_ends_with_its_outcome_in_photos(qtbot, monkeypatch):
    """Learning's first steps report nothing until done: the time left counts down between reports, and the end
    says what learning did, in photos, or that it made no difference."""
    from gui.widgets import progress as progress_mod
    from engine.types import ModelInfo

    panel = progress_mod.ProgressPanel()
    qtbot.addWidget(panel)
    panel.photos = 3409
    clock = [100.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: clock[0])
    panel.on_job_started("train")
    panel.on_progress("train", Progress("train", 0, None, eta_s=75.0, message="finding each photo's nearest photos"))
    assert panel.detail.text() == "studying 3,409 photos · about 1 min 15 s left"
    clock[0] += 30
    panel._count_down()  # what the one-second timer does
    assert panel.detail.text() == "studying 3,409 photos · about 45 s left"
    clock[0] += 300  # slower than expected: never "0 s left", never negative
    panel._count_down()
    assert panel.detail.text() == "studying 3,409 photos · about 1 s left"
    metrics = {"check_queries": 300.0, "check_better": 180.0, "check_worse": 40.0, "check_gain": 0.05}
    panel.on_job_ended("train", "done", ModelInfo(3, "distillhash", 64, "now", True, metrics))
    assert panel.title.text() == "Learning finished" and not panel._tick.isActive()
    assert panel.detail.text() == ("Searches now use what Simili learned from your photos. Tested on 300 of your "
                                   "photos set aside while learning: their closest matches got better for 180, "
                                   "worse for 40 and stayed the same for 80.")
    panel.on_job_started("train")
    panel.on_job_ended("train", "done", ModelInfo(4, "distillhash", 64, "now", False, {**metrics, "check_better": 90.0,
                                                                                       "check_worse": 110.0}))
    assert panel.title.text() == "Learning made no difference"
    assert panel.detail.text().startswith("Learning made no difference worth keeping, so searches stay as they were "
                                          "and nothing else changed. Tested on 300")


def test_the_time_learning_takes_is_expected_from_this_library_or_the_measured_pace():
    from engine.jobs.learn import expected_seconds
    from engine.types import ModelInfo

    itq = ModelInfo(1, "itq", 64, "then", True, {})
    assert expected_seconds([itq], 3000, "cpu") == pytest.approx(14.0)  # 4 s + 3,000 photos at 300 a second
    assert expected_seconds([itq], 3000, "cuda") is None  # never timed on a graphics card here: no guess
    learned = ModelInfo(2, "distillhash", 64, "then", False, {"train_seconds": 20.0, "photos": 1000.0})
    assert expected_seconds([learned, itq], 3000, "cuda") == pytest.approx(60.0)  # this library's own pace
