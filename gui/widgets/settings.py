"""The Settings dialog: code length, training device, thresholds, auto-training, excluded folders, library place."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
    QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from engine.types import Settings
from gui.resources import icon

__all__ = ["SettingsDialog"]

DEVICES = (("auto", "Automatic (GPU when there is one)"), ("cuda", "GPU (CUDA)"), ("cpu", "CPU"))
THEMES = (("auto", "Follow the system"), ("light", "Light"), ("dark", "Dark"))


class SettingsDialog(QDialog):
    """Edits a copy of the engine's settings plus two GUI choices (library place, theme).

    Args:
        settings: the current settings (not modified).
        home: the library folder in use.
        theme: ``auto``, ``light`` or ``dark``.
        gpu_probe: optional callable starting a background GPU check; returns a worker whose ``returned``
            gives ``(ok, text)``.
    """

    def __init__(self, settings: Settings, home: str, theme: str = "auto", gpu_probe=None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._original = settings
        self._home = home

        self.bits = QComboBox()
        for b in (16, 32, 64, 128):
            self.bits.addItem(f"{b} bits", b)
        self.bits.setCurrentIndex([16, 32, 64, 128].index(settings.bits))
        self.bits.setToolTip("Longer codes tell photos apart better and use more memory. "
                             "Changing it fits new codes (and trains a new model) for the whole library.")
        self.device = QComboBox()
        for key, label in DEVICES:
            self.device.addItem(label, key)
        self.device.setCurrentIndex([k for k, _ in DEVICES].index(settings.device))
        self.gpu_label = QLabel("Checking for a GPU…" if gpu_probe else "")
        self.gpu_label.setObjectName("muted")
        self.gpu_label.setWordWrap(True)
        self.auto_train = QCheckBox("Train DistillHash by itself after indexing")
        self.auto_train.setChecked(settings.auto_train)
        self.auto_train.setToolTip("Learns codes from your own photos for better results; runs in the background")
        self.min_photos = QSpinBox()
        self.min_photos.setRange(50, 10_000_000)
        self.min_photos.setSingleStep(100)
        self.min_photos.setValue(settings.auto_train_min_photos)
        self.min_photos.setSuffix(" photos")
        codes = QGroupBox("Codes and training")
        cf = QFormLayout(codes)
        cf.addRow("Code length:", self.bits)
        cf.addRow("Training device:", self.device)
        cf.addRow("", self.gpu_label)
        cf.addRow(self.auto_train)
        cf.addRow("Train once the library has:", self.min_photos)

        self.similar = self._percent(settings.similar_max_distance,
                                     "Loosest match shown as similar, as a share of the code length")
        self.similar_k = QSpinBox()
        self.similar_k.setRange(5, 1000)
        self.similar_k.setValue(settings.similar_k)
        self.similar_k.setToolTip("How many neighbours a search returns at most")
        self.dupes = self._percent(settings.dupe_max_distance,
                                   "Largest code difference for two photos to count as duplicates (stricter)")
        self.dupe_cos = QDoubleSpinBox()
        self.dupe_cos.setRange(0.5, 1.0)
        self.dupe_cos.setSingleStep(0.01)
        self.dupe_cos.setDecimals(2)
        self.dupe_cos.setValue(settings.dupe_min_cosine)
        self.dupe_cos.setToolTip("How alike the image features of two duplicates must be (1.00 = identical)")
        thresholds = QGroupBox("Thresholds")
        tf = QFormLayout(thresholds)
        tf.addRow("Similar photos: up to", self.similar)
        tf.addRow("Results per search:", self.similar_k)
        tf.addRow("Duplicates: up to", self.dupes)
        tf.addRow("Duplicates: feature similarity ≥", self.dupe_cos)

        self.excluded = QListWidget()
        self.excluded.addItems(settings.excluded)
        self.excluded.setMaximumHeight(90)
        self.excluded.setToolTip("Folders that are never scanned, even inside library folders")
        add_ex = QPushButton(icon("folder-add"), "Exclude a folder…")
        add_ex.clicked.connect(self.on_add_excluded)
        rm_ex = QPushButton(icon("folder-remove"), "Remove")
        rm_ex.clicked.connect(lambda: [self.excluded.takeItem(self.excluded.row(i))
                                       for i in self.excluded.selectedItems()])
        ex_buttons = QHBoxLayout()
        ex_buttons.addWidget(add_ex)
        ex_buttons.addWidget(rm_ex)
        ex_buttons.addStretch(1)
        self.home_edit = QLineEdit(home)
        self.home_edit.setReadOnly(True)
        self.home_edit.setToolTip("Where the catalog, codes and models are stored (never inside your photo folders)")
        move = QPushButton("Change…")
        move.clicked.connect(self.on_change_home)
        home_row = QHBoxLayout()
        home_row.addWidget(self.home_edit, 1)
        home_row.addWidget(move)
        self.theme = QComboBox()
        for key, label in THEMES:
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, [k for k, _ in THEMES].index(theme) if theme in dict(THEMES) else 0))
        library = QGroupBox("Library")
        lf = QFormLayout(library)
        lf.addRow("Excluded folders:", self.excluded)
        lf.addRow("", ex_buttons)
        lf.addRow("Library location:", home_row)
        self.home_note = QLabel("")
        self.home_note.setObjectName("muted")
        lf.addRow("", self.home_note)
        lf.addRow("Appearance:", self.theme)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #d13438")
        layout = QVBoxLayout(self)
        layout.addWidget(codes)
        layout.addWidget(thresholds)
        layout.addWidget(library)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        if gpu_probe is not None:
            worker = gpu_probe()
            worker.returned.connect(self.on_gpu_status)
            worker.errored.connect(lambda exc: self.gpu_label.setText(f"GPU check failed: {exc}"))

    def _percent(self, value: float, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(0, 100)
        spin.setSuffix(" % of the bits differ")
        spin.setValue(int(round(value * 100)))
        spin.setToolTip(tip)
        return spin

    # -- results -------------------------------------------------------------------------------------
    def result_settings(self) -> Settings:
        return dataclasses.replace(
            self._original,
            bits=int(self.bits.currentData()),
            device=str(self.device.currentData()),
            similar_k=self.similar_k.value(),
            similar_max_distance=self.similar.value() / 100,
            dupe_max_distance=self.dupes.value() / 100,
            dupe_min_cosine=round(self.dupe_cos.value(), 2),
            auto_train=self.auto_train.isChecked(),
            auto_train_min_photos=self.min_photos.value(),
            excluded=[self.excluded.item(i).text() for i in range(self.excluded.count())],
        )

    def chosen_home(self) -> str:
        return self.home_edit.text()

    def chosen_theme(self) -> str:
        return str(self.theme.currentData())

    def accept(self) -> None:
        try:
            self.result_settings().validate()
        except ValueError as exc:
            self.error_label.setText(str(exc).capitalize())
            return
        super().accept()

    # -- slots ---------------------------------------------------------------------------------------
    def on_gpu_status(self, status: tuple[bool, str]) -> None:
        ok, text = status
        self.gpu_label.setText(text if ok else f"GPU training is unavailable: {text}")

    def on_add_excluded(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Exclude a folder")
        if path:
            self.excluded.addItem(path)

    def on_change_home(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Where should the library live?", self._home)
        if path:
            self.home_edit.setText(path)
            self.home_note.setText("Simili opens the library there the next time it starts.")
