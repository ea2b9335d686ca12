"""The word vocabulary of search by words: WordNet 3.0 nouns tied to the backbone's ImageNet-1k classes.

The data file ``resources/models/wordnet_nouns.json.gz`` is built by ``engine.words.export_words`` from WordNet 3.0
(Princeton; licence in ``resources/models/WORDNET_LICENSE.txt``) and checked against the sha256 in its sidecar
``wordnet_nouns.json`` before first use. It holds the noun synsets under *physical entity* plus the abstract ones
that ImageNet classes sit under, each with its lemmas, a short gloss and its hypernyms; the ImageNet classes
are WordNet synsets, so a word reaches the classifier's logits through the hypernym graph ("dog" covers every
dog breed). Words are looked up the way WordNet's ``morphy`` does (irregular plurals from ``noun.exc``, then
the noun detachment rules), after :func:`normalise`; a small alias table made at build time adds everyday
words WordNet 3.0 lacks ("hoodie") or ranks low ("top" the garment).

Standard library only: no torch, no Qt, nothing downloaded.
"""

from __future__ import annotations

import bisect
import difflib
import gzip
import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from engine._atomic import sha256_file
from engine.errors import ModelCorrupt, ModelMissing
from engine.resources import resource_path

__all__ = ["VOCAB_FILE", "FORMAT", "BROAD", "Synset", "Vocabulary", "normalise", "base_forms", "sidecar_of"]

VOCAB_FILE = "wordnet_nouns.json.gz"
FORMAT = 1

# WordNet's noun detachment rules (morphy, wn(7WN) "morph"): suffix -> replacement, tried in this order.
_DETACH = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
           ("ies", "y"))
_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015,;:!?\"()\[\]{}]+")
_SPELLING_CUTOFF = 0.8
# A hypernym with more ImageNet classes below it than this is too broad to stand in for a word ("food": 27).
BROAD = 20
# A known hypernym more steps up says little about a word ("garden" is five below "location"): no offer then.
NEAR = 1
_MAX_PHRASE_WORDS = 5

_cache: dict[tuple[str, int, int], Vocabulary] = {}
_cache_lock = threading.Lock()


def normalise(text: str) -> str:
    """The lookup form of a word or phrase: lower case, hyphens, underscores and runs of spaces as one space.

    ``"T-Shirt"``, ``"t_shirt"`` and ``"  T  shirt "`` all become ``"t shirt"``; apostrophes and dots stay
    (``"jack-o'-lantern"`` -> ``"jack o' lantern"``), as do letters with accents (``"crème"``).
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return _SEPARATORS.sub(" ", text).strip(" .")


def base_forms(key: str, exceptions: dict[str, list[str]]) -> list[str]:
    """Candidate lemmas for a normalised word, WordNet ``morphy`` style, the word itself first.

    An irregular plural listed in ``noun.exc`` gives its base forms (``"mice"`` -> ``"mouse"``); otherwise each
    detachment rule that fits gives one (``"dresses"`` -> ``"dresse"``, ``"dress"``). In a phrase only the last
    word is inflected (``"running shoes"`` -> ``"running shoe"``).

    Args:
        key: a normalised word or phrase.
        exceptions: inflected form -> base forms (normalised), from ``noun.exc``.
    """
    forms = [key]
    if key in exceptions:
        forms += exceptions[key]
        return list(dict.fromkeys(forms))
    head, _, last = key.rpartition(" ")
    prefix = head + " " if head else ""
    if last in exceptions:
        forms += [prefix + base for base in exceptions[last]]
    else:
        forms += [prefix + last[: -len(suf)] + rep for suf, rep in _DETACH
                  if last.endswith(suf) and len(last) > len(suf)]
    return list(dict.fromkeys(forms))


def sidecar_of(path: Path) -> Path:
    """The JSON sidecar of the vocabulary file: ``wordnet_nouns.json.gz`` -> ``wordnet_nouns.json``."""
    return path.with_suffix("") if path.suffix == ".gz" else path.with_suffix(".json")


@dataclass(frozen=True)
class Synset:
    """One WordNet noun sense.

    Attributes:
        wnid: WordNet 3.0 id, ``"n"`` + the 8-digit offset in ``data.noun`` (ImageNet's ids are the same).
        lemmas: the synonyms, most common first, with spaces (``("jersey", "T-shirt", "tee shirt")``).
        gloss: the definition, shortened to its first clause.
        hypernyms: wnids of the direct hypernyms (more than one where WordNet has multiple inheritance).
        depth: shortest distance to the root *entity* (which has depth 0).
        imagenet_index: the logit index where this synset is one of the 1,000 ImageNet classes, else None.
    """

    wnid: str
    lemmas: tuple[str, ...]
    gloss: str
    hypernyms: tuple[str, ...]
    depth: int
    imagenet_index: int | None

    @property
    def name(self) -> str:
        """The first lemma, for display."""
        return self.lemmas[0]


class Vocabulary:
    """WordNet nouns with their ImageNet classes; build with :meth:`load`. Thread-safe after construction."""

    def __init__(self, payload: dict, path: Path):
        """Wrap a parsed data file (see ``engine.words.export_words`` for the layout).

        Raises:
            ModelCorrupt: the payload lacks a field or has the wrong format version.
        """
        try:
            if payload["format"] != FORMAT:
                raise ValueError(f"format {payload['format']}, expected {FORMAT}")
            self._offsets: list[int] = payload["offsets"]
            self._lemmas: list[str] = payload["lemmas"].split("\n")
            self._gloss_text: str = payload["glosses"]
            self._parent_text: list[str] = payload["hypernyms"].split(";")
            self._class_rows: list[int] = payload["imagenet"]
            self._keys: list[str] = payload["index"]["keys"].split("\n")
            self._key_rows: list[str] = payload["index"]["rows"].split(";")
            self._exceptions: dict[str, list[str]] = payload["exceptions"]
            self._aliases: dict[str, list[int]] = payload["aliases"]
            sizes = {len(self._offsets), len(self._lemmas), len(self._parent_text)}
            if len(sizes) != 1 or len(self._keys) != len(self._key_rows) or len(self._class_rows) != 1000:
                raise ValueError("columns of different lengths")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelCorrupt(f"Word vocabulary {path} is not in the expected format ({exc}). "
                               "Reinstall Simili to restore it.") from exc
        self.path = path
        # Parsed on first use: most rows' hypernyms and glosses are never needed in a session.
        self._parents: list[list[int] | None] = [None] * len(self._offsets)
        self._glosses: list[str] | None = None
        self._logit_of_row = {row: logit for logit, row in enumerate(self._class_rows)}
        self._below = self._classes_below()
        self._depths: dict[int, int] = {}
        self._synsets: dict[int, Synset] = {}
        self._row_of: dict[str, int] | None = None
        self._compact: dict[str, str] | None = None
        self._known_keys: list[str] | None = None
        self._hyponyms: dict[int, list[int]] | None = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> Vocabulary:
        """The vocabulary from ``path`` (default: the shipped ``resources/models/wordnet_nouns.json.gz``).

        Loaded once per process per file (same path, size and modification time), after checking its sha256
        against the sidecar ``wordnet_nouns.json``.

        Raises:
            ModelMissing: the file or its sidecar is missing.
            ModelCorrupt: the checksum does not match, or the file cannot be read.
        """
        path = Path(path) if path is not None else resource_path("models", VOCAB_FILE)
        if not path.is_file():
            raise ModelMissing(f"Word vocabulary {path} does not exist. Reinstall Simili to restore it.")
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        _verify(path)
        try:
            payload = json.loads(gzip.decompress(path.read_bytes()))
        except (OSError, EOFError, ValueError) as exc:
            raise ModelCorrupt(f"Word vocabulary {path} cannot be read ({exc}). "
                               "Reinstall Simili to restore it.") from exc
        vocab = cls(payload, path)
        with _cache_lock:
            return _cache.setdefault(key, vocab)

    def _classes_below(self) -> dict[int, tuple[int, ...]]:
        # Each class adds its logit to itself and every ancestor: about 20 steps per class, done once.
        below: dict[int, set[int]] = {}
        for logit, row in enumerate(self._class_rows):
            for anc in self._ancestor_distances(row):
                below.setdefault(anc, set()).add(logit)
        return {row: tuple(sorted(logits)) for row, logits in below.items()}

    # -- synsets ---------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._offsets)

    def synset(self, wnid: str) -> Synset:
        """The synset with this WordNet id (e.g. ``"n02084071"``).

        Raises:
            KeyError: the id is not in the vocabulary.
        """
        if self._row_of is None:
            self._row_of = {f"n{off:08d}": row for row, off in enumerate(self._offsets)}
        return self._synset(self._row_of[wnid])

    def imagenet_synset(self, logit: int) -> Synset:
        """The synset of ImageNet class ``logit`` (0..999)."""
        return self._synset(self._class_rows[logit])

    def _synset(self, row: int) -> Synset:
        syn = self._synsets.get(row)
        if syn is None:
            syn = Synset(
                wnid=f"n{self._offsets[row]:08d}",
                lemmas=tuple(self._lemmas[row].split("|")),
                gloss=self._gloss(row),
                hypernyms=tuple(f"n{self._offsets[h]:08d}" for h in self._hypernyms(row)),
                depth=self._depth(row),
                imagenet_index=self._logit_of_row.get(row),
            )
            self._synsets[row] = syn
        return syn

    def _row(self, synset: Synset) -> int:
        if self._row_of is None:
            self.synset(synset.wnid)
        assert self._row_of is not None
        return self._row_of[synset.wnid]

    def _hypernyms(self, row: int) -> list[int]:
        parents = self._parents[row]
        if parents is None:
            text = self._parent_text[row]
            parents = [int(h) for h in text.split(",")] if text else []
            self._parents[row] = parents
        return parents

    def _gloss(self, row: int) -> str:
        if self._glosses is None:
            self._glosses = self._gloss_text.split("\n")
        return self._glosses[row]

    def _index_rows(self, key: str) -> list[int]:
        """Rows of a normalised lemma in WordNet's sense order (the keys are sorted: binary search)."""
        i = bisect.bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            return [int(r) for r in self._key_rows[i].split(",")]
        return []

    def _depth(self, row: int) -> int:
        depth = self._depths.get(row)
        if depth is None:
            parents = self._hypernyms(row)
            depth = 1 + min(self._depth(p) for p in parents) if parents else 0
            self._depths[row] = depth
        return depth

    def _ancestor_distances(self, row: int) -> dict[int, int]:
        """Every ancestor of ``row`` (itself at 0) with its shortest distance, in breadth-first order."""
        dist = {row: 0}
        frontier = [row]
        while frontier:
            nxt = []
            for r in frontier:
                for h in self._hypernyms(r):
                    if h not in dist:
                        dist[h] = dist[r] + 1
                        nxt.append(h)
            frontier = nxt
        return dist

    # -- words -----------------------------------------------------------------------------------------------

    def senses(self, word: str) -> list[Synset]:
        """The noun senses of a word or phrase, in WordNet's order (most frequent first), alias senses first.

        ``"T-shirt"``, ``"t shirt"`` and ``"tshirt"`` give the same senses; ``"mice"`` gives those of
        ``"mouse"``; ``"shoes"`` those of ``"shoe"``. Empty for a word the vocabulary does not have.
        """
        return [self._synset(r) for r in self._lookup(normalise(word))[0]]

    def lemma_of(self, word: str) -> str | None:
        """The vocabulary entry a word resolves to (``"Running Shoes"`` -> ``"running shoe"``), or None."""
        return self._lookup(normalise(word))[1]

    def _lookup(self, key: str) -> tuple[list[int], str | None]:
        if not key:
            return [], None
        rows: list[int] = []
        found = None
        for form in base_forms(key, self._exceptions):
            hit = self._aliases.get(form, []) + self._index_rows(form)
            if hit and found is None:
                found = form
            rows += hit
        if not rows:
            compact = self._compact_keys()
            for form in base_forms(key, self._exceptions):
                target = compact.get(form.replace(" ", ""))
                if target is not None:
                    return self._lookup(target)
        return list(dict.fromkeys(rows)), found

    def _compact_keys(self) -> dict[str, str]:
        # "tshirt" -> "t shirt", "sweatpants" -> "sweat pants": spaceless spellings of multi-word entries.
        with self._lock:
            if self._compact is None:
                compact: dict[str, str] = {}
                for key in [*self._aliases, *self._keys]:
                    if " " in key:
                        compact.setdefault(key.replace(" ", ""), key)
                self._compact = compact
            return self._compact

    def imagenet_classes(self, synset: Synset) -> list[int]:
        """Logit indices of the ImageNet classes that are this synset or below it (transitive hyponyms)."""
        return list(self._below.get(self._row(synset), ()))

    def known(self, word: str) -> bool:
        """Whether some sense of the word has ImageNet classes at or below it."""
        return any(r in self._below for r in self._lookup(normalise(word))[0])

    def word_classes(self, word: str) -> list[int]:
        """Logits of all ImageNet classes at or below any sense of the word, sorted (empty if unknown)."""
        logits: set[int] = set()
        for r in self._lookup(normalise(word))[0]:
            logits.update(self._below.get(r, ()))
        return sorted(logits)

    # -- the hypernym graph ----------------------------------------------------------------------------------

    def ancestors(self, synset: Synset) -> list[Synset]:
        """Every ancestor once, nearest first (by shortest distance), ending at the root *entity*."""
        dist = self._ancestor_distances(self._row(synset))
        dist.pop(self._row(synset))
        return [self._synset(r) for r in sorted(dist, key=dist.__getitem__)]

    def hypernym_paths(self, synset: Synset) -> list[list[Synset]]:
        """All hypernym paths, each from the direct hypernym up to the root (one path per inheritance route)."""
        paths: list[list[int]] = []
        stack = [(self._row(synset), [])]
        while stack:
            row, path = stack.pop()
            parents = self._hypernyms(row)
            if not parents and path:
                paths.append(path)
            stack += [(p, [*path, p]) for p in reversed(parents)]
        return [[self._synset(r) for r in path] for path in paths]

    def wup_similarity(self, a: Synset, b: Synset) -> float:
        """Wu-Palmer similarity, ``2 (d(c) + 1) / (len(a, c) + len(b, c) + 2 (d(c) + 1))``, in (0, 1].

        Maximised over the common ancestors ``c`` (a synset counts as its own ancestor); ``d`` is the root
        depth and ``len`` the shortest hypernym distance. A synset with itself scores 1, two synsets that meet
        only at *entity* little. Taking the best ``c`` rather than the deepest one keeps the score sensible
        under multiple inheritance, where an ancestor can be deeper than the synset's own shortest depth.
        """
        return self._wup(self._row(a), self._ancestor_distances(self._row(a)), self._row(b))

    def _wup(self, row: int, dist_a: dict[int, int], other: int) -> float:
        dist_b = self._ancestor_distances(other)
        best = 0.0
        for r in dist_b:
            if r in dist_a:
                top = 2 * (self._depth(r) + 1)
                best = max(best, top / (dist_a[r] + dist_b[r] + top))
        return best

    def related_classes(self, synset: Synset, max_classes: int = BROAD) -> dict[int, float]:
        """ImageNet classes for a synset, weighted: logit -> weight in (0, 1], highest first.

        A synset with classes at or below it gives those, each with weight 1. One without ("sneaker",
        "tomato") gives the classes under its nearest ancestor that has some (all such ancestors at that
        distance), each weighted by its Wu-Palmer similarity to the synset; none if there are more than
        ``max_classes`` of them, as the ancestor is then too broad to stand for the word.
        """
        row = self._row(synset)
        if row in self._below:
            return dict.fromkeys(self._below[row], 1.0)
        dist = self._ancestor_distances(row)
        by_distance: dict[int, set[int]] = {}
        for anc, d in dist.items():
            if anc in self._below:
                by_distance.setdefault(d, set()).update(self._below[anc])
        if not by_distance:
            return {}
        logits = by_distance[min(by_distance)]
        if len(logits) > max_classes:
            return {}
        weights = {c: self._wup(row, dist, self._class_rows[c]) for c in sorted(logits)}
        return dict(sorted(weights.items(), key=lambda kv: -kv[1]))

    # -- suggestions and phrases -----------------------------------------------------------------------------

    def suggest(self, text: str, n: int = 5) -> list[str]:
        """Up to ``n`` known words to offer instead of ``text`` (empty when ``text`` is known).

        A word the vocabulary has, but with no ImageNet class below it, gets its known hypernyms at most
        :data:`NEAR` steps up and their known hyponyms ("sweatpants" -> "trouser", "jean", ...), or nothing
        ("garden"), never another word spelled like it. A word it does not have gets known words spelled like it
        (``difflib``, ratio at least 0.8: "bananna" -> "banana").
        """
        key = normalise(text)
        rows = self._lookup(key)[0]
        if any(r in self._below for r in rows):
            return []
        if rows:
            out = self._by_meaning(rows)
        else:
            out = difflib.get_close_matches(key, self._known_words(), n=n, cutoff=_SPELLING_CUTOFF)
        return [w for w in dict.fromkeys(out) if w != key][:n]

    def _by_meaning(self, rows: list[int]) -> list[str]:
        """Nearest known hypernyms and their known hyponyms, from the senses that are closest to one first.

        Closeness decides before WordNet's sense order, so "peach" offers fruit (one step from *edible
        fruit*) before trees (five steps from *vascular plant*). Hypernyms broader than :data:`BROAD` classes
        are not offered: they say nothing about the word.
        """
        found: list[tuple[int, int, list[int]]] = []
        for order, row in enumerate(rows):
            dist = self._ancestor_distances(row)
            known = [r for r in dist if r in self._below and len(self._below[r]) <= BROAD]
            nearest = min((dist[r] for r in known), default=NEAR + 1)
            if nearest <= NEAR:
                found.append((nearest, order, [r for r in known if dist[r] == nearest]))
        out: list[str] = []
        for _, _, ancestors in sorted(found):
            for anc in ancestors:
                out.append(self._name(anc))
                out += [self._name(h) for h in self._hyponyms_of(anc) if h in self._below]
        return out

    def _name(self, row: int) -> str:
        return self._lemmas[row].split("|", 1)[0].lower()

    def _hyponyms_of(self, row: int) -> list[int]:
        with self._lock:
            if self._hyponyms is None:
                hyponyms: dict[int, list[int]] = {}
                for child in range(len(self._offsets)):
                    for p in self._hypernyms(child):
                        hyponyms.setdefault(p, []).append(child)
                self._hyponyms = hyponyms
        return self._hyponyms.get(row, [])

    def _known_words(self) -> list[str]:
        with self._lock:
            if self._known_keys is None:
                known_rows = {str(r) for r in self._below}
                words = [k for k, rows in self._aliases.items() if any(r in self._below for r in rows)]
                words += [k for k, rows in zip(self._keys, self._key_rows)
                          if not known_rows.isdisjoint(rows.split(","))]
                self._known_keys = sorted(set(words))
            return self._known_keys

    def split(self, text: str) -> list[str]:
        """Split a phrase into the longest vocabulary entries, left to right.

        ``"red running shoes"`` -> ``["red", "running shoe"]``: entries come back as their base form; words the
        vocabulary lacks (colours are WordNet adjectives or abstract nouns, so not here) come back as they are,
        normalised, for the caller to interpret.
        """
        words = normalise(text).split()
        out: list[str] = []
        i = 0
        while i < len(words):
            for j in range(min(len(words), i + _MAX_PHRASE_WORDS), i, -1):
                rows, form = self._lookup(" ".join(words[i:j]))
                if rows:
                    out.append(form or " ".join(words[i:j]))
                    i = j
                    break
            else:
                out.append(words[i])
                i += 1
        return out


def _verify(path: Path) -> None:
    """Check the vocabulary file against the sha256 in its sidecar."""
    side = sidecar_of(path)
    if not side.is_file():
        raise ModelMissing(f"Checksum file {side} for {path.name} is missing. Reinstall Simili to restore it.")
    try:
        expected = str(json.loads(side.read_text(encoding="utf-8"))["sha256"]).lower()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelCorrupt(f"Checksum file {side} is unreadable ({exc}). Reinstall Simili to restore it.") from exc
    actual = sha256_file(path)
    if actual != expected:
        raise ModelCorrupt(
            f"Word vocabulary {path} is damaged or was changed: its sha256 is {actual[:12]}..., "
            f"expected {expected[:12]}... ({side.name}). Reinstall Simili to restore it."
        )
