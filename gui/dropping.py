"""Drag-and-drop and paste: what a mime payload means (folders to add, an image to search by)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from engine.api import IMAGE_EXTENSIONS

__all__ = ["classify", "hint", "save_pasted_image"]


def classify(mime: QMimeData) -> tuple[list[str], list[str]]:
    """(folders, image files) named by a drop or paste; anything else is ignored."""
    folders, images = [], []
    if mime.hasUrls():
        for url in mime.urls():
            if not url.isLocalFile():
                continue
            path = url.toLocalFile()
            if os.path.isdir(path):
                folders.append(path)
            elif Path(path).suffix.lower() in IMAGE_EXTENSIONS and os.path.isfile(path):
                images.append(path)
    elif mime.hasText():
        for line in mime.text().splitlines():
            path = line.strip().removeprefix("file://")
            if path and Path(path).suffix.lower() in IMAGE_EXTENSIONS and os.path.isfile(path):
                images.append(path)
    return folders, images


def hint(mime: QMimeData) -> str:
    """What dropping ``mime`` would do, for the drop hint ("" when it would do nothing)."""
    folders, images = classify(mime)
    if folders:
        return "Drop to add " + ("these folders" if len(folders) > 1 else "this folder")
    return "Drop to find photos like this one" if images else ""


def save_pasted_image(image: QImage, folder: Path) -> str:
    """Write a pasted bitmap (e.g. a screenshot) to a PNG in ``folder`` so it can be searched by."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".png", dir=folder)
    os.close(fd)
    if not image.save(path, "PNG"):
        raise OSError(f"could not save the pasted image to {path}")
    return path
