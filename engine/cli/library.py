"""``index``, ``status``, ``repair``, ``train``, ``models`` and ``folders``: the library's commands."""

from __future__ import annotations

import logging
import signal
from dataclasses import asdict

from engine.cli.bars import JsonLines, drive
from engine.cli.text import shown

log = logging.getLogger("engine")


def cmd_index(lib, args, bars) -> dict:
    if args.bits and args.bits != lib.settings.bits:
        lib.settings.bits = args.bits
        lib.save_settings()
    report = drive(lib.index(args.folders), bars)
    out = asdict(report)
    out["failures"] = [asdict(f) for f in lib.failures()]
    if not args.json:
        print(f"{report.indexed} photos searchable: {report.added} new, {report.updated} changed, "
              f"{report.moved} moved, {report.removed} gone, {report.failed} could not be read.")
        if report.companions:
            print(f"  {report.companions} camera JPEGs are shown as one photo with the RAW file beside them")
        for folder in report.offline:
            print(f"  offline: {shown(folder)} (not connected, or empty where it had photos): its photos are kept"
                  " and nothing is read again when it is back")
        for f in report.unreadable_folders:
            print(f"  ! {shown(f.path)}: {f.message}")
        for f in out["failures"][:20]:
            print(f"  ! {shown(f['path'])}: {f['message']}")
        if report.failed > 20:
            print(f"  ... and {report.failed - 20} more (simili status lists them all)")
    return out


def cmd_status(lib, args, bars) -> dict:
    st = lib.status()
    out = asdict(st)
    if not args.json:
        print(f"library   {st.home}")
        names = [shown(f) + (" (offline)" if f in st.offline else "") for f in st.folders]
        print(f"folders   {', '.join(names) or '(none yet: simili index FOLDER)'}")
        print(f"photos    {st.indexed} indexed, {st.failed} failed, {st.pending} pending")
        model = st.model
        print(f"model     {f'{model.kind} {model.bits}-bit (#{model.id}, {model.created})' if model else 'none'}")
        print(f"runtime   {st.provider}")
        print(f"training  {'available' if st.training_available else 'unavailable'}: {st.training_reason}")
    out["health"] = _health(lib.health(), args)
    if not args.json:
        for f in st.failures:
            print(f"  ! {shown(f.path)}: {f.message}")
    return out


def _health(problems: list[str], args) -> dict:
    if not args.json:
        print(f"health    {'ok' if not problems else problems[0]}")
        for line in problems[1:]:
            print(f"          {line}")
    return {"ok": not problems, "problems": problems}


def cmd_repair(lib, args, bars) -> dict:
    done = drive(lib.repair(), bars)
    repaired = ([args.salvaged] if args.salvaged else []) + done.repaired
    out = {"repaired": repaired, "report": asdict(done.report) if done.report else None}
    if not args.json:
        for line in repaired or ["nothing was damaged"]:

            print(f"repair    {line}")
    out["health"] = _health(lib.health(), args)
    return out



def cmd_train(lib, args, bars) -> dict:
    if args.progress_jsonl:
        bars = JsonLines()
        args.json = True
        # The app stops this child with SIGINT (engine.jobs.learn.train_in_subprocess). An app started as a shell's
        # background job passes SIGINT on ignored, and Python would then never raise KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    info = drive(lib.train(bits=args.bits, device=args.device, seed=args.seed), bars)
    out = {"model": asdict(info), "active": info.active}
    if not args.json:
        print(describe_training(info))
    return out


def describe_training(info) -> str:
    """What training did for the user's search, in plain words (the label-free check of engine.learning.train_check)."""
    if info.active:
        return info.outcome()
    return f"{info.outcome()} The learned model #{info.id} is kept; `simili models --activate {info.id}` uses it anyway."


def cmd_models(lib, args, bars) -> dict:
    if args.activate is not None:
        lib.activate_model(args.activate)
    models = lib.models()
    out = {"models": [asdict(m) for m in models]}
    if not args.json:
        for m in models:
            print(f"{'*' if m.active else ' '} #{m.id:<4d} {m.kind:12s} {m.bits:4d} bits  {m.created}")
    return out


def cmd_folders(lib, args, bars) -> dict:
    removed = lib.remove_folder(args.remove) if args.remove is not None else 0
    if args.skip or args.unskip:
        names = [n for n in lib.settings.skipped_names if n not in args.unskip]
        lib.settings.skipped_names = names + [n for n in args.skip if n.strip() and n not in names]
        lib.save_settings()
    offline = lib.offline_folders()
    out = {"folders": lib.folders(), "offline": offline, "removed_photos": removed,
           "skipped_names": list(lib.settings.skipped_names)}
    if not args.json:
        if args.remove is not None:
            print(f"removed {shown(args.remove)} from the library ({removed} photos forgotten; no file was touched)")
        for f in out["folders"]:
            print(shown(f) + ("  (offline: not connected, or empty where it had photos; its photos are kept)"
                              if f in offline else ""))
        print(f"never scanned: {', '.join(out['skipped_names']) or '(nothing)'} (simili folders --skip/--unskip NAME)")
    return out
