"""Build a large library quickly, without decoding images, for scale benchmarks.

Rows go straight into the catalog (status ok), features are random float16 rows with some cluster
structure, the training-free ITQ code is fitted and the index is built and saved, exactly the files a real
index run leaves. With ``files_root`` the photos are real (hard-linked) files, so a rescan can be timed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

__all__ = ["build_library", "link_tree"]


def link_tree(root: Path, n: int, per_folder: int = 1000) -> list[bytes]:
    """n hard links to one small JPEG in folders of ``per_folder`` (fast; the scanner sees n files)."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        folder = root / f"d{i // per_folder:04d}"
        seed = root / f"seed{i // per_folder:04d}.bin"  # one source per folder: ext4 allows 65,000 links
        if i % per_folder == 0:
            folder.mkdir(exist_ok=True)
            if not seed.exists():
                Image.new("RGB", (64, 48), (120, 160, 200)).save(seed, format="JPEG")
        p = folder / f"img{i:07d}.jpg"
        if not p.exists():
            os.link(seed, p)
        paths.append(os.fsencode(p))
    return paths


def _features(n: int, dim: int, rng: np.random.Generator, chunk: int = 100_000):
    centres = rng.standard_normal((256, dim)).astype(np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = centres[rng.integers(0, 256, m)] + 0.7 * rng.standard_normal((m, dim)).astype(np.float32)
        yield np.abs(x).astype(np.float16)


def build_library(home: Path, n: int, bits: int = 64, files_root: Path | None = None, seed: int = 0) -> dict:
    """Fill ``home`` with an indexed library of ``n`` photos; returns timings."""
    from engine.codes import binary as codes
    from engine.library.catalog import fs_bytes
    from engine.library.store import FEATURE_DIM, Store

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    store = Store(home)
    root = files_root or (home / "virtual-photos")
    paths = link_tree(files_root, n) if files_root else [fs_bytes(root / f"img{i:07d}.jpg") for i in range(n)]
    with open(home / "features.f16", "wb") as f:
        sample = []
        for block in _features(n, FEATURE_DIM, rng):
            f.write(block.tobytes())
            if sum(len(s) for s in sample) < 50_000:
                sample.append(block[:20_000].astype(np.float32))
    catalog = store.catalog
    with catalog.transaction():
        folder_id = catalog.add_folder(root)
        rows = []
        for i, raw in enumerate(paths):
            st = os.stat(raw) if files_root else None
            rows.append((raw, st.st_size if st else 1000, st.st_mtime_ns if st else 0, i, 4000, 3000))
        catalog.insert_indexed(folder_id, rows)
        catalog.set_meta("feat_rows", str(n))
    t_rows = time.perf_counter()
    store.features.rows = n
    store.models.save_linear(codes.fit_itq(np.concatenate(sample), bits), n)
    store.models.save_index(store.models.index())
    store.close()
    return {"n": n, "rows_and_features_s": round(t_rows - t0, 1), "total_s": round(time.perf_counter() - t0, 1)}
