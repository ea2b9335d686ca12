"""Issue 24, GUI details: what a small (800 x 600) window keeps in view, folders with the same name, the large
viewer stepping through the list it was opened from, and word-search results in the main grid."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect

from tests.test_gui_fakes import FakeLibrary, fake_gpu, grid_filled, index_done, make_images, make_window  # noqa: F401
from tests.test_gui_layout import _fully_shown

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
