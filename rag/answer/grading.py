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
from rag.answer.rules import reply
from rag.text import han_share

# The share of the question's content words (idf-weighted, in either language) one retrieved document must write
# for the passages to count as about the question's subject; the question's names must all be in it too. On the
# notebook dev set's dev split, off-topic questions share none (0.0) and questions on a document's subject, near
# misses included, 0.24 and more, but for two English questions over a Chinese document (0.0, 0.14) whose words the
# glossary does not translate.
SUBJECT_SHARE = 0.2
# Documents read for the subject: those of the best-ranked passages, which the closest sentences come from.
SUBJECT_HITS = 3
# Most sentences a partial answer quotes, and the least share of the best quote's coverage of the question's words
# another must have: a sentence sharing one common word with it is not close.
CLOSEST_QUOTES = 3
CLOSEST_COVERAGE = 0.5


def subject_shares(question: Question, hits: Sequence[Any], keywords, glossary=None) -> dict[str, float]:
    """For each document of the SUBJECT_HITS best passages, the share of the question's content words (weighted by
    idf, each counted when any form the notebook writes it in appears: rag.text.glossary.Glossary.written_forms)
    that its retrieved passages write; 0 for a document missing one of the question's names in all its spellings."""
    if glossary is not None:
        words = [(w, [w, *forms]) for w, forms in glossary.written_forms(question.text, keywords.knows)]
    else:
        words = [(t, [t]) for t in dict.fromkeys(question.terms)]
    weights = [max(keywords.idf(f) for f in forms) for _, forms in words]
    total = sum(weights) or 1.0
    # Names (NVIDIA / 輝達, Groq) say what the question is about; numbers and years say which attribute it asks.
    names = [g for g in question.focus if not g[0].replace(".", "").replace(",", "").isdigit()]
    # A question's capitalised first word is no name for that alone ("According to Maria Okafor, …").
    opening = question.text.split()[0] if question.text.split() else ""
    if opening.istitle() and opening.isascii() and opening.isalpha():
        names = [g for g in names if g[0] != opening.lower()]
    documents: dict[str, list[Any]] = {}
    for hit in hits:
        if hit.source in documents or len(documents) < SUBJECT_HITS:
            documents.setdefault(hit.source, []).append(hit)
    shares = {}
    for source, passages in documents.items():
        views = [text_view(f"{h.title}\n{h.section}\n{h.text}") for h in passages]
        present = frozenset().union(*(v.tokens for v in views))
        flat = " ".join(v.flat for v in views)
        named = all(any(t in present or t in flat for t in g) for g in names)
        # A Chinese word is read in the running text too: the passage's tokens cut 氣炸鍋 whole, not 氣炸.
        said = sum(
            w
            for (_, forms), w in zip(words, weights)
            if any(f in present or (han_share(f) > 0 and f in flat) for f in forms)
        )
        shares[source] = said / total if named and words else 0.0
    return shares


def subject_documents(question: Question, hits: Sequence[Any], keywords, glossary=None) -> set[str]:
    """The documents whose retrieved passages are about the question's subject (SUBJECT_SHARE of its words, all
    of its names); none: nothing retrieved is about the question."""
    shares = subject_shares(question, hits, keywords, glossary)
    return {source for source, share in shares.items() if share >= SUBJECT_SHARE}


def closest(scored: Sequence[Any], hits: Sequence[Any], documents: set[str], limit: int = CLOSEST_QUOTES) -> list[Any]:
    """The sentences a partial answer quotes: the best-scored candidates from `documents` (those about the
    question's subject) that share its words (in either language; CLOSEST_COVERAGE of the best one's share) and say
    something themselves (not one holding the user's question; a question the document asks gives way to its
    reply), best first."""
    said = [c for c in scored if c.coverage > 0 and not c.restates and hits[c.hit_index].source in documents]
    out: list[Any] = []
    for c in on_topic(said):
        # A question the document asks as a turn (an interviewer's line) is shown by the reply after it.
        shown = reply(c) or c
        if shown not in out:
            out.append(shown)
    return out[:limit]


def on_topic(sentences: Sequence[Any]) -> list[Any]:
    """The sentences sharing at least CLOSEST_COVERAGE of the best one's share of the question's words."""
    floor = CLOSEST_COVERAGE * max((c.coverage for c in sentences), default=0.0)
    return [c for c in sentences if c.coverage >= floor]
