"""The Settings dialog in a photographer's terms: how similar results must be, how many, duplicates, learning from
the photos, folders, appearance; the technical knobs (search detail, tolerances) sit in a collapsed "Advanced" group."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox,
    QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from engine.types import Settings
from gui.resources import icon

__all__ = ["SettingsDialog"]

DEVICES = (("auto", "Automatic (graphics card when there is one)"), ("cuda", "Graphics card (NVIDIA)"),
           ("cpu", "Processor"))
DETAIL = ((16, "Compact"), (32, "Small"), (64, "Standard (recommended)"), (128, "Fine"))
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
                 parent: QWidget | None = None, strictness: int | None = None):
        super().__init__(parent)
        from gui.widgets.similar import DEFAULT_STRICTNESS, STRICTNESS

        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._original = settings
        self._home = home

        self.strictness = QComboBox()
        for low, what in STRICTNESS:
            self.strictness.addItem(what[0].upper() + what[1:] + (f" ({low:.0f}% and more)" if low else ""))
        self.strictness.setCurrentIndex(DEFAULT_STRICTNESS if strictness is None else int(strictness))
        self.strictness.setToolTip("The Strict / Loose control of the similar photos panel starts here")
        self.bits = QComboBox()
        for b, label in DETAIL:
            self.bits.addItem(label, b)
        self.bits.setCurrentIndex([b for b, _ in DETAIL].index(settings.bits))
        self.bits.setToolTip("More detail tells similar photos apart better and uses a little more memory. "
                             "Changing it prepares the whole library again (and learns again).")
        self.device = QComboBox()
        for key, label in DEVICES:
            self.device.addItem(label, key)
        self.device.setCurrentIndex([k for k, _ in DEVICES].index(settings.device))
        self.gpu_label = QLabel("Checking for a GPU…" if gpu_probe else "")
        self.gpu_label.setObjectName("muted")
        self.gpu_label.setWordWrap(True)
        self.auto_train = QCheckBox("Learn from my photos by itself after adding photos")
        self.auto_train.setChecked(settings.auto_train)
        self.auto_train.setToolTip("Learns what makes your photos alike, for closer matches; runs in the background")
        self.min_photos = QSpinBox()
        self.min_photos.setRange(50, 10_000_000)
        self.min_photos.setSingleStep(100)
        self.min_photos.setValue(settings.auto_train_min_photos)
        self.min_photos.setSuffix(" photos")
        learning = QGroupBox("Learning from my photos")
        cf = QFormLayout(learning)
        cf.addRow(self.auto_train)
        cf.addRow("Start once the library has:", self.min_photos)
        cf.addRow("Learn on:", self.device)
        cf.addRow("", self.gpu_label)

        self.similar_k = QSpinBox()
        self.similar_k.setRange(5, 1000)
        self.similar_k.setSuffix(" photos")
        self.similar_k.setValue(settings.similar_k)
        self.similar_k.setToolTip("How many similar photos a search shows at most")
        searching = QGroupBox("Similar photos")
        tf = QFormLayout(searching)
        tf.addRow("Show photos that are:", self.strictness)
        tf.addRow("Show at most:", self.similar_k)

        self.similar = self._percent(settings.similar_max_distance, " different",
                                     "How different a photo may be and still be considered at all")
        self.dupes = self._percent(settings.dupe_max_distance, " different",
                                   "How different two copies of a photo may be (resized, recompressed, cropped). "
                                   "Higher finds more edited copies, and more photos that are not copies.")
        self.dupe_cos = self._percent(settings.dupe_min_cosine, " alike",
                                      "How alike two copies must look to count as duplicates (100% = identical)")
        self.dupe_cos.setRange(50, 100)
        self.advanced = QGroupBox("Advanced")
        self.advanced.setCheckable(True)  # unticked: collapsed
        self.advanced.setChecked(False)
        self.advanced_body = QWidget()
        af = QFormLayout(self.advanced_body)
        af.setContentsMargins(0, 0, 0, 0)
        af.addRow("Search detail:", self.bits)
        af.addRow("Farthest match considered:", self.similar)
        af.addRow("Duplicates may be up to:", self.dupes)
        af.addRow("Duplicates must look at least:", self.dupe_cos)
        QVBoxLayout(self.advanced).addWidget(self.advanced_body)
        self.advanced_body.setVisible(False)
        self.advanced.toggled.connect(self.advanced_body.setVisible)

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
        self.watch = QCheckBox("Notice new and changed photos in my folders by itself")
        self.watch.setChecked(settings.watch_folders)
        self.watch.setToolTip("While Simili is open, photos copied into your folders become searchable within "
                              "seconds; when off, use Rescan folders (F5)")
        self.home_edit = QLineEdit(home)
        self.home_edit.setReadOnly(True)
        self.home_edit.setToolTip("Where Simili keeps what it knows about your photos "
                                  "(never inside your photo folders)")
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
        lf.addRow(self.watch)
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
        layout.addWidget(searching)
        layout.addWidget(learning)
        layout.addWidget(library)
        layout.addWidget(self.advanced)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        if gpu_probe is not None:
            worker = gpu_probe()
            worker.returned.connect(self.on_gpu_status)
            worker.errored.connect(lambda exc: self.gpu_label.setText(f"GPU check failed: {exc}"))

    def _percent(self, value: float, suffix: str, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(0, 100)
        spin.setSuffix(f"%{suffix}")
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
            dupe_min_cosine=self.dupe_cos.value() / 100,
            auto_train=self.auto_train.isChecked(),
            auto_train_min_photos=self.min_photos.value(),
            excluded=[self.excluded.item(i).text() for i in range(self.excluded.count())],
            watch_folders=self.watch.isChecked(),
        )

    def chosen_home(self) -> str:
        return self.home_edit.text()

    def chosen_theme(self) -> str:
        return str(self.theme.currentData())

    def chosen_strictness(self) -> int:
        return self.strictness.currentIndex()

    def accept(self) -> None:
        try:
            self.result_settings().validate()
        except ValueError:
            self.advanced.setChecked(True)
            self.error_label.setText("Duplicates cannot be more different than the farthest match considered "
                                     "(see Advanced).")
            return
        super().accept()

    # -- slots ---------------------------------------------------------------------------------------
    def on_gpu_status(self, status: tuple[bool, str]) -> None:
        ok, text = status
        self.gpu_label.setText(f"Graphics card found: {text}" if ok else "No usable graphics card: learning uses "
                               "the processor (slower, still fine).")
        self.gpu_label.setToolTip(text)

    def on_add_excluded(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Exclude a folder")
        if path:
            self.excluded.addItem(path)

    def on_change_home(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Where should the library live?", self._home)
        if path:
            self.home_edit.setText(path)
            self.home_note.setText("Simili opens the library there the next time it starts.")
