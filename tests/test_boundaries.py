"""Import rules of the fixed architecture: the engine and its search path load neither Qt nor torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO, demo_photos, photo_folder

PROBE = r"""
import json, sys
import engine
from engine.api import Library
lib = Library(sys.argv[1])
job = lib.index([sys.argv[2]])
for _ in job: pass
res = lib.similar_to_image(sys.argv[3], k=3)
lib.similar(res[0].photo.id, k=3)
lib.duplicates()
lib.status()
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'PySide6', 'shiboken6', 'gui'))))
"""


def test_index_and_search_never_import_torch_or_qt(tmp_path):
    folder = tmp_path / "p"
    photos = demo_photos(per_class=1)
    photo_folder(folder, photos)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "lib"), str(folder), str(photos[0])],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_static_boundary_checker():
    checker = REPO.parent / "shared" / "tools" / "check_boundaries.py"
    if not checker.exists():
        import pytest

        pytest.skip("shared/tools not beside this checkout")
    out = subprocess.run([sys.executable, str(checker), str(REPO)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
