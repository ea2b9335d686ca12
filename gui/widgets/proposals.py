"""The list of proposals of a taught name: a model, a delegate that paints each row (thumbnail, file name, match,
✓ and ✗) and answers a click on ✓ or ✗, and the view (Y / N answer the selected row). Painted rather than made of
widgets, so the list is refreshed after each answer in a millisecond or two, not a tenth of a second."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from engine.types import Neighbor, Photo
from gui.itemmodels import NeighborListModel, photo_at

__all__ = ["THUMB", "ProposalDelegate", "ProposalsModel", "ProposalsView"]

THUMB = 72
BUTTON = 36
YES_COLOR, NO_COLOR = QColor("#2e9d50"), QColor("#d0453b")


class ProposalsModel(NeighborListModel):
    """The proposed photos (``Neighbor``s), best first."""

    def set_neighbors(self, neighbors: Sequence[Neighbor]) -> None:
        self.beginResetModel()
        self._rows = list(neighbors)
        self.endResetModel()

    def remove(self, photo_id: int) -> int | None:
        """Take a photo out (answered); returns the row it had."""
        row = next((i for i, n in enumerate(self._rows) if int(n.photo.id) == int(photo_id)), None)
        if row is not None:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        return row

    def photos(self) -> list[Photo]:
        return [n.photo for n in self._rows]

    def row_text(self, n: Neighbor) -> str:
        name = Path(n.photo.path).name
        return name if n.similarity is None else f"{name}, {n.similarity:.0f}% match"

    def row_tooltip(self, n: Neighbor) -> str:
        return "✓ (Y): it shows it · ✗ (N): it does not"


class ProposalDelegate(QStyledItemDelegate):
    """Paints a proposal and turns a click on its ✓ or ✗ into ``answer(photo, shows)`` (after the click)."""

    def __init__(self, loader, answer: Callable[[Photo, bool], None], parent: QObject | None = None):
        super().__init__(parent)
        self.loader = loader
        self.answer = answer
        self.hover: tuple[int, bool] | None = None  # (row, ✓) under the pointer

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, THUMB + 10)

    @staticmethod
    def buttons(rect: QRect) -> tuple[QRect, QRect]:
        """The ✓ and ✗ squares of a row."""
        top = rect.top() + (rect.height() - BUTTON) // 2
        no = QRect(rect.right() - 8 - BUTTON, top, BUTTON, BUTTON)
        return QRect(no.left() - 8 - BUTTON, top, BUTTON, BUTTON), no

    def hit(self, rect: QRect, pos) -> bool | None:
        """True on the ✓ of a row, False on its ✗, else None."""
        yes, no = self.buttons(rect)
        return True if yes.contains(pos) else (False if no.contains(pos) else None)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        photo = photo_at(index)
        if photo is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            color = pal.color(QPalette.ColorRole.Highlight)
            color.setAlpha(60)
            painter.fillRect(rect, color)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            color = pal.color(QPalette.ColorRole.Highlight)
            color.setAlpha(22)
            painter.fillRect(rect, color)
        thumb = QRectF(rect.left() + 5, rect.top() + 5, THUMB, THUMB)
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        image = self.loader.image(int(photo.id), photo.path, photo.mtime, int(THUMB * dpr), crop=True,
                                  radius=6.0 * dpr)
        if image is not None:
            painter.drawImage(thumb, image)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(thumb, 6, 6)
        yes, no = self.buttons(rect)
        text = QRect(int(thumb.right()) + 10, rect.top(), max(yes.left() - int(thumb.right()) - 18, 10), rect.height())
        fm = painter.fontMetrics()
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        line = fm.height()
        middle = rect.top() + rect.height() // 2
        painter.drawText(QRect(text.left(), middle - line, text.width(), line), Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(Path(photo.path).name, Qt.TextElideMode.ElideMiddle, text.width()))
        similarity = getattr(index.model(), "similarity", lambda _r: None)(index.row())
        if similarity is not None:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(QRect(text.left(), middle, text.width(), line), Qt.AlignmentFlag.AlignVCenter,
                             f"{similarity:.0f}% match")
        for box, shows in ((yes, True), (no, False)):
            self._paint_button(painter, box, shows, self.hover == (index.row(), shows), pal)
        painter.restore()

    @staticmethod
    def _paint_button(painter: QPainter, box: QRect, shows: bool, hovered: bool, pal: QPalette) -> None:
        color = QColor(YES_COLOR if shows else NO_COLOR)
        fill = QColor(color)
        fill.setAlpha(50 if hovered else 18)
        painter.setPen(color)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(box).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        font = QFont(painter.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "✓" if shows else "✗")

    def editorEvent(self, event, model, option, index) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            return False
        hit = self.hit(option.rect, event.position().toPoint())
        if hit is None or event.button() != Qt.MouseButton.LeftButton:
            return False
        photo = photo_at(index)
        if kind == QEvent.Type.MouseButtonRelease and photo is not None:
            QTimer.singleShot(0, lambda: self.answer(photo, hit))  # not while the view handles this click
        return True  # a click on ✓ or ✗ neither selects nor opens the photo


class ProposalsView(QListView):
    """The proposals list. Signals: answered(Photo, bool) for Y / N on the selected row; opened(Photo) for Enter,
    Space or a double click."""

    answered = Signal(object, bool)
    opened = Signal(object)

    def __init__(self, loader, parent=None):
        super().__init__(parent)
        self.model_ = ProposalsModel(self)
        self.setModel(self.model_)
        self.delegate = ProposalDelegate(loader, lambda p, s: self.answered.emit(p, s), self)
        self.setItemDelegate(self.delegate)
        self.setUniformItemSizes(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.doubleClicked.connect(lambda index: self._open(index))
        loader.ready.connect(lambda _key: self.viewport().update())

    def _open(self, index) -> None:
        photo = photo_at(index)
        if photo is not None:
            self.opened.emit(photo)

    def current_photo(self) -> Photo | None:
        return photo_at(self.currentIndex())

    def button_rect(self, row: int, shows: bool) -> QRect:
        """Where a row's ✓ (``shows``) or ✗ is, in viewport coordinates."""
        yes, no = ProposalDelegate.buttons(self.visualRect(self.model_.index(row)))
        return yes if shows else no

    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        pos = event.position().toPoint()
        index = self.indexAt(pos)
        hit = self.delegate.hit(self.visualRect(index), pos) if index.isValid() else None
        hover = None if hit is None else (index.row(), hit)
        if hover != self.delegate.hover:
            self.delegate.hover = hover
            self.viewport().update()  # the ✓ / ✗ under the pointer lights up

    def leaveEvent(self, event) -> None:
        self.delegate.hover = None
        self.viewport().update()
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:
        photo = self.current_photo()
        key = event.key()
        plain = not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        if photo is not None and plain and key in (Qt.Key.Key_Y, Qt.Key.Key_N):
            self.answered.emit(photo, key == Qt.Key.Key_Y)
            return
        if photo is not None and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.opened.emit(photo)
            return
        super().keyPressEvent(event)
