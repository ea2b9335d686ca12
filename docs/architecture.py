"""Draws the package picture in docs/architecture.md from the real import graph (grimp), so the picture stays true.

    python docs/architecture.py          # rewrite the picture in docs/architecture.md
    python docs/architecture.py --check  # exit 1 when the picture no longer matches the code

Each box is a package (or a top-level module) of ``engine``; an arrow A --> B means some module of A imports some
module of B at run time (arrows into the base layer, which every layer may use, are left out; imports under ``if TYPE_CHECKING:`` only name types and are left out, as in the
import-linter contracts). Boxes stand in the layers of ``pyproject.toml``'s contract, clients at the top.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().with_name("architecture.md")
BEGIN, END = "<!-- graph: begin (docs/architecture.py writes this) -->", "<!-- graph: end -->"
LAYERS = (  # the layer contract in pyproject.toml, named for people
    ("clients", ["gui", "engine.cli"]),
    ("facade", ["engine.api"]),
    ("jobs", ["engine.jobs"]),
    ("the library", ["engine.library"]),
    ("capabilities", ["engine.learning", "engine.duplicates", "engine.words", "engine.model", "engine.codes",
                      "engine.images"]),
    ("base", ["engine.progress", "engine.resources", "engine._atomic", "engine.types", "engine.errors"]),
)


BASE = set(LAYERS[-1][1])  # every layer may use the base: arrows into it are left out of the picture


def _box(module: str) -> str | None:
    for _, boxes in LAYERS:
        for box in boxes:
            if module == box or module.startswith(box + "."):
                return box
    return None


def edges() -> list[tuple[str, str]]:
    """(importer box, imported box) pairs of the run-time import graph, sorted."""
    import grimp

    graph = grimp.build_graph("engine", "gui", include_external_packages=False, exclude_type_checking_imports=True)
    out = set()
    for module in graph.modules:
        src = _box(module)
        for other in graph.find_modules_directly_imported_by(module):
            dst = _box(other)
            if src and dst and src != dst and (dst not in BASE or src in BASE):
                out.add((src, dst))
    return sorted(out)


def mermaid() -> str:
    def node(box: str) -> str:
        return box.replace(".", "_")

    lines = ["```mermaid", "flowchart TB"]
    for name, boxes in LAYERS:
        lines.append(f'  subgraph {name.replace(" ", "_")}["{name}"]')
        lines += [f'    {node(b)}["{b}"]' for b in boxes]
        lines.append("  end")
    lines += [f"  {node(a)} --> {node(b)}" for a, b in edges()]
    lines.append("```")
    return "\n".join(lines)


def render(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{mermaid()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("docs/architecture.md: the picture is out of date; run python docs/architecture.py")
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(DOC.parents[1]))
    raise SystemExit(main(sys.argv[1:]))
