"""The main window's part for taught names (issue 23) and for "More like this" / "Not like this" on results.

``Naming(window)`` adds: the Name… action (N, and in the photo context menu), the proposals panel beside the grid
(in the similar panel's place while it is open), the sidebar's names (a click lists their photos in the grid;
right-click renames or removes one), and the re-ranking of similar photos. Every engine call runs on the
session's workers; changes of names never touch a photo file.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QInputDialog, QMenu, QMessageBox

from engine.types import Photo
from gui.errors import show_error
from gui.widgets.naming import NameDialog, ProposalsPanel
from gui.workers import if_alive

__all__ = ["Naming"]

PANEL_WIDTH = 440


class Naming(QObject):
    """Wires the names' widgets into ``window`` (a ``gui.mainwindow.MainWindow``)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.names_list = window.sidebar.names
        self.panel = ProposalsPanel(self.session, window.loader)
        self.panel.hide()
        self.wanted = False  # the proposals panel is open (shown while the photos page is)
        self.dialog: NameDialog | None = None
        self._names: list[str] = []
        window.splitter.addWidget(self.panel)
        window.splitter.setCollapsible(window.splitter.indexOf(self.panel), False)
        self._build_actions()
        self.panel.changed.connect(self.on_name_changed)
        self.panel.closed.connect(self.close_panel)
        self.panel.show_named.connect(self.show_named)
        self.panel.photo_opened.connect(window.on_open_viewer_direct)
        self.names_list.name_selected.connect(self.show_named)
        self.names_list.more_requested.connect(self.open_panel)
        self.names_list.rename_requested.connect(self.on_rename_requested)
        self.names_list.remove_requested.connect(self.on_remove_requested)
        window.sidebar.folder_selected.connect(lambda _f: self.names_list.clear_selection())
        window.sidebar.nav.itemClicked.connect(self._on_nav_clicked)
        self.session.library_changed.connect(self.refresh_names)
        self.refresh_names()

    def _build_actions(self) -> None:
        w = self.window
        self.act_name = self._action("Name photos…", "N", self.on_name_action,
                                     "Say what the selected photos show (a word or a name), then confirm the other "
                                     "photos that show it (N)")
        self.act_more = self._action("More like this", "+", lambda: self._refine_current(True),
                                     "Rank the results again, closer to this photo (+)")
        self.act_less = self._action("Not like this", "-", lambda: self._refine_current(False),
                                     "Rank the results again, away from this photo (-)")
        w.grid.addAction(self.act_name)
        for act in (self.act_name, self.act_more, self.act_less):
            w.similar.results.addAction(act)
        library = next((a.menu() for a in w.menuBar().actions() if a.text() == "&Library"), None)
        if library is not None:
            library.addSeparator()
            library.addAction(self.act_name)

    def _action(self, text: str, key: str, slot, tip: str) -> QAction:
        act = QAction(text, self.window)
        act.setShortcut(QKeySequence(key))
        act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # typing in a text box is typing
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.triggered.connect(slot)
        return act

    # -- the context menu and the actions ------------------------------------------------------------
    def extend_menu(self, menu: QMenu, view, photo: Photo, targets: list[Photo]) -> None:
        """Add Name… (and, on similar photos, More / Not like this) to a photo's context menu."""
        first_separator = next((a for a in menu.actions() if a.isSeparator()), None)
        label = "Name this photo…" if len(targets) == 1 else f"Name these {len(targets)} photos…"
        name = QAction(label, menu)
        name.setShortcut(self.act_name.shortcut())
        name.triggered.connect(lambda: self.ask(targets))
        menu.insertAction(first_separator, name)
        if view is self.window.similar and self.window.similar.can_refine():
            for text, more in (("More like this", True), ("Not like this", False)):
                act = QAction(text, menu)
                act.setShortcut(self.act_more.shortcut() if more else self.act_less.shortcut())
                act.triggered.connect(lambda _=False, m=more: self.window.similar.refine(photo, m))
                menu.insertAction(name, act)

    def selected_photos(self) -> list[Photo]:
        """The photos the Name… action is about: those selected in the view that has the focus (else the grid)."""
        results = self.window.similar.results
        focus = QApplication.focusWidget()
        views = (results, self.window.grid) if focus is results else (self.window.grid, results)
        for view in views:
            if view.isVisible() and view.selected_photos():
                return view.selected_photos()
        return []

    def on_name_action(self) -> None:
        photos = self.selected_photos()
        if photos:
            self.ask(photos)
        else:
            self.window.statusBar().showMessage("Select one or a few photos first, then choose Name… (N).", 5000)

    def _refine_current(self, more: bool) -> None:
        photo = self.window.similar.results.current_photo()
        if photo is not None:
            self.window.similar.refine(photo, more)

    # -- naming --------------------------------------------------------------------------------------
    def ask(self, photos: list[Photo]) -> NameDialog:
        """Ask what ``photos`` show (non-blocking); Name stores it and opens the proposals."""
        dialog = NameDialog(len(photos), self._names, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.name(photos, dialog.name()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def name(self, photos: list[Photo], name: str) -> None:
        """Store that ``photos`` show ``name``, then show the photos that may show it too."""
        if not name.strip() or not photos:
            return
        worker = self.session.query(self.session.library.name_photos, name, [int(p.id) for p in photos], True)
        worker.returned.connect(lambda n: self._on_named(name, n))
        worker.errored.connect(lambda exc: show_error(self.window, exc))

    @if_alive
    def _on_named(self, name: str, count: int) -> None:
        self.window.statusBar().showMessage(f"Named {count} photo{'s' if count != 1 else ''} “{name}”.", 5000)
        self.on_name_changed(name)
        self.open_panel(name)

    def on_name_changed(self, name: str) -> None:
        """A name's photos changed: its count in the sidebar, and the grid when it lists that name."""
        self.refresh_names()
        listing = self.window.grid_model.listing
        if listing is not None and listing[0].casefold() == name.casefold():
            self.window.grid_model.refresh()

    def refresh_names(self) -> None:
        worker = self.session.query(self.session.reader.names, pool="io")
        worker.returned.connect(self._on_names)

    @if_alive
    def _on_names(self, infos) -> None:
        self._names = [n.name for n in infos]
        self.names_list.set_names(infos)

    # -- the proposals panel -------------------------------------------------------------------------
    def open_panel(self, name: str) -> None:
        """Show the photos that may show ``name``, in the similar panel's place."""
        w = self.window
        self.wanted = True
        if w.current_page() != "photos" and self.session.folders():
            w.show_page("photos")
        self.update_visibility(w.current_page() == "photos")
        w.similar.hide()
        sizes = w.splitter.sizes()
        i = w.splitter.indexOf(self.panel)
        if sizes[i] < 300:
            total = sum(sizes)
            sizes = [sizes[0], max(total - sizes[0] - PANEL_WIDTH, 300)] + [0] * (len(sizes) - 2)
            sizes[i] = PANEL_WIDTH
            w.splitter.setSizes(sizes)
        self.panel.start(name)
        self.panel.list.setFocus()

    def close_panel(self) -> None:
        self.leave()
        self.window._update_similar_visibility()
        self.window.grid.setFocus()

    def leave(self) -> None:
        """Hide the proposals panel (the similar panel takes its place)."""
        self.wanted = False
        self.panel.hide()

    def update_visibility(self, photos_page: bool) -> bool:
        """Show the panel when it is open and the photos page is shown; returns whether it is shown."""
        self.panel.setVisible(self.wanted and photos_page)
        return self.wanted and photos_page

    # -- the sidebar's names -------------------------------------------------------------------------
    def show_named(self, name: str) -> None:
        """List the name's photos in the grid, with the proposals beside it."""
        w = self.window
        reader = self.session.reader
        w.grid_model.set_listing(name, lambda: reader.named_photos(name))
        w.photos_page.set_listing(f"“{name}”", f"named {name}")
        w.sidebar.folders.setCurrentItem(None)
        w.show_page("photos")
        self.open_panel(name)

    def _on_nav_clicked(self, item) -> None:
        if item.data(Qt.ItemDataRole.UserRole) == "photos" and self.window.grid_model.listing is not None:
            self.names_list.clear_selection()
            self.window.on_folder_selected("")

    def on_rename_requested(self, old: str) -> None:
        new, ok = QInputDialog.getText(self.window, "Rename name",
                                       f"New name for “{old}” (a name that exists already takes its photos):",
                                       text=old)
        if ok and " ".join(new.split()) and " ".join(new.split()) != old:
            self.rename(old, " ".join(new.split()))

    def rename(self, old: str, new: str) -> None:
        worker = self.session.query(self.session.library.rename_name, old, new)
        worker.returned.connect(lambda now: self._on_renamed(old, now))
        worker.errored.connect(lambda exc: show_error(self.window, exc))

    @if_alive
    def _on_renamed(self, old: str, now: str) -> None:
        self.refresh_names()
        listing = self.window.grid_model.listing
        if listing is not None and listing[0].casefold() == old.casefold():
            self.show_named(now)
        elif self.panel.name is not None and self.panel.name.casefold() == old.casefold() and self.wanted:
            self.panel.start(now)
        self.window.statusBar().showMessage(f"“{old}” is now “{now}”.", 5000)

    def on_remove_requested(self, name: str) -> None:
        answer = QMessageBox.question(
            self.window, "Remove name",
            f"Forget the name “{name}”?\n\nThe photos stay where they are; Simili only forgets that they show {name}.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(name)

    def remove(self, name: str) -> None:
        worker = self.session.query(self.session.library.remove_name, name)
        worker.returned.connect(lambda n: self._on_removed(name, n))
        worker.errored.connect(lambda exc: show_error(self.window, exc))

    @if_alive
    def _on_removed(self, name: str, count: int) -> None:
        self.refresh_names()
        if self.panel.name is not None and self.panel.name.casefold() == name.casefold():
            self.panel.name = None
            if self.wanted:
                self.close_panel()
        listing = self.window.grid_model.listing
        if listing is not None and listing[0].casefold() == name.casefold():
            self.window.on_folder_selected("")
        self.window.statusBar().showMessage(f"Forgot the name “{name}” ({count} photos; the photos are untouched).",
                                            5000)
