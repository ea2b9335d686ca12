"""Word search in the main grid: "red shoes" lists the photos that show it where the photos are, best match first,
each with its match badge, and the page says how many clearly show it; Esc, "Show all photos" or Photos in the
sidebar go back to all photos. (Before issue 24 the results only filled the narrow similar panel.)"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.errors import UnknownWords
from engine.types import CLOSE_MATCH
from gui.errors import describe
from gui.workers import if_alive

__all__ = ["WordSearch", "words_where"]

LISTING = "words: "  # the grid model's listing name for word results (a taught name is listed by itself)


def words_where(found, shown: int) -> str:
    """What a page of word results says after its count ("12 photos …"), from ``engine.types.WordMatches``."""
    note = f" (not understood: {', '.join(found.ignored)})" if found.ignored else ""
    if not shown:
        return f"show {found.understood}{note}"
    if not found.close_match:
        return (f"come nearest to {found.understood}{note}: no clear match, none clearly shows it "
                f"({CLOSE_MATCH:.0f}% or more)")
    close = sum(1 for n in found.results[:shown] if n.close)
    where = f"showing {found.understood}{note}, best match first"
    if close < shown:
        first = "the first is a clear match" if close == 1 else f"the first {close} are clear matches"
        where += f"; {first} ({CLOSE_MATCH:.0f}% or more)"
    return where


class WordSearch(QObject):
    """Runs word searches for the main window and lists their results in its grid.

    Signals: shown(results listed), after the grid has them (0 when nothing was found or the words are unknown).
    """

    shown = Signal(int)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.text: str | None = None  # the words listed now (None: not listing word results)
        self.found = None  # their engine.types.WordMatches
        self._token = 0
        self._pending_shown = False
        window.photos_page.back_button.clicked.connect(self.show_all)
        window.grid_model.reset_done.connect(self._on_grid_reset)

    def active(self) -> bool:
        listing = self.window.grid_model.listing
        return listing is not None and listing[0] == LISTING + (self.text or "")

    def search(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self._token += 1
        token = self._token
        w = self.window
        worker = self.session.similar_to_text(text)
        worker.returned.connect(lambda result: self._on_results(token, text, result))
        worker.errored.connect(lambda exc: self._on_failed(token, text, exc))
        w.naming.leave()
        w.sidebar.folders.setCurrentItem(None)
        w.show_page("photos")
        w.photos_page.set_listing(f"“{text}”", f"showing {text}", note="Searching by words…")

    @if_alive
    def _on_results(self, token: int, text: str, result) -> None:
        if token != self._token:
            return
        neighbors, _bits, found = result
        self.found = found
        self._list(text, list(neighbors), None)

    @if_alive
    def _on_failed(self, token: int, text: str, exc: BaseException) -> None:
        if token != self._token:
            return
        self.found = None
        title, said, _ = describe(exc)
        if isinstance(exc, UnknownWords):  # the user can teach Simili the word: say how
            said += " To teach it, select a few photos that show it and choose Name… (N)."
        self._list(text, [], f"{title}: {said}")

    def _list(self, text: str, neighbors: list, note: str | None) -> None:
        w = self.window
        self.text = text
        first = [neighbors]  # the answer in hand is listed at once; a later refresh (library changed) asks again
        reader, k = self.session.reader, self.session.settings.similar_k

        def fetch():
            if first:
                return first.pop()
            try:
                return list(reader.similar_to_text(text, k=k).results)
            except Exception:  # noqa: BLE001 - the words went unknown (a new model): list nothing
                return []

        self._pending_shown = True
        w.grid_model.set_listing(LISTING + text, fetch)
        where = words_where(self.found, len(neighbors)) if self.found is not None else f"showing {text}"
        w.photos_page.set_listing(f"“{text}”", where, note=note)
        w.grid.scrollToTop()

    def _on_grid_reset(self, count: int) -> None:
        if self._pending_shown and self.active():
            self._pending_shown = False
            self.shown.emit(count)

    def show_all(self) -> None:
        """Back to all the photos in the library."""
        self._token += 1
        self.text = None
        self.window.naming.names_list.clear_selection()
        self.window.on_folder_selected("")
