"""Decode-only throughput of engine.images.decode: 12 MP and 2 MP JPEGs, with and without JPEG draft, 1 and 2 threads.

The test photos are synthetic (gradients, shapes, grain) and sized like camera output: ~3 MB at 4000x3000 and
~0.6 MB at 1632x1224. "No draft" runs the same pipeline with draft disabled, so the difference is the reduced-scale
DCT alone. Each configuration runs for about ``--seconds`` (whole passes over the files), after one warm-up pass.
Wall-clock rates depend on what else the machine runs (``loadavg_1m`` is recorded); CPU ms per image does less.

Usage::

    python bench/decode_speed.py [--seconds 2] [--files 3] [--size 224]

Prints JSON and writes ``bench/results/decode_speed-<hostname>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import PIL  # noqa: E402

from bench._machine import machine_info  # noqa: E402
from engine.images import decode as dec  # noqa: E402
from tests.corpus import make_photo  # noqa: E402

KINDS = {
    "12MP": {"size": (4000, 3000), "noise": 8.0, "quality": 90},
    "2MP": {"size": (1632, 1224), "noise": 8.0, "quality": 92},
}


def make_files(folder: Path, files: int) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for kind, spec in KINDS.items():
        out[kind] = [
            make_photo(folder / f"{kind}_{i}.jpg", seed=100 + i, size=spec["size"], noise=spec["noise"],
                       quality=spec["quality"])
            for i in range(files)
        ]
    return out


def run(paths: list[Path], size: int, threads: int, seconds: float) -> dict[str, float]:
    """Decode whole passes over ``paths`` until ``seconds`` have passed; return the rate."""

    def one(p: Path) -> None:
        dec.decode(p, size=size)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, paths))  # warm-up: file cache, plugin imports
        done, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while True:
            if threads == 1:
                for p in paths:
                    one(p)
            else:
                list(pool.map(one, paths))
            done += len(paths)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        cpu = time.process_time() - cpu_start
    return {"images": done, "seconds": round(elapsed, 3), "images_per_s": round(done / elapsed, 1),
            "ms_per_image": round(1000 * elapsed / done, 1), "cpu_ms_per_image": round(1000 * cpu / done, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per configuration")
    parser.add_argument("--files", type=int, default=3, help="distinct files per image kind")
    parser.add_argument("--size", type=int, default=224, help="decode size (the backbone input)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory(prefix="simili-decode-bench-") as tmp:
        files = make_files(Path(tmp), args.files)
        images = {
            kind: {"pixels": list(KINDS[kind]["size"]),
                   "mean_bytes": round(sum(p.stat().st_size for p in paths) / len(paths))}
            for kind, paths in files.items()
        }
        default_draft = dec._DRAFT_FORMATS
        try:
            for kind, paths in files.items():
                for draft in (True, False):
                    dec._DRAFT_FORMATS = default_draft if draft else frozenset()
                    for threads in (1, 2):
                        r = run(paths, args.size, threads, args.seconds)
                        results.append({"image": kind, "draft": draft, "threads": threads, **r})
                        print(f"{kind:>5} draft={draft!s:5} threads={threads}: {r['images_per_s']:7.1f} img/s, "
                              f"{r['cpu_ms_per_image']} ms CPU per image", file=sys.stderr)
        finally:
            dec._DRAFT_FORMATS = default_draft

    report = {
        "bench": "decode_speed",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {**machine_info(), "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "pillow": PIL.__version__,
        "decode_size": args.size,
        "images": images,
        "results": results,
        "note": "images_per_s and ms_per_image are wall-clock (with 2 threads: wall time / images); "
        "cpu_ms_per_image is process CPU time per image, the cost per core, less sensitive to a busy machine",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"decode_speed-{socket.gethostname()}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
