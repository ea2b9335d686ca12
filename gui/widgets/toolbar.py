"""A toolbar that keeps every button in view: when the window is too narrow for the buttons' words, the least
needed ones show only their icon (their name stays in the tooltip), instead of falling into an overflow menu."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar, QToolButton, QWidget

__all__ = ["FittingToolBar"]


class FittingToolBar(QToolBar):
    """Buttons show text beside their icon while it fits; ``compact_order`` says whose words go first."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.compact_order: list[QAction] = []
        self.compact_level = 0  # how many of compact_order show only their icon
        self._fitting = False

    def _buttons(self) -> list[QToolButton]:
        out = []
        for act in self.compact_order:
            button = self.widgetForAction(act)
            if isinstance(button, QToolButton):
                out.append(button)
        return out

    def _needed(self) -> int:
        self.layout().invalidate()
        return self.layout().sizeHint().width()

    def fit(self) -> None:
        """Drop words from the buttons, one at a time in ``compact_order``, until the bar fits its width."""
        if self._fitting or not self.compact_order:
            return
        self._fitting = True
        try:
            buttons = self._buttons()
            level = 0
            for level in range(len(buttons) + 1):
                for i, button in enumerate(buttons):
                    style = Qt.ToolButtonStyle.ToolButtonIconOnly if i < level else \
                        Qt.ToolButtonStyle.ToolButtonTextBesideIcon
                    if button.toolButtonStyle() != style:
                        button.setToolButtonStyle(style)
                if self._needed() <= self.width():
                    break
            self.compact_level = level
        finally:
            self._fitting = False

    def resizeEvent(self, event) -> None:
        self.fit()
        super().resizeEvent(event)

    def showEvent(self, event) -> None:
        self.fit()
        super().showEvent(event)
