"""The notebook's small SQLite files (chats, notes): one way to open them, with their tables, and always close them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def transaction(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A connection to the SQLite file at `path`, its folder and `schema`'s tables made as needed (foreign keys on):
    committed when the block ends, rolled back when it raises, and closed either way (sqlite3's own `with` commits
    but leaves the connection, and its file handle, open)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        db.executescript(schema)
        with db:
            yield db
    finally:
        db.close()
