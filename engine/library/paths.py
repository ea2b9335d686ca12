"""Where a library lives: the per-user data dir (platformdirs), overridden by --home or SIMILI_HOME.

platformdirs is the maintained drop-in successor of appdirs (same ``user_data_dir``/``user_cache_dir`` API).
Nothing is ever written next to the code or into a photo folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_NAME", "default_home", "resolve_home", "cache_dir", "log_dir", "canonical_folder", "canonical_file"]

APP_NAME = "Simili"
_ENV = "SIMILI_HOME"


def default_home() -> Path:
    """The per-user data dir, e.g. ``~/.local/share/Simili`` on Linux."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """``home`` if given, else ``$SIMILI_HOME``, else the per-user data dir; made absolute."""
    if home is None:
        home = os.environ.get(_ENV) or default_home()
    try:
        return Path(home).expanduser().absolute()
    except RuntimeError:  # ~name of a user this system does not know
        from engine.errors import SimiliError

        raise SimiliError(f"{os.fspath(home)} names the home folder of a user this system does not know;"
                          " give the library folder as a full path") from None


def canonical_folder(folder: str | os.PathLike[str]) -> Path:
    """The one spelling of a folder: absolute, ``~`` expanded, ``.``/``..`` and symbolic links resolved.

    The same folder given twice (relative, with ``..``, through a link) is then one library folder.
    """
    return Path(os.path.realpath(os.path.expanduser(os.fspath(folder))))


def canonical_file(path: str | os.PathLike[str]) -> Path:
    """A photo's path as the library stores it: its folder made canonical, the file name kept as it is (a photo
    that is itself a link is stored under its own name, as the scanner found it)."""
    path = os.path.expanduser(os.fspath(path))
    head, name = os.path.split(os.path.abspath(path))
    return canonical_folder(head) / name


def cache_dir(home: Path | None = None) -> Path:
    """Thumbnails and other throw-away data. A library with an explicit home keeps its cache inside it."""
    if home is not None and (os.environ.get(_ENV) or home != default_home()):
        return Path(home) / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))
