"""Library-level scale: query latency through the facade, resident memory, and no-change rescans.

    python -m bench.scale [--sizes 10000,100000,1000000] [--rescan 100000] [--json]

Each size gets a synthetic library (bench.synthetic: catalog rows, float16 feature cache, ITQ codes, saved
index). A fresh process then opens it and measures: time to open + first query, p50/p99 of
``Library.similar(photo_id, k=50)`` end to end in-process (Hamming shortlist, asymmetric re-ranking, memory-mapped
features of the results + catalog lookups), and its resident memory (VmRSS, VmHWM). The rescan case runs
``Library.index()`` twice over a tree of real (hard-linked) files: the first run fills what a library built before
the duplicate-check frames (and the word-search table) lacks, once; the second, timed as ``rescan_s``, finds
nothing changed. The 1-minute load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, sys, time, numpy as np
t0 = time.perf_counter()
from engine.api import Library
lib = Library(sys.argv[1])
ids = lib.store.models.index().ids()
first = lib.similar(int(ids[0]), k=50)
t_open = time.perf_counter() - t0
rng = np.random.default_rng(1)
lat = []
for pid in rng.choice(ids, size=min(500, len(ids)), replace=False):
    s = time.perf_counter(); lib.similar(int(pid), k=50); lat.append((time.perf_counter() - s) * 1000)
mem = {}
for line in open("/proc/self/status"):
    if line.startswith(("VmRSS", "VmHWM")):
        k, v = line.split(":"); mem[k] = int(v.split()[0]) / 1024
print(json.dumps({"open_and_first_query_s": round(t_open, 3), "p50_ms": round(float(np.percentile(lat, 50)), 2),
                  "p99_ms": round(float(np.percentile(lat, 99)), 2), "rss_mb": round(mem["VmRSS"], 1),
                  "peak_rss_mb": round(mem["VmHWM"], 1)}))
"""

_RESCAN = r"""
import json, os, sys, time
from engine.api import Library


def run(lib):
    t, stages = time.perf_counter(), {}
    job = lib.index()
    try:
        while True:
            p = next(job)
            stages[p.stage] = max(stages.get(p.stage, 0), p.done or 0)
    except StopIteration as stop:
        return round(time.perf_counter() - t, 2), stop.value, stages


lib = Library(sys.argv[1])
load = os.getloadavg()[0]
first_s, first, first_stages = run(lib)  # a library indexed before the frames and words tables: filled here, once
rescan_s, r, stages = run(lib)
print(json.dumps({"first_index_s": first_s, "first_frames": first_stages.get("frames", 0),
                  "rescan_s": rescan_s, "rescan_frames": stages.get("frames", 0), "unchanged": r.unchanged,
                  "added": r.added, "updated": r.updated, "removed": r.removed,
                  "load_avg_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    from bench.synthetic import build_library

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--rescan", type=int, default=100_000, help="files in the no-change rescan (0 to skip)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "simili-scale"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    results = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        home = work / f"lib-{n}"
        built = None
        if not (home / "catalog.sqlite").exists():
            home.mkdir(parents=True, exist_ok=True)
            built = build_library(home, n)
        row = {"n": n, **_run(_PROBE, str(home))}
        if built:
            row["build"] = built
        results.append(row)
        print(json.dumps(row), file=sys.stderr)
    rescan = None
    if args.rescan:
        home = work / f"rescan-{args.rescan}"
        if not (home / "catalog.sqlite").exists():
            home.mkdir(parents=True, exist_ok=True)
            build_library(home, args.rescan, files_root=work / f"tree-{args.rescan}")
        rescan = {"files": args.rescan, **_run(_RESCAN, str(home))}
        print(json.dumps(rescan), file=sys.stderr)
    out = {"benchmark": "scale", "machine": machine_info(), "query": results, "rescan": rescan,
           "notes": "similar() end to end in-process, k=50, ITQ 64-bit codes; RSS of the process after 500 queries"}
    name = "scale" if results else "scale-rescan"  # a rescan alone does not replace the query results
    (REPO / "bench" / "results" / f"{name}-{out['machine']['host']}.json").write_text(json.dumps(out, indent=2) + "\n")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
