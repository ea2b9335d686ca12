"""Remake the screenshots in docs/screenshots: the real app, offscreen, on the bundled demo photos.

    python docs/screenshots/make.py            # every view, 800x600 and 1600x1000, light and dark
    python docs/screenshots/make.py --sizes 800x600 --themes dark --views similar,words

Each PNG is ``<view>-<theme>-<W>x<H>.png``. The photos are the demo folder (resources/demo, 245 clothing photos)
copied into a "Wardrobe" folder, plus a "WhatsApp Images" folder of resized, recompressed and cropped copies of three
of them, so the Duplicates view has something to show. Everything is made in a temporary folder (``--work``); the
app runs as ``python -m gui --home LIB --size WxH --theme T --screenshot OUT.png`` (gui/automation.py), each run
with a fresh window state so no run's layout leaks into the next. PNGs are reduced to 256 colours (fewer where
that keeps one under 400 KB) and optimised.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo" / "images"
OUT = Path(__file__).resolve().parent
QUERY = ("shoes", "0dd87e47-ca85-4d5c-9fd1-59f5a01eb656.jpg")  # the README's example photo
COPIED = (("dress", 0), ("longsleeve", 0), ("hat", 1))  # (kind, n-th photo): the photos given copies
VIEWS = ("welcome", "similar", "words", "duplicates", "indexing")
WORDS = "black shoes"


def build_folders(work: Path) -> tuple[Path, Path]:
    """Wardrobe (every demo photo, named <kind>-<file>) and WhatsApp Images (copies of a few of them)."""
    wardrobe, chats = work / "Photos" / "Wardrobe", work / "Photos" / "WhatsApp Images"
    if wardrobe.is_dir() and chats.is_dir():
        return wardrobe, chats
    wardrobe.mkdir(parents=True, exist_ok=True)
    chats.mkdir(parents=True, exist_ok=True)
    for kind in sorted(p for p in DEMO.iterdir() if p.is_dir()):
        for photo in sorted(kind.glob("*.jpg")):
            shutil.copyfile(photo, wardrobe / f"{kind.name}-{photo.name}")
    for kind, nth in COPIED:
        src = sorted((DEMO / kind).glob("*.jpg"))[nth]
        with Image.open(src) as im:
            img = ImageOps.exif_transpose(im).convert("RGB")
        stem = f"{kind}-{src.stem[:8]}"
        img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(chats / f"{stem}_half.jpg",
                                                                                    quality=90)
        img.save(chats / f"{stem}_q50.jpg", quality=50)
        dx, dy = img.width // 20, img.height // 20
        img.crop((dx, dy, img.width - dx, img.height - dy)).save(chats / f"{stem}_crop10.jpg", quality=90)
    return wardrobe, chats


def run_app(home: Path, out: Path, size: str, theme: str, *extra: str) -> dict:
    """One scripted run of the app; returns what it printed last (JSON)."""
    (home / "gui-state.ini").unlink(missing_ok=True)  # every shot starts from the default layout
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "gui", "--home", str(home), "--size", size, "--theme", theme,
           "--screenshot", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=900, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def shrink(png: Path, dest: Path, limit: int = 400_000) -> int:
    """Save ``png`` as ``dest`` optimised with at most 256 colours, fewer until it is under ``limit`` bytes (a
    window full of photos); returns its size in bytes."""
    with Image.open(png) as im:
        rgb = im.convert("RGB")
    tries = [(256, Image.Quantize.MEDIANCUT)] + [(n, Image.Quantize.FASTOCTREE) for n in (256, 192, 128, 96, 64)]
    for colors, method in tries:
        rgb.quantize(colors=colors, method=method, dither=Image.Dither.NONE).save(dest, optimize=True)
        if dest.stat().st_size < limit:
            break
    return dest.stat().st_size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="800x600,1600x1000")
    p.add_argument("--themes", default="light,dark")
    p.add_argument("--views", default=",".join(VIEWS))
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "simili-screenshots",
                   help="where the photos and libraries are made (kept, so a second run is quicker)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    work = args.work
    wardrobe, chats = build_folders(work)
    library = work / "library"
    raw = work / "raw.png"
    query = wardrobe / f"{QUERY[0]}-{QUERY[1]}"
    folders = ["--folder", str(wardrobe), "--folder", str(chats)]
    views = [v for v in args.views.split(",") if v]
    for size in args.sizes.split(","):
        for theme in args.themes.split(","):
            for view in views:
                if view == "welcome":
                    fresh = work / "empty-library"
                    shutil.rmtree(fresh, ignore_errors=True)
                    info = run_app(fresh, raw, size, theme)
                elif view == "indexing":
                    fresh = work / "indexing-library"
                    shutil.rmtree(fresh, ignore_errors=True)
                    info = run_app(fresh, raw, size, theme, "--folder", str(wardrobe), "--while-indexing")
                else:
                    extra = {"similar": ["--query", str(query)], "words": ["--words", WORDS],
                             "duplicates": ["--page", "duplicates"]}[view]
                    info = run_app(library, raw, size, theme, *folders, *extra)
                dest = args.out / f"{view}-{theme}-{size}.png"
                print(f"{dest.name}: {shrink(raw, dest) // 1024} KB {info}", flush=True)
    raw.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
