"""Collect the retrieval results in bench/results/ into bench/RESULTS.md (one table per data set).

    python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORDER = ("float", "distillhash", "distillhash-app", "distillhash-hamming", "app-trained", "dsg", "dsg-app", "dmuh",
         "dmuh-app", "rankpres", "rankpres-app", "rankpres-recon", "itq", "itq-asym", "itq-app", "pca", "lsh")
SWEEP = ("float", "itq-app", "distillhash-app", "app-trained")


def _table(d: dict) -> list[str]:
    name = d["dataset"] + (f" ({d['label_column']})" if d.get("label_column") else "")
    if d.get("instance_copies"):
        name += ", edited copies (relevant = same source photo)"
    elif "products" in d.get("manifest", ""):
        name += ", same product"
    splits = int(d.get("splits", 1))
    runs = f"mean of {splits} query splits (seeds {d['seed']}-{d['seed'] + splits - 1}), ± its standard deviation" \
        if splits > 1 else f"seed {d['seed']}"
    lines = [f"### {name}", "", f"{d['n']} photos, {d['n_queries']} queries per split, {runs}", "",
             "| method | bits | mAP | P@10 | P@100 |", "|---|---|---|---|---|"]
    rows = sorted(d["results"], key=lambda r: (ORDER.index(r["method"]) if r["method"] in ORDER else 9,
                                               r["bits"] or 0))
    for r in rows:
        spread = f" ± {r['map_std']:.3f}" if "map_std" in r else ""
        lines.append(f"| {r['method']} | {r['bits'] or '-'} | {r['map']:.3f}{spread} | {r['p@10']:.3f} "
                     f"| {r['p@100']:.3f} |")
    return lines + [""]


def _sweep(runs: list[dict]) -> list[str]:
    """mAP of the app's orders against collection size, for one data set run at several ``--limit`` sizes."""
    name = runs[0]["dataset"] + (f" ({runs[0]['label_column']})" if runs[0].get("label_column") else "")
    lines = [f"### {name}: mAP against collection size (64 bits)", "",
             "| photos | " + " | ".join(SWEEP) + " | trained - before |", "|---" * (len(SWEEP) + 2) + "|"]
    for d in sorted(runs, key=lambda d: d["n"]):
        got = {r["method"]: r["map"] for r in d["results"] if r["bits"] in (None, 64)}
        cells = [f"{got[m]:.3f}" if m in got else "-" for m in SWEEP]
        delta = f"{100 * (got['distillhash-app'] - got['itq-app']):+.1f}" if {"itq-app", "distillhash-app"} <= set(got) \
            else "-"
        lines.append(f"| {d['n']} | " + " | ".join(cells) + f" | {delta} |")
    return lines + [""]


def main() -> int:
    files = sorted((REPO / "bench" / "results").glob("retrieval-*.json"))
    out = ["# Retrieval results", "",
           "Written by `python -m bench.report` from the `bench/results/retrieval-*.json` files that",
           "`python -m bench.retrieval` writes (2-core VM, no GPU). mAP over the whole database; all methods use",
           "the same EfficientNet-Lite0 features; learned codes train on the database photos only, without labels.",
           "`itq-app` is the app before training; `distillhash-app` after training with the default (the",
           "multi-scale diffusion start, docs/distillhash.md); `app-trained` what the app shows after `simili",
           "train`, its held-out check included (the trained order where the check accepted it, else ITQ's);",
           "`dsg`, `dmuh`, `rankpres` are the other variants (`-app`: in the app's order; `rankpres-recon`:",
           "refined with features reconstructed from the codes). `distillhash` is the trained 64 bits alone",
           "(asymmetric re-ranking of a Hamming shortlist), `distillhash-hamming` the same codes by Hamming",
           "distance; `itq`, `pca`, `lsh` rank by Hamming distance, `float` by cosine. Why the default is what",
           "it is: docs/distillhash.md §8.", ""]
    # One table per data set: runs of other bit lengths (e.g. ``--out retrieval-<set>-vm-bits.json``) are merged in.
    sets: dict[str, dict] = {}
    sweeps: dict[str, list[dict]] = {}
    for f in files:
        d = json.loads(f.read_text())
        if "dataset" not in d:  # summaries of other runs (e.g. the faithful variant) are skipped
            continue
        sweeps.setdefault(d["dataset"], []).append(d)
        if d.get("limit"):  # subsets appear in the size sweep only
            continue
        if d["dataset"] not in sets:
            sets[d["dataset"]] = d
            continue
        have = {(r["method"], r["bits"]) for r in sets[d["dataset"]]["results"]}
        sets[d["dataset"]]["results"] += [r for r in d["results"] if (r["method"], r["bits"]) not in have]
    out += ["## How the gain changes with collection size", ""]
    for runs in sweeps.values():
        if len({d["n"] for d in runs}) > 1:
            out += _sweep(runs)
    out += ["## Every method, full sets", ""]
    for d in sets.values():
        out += _table(d)
    (REPO / "bench" / "RESULTS.md").write_text("\n".join(out))
    print(f"{len(files)} result files -> bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
