"""Model-only throughput of the backbone: ONNX Runtime (as the app runs it) versus PyTorch eager.

Decoding is left out: every engine gets the same ready uint8 batch ``[N, 224, 224, 3]``.

Usage::

    python bench/model_speed.py [--batches 1 8 16 32] [--seconds 2] [--no-torch]

Prints JSON and writes ``bench/results/model_speed-<hostname>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.model.backbone import Backbone  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    import onnxruntime

    info["onnxruntime"] = onnxruntime.__version__
    info["numpy"] = np.__version__
    return info


def measure(fn: Callable[[np.ndarray], object], batch: np.ndarray, seconds: float) -> dict:
    """Images per second of ``fn`` on ``batch``: two warm-up calls, then at least 3 calls and ``seconds``."""
    for _ in range(2):
        fn(batch)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - t0)
    n = len(batch)
    return {
        "images_per_s": round(n * len(times) / sum(times), 1),
        "median_batch_ms": round(1000 * statistics.median(times), 2),
        "calls": len(times),
    }


def engines(threads: int, with_torch: bool) -> tuple[dict[str, Callable[[np.ndarray], object]], dict[str, str]]:
    """The contenders, each a function from a uint8 batch to features, and the versions they add."""
    out: dict[str, Callable[[np.ndarray], object]] = {
        "onnxruntime": Backbone(device="cpu", threads=threads).embed,  # the app's settings (no spin-wait)
        "onnxruntime_spin": Backbone(device="cpu", threads=threads, spin=True).embed,
    }
    versions: dict[str, str] = {}
    if with_torch:
        import torch

        from engine.model.export_backbone import load_torch_backbone

        torch.set_num_threads(threads)
        model = load_torch_backbone()

        def torch_embed(batch: np.ndarray) -> object:
            with torch.inference_mode():
                return model(torch.from_numpy(batch))[0].numpy()

        out["pytorch_eager"] = torch_embed
        versions["torch"] = torch.__version__
    return out, versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds per engine and batch")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per batch size; best kept")
    parser.add_argument("--threads", type=int, default=None, help="threads per engine (default: usable CPUs)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    parser.add_argument("--out", type=Path, default=None, help="result file (default: bench/results/...)")
    args = parser.parse_args(argv)

    info = machine_info()
    threads = args.threads or info["cpus_usable"]
    contenders, versions = engines(threads, with_torch=not args.no_torch)
    info.update(versions)
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, dict]] = {name: {} for name in contenders}
    for n in args.batches:
        batch = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
        for _ in range(args.rounds):  # interleaved rounds, best kept: other load on the machine only slows runs
            for name, fn in contenders.items():
                r = measure(fn, batch, args.seconds / args.rounds)
                if r["images_per_s"] > results[name].get(str(n), {}).get("images_per_s", 0):
                    results[name][str(n)] = r
    speedup = {
        n: round(results["onnxruntime"][n]["images_per_s"] / results["pytorch_eager"][n]["images_per_s"], 2)
        for n in results.get("pytorch_eager", {})
    }
    info["loadavg_1m_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {
        "benchmark": "model_speed",
        "model": "efficientnet_lite0.onnx (features+logits, uint8 NHWC 224)",
        "threads": threads,
        "seconds_per_engine_and_batch": args.seconds,
        "rounds": args.rounds,
        "machine": info,
        "results": results,
        "onnxruntime_speedup_vs_pytorch": speedup,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    load = max(info["loadavg_1m"] or 0, info["loadavg_1m_after"] or 0)
    if load > 0.5 * (info["cpus_usable"] or 1):
        report["note"] = f"other work ran on this machine (1-min load up to {load:.1f}): numbers are lower bounds"
    text = json.dumps(report, indent=2)
    print(text)
    out = args.out or REPO / "bench" / "results" / f"model_speed-{info['hostname']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
