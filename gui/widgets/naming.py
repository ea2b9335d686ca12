"""Words the user teaches (issue 23): the Name… dialog, the panel of proposals to confirm or reject, and the
sidebar's list of names. The window's wiring is ``gui.naming.Naming``.

Every answer is stored at once (``name_photos``) and the proposals are asked again, so each answer refines the
next ones. All engine calls run on the session's query worker, never on the GUI thread.
"""

from __future__ import annotations


from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QMenu,
    QPushButton, QToolButton, QVBoxLayout, QWidget,
)

from engine.types import Neighbor, Photo
from gui.errors import describe
from gui.resources import icon
from gui.widgets.proposals import ProposalsView
from gui.workers import if_alive

__all__ = ["PROPOSALS", "NameDialog", "NamesList", "ProposalsPanel"]

PROPOSALS = 24  # proposals shown at a time


def _plural(n: int, word: str = "photo") -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


class NameDialog(QDialog):
    """Asks what the selected photos show: a word or a name, with the names already taught offered as you type."""

    def __init__(self, count: int, names: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Name photos")
        what = "does this photo" if count == 1 else f"do these {count} photos"
        self.label = label = QLabel(f"What {what} show?\nA word or a name: tomato, Max, grandma's garden…")
        label.setWordWrap(True)
        self.edit = QLineEdit()
        self.edit.setMaxLength(100)
        self.edit.setAccessibleName("Name")
        self.edit.setPlaceholderText("tomato, Max, grandma's garden")
        completer = QCompleter(sorted(names, key=str.casefold), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.edit.setCompleter(completer)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Name")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.edit.textChanged.connect(self._update)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.edit)
        layout.addWidget(self.buttons)
        self._update()

    def name(self) -> str:
        return " ".join(self.edit.text().split())

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.name()))


class ProposalsPanel(QWidget):
    """The photos that may show a taught name, best first, each confirmed (✓, Y) or rejected (✗, N) in one go.

    Signals: changed(name) once an answer is stored; proposed(count) when the proposals are shown (also for
    tests); show_named(name): the user asked to see the name's photos; photo_opened(Photo); closed().
    """

    changed = Signal(str)
    proposed = Signal(int)
    show_named = Signal(str)
    photo_opened = Signal(object)
    closed = Signal()

    def __init__(self, session, loader, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self.name: str | None = None
        self._token = 0
        self._answered: set[int] = set()  # stored or on their way: never shown again for this name
        self.setMinimumWidth(300)
        self.title = QLabel("Name")
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        close = QToolButton()
        close.setIcon(icon("cancel"))
        close.setAutoRaise(True)
        close.setToolTip("Close (the answers are kept)")
        close.setAccessibleName("Close")
        close.clicked.connect(self.on_close)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(close)
        self.counts = QLabel()
        self.counts.setObjectName("muted")
        self.counts.setWordWrap(True)
        self.show_button = QPushButton("Show its photos")
        self.show_button.clicked.connect(lambda: self.name and self.show_named.emit(self.name))
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.list = ProposalsView(loader)
        self.list.setAccessibleName("Photos that may show it")
        self.list.answered.connect(self.answer)
        self.list.opened.connect(self.photo_opened)
        self.model = self.list.model_
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.counts)
        layout.addWidget(self.show_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.hint)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)

    # -- state ---------------------------------------------------------------------------------------
    def proposals(self) -> list[Photo]:
        """The photos proposed now, best first."""
        return self.model.photos()

    def current_photo(self) -> Photo | None:
        return self.list.current_photo()

    # -- asking --------------------------------------------------------------------------------------
    def start(self, name: str) -> None:
        """Show the proposals for ``name`` (a name with photos already)."""
        if self.name is None or name.casefold() != self.name.casefold():
            self._answered.clear()
            self.model.set_neighbors([])
        self.name = name
        self.title.setText(f"Photos that may show “{name}”")
        self.hint.setText(f"Does it show {name}? Answer with ✓ or ✗ (or Y / N on the selected photo); "
                          "each answer is kept at once and improves the next proposals.")
        self._ask(None, False)

    def answer(self, photo: Photo, shows: bool) -> None:
        """Store one answer now and refresh the proposals with it."""
        if self.name is None:
            return
        self._answered.add(int(photo.id))
        row = self.model.remove(int(photo.id))
        if row is not None and self.model.rowCount():
            self.list.setCurrentIndex(self.model.index(min(row, self.model.rowCount() - 1)))
        self._ask(photo, shows)

    def _ask(self, photo: Photo | None, shows: bool) -> None:
        self._token += 1
        token, name = self._token, self.name
        self.status.setText("Looking for photos that show it…" if photo is None else "Kept. Looking again…")
        worker = self.session.query(_store_and_propose, self.session, name,
                                    None if photo is None else int(photo.id), shows)
        worker.returned.connect(lambda res: self._on_proposals(token, name, photo is not None, res))
        worker.errored.connect(lambda exc: self._on_failed(token, exc))

    @if_alive
    def _on_proposals(self, token: int, name: str, stored: bool, result) -> None:
        if stored:
            self.changed.emit(name)
        if token != self._token:
            return
        info, proposals = result
        if info is not None:
            self.name = info.name
            rejected = f", {info.rejections:,} do not" if info.rejections else ""
            self.counts.setText(f"{_plural(info.examples)} show {info.name}{rejected}.")
            self.show_button.setText(f"Show its {_plural(info.examples)}")
        shown = [n for n in proposals if int(n.photo.id) not in self._answered][:PROPOSALS]
        self._fill(shown)
        self.status.setText(f"{_plural(len(shown))} that may show {self.name}, best first." if shown else
                            f"No other photo seems to show {self.name}.")
        self.proposed.emit(len(shown))

    @if_alive
    def _on_failed(self, token: int, exc: BaseException) -> None:
        if token == self._token:
            title, text, _ = describe(exc)
            self.status.setText(f"{title}: {text}")
            self.proposed.emit(-1)

    def _fill(self, neighbors: list[Neighbor]) -> None:
        keep = self.list.currentIndex().row()
        self.model.set_neighbors(neighbors)
        if neighbors:
            self.list.setCurrentIndex(self.model.index(max(0, min(keep, len(neighbors) - 1))))

    def on_close(self) -> None:
        self._token += 1
        self.closed.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.on_close()
            return
        super().keyPressEvent(event)


def _store_and_propose(session, name: str, photo_id: int | None, shows: bool):
    """On the query worker: store the answer (if any), then the name's counts and its proposals, best first."""
    if photo_id is not None:
        session.library.name_photos(name, [photo_id], shows)
    reader = session.reader
    info = next((n for n in reader.names() if n.name.casefold() == name.casefold()), None)
    return info, (reader.name_proposals(info.name, PROPOSALS + 8) if info is not None and info.examples else [])


class NamesList(QWidget):
    """The sidebar's names with their photo counts. Signals: name_selected(name) on a click; rename_requested,
    remove_requested and more_requested(name) from the right-click menu."""

    name_selected = Signal(str)
    rename_requested = Signal(str)
    remove_requested = Signal(str)
    more_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("NAMES")
        title.setObjectName("sectionTitle")
        self.list = QListWidget()
        self.list.setAccessibleName("Names")
        self.list.setIconSize(QSize(16, 16))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self.on_context_menu)
        self.list.itemClicked.connect(lambda item: self.name_selected.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.empty = QLabel("Select photos and choose Name… (N) to teach Simili what they show.")
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        self.set_names([])

    def set_names(self, infos) -> None:
        """The taught names (``engine.api.NameInfo``), by name; the selected one stays selected."""
        current = self.current()
        self.list.clear()
        for info in infos:
            item = QListWidgetItem(icon("search-words"), f"{info.name}  ({info.examples:,})")
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            rejected = f", {info.rejections:,} rejected" if info.rejections else ""
            item.setToolTip(f"{_plural(info.examples)} named {info.name}{rejected}.\n"
                            "Click to see them; right-click to rename or remove the name.")
            self.list.addItem(item)
            if current is not None and info.name.casefold() == current.casefold():
                self.list.setCurrentItem(item)
        self.list.setVisible(bool(infos))
        self.empty.setVisible(not infos)

    def names(self) -> dict[str, int]:
        """{name: photo count} as listed (for tests and the status line)."""
        out = {}
        for i in range(self.list.count()):
            item = self.list.item(i)
            out[item.data(Qt.ItemDataRole.UserRole)] = int(item.text().rsplit("(", 1)[1].rstrip(")").replace(",", ""))
        return out

    def current(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None and item.isSelected() else None

    def clear_selection(self) -> None:
        self.list.setCurrentItem(None)
        self.list.clearSelection()

    def context_menu(self, name: str) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Show its photos", lambda: self.name_selected.emit(name))
        menu.addAction("Find more photos of it", lambda: self.more_requested.emit(name))
        menu.addSeparator()
        menu.addAction("Rename…", lambda: self.rename_requested.emit(name))
        menu.addAction(icon("trash"), "Remove…", lambda: self.remove_requested.emit(name))
        return menu

    def on_context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            menu = self.context_menu(item.data(Qt.ItemDataRole.UserRole))
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.list.viewport().mapToGlobal(pos))
