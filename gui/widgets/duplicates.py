"""The Duplicates view: groups of near-identical photos; the user ticks what to keep, the rest goes to the trash."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QMessageBox, QPushButton, QStyledItemDelegate, QStyleOptionViewItem,
    QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.types import DuplicateGroup, DuplicateMember, Photo
from gui.itemmodels import PhotoRole, _human_size
from gui.resources import icon
from gui.thumbnails import ThumbnailLoader
from gui.widgets import page_header
from gui.workers import if_alive

__all__ = ["DuplicatesPanel"]

ROW = 72


class _ThumbDelegate(QStyledItemDelegate):
    """Column 0 of a photo row: checkbox, thumbnail (requested only when painted) and file name."""

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.loader = loader

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        if isinstance(index.data(PhotoRole), Photo):
            size.setHeight(ROW)
        return size

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        photo = index.data(PhotoRole)
        if not isinstance(photo, Photo) or not option.widget or not option.widget.isVisible():
            return
        edge = ROW - 8
        dpr = option.widget.devicePixelRatioF()
        image = self.loader.image(int(photo.id), photo.path, photo.mtime, int(edge * dpr), crop=True)
        pixmap = QPixmap.fromImage(image) if image is not None else _placeholder(edge, dpr, option.palette)
        pixmap.setDevicePixelRatio(dpr)
        option.icon = QIcon(pixmap)
        option.decorationSize = QSize(edge, edge)
        option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration


def _placeholder(edge: int, dpr: float, palette: QPalette) -> QPixmap:
    pixmap = QPixmap(int(edge * dpr), int(edge * dpr))
    pixmap.fill(palette.color(QPalette.ColorRole.AlternateBase))
    return pixmap


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

        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Keep", "How it differs", "Dimensions", "Size", "Folder"])
        self.tree.headerItem().setToolTip(0, DuplicateGroup.KEEP_RULE)
        self.tree.headerItem().setToolTip(1, "How each copy differs from the one ticked to keep")
        self.tree.setItemDelegateForColumn(0, _ThumbDelegate(loader, self.tree))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self.on_context_menu)
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
        self.tree.blockSignals(True)
        self.tree.clear()
        sure = [g for g in groups if g.sure]
        for n, group in enumerate(groups, 1):
            if group.sure:
                title = f"Group {n} · {len(group.members)} copies of one photo"
            else:
                title = (f"Maybe {n - len(sure)} · {len(group.members)} photos that look alike but may be different "
                         "shots: nothing is marked for the trash")
            head = QTreeWidgetItem([title, "", "", "", ""])
            head.setToolTip(0, DuplicateGroup.KEEP_RULE if group.sure else
                            "Simili is not sure these are copies of one photo. Compare them before you untick any.")
            head.setFirstColumnSpanned(True)
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            head.setData(0, PhotoRole, 0)  # never empty: see the WORKAROUND in gui.itemmodels
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            self.tree.addTopLevelItem(head)
            for member in group.members:
                head.addChild(self._photo_item(member, group.sure))
            head.setExpanded(True)
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
        item.setCheckState(0, Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)
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
        return [photo for group in self.groups() for photo, keep in group if not keep]

    def set_keep(self, photo_id: int, keep: bool) -> None:
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            for j in range(head.childCount()):
                item = head.child(j)
                if int(item.data(0, PhotoRole).id) == photo_id:
                    item.setCheckState(0, Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)

    def _update_buttons(self) -> None:
        n = len(self.to_trash())
        groups = sum(1 for i in range(self.tree.topLevelItemCount())
                     if not self.tree.topLevelItem(i).text(0).startswith("Maybe"))
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

    def on_context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        photo = item.data(0, PhotoRole) if item is not None else None
        if isinstance(photo, Photo):
            self.context_requested.emit(photo, self.tree.viewport().mapToGlobal(pos))

    def on_trash_clicked(self) -> None:
        photos = self.to_trash()
        if not photos:
            return
        if any(all(not keep for _, keep in g) for g in self.groups() if g):
            answer = QMessageBox.question(
                self, "Keep none of a group?",
                "In at least one group no photo is ticked, so every copy would go to the trash. Continue?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        if confirm_trash(self, photos):
            worker = self.session.move_to_trash([p.path for p in photos])
            worker.returned.connect(lambda n: self.summary.setText(f"Moved {n} photos to the trash."))
            worker.errored.connect(self.session.error.emit)
            gone = {int(p.id) for p in photos}
            self._remove_rows(gone)

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


def confirm_trash(parent: QWidget, photos: list[Photo]) -> bool:
    """Ask before moving files to the system trash (the only way Simili ever removes a file)."""
    total = sum(p.size or 0 for p in photos)
    names = "\n".join(Path(p.path).name for p in photos[:8]) + ("\n…" if len(photos) > 8 else "")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Move to trash")
    box.setText(f"<b>Move {len(photos)} photo{'s' if len(photos) != 1 else ''} "
                f"({_human_size(total)}) to the trash?</b>")
    box.setInformativeText("They go to the system trash, where you can restore them.\n\n" + names)
    ok = box.addButton("Move to trash", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    chosen = box.clickedButton() is ok
    box.deleteLater()  # not kept as a hidden child of the window until exit
    return chosen
