"""SQLite errors as sentences a person can act on, and the catalog's write transactions."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from engine.errors import CatalogError

__all__ = ["catalog_error", "translated", "Transaction"]


def catalog_error(path: Path, exc: sqlite3.Error) -> CatalogError:
    """One sentence a person can act on for a database error."""
    text = str(exc)
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return CatalogError(f"the library {path.parent} is read-only: searching works, but changes cannot be saved")
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return CatalogError(f"the catalog {path} is damaged ({text}); run `simili repair`")
    if "locked" in low or "busy" in low:
        return CatalogError(f"the catalog {path} is locked by another program ({text}); try again")
    return CatalogError(f"the catalog {path} cannot be read or written ({text})")


def translated(method):
    """``method`` with every SQLite error raised as one ``catalog_error`` sentence."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise catalog_error(self.path, exc) from exc
    return wrapper


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error. Nested use joins the outer transaction."""

    def __init__(self, db: sqlite3.Connection, path: Path):
        self.db = db
        self.path = path
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if self.db.in_transaction:
            return self.db
        self.outer = True
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise catalog_error(self.path, exc) from exc
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        try:
            if exc_type is None:
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")
        except sqlite3.Error as err:
            if exc_type is None:
                raise catalog_error(self.path, err) from err
        if isinstance(exc, sqlite3.Error):
            raise catalog_error(self.path, exc) from exc
