"""Import rules of the fixed architecture: the engine and its search path load neither Qt nor torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
lib.similar_to_text('shoes', k=3)
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


def test_import_contracts():
    """The layer and GUI-boundary contracts in pyproject.toml ([tool.importlinter]) hold."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def _graph():
    import grimp

    return grimp.build_graph("engine", "gui", include_external_packages=False)


def test_engine_import_graph_has_no_cycle():
    """Typing-only and function-level imports count too: no module of the engine reaches back to itself."""
    graph = _graph()
    modules = sorted(m for m in graph.modules if m.startswith("engine.") and m != "engine.__main__")
    for module in modules:
        for other in graph.find_modules_directly_imported_by(module):
            if other != module and other.startswith("engine.") and graph.chain_exists(other, module):
                raise AssertionError(f"import cycle: {' -> '.join(graph.find_shortest_chain(other, module))}"
                                     f" -> {other}")


def test_gui_imports_only_the_facade_types_and_errors():
    """A new engine module is covered without editing the contract's list."""
    graph = _graph()
    allowed = {"engine", "engine.api", "engine.types", "engine.errors"}
    seen = {other for m in graph.modules if m == "gui" or m.startswith("gui.")
            for other in graph.find_modules_directly_imported_by(m) if other.split(".")[0] == "engine"}
    assert seen <= allowed, sorted(seen - allowed)
    assert "engine.api" in seen


def _members(protocol) -> list[str]:
    return sorted(n for n in vars(protocol) if not n.startswith("_"))


def test_library_and_the_gui_fake_implement_the_facade_protocol(tmp_path):
    """Every member of ``engine.api.LibraryFacade`` exists on both, and takes the parameters it declares."""
    import inspect

    from engine.api import Library, LibraryFacade
    from tests.test_gui_fakes import FakeLibrary

    fake = FakeLibrary(tmp_path / "fake")
    for impl in (Library, fake):
        for name in _members(LibraryFacade):
            declared = inspect.getattr_static(LibraryFacade, name)
            assert hasattr(impl, name), f"{impl} lacks {name}"
            if isinstance(declared, property):
                continue
            want = [p for p in inspect.signature(declared).parameters if p != "self"]
            have = inspect.signature(getattr(impl, name)).parameters
            assert all(p in have for p in want), f"{impl}.{name}{tuple(have)} does not take {want}"


def test_the_architecture_picture_is_drawn_from_the_code():
    """docs/architecture.md's package picture matches the import graph (python docs/architecture.py redraws it)."""
    out = subprocess.run([sys.executable, str(REPO / "docs" / "architecture.py"), "--check"], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


def test_engine_is_a_few_packages_and_no_module_is_long():
    top = [p for p in (REPO / "engine").glob("*.py")]
    assert len(top) <= 12, sorted(p.name for p in top)
    packages = [p for p in (REPO / "engine").iterdir() if (p / "__init__.py").is_file()]
    assert len(packages) >= 6
    for pkg in packages:  # each says what it owns and what it may import
        doc = (pkg / "__init__.py").read_text(encoding="utf-8")
        assert doc.startswith('"""') and "import" in doc, pkg.name
    for path in [*(REPO / "engine").rglob("*.py"), *(REPO / "gui").rglob("*.py")]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 500, f"{path.relative_to(REPO)} has {lines} lines"
