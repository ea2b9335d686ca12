"""The optional training add-on of the installed app: PyTorch + onnx in a per-user folder, installed on request.

The installers ship search only (ONNX Runtime + faiss, ~100 MB compressed). Training DistillHash needs PyTorch,
which is 0.2 GB (CPU) to 3 GB (CUDA) to download and differs per machine, so the installed app installs the right
wheel itself, after the user confirms, with the pip bundled in the app:

    simili install-training [--variant auto|cpu|cuda] [--yes] [--json]    # the GUI runs this in a child process
    simili install-training --status | --remove

Where: ``<per-user data dir>/addons/training-py311-<platform>/`` (``SIMILI_ADDONS`` overrides it), a plain
``pip install --target`` folder that the runtime hook appends to ``sys.path`` at start-up (after the bundle, so the
bundled numpy, Pillow... always win). Installation goes to a staging folder, is checked in a fresh process
(``import torch``, a matmul, ``import onnx``), and only then replaces the previous add-on.

Variant: ``cuda`` where an NVIDIA driver is present on Linux x86_64 or Windows x64, ``cpu`` elsewhere; macOS wheels
include MPS. Index: ``SIMILI_TORCH_INDEX_URL`` overrides the PyTorch index (``pypi`` = PyPI); any ``PIP_*``
variable or pip config file applies as usual, and ``SIMILI_PIP_ARGS`` appends raw pip arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

__all__ = ["addon_dir", "activate", "installed", "choose_variant", "pip_args", "main"]

ENV_DIR = "SIMILI_ADDONS"
ENV_INDEX = "SIMILI_TORCH_INDEX_URL"
ENV_PIP_ARGS = "SIMILI_PIP_ARGS"
PYPI = "https://pypi.org/simple"
TORCH_INDEX = {
    # PyPI's Linux x86_64 torch is the CUDA build and its Windows torch is the CPU build.
    ("linux", "cpu"): "https://download.pytorch.org/whl/cpu",
    ("linux", "cuda"): None,
    ("win32", "cpu"): None,
    ("win32", "cuda"): "https://download.pytorch.org/whl/cu130",
    ("darwin", "cpu"): None,
}
# Rough sizes shown before the user confirms (download, on disk), from torch 2.13/2.14 wheels.
SIZES = {"cpu": ("about 200 MB", "about 0.9 GB"), "cuda": ("about 3 GB", "about 6 GB")}


def addon_dir() -> Path:
    """The add-on folder for this app's Python and platform (it only ever holds matching wheels)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser().absolute()
    from platformdirs import user_data_dir

    tag = f"training-py{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform().replace('.', '_')}"
    return Path(user_data_dir("Simili", appauthor=False)) / "addons" / tag


def activate() -> bool:
    """Append the add-on folder to ``sys.path`` (processing its .pth files) if it exists. Idempotent."""
    path = addon_dir()
    if not path.is_dir():
        return False
    if str(path) not in sys.path:
        site.addsitedir(str(path))
        import importlib

        importlib.invalidate_caches()
    return True


def installed() -> dict:
    """What is installed in the add-on folder: {"path", "torch", "onnx"} versions (None when missing)."""
    path = addon_dir()
    out = {"path": str(path), "torch": None, "onnx": None}
    for name in ("torch", "onnx"):
        for info in path.glob(f"{name}-*.dist-info"):
            out[name] = info.name[len(name) + 1:-len(".dist-info")]
    return out


def nvidia_driver_present() -> bool:
    if sys.platform.startswith("linux") and Path("/proc/driver/nvidia/version").exists():
        return True
    if shutil.which("nvidia-smi"):
        return True
    return sys.platform == "win32" and Path(os.environ.get("SystemRoot", r"C:\Windows"), "System32",
                                            "nvidia-smi.exe").exists()


def _os() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def choose_variant(requested: str = "auto") -> str:
    """``cpu`` or ``cuda``: CUDA wheels exist for Linux x86_64 and Windows x64 only."""
    cuda_ok = (_os(), platform.machine().lower()) in (("linux", "x86_64"), ("win32", "amd64"))
    if requested == "cuda":
        if not cuda_ok:
            raise SystemExit(f"simili: PyTorch has no CUDA build for {_os()} {platform.machine()}")
        return "cuda"
    if requested == "cpu":
        return "cpu"
    return "cuda" if cuda_ok and nvidia_driver_present() else "cpu"


def requirements() -> list[str]:
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent))
    text = (base / "training-requirements.txt").read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def pip_args(variant: str, target: Path) -> list[str]:
    """The ``pip install`` command line (without the leading ``pip``)."""
    index = os.environ.get(ENV_INDEX) or TORCH_INDEX.get((_os(), variant))
    args = ["install", "--target", str(target), "--only-binary=:all:", "--upgrade", "--no-warn-script-location",
            "--disable-pip-version-check", "--no-input"]
    if index and index != "pypi":
        args += ["--index-url", index, "--extra-index-url", PYPI]
    args += shlex.split(os.environ.get(ENV_PIP_ARGS, ""))
    return args + requirements()


def _self_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, str(Path(__file__).resolve().with_name("launch.py"))]


def _run_pip(args: list[str]) -> int:
    if getattr(sys, "frozen", False):
        # The frozen app has no separate python: run the bundled pip in a child of this same executable.
        return subprocess.call(_self_command() + ["install-training", "--run-pip", "--", *args])
    return subprocess.call([sys.executable, "-m", "pip", *args])


def _prune(target: Path) -> None:
    """Drop what the bundle already has and always loads first (numpy is pulled in by onnx)."""
    if not getattr(sys, "frozen", False):
        return
    for pattern in ("numpy", "numpy.libs", "numpy-*.dist-info", "bin"):
        for p in target.glob(pattern):
            shutil.rmtree(p, ignore_errors=True)


def check(path: Path | None = None) -> dict:
    """Import the add-on in a fresh process and run a tiny training step; returns what it reported."""
    env = dict(os.environ)
    if path is not None:
        env[ENV_DIR] = str(path)
    out = subprocess.run(_self_command() + ["install-training", "--check"], env=env, capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"the installed PyTorch does not work here:\n{out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check_here() -> dict:
    if not activate():
        raise SystemExit(f"simili: no training add-on at {addon_dir()}")
    import onnx
    import torch

    x = torch.randn(64, 32, requires_grad=True)
    loss = (torch.nn.Linear(32, 16)(x).tanh() ** 2).mean()
    loss.backward()
    return {"torch": torch.__version__, "onnx": onnx.__version__, "torch_path": os.path.dirname(torch.__file__),
            "cuda": bool(torch.cuda.is_available()), "cuda_built": bool(torch.backends.cuda.is_built())}


def install(variant: str, assume_yes: bool, as_json: bool) -> int:
    final = addon_dir()
    staging = final.with_name(final.name + ".new")
    download, disk = SIZES[variant]
    say = (lambda *a: print(*a, file=sys.stderr)) if as_json else print
    say(f"Simili will download PyTorch ({variant.upper()} build, {download}; {disk} on disk) into {final}.")
    if not assume_yes:
        if not sys.stdin or not sys.stdin.isatty():
            say("simili: pass --yes to confirm (nothing was installed)")
            return 2
        if input("Continue? [y/N] ").strip().lower() not in ("y", "yes"):
            say("Nothing was installed.")
            return 1
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rc = _run_pip(pip_args(variant, staging))
    if rc != 0:
        shutil.rmtree(staging, ignore_errors=True)
        say(f"simili: pip failed (exit {rc}); nothing was changed")
        return 1
    _prune(staging)
    try:
        report = check(staging)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        say(f"simili: {exc}")
        return 1
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    report.update(variant=variant, path=str(final), seconds=round(time.perf_counter() - started, 1))
    report["torch_path"] = report["torch_path"].replace(str(staging), str(final))
    if as_json:
        print(json.dumps(report))
    else:
        say(f"PyTorch {report['torch']} installed ({'CUDA available' if report['cuda'] else 'CPU'}); "
            "training is available after Simili restarts.")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--run-pip"]:
        args = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        from pip._internal.cli.main import main as pip_main

        return int(pip_main(args) or 0)
    p = argparse.ArgumentParser(prog="simili install-training",
                                description="Install PyTorch for training into Simili's per-user add-on folder.")
    p.add_argument("--variant", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print one JSON object on success")
    p.add_argument("--dry-run", action="store_true", help="print the pip command and stop")
    p.add_argument("--status", action="store_true", help="what is installed, and where")
    p.add_argument("--remove", action="store_true", help="delete the add-on folder")
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.check:
        print(json.dumps(_check_here()))
        return 0
    if args.status:
        info = installed()
        print(json.dumps(info) if args.json else
              f"{info['path']}: torch {info['torch'] or 'not installed'}, onnx {info['onnx'] or 'not installed'}")
        return 0
    if args.remove:
        shutil.rmtree(addon_dir(), ignore_errors=True)
        print(f"removed {addon_dir()}")
        return 0
    variant = choose_variant(args.variant)
    if args.dry_run:
        print(shlex.join(["pip", *pip_args(variant, addon_dir())]))
        return 0
    return install(variant, args.yes, args.json)
