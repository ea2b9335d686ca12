"""Item delegate for photo rows of tree views (the Duplicates view, the trash confirmation): a thumbnail beside
the text, requested from the thumbnail loader only when the row is painted."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize
from PySide6.QtGui import QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from engine.types import Photo
from gui.itemmodels import PhotoRole
from gui.thumbnails import ThumbnailLoader

__all__ = ["ThumbDelegate", "ROW"]

ROW = 72


class ThumbDelegate(QStyledItemDelegate):
    """A cell whose ``PhotoRole`` holds a Photo: its thumbnail (a square ``row - 8`` px) and its text.

    Every cell painted with it must hold something in ``PhotoRole`` (a placeholder such as 0 when it shows no
    photo): see the WORKAROUND in ``gui.itemmodels``.
    """

    def __init__(self, loader: ThumbnailLoader, parent=None, row: int = ROW):
        super().__init__(parent)
        self.loader = loader
        self.row = row

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        if isinstance(index.data(PhotoRole), Photo):
            size.setHeight(self.row)
        return size

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        photo = index.data(PhotoRole)
        if not isinstance(photo, Photo) or not option.widget or not option.widget.isVisible():
            return
        edge = self.row - 8
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
