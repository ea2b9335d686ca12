"""Moving photos to the system trash: the confirmation that shows them, and what the app says afterwards.

The confirmation lists exactly the photos that will go, each beside the copy that stays, with how they differ
(the engine's words, then each one's pixel size and file size), so nobody sends the wrong copy to the trash by
reading file names. Cancel is the default button and Escape cancels. Afterwards one short message says where the
photos went (the Trash, or the Recycle Bin on Windows), how to get them back, and which files could not be moved
and why.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QMessageBox, QPushButton, QTreeWidget,
    QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.types import Photo
from gui.itemmodels import PhotoRole, _human_size
from gui.thumbnails import ThumbnailLoader
from gui.widgets.thumbdelegate import ThumbDelegate

__all__ = ["TrashItem", "TrashConfirmDialog", "confirm_trash", "trash_name", "restore_hint", "report_trashed",
           "photo_facts"]

ROW = 104  # thumbnails of 96 px: big enough to see that two photos are one


@dataclass(frozen=True)
class TrashItem:
    """One photo that would go to the trash.

    Attributes:
        photo: the photo that goes.
        kept: the copy of it that stays, or None when no copy of it stays.
        how: how it differs from the kept copy, in the engine's words (``DuplicateMember.differences``).
        shot: a similar shot, not a copy: the user chose it for the trash themselves.
    """

    photo: Photo
    kept: Photo | None = None
    how: str = ""
    shot: bool = False


def trash_name(platform: str | None = None) -> str:
    """What the system trash is called where Simili runs: "Recycle Bin" on Windows, "Trash" elsewhere."""
    return "Recycle Bin" if (platform or sys.platform).startswith("win") else "Trash"


def restore_hint(platform: str | None = None) -> str:
    """How to get trashed photos back, in the words of the system's file manager."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return "To get them back, open the Recycle Bin, select them and choose Restore."
    if platform == "darwin":
        return "To get them back, open the Trash in the Dock, select them and choose Put Back."
    return "To get them back, open the Trash in your file manager, select them and choose Restore."


def photo_facts(photo: Photo | None) -> str:
    """Pixel size and file size, e.g. "1200×800, 302.7 KB" (what is known of them)."""
    if photo is None:
        return ""
    facts = []
    if photo.width and photo.height:
        facts.append(f"{photo.width}×{photo.height}")
    if photo.size:
        facts.append(_human_size(photo.size))
    return ", ".join(facts) or "size unknown"


def _plural(n: int, word: str = "photo") -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def difference_text(item: TrashItem) -> str:
    """The row's last column: how the photo differs from the kept copy, then both sizes."""
    if item.shot:
        how = "another shot, not a copy (you chose to remove it)"
    else:
        how = item.how or ("a copy of the photo that stays" if item.kept is not None else "")
    if item.kept is None:
        sizes = f"{photo_facts(item.photo)}; no copy of it stays"
    else:
        sizes = f"{photo_facts(item.photo)} → kept {photo_facts(item.kept)}"
    return f"{how}\n{sizes}" if how else sizes


class TrashConfirmDialog(QDialog):
    """Asks before photos go to the system trash, showing each beside the copy that stays.

    Args:
        items: the photos that would go, each with the copy that stays (``TrashItem``).
        loader: the window's thumbnail loader.
    """

    def __init__(self, items: list[TrashItem], loader: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.items = list(items)
        self.loader = loader
        trash = trash_name()
        n = len(self.items)
        total = sum(item.photo.size or 0 for item in self.items)
        self.setWindowTitle(f"Move to the {trash}")
        self.setModal(True)
        heading = QLabel(f"<b>Move {_plural(n)} ({_human_size(total)}) to the {trash}?</b>")
        heading.setTextFormat(Qt.TextFormat.RichText)
        alone = sum(item.kept is None for item in self.items)
        self.plain = alone == n  # from the grid: no copy involved, so no "Stays" column to show "none" in
        lines = [f"Each photo goes to the system {trash}, where you can restore it."] if self.plain else [
            f"Each photo on the left goes to the system {trash}, where you can restore it. "
            "The photo beside it stays where it is."]
        if self.plain:
            lines.append("⚠ Simili keeps no other copy of " + ("it" if n == 1 else "them") + ": make sure you mean it.")
        elif alone:
            lines.append(f"⚠ {_plural(alone)} {'has' if alone == 1 else 'have'} no copy that stays: "
                         "make sure you mean it.")
        pairs = sum(bool(item.photo.companion) for item in self.items)
        if pairs:
            lines.append(f"{_plural(pairs, 'RAW photo')} {'goes' if pairs == 1 else 'go'} with the JPEG the camera "
                         f"saved beside {'it' if pairs == 1 else 'them'} (one photo, two files).")
        shots = sum(item.shot for item in self.items)
        if shots:
            lines.append(f"⚠ {_plural(shots, 'similar shot')} {'is' if shots == 1 else 'are'} not a copy: "
                         "you chose to remove "
                         f"{'it' if shots == 1 else 'them'} yourself.")
        self.note = QLabel("\n".join(lines))
        self.note.setWordWrap(True)
        self.note.setObjectName("muted")

        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels([f"Goes to the {trash}", "Stays", "How they differ"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter and Escape go to the buttons
        self.tree.setUniformRowHeights(True)
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setAccessibleName(f"Photos that go to the {trash}")
        delegate = ThumbDelegate(loader, self.tree, row=ROW)
        self.tree.setItemDelegateForColumn(0, delegate)
        self.tree.setItemDelegateForColumn(1, delegate)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.resizeSection(0, 230)
        header.resizeSection(1, 230)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for item in self.items:
            self.tree.addTopLevelItem(self._row(item))
        if self.plain:
            self.tree.setHeaderLabels([f"Goes to the {trash}", "Stays", "Photo"])
            self.tree.setColumnHidden(1, True)
        loader.ready.connect(self._on_thumbnail)

        self.buttons = QDialogButtonBox()
        self.move_button = QPushButton(f"Move {_plural(n)} to the {trash}")
        self.move_button.setAutoDefault(False)
        self.buttons.addButton(self.move_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus()
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.note)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.buttons)
        size = parent.window().size() if parent is not None else None
        self.resize(min(820, size.width() - 40) if size else 820,
                    min(120 + ROW * min(n, 5), size.height() - 60) if size else 120 + ROW * min(n, 5))

    def _row(self, item: TrashItem) -> QTreeWidgetItem:
        going, kept = item.photo, item.kept
        how = photo_facts(going) if self.plain else difference_text(item)
        row = QTreeWidgetItem([Path(going.path).name, Path(kept.path).name if kept else "— none —", how])
        row.setData(0, PhotoRole, going)
        row.setData(1, PhotoRole, kept if kept is not None else 0)  # never empty: the WORKAROUND in gui.itemmodels
        row.setToolTip(0, going.path)
        row.setToolTip(1, kept.path if kept else "No copy of this photo stays.")
        row.setToolTip(2, how)
        return row

    def rows(self) -> list[tuple[Photo, Photo | None, str]]:
        """What the dialog lists: (photo that goes, photo that stays, how they differ), in order."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            row = self.tree.topLevelItem(i)
            kept = row.data(1, PhotoRole)
            out.append((row.data(0, PhotoRole), kept if isinstance(kept, Photo) else None, row.text(2)))
        return out

    def _on_thumbnail(self, _key) -> None:
        self.tree.viewport().update()


def confirm_trash(parent: QWidget, items: list[TrashItem] | list[Photo], loader: ThumbnailLoader) -> bool:
    """Ask before moving files to the system trash (the only way Simili ever removes a file). ``items`` may be
    plain photos (no copy of them is known to stay)."""
    items = [item if isinstance(item, TrashItem) else TrashItem(item) for item in items]
    dialog = TrashConfirmDialog(items, loader, parent)
    try:
        return dialog.exec() == QDialog.DialogCode.Accepted
    finally:
        dialog.deleteLater()  # not kept as a hidden child of the window until exit


def _reason(exc: BaseException) -> str:
    """Why one file could not be moved, in plain words."""
    if type(exc).__name__ == "TrashPermissionError":
        return "there is no trash on its disk that Simili may use"
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return "it is no longer there (moved or deleted?)"
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
        return "Simili is not allowed to move it (permission denied)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    from gui.errors import describe

    return describe(exc)[1].rstrip(".")


def report_trashed(parent: QWidget, moved: list[str], failed: list[tuple[str, BaseException]]) -> QMessageBox:
    """Say where the photos went and how to get them back, and list each file that could not be moved (shown
    with ``open()``, so it never blocks; the box deletes itself when closed)."""
    trash = trash_name()
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowTitle(f"Moved to the {trash}" if moved else f"Nothing was moved to the {trash}")
    box.setIcon(QMessageBox.Icon.Information if not failed else QMessageBox.Icon.Warning)
    box.setText(summary_text(moved, failed))
    details = [restore_hint()] if moved else []
    if failed:
        lines = [f"• {Path(path).name}: {_reason(exc)}" for path, exc in failed[:10]]
        more = f"\n…and {len(failed) - 10} more" if len(failed) > 10 else ""
        details.append(f"Could not move {_plural(len(failed))}:\n" + "\n".join(lines) + more)
        box.setDetailedText("\n".join(f"{path}: {_reason(exc)}" for path, exc in failed))
    box.setInformativeText("\n\n".join(details))
    box.open()
    return box


def summary_text(moved: list[str], failed: list[tuple[str, BaseException]]) -> str:
    """One line: "Moved 3 photos to the Trash." (and how many could not be moved)."""
    trash = trash_name()
    text = f"Moved {_plural(len(moved))} to the {trash}." if moved else f"No photo was moved to the {trash}."
    if failed:
        text += f" {_plural(len(failed))} could not be moved."
    return text
