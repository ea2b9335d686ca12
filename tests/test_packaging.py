"""Packaging: the launcher's dispatch, the training add-on's pip command, the Linux desktop files, and (slow) a real
PyInstaller build of the Linux bundle and .deb that must pass ``simili --self-test`` and load PyTorch from an add-on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
LINUX = sys.platform.startswith("linux")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_simili_packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, engine", [
    (["index", "DIR"], True), (["--home", "H", "similar", "x.jpg"], True), (["--version"], True),
    (["-h"], True), ([], False), (["--home", "status"], False), (["--folder", "DIR", "--query", "Q"], False),
])
def test_launcher_sends_engine_commands_to_the_cli_and_the_rest_to_the_gui(argv, engine):
    assert _load("launch")._is_engine_command(argv) is engine


def test_training_addon_installs_into_its_own_folder_with_the_bundled_requirements(tmp_path, monkeypatch):
    addon = _load("training_addon")
    monkeypatch.setenv(addon.ENV_DIR, str(tmp_path / "addon"))
    monkeypatch.delenv(addon.ENV_INDEX, raising=False)
    monkeypatch.setenv(addon.ENV_PIP_ARGS, "--constraint c.txt")
    assert addon.addon_dir() == tmp_path / "addon"
    assert not addon.activate()  # no folder yet: nothing added to sys.path
    args = addon.pip_args("cpu", tmp_path / "stage")
    assert args[:3] == ["install", "--target", str(tmp_path / "stage")]
    assert "--only-binary=:all:" in args and args[-2:] == ["torch>=2.2,<3", "onnx>=1.15"]
    assert args[args.index("--constraint") + 1] == "c.txt"
    if LINUX:  # PyPI's Linux torch is the CUDA build: the CPU variant must come from PyTorch's CPU index
        assert args[args.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
        assert "--index-url" not in addon.pip_args("cuda", tmp_path)
    monkeypatch.setenv(addon.ENV_INDEX, "pypi")
    assert "--index-url" not in addon.pip_args("cpu", tmp_path)


def test_desktop_entry_is_valid():
    """desktop-file-validate where it is installed; else the rules it checks that matter here (Desktop Entry spec
    1.0: one group, the required keys, booleans, ';'-terminated lists, a registered main category)."""
    path = PACKAGING / "linux" / "org.simili.Simili.desktop"
    if shutil.which("desktop-file-validate"):
        out = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert out.returncode == 0 and not out.stdout.strip(), out.stdout
        return
    import configparser

    entry = configparser.ConfigParser(interpolation=None, strict=True)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(path, encoding="utf-8")
    assert entry.sections() == ["Desktop Entry"]
    e = entry["Desktop Entry"]
    assert e["Type"] == "Application" and e["Version"] == "1.0" and e["Name"] and e["Exec"].split()[0] == "simili"
    assert e["Terminal"] in ("true", "false") and "/" not in e["Icon"]
    for key in ("Categories", "Keywords", "MimeType"):
        assert e[key].endswith(";") and ";;" not in e[key], key
    main = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network", "Office",
            "Science", "Settings", "System", "Utility"}
    assert main & set(e["Categories"].split(";"))
    assert all("/" in m for m in e["MimeType"].split(";") if m)


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream is not installed")
def test_appstream_metadata_is_valid():
    out = subprocess.run(["appstreamcli", "validate", "--no-net",
                          str(PACKAGING / "linux" / "org.simili.Simili.metainfo.xml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# -- the real build (slow) ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def linux_build(tmp_path_factory) -> Path:
    """Run packaging/build-linux.sh with this interpreter's environment: onedir bundle, self-test, uncompressed .deb."""
    if not LINUX:
        pytest.skip("the Linux bundle is built on Linux; release.yml builds Windows and macOS")
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("PyInstaller is not installed: it belongs to the `test` extra (pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("pkg")
    env = dict(os.environ, PYTHON=sys.executable, BUILD_DIR=str(root / "build"), DIST_DIR=str(root / "dist"),
               DEB_COMPRESSION="none", FORMATS="deb" if shutil.which("dpkg-deb") else "")
    env.pop("SIMILI_HOME", None)
    out = subprocess.run(["bash", str(PACKAGING / "build-linux.sh")], env=env, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return root


@pytest.mark.slow
def test_linux_bundle_passes_its_self_test_without_torch(linux_build, tmp_path):
    bundle = linux_build / "build" / "bundle" / "simili"
    env = dict(os.environ, HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen", SIMILI_ADDONS=str(tmp_path / "none"))
    env.pop("SIMILI_HOME", None)
    out = subprocess.run([str(bundle / "simili"), "--self-test", "--json"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["versions"]["frozen"]
    assert report["engine"]["photos"] >= 20 and report["engine"]["provider"].endswith("ExecutionProvider")
    assert not (bundle / "_internal" / "torch").exists(), "torch must not be frozen into the search-only bundle"
    status = subprocess.run([str(bundle / "simili"), "--home", str(tmp_path / "lib"), "--json", "status"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["training_available"] is False


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb is not installed")
def test_deb_installs_the_app_menu_entry_and_command(linux_build):
    deb = next((linux_build / "dist").glob("simili*_amd64.deb"))  # simili-gpu_… when onnxruntime-gpu is in the venv
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/simili -> /opt/simili/simili", "./opt/simili/simili-cli",
                 "./usr/share/applications/org.simili.Simili.desktop", "./usr/share/metainfo/org.simili.Simili.metainfo.xml",
                 "./usr/share/doc/simili/copyright", "./opt/simili/_internal/resources/models/efficientnet_lite0.onnx"):
        assert path in listing, path
    control = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True).stdout
    assert "libxcb-cursor0" in control and "libxkbcommon-x11-0" in control


@pytest.mark.slow
@pytest.mark.train
def test_frozen_app_loads_torch_from_the_training_addon_folder(linux_build, tmp_path):
    """The add-on path without the download: point an add-on folder at this environment's torch and onnx."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("onnx") is None:
        pytest.skip("torch and onnx are not installed here")
    addon = tmp_path / "addon"
    addon.mkdir()
    (addon / "site.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = dict(os.environ, HOME=str(tmp_path), SIMILI_ADDONS=str(addon))
    out = subprocess.run([str(linux_build / "build" / "bundle" / "simili" / "simili"), "install-training", "--check"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["torch_path"].startswith(sysconfig.get_paths()["purelib"])
