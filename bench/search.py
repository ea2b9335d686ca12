"""Single-query search latency, build time, memory and recall of faiss binary indexes, CodeIndex and a float baseline.

Each index answers ``--queries`` single queries in a loop (after a warm-up), in this process, and the bench reports
p50/p90/p99/max latency. Codes are random (the hardest case for approximate indexes: no structure) or clustered
(codes near cluster centres with 3-20% of bits flipped, as near-duplicate bursts and similar scenes give); queries
are fresh codes from the same distribution. Approximate indexes report tie-aware recall@k against an exact scan:
the share of returned neighbours at most as far as the exact k-th neighbour. Every index is built on one OpenMP
thread and searched on one, except flat-omp (searched with faiss's default team, to show its tail).

Indexes:
    flat-omp       faiss IndexBinaryFlat searched with faiss's default OpenMP team (the naive set-up)
    flat, ivf      CodeIndex(kind=...) (one OpenMP thread for single queries)
    auto           CodeIndex(kind="auto"); ``picks`` says which structure it chose
    multihash      IndexBinaryMultiHash, substrings of ~log2(n) bits, 2 flips (Norouzi et al.'s rule)
    hnsw           IndexBinaryHNSW, M=16, efSearch=64
    float-flatip   IndexFlatIP over n x 1280 float32 random features (the backbone features, unhashed)

Usage::

    python -m bench.search --sizes 10000,100000,1000000 --bits 64 --json [--plot] [--background-load 1]

``--plot`` draws bench/results/search-latency.png and writes bench/results/search-<hostname>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from engine.codes.codeindex import AUTO_IVF_THRESHOLD, CodeIndex

RESULTS = Path(__file__).resolve().parent / "results"
ALL_INDEXES = ("flat-omp", "flat", "ivf", "auto", "multihash", "hnsw", "float-flatip")
FLOAT_DIM = 1280

Search = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----- data ----------------------------------------------------------------------------------------------------------


def random_codes(n: int, bits: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)


def clustered_codes(n: int, bits: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Codes near random centres (about 200 per centre); each centre flips 3-20% of bits per member."""
    flip_p = np.random.default_rng(12345).uniform(0.03, 0.20, len(centres)).astype(np.float32)
    out = np.empty((n, bits // 8), dtype=np.uint8)
    for s in range(0, n, 1 << 20):
        m = min(n - s, 1 << 20)
        owner = rng.integers(0, len(centres), m)
        flips = rng.random((m, bits), dtype=np.float32) < flip_p[owner, None]
        out[s : s + m] = centres[owner] ^ np.packbits(flips, axis=1)
    return out


def make_data(kind: str, n: int, bits: int, nq: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return random_codes(n, bits, rng), random_codes(nq, bits, rng)
    centres = random_codes(max(1, n // 200), bits, rng)
    return clustered_codes(n, bits, rng, centres), clustered_codes(nq, bits, rng, centres)


# ----- measurement ---------------------------------------------------------------------------------------------------


def rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def mem_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


@contextmanager
def omp_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` OpenMP threads (None: leave faiss's default)."""
    prev = faiss.omp_get_max_threads()
    if n is not None:
        faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


def time_queries(search: Search, queries: np.ndarray, k: int, max_seconds: float) -> dict[str, Any]:
    """Latency of single queries (after up to 50 warm-up ones), fewer queries if they would exceed the budget."""
    warm = min(50, len(queries))
    t0 = time.perf_counter()
    for i in range(warm):
        search(queries[i : i + 1])
    per_query = (time.perf_counter() - t0) / max(warm, 1)
    nq = int(min(len(queries), max(20, max_seconds / max(per_query, 1e-9))))
    lat = np.empty(nq)
    dist = np.full((nq, k), -1, dtype=np.float64)
    ids = np.full((nq, k), -1, dtype=np.int64)
    for i in range(nq):
        t = time.perf_counter_ns()
        d, j = search(queries[i : i + 1])
        lat[i] = time.perf_counter_ns() - t
        dist[i, : d.shape[1]], ids[i, : j.shape[1]] = d[0], j[0]
    lat /= 1e6
    return {
        "queries": nq,
        "p50_ms": round(float(np.percentile(lat, 50)), 4),
        "p90_ms": round(float(np.percentile(lat, 90)), 4),
        "p99_ms": round(float(np.percentile(lat, 99)), 4),
        "max_ms": round(float(lat.max()), 4),
        "mean_ms": round(float(lat.mean()), 4),
        "_dist": dist,
        "_ids": ids,
    }


def recall_at_k(dist: np.ndarray, ids: np.ndarray, kth_exact: np.ndarray) -> float:
    """Tie-aware recall@k: returned neighbours no farther than the exact k-th one (missing ones count as misses)."""
    hit = (ids >= 0) & (dist <= kth_exact[: len(dist), None])
    return round(float(hit.mean()), 4)


# ----- the indexes ---------------------------------------------------------------------------------------------------


@dataclass
class Built:
    search: Search
    memory_bytes: int
    params: dict[str, Any] = field(default_factory=dict)
    threads: int | None = 1  # OpenMP threads set around the timing loop; None = faiss's default team
    policy: str = "1 OpenMP thread"
    extra: dict[str, Any] = field(default_factory=dict)


def build_binary(name: str, codes: np.ndarray, bits: int, k: int) -> Built:
    n = len(codes)
    if name == "flat-omp":
        index = faiss.IndexBinaryFlat(bits)
        index.add(codes)
        return Built(lambda q: index.search(q, k), n * bits // 8, {}, threads=None, policy="faiss default team")
    if name in ("flat", "ivf", "auto"):
        ci = CodeIndex(bits, kind=name)
        ci.add(np.arange(n, dtype=np.int64), codes)
        params = {"nlist": ci.nlist, "nprobe": ci.nprobe} if ci.active_kind == "ivf" else {}
        return Built(lambda q: ci.search(q, k), ci.nbytes, params, threads=None, extra={"picks": ci.active_kind},
                     policy="CodeIndex (1 thread)")
    if name == "multihash":
        nhash = max(1, round(bits / math.log2(max(n, 2))))
        b = min(bits // nhash, 63)
        index = faiss.IndexBinaryMultiHash(bits, nhash, b)
        index.nflip = 2
        index.add(codes)
        memory = faiss.serialize_index_binary(index).nbytes
        return Built(lambda q: index.search(q, k), memory, {"nhash": nhash, "b": b, "nflip": 2})
    if name == "hnsw":
        index = faiss.IndexBinaryHNSW(bits, 16)
        index.add(codes)
        index.hnsw.efSearch = 64
        memory = faiss.serialize_index_binary(index).nbytes
        return Built(lambda q: index.search(q, k), memory, {"M": 16, "efSearch": 64, "efConstruction": 40})
    raise ValueError(f"unknown index {name!r}")


def build_float(n: int, k: int, seed: int) -> Built:
    """IndexFlatIP over n random 1280-d float32 features, added in chunks so only one copy exists."""
    rng = np.random.default_rng(seed)
    index = faiss.IndexFlatIP(FLOAT_DIM)
    for s in range(0, n, 65536):
        index.add(rng.standard_normal((min(65536, n - s), FLOAT_DIM), dtype=np.float32))
    return Built(lambda q: index.search(q, k), n * FLOAT_DIM * 4, {"dim": FLOAT_DIM}, threads=None)


def estimate_bytes(name: str, n: int, bits: int) -> int:
    per = {"float-flatip": FLOAT_DIM * 4, "hnsw": bits // 8 + 16 * 2 * 4 + 24, "multihash": 64}.get(name, 48)
    return n * per


# ----- the run -------------------------------------------------------------------------------------------------------


@dataclass
class Runner:
    args: argparse.Namespace
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    last_build: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    def skip(self, name: str, data: str, n: int, reason: str) -> None:
        log(f"skip {name} {data} n={n}: {reason}")
        self.skipped.append({"index": name, "data": data, "n": n, "reason": reason})

    def too_big(self, name: str, data: str, n: int) -> str | None:
        need, avail = estimate_bytes(name, n, self.args.bits), mem_available()
        if need > 0.6 * avail:
            return f"needs ~{need / 2**30:.1f} GiB, only {avail / 2**30:.1f} GiB available (limit 60%)"
        prev = self.last_build.get((name, data))
        if prev:
            est = prev[1] * (n / prev[0]) * math.log(n) / math.log(prev[0])
            if est > self.args.max_build_seconds:
                return f"estimated build {est:.0f} s (from n={prev[0]}) exceeds --max-build-seconds"
        return None

    def measure(self, name: str, data: str, n: int, make: Callable[[], Built], queries: np.ndarray,
                kth: np.ndarray | None) -> None:
        reason = self.too_big(name, data, n)
        if reason:
            self.skip(name, data, n, reason)
            return
        log(f"build {name} {data} n={n}")
        rss0, t0 = rss_bytes(), time.perf_counter()
        with omp_threads(1):  # as CodeIndex builds; a 2-thread team on busy cores was up to 70x slower
            built = make()
        build_s = time.perf_counter() - t0
        rss1 = rss_bytes()
        self.last_build[(name, data)] = (n, build_s)
        with omp_threads(built.threads):
            timing = time_queries(built.search, queries, self.args.k, self.args.max_seconds)
        row: dict[str, Any] = {"index": name, "data": data, "n": n, "bits": self.args.bits, "k": self.args.k}
        row.update({key: v for key, v in timing.items() if not key.startswith("_")})
        row.update(built.extra)
        row["build_s"] = round(build_s, 3)
        row["memory_bytes"] = int(built.memory_bytes)
        row["rss_delta_bytes"] = None if rss0 is None or rss1 is None else rss1 - rss0
        row["threads"] = built.policy
        row["params"] = built.params
        if kth is not None:
            row["recall_at_k"] = recall_at_k(timing["_dist"], timing["_ids"], kth)
        log(f"  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  build {row['build_s']} s  "
            f"recall {row.get('recall_at_k', '-')}")
        self.results.append(row)
        del built

    def run_binary(self, data: str, n: int) -> None:
        a = self.args
        codes, queries = make_data(data, n, a.bits, a.queries, a.seed)
        with omp_threads(None):
            exact, _ = faiss_exact(codes, queries, a.bits, a.k)
        kth = exact[:, a.k - 1].astype(np.float64) if n >= a.k else np.full(len(queries), a.bits + 1.0)
        for name in a.indexes:
            if name != "float-flatip":
                self.measure(name, data, n, lambda name=name: build_binary(name, codes, a.bits, a.k), queries, kth)

    def run_float(self, n: int) -> None:
        a = self.args
        queries = np.random.default_rng(a.seed + 1).standard_normal((a.queries, FLOAT_DIM), dtype=np.float32)
        self.measure("float-flatip", "random", n, lambda: build_float(n, a.k, a.seed), queries, None)


def faiss_exact(codes: np.ndarray, queries: np.ndarray, bits: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.IndexBinaryFlat(bits)
    index.add(codes)
    return index.search(queries, min(k, len(codes)))


def speedups(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CodeIndex's default (auto) over float-flatip at the same n, both on random data."""
    out = []
    auto = {r["n"]: r for r in results if r["index"] == "auto" and r["data"] == "random"}
    for r in results:
        if r["index"] == "float-flatip" and r["n"] in auto:
            a = auto[r["n"]]
            out.append({"n": r["n"], "binary": f"auto ({a.get('picks')})", "binary_p50_ms": a["p50_ms"],
                        "float_p50_ms": r["p50_ms"], "speedup_p50": round(r["p50_ms"] / a["p50_ms"], 1),
                        "speedup_p99": round(r["p99_ms"] / a["p99_ms"], 1),
                        "memory_ratio": round(r["memory_bytes"] / a["memory_bytes"], 1)})
    return out


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "omp_max_threads": faiss.omp_get_max_threads(),
        "loadavg_start": list(os.getloadavg()),
    }


@contextmanager
def background_load(workers: int) -> Iterator[None]:
    """Busy-loop processes that keep cores busy, as a background encode job does in the app."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(workers)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def plot(report: dict[str, Any], path: Path) -> None:
    """Latency vs n, log-log: p50 (top row) and p99 (bottom row), one column per data kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    datas = [d for d in ("random", "clustered") if any(r["data"] == d for r in results)]
    names = [n for n in ALL_INDEXES if any(r["index"] == n for r in results)]
    fig, axes = plt.subplots(2, len(datas), figsize=(5.5 * len(datas) + 2, 8), squeeze=False, sharex=True,
                             sharey=True)
    for col, data in enumerate(datas):
        for row, metric in enumerate(("p50_ms", "p99_ms")):
            ax = axes[row][col]
            for i, name in enumerate(names):
                rows = sorted((r for r in results if r["index"] == name and r["data"] == data), key=lambda r: r["n"])
                if rows:
                    style = "s--" if name == "float-flatip" else "o-"
                    ax.plot([r["n"] for r in rows], [r[metric] for r in rows], style, color=plt.cm.tab10(i),
                            label=name)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{metric[:3]}, {data} codes", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{metric[:3]} latency per query (ms)")
            if row == 1:
                ax.set_xlabel("codes in the index (n)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=9)
    m, c = report["machine"], report["config"]
    fig.suptitle(f"Single-query search, {c['bits']}-bit codes, k={c['k']}: {m['cpu']}, {m['cores']} cores, "
                 f"faiss {m['faiss']}, loadavg {m['loadavg_start'][0]:.1f} -> {m.get('loadavg_end', ['?'])[0]:.1f}, "
                 f"background load {c['background_load']}",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / fig.get_figwidth(), 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated index sizes")
    p.add_argument("--bits", type=int, default=64)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--queries", type=int, default=1000, help="timed single queries per case")
    p.add_argument("--data", default="random,clustered", help="random and/or clustered codes")
    p.add_argument("--indexes", default=",".join(ALL_INDEXES), help=f"subset of {','.join(ALL_INDEXES)}")
    p.add_argument("--float-max-n", type=int, default=0, help="largest n for float-flatip (0: what fits in memory)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="timing budget per case (fewer queries)")
    p.add_argument("--max-build-seconds", type=float, default=600.0, help="skip builds estimated to take longer")
    p.add_argument("--background-load", type=int, default=0, help="busy processes running during the bench")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--save", action="store_true", help="write bench/results/search-<host>[-tag].json")
    p.add_argument("--plot", action="store_true", help="also draw bench/results/search-latency[-tag].png")
    p.add_argument("--tag", default="", help="suffix for the result files")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.data = [d for d in args.data.split(",") if d]
    args.indexes = [i for i in args.indexes.split(",") if i]
    bad = set(args.indexes) - set(ALL_INDEXES) or set(args.data) - {"random", "clustered"}
    if bad:
        p.error(f"unknown choice(s): {', '.join(sorted(bad))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner = Runner(args)
    machine = machine_info()
    with background_load(args.background_load):
        for n in args.sizes:
            for data in args.data:
                runner.run_binary(data, n)
            if "float-flatip" in args.indexes:
                if args.float_max_n and n > args.float_max_n:
                    runner.skip("float-flatip", "random", n, f"n > --float-max-n ({args.float_max_n})")
                else:
                    runner.run_float(n)
    machine["loadavg_end"] = list(os.getloadavg())
    report = {
        "bench": "search",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "config": {key: getattr(args, key) for key in ("sizes", "bits", "k", "queries", "data", "indexes",
                                                      "background_load", "seed", "max_seconds")}
        | {"auto_threshold": AUTO_IVF_THRESHOLD},
        "results": runner.results,
        "skipped": runner.skipped,
        "speedup_vs_float": speedups(runner.results),
    }
    suffix = f"-{args.tag}" if args.tag else ""
    if args.save or args.plot:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"search-{machine['host']}{suffix}.json"
        out.write_text(json.dumps(report, indent=1) + "\n")
        log(f"wrote {out}")
    if args.plot:
        plot(report, RESULTS / f"search-latency{suffix}.png")
        log(f"wrote {RESULTS / f'search-latency{suffix}.png'}")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(f"{'index':13} {'data':9} {'n':>9} {'p50 ms':>8} {'p99 ms':>8} {'build s':>8} {'MB':>8} {'recall':>6}")
    for r in report["results"]:
        print(f"{r['index']:13} {r['data']:9} {r['n']:>9} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
              f"{r['build_s']:>8.2f} {r['memory_bytes'] / 1e6:>8.1f} {r.get('recall_at_k', '-')!s:>6}")
    for s in report["skipped"]:
        print(f"skipped {s['index']} {s['data']} n={s['n']}: {s['reason']}")
    for s in report["speedup_vs_float"]:
        print(f"n={s['n']}: {s['binary']} is {s['speedup_p50']}x faster than float-flatip at p50")


if __name__ == "__main__":
    sys.exit(main())
