"""``simili --self-test``: run the packaged engine end to end on the bundled demo photos, then draw results in Qt.

Checks every native part of the bundle in a throw-away library: Pillow + pillow-heif decoding (a HEIC written
and read back), ONNX Runtime (the bundled EfficientNet-Lite0), faiss (binary index search), SQLite, and Qt
(an offscreen window of result thumbnails loaded by Qt's own image plugins, ``grab()``bed to a PNG). Uses plain
PySide6 only, so it does not depend on ``gui`` internals. Prints one line per step and ``SELF-TEST OK``;
exits 1 on the first failure (with the traceback). ``--json`` prints a machine-readable summary instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

PER_CLASS = 5
ANY = 1 << 16  # a Hamming limit no code reaches: the self-test checks ranking, not the default cut-off


class Failed(Exception):
    pass


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise Failed(what)


def _versions() -> dict:
    import faiss
    import numpy
    import onnxruntime
    import PIL
    import pillow_heif
    import PySide6
    import rawpy

    return {"python": sys.version.split()[0], "frozen": bool(getattr(sys, "frozen", False)),
            "numpy": numpy.__version__, "onnxruntime": onnxruntime.__version__, "faiss": faiss.__version__,
            "pillow": PIL.__version__, "pillow_heif": pillow_heif.__version__, "pyside6": PySide6.__version__,
            "rawpy": rawpy.__version__, "libraw": ".".join(map(str, rawpy.libraw_version))}


def _demo_photos(per_class: int) -> list[Path]:
    from engine.resources import resources_root

    classes = sorted(p for p in (resources_root() / "demo" / "images").iterdir() if p.is_dir())
    _expect(len(classes) >= 2, "the bundled demo photos are missing (resources/demo/images)")
    return [f for c in classes for f in sorted(c.glob("*.jpg"))[:per_class]]


def _engine(work: Path, per_class: int) -> dict:
    from PIL import Image
    from pillow_heif import register_heif_opener

    from engine.api import Library
    from engine.progress import run_to_end

    photos_dir = work / "photos"
    by_class: dict[str, str] = {}
    for src in _demo_photos(per_class):
        dst = photos_dir / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        by_class[str(dst.absolute())] = src.parent.name
    query = sorted(by_class)[0]
    register_heif_opener()
    heic = work / "query.heic"
    with Image.open(query) as im:
        im.convert("RGB").save(heic, quality=90)
    with Image.open(heic) as im:
        _expect(im.format == "HEIF" and im.size[0] > 0, "pillow-heif could not read back the HEIC it wrote")

    out: dict = {"photos": len(by_class)}
    with Library(work / "home") as lib:
        t = time.perf_counter()
        report = run_to_end(lib.index([photos_dir]))
        out["index_s"] = round(time.perf_counter() - t, 3)
        _expect(report.indexed == len(by_class) and report.failed == 0,
                f"indexing: {report.indexed} of {len(by_class)} photos indexed, {report.failed} failed")
        out["provider"] = lib.store.backbone.provider
        t = time.perf_counter()
        near = lib.similar(query, k=5, max_distance=ANY)
        out["query_ms"] = round(1000 * (time.perf_counter() - t), 2)
        _expect(len(near) > 0, "a library photo found no similar photos")
        from_heic = lib.similar_to_image(heic, k=3, max_distance=ANY)
        _expect(any(n.photo.path == query for n in from_heic),
                f"the HEIC copy of {query} did not find its original: {[n.photo.path for n in from_heic]}")
        # Retrieval quality: how often the nearest photo has the query's clothing class (chance is ~1/10).
        hits = [by_class[lib.similar(p, k=1, max_distance=ANY)[0].photo.path] == c for p, c in by_class.items()]
        out["top1_same_class"] = round(sum(hits) / len(hits), 3)
        _expect(out["top1_same_class"] >= 0.25, f"search quality too low: top-1 class match {out['top1_same_class']}")
        # Search by words: the bundle ships the classifier head and the WordNet vocabulary.
        shoes = lib.similar_to_text("shoes", k=min(3, per_class)).results
        _expect(bool(shoes) and all(by_class[n.photo.path] == "shoes" for n in shoes),
                f"the words 'shoes' found {[by_class.get(n.photo.path) for n in shoes]}")
        out["words_shoes"] = [n.photo.path for n in shoes]
        out["query"] = query
        out["results"] = [n.photo.path for n in near]
    return out


def _qt(query: str, results: list[str], screenshot: Path) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImageReader, QPixmap
    from PySide6.QtWidgets import QApplication, QGridLayout, QLabel, QWidget

    formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
    _expect({"jpeg", "png"} <= formats, f"Qt image plugins missing: has only {sorted(formats)}")
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = QWidget()
    window.setWindowTitle("Simili self-test")
    grid = QGridLayout(window)
    for i, path in enumerate([query, *results]):
        pix = QPixmap(path)
        _expect(not pix.isNull(), f"Qt could not load {path}")
        label = QLabel()
        label.setPixmap(pix.scaled(128, 128, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation))
        grid.addWidget(label, 0 if i == 0 else 1, 0 if i == 0 else i - 1)
        grid.addWidget(QLabel("query" if i == 0 else f"#{i}"), 2 if i else 3, max(i - 1, 0))
    window.resize(720, 360)
    window.show()
    app.processEvents()
    shot = window.grab()
    _expect(not shot.isNull() and shot.width() > 100, "grab() of the results window returned nothing")
    image = shot.toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    _expect(len(colours) > 50, f"the results window looks blank ({len(colours)} colours)")
    _expect(shot.save(str(screenshot), "PNG"), f"could not save {screenshot}")
    window.close()
    return {"qpa": app.platformName(), "screenshot": str(screenshot), "colours": len(colours),
            "image_formats": len(formats)}


def _self_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, str(Path(__file__).resolve().with_name("launch.py"))]


def _gui(home: Path) -> dict:
    """The desktop app's own self-test on the library just built, in a child process (it owns its QApplication)."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("gui.app") is None:
        return {"gui": "absent from this build"}
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    t = time.perf_counter()
    out = subprocess.run(_self_command() + ["--gui-self-test", "--home", str(home)], env=env,
                         capture_output=True, text=True, timeout=300)
    _expect(out.returncode == 0, f"the desktop app's self-test failed (exit {out.returncode}):\n"
                                 f"{(out.stdout + out.stderr).strip()[-3000:]}")
    return {"gui": "ok", "seconds": round(time.perf_counter() - t, 2), "output": out.stdout.strip()[-500:]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="simili --self-test", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.add_argument("--keep", action="store_true", help="keep the temporary library and screenshot")
    p.add_argument("--per-class", type=int, default=PER_CLASS, help="demo photos per class (default 5)")
    args = p.parse_args(argv)

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="simili-selftest-"))
    summary: dict = {"ok": False, "work": str(work)}
    step = "start"
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    try:
        for step, fn in (("versions", _versions),
                         ("engine", lambda: _engine(work, args.per_class)),
                         ("qt", lambda: _qt(summary["engine"]["query"], summary["engine"]["results"],
                                            work / "selftest.png")),
                         ("gui", lambda: _gui(work / "home"))):
            t = time.perf_counter()
            summary[step] = fn()
            log(f"ok  {step:9s} {time.perf_counter() - t:6.2f} s  {json.dumps(summary[step], default=str)}")
        summary["ok"] = True
    except Exception as exc:  # report every failure the same way, whatever its type
        summary["error"] = f"{step}: {exc}"
        log(f"FAIL {step}: {exc}")
        traceback.print_exc(file=sys.stderr)
    finally:
        summary["seconds"] = round(time.perf_counter() - started, 2)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, default=str))
    elif summary["ok"]:
        print(f"SELF-TEST OK ({summary['seconds']} s)")
    return 0 if summary["ok"] else 1
