"""Light and dark palettes that follow the system colour scheme (or a forced one), on Qt's Fusion style."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["apply_theme", "is_dark", "ACCENT"]

ACCENT = "#5b6cf9"

_LIGHT = {
    "Window": "#f6f7f9", "WindowText": "#1f2328", "Base": "#ffffff", "AlternateBase": "#eceef2",
    "ToolTipBase": "#ffffff", "ToolTipText": "#1f2328", "PlaceholderText": "#8b929c", "Text": "#1f2328",
    "Button": "#ffffff", "ButtonText": "#1f2328", "BrightText": "#ffffff", "Light": "#ffffff",
    "Midlight": "#e5e7eb", "Mid": "#c9ced6", "Dark": "#9aa1ab", "Shadow": "#6b7280",
    "Highlight": ACCENT, "HighlightedText": "#ffffff", "Link": "#4f46e5", "LinkVisited": "#7c3aed",
}
_DARK = {
    "Window": "#1c1e22", "WindowText": "#e6e8eb", "Base": "#15171a", "AlternateBase": "#2a2d33",
    "ToolTipBase": "#2a2d33", "ToolTipText": "#e6e8eb", "PlaceholderText": "#8b929c", "Text": "#e6e8eb",
    "Button": "#2a2d33", "ButtonText": "#e6e8eb", "BrightText": "#ffffff", "Light": "#3a3e45",
    "Midlight": "#33363c", "Mid": "#43474f", "Dark": "#0f1113", "Shadow": "#000000",
    "Highlight": "#7483ff", "HighlightedText": "#ffffff", "Link": "#a5b4fc", "LinkVisited": "#c4b5fd",
}

_STYLE = """
QToolBar {{ border: none; spacing: 4px; padding: 4px 8px; }}
QToolButton {{ padding: 4px 6px; border-radius: 6px; }}
QToolButton:hover {{ background: {hover}; }}
QStatusBar {{ border-top: 1px solid {line}; }}
QMenu::separator {{ height: 1px; background: {line}; margin: 4px 10px; }}
QStatusBar::item {{ border: none; }}
QSplitter::handle {{ background: {line}; }}
QSplitter::handle:horizontal {{ width: 1px; }}
QSplitter::handle:vertical {{ height: 1px; }}
#sidebar {{ background: {side}; }}
#sidebar QListWidget {{ background: transparent; border: none; outline: none; }}
#sidebar QListWidget::item {{ padding: 6px 8px; border-radius: 6px; }}
#sidebar QListWidget::item:selected {{ background: {sel}; color: {text}; }}
#sidebar QListWidget::item:hover:!selected {{ background: {hover}; }}
#sectionTitle {{ color: {muted}; font-weight: 600; font-size: {small}pt; letter-spacing: 0.5px; }}
#muted {{ color: {muted}; }}
#heroTitle {{ font-size: {hero}pt; font-weight: 600; }}
#panelTitle {{ font-size: {title}pt; font-weight: 600; }}
#progressPanel {{ background: {side}; border-top: 1px solid {line}; }}
#queryFrame {{ background: {side}; border-radius: 10px; }}
QPushButton#primary {{ background: {accent}; color: white; border: none; border-radius: 8px;
    padding: 9px 20px; font-weight: 600; }}
QPushButton#primary:hover {{ background: {accent_hover}; }}
QPushButton#primary:focus {{ outline: none; border: 2px solid {focus}; }}
#dropHint {{ background: {drop_bg}; color: {accent}; border: 2px dashed {accent}; border-radius: 14px;
    font-size: {title}pt; font-weight: 600; }}
QProgressBar {{ border: none; border-radius: 4px; background: {track}; max-height: 8px; }}
QProgressBar::chunk {{ border-radius: 4px; background: {accent}; }}
QAbstractItemView::indicator, QCheckBox::indicator {{ width: 14px; height: 14px; border-radius: 3px; }}
QAbstractItemView::indicator:unchecked, QCheckBox::indicator:unchecked {{ border: 1px solid {box};
    background: {base}; }}
QAbstractItemView::indicator:checked, QCheckBox::indicator:checked {{ border: 1px solid {accent}; background: {accent};
    image: url("{check}"); }}
"""


def _check_image() -> str:
    """A white tick for ticked boxes (the style sheet needs a file), written once to the temp folder."""
    import tempfile
    from pathlib import Path

    from gui import resources

    path = Path(tempfile.gettempdir()) / f"simili-check-{os.getuid() if hasattr(os, 'getuid') else 0}.svg"
    data = resources.svg_text("check").replace(resources.INK, "#ffffff")
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != data:
            path.write_text(data, encoding="utf-8")
    except OSError:
        return ""
    return path.as_posix()


def is_dark(scheme: str = "auto") -> bool:
    """True when the dark palette applies (``scheme``: ``auto``, ``light`` or ``dark``)."""
    if scheme in ("light", "dark"):
        return scheme == "dark"
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, scheme: str = "auto") -> bool:
    """Set Fusion with our palette and style sheet; returns whether the dark palette was chosen."""
    dark = is_dark(scheme)
    app.setStyle("Fusion")
    colors = _DARK if dark else _LIGHT
    pal = QPalette()
    for role, value in colors.items():
        color = QColor(value)
        pal.setColor(getattr(QPalette.ColorRole, role), color)
    for role in ("Text", "WindowText", "ButtonText"):
        pal.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor(colors["PlaceholderText"]))
    app.setPalette(pal)
    base_pt = app.font().pointSizeF() if app.font().pointSizeF() > 0 else 10.0
    app.setStyleSheet(_STYLE.format(
        hover="#33363c" if dark else "#e8eaef", line="#2c2f35" if dark else "#e1e4e8",
        side="#202227" if dark else "#eef0f3", sel="#343846" if dark else "#dfe3ff", text=colors["Text"],
        muted="#9aa1ab" if dark else "#6b7280", accent=colors["Highlight"],
        accent_hover="#8390ff" if dark else "#4b5cf0", focus="#c7ceff" if dark else "#1e2a8a",
        track="#2f333a" if dark else "#e3e6eb", drop_bg="rgba(30, 32, 40, 225)" if dark else "rgba(246, 247, 255, 225)",
        box="#8b929c" if dark else "#8a919b", base=colors["Base"], check=_check_image(),
        small=f"{base_pt * 0.8:.1f}", hero=f"{base_pt * 1.9:.1f}", title=f"{base_pt * 1.25:.1f}",
    ))
    from gui import resources

    resources.clear_cache()
    return dark
