"""Simili's headless engine: catalog, decoding, ONNX encoding, binary codes and Hamming search.

Importing this package is cheap: it loads neither Qt nor torch, and heavy modules (onnxruntime, faiss)
are imported by the modules that use them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from engine.errors import *  # noqa: F401,F403
from engine.types import *  # noqa: F401,F403


def __getattr__(name: str):
    if name == "Library":
        from engine.api import Library

        return Library
    raise AttributeError(name)
