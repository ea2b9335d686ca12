"""``similar`` and ``dupes``: results and groups in human words or JSON."""

from __future__ import annotations

import logging
import os

from engine.cli.text import shown

log = logging.getLogger("engine")


def _photo_json(photo) -> dict:
    return {"id": int(photo.id), "path": photo.path}


def cmd_similar(lib, args, bars) -> dict:
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
        print_similar(query, results, close)
    return out


def _results_json(results: list) -> list[dict]:
    return [{"path": n.photo.path, "distance": n.distance, "id": int(n.photo.id),
             "match": None if n.match is None else round(n.match, 4),
             "cosine": None if n.score is None else round(n.score, 4),
             "similarity": None if n.similarity is None else round(n.similarity, 1), "level": n.level,
             "close": n.close, "offline": n.offline} for n in results]


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
            print_similar(f"photos showing {found.understood}", found.results, found.close_match, what="text")
    return out


def print_similar(query: str, results: list, close: bool, what: str = "photo") -> None:
    """Results under a header, most similar first, with a line where close matches end."""
    from engine.types import CLOSE_MATCH

    if not results:
        print("No similar photos found.")
        return
    query = shown(query)
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
        away = "  (offline: its drive or share is not connected)" if getattr(n, "offline", False) else ""
        print(f"{pct:>10s}  {n.level or '':15s}  {shown(n.photo.path)}{away}")


def cmd_dupes(lib, args, bars) -> dict:
    from engine.types import DuplicateGroup

    if getattr(args, "not_copies", None):
        bars.close()
        paths = [os.path.abspath(p) for p in args.not_copies]
        pairs = lib.not_copies(paths)
        if not args.json:
            print(f"Remembered: these {len(paths)} photos are not copies; they will not be grouped again.")
        return {"not_copies": paths, "pairs": pairs}
    try:
        found = lib.duplicates(max_distance=args.max_distance, min_cosine=args.min_cosine, progress=bars.update)
    finally:
        bars.close()

    def rows(g):
        return [{"path": m.photo.path, "id": int(m.photo.id), "keep": m.keep, "differences": m.differences,
                 "likeness": m.likeness, "width": m.photo.width, "height": m.photo.height, "bytes": m.photo.size}
                for m in g.members]

    copies = [g for g in found if g.sure]
    shots = [g for g in found if not g.sure]
    similar = [{"suggestion": g.suggestion, "best": g.members[0].photo.path, "photos": rows(g)} for g in shots]
    out = {"groups": [rows(g) for g in copies], "similar_shots": similar, "maybe": [rows(g) for g in shots],
           "keep_rule": DuplicateGroup.KEEP_RULE}
    if not args.json:
        if not found:
            print("No copies and no similar shots found.")
        for i, g in enumerate(copies, 1):
            print(f"copies {i} ({len(g.members)} photos: the same picture, edited)")
            for m in g.members:
                what = "keep" if m.keep and not m.differences else ", ".join(m.differences) or "keep"
                mark = "" if m.keep else "  (proposed for the trash)"
                print(f"    {shown(m.photo.path)}  [{what}]{mark}")
        for i, g in enumerate(shots, 1):
            print(f"similar shots {i} ({len(g.members)} photos: other captures of one scene; nothing is marked to"
                  f" delete)")
            for k, m in enumerate(g.members):
                print(f"    {shown(m.photo.path)}" + (f"  [{g.suggestion}]" if k == 0 else ""))
        if copies:
            print(DuplicateGroup.KEEP_RULE)
        if found:
            print("Not copies? `simili dupes --not-copies PHOTO PHOTO` remembers it.")
    return out