"""Library settings: declared once with type and default, saved as JSON with a schema version."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from engine._atomic import atomic_write_bytes

__all__ = ["Settings", "load_settings", "save_settings"]

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass
class Settings:
    """What a user can change. Thresholds are in bits of Hamming distance at the active code length.

    Attributes:
        bits: code length of new models (16, 32, 64 or 128).
        device: where training runs: ``auto`` (GPU when there is one), ``cuda`` or ``cpu``.
        similar_k: how many neighbours a "similar photos" query returns.
        similar_max_distance: loosest Hamming distance shown as similar, as a fraction of ``bits``.
        dupe_max_distance: Hamming radius for duplicate candidates, as a fraction of ``bits`` (stricter).
        dupe_min_cosine: backbone-feature cosine a candidate pair must reach to count as a duplicate.
        auto_train: train DistillHash by itself after indexing once the library is big enough.
        auto_train_min_photos: how many indexed photos "big enough" means.
        excluded: folders (absolute paths) never scanned.
    """

    bits: int = 64
    device: str = "auto"
    similar_k: int = 50
    similar_max_distance: float = 0.50
    dupe_max_distance: float = 0.16
    dupe_min_cosine: float = 0.85
    auto_train: bool = True
    auto_train_min_photos: int = 200
    excluded: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.bits not in (16, 32, 64, 128):
            raise ValueError(f"code length must be 16, 32, 64 or 128 bits, not {self.bits}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"device must be auto, cuda or cpu, not {self.device!r}")
        if not 0 <= self.dupe_max_distance <= self.similar_max_distance <= 1:
            raise ValueError("thresholds must satisfy 0 <= duplicate distance <= similar distance <= 1")


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
