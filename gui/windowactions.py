"""The main window's actions, toolbar and menus (a part of ``gui.mainwindow.MainWindow``)."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLineEdit, QSizePolicy, QWidget

from gui.resources import icon
from gui.widgets.toolbar import FittingToolBar

__all__ = ["WindowActions"]


class WindowActions:
    """Builds the actions (with their shortcuts and tips), the toolbar with the word-search box, and the menus.

    Mixed into ``MainWindow``, whose slots (``on_add_folder``, ``show_page``, ...) the actions trigger.
    """

    def _action(self, icon_name: str | None, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(icon(icon_name), text, self) if icon_name else QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or text.replace("…", ""))
        act.setStatusTip(tip or text.replace("…", ""))
        act.triggered.connect(slot)
        return act

    def _build_actions(self) -> None:
        k = QKeySequence.StandardKey
        self.act_add = self._action("folder-add", "Add photo folder…", self.on_add_folder, k.Open,
                                    "Add a folder of photos to the library (Ctrl+O)")
        self.act_search = self._action("search-image", "Search by image…", self.on_search_by_image, "Ctrl+F",
                                       "Find photos similar to any image file (Ctrl+F), or drop one on the window")
        self.act_words = self._action("search-words", "Search by words", self.focus_word_search, "Ctrl+L",
                                      "Type what the photos show: dog, shoes, fruit, red car (Ctrl+L)")
        self.act_paste = self._action("paste", "Search by pasted image", self.on_paste, k.Paste,
                                      "Search with the image or file on the clipboard (Ctrl+V)")
        self.act_rescan = self._action("refresh", "Rescan folders", self.session.start_index, "F5",
                                       "Look for new, changed and removed photos (F5)")
        self.act_train = self._action("train", "Learn from my photos", lambda: self.session.start_training(),
                                      None, "Learn what makes your photos alike, so searches find closer matches "
                                      "(runs in the background)")
        self.act_pause = self._action("pause", "Pause learning", self.on_pause, None,
                                      "Stop learning for now; it resumes from where it stopped next time")
        self.act_cancel = self._action("cancel", "Cancel", self.session.cancel, None, "Stop the running job")
        self.act_settings = self._action("settings", "Settings…", self.on_settings, k.Preferences,
                                         "How similar photos must be, duplicates, learning, folders (Ctrl+,)")
        if not self.act_settings.shortcut().toString():
            self.act_settings.setShortcut(QKeySequence("Ctrl+,"))
        self.act_quit = self._action(None, "Quit", self.close, k.Quit)
        self.act_pages = [self._action(name, label, lambda _=False, n=name: self.show_page(n), f"Ctrl+{i}")
                          for i, (name, label) in enumerate((("photos", "Photos"), ("duplicates", "Duplicates"),
                                                              ("problems", "Problems")), 1)]
        self.act_back = self._action("back", "Previous search", lambda: self.similar.on_back(), "Alt+Left",
                                     "Go back to the previous similar-photos search (Alt+Left)")
        self.act_close_similar = self._action(None, "Close similar photos", self.on_escape, "Esc",
                                              "Close the similar photos panel (Esc)")
        self.act_zoom_in = self._action(None, "Larger thumbnails", lambda: self.zoom(24), k.ZoomIn)
        self.act_zoom_out = self._action(None, "Smaller thumbnails", lambda: self.zoom(-24), k.ZoomOut)

        bar = FittingToolBar("Main")  # a narrow window shows icons only, never hides a button (issue 24)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(20, 20))
        for act in (self.act_add, self.act_search, self.act_rescan, self.act_train):
            bar.addAction(act)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.word_box = QLineEdit()
        self.word_box.setObjectName("wordSearch")
        self.word_box.setPlaceholderText("Search by words: dog, shoes…")
        self.word_box.setClearButtonEnabled(True)
        self.word_box.setMaxLength(200)
        self.word_box.addAction(icon("search-words"), QLineEdit.ActionPosition.LeadingPosition)
        self.word_box.setToolTip(self.act_words.toolTip())
        self.word_box.setAccessibleName("Search by words")
        self.word_box.setMinimumWidth(120)
        self.word_box.setMaximumWidth(260)
        self.word_box.returnPressed.connect(self.on_word_search)
        bar.addWidget(self.word_box)
        bar.addAction(self.act_settings)
        bar.compact_order = [self.act_settings, self.act_rescan, self.act_train, self.act_search, self.act_add]
        self.toolbar = bar
        self.addToolBar(bar)

        menu = self.menuBar()
        m = menu.addMenu("&File")
        for act in (self.act_add, self.act_search, self.act_paste, self.act_words, None, self.act_rescan, None,
                    self.act_settings,
                    None, self.act_quit):
            m.addSeparator() if act is None else m.addAction(act)
        m = menu.addMenu("&View")
        for act in self.act_pages + [None, self.act_back, self.act_close_similar, None, self.act_zoom_in,
                                     self.act_zoom_out]:
            m.addSeparator() if act is None else m.addAction(act)
        m = menu.addMenu("&Library")
        for act in (self.act_train, self.act_pause, self.act_cancel):
            m.addAction(act)
        from gui.widgets.help import build_help_menu

        self.act_shortcuts, self.act_how = build_help_menu(self, menu.addMenu("&Help"), str(self.session.home))
