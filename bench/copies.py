"""Do a photo's own copies rank in its top 5? (resized 50%, JPEG q50, 10% crop, 90° rotation + EXIF tag)

    python -m bench.copies [--folder resources/demo] [--limit N] [--train] [--json]

Every photo of the folder gets its four copies; everything is indexed into a fresh library exactly as a
user's folder would be, and for every original we count how many of its copies `similar(original, k=5)`
returns. Reported: the share of photos whose 4 copies are all in the top 5 (the bar: >= 95%), the share of
copies found, and the same for `dupes` (copies grouped with their original). With --train, DistillHash is
trained on the library and the numbers are measured again with its codes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]


def measure(lib, families: dict[Path, list[Path]]) -> dict:
    all_in = found = 0
    t0 = time.perf_counter()
    for original, copies in families.items():
        top5 = {Path(n.photo.path) for n in lib.similar(original, k=5)}
        hit = len(top5 & set(copies))
        found += hit
        all_in += hit == len(copies)
    query_ms = (time.perf_counter() - t0) / len(families) * 1000
    groups = [{Path(p.path) for p in g.photos} for g in lib.duplicates() if g.sure]
    grouped = pure = 0
    for original, copies in families.items():
        family = {original, *copies}
        group = next((g for g in groups if original in g), set())
        grouped += len(group & set(copies))
        pure += group <= family
    n_copies = sum(len(c) for c in families.values())
    model = lib.models()[0]
    return {"model": f"{model.kind}-{model.bits}", "photos": len(families),
            "all_copies_in_top5": round(all_in / len(families), 4), "copies_in_top5": round(found / n_copies, 4),
            "dupes_copies_grouped": round(grouped / n_copies, 4), "dupes_groups_pure": round(pure / len(families), 4),
            "similar_query_ms": round(query_ms, 2)}


def main(argv=None) -> int:
    from engine.api import Library
    from engine.progress import run_to_end
    from tests.corpus import make_copies

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folder", default=str(REPO / "resources" / "demo" / "images"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sources = sorted(Path(args.folder).rglob("*.jpg"))[: args.limit or None]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        families = {}
        for i, src in enumerate(sources):
            d = root / f"{i:04d}"
            d.mkdir(parents=True)
            original = d / src.name
            shutil.copyfile(src, original)
            families[original] = make_copies(original, d / "copies")
        lib = Library(Path(tmp) / "lib")
        t0 = time.perf_counter()
        run_to_end(lib.index([root]))
        index_s = time.perf_counter() - t0
        rows = [measure(lib, families)]
        if args.train:
            run_to_end(lib.train())
            rows.append(measure(lib, families))
        lib.close()
    out = {"benchmark": "copies", "folder": str(Path(args.folder).relative_to(REPO))
           if Path(args.folder).is_relative_to(REPO) else args.folder,
           "images_indexed": len(sources) * 5, "index_seconds": round(index_s, 1), "results": rows,
           "machine": machine_info()}
    (REPO / "bench" / "results" / f"copies-{out['machine']['host']}.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out) if args.json else "\n".join(json.dumps(r) for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
