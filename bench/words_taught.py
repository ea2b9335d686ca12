"""Words the user teaches (issue 23): precision@20 after 1, 3 and 5 examples and after one feedback round, and the
time to teach and query a word at 100k photos.

Usage::

    python -m bench.words --sets "" --taught all --out bench/results/words-taught-vm.json
    python -m bench.words_taught --speed 100000          # synthetic features: teach + first proposals, then queries

Protocol (``taught_protocol``). Every photo of a labelled folder is the library (``bench.words.library_of``: the
app's features, ITQ codes and concept table). For every class with at least ``MIN_CLASS`` photos and every trial,
1, 3 and 5 random photos of the class are the examples; precision@20 is measured over the photos not given (over
as many as the class has left when fewer than 20, as ``bench.words.precision_at``). Then one feedback round on the
3-example word: an oracle answers its first 20 proposals (photos of the class become examples, the others
rejections) and the word is trained again. Two numbers come out of that round, both reported:

- ``feedback top 20``: the first 20 photos the user sees after the round, the confirmed ones (kept, they are
  named now) and then the new proposals, scored like the 3-example P@20 (over the photos not given at first);
- ``feedback next 20``: the new proposals alone, over the photos not yet shown (the "residual collection"), with
  ``no feedback next 20`` beside it: the first ranking's proposals 21-40 on the same photos. These photos are the
  class's hardest ones (the easy ones were found in the first round), so this number is lower than the 3-example
  P@20 even when feedback helps; compare it with ``no feedback next 20``. A trial where the first round found every
  photo of the class has nothing left to find: it is counted in ``all_found`` and left out of the next-20 means.

Rows (the steps of ``engine.words.taught``): ``prototype`` (the issue's reference: the mean feature of the examples,
cosine), ``prototype+graph`` (one step of spreading on the photo graph), ``centred`` (step 1's centred prototype
alone), ``whitened`` (its whitened prototype alone), ``taught`` (both, calibrated: steps 1-2), ``app`` (plus the
photo graph, step 3: what ``simili similar --text`` does for a taught word alone).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench._machine import machine_info
from bench.words import DATA, RESULTS, _load_average, library_of, precision_at

TAUGHT_SETS = {  # name: (folder, label column)
    "garments": ("clothing10-dev", "label"),
    "garments-lookalike": ("garments-lookalike", "label"),
    "garments-10": ("garments-10", "label"),  # bench._sets: the demo clothes' ten kinds from both garment folders
    "grocery-fine": ("grocery-train", "label"),
    "grocery-coarse": ("grocery-train", "coarse_label"),
}
TAUGHT_ROWS = ("prototype", "prototype+graph", "centred", "whitened", "taught", "app")
MIN_CLASS = 23  # the bars are stated over classes with at least this many photos
SHOTS = (1, 3, 5)
ROUND = 20  # proposals the oracle answers in the feedback round


def _scores(variant: str, space, feats, table, pos, neg) -> np.ndarray:
    """Every photo's match for a word taught with the photos ``pos`` (and rejected ``neg``), by one row's method."""
    from engine.words import concepts, taught

    if variant.startswith("prototype"):
        unit = taught.unit(feats)
        q = unit[pos].mean(axis=0)
        if len(neg):  # Rocchio: away from the rejections
            q = q - taught.REJECT_WEIGHT * unit[neg].mean(axis=0)
        s = unit @ taught.unit(q)
        return concepts.diffuse(s, table.neighbours, steps=1) if variant == "prototype+graph" else s
    w = taught.directions(space, feats[pos], feats[neg] if len(neg) else None)
    raw = taught.project(space, w, lambda r: feats[r], np.arange(len(feats)))
    if variant in ("centred", "whitened"):
        return raw[:, 0 if variant == "centred" else 1]
    model = taught.teach("w", space, lambda r: feats[r], np.arange(len(feats)), np.asarray(pos, np.int64),
                         np.asarray(neg, np.int64))
    if variant == "taught":
        return model.scores
    return concepts.rank_scores(table, np.zeros((len(feats), 8), np.uint8), model.scores, "graph")[0]


def _order(match: np.ndarray, hide: np.ndarray) -> np.ndarray:
    order = np.argsort(-match, kind="stable")
    return order[~np.isin(order, hide)]


def _mask(members: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, bool)
    out[members] = True
    return out


def feedback_round(variant, space, feats, table, labels, c, pos, order) -> dict[str, float]:
    """One oracle round on the first ``ROUND`` proposals of ``order``: the numbers of the module docstring."""
    members = np.flatnonzero(labels == c)
    shown = order[:ROUND]
    yes, no = shown[labels[shown] == c], shown[labels[shown] != c]
    after = _order(_scores(variant, space, feats, table, np.concatenate([pos, yes]), no),
                   np.concatenate([pos, shown]))
    given_first = np.setdiff1d(members, pos)
    top = np.concatenate([yes, after[: ROUND - len(yes)]])
    out = {"feedback top 20": float(_mask(given_first, len(labels))[top].sum() / min(ROUND, len(given_first)))}
    left = np.setdiff1d(given_first, shown)
    if len(left):
        rel = _mask(left, len(labels))
        out["feedback next 20"] = precision_at(after, rel)
        out["no feedback next 20"] = precision_at(order[ROUND:], rel)
    return out


def taught_protocol(name: str, trials: int = 5, seed: int = 0) -> dict:
    """The protocol of the module docstring on one labelled set; strict-JSON-ready (no NaN)."""
    from engine.words import taught

    folder, column = TAUGHT_SETS[name]
    labels, _, table, _ = library_of(DATA / folder, column, None)
    feats = library_of.features
    space = taught.Space.of(feats)
    rng = np.random.default_rng(seed)
    classes = [c for c in sorted(set(labels)) if (labels == c).sum() >= MIN_CLASS]
    cells: dict[str, list[float]] = {}
    all_found: dict[str, int] = {}
    for c in classes:
        members = np.flatnonzero(labels == c)
        for _ in range(trials):
            picks = rng.permutation(members)
            for shots in SHOTS:
                pos = picks[:shots]
                for variant in TAUGHT_ROWS:
                    order = _order(_scores(variant, space, feats, table, pos, np.zeros(0, np.int64)), pos)
                    cells.setdefault(f"{variant} {shots}", []).append(
                        precision_at(order, _mask(np.setdiff1d(members, pos), len(labels))))
                    if shots != 3:
                        continue
                    got = feedback_round(variant, space, feats, table, labels, c, pos, order)
                    for key, value in got.items():
                        cells.setdefault(f"{variant} {key}", []).append(value)
                    if "feedback next 20" not in got:
                        all_found[variant] = all_found.get(variant, 0) + 1
    summary = {key: round(float(np.mean(v)), 3) for key, v in cells.items()}
    return {"set": name, "folder": folder, "label_column": column, "photos": len(labels), "classes": len(classes),
            "trials": trials, "p@20": summary, "all_found": all_found}


def teach_speed(n: int, dim: int = 1280, queries: int = 20, seed: int = 0) -> dict:
    """Teaching a word (3 examples) and its first proposals, then queries of the taught word, on a synthetic
    ``n``-photo library: float16 features in a memory map like the feature cache, a random photo graph, through
    ``engine.words.taught.TaughtCache`` and the same ranking as ``WordSearch.search``."""
    import tempfile

    from engine.words import concepts, taught

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.f16"
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, dim))
        for start in range(0, n, 16384):
            part = np.abs(rng.normal(size=(min(16384, n - start), dim))).astype(np.float16)
            mm[start : start + len(part)] = part
        mm.flush()
        feats = np.load(path, mmap_mode="r")

        class _Features:
            def get(self, rows):
                return np.asarray(feats[np.asarray(rows)], dtype=np.float32)

        ids = np.arange(n, dtype=np.int64)
        table = concepts.Concepts(ids, ids, np.zeros((n, concepts.TOP), np.uint16),
                                  np.zeros((n, concepts.TOP), np.float16),
                                  rng.integers(0, n, size=(n, concepts.NEIGHBOURS)).astype(np.int32),
                                  np.zeros((n, 11), np.uint8), n)
        codes = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
        cache = taught.TaughtCache()
        t0 = time.perf_counter()
        cache.space(table, _Features())
        t_space = time.perf_counter() - t0
        examples = [int(i) for i in rng.choice(n, 3, replace=False)]
        teach_ms, query_ms = [], []
        for q in range(queries):
            word = f"word{q}"
            t0 = time.perf_counter()
            scores, pos, neg = cache.scores(table, _Features(), word, examples, [])
            match, _ = concepts.rank_scores(table, codes, scores, "graph")
            best = np.argpartition(-match, 19)[:20]
            teach_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            scores, pos, neg = cache.scores(table, _Features(), word, examples, [])
            match, _ = concepts.rank_scores(table, codes, scores, "graph")
            best = best[np.argsort(-match[np.argpartition(-match, 19)[:20]])]
            query_ms.append(1000 * (time.perf_counter() - t0))
    return {"photos": n, "space_once_per_library_s": round(t_space, 3),
            "teach_and_first_proposals_ms_median": round(float(np.median(teach_ms)), 1),
            "teach_and_first_proposals_ms_max": round(float(np.max(teach_ms)), 1),
            "taught_query_ms_median": round(float(np.median(query_ms)), 1),
            "taught_query_ms_max": round(float(np.max(query_ms)), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=int, default=100_000, help="photos of the synthetic library")
    parser.add_argument("--out", default=str(RESULTS / "words-taught-speed-vm.json"))
    args = parser.parse_args(argv)
    out = {"benchmark": "words-taught-speed", "machine": machine_info(), "load_average_1min": _load_average(),
           "speed": teach_speed(args.speed)}
    print(json.dumps(out["speed"]))
    Path(args.out).write_text(json.dumps(out, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
