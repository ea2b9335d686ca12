"""Measure an installed (or unpacked) Linux build: installer size, cold and warm start, index + query, self-test.

    python packaging/measure.py --deb dist/simili_0.1.0_amd64.deb [--appimage ...] [--installed /opt/simili]
                                [--build-seconds N] [--out bench/results/packaging-$(hostname).json]

Without --installed the .deb is unpacked into a temp dir and run from there (same files as an installed copy).
Cold start drops the page cache first when this process may (root, /proc/sys/vm/drop_caches writable); otherwise
the first run after unpacking is reported and marked as such. The GUI start is timed from process start to exit
after the first usable window (``--quit-after-ready``), on an Xvfb started beforehand when installed, else offscreen.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _mb(n: int) -> float:
    return round(n / 1e6, 1)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _timed(cmd: list[str], env: dict, timeout: float = 600) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return elapsed, out


def _starts(exe: Path, args: list[str], env: dict, runs: int, cold: bool) -> dict:
    cmd = [str(exe), *args]
    dropped = _drop_caches() if cold else False
    first, _ = _timed(cmd, env)
    warm = [_timed(cmd, env)[0] for _ in range(runs)]
    return {"first_s": round(first, 3), "first_is_cold": dropped, "warm_median_s": round(statistics.median(warm), 3),
            "warm_runs": runs}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--deb", type=Path, required=True)
    p.add_argument("--appimage", type=Path)
    p.add_argument("--squashfs", type=Path, help="mksquashfs image of the AppDir: the AppImage size less ~1 MB runtime")
    p.add_argument("--installed", type=Path, help="an installed /opt/simili to measure instead of unpacking")
    p.add_argument("--build-seconds", type=float, help="wall time of build-linux.sh, to record")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / f"packaging-{socket.gethostname()}.json")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="simili-measure-"))
    if args.installed:
        app = args.installed
    else:
        subprocess.run(["dpkg-deb", "-x", str(args.deb), str(tmp / "root")], check=True)
        app = tmp / "root" / "opt" / "simili"
    exe = app / "simili"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp / "home"), "LANG": "C.UTF-8", "SIMILI_ADDONS": str(tmp / "none")}
    # One X server for all GUI runs, so its own start-up is not counted.
    xvfb = subprocess.Popen(["Xvfb", ":87", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if shutil.which("Xvfb") else None
    time.sleep(1.0)
    gui_env = dict(env, QT_QPA_PLATFORM="xcb", DISPLAY=":87") if xvfb else dict(env, QT_QPA_PLATFORM="offscreen")

    result: dict = {
        "host": socket.gethostname(), "cpus": os.cpu_count(), "machine": platform.machine(),
        "system": platform.platform(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),  # shared machine: other jobs inflate the timings
        "tool": "PyInstaller onedir + dpkg-deb", "build_seconds": args.build_seconds,
        "sizes_mb": {
            "deb": _mb(args.deb.stat().st_size),
            "deb_compression": _deb_compression(args.deb),
            "installed": _mb(_du(app)),
            "torch_in_bundle": (app / "_internal" / "torch").exists(),
        },
    }
    if args.appimage and args.appimage.exists():
        result["sizes_mb"]["appimage"] = _mb(args.appimage.stat().st_size)
    if args.squashfs and args.squashfs.exists():
        result["sizes_mb"]["appimage_squashfs_estimate"] = _mb(args.squashfs.stat().st_size)

    # Start-up: the CLI launcher alone, then the desktop app to its first usable window (empty library).
    result["cli_version_start"] = _starts(exe, ["--version"], env, args.runs, cold=True)
    try:
        result["gui_start_to_ready"] = _starts(exe, ["--home", str(tmp / "empty"), "--quit-after-ready"], gui_env,
                                               args.runs, cold=True)
    finally:
        if xvfb:
            xvfb.terminate()
    result["gui_start_to_ready"]["platform"] = gui_env["QT_QPA_PLATFORM"] + (" (Xvfb)" if xvfb else "")

    # The installed app indexes the bundled demo folder and answers a query.
    demo = app / "_internal" / "resources" / "demo" / "images"
    lib = tmp / "lib"
    seconds, out = _timed([str(exe), "--home", str(lib), "--json", "index", str(demo)], env)
    indexed = json.loads(out.stdout)["indexed"]
    query = sorted((demo / "shoes").glob("*.jpg"))[0]
    q_seconds, out = _timed([str(exe), "--home", str(lib), "--json", "similar", str(query), "-k", "5"], env)
    hits = json.loads(out.stdout)["results"]
    result["index_demo"] = {"photos": indexed, "seconds": round(seconds, 2),
                            "photos_per_s": round(indexed / seconds, 1)}
    result["similar_query"] = {"process_seconds": round(q_seconds, 3), "results": len(hits),
                               "same_class_in_top5": sum("/shoes/" in h["path"] for h in hits)}
    seconds, out = _timed([str(exe), "--self-test", "--json"], env)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    result["self_test"] = {"ok": report["ok"], "seconds": round(seconds, 2), "provider": report["engine"]["provider"],
                           "versions": report["versions"]}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _deb_compression(deb: Path) -> str:
    """The data member's compression, read from the ar archive's member names."""
    with deb.open("rb") as f:
        f.seek(8)  # "!<arch>\n"
        while header := f.read(60):
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            if name.startswith("data.tar"):
                return {"data.tar.xz": "xz", "data.tar.zst": "zstd", "data.tar.gz": "gzip"}.get(name, "none")
            f.seek(size + size % 2, 1)
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
