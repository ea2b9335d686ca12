"""The word search box: type words, press Enter, see the photos that show them (in the main grid,
tests/test_gui_details.py has more); unknown words are said."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.test_gui_fakes import fake_gpu, make_window  # noqa: F401
from tests.test_gui_widgets import indexed  # noqa: F401  (a window on 12 fake photos, indexed through the UI)

pytestmark = pytest.mark.gui


def test_typing_words_shows_the_photos_that_show_them(indexed, qtbot):
    window = indexed
    window.act_words.trigger()
    # offscreen platforms may not give the window focus: the box is then the window's focus widget
    assert window.word_box.hasFocus() or window.focusWidget() is window.word_box
    qtbot.keyClicks(window.word_box, "red shoes")
    with qtbot.waitSignal(window.words.shown, timeout=5000):
        qtbot.keyClick(window.word_box, Qt.Key.Key_Return)
    assert window.session.reader.text_queries == ["red shoes"]
    assert window.grid_model.rowCount() == 11 and window.words.active()
    assert window.photos_page.title.text() == "“red shoes”"
    assert "11 photos showing red shoes (3 kinds), best match first" in window.photos_page.subtitle.text()


def test_unknown_words_are_said_with_suggestions(indexed, qtbot):
    window = indexed
    window.word_box.setText("zzzfoo")
    with qtbot.waitSignal(window.words.shown, timeout=5000):
        window.on_word_search()
    text = window.photos_page.subtitle.text()
    assert "zzzfoo" in text and "dog" in text and window.grid_model.rowCount() == 0
    assert text.startswith("Unknown word: ") and "To teach it, select a few photos that show it and choose Name… (N)." in text
    assert window.photos_page.back_button.isVisible()

