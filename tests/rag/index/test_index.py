"""Index keeps Chroma and BM25 in step through add, change and remove (real Chroma, tiny inline chunks)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index import Index

CHUNKS = {
    "a1": ("a.txt", "TPU 是 Google 的專用晶片", "tpu google 晶片"),
    "a2": ("a.txt", "Gemini 在 TPU 上訓練", "gemini tpu 訓練"),
    "b1": ("b.txt", "DRAM is a cyclical business", "dram cyclical business"),
}


def add(index: Index, chunks: dict[str, tuple[str, str, str]]) -> None:
    ids = list(chunks)
    vectors = np.eye(len(ids), 4, dtype=np.float32) + 0.1  # any distinct vectors: nothing here is embedded
    texts = [text for _, text, _ in chunks.values()]
    metas = [{"source": source, "terms": terms} for source, _, terms in chunks.values()]
    index.upsert(ids, vectors, texts, metas)
    committed = index.committed()
    for source in {source for source, _, _ in chunks.values()}:  # each file's chunks become visible together
        index.commit(source, [*committed.get(source, ()), *(i for i, (s, _, _) in chunks.items() if s == source)])


def keyword_ids(index: Index, *terms: str) -> set[str]:
    return {chunk_id for chunk_id, _ in index.keywords.search(list(terms), 10)}


@pytest.fixture
def index(tmp_path) -> Index:
    return Index(tmp_path / ".rag", "test")


def test_added_chunks_are_in_chroma_and_bm25(index):
    assert index.is_empty() and index.in_step()
    add(index, CHUNKS)
    index.sync()
    assert index.count() == 3 and index.in_step()
    assert index.chunk_ids() == ["a1", "a2", "b1"]
    assert keyword_ids(index, "tpu") == {"a1", "a2"}
    assert [c.text for c in index.get(["b1", "missing", "a1"])] == [CHUNKS["b1"][1], CHUNKS["a1"][1]]
    assert sorted(index.texts(batch=2)) == sorted(text for _, text, _ in CHUNKS.values())
    assert set(index.metadata_by_source()) == {"a.txt", "b.txt"}


def test_changed_terms_reach_bm25_though_the_chunk_set_is_the_same(index):
    add(index, CHUNKS)
    index.sync()
    index.update_metadata(["b1"], [{"source": "b.txt", "terms": "dram memory cycle"}])  # e.g. a new title
    index.sync()
    assert keyword_ids(index, "memory") == {"b1"} and keyword_ids(index, "business") == set()
    add(index, {"b2": ("b.txt", "HBM is stacked DRAM", "hbm stacked dram")})
    index.sync()
    assert index.in_step() and keyword_ids(index, "dram") == {"b1", "b2"}


def test_removed_chunks_and_sources_leave_both(index, tmp_path):
    add(index, CHUNKS)
    index.sync()
    index.delete(["a2"])
    index.sync()
    assert index.in_step() and keyword_ids(index, "tpu") == {"a1"}
    assert index.remove_source("a.txt") == 1  # syncs by itself
    assert index.in_step() and index.chunk_ids() == ["b1"] and keyword_ids(index, "tpu") == set()
    assert index.remove_source("not-indexed.txt") == 0
    reopened = Index(tmp_path / ".rag", "test")  # another process: the saved BM25 matches Chroma
    reopened.sync()
    assert reopened.in_step() and keyword_ids(reopened, "dram") == {"b1"}


HOLD_LOCK = "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(2)"


@pytest.mark.process
def test_one_writer_at_a_time_across_processes(index, capsys):
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(index.folder / "write.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    began = time.time()
    with index.writing():
        waited = time.time() - began
    assert holder.wait(timeout=10) == 0
    assert waited > 1.0
    assert f"waiting for another process indexing {index.folder}" in capsys.readouterr().err


def test_uncommitted_chunks_are_not_seen_until_their_file_commits(index):
    add(index, CHUNKS)
    index.upsert(
        ["c1", "c2"],
        np.eye(2, 4, dtype=np.float32) + 0.2,
        ["Groq LPU", "LPU SRAM"],
        [{"source": "c.txt", "terms": "groq lpu"}] * 2,
    )
    index.sync()
    assert index.count() == 3 and "c.txt" not in index.metadata_by_source() and keyword_ids(index, "lpu") == set()
    assert {c.chunk_id for c in index.store.query(np.ones(4, dtype=np.float32), 10)} == {"a1", "a2", "b1"}
    assert index.get(["c1"]) == []
    index.commit("c.txt", ["c1", "c2"])
    index.sync()
    assert index.count() == 5 and keyword_ids(index, "lpu") == {"c1", "c2"}
    assert len(index.store.query(np.ones(4, dtype=np.float32), 10)) == 5
