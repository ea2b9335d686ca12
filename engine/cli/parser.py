"""The command line's arguments: every command, its options and their checks."""

from __future__ import annotations

import argparse
import logging
import math
import os

log = logging.getLogger("engine")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``simili: ...``) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"simili: {message} (see `{self.prog} --help`)\n")


def _int_in(low: int, high: int | None = None):
    """An argparse type: a whole number in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a whole number {bound}")
        return value
    return parse


def _cosine(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is out of range: a cosine is between -1 and 1")
    return value


def _home(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the library folder is empty; give a folder")
    path = os.path.expanduser(text)

    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text} is a file, not a library folder")
    return text


MAX_K = 10_000
MAX_DISTANCE = 128  # the longest code
MAX_WORDS = 200  # characters of a --text query
ONE_QUERY = "give one of: a library PHOTO, --image FILE or --text WORDS"


def _words(text: str) -> str:
    """A --text value: some letters, not too long."""
    text = " ".join(text.split())
    if not any(ch.isalpha() for ch in text):
        raise argparse.ArgumentTypeError("give some words, e.g. --text dog")
    if len(text) > MAX_WORDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_WORDS} characters")
    return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simili", description="Find visually similar photos.")
    p.add_argument("--home", type=_home, help="library folder (default: $SIMILI_HOME or the per-user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress (bars on a terminal; a line every few seconds when piped)")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    p.add_argument("--version", action="version", version="simili 0.1.0")
    sub = p.add_subparsers(dest="command", required=False, metavar="COMMAND")

    s = sub.add_parser("index", help="scan folders and make their photos searchable")
    s.add_argument("folders", nargs="*", help="folders to add (default: re-scan the library's folders)")
    s.add_argument("--bits", type=int, choices=(16, 32, 64, 128),
                   help="code length of the training-free code (saved in the library's settings)")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("similar", help="photos similar to a library photo, (--image) to any image file, or (--text)"
                                       " that show what words say")
    s.add_argument("photo", nargs="?", help="a photo in the library")
    s.add_argument("--image", help="any image file, in the library or not")
    s.add_argument("--text", type=_words, metavar="WORDS", help='words, e.g. "dog" or "red shoes"')
    s.add_argument("-k", type=_int_in(1, MAX_K), default=10, help="how many results (default 10)")
    s.add_argument("--max-distance", type=_int_in(0, MAX_DISTANCE), help="loosest Hamming distance to show")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("dupes", help="copies of one photo, and similar shots of one scene")
    s.add_argument("--not-copies", nargs="+", metavar="PHOTO",
                   help="remember that these photos (two or more) are not copies: they are never grouped again")
    s.add_argument("--max-distance", type=_int_in(0, MAX_DISTANCE), help="Hamming radius for candidates")
    s.add_argument("--min-cosine", type=_cosine, help="feature cosine a pair must reach")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("status", help="what the library holds, failures, model and runtime, and its health")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("repair", help="check the whole library for damage and repair it (re-reads only lost photos)")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("train", help="train DistillHash on the library's photos and switch to it")
    s.add_argument("--bits", type=int, choices=(16, 32, 64, 128), help="code length (default from settings)")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to train (default auto)")
    s.add_argument("--seed", type=_int_in(0, 2**31 - 1), default=0)
    s.add_argument("--progress-jsonl", action="store_true",
                   help="print each progress step as one JSON line on stdout (for the desktop app)")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("models", help="list models, or roll back with --activate ID")
    s.add_argument("--activate", type=_int_in(1), metavar="ID", help="make model ID the active one")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("folders", help="list library folders, or --remove one (files are never touched)")
    s.add_argument("--remove", metavar="FOLDER")
    s.add_argument("--skip", metavar="NAME", action="append", default=[],
                   help="never scan folders or files of this name (shell pattern, e.g. '@eaDir' or 'Backup*')")
    s.add_argument("--unskip", metavar="NAME", action="append", default=[], help="scan NAME again")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    from engine.cli.names import add_parsers

    add_parsers(sub)
    for command in sub.choices.values():  # the common options also after the command (`simili index DIR -q`)
        known = {opt for action in command._actions for opt in action.option_strings}
        for flags, kw in ((("--home",), {"type": _home}), (("--json",), {"action": "store_true"}),
                          (("-q", "--quiet"), {"action": "store_true"}),
                          (("-v", "--verbose"), {"action": "store_true"})):
            if not known & set(flags):
                command.add_argument(*flags, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kw)
    return p
