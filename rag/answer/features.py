"""The answer model's inputs, each by name: a sentence's features (SENTENCE_FEATURES) and a question's gate features
(GATE_FEATURES), and the text views and similarities they read."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rag.answer.question import Question
from rag.answer.rules import names_subject
from rag.text import han_share, sentence_spans
from rag.text.script import reads_as_chinese
from rag.text.terms import han_bigrams, matching_form, tokens_of_matching_form
from rag.types import Hit


@dataclass(frozen=True)
class TextView:
    """What the features read of one text, from a single OpenCC pass (the costly step: ~1 ms a sentence)."""

    flat: str  # matching_form, lowercased
    tokens: frozenset[str]  # keyword_tokens
    bigrams: frozenset[str]  # Han character bigrams
    core: str  # letters and digits only: for spotting the question quoted in a sentence
    han: float  # share of Han characters


@lru_cache(maxsize=16384)
def text_view(text: str) -> TextView:
    """The TextView of a text; cached, since the same passages come back question after question."""
    flat = matching_form(text).lower()
    return TextView(
        flat,
        frozenset(tokens_of_matching_form(flat)),
        frozenset(han_bigrams(flat, simplified=True)),
        "".join(ch for ch in flat if ch.isalnum()),
        han_share(text),
    )


_SECTION_PARTS = re.compile(r" › | · ")  # ingest.chunker's separators: date · post title › heading


def subject_label(label: str) -> str:
    """The parts of a passage's title or section path that name its subject: headings, not a dated post's opening
    sentences taken as its title (「市場對其新一代Blackwell架構的強勁需求。strong demand…」 above a list on Feynman)."""
    return " ".join(p for p in _SECTION_PARTS.split(label) if len(sentence_spans(p)) <= 1)


def coverage(weights: dict[str, float], present: set[str] | frozenset[str]) -> float:
    """Share of the weight of `weights` (a question's words -> idf) whose words are `present`."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def focus_share(groups: list[list[str]], flat: str) -> float:
    """Share of the question's focus items (a name with its other spellings is one item) in the flat text."""
    if not groups:
        return 1.0
    return sum(any(t in flat for t in g) for g in groups) / len(groups)


def _local_weights(
    weights: dict[str, float], sentence_sets: list[frozenset[str]], given: frozenset[str]
) -> dict[str, float]:
    """The question's words weighted by how well they tell one passage's sentences apart: a word in every sentence
    or in the title (the passage's subject: 交叉笛鲷) says which passage, not which sentence (体长, 可达)."""
    n = len(sentence_sets)
    out = {}
    for t, w in weights.items():
        df = n if t in given else sum(t in s for s in sentence_sets)
        out[t] = w * math.log1p(n / (1 + df))
    return out


def other_language(question: Question, sentence: str, passage: str = "") -> bool:
    """The sentence (in `passage`) is written in the other language than the question: the `cross` feature, and
    what keeps a sentence from e5's titled reading (as_embedded)."""
    return reads_as_chinese(sentence, passage) != question.chinese


@dataclass
class Sentence:
    """What the features of one candidate sentence read: the candidate (rag.answer.extractive.Candidate: hit_index,
    start, end, text), its passage, and what sentence_features computed once for the question's candidates."""

    question: Question
    cand: Any
    hit: Hit
    view: TextView
    said: frozenset[str]  # its keyword tokens
    cov_own: float  # coverage of the question's own words
    cov_other: float  # ... of its words in the other language
    passage_cov: float  # the best of both over its passage and title
    passage_focus: float  # focus share of its passage and title
    neighbour_cov: float  # cov_own of its neighbours in the same passage, the best
    window_said: frozenset[str]  # its tokens and its neighbours'
    window_bigrams: frozenset[str]
    window_flat: str  # it and its neighbours with its passage's title and section: they name what "it" refers to
    local: tuple[dict[str, float], dict[str, float], dict[str, float]]  # own, other, bigram weights in its passage
    best_hit: float  # the best hit's fused score
    top_idf: float  # the question's rarest word's idf
    cross: float  # 1.0 when in the other language (other_language)
    typed: float  # has the kind of fact the question asks for

    @property
    def attribute(self) -> float:
        """The attribute asked for: the question's words that are not its focus (names, numbers) — 良率 in
        「台積電3奈米良率是多少?」, "ceo" in "Who is the CEO of Groq?". An answer holds both near each other."""
        q = self.question
        named = {t for g in q.focus for t in g}
        own = {t: w for t, w in q.own.items() if t not in named}
        other = {t: w for t, w in q.other.items() if t not in named}
        if not own and not other:
            return 1.0
        return max(coverage(own, self.window_said), coverage(other, self.window_said))

    @property
    def missing_idf(self) -> float:
        """The rarest question word the window lacks, as a share of the rarest one: one missing name or number
        marks a near miss."""
        return max((w for t, w in self.question.own.items() if t not in self.window_said), default=0.0) / self.top_idf


def _set_later(s: Sentence) -> float:
    """A column computed after the table: the embedders' similarities (fill_similarities, for the shortlist only)
    and the gaps to the question's best (with_gaps)."""
    return 0.0


# Every sentence feature by name, in the column order rag/answer/model.json was fitted on.
FEATURES: dict[str, Callable[[Sentence], float]] = {
    "e5": _set_later,  # the question's e5 cosine to the sentence (as_embedded)
    "e5_gap": _set_later,
    "use": _set_later,  # USE's (cross-lingual) cosine; e5's again without USE
    "use_gap": _set_later,
    "cov_own": lambda s: s.cov_own,
    "cov_own_gap": _set_later,
    "cov_other": lambda s: s.cov_other,
    "cov_best": lambda s: max(s.cov_own, s.cov_other),
    "cov_passage": lambda s: s.passage_cov,
    "neighbour_cov": lambda s: s.neighbour_cov,
    "focus_sentence": lambda s: focus_share(s.question.focus, s.view.flat),
    "focus_passage": lambda s: s.passage_focus,
    "has_focus": lambda s: float(bool(s.question.focus)),
    "asks_type": lambda s: float(s.question.answer_type is not None),
    "typed": lambda s: s.typed,
    "typed_missing": lambda s: float(s.question.answer_type is not None and not s.typed),
    "asks_person": lambda s: float(s.question.asks_person),
    "novelty": lambda s: len(s.said - s.question.asked) / len(s.said) if s.said else 0.0,
    "quotes_question": lambda s: float(any(q in s.view.core for q in s.question.parts)),
    "hit_rank": lambda s: 1.0 / (1 + s.cand.hit_index),
    "hit_score_ratio": lambda s: s.hit.score / s.best_hit,
    "position": lambda s: s.cand.start / max(1, len(s.hit.text)),
    "first_in_hit": lambda s: float(s.cand.start == 0 or not s.hit.text[: s.cand.start].strip()),
    "log_length": lambda s: math.log1p(len(s.cand.text)),
    "cross": lambda s: s.cross,
    "cross_use": _set_later,
    "cross_e5": _set_later,
    "cross_cov_other": lambda s: s.cross * s.cov_other,
    "same_cov_own": lambda s: (1 - s.cross) * s.cov_own,
    "bigram_cov": lambda s: coverage(s.question.bigrams, s.view.bigrams),
    "bigram_cov_window": lambda s: coverage(s.question.bigrams, s.window_bigrams),
    "cov_window": lambda s: coverage(s.question.own, s.window_said),
    "missing_idf": lambda s: s.missing_idf,
    "hit_dense": lambda s: s.hit.dense_similarity or 0.0,
    "hit_keyword": lambda s: 1.0 / s.hit.keyword_rank if s.hit.keyword_rank else 0.0,
    "local_cov": lambda s: max(coverage(s.local[0], s.said), coverage(s.local[1], s.said)),
    "local_bigram_cov": lambda s: coverage(s.local[2], s.view.bigrams),
    "local_cov_window": lambda s: max(coverage(s.local[0], s.window_said), coverage(s.local[1], s.window_said)),
    "focus_window": lambda s: focus_share(s.question.focus, s.window_flat),
    "attribute_window": lambda s: s.attribute,
}
SENTENCE_FEATURES = list(FEATURES)
COLUMN = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
# Computed for the shortlisted sentences only: embedding every candidate was most of an answer's time.
SIMILARITY_FEATURES = ("e5", "e5_gap", "use", "use_gap", "cross_use", "cross_e5")
_GAPS = (("e5_gap", "e5"), ("use_gap", "use"), ("cov_own_gap", "cov_own"))


def sentence_features(question: Question, hits: list[Hit], cands: list) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate, the SIMILARITY_FEATURES left at 0: fill_similarities adds them
    for the shortlisted rows only. `question` analysed with the notebook's keyword index (its weights)."""
    q = question
    views = [text_view(c.text) for c in cands]
    said_sets = [v.tokens for v in views]
    cov_own = np.array([coverage(q.own, s) for s in said_sets])
    cov_other = np.array([coverage(q.other, s) for s in said_sets])
    passage = {}
    for h, hit in enumerate(hits):
        body, title = text_view(hit.text), text_view(hit.title)
        present = body.tokens | title.tokens
        passage[h] = (
            max(coverage(q.own, present), coverage(q.other, present)),
            focus_share(q.focus, title.flat + " " + body.flat),
        )
    best_hit = max((h.score for h in hits), default=0.0) or 1.0
    top_idf = max(q.own.values(), default=0.0) or 1.0
    local = {}
    for h, hit in enumerate(hits):
        members = [i for i, c in enumerate(cands) if c.hit_index == h]
        words, pairs, title = [said_sets[i] for i in members], [views[i].bigrams for i in members], text_view(hit.title)
        local[h] = (
            _local_weights(q.own, words, title.tokens),
            _local_weights(q.other, words, title.tokens),
            _local_weights(q.bigrams, pairs, title.bigrams),
        )
    rows = []
    for i, c in enumerate(cands):
        hit = hits[c.hit_index]
        # The sentence with its neighbours in the same passage: an answer often spans two sentences.
        window = [j for j in (i - 1, i, i + 1) if 0 <= j < len(cands) and cands[j].hit_index == c.hit_index]
        s = Sentence(
            question=q,
            cand=c,
            hit=hit,
            view=views[i],
            said=said_sets[i],
            cov_own=cov_own[i],
            cov_other=cov_other[i],
            passage_cov=passage[c.hit_index][0],
            passage_focus=passage[c.hit_index][1],
            neighbour_cov=max((cov_own[j] for j in window if j != i), default=0.0),
            window_said=frozenset().union(*(said_sets[j] for j in window)),
            window_bigrams=frozenset().union(*(views[j].bigrams for j in window)),
            window_flat=" ".join(
                [text_view(subject_label(hit.title)).flat, text_view(subject_label(hit.section)).flat]
                + [views[j].flat for j in window]
            ),
            local=local[c.hit_index],
            best_hit=best_hit,
            top_idf=top_idf,
            cross=float(other_language(q, c.text, hit.text)),
            typed=float(q.shows_answer_type(c.text)),
        )
        rows.append([feature(s) for feature in FEATURES.values()])
    return with_gaps(np.asarray(rows, dtype=np.float64).reshape(len(cands), len(SENTENCE_FEATURES)))


def with_gaps(x: np.ndarray) -> np.ndarray:
    """Sets the *_gap columns: each row's distance to the best of these rows (the question's candidates)."""
    if len(x):
        for gap, base in _GAPS:
            x[:, COLUMN[gap]] = x[:, COLUMN[base]] - x[:, COLUMN[base]].max()
    return x


def as_embedded(question: Question, title: str, sentence: str, passage: str = "") -> str:
    """The text e5 compares with the question: a sentence in the question's language under its passage's title
    when the title names the subject ("黄鞍鹦嘴鱼: 本鱼分布于印度太平洋区…"), since many sentences leave their subject to
    it; else the sentence alone: across languages, and under a headline, the title makes every sentence of the
    passage look alike (measured: bench/results/answers-notes.md)."""
    titled = names_subject(title) and not other_language(question, sentence, passage)
    return f"{title.strip()}: {sentence}" if titled else sentence


def similarities(
    question: Question, hits: list[Hit], cands: list, embedder, cross_embedder=None
) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of the question to each candidate: e5's (`embedder`; a sentence in the question's language read under
    its passage's title: as_embedded), and USE's (`cross_embedder`, the cross-lingual one) on the sentence; e5's again
    without it."""
    titled = [as_embedded(question, hits[c.hit_index].title, c.text, hits[c.hit_index].text) for c in cands]
    # One sentence per forward pass: the int8 encoder quantises activations over its whole batch, so a sentence
    # embedded beside others (and remembered) came out differently with what was asked before (cosine to the
    # question ±0.005, enough to move the gate across its cut: the same question answered or refused by turns).
    query = np.asarray(embedder.embed_queries([question.text])[0])
    e5 = np.array([float(np.asarray(embedder.embed_passages([t]))[0] @ query) for t in titled])
    if cross_embedder is None:
        return e5, e5
    use = np.asarray(cross_embedder.embed_passages([c.text for c in cands])) @ np.asarray(
        cross_embedder.embed_queries([question.text])[0]
    )
    return e5, use


def fill_similarities(x: np.ndarray, e5_sims: np.ndarray, use_sims: np.ndarray) -> np.ndarray:
    """x (the shortlisted candidates' rows) with the embedders' question-sentence cosines and the gaps over x."""
    x = x.copy()
    cross = x[:, COLUMN["cross"]]
    for name, value in (
        ("e5", e5_sims),
        ("use", use_sims),
        ("cross_e5", cross * e5_sims),
        ("cross_use", cross * use_sims),
    ):
        x[:, COLUMN[name]] = value
    return with_gaps(x)


@dataclass
class Scored:
    """What the gate features read of one question's scored candidates: their feature columns by name, their
    sentence logits best first, and the best one's row."""

    f: dict[str, np.ndarray]
    order: np.ndarray  # candidate indices, best logit first
    top: np.ndarray  # the logits, best first
    # A lone candidate has no runner-up: it is taken as 5 logits below, a clear lead (wider than any fitted margin).
    top2: float
    joint: np.ndarray  # the focus and the attribute asked for, together in a sentence's window

    @property
    def b(self) -> int:
        return int(self.order[0])


# Every gate feature by name, in the column order rag/answer/model.json was fitted on.
GATE: dict[str, Callable[[Scored], float]] = {
    "top1": lambda g: g.top[0],
    "top2": lambda g: g.top2,
    "top1_gap": lambda g: g.top[0] - g.top2,
    "max_e5": lambda g: g.f["e5"].max(),
    "max_use": lambda g: g.f["use"].max(),
    "best_cov": lambda g: g.f["cov_best"][g.b],
    "best_cov_own": lambda g: g.f["cov_own"][g.b],
    "best_cov_other": lambda g: g.f["cov_other"][g.b],
    "best_focus_sentence": lambda g: g.f["focus_sentence"][g.b],
    "max_focus_passage": lambda g: g.f["focus_passage"].max(),
    "has_focus": lambda g: g.f["has_focus"][g.b],
    "asks_type": lambda g: g.f["asks_type"][g.b],
    "best_typed": lambda g: g.f["typed"][g.b],
    "any_typed_top3": lambda g: g.f["typed"][g.order[:3]].max(),
    "best_cross": lambda g: g.f["cross"][g.b],
    "max_cov_passage": lambda g: g.f["cov_passage"].max(),
    "best_novelty": lambda g: g.f["novelty"][g.b],
    "top3_mean": lambda g: g.top[:3].mean(),
    "best_bigram_cov": lambda g: g.f["bigram_cov"][g.b],
    "max_bigram_cov_window": lambda g: g.f["bigram_cov_window"].max(),
    "best_missing_idf": lambda g: g.f["missing_idf"][g.b],
    "min_missing_idf_top3": lambda g: g.f["missing_idf"][g.order[:3]].min(),
    "max_cov_window": lambda g: g.f["cov_window"].max(),
    "max_hit_dense": lambda g: g.f["hit_dense"].max(),
    "best_hit_keyword": lambda g: g.f["hit_keyword"][g.b],
    "best_cov_window": lambda g: g.f["cov_window"][g.b],
    "best_local_cov": lambda g: g.f["local_cov"][g.b],
    "max_local_cov_window": lambda g: g.f["local_cov_window"].max(),
    "best_joint": lambda g: g.joint.max(),
    "joint_at_best": lambda g: g.joint[g.b],
    "attribute_at_best": lambda g: g.f["attribute_window"][g.b],
}
GATE_FEATURES = list(GATE)


def gate_features(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """GATE_FEATURES of one question from its candidates' features `x` and sentence logits."""
    f = {name: x[:, i] for i, name in enumerate(SENTENCE_FEATURES)}
    order = np.argsort(-logits)
    top = logits[order]
    top2 = top[1] if len(top) > 1 else top[0] - 5.0
    g = Scored(f, order, top, top2, np.minimum(f["focus_window"], f["attribute_window"]))
    return np.array([feature(g) for feature in GATE.values()], dtype=np.float64)
