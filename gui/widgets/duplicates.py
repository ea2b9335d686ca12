"""The Duplicates view: groups of near-identical photos; the user ticks what to keep, the rest goes to the trash."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSizePolicy, QStyledItemDelegate,
    QStyleOptionViewItem, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.types import DuplicateGroup, DuplicateMember, Photo
from gui.itemmodels import PhotoRole, _human_size
from gui.resources import icon
from gui.thumbnails import ThumbnailLoader
from gui.widgets import page_header
from gui.widgets.thumbdelegate import ThumbDelegate
from gui.widgets.trashconfirm import TrashItem, confirm_trash, report_trashed, restore_hint, summary_text
from gui.workers import if_alive

__all__ = ["DuplicatesPanel"]


class _RowDelegate(ThumbDelegate):
    """Photo rows with their thumbnail; a group's heading row is drawn by its ``_GroupHeading`` widget."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        if not index.parent().isValid():
            option.text = ""


class _EndElided(QStyledItemDelegate):
    """Words cut at their end, not in their middle: "kept: the original, largest and least compressed copy" must not
    read "kept: the origin… compressed copy" (the tree elides file names and folders in the middle)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


class _ElidedLabel(QLabel):
    """One line that, when narrow, is cut at its end: a heading keeps its first words, which carry its meaning."""

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def shown_text(self) -> str:
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         self.shown_text())


NOT_COPIES_KEY = "Ctrl+K"  # "keep them all", on the group of the current photo


class _GroupHeading(QWidget):
    """A group's heading row: its title and the group's "Not copies" button (signal ``not_copies``)."""

    not_copies = Signal()

    def __init__(self, title: str, group: DuplicateGroup, parent: QWidget | None = None):
        super().__init__(parent)
        self.group = group
        self.label = _ElidedLabel(title)
        font = self.label.font()
        font.setBold(True)
        self.label.setFont(font)
        self.label.setToolTip(title)
        self.button = QPushButton("Not copies")
        self.button.setToolTip(
            ("These are different photos: keep them all. " if group.sure else
             "These shots are different photos: keep them all. ")
            + f"Simili remembers it and will not show them together here again ({NOT_COPIES_KEY}, on any photo of "
            "the group).")
        self.button.setAccessibleName(f"Not copies: {title}")
        self.button.clicked.connect(self.not_copies)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)


class _GroupTree(QTreeWidget):
    """The groups' tree: each heading widget spans the visible width of its row (Qt would fit it to column 0 only,
    which cuts the heading short), and stays in view when the tree scrolls sideways."""

    def updateEditorGeometries(self) -> None:
        if self.loading:  # Qt places every row widget again after each one is added: quadratic while loading
            return
        super().updateEditorGeometries()
        self._place_headings()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if dx:
            self._place_headings()

    loading = False  # set while the groups are added: one placement at the end, not one per group

    def _place_headings(self) -> None:
        if self.loading:
            return
        x = max(0, self.indentation() - self.horizontalOffset())  # after the group's expand arrow
        width = self.viewport().width() - x
        for i in range(self.topLevelItemCount()):
            head = self.topLevelItem(i)
            heading = self.itemWidget(head, 0)
            if heading is not None:
                rect = self.visualItemRect(head)
                heading.setGeometry(x, rect.y(), width, rect.height())


def _trash_item(group: DuplicateGroup, photo: Photo, stays: Photo | None) -> TrashItem:
    """A photo unticked in ``group``, with the copy that stays and how it differs from it (the engine's words when
    the copy that stays is the one the engine keeps)."""
    if not group.sure:
        return TrashItem(photo, stays, shot=True)
    member = next(m for m in group.members if int(m.photo.id) == int(photo.id))
    kept = group.members[0].photo
    if stays is not None and int(stays.id) == int(kept.id):
        how = ", ".join(member.differences)
    elif int(photo.id) == int(kept.id):
        how = "the copy Simili would keep (you ticked another)"
    else:
        how = "a copy of the same photo"
    return TrashItem(photo, stays, how)


class DuplicatesPanel(QWidget):
    """Signals: photo_opened(Photo), context_requested(Photo, QPoint), trash_requested(list of Photo)."""

    photo_opened = Signal(object)
    context_requested = Signal(object, QPoint)
    loaded = Signal(int)  # groups found
    progressed = Signal(int, object)  # (search token, engine.types.Progress), from the search's thread

    def __init__(self, session, loader: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self._token = 0
        self.last_report: QMessageBox | None = None  # what the last move to the trash said
        self._dismissed: set[frozenset[int]] = set()  # groups said "Not copies" (stored in the library too)
        self.refresh_button = QPushButton(icon("refresh"), "Find again")
        self.refresh_button.setToolTip("Search the library for duplicates again (F5)")
        self.refresh_button.clicked.connect(self.refresh)
        self.trash_button = QPushButton(icon("trash"), "Move unticked to trash…")
        self.trash_button.setToolTip("Photos without a tick go to the system trash, after you confirm. "
                                     "Nothing is deleted for good.")
        self.trash_button.clicked.connect(self.on_trash_clicked)
        head, self.summary = page_header(
            "Duplicates", "Copies of the same photo: resized, recompressed, recoloured, cropped, mirrored or "
            "straightened.",
            self.refresh_button, self.trash_button)

        self.tree = _GroupTree()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Keep", "How it differs", "Dimensions", "Size", "Folder"])
        self.tree.headerItem().setToolTip(0, DuplicateGroup.KEEP_RULE)
        self.tree.headerItem().setToolTip(1, "How each copy differs from the one ticked to keep")
        self.tree.setItemDelegateForColumn(0, _RowDelegate(loader, self.tree))
        self.tree.setItemDelegateForColumn(1, _EndElided(self.tree))  # "How it differs"
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self.on_context_menu)
        self.not_copies_action = QAction("Not copies: keep the whole group", self)
        self.not_copies_action.setShortcut(QKeySequence(NOT_COPIES_KEY))
        self.not_copies_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.not_copies_action.triggered.connect(lambda: self.not_copies_of(self.tree.currentItem()))
        self.addAction(self.not_copies_action)
        self.tree.itemDoubleClicked.connect(self.on_item_double_clicked)
        self.tree.itemChanged.connect(self.on_item_changed)
        self.progressed.connect(self._on_progress)
        self.tree.setAccessibleName("Duplicate groups")
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.header().resizeSection(0, 380)
        self.tree.header().resizeSection(1, 220)
        self.tree.header().resizeSection(2, 110)
        self.tree.header().resizeSection(3, 90)
        loader.ready.connect(lambda _key: self.tree.viewport().update())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 8)
        layout.addLayout(head)
        layout.addWidget(self.tree, 1)
        self._update_buttons()

    # -- loading -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._token += 1
        token = self._token
        self.summary.setText("Looking for duplicates…")
        worker = self.session.duplicates(progress=lambda step: self.progressed.emit(token, step))
        worker.returned.connect(lambda groups: self._on_groups(token, groups))
        worker.errored.connect(lambda exc: self._on_failed(token, exc))

    def _on_progress(self, token: int, step) -> None:
        if token == self._token and step.total:
            self.summary.setText(f"Looking for duplicates… {100 * step.done // step.total}% "
                                 f"({step.message or 'comparing photos'})")

    @if_alive
    def _on_failed(self, token: int, exc: BaseException) -> None:
        if token == self._token:
            from gui.errors import describe

            title, text, _ = describe(exc)
            self.summary.setText(f"{title}: {text}")

    @if_alive
    def _on_groups(self, token: int, groups: list[DuplicateGroup]) -> None:
        if token != self._token:
            return
        # a group said "Not copies" while this search ran may still be in its answer
        groups = [g for g in groups if frozenset(int(p.id) for p in g.photos) not in self._dismissed]
        self.tree.blockSignals(True)
        self.tree.loading = True
        self.tree.clear()
        sure = [g for g in groups if g.sure]
        for n, group in enumerate(groups, 1):
            # The meaning comes first: a narrow window cuts a heading at its end (issue 24).
            if group.sure:
                title = f"Group {n} · {len(group.members)} copies of one photo"
            else:
                title = (f"Similar shots {n - len(sure)} · {len(group.members)} photos of one scene, not copies: "
                         "none is marked for the trash")
            head = QTreeWidgetItem([title, "", "", "", ""])
            head.setToolTip(0, DuplicateGroup.KEEP_RULE if group.sure else
                            "Simili is not sure these are copies of one photo. Compare them before you untick any."
                            + (f" First: {group.suggestion}." if group.suggestion else ""))
            head.setFirstColumnSpanned(True)
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            head.setData(0, PhotoRole, 0)  # never empty: see the WORKAROUND in gui.itemmodels
            self.tree.addTopLevelItem(head)
            heading = _GroupHeading(title, group)
            heading.not_copies.connect(lambda ids=[int(p.id) for p in group.photos]: self.on_not_copies(ids))
            head.setSizeHint(0, QSize(-1, heading.sizeHint().height()))
            self.tree.setItemWidget(head, 0, heading)
            for member in group.members:
                head.addChild(self._photo_item(member, group.sure))
            head.setExpanded(True)
        self.tree.loading = False
        self.tree.updateEditorGeometries()
        self.tree.blockSignals(False)
        self._update_buttons()
        self.loaded.emit(len(groups))

    def _photo_item(self, member: DuplicateMember, sure: bool) -> QTreeWidgetItem:
        photo, keep = member.photo, member.keep
        p = Path(photo.path)
        dims = f"{photo.width} × {photo.height}" if photo.width and photo.height else ""
        how = ("kept: the original, largest and least compressed copy" if keep and sure and not member.differences
               else ", ".join(member.differences))
        item = QTreeWidgetItem([p.name, how, dims, _human_size(photo.size) if photo.size else "", str(p.parent)])
        item.setToolTip(1, DuplicateGroup.KEEP_RULE if keep and sure else how)
        item.setData(0, PhotoRole, photo)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable)
        # similar shots are never marked for the trash, whatever comes in: only the user unticks one
        item.setCheckState(0, Qt.CheckState.Checked if keep or not sure else Qt.CheckState.Unchecked)
        item.setToolTip(0, f"{photo.path}\nTicked photos are kept; the others can go to the trash.")
        item.setToolTip(4, str(p.parent))
        return item

    # -- state ---------------------------------------------------------------------------------------
    def groups(self) -> list[list[tuple[Photo, bool]]]:
        """Each group's photos with their tick (kept or not), in the order shown."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            out.append([(head.child(j).data(0, PhotoRole), head.child(j).checkState(0) == Qt.CheckState.Checked)
                        for j in range(head.childCount())])
        return out

    def to_trash(self) -> list[Photo]:
        return [item.photo for item in self.trash_items()]

    def heading(self, i: int) -> _GroupHeading:
        """The heading widget of the ``i``-th group shown (its title, group and "Not copies" button)."""
        return self.tree.itemWidget(self.tree.topLevelItem(i), 0)

    def trash_items(self) -> list[TrashItem]:
        """The unticked photos, each with the copy of its group that stays: the one the engine keeps when it is
        ticked, else the first ticked one (none when the user unticked the whole group)."""
        out = []
        for i, group in enumerate(self.groups()):
            engine_group = self.heading(i).group
            ticked = [photo for photo, keep in group if keep]
            kept = engine_group.members[0].photo
            stays = next((p for p in ticked if int(p.id) == int(kept.id)), ticked[0] if ticked else None)
            out += [_trash_item(engine_group, photo, stays) for photo, keep in group if not keep]
        return out

    def set_keep(self, photo_id: int, keep: bool) -> None:
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            for j in range(head.childCount()):
                item = head.child(j)
                if int(item.data(0, PhotoRole).id) == photo_id:
                    item.setCheckState(0, Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)

    def _update_buttons(self) -> None:
        n = len(self.to_trash())
        groups = sum(1 for i in range(self.tree.topLevelItemCount()) if self.heading(i).group.sure)
        self.trash_button.setEnabled(n > 0)
        self.trash_button.setText(f"Move {n} unticked to trash…" if n else "Move unticked to trash…")
        maybe = self.tree.topLevelItemCount() - groups
        also = f" {maybe} more group{'s' if maybe != 1 else ''} may be different shots: check them yourself." \
            if maybe else ""
        if groups:
            self.summary.setText(f"{groups} group{'s' if groups != 1 else ''} of copies. The copy to keep is ticked "
                                 f"(hover it to see why); {n} photo{'s' if n != 1 else ''} would go to the trash."
                                 + also)
        elif maybe:
            self.summary.setText("No sure copies." + also)
        elif self._token:
            self.summary.setText("No duplicates found. 🎉")

    # -- slots ---------------------------------------------------------------------------------------
    def on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self._update_buttons()

    def on_item_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        photo = item.data(0, PhotoRole)
        if isinstance(photo, Photo):
            self.photo_opened.emit(photo)

    def group_index(self, item: QTreeWidgetItem | None) -> int | None:
        """The position of the group an item (its heading or one of its photos) belongs to."""
        if item is None:
            return None
        head = item.parent() or item
        i = self.tree.indexOfTopLevelItem(head)
        return i if i >= 0 else None

    def not_copies_of(self, item: QTreeWidgetItem | None) -> None:
        """"Not copies" on the group of ``item`` (the shortcut and the context menu)."""
        i = self.group_index(item)
        if i is not None:
            self.on_not_copies([int(p.id) for p in self.heading(i).group.photos])

    def extend_menu(self, menu, photo: Photo) -> None:
        """Add the group's "Not copies" to a photo's context menu (the window builds the rest)."""
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            if any(int(head.child(j).data(0, PhotoRole).id) == int(photo.id) for j in range(head.childCount())):
                menu.addSeparator()
                act = menu.addAction(self.not_copies_action.text(), lambda item=head: self.not_copies_of(item))
                act.setShortcut(self.not_copies_action.shortcut())
                return

    def on_context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        photo = item.data(0, PhotoRole) if item is not None else None
        if isinstance(photo, Photo):
            self.context_requested.emit(photo, self.tree.viewport().mapToGlobal(pos))

    def on_trash_clicked(self) -> None:
        items = self.trash_items()
        if not items:
            return
        if any(all(not keep for _, keep in g) for g in self.groups() if g):
            answer = QMessageBox.question(
                self, "Keep none of a group?",
                "In at least one group no photo is ticked, so every copy would go to the trash. Continue?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        if confirm_trash(self, items, self.loader):
            self.trash_button.setEnabled(False)
            worker = self.session.move_to_trash([item.photo for item in items])
            worker.returned.connect(lambda result: self._on_trashed(items, *result))
            worker.errored.connect(self.session.error.emit)
            worker.errored.connect(lambda _exc: self._update_buttons())

    @if_alive
    def _on_trashed(self, items: list[TrashItem], moved: list[str], failed: list) -> None:
        gone = set(moved)
        self._remove_rows({int(item.photo.id) for item in items if item.photo.path in gone})
        self.summary.setText(summary_text(moved, failed) + (" " + restore_hint() if moved else ""))
        self.last_report = report_trashed(self, moved, failed)

    def on_not_copies(self, ids: list[int]) -> None:
        """"Not copies": remember (in the library, off this thread) that the group's photos are different photos,
        then take the group away; it does not come back on the next search."""
        head = self._head_of(ids)
        if head is not None:
            self.tree.itemWidget(head, 0).button.setEnabled(False)
        worker = self.session.query(self.session.reader.not_copies, list(ids), pool="io")
        worker.returned.connect(lambda _pairs: self._on_not_copies(ids))
        worker.errored.connect(lambda exc: self._on_not_copies_failed(ids, exc))

    @if_alive
    def _on_not_copies(self, ids: list[int]) -> None:
        self._dismissed.add(frozenset(ids))
        head = self._head_of(ids)
        if head is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(head))
        self._update_buttons()
        self.summary.setText(f"Kept all {len(ids)}: Simili will not show them as copies again. "
                             + self.summary.text())
        self.loaded.emit(self.tree.topLevelItemCount())  # the sidebar's count, remembered

    @if_alive
    def _on_not_copies_failed(self, ids: list[int], exc: BaseException) -> None:
        head = self._head_of(ids)
        if head is not None:
            self.tree.itemWidget(head, 0).button.setEnabled(True)
        self.session.error.emit(exc)

    def _head_of(self, ids: list[int]) -> QTreeWidgetItem | None:
        """The heading of the group shown with exactly these photos, if it is still shown."""
        wanted = set(ids)
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            if {int(head.child(j).data(0, PhotoRole).id) for j in range(head.childCount())} == wanted:
                return head
        return None

    def _remove_rows(self, ids: set[int]) -> None:
        self.tree.blockSignals(True)
        for i in reversed(range(self.tree.topLevelItemCount())):
            head = self.tree.topLevelItem(i)
            for j in reversed(range(head.childCount())):
                if int(head.child(j).data(0, PhotoRole).id) in ids:
                    head.removeChild(head.child(j))
            if head.childCount() < 2:
                self.tree.takeTopLevelItem(i)
        self.tree.blockSignals(False)
        self._update_buttons()
