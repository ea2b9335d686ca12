"""Library settings on disk: ``settings.json`` with a schema version, shared by every view of one library.

The :class:`~engine.types.Settings` dataclass itself is plain data (the GUI edits it); this module reads and writes it.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import math
from pathlib import Path

from engine._atomic import atomic_write_bytes
from engine.errors import SimiliError
from engine.types import Settings

__all__ = ["SettingsFile", "load_settings", "save_settings"]

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


def _fits(value: object, default: object) -> bool:
    """Whether ``value`` read from JSON has the type (and a sane range) of the setting whose default is ``default``."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and -1.0 <= value <= 1.0
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False


def check_settings(path: Path) -> tuple[Settings, list[str]]:
    """Settings from ``path`` and what was wrong with the file (each wrong value falls back to its default)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings(), []
    except (OSError, ValueError) as exc:
        return Settings(), [f"settings.json cannot be read ({exc}); defaults are used"]
    except RecursionError:
        return Settings(), ["settings.json is nested too deep to be settings; defaults are used"]
    values = raw.get("settings") if isinstance(raw, dict) else None
    if not isinstance(values, dict):
        return Settings(), ["settings.json does not hold settings; defaults are used"]
    defaults = Settings()
    good, problems = {}, []
    for f in dataclasses.fields(Settings):
        if f.name not in values:
            continue
        if _fits(values[f.name], getattr(defaults, f.name)):
            good[f.name] = values[f.name]
        else:
            problems.append(f"settings.json has a wrong value for {f.name} ({values[f.name]!r}); the default is used")
    settings = Settings(**good)
    try:
        settings.validate()
    except ValueError as exc:
        return Settings(), [f"settings.json is invalid ({exc}); defaults are used"]
    return settings, problems


def load_settings(path: Path) -> Settings:
    """Settings from ``path``; unknown keys are ignored, wrong values and bad files fall back to defaults (logged)."""
    settings, problems = check_settings(path)
    for line in problems:
        log.warning("%s: %s", path, line)
    return settings


def save_settings(path: Path, settings: Settings) -> None:
    settings.validate()
    payload = {"schema_version": SCHEMA_VERSION, "settings": dataclasses.asdict(settings)}
    atomic_write_bytes(Path(path), json.dumps(payload, indent=2).encode("utf-8"))


class SettingsFile:
    """The settings of one library, read once and shared by the library and its read-only views.

    Every view holds the same object, so a change saved through one is what the others read next; no copying.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.current, self.problems = check_settings(self.path)
        for line in self.problems:
            log.warning("%s: %s", self.path, line)

    def save(self, settings: Settings | None = None) -> None:
        """Validate and write ``settings`` (the current ones, edited in place, by default)."""
        if settings is not None:
            settings.validate()
            self.current = settings
        try:
            save_settings(self.path, self.current)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise SimiliError(f"the settings cannot be saved: the library {self.path.parent} is read-only") \
                    from None
            raise SimiliError(f"the settings cannot be saved to {self.path}: {exc.strerror or exc}") from None
        self.problems = []
