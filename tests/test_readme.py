"""The README a new user meets: what Simili does in plain words, then the commands that install, test and start it."""

from __future__ import annotations

import re

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = README[: README.index("\n## ")]
BLOCKS = re.findall(r"```bash\n(.*?)\n```", FIRST_SCREEN, flags=re.S)


def test_the_first_screen_says_what_simili_does_without_jargon():
    for word in ("Hamming", "DistillHash", "CVPR", "et al", "bits", "mAP"):
        assert word not in FIRST_SCREEN, word
    assert "similar" in FIRST_SCREEN.split("\n\n")[1]  # the first paragraph says what it is for


def test_the_first_commands_run_the_demo_the_tests_and_start_the_app():
    demo, tests, app = BLOCKS[:3]
    assert "pip install" in demo and "index resources/demo" in demo and " similar " in demo
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci  # .ci/run runs exactly the README's test command
    assert app.startswith(".venv/bin/simili-gui") and "--home demo-library" in app  # on PATH or not, it starts


def test_product_docs_stand_alone():
    docs = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "packaging").rglob("*.md")]
    for path in docs:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, path
