"""The Chroma collection that holds every chunk, its embedding and its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings


@dataclass
class StoredChunk:
    """A chunk as read back from Chroma."""

    chunk_id: str
    text: str
    meta: dict[str, Any]
    distance: float | None = None


class ChunkStore:
    """Thin wrapper over a persistent Chroma collection in cosine space; embeddings are always passed in."""

    def __init__(self, path: Path, collection: str = "notebook"):
        path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            path=str(path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        # embedding_function=None: Chroma's default would download an ONNX model; we embed ourselves.
        self.collection = self.client.get_or_create_collection(
            collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def count(self) -> int:
        return self.collection.count()

    def metadata_by_source(self) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}} for the whole collection."""
        got = self.collection.get(include=["metadatas"])
        by_source: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk_id, meta in zip(got["ids"], got["metadatas"]):
            by_source.setdefault(meta["source"], {})[chunk_id] = meta
        return by_source

    def upsert(self, ids: list[str], embeddings: np.ndarray, texts: list[str], metas: list[dict]) -> None:
        if ids:
            self.collection.upsert(ids=ids, embeddings=embeddings, documents=texts, metadatas=metas)

    def update_metadata(self, ids: list[str], metas: list[dict]) -> None:
        if ids:
            self.collection.update(ids=ids, metadatas=metas)

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 5000):  # Chroma caps a single delete's size
            self.collection.delete(ids=ids[start : start + 5000])

    def get(self, ids: list[str]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (missing ids are skipped)."""
        if not ids:
            return []
        got = self.collection.get(ids=list(dict.fromkeys(ids)), include=["documents", "metadatas"])
        found = {i: StoredChunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
        return [found[i] for i in ids if i in found]

    def embeddings(self, ids: list[str]) -> np.ndarray:
        """Stored embeddings, in the order asked (ids must exist)."""
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        row = {i: e for i, e in zip(got["ids"], got["embeddings"])}
        return np.asarray([row[i] for i in ids], dtype=np.float32)

    def all_ids_and_terms(self) -> tuple[list[str], list[list[str]]]:
        """Every chunk id with its stored keyword terms, for (re)building the BM25 index."""
        got = self.collection.get(include=["metadatas"])
        pairs = sorted(zip(got["ids"], got["metadatas"]))
        return [i for i, _ in pairs], [m.get("terms", "").split() for _, m in pairs]

    def all_ids(self) -> list[str]:
        return sorted(self.collection.get(include=[])["ids"])

    def query(self, embedding: np.ndarray, n: int, sources: list[str] | None = None) -> list[StoredChunk]:
        """Nearest chunks to one query embedding, optionally only from the given sources."""
        total = self.count()
        if total == 0:
            return []
        where = {"source": {"$in": list(sources)}} if sources else None
        res = self.collection.query(
            query_embeddings=[embedding.tolist()],
            n_results=min(n, total),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(i, d, m, dist)
            for i, d, m, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
        ]
