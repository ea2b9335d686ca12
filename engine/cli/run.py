"""Running one command: the library opened, every failure one line, exit statuses, SIGTERM, a closed pipe."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import sys
from typing import Any

from engine.cli.bars import progress_for
from engine.cli.library import (
    cmd_folders,
    cmd_index,
    cmd_models,
    cmd_repair,
    cmd_status,
    cmd_train,
)
from engine.cli.names import cmd_name, cmd_names
from engine.cli.parser import ONE_QUERY, build_parser
from engine.cli.searching import cmd_dupes, cmd_similar
from engine.errors import Cancelled, SimiliError, UnknownWords

log = logging.getLogger("engine")


_COMMANDS = {"index": cmd_index, "similar": cmd_similar, "dupes": cmd_dupes, "status": cmd_status,
             "repair": cmd_repair, "train": cmd_train, "models": cmd_models, "folders": cmd_folders,
             "name": cmd_name, "names": cmd_names}


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit 143)."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _shell_word(text: str) -> str:
    """``text`` as one shell word a person can read: grandma's garden -> "grandma's garden"."""
    if shlex.quote(text) != text and not set('"$`\\!') & set(text):
        return f'"{text}"'
    return shlex.quote(text)


def _run(args) -> tuple[int, Any]:
    """Run the command: (exit status, output); every failure becomes one line on stderr."""
    from engine.api import Library

    bars = progress_for(args.quiet, args.json, sys.stderr.isatty())
    lib = None
    try:
        if args.command == "repair":
            from engine.api import repair_catalog

            args.salvaged = repair_catalog(args.home)
        lib = Library(args.home)
        return 0, _COMMANDS[args.command](lib, args, bars)
    except KeyboardInterrupt as exc:
        print("simili: cancelled; work done so far is kept and the next run resumes", file=sys.stderr)
        return (143 if isinstance(exc, _Terminated) else 130), None
    except Cancelled:
        print("simili: cancelled", file=sys.stderr)
        return 130, None
    except BrokenPipeError:
        raise
    except (SimiliError, OSError) as exc:
        print(f"simili: {_one_line(exc)}", file=sys.stderr)
        if isinstance(exc, UnknownWords) and getattr(args, "text", None):  # Simili can learn a word: say how
            print(f"simili: to teach it, name a few photos that show it: simili name {_shell_word(args.text)} "
                  f"PHOTO...", file=sys.stderr)
        return 1, None
    except Exception as exc:  # a bug or an unforeseen state: one line, the details with -v
        log.info("unexpected error", exc_info=True)
        print(f"simili: unexpected error ({type(exc).__name__}: {_one_line(exc)}); "
              f"run again with -v for details", file=sys.stderr)
        return 1, None
    finally:
        if lib is not None:
            try:
                lib.close()
            except Exception:  # closing never hides the command's own result
                log.info("closing the library failed", exc_info=True)



def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `simili` alone: what it can do, not only an argparse error
        if args.json:
            parser.error("the following arguments are required: COMMAND")
        parser.print_help()
        return 2
    if args.command == "similar" and sum(map(bool, (args.photo, args.image, args.text))) != 1:
        parser.error(ONE_QUERY)
    if args.command == "similar" and args.text and args.max_distance is not None:
        parser.error("--max-distance applies to photo searches, not to --text")
    quiet = (args.quiet or args.json) and not args.verbose
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR if quiet else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # a library's warnings (Pillow's on odd files, with its source paths) are details for -v, not for users
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.INFO if args.verbose else logging.CRITICAL)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding caller): SIGTERM keeps its default
        previous = None
    try:
        status, out = _run(args)
        if status == 0 and args.json:
            try:
                text = json.dumps(out, indent=None, default=str, allow_nan=False)
            except ValueError:
                print("simili: a result is not a finite number (the feature cache may be damaged); "
                      "run `simili repair`", file=sys.stderr)
                return 1
            sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (``simili ... | head``): stop quietly; stdout is pointed at devnull so that the
        # interpreter's own final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
