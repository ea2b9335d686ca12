"""How long `dupes` takes on large libraries (bars: 100k photos under 10 s, 1M under 2 minutes).

    python -m bench.dupes_speed [--sizes 100000,1000000] [--copies 0.02] [--workdir DIR] [--json]

Libraries come from ``bench.synthetic`` (clustered random features, ITQ 64-bit codes, no decoding). A share of
the photos (``--copies``) is turned into near-copies of another photo (its feature plus a little noise, its code
recomputed), so the candidate search and the feature check have real work. These photos have no pixels, so the
pixel check finds nothing to align and the time is that of the candidate search and the feature check; the
pixel check's own cost per pair is measured by ``bench.dupes`` on real photos. Each size runs in a fresh process
(``Library(home).duplicates()`` end to end). Results: bench/results/dupes-speed-<host>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from engine.api import Library
lib = Library(sys.argv[1])
t1 = time.perf_counter()
groups = lib.duplicates()
t2 = time.perf_counter()
print(json.dumps({"open_s": round(t1 - t0, 2), "dupes_s": round(t2 - t1, 2), "groups": len(groups)}))
"""


def add_copies(home: Path, share: float, seed: int = 0) -> int:
    """Make ``share`` of the photos near-copies of others (features and codes); returns how many."""
    from engine.store import Store

    store = Store(home)
    n = store.features.rows
    rng = np.random.default_rng(seed)
    k = int(n * share)
    src = rng.choice(n, size=k, replace=False)
    dst = rng.permutation(np.setdiff1d(np.arange(n), src))[:k]
    feats = store.features.get(np.sort(src))
    order = np.argsort(src)
    noisy = feats[np.argsort(order)] + 0.02 * rng.standard_normal(feats.shape).astype(np.float32)
    mm = np.memmap(home / "features.f16", dtype=np.float16, mode="r+", shape=(n, store.features.dim))
    mm[dst] = noisy.astype(np.float16)
    mm.flush()
    del mm
    ids, rows = (np.asarray(a, dtype=np.int64) for a in store.catalog.feature_rows())
    id_of_row = np.empty(n, dtype=np.int64)
    id_of_row[rows] = ids
    index = store.models.index()
    index.remove(id_of_row[dst])
    index.add(id_of_row[dst], store.models.coder().encode(noisy))
    store.models.save_index(index)
    store.close()
    return k


def main(argv=None) -> int:
    from bench.synthetic import build_library

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--copies", type=float, default=0.02)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "simili-dupes-speed"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        home = Path(args.workdir) / f"lib-{n}"
        if not (home / "catalog.sqlite").exists():
            home.mkdir(parents=True, exist_ok=True)
            build_library(home, n)
            add_copies(home, args.copies)
        out = subprocess.run([sys.executable, "-c", _PROBE, str(home)], capture_output=True, text=True, cwd=REPO,
                             check=True)
        row = {"n": n, "copies_share": args.copies, **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    result = {"benchmark": "dupes_speed", "machine": machine_info(), "runs": rows,
              "bars": {"100000": "< 10 s", "1000000": "< 120 s"}}
    (REPO / "bench" / "results" / f"dupes-speed-{result['machine']['host']}.json").write_text(
        json.dumps(result, indent=1) + "\n")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
