"""KeywordIndex.idf against bm25s's own idf and scores, on a tiny corpus (it reads bm25s's private CSC matrix)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bm25s.scoring import _score_idf_lucene

from rag.index.keyword import KeywordIndex
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
    scores = keywords.bm25.get_scores([term])
    assert scores.max() == pytest.approx(keywords.idf(term) / (1 + keywords.bm25.k1), rel=1e-5)
    assert int((scores > 0).sum()) == df


def test_a_term_no_chunk_has_gets_the_highest_idf(keywords):
    assert not keywords.knows("sourdough")
    assert keywords.idf("sourdough") == pytest.approx(math.log(1 + (len(DOCS) + 0.5) / 0.5))
    assert keywords.idf("sourdough") > max(keywords.idf(t) for doc in DOCS for t in doc)
