"""The progress area: what runs now (step, photos done, time left, where learning runs), with Pause and Cancel.

It speaks in photos and time: learning shows how many photos it studies and how long is left, never its
internal steps, epochs or loss.
"""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from engine.types import PERCENT_STAGES, STAGE_TITLES, STAGE_UNITS, Progress, stage_title
from gui.resources import icon

__all__ = ["ProgressPanel", "describe_progress", "human_duration"]

STAGES = STAGE_TITLES  # one wording for the CLI's bars and this panel (engine.types)
UNITS = STAGE_UNITS


def human_duration(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{round(s / 60)} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def describe_progress(p: Progress, photos: int | None = None) -> tuple[str, str]:
    """(title, detail line) of one progress step, for people (``photos``: how many a learning run studies)."""
    title = stage_title(p.stage)
    parts = []
    unit = UNITS.get(p.stage, "")
    if p.stage == "train" and photos:
        parts.append(f"studying {photos:,} photo{'s' if photos != 1 else ''}")
    if p.total and p.stage in PERCENT_STAGES:
        parts.append(f"{100 * min(p.done, p.total) // p.total}% done")
    elif p.total:
        parts.append(f"{p.done:,} of {p.total:,} {unit}".strip())
    elif p.done and unit:
        parts.append(f"{p.done:,} {unit}")
    if p.rate and unit == "photos":
        parts.append(f"{p.rate:,.0f} photos a second")
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
        self.train_button = self._button("train", "Learn now", "Learn from the photos of this library")
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
        self.photos: int | None = None  # how many photos learning studies (set by the window)
        self._last: tuple[str, Progress, float] | None = None  # (kind, progress, when): the time left counts down
        self._tick = QTimer(self)  # between reports (finding each photo's neighbours reports only when done)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count_down)
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
        self.title.setText(STAGES["train"] if kind == "train" else "Indexing your photos")
        self.detail.setText("Starting…")
        if kind != "train":
            self.device.hide()
        else:
            self.device.setText("Checking for a graphics card…")
            self.device.show()
        self.bar.setRange(0, 0)
        self._show_buttons()
        self.show()

    def show_pausing(self) -> None:
        """Immediate feedback for Pause: learning stops at its next safe point, which takes a few seconds."""
        if self.kind == "train":
            self.title.setText("Pausing…")
            self.detail.setText("Keeping what was learned so far; learning continues from here next time.")
            self.pause_button.setEnabled(False)
            self.bar.setRange(0, 0)

    def on_progress(self, kind: str, p: Progress) -> None:
        if kind == "train" and not self.pause_button.isEnabled():
            return  # pausing: keep saying so until the job has stopped
        self._last = (kind, p, time.monotonic())
        self._show(kind, p)
        if p.eta_s is not None and not self._tick.isActive():
            self._tick.start()

    def _show(self, kind: str, p: Progress) -> None:
        title, detail = describe_progress(p, self.photos if kind == "train" else None)
        self.title.setText(title)
        self.detail.setText(detail)
        if p.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(p.done, p.total) / p.total))
        else:
            self.bar.setRange(0, 0)

    def _count_down(self) -> None:
        """The time left, one second less each second until the job says more (never below a second)."""
        if self.kind is None or self._last is None or self._last[1].eta_s is None:
            self._tick.stop()
            return
        if not self.pause_button.isEnabled():
            return
        kind, p, when = self._last
        self._show(kind, replace(p, eta_s=max(p.eta_s - (time.monotonic() - when), 1.0)))

    def on_device_known(self, gpu: bool, why: str) -> None:
        if gpu:
            self.device.setText(f"Learning on the graphics card ({why.removeprefix('GPU: ')})")
        else:
            self.device.setText("Learning on the processor (no usable graphics card); search keeps working "
                                "meanwhile.")
        self.device.setToolTip(why)
        self.device.show()

    def on_job_ended(self, kind: str, outcome: str, payload: object) -> None:
        self.kind = None
        self._tick.stop()
        self._last = None
        self.pause_button.setEnabled(True)
        self.device.hide()  # said while learning ran; a finished note is one short line, not a banner
        if kind == "train" and outcome == "paused":
            self.title.setText("Learning paused")
            self.detail.setText("What was learned so far is kept; learning continues from there next time.")
            self._show_buttons(note=True)
            self.train_button.setText("Continue learning")
            self.train_button.setVisible(True)
            return
        if kind == "train" and outcome == "done":
            active = getattr(payload, "active", True)
            # the label-free check's verdict, in photos (engine.types.ModelInfo.outcome)
            self.title.setText("Learning finished" if active else "Learning made no difference")
            self.detail.setWordWrap(True)
            self.detail.setText(payload.outcome() if hasattr(payload, "outcome") else
                                "Searches now use what Simili learned from your photos." if active else
                                "Searches stay as they were. Nothing else changed.")
            self._show_buttons(note=True)
            return
        self.hide()

    def on_training_note(self, text: str) -> None:
        if self.kind is not None:
            return
        self.title.setText("Search works; learning from your photos did not start")
        self.detail.setText(text)
        self.device.hide()
        self._show_buttons(note=True)
        self.show()
