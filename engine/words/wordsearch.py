"""Search by words: "dog" or "red shoes" in, the photos that show them out, ranked like a photo query.

Words become ImageNet classes through WordNet (``engine.words.vocab``): a word stands for every class at or below its most
frequent sense that has any ("dog": the 118 breeds; "shoes": running shoe, loafer, sandal...). The photos are then
ranked by ``engine.words.concepts``: word-photo correlation from the classifier, spread along the photo graph, and the
word's own 64-bit code in the photos' Hamming space; colour words re-order them by colour (``engine.images.colours``).
docs/words.md has the method and the measurements.
"""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.images.colours import COLOURS, colour_of
from engine.words.concepts import CONCEPTS_FILE, Concepts, rank_scores, refresh
from engine.words.taught import TaughtCache, positions
from engine.errors import UnknownWords
from engine.types import Neighbor

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.codes.codeindex import CodeIndex
    from engine.library.store import Store
    from engine.words.vocab import Vocabulary

__all__ = ["WordQuery", "understand", "WordSearch", "word_percent", "CLEAR_MATCH"]

# Words that only frame a query ("photos of dogs", "a red hat"): dropped without a word.
_FRAMING = frozenset("a an the of with and or in on at some my our photo photos picture pictures image images shot "
                     "shots".split())
# word match (engine.words.concepts.match_scores, ~ the probability that a photo shows the word) -> percent: 0.25 is the
# clear-match line (CLOSE_MATCH, 60 %); a word match is never called near-identical (at most 94 %). Measured with
# bench.words: 91 % of the true hits among the first 20 of each grocery word are above 0.25; a furry hat that the
# classifier takes a little for a dog (0.19) is below.
CLEAR_MATCH = 0.25
MIN_MATCH = 0.01  # below this (4 %) a photo shows none of the words: not listed
_COLOUR_THINGS = frozenset({"orange"})  # colour words that, alone, mean something the image model knows
COLOUR_FULL = 0.5
NEAR = 0.9  # Wu-Palmer likeness of a family close enough to stand for a word without classes of its own
_ANCHORS_MATCH = (0.0, 0.08, CLEAR_MATCH, 0.6, 1.0)
_ANCHORS_PERCENT = (0.0, 30.0, 60.0, 80.0, 94.0)


def word_percent(match: np.ndarray | float) -> np.ndarray:
    """The similarity people see (0-94 %) of word matches: increasing, so it agrees with the order shown."""
    return np.interp(np.asarray(match, dtype=np.float64), _ANCHORS_MATCH, _ANCHORS_PERCENT)


@dataclass(frozen=True)
class WordQuery:
    """What a text was understood as.

    Attributes:
        text: the text as typed.
        terms: the words used, each with the number of ImageNet classes it stands for.
        ignored: words not understood, left out because other words were (a query of only these raises).
        weights: one weight per ImageNet class (1000,).
        colours: basic colours asked for (``engine.images.colours``), e.g. ``("red",)`` for "red shoes".
    """

    text: str
    terms: tuple[tuple[str, int], ...]
    ignored: tuple[str, ...]
    weights: np.ndarray
    colours: tuple[str, ...] = ()
    taught: tuple[str, ...] = ()  # names the user taught (``engine.words.taught``), as spelled when taught

    def describe(self) -> str:
        """One plain line, e.g. ``dog (118 kinds), shoe (3 kinds)`` or ``red: shoe (5 kinds)``."""
        known = {w.lower() for w, _ in self.terms}
        parts = ", ".join([f"{word}" + (f" ({n} kinds)" if n > 1 else "") for word, n in self.terms
                           if word.lower() not in {t.lower() for t in self.taught}]
                          + [f"{name} (your word" + (", and what Simili knows of it)" if name.lower() in known
                                                     else ")") for name in self.taught])
        colours = " and ".join(self.colours)
        if not parts:
            return f"the colour {colours}"
        return f"{colours} {parts}" if colours else parts


def word_classes(vocab: Vocabulary, word: str) -> dict[int, float]:
    """The ImageNet classes a word stands for, with weights: those of its most frequent sense that has any.

    A sense stands for the classes at or below it (weight 1), or, with none, for a family it is almost part of:
    the classes under its nearest ancestor that has some, when they are at least ``NEAR`` alike by Wu-Palmer.
    The senses are read in WordNet's order up to the first with classes of its own, and the near families of
    the ones before it are kept too ("jacket": the coats, then "book jacket"; "mushroom": agaric, then the
    mushroom). Not all senses: "dress" is first a frock (the class "gown"), not also "attire" (masks, wigs) and
    "apparel" (jeans). A word with no such sense has no classes: the
    app says it does not know it rather than answer from a loose family (measured: "tomato" through "bell
    pepper" finds peppers).
    """
    out: dict[int, float] = {}
    for sense in vocab.senses(word):
        classes = vocab.imagenet_classes(sense)
        if classes:
            return {**out, **dict.fromkeys(classes, 1.0)}
        for c, w in vocab.related_classes(sense).items():
            if w >= NEAR:
                out[c] = max(out.get(c, 0.0), w)
    return out


def _spelling(vocab: Vocabulary, term: str) -> str:
    """How WordNet writes a vocabulary entry ("t shirt" -> "T-shirt"), for saying what a query was read as."""
    from engine.words.vocab import normalise

    for sense in vocab.senses(term):
        for lemma in sense.lemmas:
            if normalise(lemma) == term:
                return lemma
    return term


def taught_in(text: str, names: list[str]) -> tuple[list[str], str]:
    """The taught names a text says (whole words, longest name first, "grandma's garden" before "garden"), and the
    text without them."""
    rest = " " + " ".join(text.lower().split()) + " "
    found = []
    for name in sorted(names, key=lambda n: -len(n)):
        key = " " + " ".join(name.lower().split()) + " "
        if key in rest:
            found.append(name)
            rest = rest.replace(key, " ")
    return found, rest.strip()


def understand(vocab: Vocabulary, text: str, taught: list[str] | None = None) -> WordQuery:
    """The ImageNet class weights of a text; raises UnknownWords (with suggestions) when no word of it is known.

    ``taught`` are the names the user taught: a text may say them ("red tomato", "Max"); a taught name that is
    also a known word ("dress") keeps its classes too, and the two are combined (``WordSearch.search``).
    """
    names, rest = taught_in(text, taught or [])
    if names:  # a taught name that the vocabulary knows too stays in the text for its classes
        rest = " ".join([rest, *[n for n in names if len(n.split()) == 1 and word_classes(vocab, n.lower())]])
    weights = np.zeros(1000, dtype=np.float32)
    terms, unknown, colours = [], [], []
    words = [t for t in vocab.split(rest) if t not in _FRAMING]
    for term in words:
        # a colour word is a colour ("white", "red shoes"), except alone when it is also a thing ("orange")
        if colour_of(term) and (len(words) > 1 or term not in _COLOUR_THINGS):
            colours.append(colour_of(term))
            continue
        classes = word_classes(vocab, term)
        if not classes:
            unknown.append(term)
            continue
        terms.append((_spelling(vocab, term), len(classes)))
        for c, w in classes.items():
            weights[c] = max(weights[c], w)
    if not terms and not colours and not names:
        from engine.words.vocab import normalise

        # a taught name spelled like the words comes first ("tomatoe": tomato), then the vocabulary's offers; the
        # unknown words are in the vocabulary's lookup form already, so the names are put in it too
        names_by_key = {normalise(n): n for n in taught or []}
        suggestions = [names_by_key[m] for m in difflib.get_close_matches(" ".join(unknown), names_by_key, n=3,
                                                                           cutoff=0.8)]
        suggestions += [s for word in unknown for s in vocab.suggest(word)]
        raise UnknownWords(unknown or [text.strip()], list(dict.fromkeys(suggestions))[:5])
    return WordQuery(text, tuple(terms), tuple(unknown), weights, tuple(dict.fromkeys(colours)), tuple(names))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def colour_weight(share: np.ndarray) -> np.ndarray:
    """How much a photo's share of the colours asked for keeps of its word match: 0.25 with none of it, 1 from
    ``COLOUR_FULL`` of it (the colour grids are coarse: a garment on a floor rarely fills more than half)."""
    return 0.25 + 0.75 * np.minimum(1.0, share / COLOUR_FULL)


class WordSearch:
    """A library's word search: its concept table (``concepts.bin``), kept current with the index, and queries.

    One per open library; thread-safe (the GUI's searches run on a worker thread while it indexes).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: Concepts | None = None
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._codes: tuple[int, int, np.ndarray] | None = None  # (id(index), index.version, codes in table order)
        self._current: tuple[int, int, tuple[int, int] | None] | None = None  # (id(index), version, file stamp)
        self._taught = TaughtCache()

    def table(self, store: Store, index: CodeIndex,
              progress: Callable[[int, int], None] | None = None) -> Concepts:
        """The concept table for every photo of ``index``, brought up to date (and saved, when writable)."""
        with self._lock:
            path = store.home / CONCEPTS_FILE
            stamp = _stamp(path)
            if self._table is not None and self._current == (id(index), index.version, stamp):
                return self._table  # nothing changed since the last query
            if stamp != self._stamp:  # first query, or an index run (maybe in another process) wrote it
                self._table, self._stamp, self._codes = Concepts.load(path), stamp, None
            table, changed = refresh(self._table, store.catalog, store.features, index, progress=progress)
            self._table = table
            if changed:
                self._codes = None
                if not store.read_only and table.save_or_warn(path):
                    self._stamp = _stamp(path)
            self._current = (id(index), index.version, self._stamp)
            return table

    def _table_codes(self, table: Concepts, index: CodeIndex) -> np.ndarray:
        key = (id(index), index.version)
        if self._codes is None or self._codes[:2] != key or len(self._codes[2]) != len(table):
            self._codes = (*key, index.codes_of(table.ids))
        return self._codes[2]

    def search(self, store: Store, index: CodeIndex, query: WordQuery, k: int,
               hide: list[int] | None = None) -> list[Neighbor]:
        """The ``k`` photos that best show the query's words, best first (``engine.words.concepts`` for the steps).

        A taught name's scores come from its model (``engine.words.taught``); a name that is also a known word
        averages the two ("dress" refined by the dresses the user named), other words are combined by the best of
        them. A taught name's rejected photos are never listed; ``hide`` are photo ids left out too.
        """
        table = self.table(store, index)
        if not len(table):
            return []
        with self._lock:
            codes = self._table_codes(table, index)
            s0, shown, hidden = self._scores(store, table, query)
        if s0 is not None:
            # a taught word alone stops at the graph: its own code cost 0.02-0.05 of P@20 (docs/words.md)
            match, dist = rank_scores(table, codes, s0, "code" if query.terms else "graph")
            match[shown] = np.maximum(match[shown], 1.0)  # a photo the user named shows it
        else:
            match, dist = np.ones(len(table), np.float32), np.zeros(len(table), np.int32)
        if query.colours:
            share = table.colours[:, [list(COLOURS).index(c) for c in query.colours]].sum(axis=1) / 255.0
            match = match * colour_weight(share) if s0 is not None else share.astype(np.float32)
        match[hidden] = 0.0
        if hide:
            match[positions(table.ids, hide)] = 0.0
        return _listed(store, table, match, dist, k)

    def _scores(self, store: Store, table: Concepts, query: WordQuery):
        """Step 1's scores of a query (None with only colours), the positions of named photos, of rejected ones."""
        known = table.scores(query.weights) if query.terms else None
        shown, hidden, taught, refined = [], [], [], []
        words = {w.lower() for w, _ in query.terms}
        for name in query.taught:
            yes, no = store.catalog.name_answers(name)
            scores, pos, neg = self._taught.scores(table, store.features, name, yes, no)
            shown.append(pos)
            hidden.append(neg)
            (refined if name.lower() in words else taught).append(scores)
        if known is not None and refined:
            known = 0.5 * (known + np.max(refined, axis=0))
        parts = ([known] if known is not None else []) + taught
        s0 = np.max(parts, axis=0).astype(np.float32) if parts else None
        cat = np.concatenate
        return s0, cat(shown or [np.zeros(0, np.int64)]), cat(hidden or [np.zeros(0, np.int64)])

    def search_examples(self, store: Store, index: CodeIndex, examples: list[int], rejections: list[int],
                        k: int) -> list[Neighbor]:
        """Photos like ``examples`` and unlike ``rejections`` ("more like this" / "not like this" on results),
        ranked by a word model trained on them on the spot; the examples and rejections are not listed."""
        table = self.table(store, index)
        if not len(table):
            return []
        with self._lock:
            codes = self._table_codes(table, index)
            s0, pos, neg = self._taught.scores(table, store.features, "\0feedback", examples, rejections)
        match, dist = rank_scores(table, codes, s0, "graph")
        match[pos], match[neg] = 0.0, 0.0
        return _listed(store, table, match, dist, k)


def _listed(store: Store, table: Concepts, match: np.ndarray, dist: np.ndarray, k: int) -> list[Neighbor]:
    """The ``k`` best photos by match (then distance from the word's code), with their percentages."""
    match = np.minimum(match, 1.0)
    k = max(1, min(int(k), len(table)))
    best = np.argpartition(-match, k - 1)[:k] if k < len(table) else np.arange(len(table))
    best = best[np.lexsort((dist[best], -match[best]))]
    best = best[match[best] >= MIN_MATCH]  # a photo with none of the word's classes in its top ones is no hit
    percent = word_percent(match[best])
    photos = store.catalog.photos_by_ids([int(table.ids[j]) for j in best])
    return [Neighbor(photos[int(table.ids[j])], int(dist[j]), None, float(match[j]), float(p))
            for j, p in zip(best, percent) if int(table.ids[j]) in photos]
