"""One locator for the files shipped under the top-level ``resources/`` folder (models, class names, icons).

Search order:

1. ``$SIMILI_RESOURCES``, when set (tests, portable builds, a model folder kept elsewhere);
2. ``sys._MEIPASS/resources`` inside a PyInstaller bundle;
3. ``<checkout>/resources`` next to the ``engine`` package in a source checkout;
4. ``<prefix>/share/simili/resources`` for a wheel install (pyproject's data-files put models and icons there).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.errors import ModelMissing

__all__ = ["ENV_VAR", "BACKBONE_FILE", "resources_root", "resource_path", "backbone_model_path"]

ENV_VAR = "SIMILI_RESOURCES"
BACKBONE_FILE = "efficientnet_lite0.onnx"


def _candidates() -> list[Path]:
    roots = []
    env = os.environ.get(ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        roots.append(Path(meipass) / "resources")
    roots.append(Path(__file__).resolve().parents[1] / "resources")
    roots.append(Path(sys.prefix) / "share" / "simili" / "resources")
    return roots


def resources_root() -> Path:
    """The first existing resources folder in the search order.

    Raises:
        ModelMissing: no resources folder exists at all.
    """
    roots = _candidates()
    for root in roots:
        if root.is_dir():
            return root
    raise ModelMissing(
        "Simili's resources folder was not found (looked in: "
        + ", ".join(str(r) for r in roots)
        + f"). Reinstall Simili, or set {ENV_VAR} to the folder that holds models/."
    )


def resource_path(*parts: str) -> Path:
    """Path of an existing file under the resources folder, e.g. ``resource_path("models", "x.onnx")``.

    Args:
        parts: path components relative to ``resources/``.

    Returns:
        The absolute path of the file.

    Raises:
        ModelMissing: the file does not exist (the message names the full path searched).
    """
    if not parts:
        raise ValueError("resource_path() needs at least one path component")
    rel = Path(*parts)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"resource path must stay inside resources/: {rel}")
    root = resources_root()
    path = root / rel
    if not path.is_file():
        raise ModelMissing(
            f"Missing resource file {path}. The installation looks incomplete: reinstall Simili, "
            f"or set {ENV_VAR} to a folder that contains {rel.as_posix()}."
        )
    return path


def backbone_model_path() -> Path:
    """Path of the bundled EfficientNet-Lite0 ONNX model (``resources/models/efficientnet_lite0.onnx``)."""
    return resource_path("models", BACKBONE_FILE)
