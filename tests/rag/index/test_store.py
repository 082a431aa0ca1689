"""Chroma's vector index saved after every write: a process that opens the collection has nothing to replay."""

from __future__ import annotations

import sqlite3

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from rag.index.store import SYNC_THRESHOLD, ChunkStore


def saved_and_written(folder) -> tuple[int, int]:
    """(the last write Chroma's saved vector index holds, the last write): equal when a new process replays nothing."""
    with sqlite3.connect(folder / "chroma" / "chroma.sqlite3") as db:
        kinds = dict(db.execute("SELECT id, scope FROM segments").fetchall())
        seen = {kinds[segment]: seq for segment, seq in db.execute("SELECT segment_id, seq_id FROM max_seq_id")}
    return seen.get("VECTOR", 0), seen["METADATA"]  # no row yet: nothing saved


def rows(n: int, start: int = 0) -> dict:
    vectors = np.random.default_rng(start).normal(size=(n, 8)).astype(np.float32)
    ids = [f"c{i}" for i in range(start, start + n)]
    return {"ids": ids, "embeddings": vectors, "documents": ids, "metadatas": [{"source": "a.txt"}] * n}


def test_every_write_is_in_the_saved_vector_index(tmp_path):
    store = ChunkStore(tmp_path, "notebook")
    assert store.collection.configuration["hnsw"]["sync_threshold"] == SYNC_THRESHOLD
    for start in range(0, 300, 32):  # an index run's batches
        r = rows(32, start)
        store.upsert(r["ids"], r["embeddings"], r["documents"], r["metadatas"])
    store.delete(["c5"])
    saved, written = saved_and_written(tmp_path)
    assert saved == written and store.collection.count() == 319


def test_a_collection_written_before_is_switched_over_and_its_unsaved_writes_saved_on_open(tmp_path):
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("notebook", embedding_function=None, metadata={"hnsw:space": "cosine"})
    collection.upsert(**rows(300))  # below Chroma's default threshold (1000): none of it saved
    saved, written = saved_and_written(tmp_path)
    assert saved < written
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    store = ChunkStore(tmp_path, "notebook")
    saved, written = saved_and_written(tmp_path)
    assert saved == written and store.collection.configuration["hnsw"]["sync_threshold"] == SYNC_THRESHOLD
    assert store.collection.count() == 300  # the switch wrote nothing but the save
    nearest = store.collection.query(query_embeddings=[rows(300)["embeddings"][7].tolist()], n_results=1)
    assert nearest["ids"] == [["c7"]]
