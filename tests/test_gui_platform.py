"""Linux: the app names the packages Qt's X11 plugin lacks (instead of Qt's abort), and its self-test checks the
platform plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gui import platform_check as pc
from tests.conftest import REPO

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
UBUNTU = 'ID=ubuntu\nID_LIKE=debian\n'
FEDORA = 'ID=fedora\nVERSION_ID=40\n'


def test_missing_libraries_map_to_the_distribution_packages():
    gone = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    missing = pc.missing_libraries(lambda soname: soname not in gone)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert pc.distro_family(DEBIAN) == pc.distro_family(UBUNTU) == "debian"
    assert pc.distro_family(FEDORA) == "fedora" and pc.distro_family("ID=arch\n") == "other"
    advice = pc.install_advice(missing, "debian")
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in advice
    assert "dnf" not in advice and "Reinstalling" not in advice
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in pc.install_advice(missing, "fedora")
    both = pc.install_advice(missing, "other")
    assert "apt install" in both and "dnf install" in both


def test_which_platform_qt_will_use(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert pc.uses_x11({"DISPLAY": ":0"})
    assert pc.uses_x11({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"})
    assert not pc.uses_x11({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"})
    assert not pc.uses_x11({"QT_QPA_PLATFORM": "offscreen"})
    assert pc.display_problem(":987") is not None  # nothing listens there
    assert pc.display_problem("remote.example:0") is None  # not ours to judge
    assert pc.display_problem("") is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11 plugin is Linux's")
def test_starting_without_x11_libraries_or_display_says_what_to_do_instead_of_aborting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":987", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "gui", "--home", str(tmp_path / "lib")], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])  # Qt's abort is 134
    assert proc.stderr.startswith("Simili cannot open its window")
    assert "Traceback" not in proc.stderr and "qt.qpa" not in proc.stderr
    if pc.missing_libraries():  # this machine lacks some: the packages are named for its distribution
        family = pc.distro_family()
        for pkg in pc.packages_for(pc.missing_libraries(), family):
            assert pkg in proc.stderr
    else:
        assert "does not answer" in proc.stderr


def test_self_test_checks_the_platform_plugin(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "gui", "--home", str(tmp_path / "lib"), "--self-test"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert {"platform": "offscreen"} in lines
    if sys.platform.startswith("linux") and pc.missing_libraries():
        assert "apt install" in proc.stderr or "dnf install" in proc.stderr  # said even when headless
