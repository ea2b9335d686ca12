"""The first-run empty state: one obvious action, "Add photo folder"."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from gui.resources import app_icon, icon

__all__ = ["WelcomePage"]


class WelcomePage(QWidget):
    """Signals: add_folder_requested()."""

    add_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        art = QLabel()
        art.setPixmap(app_icon().pixmap(112, 112))
        art.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Find photos that look alike")
        title.setObjectName("heroTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("Add a folder of photos. Simili reads them once, then finds similar photos\n"
                      "and duplicates in an instant — even across 100,000 photos.")
        text.setObjectName("muted")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(icon("folder-add", "#ffffff"), "  Add photo folder…")
        self.button.setObjectName("primary")
        self.button.setDefault(True)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.setToolTip("Choose a folder of photos to add to the library (Ctrl+O)")
        self.button.clicked.connect(self.add_folder_requested)
        hint = QLabel("or drop folders anywhere on this window")
        hint.setObjectName("muted")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        note = QLabel("Works offline. Your photos are never moved, changed or uploaded.")
        note.setObjectName("muted")
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.addStretch(3)
        layout.addWidget(art)
        layout.addSpacing(10)
        layout.addWidget(title)
        layout.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(18)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(hint)
        layout.addStretch(4)
        layout.addWidget(note)
        layout.addSpacing(8)
        self.setFocusProxy(self.button)
