"""Shared fixtures: every test gets its own library home; Qt runs offscreen; data sets are located once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the user's real library: SIMILI_HOME points into a fresh temp dir for each test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SIMILI_HOME", str(home))
    yield home


@pytest.fixture
def home(_isolated_home) -> Path:
    return _isolated_home


def demo_photos(n: int | None = None, per_class: int | None = None) -> list[Path]:
    """Real photos from the bundled demo folder, in a stable order (optionally a few per class)."""
    classes = sorted(p for p in (DEMO / "images").iterdir() if p.is_dir())
    out: list[Path] = []
    for c in classes:
        files = sorted(c.glob("*.jpg"))
        out.extend(files[:per_class] if per_class else files)
    return out[:n] if n else out


@pytest.fixture(scope="session")
def copies_folder(tmp_path_factory) -> tuple[Path, dict[Path, list[Path]]]:
    """A folder of real photos: 8 originals with their 4 edited copies each, plus 40 unrelated photos."""
    from tests.corpus import make_copies

    root = tmp_path_factory.mktemp("copies")
    photos = demo_photos(per_class=5)
    originals, others = photos[:40:5], photos[1:40:5] + photos[2:40:5] + photos[3:40:5] + photos[4:40:5]
    copies: dict[Path, list[Path]] = {}
    for i, src in enumerate(originals):
        dst = root / f"orig{i:02d}.jpg"
        shutil.copyfile(src, dst)
        copy_dir = root / f"copies{i:02d}"
        copy_dir.mkdir()
        copies[dst] = [Path(p) for p in make_copies(dst, copy_dir)]
    for j, src in enumerate(others):
        shutil.copyfile(src, root / f"other{j:02d}.jpg")
    return root, copies


def tree_digest(root: Path) -> dict[str, tuple[int, str]]:
    """Every file below root with its size and hash, to prove a run changed nothing."""
    import hashlib

    out = {}
    for dirpath, _, files in os.walk(os.fsencode(root)):
        for name in files:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) and not os.path.exists(p):
                out[os.fsdecode(p)] = (-1, os.fsdecode(os.readlink(p)))
                continue
            try:
                data = open(p, "rb").read()
            except OSError:
                continue
            out[os.fsdecode(p)] = (len(data), hashlib.sha256(data).hexdigest())
    return out


def photo_folder(folder: Path, photos: list[Path]) -> list[Path]:
    """Create ``folder`` with copies of ``photos`` named ``<class>-<file>`` (unique across classes)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in photos:
        dst = folder / f"{p.parent.name}-{p.name}"
        shutil.copyfile(p, dst)
        out.append(dst)
    return out


def indexed_demo_library(root: Path, per_class: int, auto_train: bool | None = None):
    """An open library at ``root/lib`` that has indexed ``per_class`` demo photos of each kind (copied into
    ``root/photos``): (library, folder, the copied files). ``auto_train`` False keeps learning from starting."""
    from engine.api import Library

    folder = root / "photos"
    files = photo_folder(folder, demo_photos(per_class=per_class))
    lib = Library(root / "lib")
    if auto_train is not None:
        lib.settings.auto_train = auto_train
        lib.save_settings()
    for _ in lib.index([folder]):
        pass
    return lib, folder, files
