"""The Problems view: every file that could not be indexed, with the reason (``library.failures()``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.types import FileError
from gui.actions import copy_path, reveal_in_file_manager
from gui.resources import icon
from gui.widgets import page_header
from gui.workers import if_alive

__all__ = ["ProblemsPanel"]

REASONS = {
    "empty": "Empty file", "truncated": "Truncated", "not_image": "Not an image", "too_large": "Too large",
    "permission": "Permission denied", "broken_link": "Broken link", "unsupported": "Unsupported format",
    "io": "Read error", "timeout": "Timed out", "corrupt": "Damaged",
}


class ProblemsPanel(QWidget):
    """Signals: counted(int) after each refresh."""

    counted = Signal(int)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._token = 0
        self.copy_button = QPushButton(icon("copy"), "Copy list")
        self.copy_button.setToolTip("Copy every path and reason to the clipboard")
        self.copy_button.clicked.connect(self.on_copy)
        self.reveal_button = QPushButton(icon("reveal"), "Show in file manager")
        self.reveal_button.clicked.connect(self.on_reveal)
        head, self.summary = page_header("Problems", "", self.reveal_button, self.copy_button)
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels(["File", "Reason", "Details", "Folder"])
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.setAccessibleName("Files that could not be read")
        self.table.header().resizeSection(0, 260)
        self.table.header().resizeSection(1, 140)
        self.table.header().resizeSection(2, 320)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 8)
        layout.addLayout(head)
        layout.addWidget(self.table, 1)
        self._failures: list[FileError] = []
        self._update_buttons()

    def refresh(self) -> None:
        self._token += 1
        token = self._token
        worker = self.session.failures()
        worker.returned.connect(lambda rows: self._on_failures(token, rows))
        worker.errored.connect(self.session.error.emit)

    @if_alive
    def _on_failures(self, token: int, rows: list[FileError]) -> None:
        if token != self._token:
            return
        self._failures = list(rows)
        self.table.setSortingEnabled(False)
        self.table.clear()
        for f in rows:
            p = Path(f.path)
            item = QTreeWidgetItem([p.name, REASONS.get(f.code, f.code), f.message, str(p.parent)])
            item.setToolTip(0, f.path)
            item.setToolTip(2, f.message)
            item.setData(0, Qt.ItemDataRole.UserRole, f.path)
            item.setIcon(0, icon("problems"))
            self.table.addTopLevelItem(item)
        self.table.setSortingEnabled(True)
        n = len(rows)
        self.summary.setText(f"{n} file{'s' if n != 1 else ''} could not be read. They are left out of searches; "
                             "fix or remove them and rescan (F5)." if n else "Every file could be read.")
        self._update_buttons()
        self.counted.emit(n)

    def _selected_paths(self) -> list[str]:
        return [i.data(0, Qt.ItemDataRole.UserRole) for i in self.table.selectedItems()]

    def _update_buttons(self) -> None:
        self.copy_button.setEnabled(bool(self._failures))
        self.reveal_button.setEnabled(len(self._selected_paths()) == 1)

    def on_copy(self) -> None:
        rows = self._failures
        copy_path([f"{f.path}\t{f.code}\t{f.message}" for f in rows])

    def on_reveal(self) -> None:
        paths = self._selected_paths()
        if paths:
            reveal_in_file_manager(paths[0])
