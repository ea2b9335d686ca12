"""Collect the retrieval results in bench/results/ into bench/RESULTS.md (one table per set, 64 bits + float).

    python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORDER = ("float", "distillhash", "itq", "pca", "lsh")


def _table(path: Path) -> list[str]:
    d = json.loads(path.read_text())
    name = d["dataset"] + (f" ({d['label_column']})" if d.get("label_column") else "")
    if d.get("instance_copies"):
        name += ", edited copies (relevant = same source photo)"
    elif "products" in d.get("manifest", ""):
        name += ", same product"
    lines = [f"### {name}", "", f"{d['n']} photos, {d['n_queries']} queries, seed {d['seed']}", "",
             "| method | bits | mAP | P@10 | P@100 |", "|---|---|---|---|---|"]
    rows = sorted(d["results"], key=lambda r: (ORDER.index(r["method"]) if r["method"] in ORDER else 9,
                                               r["bits"] or 0))
    for r in rows:
        lines.append(f"| {r['method']} | {r['bits'] or '-'} | {r['map']:.3f} | {r['p@10']:.3f} | {r['p@100']:.3f} |")
    return lines + [""]


def main() -> int:
    files = sorted((REPO / "bench" / "results").glob("retrieval-*.json"))
    out = ["# Retrieval results", "",
           "Written by `python -m bench.report` from the `bench/results/retrieval-*.json` files that",
           "`python -m bench.retrieval` writes. mAP over the whole database with Hamming ranking (float: cosine);",
           "all methods use the same EfficientNet-Lite0 features; DistillHash trains on the database photos only.", ""]
    for f in files:
        if "dataset" in json.loads(f.read_text()):  # summaries of other runs (e.g. the faithful variant) are skipped
            out += _table(f)
    (REPO / "bench" / "RESULTS.md").write_text("\n".join(out))
    print(f"{len(files)} result files -> bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
