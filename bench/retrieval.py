"""Retrieval bench: DistillHash against ITQ, PCA-sign, LSH and float cosine on a labelled photo folder.

Usage::

    python -m bench.retrieval --manifest ../shared/data/clothing10-dev/manifest.csv --bits 16,32,64 --json --plot
    python -m bench.retrieval --manifest ../shared/data/grocery-dev/manifest.csv --label-column coarse_label --json
    python -m bench.retrieval --manifest ../shared/data/clothing10-dev/manifest.csv --copies --json

Protocol. The manifest is a CSV with a ``path`` column (relative to the manifest's folder) and a label column
(the first column after ``path`` unless ``--label-column``). A seeded random 10 % of the photos (at most 1000) are
the queries; the rest are the database and, without their labels, the training set of every learned coder. Labels
are used only for scoring. Everything runs as it does on a user's folder: ``engine.images.decode`` reads each file,
the ONNX backbone (``engine.model.backbone``) gives features, the coders are fitted on the database features, and
DistillHash codes come from its exported ONNX head run by ``engine.codes.hashcoder`` (so export parity is part of what is
measured).

Methods. ``float``: cosine of the backbone features. ``itq``, ``pca``, ``lsh``: codes of the database features,
Hamming ranking. ``distillhash``: the trained model's 64 bits alone: database codes of each photo's
neighbourhood feature (``engine.learning.train.database_features``), a Hamming shortlist re-ranked by the asymmetric score
of the query's real-valued projection (``bench._metrics.rank_asymmetric``).
``distillhash-app`` is the app's whole order (``bench._metrics.rank_like_the_app``): the best 116 of that ranking
re-ordered by code match plus the cosine of the stored features, as ``Library.similar`` does for 50 results.
Rows that show where a gain comes from: ``distillhash-hamming`` ranks the same codes by Hamming distance alone;
``itq-asym`` and ``itq-app`` give ITQ the asymmetric re-ranking and the app's whole order (the app before training).

Scores. mAP over the whole database, precision@10 and @100. Ties in Hamming distance are broken by a seeded random
permutation of the database, never by manifest order (manifests are sorted by class). Queries whose label has no
other photo in the database are left out. ``--splits N`` repeats everything (training included) on N query
splits, seeds ``--seed`` .. ``--seed + N - 1``, and reports the mean and standard deviation: on a few hundred
photos one split moves mAP by several points.

``--copies`` builds an instance-level set instead: every photo of the manifest plus five edited copies (50 %
resize, JPEG quality 50, 10 % crop, 90 degree rotation stored as pixels + EXIF orientation, small colour shift),
written to a temporary folder; relevance = same source photo.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._metrics import (evaluate_ranking, pr_curve, rank_asymmetric, rank_by_cosine, rank_by_hamming,
                            rank_like_the_app)
from engine.codes.binary import l2_normalize, pack_signs

RESULTS = Path(__file__).resolve().parent / "results"
BASELINES = ("itq", "pca", "lsh")


# ------------------------------------------------------------------------------------------------ data

def read_manifest(manifest: Path, label_column: str | None) -> tuple[list[Path], np.ndarray]:
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{manifest} has no rows")
    col = label_column or next(c for c in rows[0] if c != "path")
    if col not in rows[0]:
        raise SystemExit(f"{manifest} has no column {col!r}; columns: {list(rows[0])}")
    return [manifest.parent / r["path"] for r in rows], np.array([r[col] for r in rows])


def edited_copies(path: Path):
    """The five edits of the instance set, as (name, encoded JPEG bytes)."""
    from PIL import Image, ImageOps

    with Image.open(path) as raw:
        im = ImageOps.exif_transpose(raw).convert("RGB")
    w, h = im.size
    out = []

    def jpeg(img, quality: int = 90, **kw) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, **kw)
        return buf.getvalue()

    out.append(("resize50", jpeg(im.resize((max(1, w // 2), max(1, h // 2)), Image.BICUBIC))))
    out.append(("jpeg50", jpeg(im, quality=50)))
    dw, dh = int(w * 0.05), int(h * 0.05)
    out.append(("crop10", jpeg(im.crop((dw, dh, w - dw, h - dh)))))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the pixels are stored rotated 90 CCW
    out.append(("rot90exif", jpeg(im.rotate(90, expand=True), exif=exif.tobytes())))
    a = np.asarray(im, dtype=np.float32) * np.array([1.06, 1.0, 0.94], dtype=np.float32) + 8.0
    out.append(("colour", jpeg(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)))))
    return out


def build_copies(paths: list[Path], folder: Path, max_sources: int | None, seed: int) -> tuple[list[Path], np.ndarray]:
    """Originals and their edited copies written under ``folder``; labels = index of the source photo."""
    order = np.arange(len(paths))
    if max_sources and max_sources < len(paths):
        order = np.sort(np.random.default_rng(seed).choice(len(paths), max_sources, replace=False))
    files, labels = [], []
    for src in order:
        files.append(paths[src])
        labels.append(str(src))
        for name, data in edited_copies(paths[src]):
            out = folder / f"{src:06d}-{name}.jpg"
            out.write_bytes(data)
            files.append(out)
            labels.append(str(src))
    return files, np.array(labels)


CACHE = Path(__file__).resolve().parent / ".cache"


def extract_features(files: list[Path], batch: int = 32, cache: bool = True) -> tuple[np.ndarray, dict]:
    """Decode + ONNX backbone, as the indexer does; returns features and timing.

    Features of a file list are cached in ``bench/.cache`` under a hash of the paths, sizes and modification times
    (edited copies live in fresh temporary folders and are never cached), so sweeps and reruns skip decoding.
    """
    import hashlib

    from engine.model.backbone import Backbone
    from engine.images.decode import decode

    key = hashlib.sha256()
    for p in files:
        st = p.stat()
        key.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    cached = CACHE / f"features-{key.hexdigest()[:20]}.npy"
    if cache and cached.exists():
        return np.load(cached), {"feature_cache": cached.name}

    backbone = Backbone(device="cpu")
    feats = []
    t0 = time.perf_counter()
    for start in range(0, len(files), batch):
        pixels = np.stack([decode(p, size=224).pixels for p in files[start : start + batch]])
        feats.append(backbone.embed(pixels))
    seconds = time.perf_counter() - t0
    out = np.concatenate(feats).astype(np.float32)
    if cache:
        CACHE.mkdir(exist_ok=True)
        np.save(cached, out)
    return out, {"feature_seconds": seconds, "feature_images_per_s": len(files) / seconds}


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random 10 % (at least 1, at most 1000) as queries, the rest as database."""
    perm = np.random.default_rng(seed).permutation(n)
    nq = max(1, min(1000, int(round(0.1 * n))))
    return np.sort(perm[:nq]), np.sort(perm[nq:])


# ------------------------------------------------------------------------------------------------ coders

def fit_distillhash(train_feats: np.ndarray, bits: int, seed: int, workdir: Path, variant: str | None,
                    holdout: float = 0.0):
    """Train, export the head to ONNX, check parity and load it with ONNX Runtime, as the app does.

    Returns the coder, the database codes the app would store for every row of ``train_feats`` (trained photos:
    their neighbourhood features, ``engine.learning.train.database_features``; photos held out for the check: the
    neighbourhood of their 2 nearest trained photos, as ``engine.codes.neighbourhood`` gives photos indexed after
    training), the training numbers and the TrainResult.
    """
    from engine.learning.export_hash import check_parity, export_head
    from engine.codes.hashcoder import HashCoder
    from engine.learning.train import TrainConfig, database_features, run_to_end, train_distillhash

    config = (TrainConfig.faithful() if variant == "faithful" else TrainConfig(variant=variant)) if variant else None
    t0 = time.perf_counter()
    result = run_to_end(train_distillhash(train_feats, bits=bits, seed=seed, config=config, device="cpu",
                                          holdout=holdout))
    seconds = time.perf_counter() - t0
    rows = result.trained_rows(len(train_feats))
    path = export_head(result, workdir / f"distillhash-{bits}-{seed}-{result.config.variant}.onnx")
    parity = check_parity(result, path, train_feats[rows[: min(len(rows), 2048)]])
    info = {"train_seconds": seconds, "train_photos_per_s": len(rows) / seconds,
            "variant": result.config.variant, "parity_max_abs_diff": parity["max_abs_diff"]}
    info.update({k: float(v) for k, v in result.diagnostics.items()})
    coder = HashCoder(path)
    codes = np.zeros((len(train_feats), bits // 8), dtype=np.uint8)
    codes[rows] = coder.encode(database_features(train_feats[rows], result))
    rest = np.setdiff1d(np.arange(len(train_feats)), rows)
    if len(rest):
        x = l2_normalize(train_feats)
        cfg = result.config
        near = rows[np.argsort(-(x[rest] @ x[rows].T), axis=1)[:, : cfg.smooth_k]]
        codes[rest] = coder.encode(l2_normalize(cfg.smooth_self * x[rest] + (1 - cfg.smooth_self) * x[near].mean(1)))
    return coder, codes, info, result


VARIANT_ROWS = ("dsg", "dmuh", "rankpres")
METHODS = ("float", "distillhash", "distillhash-app", "distillhash-hamming", "app-trained",
           "dsg", "dsg-app", "dmuh", "dmuh-app", "rankpres", "rankpres-app", "rankpres-recon",
           "itq", "itq-asym", "itq-app", "pca", "lsh")


def run(files: list[Path], labels: dict[str, np.ndarray], bits_list: list[int], seed: int, methods: list[str],
        variant: str | None, want_curves: bool, splits: int = 1,
        cache: bool = True) -> tuple[dict[str, list[dict]], dict, dict]:
    """Scores of every method over ``splits`` query splits (seeds ``seed`` .. ``seed + splits - 1``), for each
    label column in ``labels`` (training never sees labels, so one training serves every column).

    ``distillhash``: database codes of neighbourhood features, a Hamming shortlist re-ranked by the asymmetric
    score (64 bits per photo, nothing else). ``distillhash-app`` is ``Library.similar``'s full order: the same, with
    its best 116 refined by the stored features. ``distillhash-hamming`` ranks the codes by Hamming distance alone;
    ``itq-asym`` and ``itq-app`` give ITQ the same two steps, so the table shows where a gain comes from.
    ``app-trained``: what the app shows after ``simili train``: training on 90 % of the database with the
    label-free check on the rest (``engine.learning.train_check``); the trained order if the check accepts it, else
    ``itq-app``. ``dsg``, ``dmuh``, ``rankpres`` (and ``-app``): the other variants of ``engine.learning.train_phases``;
    ``rankpres-recon`` refines with features reconstructed from the codes (``engine.codes.binary.fit_decoder``) instead of
    the stored ones.
    """
    from engine.codes.binary import fit as fit_linear
    from engine.codes.binary import fit_decoder

    feats, meta = extract_features(files, cache=cache)
    per: dict[tuple[str, str, int | None], list[dict]] = {}
    curves: dict[str, dict] = {c: {} for c in labels}
    training: dict[str, list[dict]] = {}
    checks: list[dict] = []
    skipped: set[str] = set()

    def score(name: str, bits: int | None, ranking: np.ndarray, q: np.ndarray, db: np.ndarray, first: bool) -> None:
        for col, lab in labels.items():
            m = evaluate_ranking(ranking, lab[q], lab[db])
            per.setdefault((col, name, bits), []).append(m)
            if want_curves and first:
                curves[col][f"{name}-{bits}" if bits else name] = pr_curve(ranking, lab[q], lab[db])

    def trained_rows(prefix: str, variant_name: str | None, bits: int, q, db, tb, tmp, s, first) -> None:
        coder, db_codes, info, _ = fit_distillhash(feats[db], bits, s, Path(tmp), variant_name)
        training.setdefault(f"{prefix}-{bits}", []).append(info)
        proj = coder.project(feats[q])
        score(prefix, bits, rank_asymmetric(proj, db_codes, tiebreak=tb), q, db, first)
        if f"{prefix}-app" in methods:
            score(f"{prefix}-app", bits, rank_like_the_app(proj, db_codes, feats[q], feats[db], tb), q, db, first)
        if prefix == "distillhash" and "distillhash-hamming" in methods:
            score("distillhash-hamming", bits, rank_by_hamming(pack_signs(proj), db_codes, tb), q, db, first)
        if f"{prefix}-recon" in methods:
            recon = fit_decoder(db_codes, feats[db]).decode(db_codes)
            score(f"{prefix}-recon", bits, rank_like_the_app(proj, db_codes, feats[q], recon, tb), q, db, first)

    for s in range(seed, seed + splits):
        q, db = split(len(files), s)
        tb = np.random.default_rng(s + 1).permutation(len(db))
        first = s == seed
        if "float" in methods:
            score("float", None, rank_by_cosine(feats[q], feats[db], tb), q, db, first)
        with tempfile.TemporaryDirectory(prefix="simili-bench-") as tmp:
            for bits in bits_list:
                if len(db) <= bits:
                    skipped.add(f"learned {bits}-bit codes: {len(db)} database photos cannot fit {bits} bits")
                    continue
                itq_order = None
                for name in methods:
                    if name in BASELINES:
                        coder = fit_linear(name, feats[db], bits, seed=s)
                        score(name, bits, rank_by_hamming(coder.encode(feats[q]), coder.encode(feats[db]), tb),
                              q, db, first)
                        if name == "itq" and "itq-asym" in methods:
                            score("itq-asym", bits, rank_asymmetric(coder.project(feats[q]), coder.encode(feats[db]),
                                                                    tb), q, db, first)
                        if name == "itq":
                            itq_order = rank_like_the_app(coder.project(feats[q]), coder.encode(feats[db]),
                                                          feats[q], feats[db], tb)
                            if "itq-app" in methods:
                                score("itq-app", bits, itq_order, q, db, first)
                    elif name == "distillhash":
                        trained_rows("distillhash", variant, bits, q, db, tb, tmp, s, first)
                    elif name in VARIANT_ROWS:
                        trained_rows(name, name, bits, q, db, tb, tmp, s, first)
                    elif name == "app-trained":
                        coder, db_codes, info, result = fit_distillhash(feats[db], bits, s, Path(tmp), variant,
                                                                        holdout=0.1)
                        checks.append({"split": s, "bits": bits, **result.check.metrics()})
                        if result.check.passed:
                            order = rank_like_the_app(coder.project(feats[q]), db_codes, feats[q], feats[db], tb)
                        else:
                            itq = fit_linear("itq", feats[db], bits, seed=s)
                            order = itq_order if itq_order is not None else rank_like_the_app(
                                itq.project(feats[q]), itq.encode(feats[db]), feats[q], feats[db], tb)
                        score("app-trained", bits, order, q, db, first)
        print(f"  split {s - seed + 1}/{splits} done", file=sys.stderr, flush=True)

    results: dict[str, list[dict]] = {c: [] for c in labels}
    for (col, name, bits), ms in per.items():
        row = {"method": name, "bits": bits}
        for key in ("map", "p@10", "p@100"):
            vals = [m[key] for m in ms]
            row[key] = float(np.mean(vals))
            if splits > 1:
                row[f"{key}_std"] = float(np.std(vals))
        row["map_splits"] = [round(float(m["map"]), 5) for m in ms]  # paired comparisons between methods
        row["splits"] = len(ms)
        results[col].append(row)
        print(f"  {col:14s} {name:20s} {str(bits or '-'):>4s}  mAP {row['map']:.4f}  p@10 {row['p@10']:.4f}  "
              f"p@100 {row['p@100']:.4f}", file=sys.stderr, flush=True)
    q, db = split(len(files), seed)
    for reason in sorted(skipped):
        print(f"  skipped {reason}", file=sys.stderr, flush=True)
    meta.update({"n": len(files), "n_queries": len(q), "n_database": len(db), "splits": splits,
                 "skipped": sorted(skipped), "checks": checks,
                 "training": {b: _mean_info(v) for b, v in training.items()}})
    return results, meta, curves


def _mean_info(infos: list[dict]) -> dict:
    """Training numbers averaged over splits (the variant name kept as is)."""
    out = {}
    for key, val in infos[0].items():
        out[key] = float(np.mean([i[key] for i in infos])) if isinstance(val, (int, float)) else val
    out["parity_max_abs_diff"] = float(max(i["parity_max_abs_diff"] for i in infos))
    return out


# ------------------------------------------------------------------------------------------------ output

def machine() -> dict:
    info = {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def dataset_name(manifest: Path, label_column: str | None, copies: bool) -> str:
    name = manifest.parent.name
    if manifest.stem != "manifest":
        name += "-" + manifest.stem.removeprefix("manifest_")
    if label_column:
        name += "-" + label_column
    return name + ("-copies" if copies else "")


def plot(curves: dict, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, (recall, precision) in sorted(curves.items()):
        ax.plot(recall, precision, label=name, lw=2.0 if "distillhash" in name or name == "float" else 1.0)
    ax.set(xlabel="recall", ylabel="interpolated precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, required=True, help="CSV with path,<label> (paths relative to it)")
    ap.add_argument("--bits", default="16,32,64", help="comma-separated code lengths")
    ap.add_argument("--label-column", default=None,
                    help="label column(s), comma-separated; one report each (default: the first after 'path')")
    ap.add_argument("--copies", action="store_true", help="instance set: each photo plus 5 edited copies")
    ap.add_argument("--max-sources", type=int, default=None, help="with --copies: use at most this many photos")
    ap.add_argument("--limit", default=None,
                    help="seeded random subsets of these sizes, comma-separated (0 or 'all': every photo)")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}")
    ap.add_argument("--splits", type=int, default=1,
                    help="average over this many seeded query splits (mean and std in the JSON)")
    ap.add_argument("--variant", default=None, help="DistillHash variant (default: TrainConfig's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--machine-tag", default="vm", help="suffix of the result files: the machine they ran on")
    ap.add_argument("--json", action="store_true", help="print the JSON report(s) on stdout")
    ap.add_argument("--plot", action="store_true", help="write precision-recall curves (PNG) next to the JSON")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default bench/results/retrieval-<set>[-n<limit>]-<tag>.json)")
    args = ap.parse_args(argv)

    manifest = args.manifest.resolve()
    columns = [c for c in (args.label_column or "").split(",") if c] or [None]
    if args.copies:
        columns = [None]
    read = [read_manifest(manifest, c) for c in columns]
    all_files = read[0][0]
    limits = [0 if v in ("0", "all") else int(v) for v in (args.limit or "0").split(",") if v]
    bits_list = [int(b) for b in args.bits.split(",") if b]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    reports = []
    for limit in limits:
        keep = np.arange(len(all_files))
        if limit and limit < len(all_files):
            keep = np.sort(np.random.default_rng(args.seed).choice(len(all_files), limit, replace=False))
        files = [all_files[i] for i in keep]
        labels = {str(c): lab[keep] for c, (_, lab) in zip(columns, read)}
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="simili-copies-") as tmp:
            if args.copies:
                files, copy_labels = build_copies(files, Path(tmp), args.max_sources, args.seed)
                labels = {"None": copy_labels}
            print(f"{manifest.parent.name}: {len(files)} photos", file=sys.stderr, flush=True)
            results, meta, curves = run(files, labels, bits_list, args.seed, methods, args.variant, args.plot,
                                         max(1, args.splits), cache=not args.copies)
        for col in labels:
            column = None if col == "None" else col
            name = dataset_name(manifest, column, args.copies)
            report = {
                "dataset": name, "manifest": str(args.manifest), "label_column": column,
                "instance_copies": args.copies, "seed": args.seed, "bits": bits_list, "limit": limit or None,
                "protocol": "10% queries (max 1000), rest = database = unlabelled training set; mAP over the whole "
                            "database, Hamming ties broken by a seeded random permutation; mean over query splits",
                "machine": machine(), "seconds": time.perf_counter() - t0, **meta, "results": results[col],
            }
            suffix = f"-n{limit}" if limit and limit < len(all_files) else ""
            out = args.out or RESULTS / f"retrieval-{name}{suffix}-{args.machine_tag}.json"
            if args.out and (len(labels) > 1 or len(limits) > 1):
                out = args.out.with_name(f"{args.out.stem}-{name}{suffix}{args.out.suffix}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            if args.plot:
                plot(curves[col], f"{name} (n={len(files)})", out.with_suffix(".png"))
            reports.append(report)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
