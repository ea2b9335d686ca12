"""Training time of DistillHash on cached features, by collection size (CPU here; GPU where one is lent).

    python -m bench.train_speed [--sizes 10000,100000] [--bits 64] [--device auto]

Features are synthetic (clustered, 1280-d, like bench.synthetic) since training only ever reads the feature cache;
results go to bench/results/train_speed-<host>.json with the device used.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]


def _device(asked: str) -> str:
    import torch

    return "cuda" if asked != "cpu" and torch.cuda.is_available() else "cpu"


def main(argv=None) -> int:
    from bench.synthetic import _features
    from engine.progress import run_to_end
    from engine.learning.train import train_distillhash

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--holdout", type=float, default=0.1,
                    help="share held out for the label-free check, as the app trains (0: no check)")
    args = ap.parse_args(argv)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        feats = np.concatenate(list(_features(n, 1280, np.random.default_rng(0))))
        t0 = time.perf_counter()
        result = run_to_end(train_distillhash(feats, bits=args.bits, device=args.device, seed=0,
                                              holdout=args.holdout))
        seconds = time.perf_counter() - t0
        row = {"n": n, "bits": args.bits, "seconds": round(seconds, 1), "photos_per_s": round(n / seconds, 1),
               "steps": result.diagnostics.get("steps"), "device": _device(args.device),
               "variant": result.config.variant, "checked": result.check is not None}
        rows.append(row)
        print(json.dumps(row), flush=True)
    import torch

    out = {"benchmark": "train_speed", "machine": machine_info(), "torch": torch.__version__,
           "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "results": rows}
    (REPO / "bench" / "results" / f"train_speed-{out['machine']['host']}.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
