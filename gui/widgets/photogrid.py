"""Thumbnail grid: a virtualised QListView whose delegate paints cached thumbnails and similarity badges."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPainterPath, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from engine.types import Photo
from gui.itemmodels import photo_at, similarity_at
from gui.thumbnails import ThumbnailLoader

__all__ = ["PhotoDelegate", "PhotoGridView", "badge_color"]

RADIUS = 8.0


def badge_color(similarity: float) -> QColor:
    """Green for near-identical photos, through amber, to orange-red for loosely related ones (similarity in %)."""
    t = max(0.0, min(1.0, (100.0 - similarity) / 50.0))
    hue = int(140 - 120 * t)  # 140 (green) .. 20 (orange-red)
    return QColor.fromHsv(hue, 200, 170)


class PhotoDelegate(QStyledItemDelegate):
    """Paints a square, rounded, centre-cropped thumbnail; a similarity badge (percent) when the model gives one."""

    def __init__(self, loader: ThumbnailLoader, tile: int = 148, parent: QWidget | None = None):
        super().__init__(parent)
        self.loader = loader
        self.tile = tile
        self.spacing = 6

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.tile + self.spacing, self.tile + self.spacing)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = QRectF(option.rect).adjusted(self.spacing / 2, self.spacing / 2, -self.spacing / 2, -self.spacing / 2)
        path = QPainterPath()
        path.addRoundedRect(rect, RADIUS, RADIUS)
        placeholder = pal.color(QPalette.ColorRole.AlternateBase)
        painter.fillPath(path, placeholder)
        photo = photo_at(index)
        if photo is not None:
            self._paint_image(painter, rect, path, photo, option)
            similarity = similarity_at(index)
            if similarity is not None:
                self._paint_badge(painter, rect, float(similarity))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            color = pal.color(QPalette.ColorRole.Highlight)
            if not selected:
                color.setAlpha(110)
            pen_w = 3.0 if selected else 2.0
            painter.setPen(QColor(color))
            pen = painter.pen()
            pen.setWidthF(pen_w)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(pen_w / 2, pen_w / 2, -pen_w / 2, -pen_w / 2), RADIUS, RADIUS)
        if option.state & QStyle.StateFlag.State_HasFocus and not selected:
            pen = painter.pen()
            pen.setColor(pal.color(QPalette.ColorRole.Highlight))
            pen.setStyle(Qt.PenStyle.DotLine)
            painter.setPen(pen)
            painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), RADIUS, RADIUS)
        painter.restore()

    def _paint_image(self, painter: QPainter, rect: QRectF, path: QPainterPath, photo: Photo,
                     option: QStyleOptionViewItem) -> None:
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        edge = int(rect.width() * dpr)
        pid = int(photo.id)
        image = self.loader.image(pid, photo.path, photo.mtime, edge, crop=True, radius=RADIUS * dpr)
        if image is not None:
            # The worker made it at exactly this size with its corners already rounded: a plain blit.
            painter.drawImage(rect.topLeft(), image)
            return
        stale = self.loader.any_image(pid)
        if stale is not None:  # another size (the window is being resized): scale it until the new one is made
            painter.save()
            painter.setClipPath(path)
            painter.drawImage(rect, stale)
            painter.restore()
        elif self.loader.error(pid, edge) is not None:
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "can't read")

    def _paint_badge(self, painter: QPainter, rect: QRectF, similarity: float) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        text = f"{similarity:.0f}%"
        fm = painter.fontMetrics()
        w = max(fm.horizontalAdvance(text) + 14, 24)
        h = fm.height() + 4
        badge = QRectF(rect.left() + 6, rect.top() + 6, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(badge_color(similarity))
        painter.drawRoundedRect(badge, h / 2, h / 2)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


class PhotoGridView(QListView):
    """A wrapping grid of photos with keyboard navigation.

    Signals:
        photo_activated: a photo was clicked or Enter was pressed on it.
        photo_opened: a photo was double-clicked or Space was pressed (open the viewer).
        context_requested: right click on a photo, with the global position.
    """

    photo_activated = Signal(object)
    photo_opened = Signal(object)
    context_requested = Signal(object, QPoint)

    def __init__(self, loader: ThumbnailLoader, tile: int = 148, activate_on_click: bool = True,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.delegate = PhotoDelegate(loader, tile, self)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        # Lay out in batches: 100,000 tiles are placed over several event-loop turns, none longer than ~10 ms.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(4000)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setMinimumSize(QSize(tile + 40, tile + 20))
        self._activate_on_click = activate_on_click
        self._base_tile = tile
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self._repaint = QTimer(self, singleShot=True, interval=33)
        self._repaint.timeout.connect(self.viewport().update)
        self.clicked.connect(self.on_clicked)
        self._pressed = None
        self.customContextMenuRequested.connect(self.on_context_menu)
        loader.ready.connect(self.on_thumbnail_ready)
        loader.failed.connect(lambda key, _msg: self.on_thumbnail_ready(key))

    def set_tile(self, tile: int) -> None:
        """Preferred tile size; the actual size stretches a little so the columns fill the width."""
        self._base_tile = tile
        self.setMinimumSize(QSize(tile + 40, tile + 20))
        self._justify()

    def _justify(self) -> None:
        spacing = self.delegate.spacing
        width = max(self.viewport().width() - 1, 1)
        cols = max(1, width // (self._base_tile + spacing))
        tile = width // cols - spacing
        if tile != self.delegate.tile:
            self.delegate.tile = tile
            self.scheduleDelayedItemsLayout()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._justify()

    def current_photo(self) -> Photo | None:
        index = self.currentIndex()
        return photo_at(index)

    def selected_photos(self) -> list[Photo]:
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes()) if self.selectionModel() else []
        photos = [photo_at(self.model().index(r, 0)) for r in rows]
        return [p for p in photos if p is not None]

    # -- slots ---------------------------------------------------------------------------------------
    def on_clicked(self, index: QModelIndex) -> None:
        photo = photo_at(index)
        if photo is not None and self._activate_on_click:
            self.photo_activated.emit(photo)

    def on_double_clicked(self, index: QModelIndex) -> None:
        photo = photo_at(index)
        if photo is not None:
            self.photo_opened.emit(photo)

    def on_context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        photo = photo_at(index)
        if photo is not None:
            if not self.selectionModel().isSelected(index):
                self.setCurrentIndex(index)
            self.context_requested.emit(photo, self.viewport().mapToGlobal(pos))

    def on_thumbnail_ready(self, key) -> None:
        # Thumbnails arrive in bursts: repaint at most ~30 times a second, not once per image.
        if not self._repaint.isActive():
            self._repaint.start()

    # -- mouse and keys ------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        self._pressed = QPersistentModelIndex(self.indexAt(event.position().toPoint()))
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        # The first click may have changed the layout (the similar panel opened and the tiles moved), so open
        # the photo that was pressed, not whatever now lies under the pointer.
        index = self._pressed if self._pressed is not None and self._pressed.isValid() else \
            self.indexAt(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and index.isValid():
            self.on_double_clicked(index)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        photo = self.current_photo()
        if photo is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.photo_activated.emit(photo)
            return
        if photo is not None and event.key() == Qt.Key.Key_Space:
            self.photo_opened.emit(photo)
            return
        super().keyPressEvent(event)

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.PaletteChange:
            self.viewport().update()
        return super().event(e)

    def visible_rect(self) -> QRect:
        return self.viewport().rect()


class PhotosPage(QWidget):
    """The library page: a header line (title, count) over the photo grid; a listing (a taught name, word results)
    has a "Show all photos" button (``back_button``) beside it."""

    def __init__(self, grid: PhotoGridView, parent: QWidget | None = None):
        super().__init__(parent)
        from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout

        self.grid = grid
        self.title = QLabel("All photos")
        self.title.setObjectName("panelTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)  # a narrow window wraps it rather than cutting it off
        self.subtitle.setMinimumWidth(0)
        self._folder: str | None = None
        self._where: str | None = None
        self._note: str | None = None
        self.back_button = QPushButton("Show all photos")
        self.back_button.setToolTip("Back to all the photos in the library (Esc)")
        self.back_button.hide()
        head = QHBoxLayout()
        head.setContentsMargins(14, 10, 14, 4)
        head.addWidget(self.title)
        head.addSpacing(8)
        head.addWidget(self.subtitle, 1, Qt.AlignmentFlag.AlignBottom)
        head.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignBottom)
        self._head = head
        self._below = QHBoxLayout()  # a listing's longer count goes under its title and button
        self._below.setContentsMargins(14, 0, 14, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(head)
        layout.addLayout(self._below)
        layout.addWidget(grid, 1)
        self.setFocusProxy(grid)

    def set_folder(self, folder: str | None, name: str | None = None) -> None:
        """Title the page after the folder shown (None: all photos), by ``name`` when given ("shop/images")."""
        from pathlib import Path

        self._folder, self._where, self._note = folder, None, None
        self.title.setText(name or Path(folder).name or folder if folder else "All photos")
        self.title.setToolTip(folder or "")
        self.back_button.hide()
        self._place_subtitle(below=False)

    def set_listing(self, title: str, where: str, note: str | None = None) -> None:
        """Title the page after what it lists (e.g. a taught name); ``where`` ends the count ("named Max");
        ``note``, when given, is said instead of the count (e.g. why a search found nothing)."""
        self._folder, self._where, self._note = None, where, note
        self.title.setText(title)
        self.title.setToolTip(where)
        self.back_button.show()
        self._place_subtitle(below=True)
        if note:
            self.subtitle.setText(note)

    def _place_subtitle(self, below: bool) -> None:
        if below == (self._below.indexOf(self.subtitle) >= 0):
            return
        (self._head if below else self._below).removeWidget(self.subtitle)
        if below:
            self._head.insertStretch(self._head.indexOf(self.back_button), 1)
            self._below.addWidget(self.subtitle, 1)
        else:
            stretch = self._head.itemAt(self._head.indexOf(self.back_button) - 1)
            if stretch is not None and stretch.spacerItem() is not None:
                self._head.removeItem(stretch)
            self._head.insertWidget(self._head.indexOf(self.back_button), self.subtitle, 1,
                                    Qt.AlignmentFlag.AlignBottom)

    def set_counts(self, photos: int, folders: int) -> None:
        if self._note:
            self.subtitle.setText(self._note)
            return
        where = self._where or ("in this folder" if self._folder else
                                f"in {folders} folder{'s' if folders != 1 else ''}")
        self.subtitle.setText(f"{photos:,} photo{'s' if photos != 1 else ''} {where} · "
                              "click a photo to find similar ones")
