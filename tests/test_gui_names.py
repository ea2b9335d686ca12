"""Taught names in the app (issue 23): Name… on a few photos, the proposals confirmed or rejected one click at a
time, the sidebar's names (click, rename, remove) and "More like this" on similar photos, on a real library of
40 demo photos (resources/demo, 4 of each garment kind)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.conftest import indexed_demo_library, tree_digest
from tests.test_gui_fakes import fake_gpu, grid_filled, make_window  # noqa: F401

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory):
    """A library of 40 real photos indexed once; each test works on its own copy of the library."""
    root = tmp_path_factory.mktemp("names-gui")
    lib, folder, _ = indexed_demo_library(root, per_class=4, auto_train=False)
    lib.close()
    return root / "lib", folder


@pytest.fixture
def window(make_window, qtbot, indexed_home, tmp_path):
    from engine.api import Library

    home, _ = indexed_home
    shutil.copytree(home, tmp_path / "lib", ignore=shutil.ignore_patterns("*.lock"))
    lib = Library(tmp_path / "lib")
    w = make_window(lib)
    grid_filled(qtbot, w)
    yield w
    w.close()
    w.session.shutdown()
    lib.close()


def _kind(photo) -> str:
    return Path(photo.path).name.split("-")[0]


def _rows(window, kind: str) -> list[int]:
    model = window.grid_model
    return [r for r in range(model.rowCount()) if model.photo(r) is not None and _kind(model.photo(r)) == kind]


def _name_two(window, qtbot, kind="dress", name="frock"):
    """Select two photos of ``kind`` in the grid, press N, type the name and press Name: the proposals come."""
    rows = _rows(window, kind)[:2]
    sel = window.grid.selectionModel()
    sel.clearSelection()
    for r in rows:
        sel.select(window.grid_model.index(r), QItemSelectionModel.SelectionFlag.Select)
    photos = window.grid.selected_photos()
    assert len(photos) == 2
    window.activateWindow()
    window.grid.setFocus()
    if QApplication.focusWidget() is window.grid:
        qtbot.keyClick(window.grid, Qt.Key.Key_N)  # the shortcut, where the platform gives the grid the focus
    else:
        window.naming.act_name.trigger()
    dialog = window.naming.dialog
    assert dialog is not None and dialog.isVisible() and "these 2 photos" in dialog.label.text()
    qtbot.keyClicks(dialog.edit, name)
    with qtbot.waitSignal(window.naming.panel.proposed, timeout=10_000):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    return photos


def test_name_two_photos_stores_the_name_and_proposes_other_photos(window, qtbot):
    photos = _name_two(window, qtbot)
    lib = window.session.library
    assert {p.id for p in lib.named_photos("frock")} == {p.id for p in photos}
    panel = window.naming.panel
    assert panel.isVisible() and not window.similar.isVisible()
    proposed = panel.proposals()
    assert len(proposed) >= 5 and not {p.id for p in proposed} & {p.id for p in photos}
    # best first: the panel lists the engine's proposals in the engine's order
    assert [p.id for p in proposed] == [n.photo.id for n in lib.name_proposals("frock", 40)][:len(proposed)]
    assert "2 photos show frock" in panel.counts.text()
    qtbot.waitUntil(lambda: window.sidebar.names.names() == {"frock": 2}, timeout=5000)
    window.act_close_similar.trigger()  # Esc closes the proposals (the answers are kept)
    assert not panel.isVisible() and not window.naming.wanted


def test_confirm_and_reject_refine_the_proposals(window, qtbot):
    photos = _name_two(window, qtbot)
    panel = window.naming.panel
    lib = window.session.library
    first = panel.proposals()[0]
    with qtbot.waitSignal(panel.proposed, timeout=10_000):
        _click(qtbot, panel, 0, True)  # ✓: one click
    assert first.id in {p.id for p in lib.named_photos("frock")}
    assert first.id not in {p.id for p in panel.proposals()}
    qtbot.waitUntil(lambda: window.sidebar.names.names() == {"frock": 3}, timeout=5000)

    rejected = panel.proposals()[0]
    with qtbot.waitSignal(panel.proposed, timeout=10_000):
        _click(qtbot, panel, 0, False)  # ✗
    assert rejected.id not in {p.id for p in lib.named_photos("frock")}
    assert rejected.id not in {p.id for p in panel.proposals()}
    assert rejected.id not in {n.photo.id for n in lib.name_proposals("frock", 40)}  # never proposed again
    info = next(n for n in lib.names() if n.name == "frock")
    assert (info.examples, info.rejections) == (3, 1)

    # Y and N answer the selected proposal
    panel.list.setCurrentIndex(panel.model.index(1))
    chosen = panel.current_photo()
    with qtbot.waitSignal(panel.proposed, timeout=10_000):
        qtbot.keyClick(panel.list, Qt.Key.Key_Y)
    assert chosen.id in {p.id for p in lib.named_photos("frock")}
    chosen = panel.current_photo()
    with qtbot.waitSignal(panel.proposed, timeout=10_000):
        qtbot.keyClick(panel.list, Qt.Key.Key_N)
    info = next(n for n in lib.names() if n.name == "frock")
    assert (info.examples, info.rejections) == (4, 2)
    assert chosen.id not in {p.id for p in panel.proposals()} | {p.id for p in lib.named_photos("frock")}
    assert {p.id for p in photos} <= {p.id for p in lib.named_photos("frock")}


def test_sidebar_lists_the_name_and_a_click_shows_its_photos(window, qtbot):
    photos = _name_two(window, qtbot)
    names = window.sidebar.names
    qtbot.waitUntil(lambda: names.list.count() == 1, timeout=5000)
    item = names.list.item(0)
    assert item.text() == "frock  (2)"
    rect = names.list.visualItemRect(item)
    qtbot.mouseClick(names.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.grid_model.rowCount() == 2, timeout=5000)
    shown = {window.grid_model.photo(r).id for r in range(2)}
    assert shown == {p.id for p in photos}
    assert window.photos_page.title.text() == "“frock”" and "named frock" in window.photos_page.subtitle.text()
    # confirming a proposal adds it to the grid that lists the name
    panel = window.naming.panel
    qtbot.waitUntil(lambda: panel.model.rowCount() > 0, timeout=10_000)
    with qtbot.waitSignal(panel.proposed, timeout=10_000):
        _click(qtbot, panel, 0, True)
    qtbot.waitUntil(lambda: window.grid_model.rowCount() == 3, timeout=5000)
    # Photos (in the sidebar) shows every photo again
    nav = window.sidebar.nav
    qtbot.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=nav.visualItemRect(nav.item(0)).center())
    qtbot.waitUntil(lambda: window.grid_model.rowCount() == 40, timeout=5000)
    assert window.grid_model.listing is None


def test_rename_merges_and_remove_never_touches_photos(window, qtbot, monkeypatch, indexed_home):
    _, folder = indexed_home
    before = tree_digest(folder)
    _name_two(window, qtbot, "dress", "frock")
    _name_two(window, qtbot, "shoes", "boots")
    names = window.sidebar.names
    qtbot.waitUntil(lambda: names.names() == {"boots": 2, "frock": 2}, timeout=5000)

    monkeypatch.setattr("gui.naming.QInputDialog.getText", lambda *a, **k: ("  dress  ", True))
    _trigger(names.context_menu("frock"), "Rename…")
    qtbot.waitUntil(lambda: names.names() == {"boots": 2, "dress": 2}, timeout=5000)
    monkeypatch.setattr("gui.naming.QInputDialog.getText", lambda *a, **k: ("dress", True))
    _trigger(names.context_menu("boots"), "Rename…")  # into an existing name: the two merge
    qtbot.waitUntil(lambda: names.names() == {"dress": 4}, timeout=5000)
    assert len(window.session.library.named_photos("dress")) == 4

    asked = []
    monkeypatch.setattr("gui.naming.QMessageBox.question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    _trigger(names.context_menu("dress"), "Remove…")
    qtbot.waitUntil(lambda: names.names() == {}, timeout=5000)
    assert "photos stay where they are" in asked[0]
    assert window.session.library.names() == [] and window.session.reader.photo_count() == 40
    assert not window.naming.panel.isVisible() and names.empty.isVisible()
    assert tree_digest(folder) == before


def _click(qtbot, panel, row: int, shows: bool) -> None:
    """One click on a proposal's ✓ (``shows``) or ✗."""
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=panel.list.button_rect(row, shows).center())


def _trigger(menu, text: str) -> None:
    next(a for a in menu.actions() if a.text() == text).trigger()


def test_more_like_this_reranks_the_similar_results(window, qtbot):
    panel = window.similar
    query = window.grid_model.photo(_rows(window, "shirt")[0])
    with qtbot.waitSignal(panel.searched, timeout=10_000):
        window.on_photo_activated(query)
    first = [n.photo.id for n in panel.model.neighbors()]
    assert len(first) >= 5
    liked = panel.model.neighbors()[3].photo
    panel.results.setCurrentIndex(panel.model.index(3))
    # the context menu of a result offers it
    from gui import actions

    menu = actions.photo_menu(window, liked, [liked], on_similar=lambda p: None, on_view=lambda p: None)
    window.naming.extend_menu(menu, panel, liked, [liked])
    assert {"More like this", "Not like this", "Name this photo…"} <= {a.text() for a in menu.actions()}
    with qtbot.waitSignal(panel.searched, timeout=10_000):
        _trigger(menu, "More like this")
    again = [n.photo.id for n in panel.model.neighbors()]
    assert panel.query()[0] == "refined" and liked.id not in again and query.id not in again
    assert again[:4] != [i for i in first if i != liked.id][:4]  # the rest changed order
    assert "1 more like this" in panel.query_caption.text()
    disliked = panel.model.neighbors()[0].photo
    with qtbot.waitSignal(panel.searched, timeout=10_000):
        panel.refine(disliked, more=False)
    assert disliked.id not in [n.photo.id for n in panel.model.neighbors()]
    with qtbot.waitSignal(panel.searched, timeout=10_000):
        panel.on_back()  # Back undoes one step
    assert [n.photo.id for n in panel.model.neighbors()] == again


def test_name_without_a_selection_says_what_to_do(window, qtbot):
    window.grid.selectionModel().clearSelection()
    window.naming.act_name.trigger()
    assert window.naming.dialog is None
    assert "Select one or a few photos first" in window.statusBar().currentMessage()
