"""Look-alike benchmark: real garment photos (many different garments on one cloth) with planted copies, and bursts.

    python -m bench.dupes_lookalike [--split odd|even|all] [--planted 60] [--train] [--bursts 300] [--json]

Photos: ../shared/data/garments-lookalike (1,462 photos of 186 contributors), the contributors of one ``--split``
(even or odd ids: the copy check's thresholds were looked at on pairs of all contributors, so the odd split is
reported, and the even one beside it). ``--planted`` of them get 7 edited copies each: JPEG q35, half size, 88 %
crop, 6 deg rotation with black corners, a caption band, greyscale, mirror. Everything is indexed into a fresh
library (and with ``--train`` the learned codes are trained and active), then ``Library.duplicates()`` runs.

Scored: copy-group pair precision (pairs in copy groups that join two different photos count against it; a
planted copy and its original, or two copies of one original, are right), planted copy pairs in a copy group
with their original, the same in copies or similar shots, recall per edit; and the pair-level comparison of the
two copy checks (``engine.duplicates.matching`` against the old aligner, ``bench._aligner``) on the planted pairs and
on the candidate pairs of different photos. ``--bursts N``: N grocery photos (../shared/data/grocery-train, whole
products, consecutive shots of one shelf seconds apart): how many pairs land in a copy group (every one is another
capture, so all are wrong) and in similar shots.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _jpeg(im: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(im: Image.Image, keep: float) -> Image.Image:
    w, h = im.size
    m = (1 - keep) / 2
    return im.crop((round(m * w), round(m * h), round(w - m * w), round(h - m * h)))


def _caption(im: Image.Image) -> Image.Image:
    band = max(12, im.height // 8)
    out = ImageOps.expand(im, border=(0, 0, 0, band), fill=(255, 255, 255))
    ImageDraw.Draw(out).text((band // 2, im.height + band // 4), "My favourite - summer sale 2024", fill=(20, 20, 20))
    return out


EDITS = {
    "jpeg-q35": lambda im: _jpeg(im, 35),
    "half": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "crop88": lambda im: _crop(im, 0.88),
    "rotate6-black-corners": lambda im: im.rotate(6, resample=Image.Resampling.BICUBIC, expand=True),
    "caption": _caption,
    "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "mirror": ImageOps.mirror,
}


def build(root: Path, split: str, planted: int, seed: int) -> dict[Path, tuple[str, str]]:
    """Write the folder; {file: (family, edit)} with edit "original" for every unedited photo."""
    src = DATA / "garments-lookalike"
    rows = list(csv.DictReader(open(src / "manifest.csv")))
    rows = [r for r in rows if split == "all" or (int(r["sender"]) % 2 == (split == "odd"))]
    rng = random.Random(seed)
    chosen = set(r["path"] for r in rng.sample(rows, min(planted, len(rows))))
    truth = {}
    for k, r in enumerate(rows):
        im = ImageOps.exif_transpose(Image.open(src / r["path"])).convert("RGB")
        d = root / r["sender"]
        d.mkdir(parents=True, exist_ok=True)
        out = d / Path(r["path"]).name
        out.write_bytes((src / r["path"]).read_bytes())
        truth[out] = (f"p{k}", "original")
        if r["path"] in chosen:
            for name, edit in EDITS.items():
                e = d / f"{out.stem}-{name}.{'png' if name == 'greyscale' else 'jpg'}"
                edit(im).save(e, **({} if e.suffix == ".png" else {"quality": 90}))
                truth[e] = (f"p{k}", name)
    return truth


def build_bursts(root: Path, n: int, seed: int) -> dict[Path, tuple[str, str]]:
    src = DATA / "grocery-train"
    rows = [r["path"] for r in csv.DictReader(open(src / "manifest.csv"))]
    products: dict[str, list[str]] = {}
    for p in rows:
        products.setdefault(p.rsplit("_", 1)[0], []).append(p)
    names = sorted(products)
    random.Random(seed).shuffle(names)
    truth = {}
    for name in names:
        if len(truth) >= n:
            break
        for p in sorted(products[name]):
            out = root / "bursts" / p.replace("/", "_")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes((src / p).read_bytes())
            truth[out] = (p, "burst")
    return truth


def _pairs(groups: list[list[Path]]) -> set[frozenset]:
    return {frozenset(p) for g in groups for p in itertools.combinations(g, 2)}


def score(truth: dict[Path, tuple[str, str]], copies: list[list[Path]], shots: list[list[Path]]) -> dict:
    cp, sp = _pairs(copies), _pairs(shots)
    same = lambda pair: len({truth[p][0] for p in pair}) == 1
    known = [p for p in cp if all(q in truth for q in p)]
    wrong = sorted(" ~ ".join(sorted(f"{q.parent.name}/{q.name}" for q in p)) for p in known if not same(p))
    originals = {t[0]: p for p, t in truth.items() if t[1] == "original"}
    planted = [(originals[t[0]], p, t[1]) for p, t in truth.items() if t[1] not in ("original", "burst")]
    per_edit = {}
    for name in EDITS:
        got = [frozenset((o, e)) for o, e, n in planted if n == name]
        per_edit[name] = {"copies": round(float(np.mean([g in cp for g in got])), 3) if got else None,
                          "copies_or_similar": round(float(np.mean([g in cp or g in sp for g in got])), 3)
                          if got else None}
    got = [frozenset((o, e)) for o, e, _ in planted]
    return {"copy_pairs": len(known), "copy_pairs_wrong": len(wrong),
            "precision": round(1 - len(wrong) / max(len(known), 1), 4),
            "planted_pairs": len(got),
            "recall_copies": round(float(np.mean([g in cp for g in got])), 4) if got else None,
            "recall_copies_or_similar": round(float(np.mean([g in cp or g in sp for g in got])), 4) if got else None,
            "similar_pairs": len(sp), "similar_groups": len(shots), "copy_groups": len(copies),
            "per_edit": per_edit, "wrong_pairs": wrong[:40]}


def compare_checks(lib, truth: dict[Path, tuple[str, str]]) -> dict:
    """The two copy checks on the same pairs: planted (original, copy) pairs and the library's look-alike
    candidate pairs of two different photos. Aligner verdicts: its old sure / maybe bars."""
    from bench._aligner import verdict
    from engine.duplicates import matching
    from engine.duplicates.lookalikes import Inputs, candidates
    from engine.progress import run_to_end

    catalog = lib.store.catalog
    index = lib.store.models.index()
    radius, cos = lib._dupe_limits(index)
    cands = run_to_end(candidates(catalog, lib.store.features, Inputs.read(catalog, index), radius, cos))
    photos = catalog.photos_by_ids(sorted({i for _, a, b in cands for i in (a, b)} | {
        lib.photo_at(p).id for p in truth if lib.photo_at(p) is not None}))
    by_path = {Path(p.path): i for i, p in photos.items()}
    frames = catalog.frames_of(list(photos))
    views: dict[int, object] = {}

    def view(i):
        if i not in views:
            views[i] = matching.view_of(np.asarray(Image.open(photos[i].path).convert("RGB")))
        return views[i]

    def aligner(a, b):
        return verdict(frames[a], frames[b], (photos[a].width, photos[a].height), (photos[b].width, photos[b].height))

    originals = {t[0]: p for p, t in truth.items() if t[1] == "original"}
    planted = [(by_path[originals[t[0]]], by_path[p], t[1]) for p, t in truth.items()
               if t[1] not in ("original", "burst") and p in by_path and originals[t[0]] in by_path]
    negatives = [(a, b) for _, a, b in cands if a in photos and b in photos
                 and truth.get(Path(photos[a].path), ("a",))[0] != truth.get(Path(photos[b].path), ("b",))[0]]
    out = {}
    for name, check in (("orb", lambda a, b: matching.match(view(a), view(b)).verdict), ("aligner", aligner)):
        t0 = time.perf_counter()
        pos = {}
        for a, b, edit in planted:
            pos.setdefault(edit, []).append(check(a, b))
        neg = [check(a, b) for a, b in negatives]
        out[name] = {"planted_copy": {k: round(v.count("copy") / len(v), 3) for k, v in pos.items()},
                     "planted_copy_all": round(sum(v.count("copy") for v in pos.values()) /
                                               max(sum(len(v) for v in pos.values()), 1), 4),
                     "different_pairs": len(neg), "different_called_copy": neg.count("copy"),
                     "different_called_similar": neg.count("similar"),
                     "ms_per_pair": round((time.perf_counter() - t0) / max(len(planted) + len(neg), 1) * 1000, 1)}
    return out


def main(argv=None) -> int:
    from engine.api import Library
    from engine.progress import run_to_end

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("odd", "even", "all"), default="odd")
    ap.add_argument("--planted", type=int, default=60)
    ap.add_argument("--bursts", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--compare", action="store_true", help="also compare the two copy checks pair by pair")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        truth = build(root, args.split, args.planted, args.seed) if args.planted >= 0 else {}
        if args.bursts:
            truth.update(build_bursts(root, args.bursts, args.seed))
        lib = Library(Path(tmp) / "lib")
        t0 = time.perf_counter()
        run_to_end(lib.index([root]))
        index_s = time.perf_counter() - t0
        train_s = None
        if args.train:
            t0 = time.perf_counter()
            run_to_end(lib.train())
            train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = lib.duplicates()
        dupes_s = time.perf_counter() - t0
        copies = [[Path(p.path) for p in g.photos] for g in found if g.sure]
        shots = [[Path(p.path) for p in g.photos] for g in found if not g.sure]
        burst_truth = {p: t for p, t in truth.items() if t[1] == "burst"}
        garment_truth = {p: t for p, t in truth.items() if t[1] != "burst"}
        out = {"benchmark": "dupes_lookalike", "split": args.split, "planted": args.planted, "seed": args.seed,
               "photos": len(truth), "trained": args.train, "model": lib.models()[0].kind,
               "index_s": round(index_s, 1), "train_s": train_s and round(train_s, 1), "dupes_s": round(dupes_s, 1),
               "garments": score(garment_truth, [[p for p in g if p in garment_truth] for g in copies],
                                 [[p for p in g if p in garment_truth] for g in shots])}
        if burst_truth:
            cb = _pairs([[p for p in g if p in burst_truth] for g in copies])
            sb = _pairs([[p for p in g if p in burst_truth] for g in shots])
            out["bursts"] = {"photos": len(burst_truth), "copy_pairs": len(cb), "similar_pairs": len(sb),
                             "copy_pairs_listed": sorted(" ~ ".join(sorted(q.name for q in p)) for p in cb)[:20]}
        if args.compare:
            out["checks"] = compare_checks(lib, garment_truth)
        out["machine"] = machine_info()
        lib.close()
    text = json.dumps(out, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
