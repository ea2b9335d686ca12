"""The progress area: what runs now (step, count, rate, ETA, training loss and device), with Pause and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from engine.types import Progress
from gui.resources import icon

__all__ = ["ProgressPanel", "describe_progress", "human_duration"]

STAGES = {
    "scan": "Looking for photos",
    "encode": "Reading photos",
    "codes": "Fitting search codes",
    "index": "Updating the search index",
    "train": "Training DistillHash",
    "export": "Exporting the trained model",
    "reencode": "Re-encoding the library with the trained model",
}
UNITS = {"scan": "files", "encode": "photos", "reencode": "photos", "train": "steps"}


def human_duration(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{round(s / 60)} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def describe_progress(p: Progress) -> tuple[str, str]:
    """(title, detail line) of one progress step, for people."""
    title = STAGES.get(p.stage, p.stage.capitalize())
    parts = []
    unit = UNITS.get(p.stage, "")
    if p.total:
        parts.append(f"{p.done:,} of {p.total:,} {unit}".strip())
    elif p.done:
        parts.append(f"{p.done:,} {unit}".strip())
    if p.metrics:
        if "epoch" in p.metrics:
            ep = int(p.metrics["epoch"])
            total = p.metrics.get("epochs")
            parts.append(f"epoch {ep}/{int(total)}" if total else f"epoch {ep}")
        if "loss" in p.metrics:
            parts.append(f"loss {p.metrics['loss']:.4f}")
    if p.rate:
        parts.append(f"{p.rate:,.1f} {unit or 'items'}/s")
    if p.eta_s is not None and p.eta_s > 0.5:
        parts.append(f"about {human_duration(p.eta_s)} left")
    detail = " · ".join(parts)
    if p.message and not parts:
        detail = p.message
    return title, detail


class ProgressPanel(QWidget):
    """Shown while a job runs (and for quiet notes about training); hidden when there is nothing to say.

    Signals:
        pause_requested, cancel_requested, train_requested, dismissed.
    """

    pause_requested = Signal()
    cancel_requested = Signal()
    train_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.title = QLabel()
        self.title.setObjectName("panelTitle")
        self.detail = QLabel()
        self.detail.setObjectName("muted")
        self.device = QLabel()
        self.device.setObjectName("muted")
        self.device.setWordWrap(True)
        self.device.hide()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.pause_button = self._button("pause", "Pause", "Pause training: it resumes from where it stopped next time")
        self.cancel_button = self._button("cancel", "Cancel", "Stop this job")
        self.train_button = self._button("train", "Train now", "Train DistillHash on this library")
        self.close_button = self._button("cancel", "Dismiss", "Hide this note")
        self.pause_button.clicked.connect(self.pause_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.train_button.clicked.connect(self.train_requested)
        self.close_button.clicked.connect(self.hide)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addWidget(self.device)
        row = QHBoxLayout()
        row.addLayout(text, 1)
        for b in (self.train_button, self.pause_button, self.cancel_button, self.close_button):
            row.addWidget(b, 0, Qt.AlignmentFlag.AlignVCenter)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 10, 16, 12)
        outer.setSpacing(8)
        outer.addLayout(row)
        outer.addWidget(self.bar)
        self.kind: str | None = None
        self._show_buttons()
        self.hide()

    def _button(self, icon_name: str, text: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon(icon_name))
        b.setText(text)
        b.setToolTip(tip)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        b.setAccessibleName(text)
        return b

    def _show_buttons(self, note: bool = False) -> None:
        running = self.kind is not None
        self.pause_button.setVisible(self.kind == "train")
        self.cancel_button.setVisible(running)
        self.train_button.setVisible(False)
        self.close_button.setVisible(note and not running)
        self.bar.setVisible(running)

    # -- slots ---------------------------------------------------------------------------------------
    def on_job_started(self, kind: str) -> None:
        self.kind = kind
        self.title.setText("Training DistillHash" if kind == "train" else "Indexing your photos")
        self.detail.setText("Starting…")
        if kind != "train":
            self.device.hide()
        else:
            self.device.setText("Checking for a GPU…")
            self.device.show()
        self.bar.setRange(0, 0)
        self._show_buttons()
        self.show()

    def on_progress(self, kind: str, p: Progress) -> None:
        title, detail = describe_progress(p)
        self.title.setText(title)
        self.detail.setText(detail)
        if p.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(p.done, p.total) / p.total))
        else:
            self.bar.setRange(0, 0)

    def on_device_known(self, gpu: bool, why: str) -> None:
        if gpu:
            self.device.setText(f"Training on the GPU ({why.removeprefix('GPU: ')})")
        else:
            self.device.setText(f"Training on the CPU: GPU training is unavailable — {why}")
        self.device.setToolTip(why)
        self.device.show()

    def on_job_ended(self, kind: str, outcome: str, payload: object) -> None:
        self.kind = None
        if kind == "train" and outcome == "paused":
            self.title.setText("Training paused")
            self.detail.setText("The progress so far is kept; training resumes from it when you start it again.")
            self._show_buttons(note=True)
            self.train_button.setText("Resume training")
            self.train_button.setVisible(True)
            return
        if kind == "train" and outcome == "done":
            if getattr(payload, "active", True):
                self.title.setText("Training finished")
                self.detail.setText("Searches now use the DistillHash codes trained on your photos.")
            else:  # the label-free check found no improvement: search is unchanged (engine.train_check)
                self.title.setText("Training made no difference")
                self.detail.setText("What was learned did not find similar photos better than before, so searches "
                                    "keep the codes they had. Nothing else changed.")
            self._show_buttons(note=True)
            return
        self.hide()

    def on_training_note(self, text: str) -> None:
        if self.kind is not None:
            return
        self.title.setText("Searching with training-free codes")
        self.detail.setText(f"DistillHash training did not start: {text}")
        self.device.hide()
        self._show_buttons(note=True)
        self.show()
