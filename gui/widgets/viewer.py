"""A simple photo viewer: the photo at screen size (decoded off the GUI thread), arrows to step through the list it
was opened from: the similar results, the duplicates, or the whole grid (a lazily paged model: pages are read as the
viewer reaches them)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from engine.types import Photo
from gui.actions import open_external, reveal_in_file_manager
from gui.resources import icon
from gui.workers import FunctionWorker, if_alive, start

__all__ = ["ViewerDialog", "load_full"]


def load_full(path: str, max_side: int) -> QImage:
    """Decode a photo, upright, no larger than ``max_side`` (runs in a worker thread)."""
    from engine.api import display_image

    image = display_image(path, max_side).convert("RGB")
    data = image.tobytes()
    qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: ``data`` dies with this function


class ViewerDialog(QDialog):
    """Signals: similar_requested(Photo), stepped(row shown now).

    ``photos``: a list of photos, or a model with ``rowCount()`` and ``photo(row)`` (None until its page is read,
    then ``page_loaded`` is emitted), such as the main grid's ``gui.itemmodels.PhotoGridModel``.
    """

    similar_requested = Signal(object)
    stepped = Signal(int)

    def __init__(self, photos, current: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Simili viewer")
        self.setMinimumSize(QSize(480, 360))
        self.photos = photos
        self._model = photos if hasattr(photos, "rowCount") else None
        if self._model is not None:
            for signal in (getattr(self._model, "page_loaded", None), self._model.modelReset):
                if signal is not None:
                    signal.connect(self._on_model_changed)
        self.current = max(0, min(current, self.count() - 1))
        self._token = 0
        self._image: QImage | None = None
        self.label = QLabel("Loading…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.caption = QLabel()
        self.caption.setObjectName("muted")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout()
        self.prev_button = self._tool("previous", "Previous photo (Left, Page Up)", self.on_previous)
        self.next_button = self._tool("next", "Next photo (Right, Page Down)", self.on_next)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self._tool("similar", "Find similar photos (Enter)", self.on_similar))
        bar.addWidget(self._tool("open-external", "Open with the default app", lambda: self._with_path(open_external)))
        bar.addWidget(self._tool("reveal", "Show in file manager", lambda: self._with_path(reveal_in_file_manager)))
        layout = QVBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addLayout(bar)
        for keys, slot in (((Qt.Key.Key_Left, Qt.Key.Key_PageUp), self.on_previous),
                           ((Qt.Key.Key_Right, Qt.Key.Key_PageDown), self.on_next),
                           ((Qt.Key.Key_Home,), lambda: self.go_to(0)),
                           ((Qt.Key.Key_End,), lambda: self.go_to(self.count() - 1))):
            for key in keys:
                QShortcut(QKeySequence(key), self, slot)
        QShortcut(QKeySequence(Qt.Key.Key_Return), self, self.on_similar)
        self.resize(1000, 720)
        self._load()

    def _with_path(self, action) -> None:
        if self.photo is not None:
            action(self.photo.path)

    def _tool(self, name: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon(name))
        b.setToolTip(tip)
        b.setAccessibleName(tip)
        b.setAutoRaise(True)
        b.clicked.connect(slot)
        return b

    def count(self) -> int:
        return self._model.rowCount() if self._model is not None else len(self.photos)

    @property
    def photo(self) -> Photo | None:
        """The photo shown (None while the model reads its page, or when the list is empty)."""
        if self._model is not None:
            return self._model.photo(self.current) if 0 <= self.current < self.count() else None
        return self.photos[self.current] if 0 <= self.current < len(self.photos) else None

    def _on_model_changed(self, *_args) -> None:
        if self.current >= self.count():
            self.current = max(0, self.count() - 1)
        if self._shown_id is None and self.photo is not None:  # its page arrived
            self._load()

    _shown_id = None  # the photo being shown (None while waiting for its page)

    def _load(self) -> None:
        self._token += 1
        token = self._token
        photo = self.photo
        self.prev_button.setEnabled(self.current > 0)
        self.next_button.setEnabled(self.current < self.count() - 1)
        self._shown_id = None if photo is None else photo.id
        where = f"{self.current + 1:,} of {self.count():,}"
        if photo is None:
            self.caption.setText(f"Loading… · {where}")
            return
        facts = [Path(photo.path).name]
        if photo.width and photo.height:
            facts.append(f"{photo.width} × {photo.height}")
        facts.append(where)
        self.caption.setText(" · ".join(facts))
        self.caption.setToolTip(photo.path)
        screen = self.screen().availableGeometry() if self.screen() else None
        side = int(max(screen.width(), screen.height()) * self.devicePixelRatioF()) if screen else 2048
        worker = FunctionWorker(load_full, photo.path, max(side, 1024))
        worker.returned.connect(lambda img: self._on_loaded(token, img))
        worker.errored.connect(lambda exc: self._on_failed(token, exc))
        start(worker, "query")

    @if_alive
    def _on_loaded(self, token: int, image: QImage) -> None:
        if token == self._token:
            self._image = image
            self._show()

    @if_alive
    def _on_failed(self, token: int, exc: BaseException) -> None:
        if token == self._token:
            self._image = None
            self.label.setPixmap(QPixmap())
            self.label.setText(f"This photo cannot be shown: {exc}")

    def _show(self) -> None:
        if self._image is None:
            return
        dpr = self.devicePixelRatioF()
        target = self.label.size() * dpr
        pix = QPixmap.fromImage(self._image.scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation))
        pix.setDevicePixelRatio(dpr)
        self.label.setPixmap(pix)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._show()

    def go_to(self, row: int) -> None:
        row = max(0, min(row, self.count() - 1))
        if row != self.current:
            self.current = row
            self._load()
            self.stepped.emit(row)

    def on_previous(self) -> None:
        self.go_to(self.current - 1)

    def on_next(self) -> None:
        self.go_to(self.current + 1)

    def on_similar(self) -> None:
        if self.photo is not None:
            self.similar_requested.emit(self.photo)
            self.accept()
