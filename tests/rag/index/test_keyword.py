"""KeywordIndex against bm25s's own idf and scores on a tiny corpus; incremental updates equal a rebuild; damage."""

from __future__ import annotations

import errno
import math
import os

import numpy as np
import pytest
from bm25s.scoring import _score_idf_lucene

from rag.index import keyword as keyword_module
from rag.index.keyword import K1, KeywordIndex
from rag.index.store import ChunkStore

# Every document has four distinct terms: with equal lengths and tf 1, bm25s's (Lucene) score is idf / (1 + k1).
DOCS = [
    ["tpu", "gpu", "chip", "google"],
    ["gpu", "cpu", "dram", "nvidia"],
    ["gpu", "tpu", "nand", "memory"],
    ["hbm", "cpu", "gpu", "stack"],
    ["dram", "cycle", "margin", "price"],
]


@pytest.fixture(scope="module")
def keywords(tmp_path_factory) -> KeywordIndex:
    folder = tmp_path_factory.mktemp("keyword")
    store = ChunkStore(folder, "parity")
    ids = [f"c{i}" for i in range(len(DOCS))]
    metas = [{"source": "s.txt", "terms": " ".join(terms)} for terms in DOCS]
    store.upsert(ids, np.eye(len(ids), dtype=np.float32), [" ".join(t) for t in DOCS], metas)
    index = KeywordIndex(folder / "bm25")
    index.sync(store)
    return index


@pytest.mark.parametrize("term", ["gpu", "tpu", "cpu", "dram", "nvidia", "margin"])
def test_idf_is_bm25s_lucene_idf_and_its_single_term_score(keywords, term):
    df = sum(term in doc for doc in DOCS)
    assert keywords.idf(term) == pytest.approx(_score_idf_lucene(df, len(DOCS)))
    scores = keywords.scores([term])
    assert scores.max() == pytest.approx(keywords.idf(term) / (1 + K1), rel=1e-5)
    assert int((scores > 0).sum()) == df


def test_scores_are_bm25s_scores_for_documents_of_different_lengths(tmp_path):
    import bm25s

    docs = [*DOCS, ["gpu", "gpu", "tpu"], ["dram"] * 7 + ["gpu"], []]
    store = ChunkStore(tmp_path, "lengths")
    ids = [f"c{i}" for i in range(len(docs))]
    store.upsert(
        ids, np.eye(len(ids), dtype=np.float32), ["x"] * len(ids), [{"source": "s", "terms": " ".join(d)} for d in docs]
    )
    ours = KeywordIndex(tmp_path / "bm25")
    ours.sync(store)
    theirs = bm25s.BM25()
    theirs.index([d or ["\u0000"] for d in docs], show_progress=False)
    for query in (["gpu"], ["dram", "gpu"], ["tpu", "tpu", "chip"]):
        assert ours.scores(query) == pytest.approx(theirs.get_scores(query), rel=1e-5)


def test_incremental_updates_score_as_a_rebuild_and_read_only_what_changed(tmp_path, monkeypatch):
    store = ChunkStore(tmp_path, "incremental")
    monkeypatch.setattr(keyword_module, "MERGE_MIN_ROWS", 2)  # merges and compaction happen on this tiny corpus too
    terms = {f"c{i}": DOCS[i % len(DOCS)] + [f"only{i}"] for i in range(14)}

    def put(ids):
        store.upsert(
            ids,
            np.ones((len(ids), 2), dtype=np.float32),
            ["x"] * len(ids),
            [{"source": "s", "terms": " ".join(terms[i])} for i in ids],
        )

    put(list(terms))
    live = KeywordIndex(tmp_path / "bm25")
    read: list[int] = []
    real_terms = store.terms
    monkeypatch.setattr(store, "terms", lambda ids: read.append(len(ids)) or real_terms(ids))
    committed = set(list(terms)[:6])
    live.sync(store, committed=frozenset(committed))
    for step in range(4):  # add two, drop one, rewrite one's terms, each time against a fresh full build
        new = [f"c{6 + 2 * step}", f"c{7 + 2 * step}"]
        committed |= set(new)
        committed.discard(min(committed))
        changed = max(committed)
        terms[changed] = ["rewritten", f"step{step}"]
        put([changed])
        read.clear()
        live.sync(store, committed=frozenset(committed), changed=[changed])
        assert sum(read) <= 3  # the two new chunks and the rewritten one, never the whole store
        fresh = KeywordIndex(tmp_path / f"fresh{step}")
        fresh.sync(store, committed=frozenset(committed), rebuild=True)
        assert live.ids == fresh.ids == sorted(committed)
        for query in (["gpu"], ["rewritten", "dram"], [f"only{6 + 2 * step}"], ["only0"]):
            assert dict(live.search(query, 20)) == pytest.approx(dict(fresh.search(query, 20)), rel=1e-5)
        reloaded = KeywordIndex(tmp_path / "bm25")  # the next start loads the saved index, then it is in step
        reloaded.sync(store, committed=frozenset(committed))
        assert dict(reloaded.search(["gpu", "rewritten"], 20)) == pytest.approx(
            dict(live.search(["gpu", "rewritten"], 20))
        )


def test_a_term_no_chunk_has_gets_the_highest_idf(keywords):
    assert not keywords.knows("sourdough")
    assert keywords.idf("sourdough") == pytest.approx(math.log(1 + (len(DOCS) + 0.5) / 0.5))
    assert keywords.idf("sourdough") > max(keywords.idf(t) for doc in DOCS for t in doc)


# ---- a damaged or unsavable keyword index: rebuilt from Chroma, kept in memory ------------------------------


def saved_index(tmp_path) -> tuple[ChunkStore, KeywordIndex]:
    store = ChunkStore(tmp_path, "damage")
    ids = [f"c{i}" for i in range(len(DOCS))]
    metas = [{"source": "s.txt", "terms": " ".join(terms)} for terms in DOCS]
    store.upsert(ids, np.eye(len(ids), dtype=np.float32), [" ".join(t) for t in DOCS], metas)
    KeywordIndex(tmp_path / "bm25").sync(store)
    return store, KeywordIndex(tmp_path / "bm25")  # a fresh one loads what was saved, as the next start does


@pytest.mark.parametrize("damaged", ["main.npz", "recent.npz", "main.json", "manifest.json"])
def test_a_truncated_keyword_index_file_is_rebuilt_with_a_one_line_notice(tmp_path, capsys, damaged):
    store, index = saved_index(tmp_path)
    path = tmp_path / "bm25" / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    index.sync(store)
    notice = capsys.readouterr().err.strip()
    assert notice.startswith(f"rag: notice: {tmp_path / 'bm25'}: keyword index damaged") and "\n" not in notice
    assert "rebuilt from the chunks in Chroma" in notice
    assert [i for i, _ in index.search(["nvidia"], 5)] == ["c1"]
    again = KeywordIndex(tmp_path / "bm25")  # the rebuilt index was saved: the next start loads it quietly
    again.sync(store)
    assert capsys.readouterr().err == "" and [i for i, _ in again.search(["nvidia"], 5)] == ["c1"]


def test_a_keyword_index_that_cannot_be_saved_is_kept_in_memory(tmp_path, capsys, monkeypatch):
    store, _ = saved_index(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "bm25")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(KeywordIndex, "_write", full)
    index = KeywordIndex(tmp_path / "bm25")
    index.sync(store, rebuild=True)
    notice = capsys.readouterr().err.strip()
    assert notice == (
        f"rag: notice: {tmp_path / 'bm25'}: keyword index not saved (No space left on device); kept in memory, "
        "brought in step on the next start"
    )
    assert [i for i, _ in index.search(["nvidia"], 5)] == ["c1"]
    monkeypatch.undo()
    assert not (tmp_path / "bm25" / "manifest.json").exists()  # a half-saved folder is never loaded
    KeywordIndex(tmp_path / "bm25").sync(store)
    assert "rebuilt" not in capsys.readouterr().err  # no manifest: rebuilt and saved, nothing was damaged


def test_a_notebook_whose_keyword_file_is_truncated_still_searches(notebook_at, tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "hbm.md").write_text("# HBM\n\nHBM stacks DRAM dies on a GPU package.\n", encoding="utf-8")
    notebook_at(tmp_path, path=tmp_path / ".rag").index(tmp_path / "docs", progress=False)
    [bm25_file] = (tmp_path / ".rag" / "bm25").glob("*/main.npz")
    bm25_file.write_bytes(b"")
    hits = notebook_at(tmp_path, path=tmp_path / ".rag").search("HBM stacks", k=1)
    assert hits[0].source == "docs/hbm.md" and hits[0].keyword_rank == 1
    assert "keyword index damaged" in capsys.readouterr().err


def test_a_keyword_index_saved_in_the_earlier_bm25s_format_is_built_again_quietly(tmp_path, capsys):
    store, _ = saved_index(tmp_path)
    (tmp_path / "bm25" / "manifest.json").write_text('{"fingerprint": "0" , "ids": ["c0"]}')
    index = KeywordIndex(tmp_path / "bm25")
    index.sync(store)
    assert capsys.readouterr().err == "" and [i for i, _ in index.search(["nvidia"], 5)] == ["c1"]


def test_a_view_without_some_chunks_scores_as_an_index_that_never_held_them(keywords, tmp_path):
    view = keywords.without(["c0", "c2"])
    store = ChunkStore(tmp_path, "without")
    kept = [i for i in range(len(DOCS)) if i not in (0, 2)]
    metas = [{"source": "s.txt", "terms": " ".join(DOCS[i])} for i in kept]
    store.upsert([f"c{i}" for i in kept], np.eye(len(kept), dtype=np.float32), ["x"] * len(kept), metas)
    never = KeywordIndex(tmp_path / "bm25")
    never.sync(store)
    assert len(view) == len(never) == 3 and view.ids == never.ids and view.fingerprint == never.fingerprint
    for term in ("gpu", "tpu", "dram", "\x00"):  # tpu is left in no chunk: it weighs as an unseen word
        assert view.idf(term) == pytest.approx(never.idf(term)) and view.knows(term) == never.knows(term)
    found, expected = view.search(["gpu", "dram", "tpu"], 5), never.search(["gpu", "dram", "tpu"], 5)
    assert [i for i, _ in found] == [i for i, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected])
    assert len(keywords) == len(DOCS) and keywords.knows("tpu")  # the index itself is untouched
    with pytest.raises(TypeError, match="read-only"):
        view.sync(store)
