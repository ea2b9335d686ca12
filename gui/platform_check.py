"""Before Qt starts on Linux: are the system libraries of Qt's X11 (xcb) platform plugin there, and is there a display?

Without them Qt aborts (exit 134) with a message that names one library and suggests reinstalling. This module says
instead which packages to install, for the user's distribution, and the app exits with status 1. Nothing here
imports Qt; a check costs a few milliseconds (one ``dlopen`` per library).
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["XCB_LIBRARIES", "missing_libraries", "packages_for", "distro_family", "install_advice",
           "uses_x11", "display_problem", "check_before_qt"]

# soname -> (Debian/Ubuntu package, Fedora package): what PySide6's libqxcb.so and libQt6XcbQpa.so.6 link against
# beyond libxcb itself (`ldd` on both), i.e. what a minimal desktop install may lack.
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The sonames of ``XCB_LIBRARIES`` that cannot be loaded."""
    return [name for name in XCB_LIBRARIES if not loads(name)]


def distro_family(os_release: str | None = None) -> str:
    """``debian``, ``fedora`` or ``other``, from /etc/os-release (ID and ID_LIKE)."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            os_release = ""
    ids = set()
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids.update(value.strip().strip('"').lower().split())
    if ids & {"debian", "ubuntu", "linuxmint", "pop", "raspbian"}:
        return "debian"
    if ids & {"fedora", "rhel", "centos", "rocky", "almalinux"}:
        return "fedora"
    return "other"


def packages_for(missing: list[str], family: str) -> list[str]:
    """Package names that provide ``missing`` sonames (Debian names for ``debian``, Fedora names for ``fedora``)."""
    column = 1 if family == "fedora" else 0
    out: list[str] = []
    for name in missing:
        pkg = XCB_LIBRARIES[name][column]
        if pkg not in out:
            out.append(pkg)
    return out


def install_advice(missing: list[str], family: str) -> str:
    """What to tell the user: the missing libraries and the command that installs them."""
    lines = ["Simili cannot open its window: the system libraries Qt needs to draw on this desktop are missing "
             f"({', '.join(missing)}).", "Install them, then start Simili again:"]
    debian = "sudo apt install " + " ".join(packages_for(missing, "debian"))
    fedora = "sudo dnf install " + " ".join(packages_for(missing, "fedora"))
    if family == "debian":
        lines.append(f"  {debian}")
    elif family == "fedora":
        lines.append(f"  {fedora}")
    else:
        lines += [f"  Debian, Ubuntu:  {debian}", f"  Fedora:          {fedora}"]
    return "\n".join(lines)


def uses_x11(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Whether Qt will pick its X11 plugin: asked for, or Linux without Wayland and without another platform."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb" or platform.split(";")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def display_problem(display: str | None) -> str | None:
    """Why the X display cannot be reached (a local display whose socket does not answer), or None."""
    if not display:
        return "no display is set (DISPLAY is empty): start Simili from a desktop session"
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if host not in ("", "unix") or not number.isdigit():
        return None  # a remote or unusual display: let Qt try
    path = f"/tmp/.X11-unix/X{number}"
    for address in ("\0" + path, path):  # the abstract socket first, as Xlib does
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            try:
                s.connect(address)
                return None
            except OSError:
                continue
    return f"the display {display} does not answer: start Simili from a desktop session"


def check_before_qt(environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """The message to print (and exit with status 1) when Qt's X11 plugin would abort, else None."""
    if not uses_x11(environ):
        return None
    missing = missing_libraries()
    if missing:
        return install_advice(missing, distro_family())
    problem = display_problem(environ.get("DISPLAY"))
    return f"Simili cannot open its window: {problem}." if problem else None
