"""What the similarity percentages mean to a user: random clicks on labelled photos, before and after learning.

    python -m bench.clicks [--set garments-lookalike] [--n 0] [--clicks 100] [--no-train] [--fixed] [--out F]

The photos of one labelled set (../shared/data/<set>/manifest.csv, ``path,label``, or ``garments-10``: see
bench._sets; ``--n`` random photos of it, all with 0) are indexed into a fresh library exactly as the app does; then
``--clicks`` random photos that have at least 10 others of their kind are clicked (``Library.similar``, the app's
default number of results; ``--clicks 0`` clicks every one of them). Scored, as a user reads the results: of the
results labelled near-identical, very similar or similar (a close match), the share of the clicked photo's kind; how
many clicks get "No close match"; and how many close matches a click shows. Then the library learns
(``Library.train``) and the same clicks are scored again: the numbers should mean the same.
``--fixed`` scores with the one fixed map used before the per-library calibration (engine.codes.calibration).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench._machine import machine_info
from bench._sets import rows_of
from engine.progress import run_to_end

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MIN_KIND = 10  # a clicked photo has at least this many others of its kind
UNKNOWN = ("Not sure", "Other", "Skip")  # labels that name no kind (garments-lookalike): never clicked, and a
# result with one counts neither for nor against a click's precision


def labelled(name: str, n: int, seed: int) -> dict[str, str]:
    """{absolute path: label} of ``n`` random photos of the set (all with 0; ``garments-10``: bench._sets)."""
    rows = [(r["path"], r["label"]) for r in rows_of(DATA / name)]
    if n and n < len(rows):
        rows = random.Random(seed).sample(rows, n)
    return dict(rows)


def score_clicks(view, labels: dict[str, str], clicks: list[str], dump: list | None = None) -> dict:
    """The user's reading of ``clicks``: close-match precision, clicks with none, close matches per click.
    ``dump`` receives each click's results as (match, cosine, similarity, same kind) rows."""
    close = right = none = judged = 0
    per_level: Counter = Counter()
    right_level: Counter = Counter()
    for path in clicks:
        found = view.similar(path)
        if dump is not None:
            dump.append([(n.match, n.score, n.similarity, labels.get(n.photo.path) == labels[path]) for n in found])
        near = [n for n in found if n.close]
        none += not near
        close += len(near)
        for n in near:
            if labels.get(n.photo.path) in UNKNOWN:
                continue
            same = labels.get(n.photo.path) == labels[path]
            right += same
            judged += 1
            per_level[n.level] += 1
            right_level[n.level] += same
    return {"clicks": len(clicks), "close_precision": round(right / judged, 4) if judged else None,
            "no_close_match": none, "close_per_click": round(close / max(len(clicks), 1), 2),
            "by_level": {lv: {"results": per_level[lv], "precision": round(right_level[lv] / per_level[lv], 4)}
                         for lv in per_level}}


def run(name: str, n: int, clicks: int, train: bool, seed: int, fixed: bool = False) -> dict:
    from engine.api import Library

    if fixed:  # the map before per-library calibration, for comparison
        from engine.codes.calibration import FIXED
        from engine.library.modelstore import ModelStore

        ModelStore.calibration = lambda self, index: FIXED

    labels = labelled(name, n, seed)
    kinds = Counter(labels.values())
    eligible = sorted(p for p, lab in labels.items() if kinds[lab] - 1 >= MIN_KIND and lab not in UNKNOWN)
    chosen = random.Random(seed + 1).sample(eligible, min(clicks, len(eligible)) if clicks > 0 else len(eligible))
    out = {"set": name, "photos": len(labels), "eligible": len(eligible)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        copied = {}
        for k, path in enumerate(sorted(labels)):  # copies: the library sees exactly these photos, in one folder
            copied[path] = str(folder / f"{k:05d}{Path(path).suffix.lower()}")
            shutil.copyfile(path, copied[path])
        lib = Library(Path(tmp) / "home")
        try:
            t0 = time.perf_counter()
            run_to_end(lib.index([folder]))
            out["index_s"] = round(time.perf_counter() - t0, 1)
            paths = {}
            for src, dst in copied.items():
                photo = lib.view().photo_at(dst)
                if photo is not None:
                    paths[photo.path] = labels[src]
            queries = [lib.view().photo_at(copied[p]).path for p in chosen]
            out["before"] = score_clicks(lib.view(), paths, queries)
            out["before"]["model"] = next((m.kind for m in lib.view().models() if m.active), None)
            if train:
                t0 = time.perf_counter()
                run_to_end(lib.train())
                out["train_s"] = round(time.perf_counter() - t0, 1)
                out["after_model"] = next((m.kind for m in lib.view().models() if m.active), None)
                out["after"] = score_clicks(lib.view(), paths, queries)
        finally:
            lib.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="garments-lookalike")
    ap.add_argument("--n", type=int, default=0, help="random photos of the set (0: all)")
    ap.add_argument("--clicks", type=int, default=100, help="random clicks (0: every photo that qualifies)")
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fixed", action="store_true", help="score with the one fixed map (before calibration)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path, help="write the result JSON here")
    args = ap.parse_args(argv)
    result = {"benchmark": "clicks", "machine": machine_info(), "load": os.getloadavg()[0],
              "map": "fixed" if args.fixed else "calibrated",
              **run(args.set, args.n, args.clicks, not args.no_train, args.seed, args.fixed)}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
