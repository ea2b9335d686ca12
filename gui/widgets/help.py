"""The Help menu: keyboard shortcuts, a short "how it works" page, and About."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QMenu, QMessageBox, QTextBrowser, QVBoxLayout

from engine.types import CLOSE_MATCH, SIMILARITY_LEVELS

__all__ = ["build_help_menu", "shortcuts_html", "how_it_works_html", "HelpDialog"]

EXTRA_KEYS = (("Enter", "Find photos like the selected one"), ("Space", "Open the selected photo large"),
              ("Arrow keys", "Move between photos"), ("Esc", "Close the similar photos panel"),
              ("Y / N", "Yes / no: does the selected proposal show the name?"))


def shortcuts_html(actions: list[QAction]) -> str:
    """A table of every menu shortcut of the window plus the keys of the photo grid."""
    rows, seen = [], set()
    for act in actions:
        keys = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        name = act.text().replace("&", "").rstrip("…")
        if keys and (keys, name) not in seen:
            seen.add((keys, name))
            rows.append((keys, name))
    rows += [k for k in EXTRA_KEYS if k[0] not in {r[0] for r in rows}]
    cells = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>&nbsp;&nbsp;{html.escape(v)}</td></tr>"
                    for k, v in rows)
    return f"<h3>Keyboard shortcuts</h3><table>{cells}</table>"


def how_it_works_html() -> str:
    levels = "".join(f"<li><b>{name}</b>: {low:.0f}% and more</li>" if low else f"<li><b>{name}</b>: below "
                     f"{SIMILARITY_LEVELS[-2][0]:.0f}%</li>" for low, name in SIMILARITY_LEVELS)
    return (
        "<h3>How Simili works</h3>"
        "<p><b>1. It looks at each photo once.</b> When you add a folder, Simili reads every photo and notes what it "
        "shows: shapes, colours, textures, the kind of thing in it. Your photos are only read, never changed, "
        "and nothing leaves your computer. While Simili is open, photos you copy into your folders are added by "
        "themselves within seconds.</p>"
        "<p><b>2. Click a photo to find the ones most like it.</b> You can also drop or paste any picture. "
        "Results come most similar first; the badge on each says how similar it is:</p>"
        f"<ul>{levels}</ul>"
        f"<p>When nothing reaches {CLOSE_MATCH:.0f}%, Simili says there is <b>no close match</b> and still shows "
        "the nearest few. The <b>Strict / Loose</b> control chooses how similar a photo must be to be shown.</p>"
        "<p><b>Or type what you are looking for</b> in the search box (Ctrl+L): <i>dog</i>, <i>shoes</i>, "
        "<i>fruit</i>, <i>red car</i>. Simili knows the thousand kinds of things its image model was taught "
        "(animals, clothes, food, vehicles, objects) under their everyday names, with plurals and families, "
        "and says which words it does not know. Word list: WordNet 3.0, Princeton University.</p>"
        "<p><b>Teach it your own words.</b> Select a few photos and choose <i>Name…</i> (N): <i>tomato</i>, "
        "<i>Max</i>, <i>grandma's garden</i>. Simili proposes the other photos that show it, best first; answer "
        "each with ✓ or ✗ (Y / N) and every answer improves the next proposals. Names are listed in the sidebar "
        "and work in the search box too. On similar photos, <i>More like this</i> (+) and <i>Not like this</i> "
        "(-) rank the results again.</p>"
        "<p><b>3. It learns from your photos.</b> After indexing, <i>Learn from my photos</i> studies your own "
        "collection in the background so that searches find closer matches. It can be paused at any time and "
        "continues later; search keeps working meanwhile.</p>"
        "<p><b>4. Duplicates</b> groups copies of the same photo (resized, recompressed, cropped or rotated) so "
        "you can keep one; the others go to the system trash, never deleted outright.</p>")


class HelpDialog(QDialog):
    """A short rich-text page with a Close button."""

    def __init__(self, title: str, body: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(520, 480)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per opening, gone when closed


def build_help_menu(window: QMainWindow, menu: QMenu, home: str) -> tuple[QAction, QAction]:
    """Fill the Help menu; returns the (shortcuts, how it works) actions."""
    def shortcuts() -> None:
        actions = [a for a in window.findChildren(QAction) if not a.shortcut().isEmpty()]
        window.help_dialog = HelpDialog("Keyboard shortcuts", shortcuts_html(actions), window)
        window.help_dialog.open()

    def how() -> None:
        window.help_dialog = HelpDialog("How Simili works", how_it_works_html(), window)
        window.help_dialog.open()

    def about() -> None:
        QMessageBox.about(window, "About Simili",
                          "<h3>Simili</h3><p>Finds visually similar photos and duplicates on your own computer, and "
                          "learns from your own photos what makes them alike. Offline; your photos are never "
                          f"changed or uploaded.</p><p>Library: {html.escape(home)}</p>")

    act_keys = QAction("Keyboard shortcuts", window)
    act_keys.setShortcut(QKeySequence("F1"))
    act_keys.triggered.connect(shortcuts)
    act_how = QAction("How Simili works", window)
    act_how.triggered.connect(how)
    act_about = QAction("About Simili", window)
    act_about.triggered.connect(about)
    for act in (act_keys, act_how, None, act_about):
        menu.addSeparator() if act is None else menu.addAction(act)
    return act_keys, act_how
