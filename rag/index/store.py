"""The Chroma collection that holds every chunk, its embedding and its metadata: in the data folder, or on a Chroma server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import InternalError

from rag.errors import NotebookError

# Rows per listing request: a 100,000-chunk collection is read in pages, never in one response.
PAGE = 10_000
# Chroma applies writes to its vector index in memory but saves that index only every `sync_threshold` records
# (default 1000): every process that opens the collection afterwards replays the records written since the last
# save, holding the GIL (~1 s per 800 records at 10,000 chunks: the bulk of a first search's cost). Saving after
# each applied batch leaves nothing to replay; Chroma saves only the changed rows, so writes are no slower.
SYNC_THRESHOLD = 1
SERVER_SETTING = "the chroma_url setting (RAG_CHROMA_URL, --chroma-url)"


def server_address(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of a Chroma server url such as http://127.0.0.1:8000; a malformed one is one line."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or (parts.path not in ("", "/")):
        raise NotebookError(f"{SERVER_SETTING} is {url!r}: expected http://HOST:PORT of a `chroma run` server")
    return parts.hostname, port or (443 if parts.scheme == "https" else 8000), parts.scheme == "https"


def server_client(url: str):
    """A chromadb HttpClient for `url`, checked with a heartbeat: a server that is down or a wrong url is one line."""
    host, port, ssl = server_address(url)
    try:
        client = chromadb.HttpClient(
            host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        client.heartbeat()
    except Exception as err:  # httpx errors, ValueError ("Could not connect"), a proxy's reply: all one line
        reason = " ".join(str(err).split()) or type(err).__name__
        raise NotebookError(f"cannot reach the Chroma server at {url} ({SERVER_SETTING}): {reason}") from err
    return client


@dataclass
class StoredChunk:
    """A chunk as read back from Chroma."""

    chunk_id: str
    text: str
    meta: dict[str, Any]
    distance: float | None = None


def _where(sources: list[str] | None, exclude: list[str] | None) -> dict | None:
    """Chroma's filter for chunks of `sources` (None: any) and of none of `exclude`."""
    filters = []
    if sources:
        filters.append({"source": {"$in": list(sources)}})
    if exclude:
        filters.append({"source": {"$nin": list(exclude)}})
    return None if not filters else filters[0] if len(filters) == 1 else {"$and": filters}


class ChunkStore:
    """Thin wrapper over a Chroma collection in cosine space; embeddings are always passed in.

    The collection lives in the data folder (PersistentClient), or on a Chroma server when `url` is given
    (`chroma run`; HttpClient), which every process sharing it reads and writes directly.

    `visible` gives the committed chunk ids (rag.index.commits): the reads (count, get, query, the id and
    metadata listings) see only those, so a file whose chunks are still being written is not seen at all.
    `everything=True` on a listing includes the uncommitted chunks, for the indexer.
    """

    def __init__(
        self,
        path: Path,
        collection: str = "notebook",
        visible: Callable[[], frozenset[str]] | None = None,
        url: str | None = None,
    ):
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.name = collection
        self.visible = visible
        self.url = url or None
        self.open()

    @property
    def remote(self) -> bool:
        """Whether the collection is on a Chroma server (every process sees every write at once)."""
        return self.url is not None

    def open(self) -> None:
        """(Re)open the collection: a fresh client reads what another process wrote since (Chroma's in-memory
        vector index of an open client does not follow another process's writes)."""
        from chromadb.api.client import SharedSystemClient

        if self.remote:
            self.client = server_client(self.url)
        else:
            if getattr(self, "client", None) is not None:
                SharedSystemClient.clear_system_cache()  # else the same path gives back the stale system
            self.client = chromadb.PersistentClient(
                path=str(self.path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )
        # embedding_function=None: Chroma's default would download an ONNX model; we embed ourselves.
        self.collection = self.client.get_or_create_collection(
            self.name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        if not self.remote:  # a server keeps its index in memory: nothing is replayed per client
            self._save_on_every_write()

    def _save_on_every_write(self) -> None:
        """The collection's vector index saved after every write batch (see SYNC_THRESHOLD); set once per collection."""
        hnsw = (self.collection.configuration or {}).get("hnsw") or {}
        if hnsw.get("sync_threshold") == SYNC_THRESHOLD:
            return
        try:
            self.collection.modify(configuration={"hnsw": {"sync_threshold": SYNC_THRESHOLD}})
            # A write (of nothing: no chunk has this id) saves the records an earlier writer left unsaved, once.
            self.collection.delete(ids=["rag-save-vector-index"])
        except Exception:  # noqa: BLE001, S110 -- a folder that cannot be written: reads work, they replay as before
            pass

    def warm(self) -> None:
        """Load what Chroma loads on a collection's first access (its vector index, ~2 s at 100,000 chunks), ahead of
        the first query (Notebook.preload)."""
        self.collection.count()

    def _get_all(self, include: list[str], **where) -> dict[str, list]:
        """Every row of the collection (optionally `where`), read page by page."""
        out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=PAGE, offset=offset, **where)
            for key in out:
                out[key] += got[key] or []
            if len(got["ids"]) < PAGE:
                return out
            offset += PAGE

    def _shown(self) -> frozenset[str] | None:
        return None if self.visible is None else self.visible()

    def count(self) -> int:
        shown = self._shown()
        return self.collection.count() if shown is None else len(shown)

    def metadata_by_source(
        self, everything: bool = False, sources: list[str] | None = None
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}} for the committed chunks (with `everything`, for all of them), of every
        source or only of `sources` (read alone: a search within a few documents of a large notebook)."""
        shown = None if everything else self._shown()
        if sources is not None:
            found = self.sources_metadata(list(sources))
            return {s: {i: m for i, m in chunks.items() if shown is None or i in shown} for s, chunks in found.items()}
        got = self._get_all(["metadatas"])
        by_source: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk_id, meta in zip(got["ids"], got["metadatas"]):
            if shown is None or chunk_id in shown:
                by_source.setdefault(meta["source"], {})[chunk_id] = meta
        return by_source

    def sources_metadata(self, sources: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """{source: {chunk_id: metadata}} of the named sources only, committed or not (the indexer's view of a few
        files, without reading a large collection whole)."""
        by_source: dict[str, dict[str, dict[str, Any]]] = {}
        for start in range(0, len(sources), 500):
            got = self._get_all(["metadatas"], where={"source": {"$in": sources[start : start + 500]}})
            for chunk_id, meta in zip(got["ids"], got["metadatas"]):
                by_source.setdefault(meta["source"], {})[chunk_id] = meta
        return by_source

    def first_chunks(self, committed: dict[str, frozenset[str]]) -> dict[str, dict[str, Any]]:
        """{source: metadata of its committed chunk with the lowest ordinal} for the `committed` sources ({source: ids}):
        read from the chunks with ordinal 0 (one per file), not from every chunk; a source without a committed one
        (an index from before ordinals) has its own chunks read."""
        got = self._get_all(["metadatas"], where={"ordinal": 0})
        first: dict[str, dict[str, Any]] = {}
        for chunk_id, meta in zip(got["ids"], got["metadatas"]):
            source = meta.get("source")
            if chunk_id in committed.get(source, ()):
                first[source] = meta
        missing = [s for s in committed if s not in first]
        for source, chunks in self.sources_metadata(missing).items() if missing else ():
            kept = [m for i, m in chunks.items() if i in committed[source]]
            if kept:
                first[source] = min(kept, key=lambda m: m.get("ordinal", 0))
        return first

    def upsert(self, ids: list[str], embeddings: np.ndarray, texts: list[str], metas: list[dict]) -> None:
        for start in range(0, len(ids), 5000):  # below Chroma's max batch size (5461 here)
            end = start + 5000
            self.collection.upsert(
                ids=ids[start:end],
                embeddings=embeddings[start:end],
                documents=texts[start:end],
                metadatas=metas[start:end],
            )

    def update_metadata(self, ids: list[str], metas: list[dict]) -> None:
        for start in range(0, len(ids), 5000):
            self.collection.update(ids=ids[start : start + 5000], metadatas=metas[start : start + 5000])

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 5000):  # Chroma caps a single delete's size
            self.collection.delete(ids=ids[start : start + 5000])

    def get(self, ids: list[str]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (missing ids are skipped)."""
        if not ids:
            return []
        shown = self._shown()
        wanted = [i for i in dict.fromkeys(ids) if shown is None or i in shown]
        if not wanted:
            return []
        got = self.collection.get(ids=wanted, include=["documents", "metadatas"])
        found = {i: StoredChunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
        return [found[i] for i in ids if i in found]

    def embeddings_found(self, ids: list[str]) -> dict[str, np.ndarray]:
        """{id: stored embedding} of the given chunks that are still stored (another process may have removed some
        since this one's keyword index was synced)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}

    def embeddings(self, ids: list[str]) -> np.ndarray:
        """Stored embeddings, in the order asked (ids must exist)."""
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        row = {i: e for i, e in zip(got["ids"], got["embeddings"])}
        return np.asarray([row[i] for i in ids], dtype=np.float32)

    def all_ids_and_terms(self) -> tuple[list[str], list[list[str]]]:
        """Every committed chunk id with its stored keyword terms, for (re)building the BM25 index."""
        shown = self._shown()
        got = self._get_all(["metadatas"])
        pairs = sorted((i, m) for i, m in zip(got["ids"], got["metadatas"]) if shown is None or i in shown)
        return [i for i, _ in pairs], [m.get("terms", "").split() for _, m in pairs]

    def terms(self, ids: list[str]) -> dict[str, list[str]]:
        """{chunk_id: its stored keyword terms} of the given chunks (those that exist), for BM25 updates."""
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), 1000):
            got = self.collection.get(ids=ids[start : start + 1000], include=["metadatas"])
            out.update((i, m.get("terms", "").split()) for i, m in zip(got["ids"], got["metadatas"]))
        return out

    def stored_ids(self) -> list[str]:
        """Every chunk id in the collection, committed or not."""
        return self._get_all([])["ids"]

    def sources_of(self, ids: list[str]) -> set[str]:
        """The sources the given chunks (committed or not) belong to."""
        out: set[str] = set()
        for start in range(0, len(ids), 1000):
            got = self.collection.get(ids=ids[start : start + 1000], include=["metadatas"])
            out.update(m["source"] for m in got["metadatas"])
        return out

    def all_ids(self) -> list[str]:
        shown = self._shown()
        return sorted(self._get_all([])["ids"] if shown is None else shown)

    def _stored_count(self, shown: frozenset[str] | None, fresh: bool = False) -> int:
        """Chunks stored, committed or not; counted again only when the committed set changed (or `fresh`): Chroma
        counts by scanning, ~30 ms a search at 100,000 chunks."""
        if fresh or shown is None or self._counted[0] is not shown:
            self._counted = (shown, self.collection.count())
        return self._counted[1]

    _counted: tuple[frozenset[str] | None, int] = (None, 0)

    def query(
        self, embedding: np.ndarray, n: int, sources: list[str] | None = None, exclude: list[str] | None = None
    ) -> list[StoredChunk]:
        """Nearest committed chunks to one query embedding, optionally only from the given sources, and never from
        the `exclude` ones."""
        shown = self._shown()
        for fresh in (False, True):
            total = self._stored_count(shown, fresh)
            if total == 0 or shown is not None and not shown:
                return []
            res, hidden = self._query(embedding, n, _where(sources, exclude), total, shown)
            # Another process stored chunks (not yet committed) since the count: count again, ask again.
            if hidden or shown is None or all(i in shown for i in res["ids"][0]):
                break
        if not hidden:
            return [
                StoredChunk(i, d, m, dist)
                for i, d, m, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
                if shown is None or i in shown
            ]
        distance = {i: dist for i, dist in zip(res["ids"][0], res["distances"][0]) if i in shown}
        best = list(distance)[:n]
        chunks = self.get(best)
        for chunk in chunks:
            chunk.distance = distance[chunk.chunk_id]
        return chunks

    def _query(self, embedding: np.ndarray, n: int, where: dict | None, total: int, shown) -> tuple[dict, int]:
        # Chunks still being written are not committed: fetch enough more that n committed ones remain.
        hidden = 0 if shown is None else max(0, total - len(shown))
        include = ["documents", "metadatas", "distances"] if not hidden else ["distances"]
        ask = {"query_embeddings": [embedding.tolist()], "n_results": min(n + hidden, total), "where": where}
        try:
            return self.collection.query(**ask, include=include), hidden
        except InternalError:  # "Error finding id": another process wrote since this client loaded its vectors
            if self.remote:
                raise
            self.open()
            return self.collection.query(**ask, include=include), hidden
