"""Which chunks each file has committed, in SQLite beside Chroma: a file's chunks become visible together or not at all."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

FILE_NAME = "commits.sqlite3"


class Commits:
    """The committed chunk ids of every source of one collection, and a generation that every commit bumps.

    Chroma has no transaction across a file's batches, so the indexer writes a file's chunks first (invisible)
    and then commits their ids here in one SQLite transaction, which also replaces the ids of the file's previous
    version. Readers see only committed ids; the generation tells a reader in another process (the server while
    `rag index` runs) that the index changed since it last looked.
    """

    def __init__(self, folder: Path, collection: str):
        self.path = folder / FILE_NAME
        self.collection = collection
        self._lock = threading.Lock()  # one connection shared by the server's threads
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._cached: tuple[int, frozenset[str]] = (-1, frozenset())
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS chunks (collection TEXT, source TEXT, chunk_id TEXT,"
                " PRIMARY KEY (collection, chunk_id))"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS generations (collection TEXT PRIMARY KEY, generation INTEGER)")

    def started(self) -> bool:
        """Whether this collection has a commit record (an index written before commits existed has none)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM generations WHERE collection = ?", (self.collection,)).fetchone()
        return row is not None

    def generation(self) -> int:
        """Bumped by every commit: unchanged means nothing became visible or invisible since."""
        with self._lock:
            row = self._db.execute(
                "SELECT generation FROM generations WHERE collection = ?", (self.collection,)
            ).fetchone()
        return row[0] if row else 0

    def ids(self) -> frozenset[str]:
        """Every committed chunk id (read again only when the generation moved)."""
        with self._lock:
            cur = self._db.execute("SELECT generation FROM generations WHERE collection = ?", (self.collection,))
            row = cur.fetchone()
            generation = row[0] if row else 0
            if generation != self._cached[0]:
                got = self._db.execute("SELECT chunk_id FROM chunks WHERE collection = ?", (self.collection,))
                self._cached = (generation, frozenset(r[0] for r in got))
            return self._cached[1]

    def by_source(self) -> dict[str, set[str]]:
        """{source: its committed chunk ids}."""
        out: dict[str, set[str]] = {}
        with self._lock:
            got = self._db.execute("SELECT source, chunk_id FROM chunks WHERE collection = ?", (self.collection,))
            for source, chunk_id in got:
                out.setdefault(source, set()).add(chunk_id)
        return out

    def commit(self, source: str, ids: Iterable[str]) -> int:
        """Make `ids` the source's visible chunks, in place of whatever it had, in one transaction; the new generation."""
        return self._write([source], [(source, i) for i in ids])

    def start(self, committed: dict[str, Iterable[str]]) -> int:
        """Begin the record of a collection written before commits existed: what it holds counts as committed."""
        return self._write(list(committed), [(s, i) for s, ids in committed.items() for i in ids])

    def drop(self, sources: Iterable[str] = (), ids: Iterable[str] = ()) -> int:
        """Sources and single chunks that are no longer visible; the new generation."""
        return self._write(list(sources), [], dropped_ids=list(ids))

    def _write(self, sources: list[str], rows: list[tuple[str, str]], dropped_ids: list[str] = ()) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock now, so two writers never interleave
            try:
                self._db.executemany(
                    "DELETE FROM chunks WHERE collection = ? AND source = ?", [(self.collection, s) for s in sources]
                )
                self._db.executemany(
                    "DELETE FROM chunks WHERE collection = ? AND chunk_id = ?", [(self.collection, i) for i in dropped_ids]
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)", [(self.collection, s, i) for s, i in rows]
                )
                self._db.execute(
                    "INSERT INTO generations VALUES (?, 1) ON CONFLICT(collection)"
                    " DO UPDATE SET generation = generation + 1",
                    (self.collection,),
                )
                generation = self._db.execute(
                    "SELECT generation FROM generations WHERE collection = ?", (self.collection,)
                ).fetchone()[0]
                self._db.execute("COMMIT")
                return generation
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
