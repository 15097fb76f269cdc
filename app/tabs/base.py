"""What every family tab shares: the experiment panel filling the tab, an About page, and
background runners that are all stopped when the window closes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.widgets.experiment_panel import ExperimentPanel
from app.worker import LatestOnly


class FamilyTab(QWidget):
    def __init__(self, family_key: str, parent=None):
        super().__init__(parent)
        self.panel = ExperimentPanel(family_key)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        self.runners: list[LatestOnly] = []

    def runner(self, name: str, on_result) -> LatestOnly:
        """A background runner for this tab's short jobs; its failures go to the log."""
        r = LatestOnly(name, self)
        r.result.connect(on_result)
        r.failed.connect(self._job_failed)
        self.runners.append(r)
        return r

    def add_about(self, html: str) -> None:
        """The About page: the text scrolls when the window is too small to show it all."""
        about = QLabel(html)
        about.setObjectName("about_text")
        about.setTextFormat(Qt.TextFormat.RichText)
        about.setWordWrap(True)
        about.setAlignment(Qt.AlignmentFlag.AlignTop)
        about.setMargin(12)
        page = QScrollArea()
        page.setWidgetResizable(True)
        page.setFrameShape(QFrame.Shape.NoFrame)
        page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page.setWidget(about)
        self.panel.add_view(page, "About", "What am I looking at?")

    def _job_failed(self, _tag, text: str) -> None:
        self.panel.log_message(f"Background computation failed: {text}")

    def shutdown(self) -> bool:
        """Stop training and background work (window closing). True when all has ended."""
        ended = self.panel.shutdown()
        for r in self.runners:
            r.shutdown()
        self.panel.save_settings()
        return ended
