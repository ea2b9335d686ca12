"""Issue 24, GUI details: what a small (800 x 600) window keeps in view, folders with the same name, the large
viewer stepping through the list it was opened from, and word-search results in the main grid."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt

from tests.test_gui_fakes import (  # noqa: F401
    FakeLibrary,
    fake_gpu,
    grid_filled,
    index_done,
    make_images,
    make_window,
)
from tests.test_gui_layout import _fully_shown
from tests.test_gui_trash import fake_groups  # noqa: F401  (a window with a copy group and similar shots)

pytestmark = pytest.mark.gui


@pytest.fixture
def indexed_at(make_window, qtbot, tmp_path):
    """``indexed_at(size, n=12)``: a window of that size on a fake library of ``n`` photos, indexed through the UI."""

    def build(size=(1200, 800), n=12):
        folder = tmp_path / "photos"
        make_images(folder, n)
        window = make_window(FakeLibrary(tmp_path / "home"), size=size)
        with index_done(qtbot, window):
            window.session.add_folders([str(folder)])
        grid_filled(qtbot, window)
        return window

    return build


def test_at_800x600_every_toolbar_button_stays_in_view(indexed_at, qtbot):
    window = indexed_at((800, 600))
    bar = window.toolbar
    qtbot.waitUntil(lambda: bar.width() == window.width(), timeout=3000)
    acts = (window.act_add, window.act_search, window.act_rescan, window.act_train, window.act_settings)
    for act in acts:
        button = bar.widgetForAction(act)
        assert button is not None and button.isVisible(), act.text()  # not hidden in the overflow menu
        assert bar.rect().contains(button.geometry()), (act.text(), button.geometry(), bar.rect())
        assert act.toolTip()  # an icon-only button still says what it does
    assert bar.compact_level >= 1  # some words had to go at this width...
    assert window.word_box.isVisible() and window.word_box.width() >= window.word_box.minimumWidth()
    window.resize(1600, 1000)  # ...and come back when there is room
    qtbot.waitUntil(lambda: bar.compact_level == 0, timeout=3000)
    assert all(bar.widgetForAction(a).isVisible() for a in acts)


def test_at_800x600_the_similar_panel_hint_is_not_cut(indexed_at, qtbot):
    window = indexed_at((800, 600))
    hint = window.similar.query_image
    assert window.similar.isVisible() and "Search by image" in hint.text()
    qtbot.waitUntil(lambda: hint.width() > 0, timeout=3000)
    assert hint.wordWrap() and _fully_shown(hint), (hint.size(), hint.heightForWidth(hint.width()))
    longest = max(hint.text().split(), key=hint.fontMetrics().horizontalAdvance)
    assert hint.fontMetrics().horizontalAdvance(longest) <= hint.contentsRect().width()
    top_left = hint.mapTo(window, QPoint(0, 0))
    assert window.rect().contains(QRect(top_left, hint.size()))


def test_folders_with_the_same_name_are_told_apart_by_their_parents(make_window, qtbot, tmp_path):
    shop, home, other = tmp_path / "shop" / "images", tmp_path / "home" / "images", tmp_path / "home" / "summer"
    for folder, n in ((shop, 3), (home, 2), (other, 1)):
        make_images(folder, n)
    window = make_window(FakeLibrary(tmp_path / "lib"), size=(800, 600))
    with index_done(qtbot, window):
        window.session.add_folders([str(shop), str(home), str(other)])
    grid_filled(qtbot, window)
    items = [window.sidebar.folders.item(i) for i in range(window.sidebar.folders.count())]
    labels = {item.data(Qt.ItemDataRole.UserRole): item.text() for item in items}
    assert labels == {str(shop): "shop/images", str(home): "home/images", str(other): "summer"}
    assert {item.toolTip() for item in items} == {str(shop), str(home), str(other)}  # the whole path on hover
    rect = window.sidebar.folders.visualItemRect(items[1])
    with qtbot.waitSignal(window.grid_model.reset_done, timeout=5000):
        qtbot.mouseClick(window.sidebar.folders.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.photos_page.title.text() == "home/images" and window.photos_page.title.toolTip() == str(home)
    qtbot.waitUntil(lambda: window.grid_model.rowCount() == 2, timeout=5000)


def test_short_names_grow_only_as_far_as_needed():
    from gui.pathlabels import short_names

    assert short_names(["/a/x/images", "/b/x/images", "/c/trip"]) == {
        "/a/x/images": "a/x/images", "/b/x/images": "b/x/images", "/c/trip": "trip"}
    assert short_names(["/a/images", "/b/a/images"]) == {"/a/images": "/a/images", "/b/a/images": "b/a/images"}
    assert short_names([]) == {}


def _viewer(window, qtbot):
    """The viewer the window opened, active (its keys are window shortcuts, as a person's keys reach it)."""
    from gui.widgets.viewer import ViewerDialog

    dialogs = [d for d in window.findChildren(ViewerDialog) if d.isVisible()]
    assert len(dialogs) == 1
    dialogs[0].activateWindow()
    qtbot.waitUntil(dialogs[0].isActiveWindow, timeout=3000)
    return dialogs[0]


def test_the_viewer_steps_through_the_whole_grid_and_the_grid_follows(indexed_at, qtbot):
    window = indexed_at()
    view = window.grid
    rect = view.visualRect(window.grid_model.index(2, 0))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = _viewer(window, qtbot)
    assert dialog.caption.text().endswith("3 of 12") and "img002.jpg" in dialog.caption.text()
    qtbot.waitUntil(lambda: dialog._image is not None, timeout=5000)
    for key, shown in ((Qt.Key.Key_Right, 4), (Qt.Key.Key_PageDown, 5), (Qt.Key.Key_Left, 4),
                       (Qt.Key.Key_PageUp, 3), (Qt.Key.Key_End, 12), (Qt.Key.Key_Right, 12), (Qt.Key.Key_Home, 1),
                       (Qt.Key.Key_Left, 1)):
        qtbot.keyClick(dialog, key)
        assert dialog.caption.text().endswith(f"{shown} of 12"), (key, dialog.caption.text())
        assert f"img{shown - 1:03d}.jpg" in dialog.caption.text()
        assert view.currentIndex().row() == shown - 1 or (shown == 3 and key == Qt.Key.Key_PageUp)
    assert not dialog.prev_button.isEnabled() and dialog.next_button.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_End)
    assert dialog.next_button.isEnabled() is False and dialog.prev_button.isEnabled()
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)  # find photos like the one shown
    assert window.similar.query()[1].path.endswith("img011.jpg")


def test_the_viewer_reads_the_grid_pages_it_steps_into(indexed_at, qtbot):
    window = indexed_at(n=600)  # more than one page of the grid's model (512)
    assert not window.grid_model.is_loaded(599)
    window.on_open_viewer(window.grid_model.photo(0), window.grid)
    dialog = _viewer(window, qtbot)
    assert dialog.caption.text().endswith("1 of 600")
    qtbot.keyClick(dialog, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: "img599.jpg" in dialog.caption.text(), timeout=5000)  # "Loading…" until its page is read
    assert dialog.caption.text().endswith("600 of 600")
    qtbot.waitUntil(lambda: dialog._image is not None, timeout=5000)


def test_the_viewer_steps_through_the_similar_results(indexed_at, qtbot):
    window = indexed_at()
    with qtbot.waitSignal(window.similar.searched, timeout=5000):
        window.on_photo_activated(window.grid_model.photo(0))
    results = window.similar.model
    assert results.rowCount() == 11
    window.similar.results.photo_opened.emit(results.photo(2))
    dialog = _viewer(window, qtbot)
    assert dialog.caption.text().endswith("3 of 11")
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.caption.text().endswith("4 of 11") and dialog.photo.id == results.photo(3).id
    dialog.close()
    from PySide6.QtWidgets import QMenu

    window.similar.context_requested.emit(results.photo(5), QPoint(10, 10))  # the context menu's View: the same list
    menu = next(m for m in window.findChildren(QMenu) if m.isVisible())
    next(a for a in menu.actions() if a.text() == "View").trigger()
    menu.close()
    qtbot.waitUntil(lambda: len([d for d in window.findChildren(type(dialog)) if d.isVisible()]) == 1, timeout=3000)
    assert _viewer(window, qtbot).caption.text().endswith("6 of 11")


def test_word_results_fill_the_main_grid_with_their_badges_and_esc_goes_back(indexed_at, qtbot):
    from gui.itemmodels import similarity_at

    window = indexed_at((800, 600))
    window.word_box.setText("  red   shoes ")
    with qtbot.waitSignal(window.words.shown, timeout=5000) as shown:
        window.on_word_search()
    model, page = window.grid_model, window.photos_page
    assert shown.args == [11] and model.rowCount() == 11 and window.current_page() == "photos"
    found = window.words.found.results
    assert [model.photo(r).id for r in range(11)] == [n.photo.id for n in found]  # best match first
    assert [similarity_at(model.index(r, 0)) for r in range(11)] == [n.similarity for n in found]  # the badges
    assert found[0].similarity == 92 and found[0].level == "very similar"
    tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert "92% match" in tip and "very similar" in tip
    assert page.title.text() == "“red shoes”"
    close = sum(n.close for n in found)
    assert 0 < close < 11
    assert page.subtitle.text().startswith(f"11 photos showing red shoes (3 kinds), best match first; the first "
                                           f"{close} are clear matches (60% or more)")
    qtbot.waitUntil(lambda: _fully_shown(page.subtitle), timeout=3000)  # wrapped at 800 x 600, not cut
    assert _fully_shown(page.title) and page.subtitle.width() >= page.width() - 40  # under the title, not squeezed
    assert page.back_button.isVisible() and page.back_button.text() == "Show all photos"

    window.on_open_viewer(model.photo(1), window.grid)  # the viewer steps through the results
    dialog = _viewer(window, qtbot)
    assert dialog.caption.text().endswith("2 of 11")
    dialog.close()
    with qtbot.waitSignal(window.similar.searched, timeout=5000):  # a click finds photos like a result, beside them
        qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton,
                         pos=window.grid.visualRect(model.index(0, 0)).center())
    assert window.similar.isVisible() and window.words.active()
    window.on_escape()  # first Esc: the similar panel closes, the word results stay
    assert not window.similar.isVisible() and window.words.active()
    with qtbot.waitSignal(model.reset_done, timeout=5000):
        window.on_escape()  # second Esc: all photos again
    assert model.rowCount() == 12 and not window.words.active() and page.title.text() == "All photos"
    assert not page.back_button.isVisible() and similarity_at(model.index(0, 0)) is None


def test_show_all_photos_and_no_clear_match(indexed_at, qtbot):
    window = indexed_at()
    window.session.reader.similarity_drop = 40.0  # the best is 59%: nothing clearly shows the words
    with qtbot.waitSignal(window.words.shown, timeout=5000):
        window.search_words("blue car")
    assert "come nearest to blue car (3 kinds): no clear match" in window.photos_page.subtitle.text()
    with qtbot.waitSignal(window.grid_model.reset_done, timeout=5000):
        qtbot.mouseClick(window.photos_page.back_button, Qt.MouseButton.LeftButton)
    assert window.grid_model.rowCount() == 12 and window.photos_page.title.text() == "All photos"


def test_the_screenshot_set_is_complete_small_and_linked():
    """docs/screenshots/make.py's set: every view at both sizes in both themes, each PNG under 400 KB, and every
    screenshot the README and docs show is there."""
    import re

    from PySide6.QtGui import QImage

    from tests.conftest import REPO

    shots = REPO / "docs" / "screenshots"
    for view in ("welcome", "similar", "words", "duplicates", "indexing"):
        for theme in ("light", "dark"):
            for size in ((800, 600), (1600, 1000)):
                png = shots / f"{view}-{theme}-{size[0]}x{size[1]}.png"
                assert png.is_file() and png.stat().st_size < 400_000, png
                assert QImage(str(png)).size().toTuple() == size, png
    for doc in (REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))):
        for link in re.findall(r"\]\(([^)]*screenshots/[^)]+\.png)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / link).is_file(), (doc.name, link)
            assert "/work" not in link and "shared" not in link


def test_duplicates_say_how_a_copy_differs_cut_at_the_end_at_800x600(fake_groups, qtbot):
    """A narrow window cuts "kept: the original, largest and least compressed copy" at its end, never to
    "kept: the origin… compressed copy"; the headings keep their first words (tests/test_gui_trash.py)."""
    from PySide6.QtWidgets import QStyleOptionViewItem

    window, *_ = fake_groups(size=(800, 600))
    tree = window.duplicates.tree
    tree.header().resizeSection(1, 120)
    kept = tree.topLevelItem(0).child(0)
    assert kept.text(1) == "kept: the original, largest and least compressed copy"
    index = tree.indexFromItem(kept, 1)
    option = QStyleOptionViewItem()
    option.initFrom(tree)
    tree.itemDelegateForColumn(1).initStyleOption(option, index)
    assert option.textElideMode == Qt.TextElideMode.ElideRight
    shown = option.fontMetrics.elidedText(kept.text(1), option.textElideMode, tree.columnWidth(1))
    assert shown.endswith("…") and kept.text(1).startswith(shown[:-1]), shown
    assert tree.textElideMode() == Qt.TextElideMode.ElideMiddle  # file names and folders keep both ends
