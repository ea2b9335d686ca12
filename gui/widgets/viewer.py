"""A simple photo viewer: the photo at screen size (decoded off the GUI thread), arrows to step through a list."""

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
    """Signals: similar_requested(Photo)."""

    similar_requested = Signal(object)

    def __init__(self, photos: list[Photo], current: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Simili viewer")
        self.setMinimumSize(QSize(480, 360))
        self.photos = photos
        self.current = max(0, min(current, len(photos) - 1))
        self._token = 0
        self._image: QImage | None = None
        self.label = QLabel("Loading…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.caption = QLabel()
        self.caption.setObjectName("muted")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout()
        self.prev_button = self._tool("previous", "Previous photo (Left)", self.on_previous)
        self.next_button = self._tool("next", "Next photo (Right)", self.on_next)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self._tool("similar", "Find similar photos (Enter)", self.on_similar))
        bar.addWidget(self._tool("open-external", "Open with the default app", lambda: open_external(self.photo.path)))
        bar.addWidget(self._tool("reveal", "Show in file manager", lambda: reveal_in_file_manager(self.photo.path)))
        layout = QVBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addLayout(bar)
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, self.on_previous)
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, self.on_next)
        QShortcut(QKeySequence(Qt.Key.Key_Return), self, self.on_similar)
        self.resize(1000, 720)
        self._load()

    def _tool(self, name: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon(name))
        b.setToolTip(tip)
        b.setAccessibleName(tip)
        b.setAutoRaise(True)
        b.clicked.connect(slot)
        return b

    @property
    def photo(self) -> Photo:
        return self.photos[self.current]

    def _load(self) -> None:
        self._token += 1
        token = self._token
        photo = self.photo
        facts = [Path(photo.path).name]
        if photo.width and photo.height:
            facts.append(f"{photo.width} × {photo.height}")
        facts.append(f"{self.current + 1} of {len(self.photos)}")
        self.caption.setText(" · ".join(facts))
        self.caption.setToolTip(photo.path)
        self.prev_button.setEnabled(self.current > 0)
        self.next_button.setEnabled(self.current < len(self.photos) - 1)
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

    def on_previous(self) -> None:
        if self.current > 0:
            self.current -= 1
            self._load()

    def on_next(self) -> None:
        if self.current < len(self.photos) - 1:
            self.current += 1
            self._load()

    def on_similar(self) -> None:
        self.similar_requested.emit(self.photo)
        self.accept()
