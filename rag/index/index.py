"""The notebook's index: Chroma (texts, embeddings, metadata) and BM25 (keyword terms), kept in step."""

from __future__ import annotations

import fcntl
import hashlib
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.commits import Commits, ServerCommits
from rag.index.extracted import ExtractedTexts, StoredText
from rag.index.keyword import KeywordIndex
from rag.index.store import ChunkStore, StoredChunk


def server_key(url: str, name: str) -> str:
    """A short name for one collection on one Chroma server (its local BM25 cache and writer lock)."""
    return hashlib.sha1(f"{url.rstrip('/')}|{name}".encode()).hexdigest()[:16]


class Index:
    """The only writer of Chroma and of the BM25 index beside it, and the one place that keeps them in step.

    Chroma is the record; BM25 is derived from the terms stored in each chunk's metadata. A file's chunks are
    written to Chroma in batches (so an interrupted run keeps its finished work) but seen by readers only once
    `commit(source, ids)` records them all (rag.index.commits): a file is visible whole or not at all. BM25 holds
    the committed chunks and follows on `sync()`, which every complete change and every search calls. `store`
    and `keywords` are there for readers (retrieval, answer scoring); nothing outside rag/index writes to them.

    With `url` (a Chroma server) the chunks and the commit record live on the server, shared by every process
    that opens the same collection there; the data folder keeps only this machine's BM25 copy, under a name
    derived from the server and the collection, brought in step from the server's committed ids and terms.
    """

    def __init__(self, folder: Path, name: str, url: str | None = None):
        self.folder = folder
        self.name = name
        self.url = url or None
        folder.mkdir(parents=True, exist_ok=True)
        if self.url:
            self.store = ChunkStore(folder, name, visible=lambda: self.commits.ids(), url=self.url)
            self.commits = ServerCommits(self.store.client, name)
            key = server_key(self.url, name)
            self.keywords = KeywordIndex(folder / "bm25" / f"server-{key}")
            # Processes on this machine sharing the server take turns writing, whatever their data folders.
            self._lock_path = Path(tempfile.gettempdir()) / f"rag-chroma-{key}.write.lock"
        else:
            self.commits = Commits(folder, name)
            self.store = ChunkStore(folder, name, visible=self.commits.ids)
            self.keywords = KeywordIndex(folder / "bm25" / name)
            self._lock_path = folder / "write.lock"
        self.extracted = ExtractedTexts(folder)  # each source's text as read: citations are shown from it
        if not self.commits.started():  # an index from before commits: what it holds was whole then
            everything = self.store.metadata_by_source(everything=True)
            self.commits.start({source: list(chunks) for source, chunks in everything.items()})
        self._terms_changed: set[str] = set()  # kept chunks whose terms were rewritten: BM25 re-reads them
        self._seen_generation = self.commits.generation()
        self._own_generations: set = set()  # commits this process made: its Chroma client already has them
        self._writer = threading.Lock()  # flock is per open file: this keeps the server's own threads in line too
        self._syncing = threading.RLock()  # BM25 swaps its arrays on sync: readers and the writer take turns

    # ---- reads ---------------------------------------------------------------------------------------------
    def count(self) -> int:
        """Chunks in the index."""
        return self.store.count()

    def is_empty(self) -> bool:
        return self.count() == 0

    def metadata_by_source(self, everything: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}} for every committed chunk (`everything`: uncommitted ones too)."""
        return self.store.metadata_by_source(everything)

    def sources_metadata(self, sources: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}} of the named sources only, uncommitted chunks too (re-indexing a few files
        of a large notebook reads only theirs)."""
        return self.store.sources_metadata(sources)

    def metadata_in_scope(
        self, sources: Iterable[str], in_scope: Callable[[str], bool]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}}, uncommitted chunks too, of `sources` and of every stored source for which
        `in_scope` is true: what an index run over some files and folders needs, read without the rest."""
        committed = self.commits.by_source()
        # Chunks of an interrupted run (stored, not committed): usually none, which the counts tell without listing.
        shown = self.commits.ids()
        hidden = [] if self.store.collection.count() == len(shown) else sorted(set(self.store.stored_ids()) - shown)
        names = set(sources) | {s for s in [*committed, *self.store.sources_of(hidden)] if in_scope(s)}
        return self.store.sources_metadata(sorted(names))

    def first_chunks(self) -> dict[str, dict[str, Any]]:
        """{source: metadata of its first committed chunk} for every committed source (its title, name and date)."""
        return self.store.first_chunks(self.commits.by_source())

    def committed(self) -> dict[str, frozenset[str]]:
        """{source: its committed chunk ids}."""
        return self.commits.by_source()

    def chunk_ids(self) -> list[str]:
        """Every chunk id, sorted."""
        return self.store.all_ids()

    def get(self, ids: list[str]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (missing ids are skipped)."""
        return self.store.get(ids)

    def texts(self, batch: int = 5000) -> Iterator[str]:
        """Every chunk's text in id order, read in batches (for benchmarks and evaluation)."""
        ids = self.chunk_ids()
        for start in range(0, len(ids), batch):
            yield from (c.text for c in self.store.get(ids[start : start + batch]))

    def in_step(self) -> bool:
        """Whether BM25 holds exactly the committed chunks (true after `sync()` unless another process wrote since)."""
        return self.keywords.ids == self.chunk_ids()

    # ---- writes --------------------------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time across processes (`rag index` in a shell, the server's uploads): an exclusive
        flock on write.lock in the data folder, waited for with a one-line notice; released even on a crash."""
        with self._writer, open(self._lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                where = f"{self.name} on {self.url}" if self.url else self.folder
                print(f"waiting for another process indexing {where} to finish", file=sys.stderr, flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.refresh()  # start from what the previous writer committed
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def upsert(self, ids: list[str], embeddings: np.ndarray, texts: list[str], metas: list[dict]) -> None:
        """Add or replace chunks in Chroma, unseen until their file is committed; BM25 follows on `sync()`."""
        self.store.upsert(ids, embeddings, texts, metas)

    def update_metadata(self, ids: list[str], metas: list[dict]) -> None:
        """New metadata for stored chunks (offsets that moved, a new title); BM25 follows on `sync()`."""
        self.store.update_metadata(ids, metas)
        # The chunk set is unchanged, so BM25's id fingerprint would not notice new terms (a title edit).
        self._terms_changed.update(ids)

    def commit(self, source: str, ids: list[str]) -> None:
        """Make `ids` (all stored) the source's visible chunks at once, in place of its previous ones."""
        with self._syncing:  # a refresh in another thread must not take this commit for another process's
            self._own_generations.add(self.commits.commit(source, ids))

    def delete(self, ids: list[str]) -> None:
        """Take chunks out of sight, then out of Chroma; BM25 follows on `sync()`."""
        if ids:
            with self._syncing:
                self._own_generations.add(self.commits.drop(ids=ids))
        self.store.delete(ids)

    def keep_text(self, stored: StoredText) -> None:
        """Keep a source's extracted text (unless the same file's is kept already), for citations to show."""
        if not self.extracted.has(stored.source, stored.sha256):
            self.extracted.save(stored)

    def remove_source(self, source: str) -> int:
        """Take every chunk of one source out of the index, BM25 and its kept text included; how many visible
        chunks went."""
        shown = len(self.committed().get(source, ()))
        with self._syncing:
            self._own_generations.add(self.commits.drop(sources=[source]))
        self.store.delete(list(self.store.sources_metadata([source]).get(source, {})))
        self.extracted.remove(source)
        self.sync()
        return shown

    def refresh(self) -> bool:
        """Follow commits made by another process since the last look (`rag index` while `rag serve` runs):
        reopen Chroma, whose open client would not see them, and bring BM25 in step. True if anything changed."""
        with self._syncing:
            generation = self.commits.generation()
            if generation == self._seen_generation:
                return False
            # A server serves every process's writes at once: only an embedded client must reopen to see them.
            foreign = not self.store.remote and any(
                g not in self._own_generations for g in range(self._seen_generation + 1, generation + 1)
            )
            self._seen_generation = generation
            if foreign:
                self.store.open()
            self.sync()
            return True

    @property
    def reading(self) -> threading.RLock:
        """Held while a search reads BM25, so that a sync in another thread does not swap it underneath."""
        return self._syncing

    def sync(self) -> None:
        """Bring BM25 in step with the committed chunks: a no-op when it already is, else loaded or rebuilt."""
        with self._syncing:
            self.keywords.sync(self.store, changed=self._terms_changed, committed=self.commits.ids())
            self._terms_changed = set()
