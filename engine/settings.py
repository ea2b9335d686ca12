"""Library settings on disk: ``settings.json`` with a schema version, shared by every view of one library.

The :class:`~engine.types.Settings` dataclass itself is plain data (the GUI edits it); this module reads and writes it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from engine._atomic import atomic_write_bytes
from engine.types import Settings

__all__ = ["SettingsFile", "load_settings", "save_settings"]

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


def load_settings(path: Path) -> Settings:
    """Settings from ``path``; unknown keys are ignored and bad files fall back to defaults (logged)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", path, exc)
        return Settings()
    known = {f.name for f in dataclasses.fields(Settings)}
    settings = Settings(**{k: v for k, v in raw.get("settings", {}).items() if k in known})
    try:
        settings.validate()
    except ValueError as exc:
        log.warning("settings file %s invalid (%s); using defaults", path, exc)
        return Settings()
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
        self.current = load_settings(self.path)

    def save(self, settings: Settings | None = None) -> None:
        """Validate and write ``settings`` (the current ones, edited in place, by default)."""
        if settings is not None:
            settings.validate()
            self.current = settings
        save_settings(self.path, self.current)
