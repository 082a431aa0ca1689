"""Which chunks each file has committed, in SQLite beside Chroma: a file's chunks become visible together or not at all."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from rag.errors import notice

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
        self._cached: tuple[int, frozenset[str]] = (-1, frozenset())
        self._by_source: tuple[int, dict[str, frozenset[str]]] = (-1, {})
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as err:  # truncated or overwritten: rebuilt as a deleted one is (Index)
            if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
                raise
            damaged = self.path.with_name(f"{FILE_NAME}.damaged")
            os.replace(self.path, damaged)
            notice(
                f"{self.path}: damaged ({err}): moved to {damaged.name}; the commit record is rebuilt from the index"
            )
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """The connection, its tables made and read once (a damaged file fails here, not at the first search)."""
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS chunks (collection TEXT, source TEXT, chunk_id TEXT,"
                " PRIMARY KEY (collection, chunk_id))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS generations (collection TEXT PRIMARY KEY, generation INTEGER)")
            db.execute("SELECT count(*) FROM chunks").fetchone()
            db.execute("SELECT count(*) FROM generations").fetchone()
        except BaseException:
            db.close()
            raise
        return db

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

    def by_source(self) -> dict[str, frozenset[str]]:
        """{source: its committed chunk ids} (read again only when the generation moved)."""
        with self._lock:
            row = self._db.execute(
                "SELECT generation FROM generations WHERE collection = ?", (self.collection,)
            ).fetchone()
            generation = row[0] if row else 0
            if generation != self._by_source[0]:
                out: dict[str, set[str]] = {}
                got = self._db.execute("SELECT source, chunk_id FROM chunks WHERE collection = ?", (self.collection,))
                for source, chunk_id in got:
                    out.setdefault(source, set()).add(chunk_id)
                self._by_source = (generation, {s: frozenset(ids) for s, ids in out.items()})
            return dict(self._by_source[1])

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
                    "DELETE FROM chunks WHERE collection = ? AND chunk_id = ?",
                    [(self.collection, i) for i in dropped_ids],
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


class ServerCommits:
    """The commit record of a collection on a Chroma server, kept on that server beside it, so that every process
    sharing the collection sees the same committed chunks.

    A side collection `<collection>-commits` holds one record per source (its committed chunk ids as the document)
    and one `generation` record. Replacing a source's record is one upsert, so a file still becomes visible whole.
    Chroma has no counter to increment atomically, so the generation is a fresh random token per commit: readers
    only ask whether it moved. Writers on one machine take turns through Index.writing's lock; writers on several
    machines cannot duplicate chunks either (ids are derived from source and text, writes are upserts), and the
    last commit of a source wins.
    """

    GENERATION = "generation"
    # A search asks for the generation several times (refresh, BM25 sync, the visible ids); within this many
    # seconds the last answer stands, so a search makes one round trip for it, not five. Own commits are seen at once.
    FRESH_SECONDS = 0.25

    def __init__(self, client, collection: str):
        self.collection = collection
        # A 1-d placeholder vector per record: Chroma wants one, nothing ever queries it.
        self._records = client.get_or_create_collection(f"{collection}-commits", embedding_function=None)
        self._lock = threading.Lock()
        self._cached: tuple[str | None, dict[str, frozenset[str]], frozenset[str]] = (None, {}, frozenset())
        self._asked: tuple[str, float] = ("", float("-inf"))  # the last generation read and when

    def started(self) -> bool:
        return bool(self._records.get(ids=[self.GENERATION], include=[])["ids"])

    def generation(self) -> str:
        import time

        now = time.monotonic()
        if now - self._asked[1] > self.FRESH_SECONDS:
            got = self._records.get(ids=[self.GENERATION], include=["documents"])
            self._asked = (got["documents"][0] if got["ids"] else "", now)
        return self._asked[0]

    def _read(self) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
        """{source: ids} and all ids, read again only when the generation moved."""
        with self._lock:
            generation = self.generation()
            if generation != self._cached[0]:
                by_source: dict[str, frozenset[str]] = {}
                offset = 0
                while True:
                    got = self._records.get(
                        where={"kind": "source"}, include=["documents", "metadatas"], limit=2000, offset=offset
                    )
                    for doc, meta in zip(got["documents"], got["metadatas"]):
                        by_source[meta["source"]] = frozenset(doc.split())
                    if len(got["ids"]) < 2000:
                        break
                    offset += 2000
                everything = frozenset().union(*by_source.values()) if by_source else frozenset()
                self._cached = (generation, by_source, everything)
            return self._cached[1], self._cached[2]

    def ids(self) -> frozenset[str]:
        return self._read()[1]

    def by_source(self) -> dict[str, frozenset[str]]:
        return dict(self._read()[0])

    def commit(self, source: str, ids: Iterable[str]) -> str:
        return self._write({source: list(ids)})

    def start(self, committed: dict[str, Iterable[str]]) -> str:
        return self._write({source: list(ids) for source, ids in committed.items()})

    def drop(self, sources: Iterable[str] = (), ids: Iterable[str] = ()) -> str:
        dropped = set(ids)
        current = self._read()[0] if dropped else {}
        changed = {s: [i for i in held if i not in dropped] for s, held in current.items() if held & dropped}
        gone = [s for s in sources if s not in changed]
        if gone:
            self._records.delete(ids=[_record_id(s) for s in gone])
        return self._write(changed)

    def _write(self, sources: dict[str, list[str]]) -> str:
        import uuid

        empty = [s for s, ids in sources.items() if not ids]
        if empty:
            self._records.delete(ids=[_record_id(s) for s in empty])
        records = [(s, ids) for s, ids in sources.items() if ids]
        for start in range(0, len(records), 1000):
            part = records[start : start + 1000]
            self._records.upsert(
                ids=[_record_id(s) for s, _ in part],
                embeddings=[[1.0]] * len(part),
                documents=[" ".join(ids) for _, ids in part],
                metadatas=[{"kind": "source", "source": s, "chunks": len(ids)} for s, ids in part],
            )
        generation = uuid.uuid4().hex
        self._records.upsert(
            ids=[self.GENERATION], embeddings=[[1.0]], documents=[generation], metadatas=[{"kind": "generation"}]
        )
        self._asked = (generation, float("-inf"))  # read again next time: another writer may follow at once
        return generation


def _record_id(source: str) -> str:
    import hashlib

    return "source-" + hashlib.sha1(source.encode()).hexdigest()
