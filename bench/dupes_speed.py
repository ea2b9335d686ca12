"""How long `dupes` takes on large libraries (bars: 100k photos under 10 s, 1M under 2 minutes), and what the index
run's ahead-of-time check costs.

    python -m bench.dupes_speed [--sizes 100000,1000000] [--copies 0.02] [--bursts 0.01] [--workdir DIR] [--json]

Each library holds what an index run leaves and `dupes` reads: catalog rows, backbone features, 64-bit codes in
the code index, and a whole-frame grey thumbnail with its hash per photo. Photos:

- the bulk: unrelated photos (random codes; thumbnails of smooth random layouts with their own fine texture), with
  no image file behind them (nothing proposes them as look-alikes, so nothing decodes them);
- ``--copies`` of them are near-copies of another photo: code a few bits off (1 to 8), feature a little off,
  thumbnail edited; both are real image files: the original a real photo of ../shared/data (garments-lookalike,
  clothing10-dev, grocery-dev; reused in turn when a library needs more), the copy an edit of it (60 % half size,
  brighter and JPEG q50, 15 % mirrored, 25 % cropped to 85 %);
- ``--bursts`` of them sit in bursts of 5 to 20 look-alike shots (the same layout slightly moved, new fine
  texture; codes 2 to 8 bits from the burst's, features close), whose files are consecutive shots of grocery-train
  products (other captures): candidates the copy check must not call copies.

The copy check (``engine.duplicates.matching``: ORB keypoints of each photo's grey view, RANSAC, the warped
overlap's texture) decodes the files of every candidate pair, so its cost here is the real one.

Reported per size, in a fresh process: wall and CPU seconds of the index run's last stage from nothing stored
(``engine.duplicates.groups.check_job``: the copy verdicts measured ahead, the same work as a first duplicate
search) and then of ``Library(home).duplicates()`` (what a user waits for), the seconds of each stage (from the
progress messages), and recall of the planted copies (copy and original in one copy group). Results:
bench/results/dupes-speed-<host>.json, with the load average before and after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]
THUMB = 32
_BLOCK = 20_000

_PROBE = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from engine.duplicates import groups as duplicates
from engine.api import Library
from engine.progress import run_to_end
lib = Library(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
def stages(marks, t, c):
    def progress(p):  # each new stage, with wall and CPU seconds so far (also on stderr, for a run cut short)
        if not marks or marks[-1][2] != p.message:
            marks.append((round(time.perf_counter() - t, 2), round(time.process_time() - c, 2), p.message))
            print(json.dumps(marks[-1]), file=sys.stderr, flush=True)
    return progress
catalog = lib.store.catalog
with catalog.transaction():  # from nothing stored: what the index run's last stage does once
    for table in ("copy_matches", "photo_looks", "look_alikes"):
        catalog.db.execute(f"DROP TABLE IF EXISTS {table}")
    catalog.db.execute("DELETE FROM meta WHERE key IN ('pair_checks_for', 'look_alikes_for')")
index = lib.store.models.index()
check_marks = []
run_to_end(duplicates.check_job(catalog, lib.store.features, index, *lib._dupe_limits(index)),
           stages(check_marks, t1, c1))
t2, c2 = time.perf_counter(), time.process_time()
marks = []
groups = lib.duplicates(progress=stages(marks, t2, c2))
t3, c3 = time.perf_counter(), time.process_time()
json.dump([[int(m.photo.id) for m in g.members] for g in groups if g.sure], open(sys.argv[2], "w"))
print(json.dumps({"open_s": round(t1 - t0, 2), "check_s": round(t2 - t1, 2), "check_cpu_s": round(c2 - c1, 2),
                  "dupes_s": round(t3 - t2, 2), "dupes_cpu_s": round(c3 - c2, 2),
                  "groups": sum(g.sure for g in groups), "maybe_groups": sum(not g.sure for g in groups),
                  "check stages (wall s, cpu s, message)": check_marks,
                  "dupes stages (wall s, cpu s, message)": marks}))
"""

def _smooth(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 8x8 layouts."""
    return rng.standard_normal((n, 8, 8)).astype(np.float32)


_UP = np.clip(1 - np.abs((np.arange(THUMB)[:, None] + 0.5) / 4 - 0.5 - np.arange(8)[None, :]), 0, None)
_UP = (_UP / _UP.sum(axis=1, keepdims=True)).astype(np.float32)  # 32x8 linear upsampling


def _render(layout: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """Thumbnails from layouts (n, 8, 8) and fine textures (n, 32, 32), as float32 grey levels."""
    return 128 + 45 * (_UP @ layout @ _UP.T) + 14 * texture


def _to_grey(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).round().astype(np.uint8)


def _crop85(img: np.ndarray) -> np.ndarray:
    """The centre 85% of each thumbnail resampled to the full size (a lightly cropped copy)."""
    pos = (np.arange(THUMB) + 0.5) * 0.85 + THUMB * 0.075 - 0.5
    lo = np.clip(np.floor(pos).astype(int), 0, THUMB - 2)
    w = (pos - lo).astype(np.float32)
    m = np.zeros((THUMB, THUMB), np.float32)
    m[np.arange(THUMB), lo] = 1 - w
    m[np.arange(THUMB), lo + 1] = w
    return m @ img @ m.T


def _edit(rng: np.random.Generator, src: np.ndarray) -> np.ndarray:
    """Edited copies of thumbnails: photometric, mirrored or cropped."""
    out = src.copy()
    kind = rng.random(len(src))
    photo = kind < 0.6
    out[photo] = out[photo] * rng.uniform(0.7, 1.3, (photo.sum(), 1, 1)) + rng.uniform(-30, 30, (photo.sum(), 1, 1))
    out[photo] += rng.normal(0, 4, out[photo].shape)
    mirror = (kind >= 0.6) & (kind < 0.75)
    out[mirror] = out[mirror][:, :, ::-1]
    crop = kind >= 0.75
    out[crop] = _crop85(out[crop])
    return out


def _flip(rng: np.random.Generator, codes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Codes with ``low`` to ``high`` random bits flipped."""
    bits = np.unpackbits(codes, axis=1)
    for row, k in zip(bits, rng.integers(low, high + 1, len(codes))):
        row[rng.choice(bits.shape[1], size=k, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def _hashes(thumbs: np.ndarray) -> np.ndarray:
    """``engine.images.signature.frame_hash`` of many thumbnails at once."""
    from engine.images.signature import _DCT32

    band = (_DCT32 @ thumbs.astype(np.float64) @ _DCT32.T)[:, :8, :8].reshape(len(thumbs), 64)
    bits = np.packbits(band > np.median(band[:, 1:], axis=1, keepdims=True), axis=1)
    return bits.view("<i8").ravel()


DATA = REPO.parent / "shared" / "data"
SOURCES = ("garments-lookalike", "clothing10-dev", "grocery-dev")


def _copy_of(src: Path, out: Path, kind: float) -> None:
    """An edited copy of a real photo: half size, brighter and JPEG q50; mirrored; or cropped to 85 %."""
    from PIL import Image, ImageEnhance, ImageOps

    im = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
    if kind < 0.6:
        im = ImageEnhance.Brightness(im.resize((max(8, im.width // 2), max(8, im.height // 2)))).enhance(1.2)
        im.save(out, quality=50)
    elif kind < 0.75:
        ImageOps.mirror(im).save(out, quality=90)
    else:
        w, h = im.size
        im.crop((round(0.075 * w), round(0.075 * h), round(0.925 * w), round(0.925 * h))).save(out, quality=90)


def write_images(home: Path, src_rows, copy_rows, runs, seed: int = 0) -> int:
    """Real image files for the planted photos (at the paths their catalog rows name), their true sizes in the
    catalog; returns how many files were written."""
    import csv
    import shutil

    from PIL import Image

    from engine.library.store import Store

    rng = np.random.default_rng(seed + 1)
    sources = sorted(p for s in SOURCES for p in (DATA / s / "images").rglob("*.jpg"))
    rng.shuffle(sources)
    shelf = DATA / "grocery-train"
    with open(shelf / "manifest.csv", newline="") as f:
        shots = sorted(r["path"] for r in csv.DictReader(f))  # consecutive shots of a product, in order
    store = Store(home)
    catalog = store.catalog
    path_of = dict(catalog.db.execute("SELECT feat_row, path FROM photos"))
    kinds = rng.random(len(copy_rows))
    written: list[int] = []

    def target(row) -> Path:
        out = Path(os.fsdecode(path_of[int(row)]))
        out.parent.mkdir(parents=True, exist_ok=True)
        written.append(int(row))
        return out

    for k, (src_row, copy_row) in enumerate(zip(src_rows, copy_rows)):
        src = sources[k % len(sources)]
        shutil.copyfile(src, target(src_row))
        _copy_of(src, target(copy_row), kinds[k])
    at = 0
    for run in runs:
        for row in run:
            shutil.copyfile(shelf / shots[at % len(shots)], target(row))
            at += 1
    with catalog.transaction():
        for row in written:
            path = os.fsdecode(path_of[row])
            with Image.open(path) as im:
                w, h = im.size
            st = os.stat(path)
            catalog.db.execute("UPDATE photos SET width=?, height=?, size=?, mtime_ns=? WHERE feat_row=?",
                               (w, h, st.st_size, st.st_mtime_ns, row))
    store.close()
    return len(written)


def plant(home: Path, copies: float, bursts: float, seed: int = 0) -> dict:
    """Give a ``bench.synthetic`` library random codes, thumbnails, near-copies and bursts; returns the plan."""
    from engine.library.store import Store

    store = Store(home)
    rng = np.random.default_rng(seed)
    n = store.features.rows
    ids, rows = (np.asarray(a, dtype=np.int64) for a in store.catalog.feature_rows())
    perm = rng.permutation(n)
    k_copy, k_burst = int(n * copies), int(n * bursts)
    copy_rows, burst_rows, src_rows = perm[:k_copy], perm[k_copy : k_copy + k_burst], perm[-k_copy:]
    codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    layout = _smooth(rng, n)
    grey = np.empty((n, THUMB, THUMB), np.uint8)
    for s in range(0, n, _BLOCK):
        texture = rng.standard_normal((min(_BLOCK, n - s), THUMB, THUMB)).astype(np.float32)
        grey[s : s + _BLOCK] = _to_grey(_render(layout[s : s + _BLOCK], texture))
    feats = np.memmap(home / "features.f16", dtype=np.float16, mode="r+", shape=(n, store.features.dim))
    # bursts: runs of 5-20 photos around the run's first one
    sizes: list[int] = []
    while sum(sizes) < k_burst:
        sizes.append(int(rng.integers(5, 21)))
    runs = []
    for s, size in zip(np.cumsum([0] + sizes[:-1]), sizes):
        run = burst_rows[s : s + size]
        if len(run) < 2:
            continue
        runs.append(run)
        head, rest = run[0], np.sort(run[1:])
        codes[rest] = _flip(rng, np.repeat(codes[head : head + 1], len(rest), axis=0), 2, 8)
        moved = layout[head] + 0.3 * rng.standard_normal((len(rest), 8, 8)).astype(np.float32)
        shot = _render(moved, rng.standard_normal((len(rest), THUMB, THUMB)).astype(np.float32))
        grey[rest] = _to_grey(np.roll(shot, tuple(rng.integers(-2, 3, 2)), axis=(1, 2)))
        base = np.asarray(feats[head], np.float32)
        feats[rest] = (base + 0.05 * np.abs(base).mean() * rng.standard_normal((len(rest), len(base)))).astype(
            np.float16)
    codes[copy_rows] = _flip(rng, codes[src_rows], 1, 8)
    grey[copy_rows] = _to_grey(_edit(rng, grey[src_rows].astype(np.float32)))
    order = np.argsort(copy_rows)
    src_feats = np.asarray(feats[np.sort(src_rows)], np.float32)[np.argsort(np.argsort(src_rows))]
    noisy = src_feats + 0.02 * np.abs(src_feats).mean() * rng.standard_normal(src_feats.shape).astype(np.float32)
    feats[copy_rows[order]] = noisy[order].astype(np.float16)
    feats.flush()
    del feats
    id_of_row = np.empty(n, dtype=np.int64)
    id_of_row[rows] = ids
    with store.catalog.transaction():
        for s in range(0, n, _BLOCK):
            block = grey[s : s + _BLOCK]
            store.catalog.set_frames(zip(id_of_row[s : s + _BLOCK].tolist(), (bytes(4) + g.tobytes() for g in block),
                                         _hashes(block.astype(np.float32)).tolist()))
    index = store.models.index()
    index.add(id_of_row, codes)
    store.models.save_index(index)
    store.close()
    files = write_images(home, src_rows, copy_rows, runs, seed)
    return {"files": files, "pairs": [[int(a), int(b)] for a, b in zip(id_of_row[src_rows], id_of_row[copy_rows])],
            "bursts": len(sizes)}


def _recall(pairs: list[list[int]], groups: list[list[int]]) -> float:
    where = {i: g for g, members in enumerate(groups) for i in members}
    return round(float(np.mean([where.get(a, -1) == where.get(b, -2) for a, b in pairs])), 5) if pairs else 1.0


def main(argv=None) -> int:
    from bench.synthetic import build_library

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--copies", type=float, default=0.02)
    ap.add_argument("--bursts", type=float, default=0.01)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "simili-dupes-speed"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        home = Path(args.workdir) / f"lib-{n}-c{args.copies}-b{args.bursts}-files"
        plan_file = home / "planted.json"
        if not plan_file.exists():
            home.mkdir(parents=True, exist_ok=True)
            build_library(home, n)
            plan_file.write_text(json.dumps(plant(home, args.copies, args.bursts)))
        plan = json.loads(plan_file.read_text())
        load_before = os.getloadavg()
        groups_file = home / "groups.json"
        out = subprocess.run([sys.executable, "-c", _PROBE, str(home), str(groups_file)], stdout=subprocess.PIPE,
                             text=True, cwd=REPO, check=True)
        row = {"n": n, "copies": len(plan["pairs"]), "bursts": plan["bursts"], "image_files": plan["files"],
               **json.loads(out.stdout.strip().splitlines()[-1]),
               "planted_recall": _recall(plan["pairs"], json.loads(groups_file.read_text())),
               "load_average_before": [round(x, 2) for x in load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()]}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    machine = machine_info()
    out = REPO / "bench" / "results" / f"dupes-speed-{machine['host']}.json"
    try:  # rows of other sizes from an earlier run are kept, so the sizes can be run one at a time
        earlier = [r for r in json.loads(out.read_text()).get("runs", []) if r.get("n") not in {r["n"] for r in rows}]
    except (OSError, ValueError, AttributeError):
        earlier = []
    result = {"benchmark": "dupes_speed", "machine": machine, "runs": sorted(earlier + rows, key=lambda r: r["n"]),
              "bars": {"100000": "< 10 s", "1000000": "< 120 s"}}
    out.write_text(json.dumps(result, indent=1) + "\n")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
