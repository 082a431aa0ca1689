"""Answering behind one LangChain Runnable interface; the offline default quotes the best sentences with [n]."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from rag.keyword import KeywordIndex
from rag.prompts import refusal
from rag.retrieval import Hit
from rag.settings import Settings
from rag.text import detect_script, han_share, keyword_tokens, sentence_spans, to_script, to_simplified


@dataclass
class Citation:
    """A numbered pointer from the answer to the chunk a quoted sentence came from."""

    n: int
    chunk_id: str
    source: str
    title: str
    quote: str  # verbatim from the chunk text
    section: str = ""
    start: int = 0  # character offsets of the quote in the source file
    end: int = 0


@dataclass
class Answer:
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    backend: str = "extractive"
    script: str = "en"
    hits: list[Hit] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # generated claims that failed verification
    notice: str = ""  # one line when the LLM failed or could not be verified (the extractive answer follows)
    rewritten_query: str | None = None  # the standalone question a follow-up was rewritten into

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "refused": self.refused,
            "backend": self.backend,
            "citations": [asdict(c) for c in self.citations],
            "unsupported": self.unsupported,
            "notice": self.notice,
            "rewritten_query": self.rewritten_query,
        }


class Answerer(Runnable[dict, Answer]):
    """Input {"question": str, "hits": list[Hit]}; `stream` yields text pieces, then the finished Answer."""

    backend = "base"

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        answer = None
        for piece in self.stream(input, config):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None, f"{type(self).__name__}.stream ended without an Answer"
        return answer

    def stream(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        raise NotImplementedError


def _core(text: str) -> str:
    """Letters and digits only, Simplified, lowercased: for spotting a question quoted in a sentence."""
    return "".join(ch for ch in to_simplified(text).lower() if ch.isalnum())


@dataclass
class Candidate:
    hit_index: int
    start: int  # offsets in the hit text
    end: int
    text: str
    score: float = 0.0
    similarity: float = 0.0
    coverage: float = 0.0


class ExtractiveAnswerer(Answerer):
    """No LLM: picks the retrieved sentences closest to the question, cites each, converts to its script."""

    backend = "extractive"

    def __init__(self, embedder, keywords: KeywordIndex, settings: Settings):
        self.embedder = embedder
        self.keywords = keywords
        self.settings = settings

    def candidates(self, hits: list[Hit]) -> list[Candidate]:
        out, seen = [], set()
        for h, hit in enumerate(hits):
            for a, b in sentence_spans(hit.text):
                text = hit.text[a:b]
                key = "".join(text.split())
                informative = len(key) >= 8 if han_share(text) > 0.5 else len(text.split()) >= 4
                is_label = key in ("".join(hit.title.split()), "".join(hit.section.split())) or key in "".join(
                    hit.section.split()
                )
                if informative and not is_label and key not in seen:  # overlapping chunks repeat sentences
                    seen.add(key)
                    out.append(Candidate(h, a, b, text))
        return out

    def coverage(self, query_terms: list[str], text: str) -> float:
        """Share of the question's idf weight whose terms occur in `text`."""
        weights = {t: self.keywords.idf(t) for t in set(query_terms)}
        total = sum(weights.values())
        if not total:
            return 0.0
        present = set(keyword_tokens(text))
        return sum(w for t, w in weights.items() if t in present) / total

    def score(self, question: str, hits: list[Hit], cands: list[Candidate]) -> None:
        q = self.embedder.embed_queries([question])[0]
        vectors = self.embedder.embed_passages([c.text for c in cands])
        sims = np.asarray(vectors) @ np.asarray(q)
        terms = keyword_tokens(question, for_query=True)
        asked = set(terms) | set(keyword_tokens(question))
        core = _core(question)
        for c, sim in zip(cands, sims):
            c.similarity = float(sim)
            c.coverage = self.coverage(terms, c.text)
            said = set(keyword_tokens(c.text))
            # A sentence that only repeats the question (a title, the question quoted) answers nothing.
            novelty = len(said - asked) / len(said) if said else 0.0
            # ... and one that quotes the question itself talks about the question, it does not answer it.
            quotes_question = len(core) >= 4 and core in _core(c.text)
            c.score = (
                c.similarity
                + self.settings.coverage_weight * c.coverage
                - self.settings.echo_penalty * (max(0.0, 0.5 - novelty) + 0.5 * quotes_question)
                + 0.01 / (1 + c.hit_index)
            )

    def is_answerable(self, cands: list[Candidate]) -> bool:
        """Refuse unless some sentence is close to the question (e5 scores are compressed: calibrated on dev)."""
        best_score = max(c.score for c in cands)
        best_similarity = max(c.similarity for c in cands)
        return best_score >= self.settings.answer_threshold and best_similarity >= self.settings.answer_min_similarity

    def select(self, cands: list[Candidate]) -> list[Candidate]:
        ranked = sorted(cands, key=lambda c: -c.score)
        floor = ranked[0].score - self.settings.answer_margin
        chosen = [c for c in ranked[: self.settings.answer_sentences] if c.score >= floor]
        # Read as an answer: the best sentence's passage first, each passage's sentences in document order.
        order = {}
        for c in chosen:
            order.setdefault(c.hit_index, len(order))
        return sorted(chosen, key=lambda c: (order[c.hit_index], c.start))

    def stream(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        question: str = input["question"]
        hits: list[Hit] = input["hits"]
        script = detect_script(question, self.settings.default_script)
        cands = self.candidates(hits)
        if cands:
            self.score(question, hits, cands)
        if not cands or not self.is_answerable(cands):
            text = refusal(script)
            yield text
            yield Answer(text=text, refused=True, script=script, hits=hits, backend=self.backend)
            return
        citations: list[Citation] = []
        number: dict[int, int] = {}
        pieces = []
        for c in self.select(cands):
            hit = hits[c.hit_index]
            if c.hit_index not in number:
                number[c.hit_index] = len(number) + 1
            n = number[c.hit_index]
            citations.append(
                Citation(n, hit.chunk_id, hit.source, hit.title, c.text, hit.section, hit.start + c.start, hit.start + c.end)
            )
            sentence = to_script(c.text, script) if script != "en" and han_share(c.text) > 0 else c.text
            joiner = " " if pieces else ""  # keeps "[1]" apart from the next sentence in either language
            piece = f"{joiner}{sentence} [{n}]"
            pieces.append(piece)
            yield piece
        yield Answer(text="".join(pieces), refused=False, citations=citations, script=script, hits=hits, backend=self.backend)
