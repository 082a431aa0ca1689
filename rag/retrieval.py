"""Hybrid search: dense hits from Chroma, BM25 hits, and BM25 hits of the question in the other language, fused."""

from __future__ import annotations

import numpy as np

from rag.index.keyword import KeywordIndex
from rag.index.store import ChunkStore, StoredChunk
from rag.settings import Settings
from rag.text import bm25_terms, clean_text, is_chinese
from rag.types import Hit


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion of ranked id lists, each with a weight: sum of weight / (k + rank)."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return fused


def normalised_scores(
    dense: dict[str, float],
    floor: dict[str, float],
    keyword: list[tuple[str, float]],
    translated: list[tuple[str, float]],
    s: Settings,
) -> dict[str, float]:
    """Score fusion: dense cosine mapped to [0, 1] by its lift over `floor` (per chunk: a typical chunk's similarity)
    as a share of the best hit's lift, each BM25 score as a share of its list's best; weighted sum. Unlike ranks, a
    BM25 hit that matches every word far better than the rest keeps its lead, and a weak list stays weak."""
    fused: dict[str, float] = {}
    if dense:
        lift = {chunk_id: sim - floor[chunk_id] for chunk_id, sim in dense.items()}
        span = max(max(lift.values()), 1e-6)
        for chunk_id, gain in lift.items():
            fused[chunk_id] = s.dense_weight * max(0.0, gain / span)
    for hits, weight in ((keyword, s.keyword_weight), (translated, s.translation_weight)):
        if hits:
            best = hits[0][1]
            for chunk_id, score in hits:
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * score / best
    return fused


class HybridRetriever:
    """Dense + keyword retrieval over one notebook's store."""

    reference_size = 256  # chunks whose similarity to the question gives the dense floor (their median)
    language_floor_size = 16  # sampled chunks a language needs for a floor of its own

    def __init__(self, store: ChunkStore, keywords: KeywordIndex, embedder, settings: Settings, glossary=None):
        self.store = store
        self.keywords = keywords
        self.embedder = embedder
        self.settings = settings
        self.glossary = glossary  # rag.glossary.Glossary; None: no other-language leg
        self._reference: tuple[str, np.ndarray, np.ndarray] = (
            "",
            np.zeros((0, 0), dtype=np.float32),
            np.zeros(0, dtype=bool),
        )
        self._chinese: dict[str, bool] = {}  # chunk id -> its text is Chinese (rag.text.is_chinese)
        self._without: tuple[tuple, KeywordIndex | None] = ((), None)  # the last keywords_without, by its key

    def keywords_without(self, sources: list[str]) -> KeywordIndex:
        """The keyword index as if `sources` had never been indexed (KeywordIndex.without); the last one is kept."""
        key = (self.keywords.fingerprint, tuple(sorted(sources)))
        if self._without[0] != key:
            by_source = self.store.metadata_by_source(sources=list(sources))
            self._without = (key, self.keywords.without(i for s in sources for i in by_source.get(s, {})))
        return self._without[1]

    def reference_vectors(self, keywords: KeywordIndex | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of an even sample of the index (or of `keywords`, a view of it without some sources) and
        whether each chunk is Chinese, refreshed when its chunks change."""
        keywords = self.keywords if keywords is None else keywords
        ids, print_ = keywords.ids, keywords.fingerprint
        if self._reference[0] != print_:
            step = max(1, len(ids) // self.reference_size)
            sample = ids[::step][: self.reference_size]
            chinese = self.chinese(self.store.get(sample)) if self.settings.dense_by_language else {}
            self._reference = (
                print_,
                self.store.embeddings(sample),
                np.array([chinese.get(i, True) for i in sample], dtype=bool),
            )
        return self._reference[1], self._reference[2]

    def chinese(self, chunks: list[StoredChunk]) -> dict[str, bool]:
        """Chunk id -> the chunk is Chinese, for these chunks (memoised: a chunk's text never changes under its id)."""
        for c in chunks:
            if c.chunk_id not in self._chinese:
                self._chinese[c.chunk_id] = is_chinese(c.text)
        return {c.chunk_id: self._chinese[c.chunk_id] for c in chunks}

    def bilingual(self, keywords: KeywordIndex | None = None) -> bool:
        """The notebook holds enough Chinese and English chunks for each language's own dense measures
        (settings.dense_by_language)."""
        _, chinese = self.reference_vectors(keywords)
        n = int(chinese.sum())
        return self.settings.dense_by_language and min(n, len(chinese) - n) >= self.language_floor_size

    def floors(self, vector: np.ndarray, ids: list[str], keywords: KeywordIndex | None = None) -> dict[str, float]:
        """Each chunk's dense floor: the median similarity of the notebook's chunks to the question; in a bilingual
        notebook, of the chunks in its own language (known to `chinese`). The embedder rates any passage in the
        question's language above one in the other, so across languages only the lift over that language's typical
        chunk compares: a Chinese question's English answer is among the best English chunks, not among the best
        chunks."""
        reference, chinese = self.reference_vectors(keywords)
        if not len(reference):
            return dict.fromkeys(ids, 0.0)
        sims = reference @ vector
        overall = float(np.median(sims))
        if not self.bilingual(keywords):
            return dict.fromkeys(ids, overall)
        by_language = {lang: float(np.median(sims[chinese == lang])) for lang in (True, False)}
        return {i: by_language[self._chinese[i]] if i in self._chinese else overall for i in ids}

    def _allowed(self, sources: list[str] | None) -> set[str] | None:
        """Chunk ids of the given sources (None: all), for the keyword lists."""
        if not sources:
            return None
        by_source = self.store.metadata_by_source(sources=sources)
        return {i for s in sources for i in by_source.get(s, {})}

    def dense(
        self, vector: np.ndarray, n: int, sources: list[str] | None, exclude: list[str] | None = None
    ) -> list[StoredChunk]:
        return self.store.query(vector, n, sources, exclude)

    def keyword(
        self, question: str, n: int, allowed: set[str] | None, keywords: KeywordIndex | None = None
    ) -> list[tuple[str, float]]:
        """BM25 hits for the question's terms; a Chinese question's names also in Latin letters (微軟 also
        matches "Microsoft" written inside Chinese text) and in their other Chinese spellings (輝達, 英偉達)."""
        keywords = self.keywords if keywords is None else keywords
        terms = bm25_terms(question, for_query=True)
        if self.glossary is not None and is_chinese(question):
            terms += [t for t in self.glossary.name_terms(question) if t not in terms]
        return keywords.search(terms, n, allowed)

    def translated(
        self, question: str, n: int, allowed: set[str] | None, keywords: KeywordIndex | None = None
    ) -> list[tuple[str, float]]:
        """BM25 hits for the question's keywords in the other language (empty without a glossary); an
        English question's names in Chinese spellings are among them (Hyundai -> 现代)."""
        if self.glossary is None:
            return []
        keywords = self.keywords if keywords is None else keywords
        terms = self.glossary.other_language_terms(question, keywords.knows)
        if not is_chinese(question):
            terms += [t for t in self.glossary.name_terms(question) if t not in terms]
        return keywords.search(terms, n, allowed) if terms else []

    def search(
        self,
        question: str,
        k: int | None = None,
        sources: list[str] | None = None,
        exclude_sources: list[str] | None = None,
    ) -> list[Hit]:
        """Top-k chunks for a question, optionally only from `sources`, and as if `exclude_sources` had never been
        indexed: left out of the dense query and of the keyword index's statistics (keywords_without), so their
        ranks and scores are those of an index without them."""
        s = self.settings
        k = s.k if k is None else int(k)  # checked by the caller (Settings.checked_k): ask reads answer_hits()
        question = clean_text(question)
        n = max(s.candidates, k)
        vector = np.asarray(self.embedder.embed_queries([question])[0])
        exclude = list(exclude_sources or [])
        keywords = self.keywords_without(exclude) if exclude else self.keywords
        dense = self.dense(vector, n, sources, exclude)
        allowed = self._allowed(sources)  # one read of the collection's metadata for both keyword lists
        keyword = self.keyword(question, n, allowed, keywords)
        translated = self.translated(question, n, allowed, keywords)
        similarity = {c.chunk_id: 1.0 - c.distance for c in dense if c.distance is not None}
        known = {c.chunk_id: c for c in dense}
        if s.fusion == "rrf":
            fused = rrf(
                [
                    ([c.chunk_id for c in dense], s.dense_weight),
                    ([i for i, _ in keyword], s.keyword_weight),
                    ([i for i, _ in translated], s.translation_weight),
                ],
                s.rrf_k,
            )
        else:
            # Keyword hits outside the dense list get their exact similarity, not a guess.
            others = list(dict.fromkeys(i for i, _ in keyword + translated if i not in similarity))
            if others:  # a chunk removed since BM25 was synced (by another process, a moment ago) has none: left out
                similarity.update((i, float(v @ vector)) for i, v in self.store.embeddings_found(others).items())
            if self.bilingual(keywords):  # the floor depends on a chunk's language: read from its text, once per chunk
                unread = [i for i in others if i not in self._chinese]
                fetched = self.store.get(unread) if unread else []
                known.update((c.chunk_id, c) for c in fetched)  # not fetched again below
                self.chinese(dense + fetched)
            fused = normalised_scores(
                similarity, self.floors(vector, list(similarity), keywords), keyword, translated, s
            )
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        stored = {c.chunk_id: c for c in self.store.get([i for i in best if i not in known])}
        stored.update(known)
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
            hit.dense_similarity = similarity.get(chunk_id)
            hits.append(hit)
        return hits
