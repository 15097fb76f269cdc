"""The page the app opens on the first time: what each tab teaches and where to begin."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser

from app import APP_NAME

START = ("New to all this? Two things to try in your first minute, one click each:")
AFTER = ("The tabs below follow the course, from a single neuron to a generator that "
         "learns to draw digits, and images made to fool a classifier.")


def _demos(titles: list[str]) -> str:
    if not titles:
        return ""
    return "<br><i>Ready to try without training: " + ", ".join(map(escape, titles)) + \
        " (Load pretrained).</i>"


class WelcomePage(QTextBrowser):
    """Lists the tabs (title and what it teaches); a click on one opens it."""

    open_tab = Signal(int)  # position of the tab in `entries`
    quick_start = Signal(int)  # position in `quick`

    def __init__(self, entries: list[tuple[str, str, list[str]]],
                 quick: list[str] = (), parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._clicked)
        self.document().setDefaultStyleSheet("body { font-size: 11pt; } "
                                             "li { margin-bottom: 8px; }")
        self.document().setDocumentMargin(24)
        items = "".join(f'<li><a href="tab:{i}"><b>{escape(title)}</b></a>: '
                        f"{escape(summary)}{_demos(demos)}</li>"
                        for i, (title, summary, demos) in enumerate(entries))
        starts = "".join(f'<li><a href="quick:{i}"><b>{escape(words)}</b></a></li>'
                         for i, words in enumerate(quick))
        start = f"<p>{START}</p><ol>{starts}</ol><p>{AFTER}</p>" if starts else \
            f"<p>{AFTER}</p>"
        self.setHtml(  # a column of readable width, however wide the window
            '<table width="820"><tr><td>'
            f"<h2>Welcome to {APP_NAME}</h2>"
            "<p>Each tab trains a real neural network (or its ancestors) on your computer, "
            "shows what it learns while it learns, and lets you try it on your own input. "
            "Everything works offline on the data that comes with the app.</p>"
            f"{start}"
            f"<h3>The tabs</h3><ul>{items}</ul>"
            "<p>In every tab: hover over a setting to see what it does; the <b>About</b> "
            "page beside the views says what you are looking at, names the papers behind "
            "it and suggests what to try; <b>Save model…</b> keeps "
            "what you trained; <b>Load pretrained</b>, where a tab has it, opens a model "
            "this project trained for you, ready at once. This page stays here as the "
            "first tab.</p>"
            "</td></tr></table>")

    def _clicked(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("tab:"):
            self.open_tab.emit(int(text[4:]))
        elif text.startswith("quick:"):
            self.quick_start.emit(int(text[6:]))
