"""Grading an answer the documents do not give: partial (the passages are about the question's subject, and the
closest sentences are quoted for the user to judge) or not_found (nothing retrieved is about the question).

A refusal that hides the passage which answers is the costliest error a notebook over one's own documents makes;
partial keeps the evidence in view whenever the passages are on the question's subject, and not_found is kept for
questions the notebook is not about (「蘋果今年的營收是多少?」 over notes on chips, "What is the capital of France?").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.answer.features import text_view
from rag.answer.question import Question
from rag.answer.rules import asks_question

# The share of the question's content words (idf-weighted, in either language) one retrieved passage must write for
# the passages to count as about the question's subject; the question's names must all be in it too.
SUBJECT_SHARE = 0.5
# Documents read for the subject: those of the best-ranked passages, which the closest sentences come from.
SUBJECT_HITS = 3
# Most sentences a partial answer quotes, and the least share of the best quote's coverage of the question's words
# another must have: a sentence sharing one common word with it is not close.
CLOSEST_QUOTES = 3
CLOSEST_COVERAGE = 0.5


def subject_share(question: Question, hits: Sequence[Any], keywords, glossary=None) -> float:
    """The largest share of the question's content words (weighted by idf, each counted when any form the notebook
    writes it in appears: rag.text.glossary.Glossary.written_forms) that one document writes in its retrieved
    passages (the documents of the SUBJECT_HITS best ones); 0 for a document missing one of the question's names in
    all its spellings."""
    if glossary is not None:
        words = [(w, [w, *forms]) for w, forms in glossary.written_forms(question.text, keywords.knows)]
    else:
        words = [(t, [t]) for t in dict.fromkeys(question.terms)]
    if not words:
        return 0.0
    weights = [max(keywords.idf(f) for f in forms) for _, forms in words]
    total = sum(weights) or 1.0
    # Names (NVIDIA / 輝達, Groq) say what the question is about; numbers and years say which attribute it asks.
    names = [g for g in question.focus if not g[0].replace(".", "").replace(",", "").isdigit()]
    documents: dict[str, list[Any]] = {}
    for hit in hits:
        if hit.source in documents or len(documents) < SUBJECT_HITS:
            documents.setdefault(hit.source, []).append(hit)
    best = 0.0
    for passages in documents.values():
        views = [text_view(f"{h.title}\n{h.section}\n{h.text}") for h in passages]
        present = frozenset().union(*(v.tokens for v in views))
        flat = " ".join(v.flat for v in views)
        if not all(any(t in present or t in flat for t in g) for g in names):
            continue
        share = sum(w for (_, forms), w in zip(words, weights) if any(f in present for f in forms)) / total
        best = max(best, share)
    return best


def about_subject(question: Question, hits: Sequence[Any], keywords, glossary=None) -> bool:
    """The retrieved passages are about the question's subject (SUBJECT_SHARE of its words, all of its names)."""
    return subject_share(question, hits, keywords, glossary) >= SUBJECT_SHARE


def closest(scored: Sequence[Any], limit: int = CLOSEST_QUOTES) -> list[Any]:
    """The sentences a partial answer quotes: the best-scored candidates that share the question's words (in
    either language; CLOSEST_COVERAGE of the best one's share) and say something themselves (not a question the document asks, nor one holding the user's
    question), best first."""
    said = [c for c in scored if c.coverage > 0 and not c.restates and not asks_question(c.text)]
    return on_topic(said)[:limit]


def on_topic(sentences: Sequence[Any]) -> list[Any]:
    """The sentences sharing at least CLOSEST_COVERAGE of the best one's share of the question's words."""
    floor = CLOSEST_COVERAGE * max((c.coverage for c in sentences), default=0.0)
    return [c for c in sentences if c.coverage >= floor]
