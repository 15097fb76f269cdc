"""The experiment panel's run controls: the Resume box, Start/Pause/Stop, the progress bar
with its ETA, the status line and the error banner, and the run's state.

The panel starts and stops the worker and routes its events here; these widgets only
show where a run stands. The state is one of "idle", "running", "paused", "stopping".
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from nets import runner, storage


def format_duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class EtaClock:
    """Estimates time left from steps done, not counting time spent paused."""

    def __init__(self):
        self.reset(0, 0)

    def reset(self, total: int, first: int) -> None:
        self.total, self.first, self.step = total, first, first
        self.t0 = time.monotonic()
        self.paused_since: float | None = None
        self.paused_total = 0.0

    def pause(self) -> None:
        if self.paused_since is None:
            self.paused_since = time.monotonic()

    def resume(self) -> None:
        if self.paused_since is not None:
            self.paused_total += time.monotonic() - self.paused_since
            self.paused_since = None

    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0

    def seconds_left(self) -> float | None:
        done = self.step - self.first
        if done <= 0:
            return None
        now = self.paused_since or time.monotonic()
        active = now - self.t0 - self.paused_total
        return active / done * (self.total - self.step)


class RunControls(QWidget):
    start_requested = Signal()
    pause_requested = Signal()  # pause, or resume a paused run
    stop_requested = Signal()

    def __init__(self, family, parent=None):
        """`family`: the family's declaration (nets.registry.Family)."""
        super().__init__(parent)
        self.family = family
        self.eta = EtaClock()
        self.state = "idle"
        self.epochs = 0  # of the current phase, once its first epoch has ended
        self._eta_shown = 0.0  # when the bar's ETA was last rewritten
        self._slot: storage.AutosaveSlot | None = None  # the autosaves the form trains into
        self.has_autosave = False

        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.resume_box = QCheckBox("Resume from autosave")
        self.resume_box.setToolTip("Continue the last run from its last autosaved epoch "
                                   "(autosaves are written after every epoch) with the "
                                   "settings it was trained with, up to the length set "
                                   "above.")
        v.addWidget(self.resume_box)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start training (F5)")
        self.start_button.clicked.connect(self.start_requested)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume training (F6)")
        self.pause_button.clicked.connect(self.pause_requested)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training and keep the model as it is (Shift+F5)")
        self.stop_button.clicked.connect(self.stop_requested)
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        v.addLayout(buttons)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        v.addWidget(self.progress)
        self.now_label = QLabel()  # the status line: what the run is doing, or did
        self.now_label.setWordWrap(True)
        v.addWidget(self.now_label)

        self.error_banner = QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setStyleSheet(
            "background: #5a1d1d; color: white; padding: 6px; border-radius: 4px")
        self.error_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_banner.hide()
        v.addWidget(self.error_banner)

    # ------------------------------------------------------------ state
    def set_state(self, state: str) -> None:
        self.state = state
        busy = state != "idle"
        self.start_button.setEnabled(not busy)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.resume_box.setEnabled(not busy and self.has_autosave)
        self._eta_shown = 0.0  # the next progress update rewrites the bar's text
        if state == "stopping":
            self.progress.setFormat("Stopping …")
        elif state == "paused":
            self.progress.setFormat("Paused · %p%")
        elif state == "running":
            self.progress.setFormat("%p%")

    def resume_wanted(self) -> bool:
        return self.resume_box.isChecked() and self.resume_box.isEnabled()

    # ------------------------------------------------------------ the Resume box
    def follow_config(self, config) -> None:
        """A setting that changes what the model is (a Q-learner's game) has its own
        autosaves: the Resume box follows the form."""
        slot = runner.autosave_slot(self.family.key, config)
        if self._slot is None or slot.folder != self._slot.folder:
            self.refresh_resume(config)

    def refresh_resume(self, config) -> None:
        self._slot = runner.autosave_slot(self.family.key, config)
        if not self.family.can_resume:
            self.has_autosave = False
            self.resume_box.setChecked(False)
            self.resume_box.hide()  # autosaves are still written, for a later version
            return
        variant = f" of {self._slot.variant}" if self._slot.variant else ""
        try:
            found = self._slot.latest()
        except storage.AutosaveUnreadable as exc:
            found = None
            self.resume_box.setText(f"Resume from autosave{variant} (it cannot be read)")
            self.resume_box.setToolTip(str(exc))
        else:
            self.resume_box.setToolTip(
                "Continue the last run from its last autosave with the settings it was "
                "trained with, up to the length set above.")
            if found:
                self.resume_box.setText(f"Resume from autosave{variant} ({found.where})")
            else:
                self.resume_box.setText(f"Resume from autosave{variant} (none yet)")
        self.has_autosave = found is not None
        if not found:
            self.resume_box.setChecked(False)
        self.resume_box.setEnabled(self.has_autosave and self.state == "idle")

    # ------------------------------------------------------------ progress
    def clear_progress(self) -> None:
        """Before a run starts."""
        self.progress.setValue(0)
        self.eta.reset(0, 0)

    def phase_started(self, total_steps: int, first_step: int, description: str) -> None:
        """A run, or the next phase of a run, began."""
        self.eta.reset(total_steps, first_step)
        self.epochs = 0
        self._eta_shown = 0.0  # rewrite the bar's text at once
        self.now_label.setText(description)

    def step_reached(self, step: int) -> None:
        self.eta.step = step

    def epoch_ended(self, epoch: int, epochs: int) -> None:
        self.epochs = epochs
        self.eta.step = max(self.eta.step, (epoch + 1) * self.eta.total // max(epochs, 1))

    def show_progress(self) -> None:
        # Each change repaints the bar at once (about 1.5 ms here): per mille steps and a
        # once-a-second ETA keep that off the training's back.
        self.progress.setValue(int(self.eta.fraction() * 1000))
        now = time.monotonic()
        if self.state != "running" or now - self._eta_shown < 1.0:
            return
        self._eta_shown = now
        left = self.eta.seconds_left()
        eta = f" · {format_duration(left)} left" if left is not None else ""
        epoch = ""
        if self.epochs and self.eta.total:
            per_epoch = self.eta.total / self.epochs
            epoch = f"Epoch {min(int(self.eta.step // per_epoch) + 1, self.epochs)}/" \
                    f"{self.epochs} · "
        self.progress.setFormat(f"{epoch}%p%{eta}")

    def show_done(self, done) -> None:
        """How a run ended (a nets.progress.Done), once the state is idle again."""
        self.progress.setFormat({"finished": "Done · %p%", "stopped": "Stopped · %p%",
                                 "failed": "Failed"}[done.status])
        if done.status == "finished":
            self.progress.setValue(1000)
        # the description of the last phase ("Step 3 of 3 ...") would be stale now
        self.now_label.setText(done.headline or done.message)

    # ------------------------------------------------------------ problems
    def show_error(self, text: str) -> None:
        self.error_banner.setText(text)
        self.error_banner.show()

    def hide_error(self) -> None:
        self.error_banner.hide()
