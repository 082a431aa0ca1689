"""The notebook's index: Chroma (texts, embeddings, metadata) and BM25 (keyword terms), kept in step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.keyword import KeywordIndex
from rag.index.store import ChunkStore, StoredChunk


class Index:
    """The only writer of Chroma and of the BM25 index beside it, and the one place that keeps them in step.

    Chroma is the record; BM25 is derived from the terms stored in each chunk's metadata. Writes go to Chroma
    at once (so an interrupted indexing run keeps its finished batches) and BM25 follows on `sync()`, which
    every complete change (`remove_source`, the indexer's run) and every search calls. `store` and `keywords`
    are there for readers (retrieval, answer scoring); nothing outside rag/index writes to them.
    """

    def __init__(self, folder: Path, name: str):
        self.folder = folder
        self.name = name
        self.store = ChunkStore(folder, name)
        self.keywords = KeywordIndex(folder / "bm25" / name)
        self._terms_changed = False  # metadata of kept chunks was rewritten: BM25 rebuilds on the next sync

    # ---- reads ---------------------------------------------------------------------------------------------
    def count(self) -> int:
        """Chunks in the index."""
        return self.store.count()

    def is_empty(self) -> bool:
        return self.count() == 0

    def metadata_by_source(self) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}} for every indexed chunk."""
        return self.store.metadata_by_source()

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
        """Whether BM25 holds exactly Chroma's chunks (true after `sync()` unless another process wrote since)."""
        return sorted(self.keywords.ids) == self.chunk_ids()

    # ---- writes --------------------------------------------------------------------------------------------
    def upsert(self, ids: list[str], embeddings: np.ndarray, texts: list[str], metas: list[dict]) -> None:
        """Add or replace chunks in Chroma; BM25 follows on `sync()`."""
        self.store.upsert(ids, embeddings, texts, metas)

    def update_metadata(self, ids: list[str], metas: list[dict]) -> None:
        """New metadata for stored chunks (offsets that moved, a new title); BM25 follows on `sync()`."""
        self.store.update_metadata(ids, metas)
        # The chunk set is unchanged, so BM25's id fingerprint would not notice new terms (a title edit).
        self._terms_changed = self._terms_changed or bool(ids)

    def delete(self, ids: list[str]) -> None:
        """Take chunks out of Chroma; BM25 follows on `sync()`."""
        self.store.delete(ids)

    def remove_source(self, source: str) -> int:
        """Take every chunk of one source out of the index, BM25 included; how many chunks went."""
        ids = list(self.metadata_by_source().get(source, {}))
        self.delete(ids)
        self.sync()
        return len(ids)

    def sync(self) -> None:
        """Bring BM25 in step with Chroma: a no-op when it already is, else loaded or rebuilt from the stored terms."""
        self.keywords.sync(self.store, rebuild=self._terms_changed)
        self._terms_changed = False
