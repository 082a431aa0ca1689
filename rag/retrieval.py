"""Hybrid search: dense hits from Chroma, BM25 hits, and BM25 hits of the question in the other language, fused by RRF."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rag.keyword import KeywordIndex
from rag.settings import Settings
from rag.store import ChunkStore, StoredChunk
from rag.text import keyword_tokens


@dataclass
class Hit:
    """One retrieved chunk; `score` is the fused RRF score (higher is better)."""

    chunk_id: str
    source: str
    title: str
    text: str
    score: float
    section: str = ""
    date: str | None = None
    start: int = 0
    end: int = 0
    dense_rank: int | None = None  # 1-based rank in the dense list, None when absent from it
    keyword_rank: int | None = None
    translated_rank: int | None = None  # rank in the other-language keyword list
    dense_similarity: float | None = None  # cosine similarity to the question

    @classmethod
    def from_stored(cls, chunk: StoredChunk, score: float = 0.0) -> "Hit":
        m = chunk.meta
        return cls(
            chunk_id=chunk.chunk_id,
            source=m["source"],
            title=m.get("title", ""),
            text=chunk.text,
            score=score,
            section=m.get("section", ""),
            date=m.get("date"),
            start=m.get("start", 0),
            end=m.get("end", 0),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion of ranked id lists, each with a weight: sum of weight / (k + rank)."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return fused


class HybridRetriever:
    """Dense + keyword retrieval over one notebook's store."""

    def __init__(self, store: ChunkStore, keywords: KeywordIndex, embedder, settings: Settings, glossary=None):
        self.store = store
        self.keywords = keywords
        self.embedder = embedder
        self.settings = settings
        self.glossary = glossary  # rag.glossary.Glossary; None: no other-language leg

    def _allowed(self, sources: list[str] | None) -> set[str] | None:
        if not sources:
            return None
        by_source = self.store.metadata_by_source()
        return {i for s in sources for i in by_source.get(s, {})}

    def dense(self, question: str, n: int, sources: list[str] | None) -> list[StoredChunk]:
        vector = self.embedder.embed_queries([question])[0]
        return self.store.query(np.asarray(vector), n, sources)

    def keyword(self, question: str, n: int, sources: list[str] | None) -> list[tuple[str, float]]:
        return self.keywords.search(keyword_tokens(question, for_query=True), n, self._allowed(sources))

    def translated(self, question: str, n: int, sources: list[str] | None) -> list[tuple[str, float]]:
        """BM25 hits for the question's keywords in the other language (empty without a glossary)."""
        if self.glossary is None:
            return []
        terms = self.glossary.other_language_terms(question, self.keywords.knows)
        return self.keywords.search(terms, n, self._allowed(sources)) if terms else []

    def search(self, question: str, k: int | None = None, sources: list[str] | None = None) -> list[Hit]:
        s = self.settings
        k = k or s.k
        n = max(s.candidates, k)
        dense = self.dense(question, n, sources)
        keyword = self.keyword(question, n, sources)
        translated = self.translated(question, n, sources)
        fused = rrf(
            [
                ([c.chunk_id for c in dense], s.dense_weight),
                ([i for i, _ in keyword], s.keyword_weight),
                ([i for i, _ in translated], s.translation_weight),
            ],
            s.rrf_k,
        )
        known = {c.chunk_id: c for c in dense}
        stored = {c.chunk_id: c for c in self.store.get([i for i in fused if i not in known])}
        stored.update(known)
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        dense_rank = {c.chunk_id: r for r, c in enumerate(dense, start=1)}
        keyword_rank = {i: r for r, (i, _) in enumerate(keyword, start=1)}
        translated_rank = {i: r for r, (i, _) in enumerate(translated, start=1)}
        hits = []
        for chunk_id in best:
            if chunk_id not in stored:
                continue
            hit = Hit.from_stored(stored[chunk_id], fused[chunk_id])
            hit.dense_rank = dense_rank.get(chunk_id)
            hit.keyword_rank = keyword_rank.get(chunk_id)
            hit.translated_rank = translated_rank.get(chunk_id)
            if chunk_id in known and known[chunk_id].distance is not None:
                hit.dense_similarity = 1.0 - known[chunk_id].distance
            hits.append(hit)
        return hits
