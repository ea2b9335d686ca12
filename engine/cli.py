"""``simili`` / ``python -m engine``: every engine step from the command line, human or ``--json`` output.

Exit status: 0 on success, 1 with a one-line error on stderr, 2 for a wrong argument (one line), 130 after Ctrl-C and
143 after SIGTERM (work done so far is kept either way), 141 when the reader of the output goes away (``| head``).
No Python traceback reaches the user: unexpected errors are one line too (``-v`` logs the details).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Generator
from dataclasses import asdict
from typing import Any

from engine.errors import Cancelled, SimiliError
from engine.jobs import run_to_end

__all__ = ["main"]

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
_ONE_QUERY = "give one of: a library PHOTO, --image FILE or --text WORDS"


def _words(text: str) -> str:
    """A --text value: some letters, not too long."""
    text = " ".join(text.split())
    if not any(ch.isalpha() for ch in text):
        raise argparse.ArgumentTypeError("give some words, e.g. --text dog")
    if len(text) > MAX_WORDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_WORDS} characters")
    return text


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simili", description="Find visually similar photos.")
    p.add_argument("--home", type=_home, help="library folder (default: $SIMILI_HOME or the per-user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    p.add_argument("--version", action="version", version="simili 0.1.0")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    s = sub.add_parser("dupes", help="groups of near-duplicate photos")
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
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    return p


class _Bars:
    """tqdm bars on stderr, one per stage (a stage whose total changes keeps its bar), cleared when the stage
    ends: the result lines stay, no half-finished ``codes: 0% 0/1`` bar. Only photo stages show a rate (photos a
    second); the others, which jump through cached work, show a share and the time."""

    PLAIN = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.stage = None
        self.shown: list[str] = []  # stages that got a bar, in order

    def update(self, p) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.stage != self.stage:
            self.close()
            self.stage = p.stage
            self.shown.append(p.stage)
            photos = p.stage in ("encode", "reencode")
            self.bar = tqdm(total=p.total, desc=p.stage, unit="photos" if photos else "it", file=sys.stderr,
                            dynamic_ncols=True, leave=False, bar_format=None if photos else
                            (self.PLAIN if p.total else "{desc}: {n_fmt} [{elapsed}]"))
        elif self.bar.total != p.total:
            self.bar.total = p.total
        self.bar.n = p.done
        self.bar.set_description(p.stage, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _drive(job: Generator, bars: _Bars) -> Any:
    try:
        return run_to_end(job, bars.update)
    finally:
        bars.close()


def _photo_json(photo) -> dict:
    return {"id": int(photo.id), "path": photo.path}


def _cmd_index(lib, args, bars) -> dict:
    if args.bits and args.bits != lib.settings.bits:
        lib.settings.bits = args.bits
        lib.save_settings()
    report = _drive(lib.index(args.folders), bars)
    out = asdict(report)
    out["failures"] = [asdict(f) for f in lib.failures()]
    if not args.json:
        print(f"{report.indexed} photos searchable: {report.added} new, {report.updated} changed, "
              f"{report.moved} moved, {report.removed} gone, {report.failed} could not be read.")
        for f in out["failures"][:20]:
            print(f"  ! {f['path']}: {f['message']}")
        if report.failed > 20:
            print(f"  ... and {report.failed - 20} more (simili status lists them all)")
    return out


def _cmd_similar(lib, args, bars) -> dict:
    if args.text:
        return _similar_text(lib, args)
    if args.image:
        results = lib.similar_to_image(args.image, k=args.k, max_distance=args.max_distance)
        query = os.path.abspath(args.image)
    else:
        results = lib.similar(args.photo, k=args.k, max_distance=args.max_distance)
        query = os.path.abspath(args.photo)
    from engine.types import CLOSE_MATCH

    close = bool(results) and results[0].close
    out = {"query": query, "close_match": close, "close_threshold": CLOSE_MATCH, "results": _results_json(results)}
    if not args.json:
        _print_similar(query, results, close)
    return out


def _results_json(results: list) -> list[dict]:
    return [{"path": n.photo.path, "distance": n.distance, "id": int(n.photo.id),
             "match": None if n.match is None else round(n.match, 4),
             "cosine": None if n.score is None else round(n.score, 4),
             "similarity": None if n.similarity is None else round(n.similarity, 1), "level": n.level,
             "close": n.close} for n in results]


def _similar_text(lib, args) -> dict:
    """``similar --text``: the same JSON as a photo query, plus what the words were understood as."""
    from engine.types import CLOSE_MATCH

    found = lib.similar_to_text(args.text, k=args.k)
    out = {"query": args.text, "close_match": found.close_match, "close_threshold": CLOSE_MATCH,
           "understood": found.understood, "ignored": list(found.ignored),
           "results": _results_json(found.results)}
    if not args.json:
        if found.ignored:
            print(f"Not understood, left out: {', '.join(found.ignored)}")
        if not found.results:
            print(f"No photo shows {found.understood}.")
        else:
            _print_similar(f"photos showing {found.understood}", found.results, found.close_match, what="text")
    return out


def _print_similar(query: str, results: list, close: bool, what: str = "photo") -> None:
    """Results under a header, most similar first, with a line where close matches end."""
    from engine.types import CLOSE_MATCH

    if not results:
        print("No similar photos found.")
        return
    if what == "text":
        head = (f"The {query}, best match first:" if close else
                f"No photo clearly shows it ({query}): none is a {CLOSE_MATCH:.0f}% match. The nearest ones:")
    elif close:
        head = f"Photos most similar to {query}, most similar first:"
    else:
        head = f"No close match for {query}: no photo is at least {CLOSE_MATCH:.0f}% similar. The nearest ones:"
    print(head)
    print(f"{'similarity':>10s}  {'level':15s}  photo")
    line_drawn = not close
    for n in results:
        if not line_drawn and not n.close:
            print(f"{'':10s}  -- below this line: not a close match (under {CLOSE_MATCH:.0f}%) --")
            line_drawn = True
        pct = "?" if n.similarity is None else f"{n.similarity:.0f}%"
        print(f"{pct:>10s}  {n.level or '':15s}  {n.photo.path}")


def _cmd_dupes(lib, args, bars) -> dict:
    from engine.types import DuplicateGroup

    try:
        found = lib.duplicates(max_distance=args.max_distance, min_cosine=args.min_cosine, progress=bars.update)
    finally:
        bars.close()

    def rows(g):
        return [{"path": m.photo.path, "id": int(m.photo.id), "keep": m.keep, "differences": m.differences,
                 "likeness": m.likeness, "width": m.photo.width, "height": m.photo.height, "bytes": m.photo.size}
                for m in g.members]

    sure = [g for g in found if g.sure]
    maybe = [g for g in found if not g.sure]
    out = {"groups": [rows(g) for g in sure], "maybe": [rows(g) for g in maybe], "keep_rule": DuplicateGroup.KEEP_RULE}
    if not args.json:
        if not found:
            print("No near-duplicates found.")
        for title, groups in (("group", sure), ("maybe", maybe)):
            for i, g in enumerate(groups, 1):
                note = "" if g.sure else ": alike, but perhaps not the same photo; nothing is marked to delete"
                print(f"{title} {i} ({len(g.members)} photos{note})")
                for m in g.members:
                    what = "keep" if m.keep and g.sure else ", ".join(m.differences) or "keep"
                    print(f"    {m.photo.path}  [{what}]")
        if sure:
            print(DuplicateGroup.KEEP_RULE)
    return out


def _cmd_status(lib, args, bars) -> dict:
    st = lib.status()
    out = asdict(st)
    if not args.json:
        print(f"library   {st.home}")
        print(f"folders   {', '.join(st.folders) or '(none yet: simili index FOLDER)'}")
        print(f"photos    {st.indexed} indexed, {st.failed} failed, {st.pending} pending")
        model = st.model
        print(f"model     {f'{model.kind} {model.bits}-bit (#{model.id}, {model.created})' if model else 'none'}")
        print(f"runtime   {st.provider}")
        print(f"training  {'available' if st.training_available else 'unavailable'}: {st.training_reason}")
    out["health"] = _health(lib.health(), args)
    if not args.json:
        for f in st.failures:
            print(f"  ! {f.path}: {f.message}")
    return out


def _health(problems: list[str], args) -> dict:
    if not args.json:
        print(f"health    {'ok' if not problems else problems[0]}")
        for line in problems[1:]:
            print(f"          {line}")
    return {"ok": not problems, "problems": problems}


def _cmd_repair(lib, args, bars) -> dict:
    done = _drive(lib.repair(), bars)
    repaired = ([args.salvaged] if args.salvaged else []) + done.repaired
    out = {"repaired": repaired, "report": asdict(done.report) if done.report else None}
    if not args.json:
        for line in repaired or ["nothing was damaged"]:

            print(f"repair    {line}")
    out["health"] = _health(lib.health(), args)
    return out



class _JsonLines:
    """Progress as JSON lines on stdout, read by a parent process (engine.learn.train_in_subprocess)."""

    def update(self, p) -> None:
        sys.stdout.write(json.dumps({"progress": asdict(p)}) + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass


def _cmd_train(lib, args, bars) -> dict:
    if args.progress_jsonl:
        bars = _JsonLines()
        args.json = True
        # The app stops this child with SIGINT (engine.learn.train_in_subprocess). An app started as a shell's
        # background job passes SIGINT on ignored, and Python would then never raise KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    info = _drive(lib.train(bits=args.bits, device=args.device, seed=args.seed), bars)
    out = {"model": asdict(info), "active": info.active}
    if not args.json:
        print(describe_training(info))
    return out


def describe_training(info) -> str:
    """What training did for the user's search, in plain words (the label-free check of engine.train_check)."""
    gain = 100 * info.metrics.get("check_gain", 0.0)
    if info.active:
        told = f" (photos held out from learning were matched {gain:.1f} points better)" if "check_gain" in info.metrics \
            else ""
        return f"Learned from your photos: model #{info.id} is now used for search{told}."
    return (f"Learned from your photos, but the result did not find similar photos better than before "
            f"({gain:+.1f} points on photos held out from learning), so search keeps its current codes. "
            f"Model #{info.id} is kept; `simili models --activate {info.id}` uses it anyway.")


def _cmd_models(lib, args, bars) -> dict:
    if args.activate is not None:
        lib.activate_model(args.activate)
    models = lib.models()
    out = {"models": [asdict(m) for m in models]}
    if not args.json:
        for m in models:
            print(f"{'*' if m.active else ' '} #{m.id:<4d} {m.kind:12s} {m.bits:4d} bits  {m.created}")
    return out


def _cmd_folders(lib, args, bars) -> dict:
    removed = lib.remove_folder(args.remove) if args.remove else 0
    out = {"folders": lib.folders(), "removed_photos": removed}
    if not args.json:
        if args.remove:
            print(f"removed {args.remove} from the library ({removed} photos forgotten; no file was touched)")
        for f in out["folders"]:
            print(f)
    return out


_COMMANDS = {"index": _cmd_index, "similar": _cmd_similar, "dupes": _cmd_dupes, "status": _cmd_status,
             "repair": _cmd_repair, "train": _cmd_train, "models": _cmd_models, "folders": _cmd_folders}


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit 143)."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _run(args) -> tuple[int, Any]:
    """Run the command: (exit status, output); every failure becomes one line on stderr."""
    from engine.api import Library

    bars = _Bars(enabled=not (args.quiet or args.json) and sys.stderr.isatty() or (args.verbose and not args.json))
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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "similar" and sum(map(bool, (args.photo, args.image, args.text))) != 1:
        parser.error(_ONE_QUERY)
    if args.command == "similar" and args.text and args.max_distance is not None:
        parser.error("--max-distance applies to photo searches, not to --text")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
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



if __name__ == "__main__":
    sys.exit(main())
