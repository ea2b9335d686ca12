"""Indexing throughput: decode-only, model-only and the whole overlapped index job, by image size.

    python -m bench.indexing [--n12 48] [--n2 96] [--json] [--plot]

Test images are real demo photos upscaled to 12 MP (4000x3000) and 2 MP (1600x1200) with sensor-like noise so
their JPEG sizes are realistic (~3 MB and ~0.6 MB). Results go to bench/results/indexing-<host>.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]
SIZES = {"12MP": (4000, 3000), "6MP": (3000, 2000), "2MP": (1600, 1200), "0.5MP": (800, 600)}


def make_images(folder: Path, size: tuple[int, int], n: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((REPO / "resources" / "demo" / "images").rglob("*.jpg"))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        path = folder / f"img{i:04d}.jpg"
        if not path.exists():
            im = Image.open(sources[i % len(sources)]).convert("RGB").resize(size, Image.BICUBIC)
            a = np.asarray(im, dtype=np.int16) + rng.integers(-6, 7, size=(size[1], size[0], 3), dtype=np.int16)
            Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, quality=92)
        out.append(path)
    return out


def decode_rate(paths: list[Path], threads: int) -> float:
    from engine.model.encode import decode_safely

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda p: decode_safely(bytes(p), 224), paths))
    return len(paths) / (time.perf_counter() - start)


def model_rate(batch: int = 32, rounds: int = 4) -> tuple[float, str]:
    from engine.model.backbone import Backbone

    bb = Backbone()
    x = np.random.default_rng(0).integers(0, 255, (batch, 224, 224, 3), dtype=np.uint8)
    bb.embed(x)
    start = time.perf_counter()
    for _ in range(rounds):
        bb.embed(x)
    return batch * rounds / (time.perf_counter() - start), bb.provider


def index_rate(folder: Path) -> dict:
    from engine.api import Library

    with tempfile.TemporaryDirectory() as home:
        lib = Library(home)
        t0 = time.perf_counter()
        encode_start = None  # after the first batch: model loading and pipeline fill are not throughput
        n0 = n = 0
        job = lib.index([folder])
        try:
            while True:
                p = next(job)
                if p.stage == "encode" and p.done and encode_start is None:
                    encode_start, n0 = time.perf_counter(), p.done
                if p.stage == "encode":
                    n, encode_end = p.done, time.perf_counter()
        except StopIteration as stop:
            report = stop.value
        end = time.perf_counter()
        lib.close()
    return {"images": report.indexed, "total_s": round(end - t0, 2),
            "encode_images_per_s": round((n - n0) / (encode_end - encode_start), 1) if encode_start else None,
            "overall_images_per_s": round(report.indexed / (end - t0), 1)}


def plot(results: list[dict], dest: Path, machine: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mp = [SIZES[r["size"]][0] * SIZES[r["size"]][1] / 1e6 for r in results]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label in (("decode_2threads_per_s", "decode only (2 threads)"), ("model_only_per_s", "model only"),
                       ("encode_images_per_s", "index job (decode + model, overlapped)")):
        ax.plot(mp, [r[key] for r in results], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("image size (megapixels, JPEG)")
    ax.set_ylabel("images per second")
    ax.set_title(f"Indexing throughput, {machine['cores']} cores ({machine['cpu'][:40]})", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dest, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n12", type=int, default=96)
    ap.add_argument("--n2", type=int, default=192)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "simili-bench-images"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--plot", action="store_true", help="draw throughput vs image size to bench/results/")
    args = ap.parse_args(argv)
    results = []
    model, provider = model_rate()
    for label, n in (("12MP", args.n12), ("6MP", args.n12), ("2MP", args.n2), ("0.5MP", args.n2)):
        paths = make_images(Path(args.cache) / label, SIZES[label], n)
        mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        results.append({"size": label, "mean_file_mb": round(mb, 2),
                        "decode_1thread_per_s": round(decode_rate(paths, 1), 1),
                        "decode_2threads_per_s": round(decode_rate(paths, 2), 1),
                        "model_only_per_s": round(model, 1), **index_rate(paths[0].parent)})
    out = {"benchmark": "indexing", "provider": provider, "machine": machine_info(), "results": results}
    dest = REPO / "bench" / "results" / f"indexing-{out['machine']['host']}.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    if args.plot:
        plot(results, REPO / "bench" / "results" / "indexing-throughput.png", out["machine"])
    if args.json:
        print(json.dumps(out))
    else:
        for r in results:
            print(f"{r['size']:>5}: decode {r['decode_2threads_per_s']}/s (2 threads), model {r['model_only_per_s']}/s,"
                  f" index job {r['encode_images_per_s']}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
