"""Words the user teaches (issue 23): the Name… dialog, the panel of proposals to confirm or reject, and the
sidebar's list of names. The window's wiring is ``gui.naming.Naming``.

Every answer is stored at once (``name_photos``) and the proposals are asked again, so each answer refines the
next ones. All engine calls run on the session's query worker, never on the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCompleter, QDialog, QDialogButtonBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
    QMenu, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from engine.types import Neighbor, Photo
from gui.errors import describe
from gui.itemmodels import photo_tooltip
from gui.resources import icon
from gui.workers import if_alive

__all__ = ["PROPOSALS", "NameDialog", "NamesList", "ProposalsPanel"]

PROPOSALS = 24  # proposals shown at a time
THUMB = 72


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


class _Row(QFrame):
    """One proposal: its thumbnail, file name and match, and the ✓ / ✗ buttons."""

    def __init__(self, neighbor: Neighbor, name: str, panel: ProposalsPanel):
        super().__init__()
        self.photo = neighbor.photo
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.file = _Elided(Path(self.photo.path).name)
        match = QLabel("" if neighbor.similarity is None else f"{neighbor.similarity:.0f}% match")
        match.setObjectName("muted")
        texts = QVBoxLayout()
        texts.addStretch(1)
        texts.addWidget(self.file)
        texts.addWidget(match)
        texts.addStretch(1)
        self.setToolTip(photo_tooltip(self.photo))
        self.yes = self._button("✓", "#2e9d50", f"Yes, it shows {name} (Y)", lambda: panel.answer(self.photo, True))
        self.no = self._button("✗", "#d0453b", f"No, it does not show {name} (N)",
                               lambda: panel.answer(self.photo, False))
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 3, 4, 3)
        row.addWidget(self.thumb)
        row.addLayout(texts, 1)
        row.addWidget(self.yes)
        row.addWidget(self.no)

    @staticmethod
    def _button(text: str, color: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setAccessibleName(tip)
        b.setFixedSize(38, 38)
        b.setStyleSheet(f"QToolButton {{ color: {color}; font-size: 18px; font-weight: bold; }}")
        b.setCursor(Qt.CursorShape.PointingHandCursor)
        b.clicked.connect(slot)
        return b


class _Elided(QLabel):
    """One line of text, shortened in the middle to the room it gets (long file names)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.full = text
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def resizeEvent(self, event) -> None:
        self.setText(self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideMiddle, self.width()))
        super().resizeEvent(event)


class _List(QListWidget):
    """Y / N answer the current proposal; Enter or Space opens it in the viewer."""

    def __init__(self, panel: ProposalsPanel):
        super().__init__()
        self.panel = panel

    def keyPressEvent(self, event) -> None:
        photo = self.panel.current_photo()
        key = event.key()
        if photo is not None and key in (Qt.Key.Key_Y, Qt.Key.Key_N) and not event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            self.panel.answer(photo, key == Qt.Key.Key_Y)
            return
        if photo is not None and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.panel.photo_opened.emit(photo)
            return
        super().keyPressEvent(event)


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
        self._thumbs: dict[tuple, QLabel] = {}
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
        self.list = _List(self)
        self.list.setAccessibleName("Photos that may show it")
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.itemDoubleClicked.connect(lambda item: self.photo_opened.emit(item.data(Qt.ItemDataRole.UserRole)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.counts)
        layout.addWidget(self.show_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.hint)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        loader.ready.connect(self.on_thumbnail_ready)

    # -- state ---------------------------------------------------------------------------------------
    def proposals(self) -> list[Photo]:
        """The photos proposed now, best first."""
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def current_photo(self) -> Photo | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def row_widget(self, row: int) -> _Row | None:
        item = self.list.item(row)
        return self.list.itemWidget(item) if item is not None else None

    # -- asking --------------------------------------------------------------------------------------
    def start(self, name: str) -> None:
        """Show the proposals for ``name`` (a name with photos already)."""
        if self.name is None or name.casefold() != self.name.casefold():
            self._answered.clear()
            self.list.clear()
            self._thumbs.clear()
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
        row = next((i for i in range(self.list.count())
                    if self.list.item(i).data(Qt.ItemDataRole.UserRole).id == photo.id), None)
        if row is not None:
            self.list.takeItem(row)
            self.list.setCurrentRow(min(row, self.list.count() - 1))
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
        keep = self.list.currentRow()
        self.list.clear()
        self._thumbs.clear()
        edge = int(THUMB * self.devicePixelRatioF())
        for n in neighbors:
            row = _Row(n, self.name or "", self)
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, n.photo)
            item.setSizeHint(QSize(200, THUMB + 8))
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
            key = (int(n.photo.id), edge, True)
            self._thumbs[key] = row.thumb
            self._set_thumb(key, self.loader.image(int(n.photo.id), n.photo.path, n.photo.mtime, edge, crop=True,
                                                   radius=6.0))
        if neighbors:
            self.list.setCurrentRow(max(0, min(keep, len(neighbors) - 1)))

    def _set_thumb(self, key, image) -> None:
        label = self._thumbs.get(key)
        if label is not None and image is not None:
            pix = QPixmap.fromImage(image)
            pix.setDevicePixelRatio(self.devicePixelRatioF())
            label.setPixmap(pix)

    def on_thumbnail_ready(self, key) -> None:
        if key in self._thumbs:
            pid, edge, _ = key
            photo = next((p for p in self.proposals() if int(p.id) == pid), None)
            if photo is not None:
                self._set_thumb(key, self.loader.image(pid, photo.path, photo.mtime, edge, crop=True, radius=6.0))

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
