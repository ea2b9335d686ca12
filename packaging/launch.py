"""Entry point of the frozen app (both launchers, ``simili`` and ``simili-cli``), also runnable from a checkout.

    simili                      the desktop app (gui.app:main); GUI flags such as --home are passed through
    simili --self-test [...]    end-to-end check of the bundle (packaging/selftest.py), exit 0 when it all works
    simili --gui-self-test ...  the desktop app's own --self-test (gui.app), e.g. with --home DIR
    simili install-training     install PyTorch for training into the per-user add-on folder (training_addon.py)
    simili COMMAND ...          the engine CLI (index, similar, dupes, status, train, models, folders; -h, --version)
"""

from __future__ import annotations

import multiprocessing
import os
import sys

ENGINE_COMMANDS = {"index", "similar", "dupes", "status", "train", "models", "folders"}
ENGINE_FLAGS = {"-h", "--help", "--version"}


def _ensure_streams() -> None:
    # A windowed Windows/macOS executable starts with sys.stdout/stderr set to None: give writes somewhere to go.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def _is_engine_command(argv: list[str]) -> bool:
    """True when the first positional argument (skipping ``--home DIR``) names an engine subcommand."""
    if argv and argv[0] in ENGINE_FLAGS:
        return True
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--home":
            skip = True
        elif not arg.startswith("-"):
            return arg in ENGINE_COMMANDS
    return False


def _run_gui(argv: list[str]) -> int:
    try:
        from gui.app import main as gui_main
    except ModuleNotFoundError as exc:
        if exc.name not in ("gui", "gui.app"):
            raise
        print("simili: this build has no desktop app; try `simili --self-test` or `simili --help`", file=sys.stderr)
        return 2
    return int(gui_main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--gui-self-test"]:  # the desktop app's own check, run by selftest.py in a child process
        return _run_gui(["--self-test", *argv[1:]])
    if "--self-test" in argv:
        import selftest

        return selftest.main([a for a in argv if a != "--self-test"])
    if argv[:1] == ["install-training"]:
        import training_addon

        return training_addon.main(argv[1:])
    if _is_engine_command(argv):
        from engine.cli import main as cli_main

        return int(cli_main(argv) or 0)
    return _run_gui(argv)


if __name__ == "__main__":
    if not getattr(sys, "frozen", False):  # run from a checkout: make engine/ and gui/ importable
        sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    multiprocessing.freeze_support()  # torch DataLoader workers and ProcessPool children re-enter here
    _ensure_streams()
    sys.exit(main())
