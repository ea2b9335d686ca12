"""Time from launch to a usable window on a library of 100,000 indexed photos.

The library is synthetic and built without decoding a single image: catalog rows written through
``engine.library.catalog.Catalog``, random backbone features in the feature store, then the engine's own
``ensure_codes`` fits the training-free code and builds the search index, as after a real first index.
Each run starts ``python -m gui --home LIB --quit-after-ready`` in a fresh process (offscreen) and measures
the wall time until the app prints that the first screen of photos is loaded.

    python -m bench.gui_start [--photos 100000] [--runs 7] [--keep LIB]

Writes ``bench/results/gui_start-<hostname>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 1.5


def build_library(home: Path, n: int, seed: int = 0) -> float:
    """Fill ``home`` with ``n`` indexed photos (fake paths, random features); returns seconds taken."""
    sys.path.insert(0, str(REPO))
    from engine.api import FEATURE_DIM, Library
    from engine.library.catalog import Catalog, fs_bytes
    from engine.library.featstore import FeatureStore
    from engine.jobs.indexing import ensure_codes

    start = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(home / "catalog.sqlite")
    rng = np.random.default_rng(seed)
    folder = Path("/synthetic/photos")
    with catalog.transaction():
        folder_id = catalog.add_folder(folder)
        items = [(fs_bytes(folder / f"{i // 1000:03d}" / f"IMG_{i:06d}.jpg"), 2_000_000 + i, 1_600_000_000_000_000_000 + i,
                  f"{i:032x}") for i in range(n)]
        catalog.insert_pending(folder_id, items)
    ids = [pid for pid, _ in catalog.pending()]
    store = FeatureStore(home / "features.f16", FEATURE_DIM, 0)
    chunk = 20_000
    for s in range(0, n, chunk):
        # Clustered random features (a few hundred "scenes"), so the fitted code has structure to find.
        m = min(chunk, n - s)
        centers = rng.standard_normal((256, FEATURE_DIM)).astype(np.float32)
        feats = centers[rng.integers(0, 256, m)] + 0.5 * rng.standard_normal((m, FEATURE_DIM)).astype(np.float32)
        rows = store.append(np.maximum(feats, 0))
        with catalog.transaction():
            _mark_ok(catalog, [(ids[s + j], rows[j], 4032, 3024, 1, None, "JPEG") for j in range(m)])
            catalog.set_meta("feat_rows", str(rows.stop))
        store.commit(rows)
    store.close()
    catalog.close()
    with Library(home) as lib:
        lib.settings.auto_train = False
        lib.save_settings()
        for _ in ensure_codes(lib.store):
            pass
    return time.perf_counter() - start


def _mark_ok(catalog, rows: list[tuple]) -> None:
    """``Catalog.mark_ok`` with or without the pixel-signature column (the schema grew one)."""
    if "signature" in (catalog.mark_ok.__doc__ or ""):
        rows = [r + (None,) for r in rows]
    catalog.mark_ok(rows)


def time_start(home: Path, env: dict[str, str]) -> dict:
    """Launch the app once; seconds until it reports a usable window, and until the process has exited."""
    cmd = [sys.executable, "-m", "gui", "--home", str(home), "--quit-after-ready"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready_wall = None
    info = {}
    for line in proc.stdout:
        if line.startswith("{") and "ready_s" in line:
            ready_wall = time.perf_counter() - t0
            info = json.loads(line)
    proc.wait(timeout=120)
    exit_wall = time.perf_counter() - t0
    if proc.returncode != 0 or ready_wall is None:
        raise RuntimeError(f"the app failed (exit {proc.returncode}): {proc.stderr.read()[-2000:]}")
    return {"ready_wall_s": round(ready_wall, 4), "ready_in_process_s": info["ready_s"],
            "photos": info["photos"], "exit_wall_s": round(exit_wall, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", help="build the library here and keep it (reused when it exists)")
    ap.add_argument("--out", default=None, help="result file (default bench/results/gui_start-<host>.json)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from bench._machine import machine_info

    tmp = None
    if args.keep:
        home = Path(args.keep)
    else:
        tmp = tempfile.mkdtemp(prefix="simili-gui-start-")
        home = Path(tmp) / "lib"
    try:
        build_s = None
        if not (home / "catalog.sqlite").exists():
            print(f"building a synthetic library of {args.photos:,} photos in {home} ...", flush=True)
            build_s = build_library(home, args.photos)
            print(f"built in {build_s:.1f} s", flush=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # like an installed app
        env.update({"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)})
        env.pop("SIMILI_HOME", None)
        time_start(home, env)  # warm-up: byte-code cache and OS file cache, as on any second launch
        runs = [time_start(home, env) for _ in range(args.runs)]
        for r in runs:
            print(json.dumps(r), flush=True)
        walls = [r["ready_wall_s"] for r in runs]
        result = {
            "benchmark": "gui_start",
            "what": "seconds from launching `python -m gui --home LIB --quit-after-ready` until the window shows "
                    "its first screen of photos (offscreen platform), library already indexed",
            "photos": runs[0]["photos"],
            "runs": runs,
            "median_s": round(statistics.median(walls), 4),
            "max_s": round(max(walls), 4),
            "target_s": TARGET_S,
            "meets_target": statistics.median(walls) < TARGET_S,
            "library_build_s": round(build_s, 1) if build_s else None,
            "machine": machine_info(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        out = Path(args.out) if args.out else REPO / "bench" / "results" / f"gui_start-{result['machine']['host']}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"median {result['median_s']:.3f} s, max {result['max_s']:.3f} s over {len(runs)} runs "
              f"(target < {TARGET_S} s) -> {out}")
        return 0 if result["meets_target"] else 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
