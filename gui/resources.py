"""Icon locator: SVG icons under ``resources/icons/``, recoloured to the palette and crisp at any DPI.

Icons are drawn with one placeholder ink colour (``#1f2328``); :func:`icon` swaps it for the palette's text colour,
so the same files serve the light and the dark theme. :func:`app_icon` is the multi-colour application icon.
``python -m gui.resources OUT_DIR`` renders the application icon as PNGs (16..512 px) for packaging.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

__all__ = ["icons_dir", "icon", "app_icon", "svg_pixmap", "svg_text", "render_app_pngs", "ICON_NAMES", "PNG_SIZES"]

INK = "#1f2328"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@lru_cache(maxsize=1)
def icons_dir() -> Path:
    """The ``resources/icons`` folder (source checkout, wheel or frozen bundle; see engine.resources)."""
    from engine.api import resources_root

    return resources_root() / "icons"


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(p.stem for p in icons_dir().glob("*.svg"))


def __getattr__(name: str):  # ICON_NAMES computed lazily: no disk access at import time
    if name == "ICON_NAMES":
        return _names()
    raise AttributeError(name)


def svg_text(name: str) -> str:
    """The SVG source of an icon, ink colour ``INK`` not yet replaced."""
    return _svg(name)


@lru_cache(maxsize=64)
def _svg(name: str) -> str:
    if name not in _names():
        raise KeyError(f"no icon named {name!r} in {icons_dir()}")
    return (icons_dir() / f"{name}.svg").read_text(encoding="utf-8")


def _ink() -> str:
    app = QGuiApplication.instance()
    if app is None:
        return INK
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText).name()


def svg_pixmap(name: str, size: int, color: str | None = None, dpr: float = 1.0) -> QPixmap:
    """One icon rendered to a pixmap of ``size`` logical pixels at device pixel ratio ``dpr``."""
    data = _svg(name).replace(INK, color or _ink())
    renderer = QSvgRenderer(QByteArray(data.encode("utf-8")))
    px = int(round(size * dpr))
    image = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, px, px))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


class _SvgIconEngine(QIconEngine):
    """Renders a recoloured SVG at exactly the size and device pixel ratio asked, on first use.

    Without a fixed colour the ink is the palette's text colour *when painted*, so every icon follows a theme
    switch at once (no icon keeps the old colour, no icon-only button turns dark-on-dark).
    """

    def __init__(self, svg: str, color: str | None = None):
        super().__init__()
        self._svg = svg
        self._color = color
        self._renderers: dict[str, QSvgRenderer] = {}
        self._pixmaps: dict[tuple[int, int, int, str], QPixmap] = {}

    def ink(self) -> str:
        return self._color or _ink()

    def _render(self, painter: QPainter, rect: QRectF) -> None:
        ink = self.ink()
        if ink not in self._renderers:
            self._renderers[ink] = QSvgRenderer(QByteArray(self._svg.replace(INK, ink).encode("utf-8")))
        self._renderers[ink].render(painter, rect)

    def paint(self, painter: QPainter, rect, mode, state) -> None:
        if mode == QIcon.Mode.Disabled:
            painter.setOpacity(painter.opacity() * 0.4)
        self._render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode, state) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode, state, scale: float) -> QPixmap:
        w, h = int(size.width() * scale), int(size.height() * scale)
        key = (w, h, int(mode == QIcon.Mode.Disabled), self.ink())
        if key not in self._pixmaps:
            image = QImage(max(w, 1), max(h, 1), QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self.paint(painter, QRectF(0, 0, w, h).toRect(), mode, state)
            painter.end()
            pixmap = QPixmap.fromImage(image)
            self._pixmaps[key] = pixmap
        pixmap = QPixmap(self._pixmaps[key])
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def clone(self) -> QIconEngine:
        return _SvgIconEngine(self._svg, self._color)


_cache: dict[tuple[str, str | None], QIcon] = {}


def icon(name: str, color: str | QColor | None = None) -> QIcon:
    """A themed icon by file name (without ``.svg``), in the palette's text colour unless ``color`` is given
    (the palette's colour at paint time: the icon follows a theme switch).

    Raises:
        KeyError: there is no such icon (a typo should fail loudly in tests, not show a blank button).
    """
    ink = color.name() if isinstance(color, QColor) else color
    key = (name, ink)
    if key not in _cache:
        _cache[key] = QIcon(_SvgIconEngine(_svg(name), ink))
    return _cache[key]


def app_icon() -> QIcon:
    """The application icon: the packaged PNG sizes (cheap to load), the SVG as fallback."""
    png = icons_dir() / "png"
    result = QIcon()
    for size in PNG_SIZES:
        path = png / f"simili-{size}.png"
        if path.is_file():
            result.addFile(str(path), QSize(size, size))
    return result if not result.isNull() else QIcon(str(icons_dir() / "simili.svg"))


def render_app_pngs(out_dir: str | Path, sizes: tuple[int, ...] = PNG_SIZES) -> list[Path]:
    """Render ``simili.svg`` to ``simili-<size>.png`` files (needs a QGuiApplication)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    renderer = QSvgRenderer(str(icons_dir() / "simili.svg"))
    written = []
    for size in sizes:
        image = QImage(QSize(size, size), QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        path = out / f"simili-{size}.png"
        if not image.save(str(path)):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


def clear_cache() -> None:
    """Forget rendered icons (after a palette change)."""
    _cache.clear()


if __name__ == "__main__":  # pragma: no cover - packaging helper
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication(sys.argv[:1])
    target = sys.argv[1] if len(sys.argv) > 1 else str(icons_dir() / "png")
    for p in render_app_pngs(target):
        print(p)
