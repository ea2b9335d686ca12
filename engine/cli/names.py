"""``name`` and ``names``: teach a word with photos, reject photos, rename, merge, remove, list and export."""

from __future__ import annotations

from engine.cli.searching import _results_json


def add_parsers(sub) -> None:
    """The two commands' arguments (``engine.cli.parser.build_parser``)."""
    import argparse

    s = sub.add_parser("name", help="teach a word with photos that show it (or --not photos that do not); with no"
                                    " photo, list the photos Simili proposes for it")
    s.add_argument("word", help='a word or a name, e.g. tomato, Max or "grandma\'s garden"')
    s.add_argument("photos", nargs="*", help="library photos that show it")
    s.add_argument("--not", dest="rejected", nargs="+", default=[], metavar="PHOTO", help="photos that do not show it")
    s.add_argument("--remove", action="store_true", help="forget the word (the photos stay)")
    s.add_argument("--rename", metavar="NEW", help="rename the word, or merge it into NEW when that name exists")
    s.add_argument("-k", type=int, default=10, help="how many proposals to list (default 10)")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    s = sub.add_parser("names", help="the words you taught, or --export them to a .csv or .json file")
    s.add_argument("--export", metavar="FILE", help="write every name's photos to FILE (.csv or .json)")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS)


def cmd_name(lib, args, bars) -> dict:
    if args.remove:
        removed = lib.remove_name(args.word)
        if not args.json:
            print(f"Forgot the name {args.word} ({removed} photos; the photos themselves are untouched).")
        return {"name": args.word, "removed": removed}
    if args.rename:
        now = lib.rename_name(args.word, args.rename)
        if not args.json:
            print(f"{args.word} is now {now}.")
        return {"name": now, "renamed_from": args.word}
    shown = lib.name_photos(args.word, args.photos, True) if args.photos else 0
    rejected = lib.name_photos(args.word, args.rejected, False) if args.rejected else 0
    proposals = lib.name_proposals(args.word, k=max(1, args.k))
    out = {"name": args.word, "named": shown, "rejected": rejected, "results": _results_json(proposals)}
    if not args.json:
        if shown or rejected:
            print(f"{args.word}: {shown} photos named, {rejected} rejected.")
        if proposals:
            print(f"Photos that may show {args.word}, best first (name them with `simili name {args.word} PHOTO`):")
            for n in proposals:
                print(f"{n.similarity:>9.0f}%  {n.photo.path}")
        else:
            print(f"No other photo seems to show {args.word}.")
    return out


def cmd_names(lib, args, bars) -> dict:
    if args.export:
        rows = lib.export_names(args.export)
        if not args.json:
            print(f"Wrote {rows} named photos to {args.export}.")
        return {"exported": rows, "file": args.export}
    names = lib.names()
    if not args.json:
        if not names:
            print("No names yet: teach one with `simili name WORD PHOTO...`.")
        for n in names:
            print(f"{n.name}  ({n.examples} photos" + (f", {n.rejections} rejected)" if n.rejections else ")"))
    return {"names": [{"name": n.name, "photos": n.examples, "rejected": n.rejections} for n in names]}
