"""Search by words: precision@20 per everyday word on labelled folders, and the query time at 100k photos.

Usage::

    python -m bench.words                      # garments and grocery word lists, all rows, writes bench/results
    python -m bench.words --speed 100000       # query latency on a synthetic 100k-photo table
    python -m bench.words --sets "" --library 100000   # end to end through Library.similar_to_text

Protocol. Every photo of a labelled folder is the library. Its features come from the app's backbone
(``bench.retrieval.extract_features``, cached), its codes from the app's training-free code (ITQ, 64 bits) in a
``CodeIndex``, its concept table from ``engine.words.concepts`` exactly as an indexed library gets it. Each word of a list
is read by the app's vocabulary (``engine.words.wordsearch.understand``); a word it does not know counts as unknown
(reported, and left out of the mean as the bar is stated, and also shown counted as 0). A photo is relevant when
its label is one of the word's labels. precision@20 is over the first 20 results, or over as many as the word has
relevant photos when it has fewer (a small folder would cap it otherwise).

Rows (``engine.words.concepts.rank`` steps): ``classifier``: the plain classifier score of the word's classes (the
reference); ``graph``: spread along the photo graph; ``app``: plus the word's own code in the Hamming space (what
``simili similar --text`` does).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench._machine import machine_info
from bench._sets import rows_of

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STEPS = ("classifier", "graph", "code")
ROW_NAMES = {"classifier": "classifier", "graph": "graph", "code": "app"}

# word -> labels that count as showing it. Everyday words a person would type, singular and plural, synonyms.
GARMENT_WORDS = {
    "dress": ["dress"], "dresses": ["dress"], "hat": ["hat"], "cap": ["hat"], "shirt": ["shirt"],
    "t-shirt": ["t-shirt"], "tee": ["t-shirt"], "shorts": ["shorts"], "skirt": ["skirt"], "pants": ["pants"],
    "trousers": ["pants"], "jeans": ["pants"], "shoes": ["shoes"], "sneakers": ["shoes"], "sandals": ["shoes"],
    "footwear": ["shoes"], "jacket": ["outwear"], "coat": ["outwear"], "sweater": ["longsleeve"],
    "hoodie": ["longsleeve"],
}
GROCERY_WORDS = {
    "banana": ["Banana"], "bananas": ["Banana"], "apple": ["Apple"], "apples": ["Apple"], "orange": ["Orange"],
    "lemon": ["Lemon"], "lime": ["Lime"], "pear": ["Pear"], "peach": ["Peach"], "plum": ["Plum"], "kiwi": ["Kiwi"],
    "mango": ["Mango"], "melon": ["Melon"], "pineapple": ["Pineapple"], "pomegranate": ["Pomegranate"],
    "avocado": ["Avocado"], "grapefruit": ["Red-Grapefruit"], "mandarin": ["Satsumas"], "nectarine": ["Nectarine"],
    "papaya": ["Papaya"], "pepper": ["Pepper"], "bell pepper": ["Pepper"], "tomato": ["Tomato"],
    "tomatoes": ["Tomato"], "potato": ["Potato"], "onion": ["Onion"], "carrot": ["Carrots"], "carrots": ["Carrots"],
    "cucumber": ["Cucumber"], "zucchini": ["Zucchini"], "courgette": ["Zucchini"], "eggplant": ["Aubergine"],
    "mushroom": ["Mushroom"], "mushrooms": ["Mushroom"], "cabbage": ["Cabbage"], "garlic": ["Garlic"],
    "ginger": ["Ginger"], "leek": ["Leek"], "asparagus": ["Asparagus"], "beetroot": ["Red-Beet"],
    "milk": ["Milk", "Oat-Milk", "Soy-Milk", "Sour-Milk"], "juice": ["Juice"],
    "yogurt": ["Yoghurt", "Soyghurt", "Oatghurt"], "fruit": "Fruit", "vegetables": "Vegetables",
}
SETS = {  # name: (folder, label column, words, kind column for whole-kind words)
    "garments": ("clothing10-dev", "label", GARMENT_WORDS, None),
    "garments-10": ("garments-10", "label", GARMENT_WORDS, None),  # bench._sets: the same ten kinds, 895 photos
    "grocery": ("grocery-train", "coarse_label", GROCERY_WORDS, "kind"),
}


def library_of(folder: Path, label_column: str, kind_column: str | None):
    """(labels, kinds, concept table, codes) of a labelled folder, built the way the app builds them."""
    from bench.retrieval import extract_features
    from engine.words import concepts
    from engine.codes.codeindex import CodeIndex
    from engine.images.colours import COLOURS
    from engine.codes.binary import fit_itq

    rows = rows_of(folder)
    feats, _ = extract_features([Path(r["path"]) for r in rows])
    codes = fit_itq(feats, 64).encode(feats)
    ids = np.arange(len(rows), dtype=np.int64)
    index = CodeIndex(64)
    index.add(ids, codes)
    classes, probs = concepts.ClassifierHead.shipped().top(feats)
    table = concepts.Concepts(ids, ids, classes, probs, concepts.neighbours_of(index, ids, ids),
                              np.zeros((len(ids), len(COLOURS)), np.uint8), len(ids))
    labels = np.array([r[label_column] for r in rows])
    kinds = np.array([r[kind_column] for r in rows]) if kind_column else labels
    library_of.features = feats  # the taught-word protocol trains on them
    return labels, kinds, table, codes


def precision_at(order: np.ndarray, relevant: np.ndarray, k: int = 20) -> float:
    n = int(min(k, relevant.sum()))
    return float(relevant[order[:n]].mean()) if n else float("nan")


def score_words(name: str) -> dict:
    from engine.words.concepts import rank
    from engine.errors import UnknownWords
    from engine.words.vocab import Vocabulary
    from engine.words.wordsearch import understand

    folder, column, words, kind_column = SETS[name]
    labels, kinds, table, codes = library_of(DATA / folder, column, kind_column)
    vocab = Vocabulary.load()
    per_word = {}
    for word, wanted in words.items():
        relevant = np.isin(kinds, [wanted]) if isinstance(wanted, str) else np.isin(labels, wanted)
        try:
            query = understand(vocab, word)
        except UnknownWords as exc:
            per_word[word] = {"known": False, "suggestions": exc.suggestions}
            continue
        row = {"known": True, "understood": query.describe(), "relevant": int(relevant.sum())}
        for step in STEPS:
            match, dist = rank(table, codes, query.weights, steps=step)
            order = np.lexsort((dist, -match))
            row[ROW_NAMES[step]] = round(precision_at(order, relevant), 3)
        per_word[word] = row
    known = [w for w, r in per_word.items() if r["known"]]
    summary = {"photos": len(labels), "words": len(words), "known": len(known),
               "known_share": round(len(known) / len(words), 3)}
    for step in STEPS:
        vals = [per_word[w][ROW_NAMES[step]] for w in known]
        summary[f"p@20 {ROW_NAMES[step]} (known words)"] = round(float(np.mean(vals)), 3) if vals else None
        summary[f"p@20 {ROW_NAMES[step]} (unknown as 0)"] = round(float(np.sum(vals) / len(words)), 3)
    return {"set": name, "folder": folder, "label_column": column, "summary": summary, "words": per_word}


def speed(n: int, queries: int = 50, seed: int = 0) -> dict:
    """Query time of ``engine.words.concepts.rank`` + top-k on a synthetic table of ``n`` photos (the app's layout)."""
    from engine.images.colours import COLOURS
    from engine.words.concepts import NEIGHBOURS, TOP, Concepts, rank
    from engine.words.vocab import Vocabulary
    from engine.words.wordsearch import understand

    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(TOP, 0.3), size=n).astype(np.float16)
    ids = np.arange(n, dtype=np.int64)
    table = Concepts(ids, ids, rng.integers(0, 1000, (n, TOP), dtype=np.uint16), probs,
                     rng.integers(0, n, (n, NEIGHBOURS), dtype=np.int32),
                     rng.integers(0, 256, (n, len(COLOURS)), dtype=np.uint8), n)
    codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    vocab = Vocabulary.load()
    words = ["dog", "shoes", "fruit", "banana", "t-shirt", "vehicle", "clothes", "cat", "car", "bird"]
    times, understand_times = [], []
    for i in range(queries):
        t0 = time.perf_counter()
        query = understand(vocab, words[i % len(words)])
        t1 = time.perf_counter()
        match, dist = rank(table, codes, query.weights)
        best = np.argpartition(-match, 49)[:50]
        best[np.lexsort((dist[best], -match[best]))]
        t2 = time.perf_counter()
        understand_times.append(t1 - t0)
        times.append(t2 - t0)
    with_file = _file_load_time(table)
    return {"photos": n, "queries": queries, "median_ms": round(1000 * float(np.median(times)), 2),
            "p95_ms": round(1000 * float(np.percentile(times, 95)), 2),
            "understand_median_ms": round(1000 * float(np.median(understand_times)), 3),
            "table_file_load_ms": with_file, "table_bytes_per_photo": 16 + TOP * 4 + NEIGHBOURS * 4 + len(COLOURS)}


def library_speed(n: int, queries: int = 30) -> dict:
    """End to end through ``Library.similar_to_text`` on a synthetic ``n``-photo library (``bench.synthetic``):
    the one-time table build (what a first index run or the first word query of an older library pays), then
    query times, then a fresh process's first query (reads ``concepts.bin``)."""
    import tempfile

    from bench.synthetic import build_library
    from engine.api import Library

    words = ["dog", "shoes", "fruit", "banana", "t-shirt", "vehicle", "clothes", "cat", "car", "bird"]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "lib"
        build_library(home, n)
        with Library(home) as lib:
            with lib.store.catalog.transaction():  # colour grids, as every indexed photo has (random here)
                lib.store.catalog.db.execute("UPDATE photos SET signature = randomblob(56)")
            t0 = time.perf_counter()
            lib.similar_to_text("dog", k=50)
            build = time.perf_counter() - t0
            times = []
            for i in range(queries):
                t0 = time.perf_counter()
                lib.similar_to_text(words[i % len(words)], k=50)
                times.append(time.perf_counter() - t0)
            coloured = {}
            for text in ("red shoes", "blue car", "white"):
                t0 = time.perf_counter()
                lib.similar_to_text(text, k=50)
                coloured[text] = round(1000 * (time.perf_counter() - t0), 1)
        with Library(home) as lib:
            t0 = time.perf_counter()
            lib.similar_to_text("shoes", k=50)
            fresh = time.perf_counter() - t0
    return {"photos": n, "table_build_s": round(build, 1), "queries": queries,
            "median_ms": round(1000 * float(np.median(times)), 1),
            "p95_ms": round(1000 * float(np.percentile(times, 95)), 1), "with_colour_ms": coloured,
            "fresh_process_first_query_ms": round(1000 * fresh, 1)}


def _file_load_time(table) -> float:
    import tempfile

    from engine.words.concepts import Concepts

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "concepts.bin"
        table.save(path)
        t0 = time.perf_counter()
        Concepts.load(path)
        return round(1000 * (time.perf_counter() - t0), 1)


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="word lists to score (garments, grocery)")
    parser.add_argument("--speed", type=int, default=0, help="also time queries on a synthetic table of N photos")
    parser.add_argument("--library", type=int, default=0,
                        help="also time Library.similar_to_text end to end on a synthetic N-photo library")
    parser.add_argument("--taught", default="", help="taught-word protocol on these sets (garments, grocery-coarse,"
                        " grocery-fine, garments-lookalike; 'all')")
    parser.add_argument("--trials", type=int, default=5, help="random draws of examples per class (--taught)")
    parser.add_argument("--out", default=str(RESULTS / "words-vm.json"))
    args = parser.parse_args(argv)
    out = {"benchmark": "words", "machine": machine_info(), "load_average_1min": _load_average(), "sets": []}
    for name in [s for s in args.sets.split(",") if s]:
        result = score_words(name)
        out["sets"].append(result)
        print(json.dumps({"set": name, **result["summary"]}))
        for word, row in result["words"].items():
            cells = " ".join(f"{k}={row[k]:.2f}" for k in ROW_NAMES.values() if k in row)
            print(f"  {word:12s} {cells or 'unknown, suggests ' + ', '.join(row.get('suggestions', []))}"
                  f"  {row.get('understood', '')}")
    taught_sets = ["garments", "garments-lookalike", "grocery-fine", "grocery-coarse"] if args.taught == "all" else [t for t in args.taught.split(",") if t]
    if taught_sets:
        from bench.words_taught import taught_protocol
    for name in taught_sets:
        result = taught_protocol(name, trials=args.trials)
        out.setdefault("taught", []).append(result)
        print(json.dumps(result))
    if args.speed:
        out["speed"] = speed(args.speed)
        print(json.dumps(out["speed"]))
    if args.library:
        out["library"] = library_speed(args.library)
        print(json.dumps(out["library"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return 0




if __name__ == "__main__":
    raise SystemExit(main())
