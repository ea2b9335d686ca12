"""The "similar photos" panel: the query shown large, a strict/loose control, and the ranked neighbours with badges.

Every number shown is the engine's similarity (``Neighbor.similarity``, percent), which follows the result order.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget,
)

from engine.errors import NotIndexed
from engine.types import CLOSE_MATCH, SIMILARITY_LEVELS, Photo
from gui.errors import describe
from gui.itemmodels import ResultsModel
from gui.thumbnails import ThumbnailLoader
from gui.widgets.photogrid import PhotoGridView
from gui.workers import if_alive

__all__ = ["SimilarPanel", "STRICTNESS", "DEFAULT_STRICTNESS"]

QUERY_EDGE = 300
# The strict/loose control, strict (left) to loose (right): (lowest similarity shown, what it shows).
STRICTNESS: tuple[tuple[float, str], ...] = tuple(
    (low, "only near-identical photos" if name == "near-identical" else
     f"{name} photos and closer" if low > 0 else "everything, loosely related too")
    for low, name in SIMILARITY_LEVELS)
DEFAULT_STRICTNESS = len(STRICTNESS) - 1  # loose: every result, most similar first, close matches counted


class SimilarPanel(QWidget):
    """Signals: photo_opened(Photo), context_requested(Photo, QPoint), closed()."""

    photo_opened = Signal(object)
    context_requested = Signal(object, QPoint)
    closed = Signal()
    searched = Signal(int)  # results shown (after the slider), for tests and the status bar
    strictness_changed = Signal(int)  # the strict/loose control moved (its position, to remember it)

    def __init__(self, session, loader: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self.model = ResultsModel(self)
        self._token = 0
        self._query: tuple[str, object] | None = None  # ("photo", Photo) or ("image", path)
        self._history: list[tuple[str, object]] = []
        self._query_key = None
        self.setMinimumWidth(300)

        self.back_button = self._tool("back", "Back to the previous search (Alt+Left)", "Back")
        self.back_button.clicked.connect(self.on_back)
        self.close_button = self._tool("cancel", "Close the similar photos panel (Esc)", "Close")
        self.close_button.clicked.connect(self.on_close)
        self.title = title = QLabel("Similar photos")
        title.setObjectName("panelTitle")
        head = QHBoxLayout()
        head.addWidget(self.back_button)
        head.addWidget(title, 1)
        head.addWidget(self.close_button)

        self.query_image = QLabel()
        self.query_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_image.setWordWrap(True)  # the empty state's hint wraps in a narrow panel, never cut (issue 24)
        # An explicit minimum (a pixmap label's own minimum is the pixmap's size) and the photo scaled to the room
        # the label gets: in a small window it shrinks, never drawn over the caption below it.
        self.query_image.setMinimumSize(80, 120)
        self.query_image.setMaximumHeight(QUERY_EDGE)
        self.query_image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.query_image.installEventFilter(self)
        self._query_source: QImage | None = None
        self.query_caption = QLabel()
        self.query_caption.setObjectName("muted")
        self.query_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_caption.setWordWrap(True)
        self.query_caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        frame = QFrame()
        frame.setObjectName("queryFrame")
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(10, 10, 10, 8)
        fl.addWidget(self.query_image)
        fl.addWidget(self.query_caption)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, len(STRICTNESS) - 1)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setValue(DEFAULT_STRICTNESS)
        self.slider.setAccessibleName("How similar photos must be")
        self.slider.setToolTip("Strict: only photos very like this one. Loose: less similar photos too.")
        self.slider.valueChanged.connect(self.on_threshold_changed)
        self.threshold_label = QLabel()
        self.threshold_label.setObjectName("muted")
        self.threshold_label.setWordWrap(True)
        tight, loose = QLabel("Strict"), QLabel("Loose")
        tight.setObjectName("muted")
        loose.setObjectName("muted")
        self.controls = QWidget()
        srow = QHBoxLayout(self.controls)
        srow.setContentsMargins(0, 0, 0, 0)
        srow.addWidget(tight)
        srow.addWidget(self.slider, 1)
        srow.addWidget(loose)

        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        self.count_label.setWordWrap(True)
        self.results = PhotoGridView(loader, tile=112, activate_on_click=False)
        self.results.setModel(self.model)
        self.results.setAccessibleName("Similar photos")
        self.results.photo_activated.connect(self.show_photo)
        self.results.photo_opened.connect(self.photo_opened)
        self.results.context_requested.connect(self.context_requested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(frame)
        layout.addWidget(self.controls)
        layout.addWidget(self.threshold_label)
        layout.addWidget(self.count_label)
        layout.addWidget(self.results, 1)
        self.spacer = QWidget()
        layout.addWidget(self.spacer, 1)
        loader.ready.connect(self.on_thumbnail_ready)
        self._update_buttons()
        self.show_hint()

    def show_hint(self) -> None:
        """The empty state: what this panel is for."""
        self.query_image.setPixmap(QPixmap())
        self.query_image.setText("Click a photo to see the ones most like it.\n\n"
                                 "Or drop any image on the window, paste one\u00a0(Ctrl+V), "
                                 "or use Search by image\u00a0(Ctrl+F).")
        self.query_caption.setText("")
        self.count_label.setText("")
        self.threshold_label.setText("")
        self._query_source = None
        self._set_searching_ui(False)

    def _set_searching_ui(self, on: bool) -> None:
        for w in (self.controls, self.results, self.count_label, self.query_caption, self.threshold_label):
            w.setVisible(on)
        self.spacer.setVisible(not on)

    def _tool(self, name: str, tip: str, text: str) -> QToolButton:
        from gui.resources import icon

        b = QToolButton()
        b.setIcon(icon(name))
        b.setToolTip(tip)
        b.setAccessibleName(text)
        b.setAutoRaise(True)
        return b

    # -- queries -------------------------------------------------------------------------------------
    def show_photo(self, photo: Photo) -> None:
        """Search for photos similar to a library photo."""
        self._start(("photo", photo))

    def show_image(self, path: str) -> None:
        """Search by any image file."""
        self._start(("image", os.fspath(path)))

    def can_refine(self) -> bool:
        """Whether "More like this" / "Not like this" apply: the panel shows photos similar to a library photo."""
        return self._query is not None and self._query[0] in ("photo", "refined")

    def refine(self, photo: Photo, more: bool) -> None:
        """Re-rank the results: more like ``photo`` (``more``) or not like it; Back goes one step back."""
        if not self.can_refine():
            return
        kind, target = self._query
        base, likes, unlikes = (target, (), ()) if kind == "photo" else target
        likes, unlikes = tuple(p for p in likes if p.id != photo.id), tuple(p for p in unlikes if p.id != photo.id)
        self._start(("refined", (base, likes + (photo,) if more else likes, unlikes if more else unlikes + (photo,))))

    def refresh(self) -> None:
        """Run the current query again (the codes changed, e.g. after training)."""
        if self._query is not None:
            self._run(self._query)

    def query(self) -> tuple[str, object] | None:
        return self._query

    def _start(self, query: tuple[str, object]) -> None:
        if self._query is not None and self._query != query:
            self._history.append(self._query)
            del self._history[:-50]
        self._query = query
        self._set_searching_ui(True)
        self._show_query(query)
        self._run(query)

    def _run(self, query: tuple[str, object]) -> None:
        self._token += 1
        token = self._token
        kind, target = query
        if kind == "photo":
            worker = self.session.similar(int(target.id))
        elif kind == "refined":  # (photo, more like these, not like these)
            worker = self.session.similar_refined(int(target[0].id), [int(p.id) for p in target[1]],
                                                  [int(p.id) for p in target[2]])
        else:
            worker = self.session.similar_to_image(str(target))
        worker.returned.connect(lambda res: self._on_results(token, res))
        worker.errored.connect(lambda exc: self._on_failed(token, exc))
        self.count_label.setText("Searching…")
        self._update_buttons()

    @if_alive
    def _on_results(self, token: int, result) -> None:
        if token != self._token:
            return
        neighbors, bits = result
        self.model.set_results(neighbors, bits)
        self.model.set_limit(self.min_similarity())
        self._update_count()
        if self.model.rowCount():  # keyboard focus starts at the best result, which does not look selected
            self.results.selectionModel().setCurrentIndex(self.model.index(0, 0),
                                                          self.results.selectionModel().SelectionFlag.NoUpdate)

    @if_alive
    def _on_failed(self, token: int, exc: BaseException) -> None:
        if token != self._token:
            return
        self.model.set_results([], self.model.bits)
        if isinstance(exc, NotIndexed):
            self.count_label.setText(f"{exc} — results appear as soon as indexing has made the search codes.")
        else:
            title, text, _ = describe(exc)
            self.count_label.setText(f"{title}: {text}")
        self.searched.emit(0)

    # -- display -------------------------------------------------------------------------------------
    def _show_query(self, query: tuple[str, object]) -> None:
        kind, target = query
        dpr = self.devicePixelRatioF()
        edge = int(QUERY_EDGE * dpr)
        if kind in ("photo", "refined"):
            photo: Photo = target if kind == "photo" else target[0]
            self._query_key = (int(photo.id), edge, False)
            image = self.loader.image(int(photo.id), photo.path, photo.mtime, edge, crop=False)
            facts = [Path(photo.path).name]
            if photo.width and photo.height:
                facts.append(f"{photo.width} × {photo.height}")
            if kind == "refined":
                facts.append(f"{len(target[1])} more like this, {len(target[2])} not like this (Back undoes)")
            self.query_caption.setText(" · ".join(facts))
            self.query_caption.setToolTip(photo.path)
        else:
            path = str(target)
            key = ("file", path)
            self._query_key = (key, edge, False)
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                mtime = None
            image = self.loader.image(key, path, mtime, edge, crop=False)
            self.query_caption.setText(f"Searching by image: {Path(path).name}")
            self.query_caption.setToolTip(path)
        self._set_query_image(image)

    def _set_query_image(self, image: QImage | None) -> None:
        self._query_source = image
        if image is None:
            self.query_image.setPixmap(QPixmap())
            self.query_image.setText("…")
            return
        self._fit_query_image()

    def _fit_query_image(self) -> None:
        """Scale the query photo to the label's current room (it shrinks in a small window)."""
        image = self._query_source
        if image is None or image.isNull():
            return
        dpr = self.devicePixelRatioF()
        room = self.query_image.contentsRect().size() * dpr
        if room.width() < 8 or room.height() < 8:
            return
        if image.width() > room.width() or image.height() > room.height():
            image = image.scaled(room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        pix = QPixmap.fromImage(image)
        pix.setDevicePixelRatio(dpr)
        self.query_image.setPixmap(pix)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.query_image and event.type() == QEvent.Type.Resize:
            self._fit_query_image()
        return super().eventFilter(obj, event)

    def on_thumbnail_ready(self, key) -> None:
        if key == self._query_key and self._query is not None:
            kind, target = self._query
            pid, edge, _ = key
            path = target.path if kind == "photo" else target[0].path if kind == "refined" else str(target)
            self._set_query_image(self.loader.image(pid, path, None, edge, crop=False))

    def min_similarity(self) -> float:
        return STRICTNESS[self.slider.value()][0]

    def set_strictness(self, position) -> None:
        """Put the strict/loose control at ``position`` (0 = strictest), e.g. as remembered from last time."""
        try:
            value = int(position)
        except (TypeError, ValueError):
            value = DEFAULT_STRICTNESS
        self.slider.setValue(max(0, min(value, self.slider.maximum())))

    def on_threshold_changed(self, value: int) -> None:
        self.model.set_limit(self.min_similarity())
        self._update_count()
        self.strictness_changed.emit(value)

    def _update_count(self) -> None:
        shown, total = self.model.rowCount(), self.model.total()
        low, what = STRICTNESS[self.slider.value()]
        below = self.model.below_line()
        self.threshold_label.setText(f"{'Asked for' if below else 'Showing'} {what}"
                                     + (f" (at least {low:.0f}% similar)." if low else "."))
        plural = "s" if shown != 1 else ""
        if total == 0:
            self.count_label.setText("No similar photos found.")
        elif below:
            nearest = f"The nearest {shown} photo{plural}, less similar than that:"
            if self.model.no_close_match():
                self.count_label.setText(f"<b>No close match.</b> No photo in your library is even "
                                         f"{CLOSE_MATCH:.0f}% similar to this one, so none is {low:.0f}% "
                                         f"similar. {nearest}")
            else:
                self.count_label.setText(f"None is {low:.0f}% similar or more; move the control toward Loose to "
                                         f"see more. {nearest}")
        elif self.model.no_close_match():
            self.count_label.setText(f"<b>No close match.</b> No photo in your library is at least "
                                     f"{CLOSE_MATCH:.0f}% similar to this one. The nearest {shown} photo{plural}, "
                                     f"most similar first:")
        else:
            close = sum(1 for n in self.model.neighbors() if n.close)
            hidden = total - shown
            parts = [f"{shown} similar photo{plural}, most similar first"]
            if 0 < close < shown:
                first = "the first is a close match" if close == 1 else f"the first {close} are close matches"
                parts.append(f"; {first} ({CLOSE_MATCH:.0f}% or more)")
            if hidden:
                parts.append(f" ({hidden} less similar ones hidden)")
            self.count_label.setText("".join(parts) + ". The badge says how similar each one is.")
        self.searched.emit(self.model.passing())

    def _update_buttons(self) -> None:
        self.back_button.setEnabled(bool(self._history))

    # -- slots ---------------------------------------------------------------------------------------
    def on_back(self) -> None:
        if self._history:
            query = self._history.pop()
            self._query = query
            self._show_query(query)
            self._run(query)

    def on_close(self) -> None:
        self._token += 1
        self._query = None
        self._history.clear()
        self.model.set_results([], self.model.bits)
        self.show_hint()
        self.closed.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.on_close()
            return
        if event.key() == Qt.Key.Key_Left and event.modifiers() & Qt.KeyboardModifier.AltModifier:
            self.on_back()
            return
        super().keyPressEvent(event)
