"""The sidebar: the views (Photos, Duplicates, Problems), the library's folders with add/remove buttons, and the
names the user taught (``gui.widgets.naming.NamesList``)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QToolButton, QVBoxLayout, QWidget,
)

from gui.pathlabels import short_names
from gui.resources import icon
from gui.widgets.naming import NamesList

__all__ = ["Sidebar", "PAGES"]

PAGES = (("photos", "Photos", "All photos in the library"),
         ("duplicates", "Duplicates", "Groups of near-identical photos"),
         ("problems", "Problems", "Files that could not be read"))


class Sidebar(QWidget):
    """Signals: page_selected(name), folder_selected(path or ""), add_folder_requested(), remove_folder_requested(path).

    Clicking a folder shows only its photos (``folder_selected(path)``); clicking Photos shows all again
    (``folder_selected("")``).
    """

    page_selected = Signal(str)
    folder_selected = Signal(str)
    add_folder_requested = Signal()
    remove_folder_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(190)
        self.nav = QListWidget()
        self.nav.setIconSize(QSize(18, 18))
        self.nav.setAccessibleName("Views")
        for name, label, tip in PAGES:
            item = QListWidgetItem(icon(name), label)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(tip)
            self.nav.addItem(item)
        self.nav.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setFixedHeight((self.fontMetrics().height() + 18) * len(PAGES) + 6)
        self.nav.currentItemChanged.connect(self.on_nav_changed)

        title = QLabel("FOLDERS")
        title.setObjectName("sectionTitle")
        self.add_button = QToolButton()
        self.add_button.setIcon(icon("folder-add"))
        self.add_button.setToolTip("Add a photo folder (Ctrl+O)")
        self.add_button.setAccessibleName("Add photo folder")
        self.add_button.clicked.connect(self.add_folder_requested)
        self.remove_button = QToolButton()
        self.remove_button.setIcon(icon("folder-remove"))
        self.remove_button.setToolTip("Remove the selected folder from the library (the files stay where they are)")
        self.remove_button.setAccessibleName("Remove folder")
        self.remove_button.clicked.connect(self.on_remove_clicked)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.add_button)
        head.addWidget(self.remove_button)

        self.folders = QListWidget()
        self.folders.setIconSize(QSize(16, 16))
        self.folders.setAccessibleName("Folders")
        self.folders.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.folders.itemSelectionChanged.connect(self._update_buttons)
        self.folders.itemClicked.connect(lambda item: self.folder_selected.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.nav.itemClicked.connect(self.on_nav_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(6)
        layout.addWidget(self.nav)
        layout.addSpacing(12)
        layout.addLayout(head)
        layout.addWidget(self.folders, 1)
        layout.addSpacing(8)
        self.names = NamesList()
        layout.addWidget(self.names, 1)
        self._update_buttons()
        self.names_of: dict[str, str] = {}  # each folder's short name, as listed

    def select_page(self, name: str) -> None:
        for i in range(self.nav.count()):
            if self.nav.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.nav.setCurrentRow(i)

    def set_count(self, page: str, count: int | None) -> None:
        for i in range(self.nav.count()):
            item = self.nav.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == page:
                label = dict((n, lab) for n, lab, _ in PAGES)[page]
                item.setText(label if not count else f"{label}  ({count:,})")

    def set_folders(self, folders: list[str], offline: list[str] | tuple[str, ...] = ()) -> None:
        """The library folders; an offline one (its drive unplugged, its share unmounted) is shown greyed and says so."""
        self.folders.clear()
        self.names_of = names = short_names(list(folders))  # "shop/images" and "home/images", not "images" twice
        for path in folders:
            away = path in offline
            item = QListWidgetItem(icon("folder"), names[path] + (" (offline)" if away else ""))
            item.setToolTip(f"{path}\nOffline: not connected, or empty where it had photos. Its photos are kept "
                            "and nothing is read again when it is back." if away else path)
            if away:
                item.setForeground(self.palette().placeholderText())
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.folders.addItem(item)
        self._update_buttons()

    def on_nav_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.page_selected.emit(current.data(Qt.ItemDataRole.UserRole))

    def on_nav_clicked(self, item: QListWidgetItem) -> None:
        if item.data(Qt.ItemDataRole.UserRole) == "photos" and self.folders.currentItem() is not None:
            self.folders.setCurrentItem(None)
            self.folder_selected.emit("")

    def on_remove_clicked(self) -> None:
        item = self.folders.currentItem()
        if item is not None:
            self.remove_folder_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.folders.currentItem() is not None)
