"""Near-duplicate benchmark: does `dupes` group every real copy and never two different photos?

    python -m bench.dupes [--scenes 56] [--distractors 200] [--crop-pairs 20] [--seed 0] [--json]

Scenes are photos of ../shared/data (grocery-train, grocery-dev, clothing10-dev, drawn at random). Each scene gets
17 edited versions (below) plus a 75% and a 60% crop, which count neither way (a user may or may not call them
copies). Distractors: other photos of the same classes and products, unedited (the hard negatives: same product,
same shelf, other shot), and pairs of *different crops of one large photo* (left and right 62%, overlapping by a
quarter), which must never be grouped. Everything is indexed into a fresh library as a user's folder would be;
`Library.duplicates()` runs at default settings.

Scored: pairwise precision and recall of the sure groups against "same scene" (the two don't-care crops left
out), per-edit recall (original and edit in one sure group), the same counting "maybe" groups, how many maybe
pairs are true, and the dupes time. Results: bench/results/dupes-vm.json and a markdown table (bench/DUPES.md).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from bench._machine import machine_info

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SETS = ("grocery-train", "grocery-dev", "clothing10-dev")
DONT_CARE = ("crop75", "crop60")


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _scale(im: Image.Image, f: float) -> Image.Image:
    return im.resize((max(8, round(im.width * f)), max(8, round(im.height * f))), Image.Resampling.LANCZOS)


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(left * w), round(top * h), round(w - right * w), round(h - bottom * h)))


def _straightened(im: Image.Image, degrees: float) -> Image.Image:
    """Rotated and cropped to the largest centred rectangle without corners, as a straighten tool does."""
    w, h = im.size
    r = im.rotate(degrees, resample=Image.Resampling.BICUBIC)
    a = np.deg2rad(abs(degrees))
    f = 1.0 / (np.cos(a) + np.sin(a) * max(w / h, h / w))
    return _crop(r, (1 - f) / 2, (1 - f) / 2, (1 - f) / 2, (1 - f) / 2)


def _noise(im: Image.Image, sigma: float, seed: int) -> Image.Image:
    a = np.asarray(im, np.float32) + np.random.default_rng(seed).normal(0, sigma, (im.height, im.width, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _letterbox(im: Image.Image) -> Image.Image:
    side = max(im.size)
    return ImageOps.pad(im, (side, round(side * 1.2) if im.width >= im.height else side), color=(0, 0, 0))


def _caption(im: Image.Image) -> Image.Image:
    band = max(12, im.height // 7)
    out = ImageOps.expand(im, border=(0, 0, 0, band), fill=(255, 255, 255))
    ImageDraw.Draw(out).text((band // 2, im.height + band // 4), "Summer 2023 - best day ever!", fill=(20, 20, 20))
    return out


EDITS: dict[str, Callable[[Image.Image, int], Image.Image]] = {
    "jpeg-q10": lambda im, s: _jpeg(im, 10),
    "half-q50": lambda im, s: _jpeg(_scale(im, 0.5), 50),
    "quarter": lambda im, s: _scale(im, 0.25),
    "crop10": lambda im, s: _crop(im, 0.1, 0.1, 0.1, 0.1),
    "crop15-corner": lambda im, s: _crop(im, 0.15, 0.15, 0.0, 0.0),
    "brighter": lambda im, s: ImageEnhance.Brightness(im).enhance(1.35),
    "contrast": lambda im, s: ImageEnhance.Contrast(im).enhance(0.65),
    "saturation": lambda im, s: ImageEnhance.Color(im).enhance(1.7),
    "grayscale": lambda im, s: ImageOps.grayscale(im).convert("RGB"),
    "blur": lambda im, s: im.filter(ImageFilter.GaussianBlur(max(1.0, im.width / 250))),
    "noise": lambda im, s: _noise(im, 12, s),
    "rotate7": lambda im, s: _straightened(im, 7),
    "mirrored": lambda im, s: ImageOps.mirror(im),
    "letterbox": lambda im, s: _letterbox(im),
    "caption": lambda im, s: _caption(im),
    "mirror-crop-q30": lambda im, s: _jpeg(_crop(ImageOps.mirror(im), 0.08, 0.05, 0.04, 0.1), 30),
    "gray-half-blur": lambda im, s: _scale(ImageOps.grayscale(im).convert("RGB"), 0.5).filter(ImageFilter.GaussianBlur(1)),
    "crop75": lambda im, s: _crop(im, 0.125, 0.125, 0.125, 0.125),
    "crop60": lambda im, s: _crop(im, 0.2, 0.2, 0.2, 0.2),
}


def _photos() -> list[Path]:
    return sorted(p for s in SETS for p in (DATA / s / "images").rglob("*.jpg"))


def build(root: Path, n_scenes: int, n_distractors: int, n_crop_pairs: int, seed: int) -> dict[Path, tuple[str, str]]:
    """Write the benchmark folder; returns {file: (scene, edit)} (edit "original" or "distractor")."""
    rng = random.Random(seed)
    photos = _photos()
    rng.shuffle(photos)
    scenes, rest = photos[:n_scenes], photos[n_scenes:]
    truth: dict[Path, tuple[str, str]] = {}
    for i, src in enumerate(scenes):
        im = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
        d = root / f"scene{i:03d}"
        d.mkdir(parents=True)
        truth[d / "original.jpg"] = (f"s{i}", "original")
        im.save(d / "original.jpg", quality=92)
        for j, (name, edit) in enumerate(EDITS.items()):
            out = d / f"{name}.{'png' if name in ('grayscale', 'letterbox') else 'jpg'}"
            edit(im, seed * 1000 + i * 31 + j).save(out, **({} if out.suffix == ".png" else {"quality": 88}))
            truth[out] = (f"s{i}", name)
    classes = {src.parent for src in scenes}
    same_class = [p for p in rest if p.parent in classes]
    d = root / "distractors"
    d.mkdir()
    for k, src in enumerate(same_class[:n_distractors]):
        out = d / f"{k:04d}-{src.name}"
        out.write_bytes(src.read_bytes())
        truth[out] = (f"d{k}", "distractor")
    used = set(same_class[:n_distractors])
    for k, src in enumerate([p for p in rest if p not in used][:n_crop_pairs]):  # the large photo itself is absent
        im = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
        for side, box in (("left", (0.0, 0.0, 0.38, 0.0)), ("right", (0.38, 0.0, 0.0, 0.0))):
            out = d / f"crop{k:03d}-{side}.jpg"
            _crop(im, *box).save(out, quality=90)
            truth[out] = (f"c{k}{side}", "crop-of-large")
    return truth


def score(truth: dict[Path, tuple[str, str]], groups: list[list[Path]], maybe: list[list[Path]]) -> dict:
    def pairs(gs):
        return {frozenset(p) for g in gs for p in itertools.combinations(sorted(g), 2)}

    def counted(pair) -> bool:
        a, b = (truth[p] for p in pair)
        return not (a[0] == b[0] and (a[1] in DONT_CARE or b[1] in DONT_CARE))

    def same(pair) -> bool:
        a, b = (truth[p] for p in pair)
        return a[0] == b[0]

    by_scene: dict[str, list[Path]] = {}
    for p, (scene, _) in truth.items():
        by_scene.setdefault(scene, []).append(p)
    positives = {frozenset(p) for ps in by_scene.values() for p in itertools.combinations(sorted(ps), 2)}
    positives = {p for p in positives if counted(p)}
    predicted = {p for p in pairs(groups) if counted(p)}
    tp = len(predicted & positives)
    maybe_pairs = {p for p in pairs(maybe) if counted(p)} - predicted
    per_edit = {}
    originals = {truth[p][0]: p for p in truth if truth[p][1] == "original"}
    sure_pairs, all_pairs = pairs(groups), pairs(groups) | pairs(maybe)
    for name in EDITS:
        edited = [(originals[t[0]], p) for p, t in truth.items() if t[1] == name]
        per_edit[name] = {"sure": round(np.mean([frozenset(e) in sure_pairs for e in edited]), 3),
                          "sure_or_maybe": round(np.mean([frozenset(e) in all_pairs for e in edited]), 3)}
    false = sorted({f"{truth[a][1]}:{a.parent.name}/{a.name} ~ {truth[b][1]}:{b.parent.name}/{b.name}"
                    for a, b in (sorted(p) for p in predicted - positives)})
    return {"pairs_true": len(positives), "pairs_predicted": len(predicted), "pairs_correct": tp,
            "precision": round(tp / max(len(predicted), 1), 4), "recall": round(tp / max(len(positives), 1), 4),
            "maybe_pairs": len(maybe_pairs), "maybe_pairs_true": len(maybe_pairs & positives),
            "recall_with_maybe": round((tp + len(maybe_pairs & positives)) / max(len(positives), 1), 4),
            "per_edit_recall": per_edit, "false_pairs": false[:40]}


def _average_precision(ranked: list[Path], query: Path, truth: dict[Path, tuple[str, str]], n_relevant: int) -> float:
    """AP of one ranked list against "same scene", over all ``n_relevant`` photos of the scene (one the list lacks
    counts as never found); the query and its scene's don't-care crops are left out."""
    scene = truth[query][0]
    hits, total = 0, 0.0
    rank = 0
    for p in ranked:
        t = truth.get(p)
        if p == query or t is None or (t[0] == scene and t[1] in DONT_CARE):
            continue
        rank += 1
        if t[0] == scene:
            hits += 1
            total += hits / rank
    return total / max(n_relevant, 1)


def ranking_map(lib, truth: dict[Path, tuple[str, str]]) -> dict:
    """Similar-photos ranking on the same folder: every scene photo (the don't-care crops aside) queries the whole
    library, in the app's order (``Library.similar``, no distance limit) and by float cosine of the same backbone
    features; mAP against "same scene"."""
    catalog = lib.store.catalog
    ids, rows = catalog.feature_rows()
    photos = catalog.photos_by_ids(ids)
    paths = [Path(photos[i].path) for i in ids]
    row_of = {p: k for k, p in enumerate(paths)}
    feats = lib.store.features.get(np.asarray(rows))
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    scene_size: dict[str, int] = {}
    for p, (scene, edit) in truth.items():
        if edit not in DONT_CARE and p in row_of:
            scene_size[scene] = scene_size.get(scene, 0) + 1
    app, cosine = [], []
    n = len(paths)
    for q, (scene, edit) in truth.items():
        if edit in DONT_CARE or edit in ("distractor", "crop-of-large") or q not in row_of:
            continue
        ranked = [Path(r.photo.path) for r in lib.similar(q, k=n - 1, max_distance=lib.store.settings.bits)]
        app.append(_average_precision(ranked, q, truth, scene_size[scene] - 1))
        order = np.argsort(-(feats @ feats[row_of[q]]), kind="stable")
        cosine.append(_average_precision([paths[k] for k in order], q, truth, scene_size[scene] - 1))
    return {"queries": len(app), "map_app": round(float(np.mean(app)), 4),
            "map_float_cosine": round(float(np.mean(cosine)), 4)}


def markdown(out: dict) -> str:
    r = out["result"]
    lines = [f"## Near-duplicates (`python -m bench.dupes`), {out['scenes']} scenes x {len(EDITS) - 2} edits "
             f"+ 2 don't-care crops, {out['distractors']} same-class photos, {out['crop_pairs']} crop pairs",
             "", f"Machine: {out['machine']['cpu']} ({out['machine']['cores']} cores). Default settings.", "",
             "| pairwise precision | recall | recall counting maybe | maybe pairs (true) | dupes time |",
             "|---|---|---|---|---|",
             f"| **{r['precision']:.3f}** | **{r['recall']:.3f}** | {r['recall_with_maybe']:.3f} | "
             f"{r['maybe_pairs']} ({r['maybe_pairs_true']}) | {out['dupes_s']:.1f} s |", "",
             "| edit | grouped (sure) | sure or maybe |", "|---|---|---|"]
    lines += [f"| {k}{' (counts neither way)' if k in DONT_CARE else ''} | {v['sure']:.2f} | {v['sure_or_maybe']:.2f} |"
              for k, v in r["per_edit_recall"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from engine.api import Library
    from engine.progress import run_to_end

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenes", type=int, default=56)
    ap.add_argument("--distractors", type=int, default=200)
    ap.add_argument("--crop-pairs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "dupes-vm.json"))
    ap.add_argument("--workdir", default=None,
                    help="keep the folder and library here and reuse them on the next run (same arguments)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        root, lib_home, saved = work / "photos", work / "lib", work / "truth.json"
        index_s = None
        if saved.exists():
            truth = {Path(k): tuple(v) for k, v in json.loads(saved.read_text()).items()}
            lib = Library(lib_home)
        else:
            truth = build(root, args.scenes, args.distractors, args.crop_pairs, args.seed)
            lib = Library(lib_home)
            t0 = time.perf_counter()
            run_to_end(lib.index([root]))
            index_s = round(time.perf_counter() - t0, 1)
            saved.write_text(json.dumps({str(k): v for k, v in truth.items()}))
        t0, c0 = time.perf_counter(), time.process_time()
        found = lib.duplicates()
        dupes_s, dupes_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        groups = [[Path(p.path) for p in g.photos] for g in found if g.sure]
        maybe = [[Path(p.path) for p in g.photos] for g in found if not g.sure]
        ranking = ranking_map(lib, truth)
        lib.close()
    out = {"benchmark": "dupes", "scenes": args.scenes, "distractors": args.distractors,
           "crop_pairs": args.crop_pairs, "seed": args.seed, "photos": len(truth), "index_s": index_s,
           "dupes_s": round(dupes_s, 2), "dupes_cpu_s": round(dupes_cpu_s, 2),
           "load_average": [round(x, 2) for x in os.getloadavg()],
           "result": score(truth, groups, maybe), "ranking": ranking, "machine": machine_info()}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1) if args.json else markdown(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
