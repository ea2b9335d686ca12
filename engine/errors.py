"""Typed errors of the Simili engine, each with a message a person can act on."""

from __future__ import annotations

__all__ = [
    "SimiliError",
    "CatalogError",
    "LibraryBusy",
    "DecodeError",
    "ModelMissing",
    "ModelCorrupt",
    "TrainingUnavailable",
    "NotIndexed",
    "Cancelled",
    "UnknownWords",
]


class SimiliError(Exception):
    """Base class of every error the engine raises on purpose."""


class CatalogError(SimiliError):
    """The catalog database cannot be opened, read or written."""


class LibraryBusy(SimiliError):
    """Another process (the app or the CLI) is already changing this library."""


class DecodeError(SimiliError):
    """One file could not be read as an image.

    Attributes:
        code: short machine-readable reason (``empty``, ``truncated``, ``not_image``, ``too_large``,
            ``permission``, ``broken_link``, ``unsupported``, ``io``, ``timeout``, ``corrupt``).
        message: a sentence for the user, e.g. "file is empty (0 bytes)".
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class ModelMissing(SimiliError):
    """A model file the engine needs is not where it should be."""


class ModelCorrupt(SimiliError):
    """A model file exists but its checksum does not match the catalog (truncated or altered)."""


class TrainingUnavailable(SimiliError):
    """Training cannot run here; ``reason`` says why (e.g. PyTorch not installed)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotIndexed(SimiliError):
    """The photo asked about is not in the library (or has no code yet)."""


class Cancelled(SimiliError):
    """A long job stopped because the user asked it to. Not an error to show loudly."""


class UnknownWords(SimiliError):
    """A word search whose words Simili does not know (none of them names something it can see in photos).

    Attributes:
        words: the words not understood.
        suggestions: known words close to them in spelling or meaning, best first.
    """

    def __init__(self, words: list[str], suggestions: list[str]):
        self.words = list(words)
        self.suggestions = list(suggestions)
        quoted = ", ".join(f"'{w}'" for w in self.words)
        hint = f"; try {', '.join(repr(s) for s in self.suggestions)}" if self.suggestions else ""
        what = "that word" if len(self.words) == 1 else "those words"
        super().__init__(f"Simili does not know {quoted} (no photo search for {what} yet){hint}")
