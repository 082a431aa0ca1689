"""The learned answer model: per-sentence features, the sentence scorer and the answer-or-refuse gate.

Weights live in rag/answer/model.json, fitted by bench/train_answer_model.py on public QA data (DRCD test,
CMRC 2018 trial, XQuAD even-numbered articles); run time is numpy only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.extractive import _core, answer_type, shows_answer_type
from rag.text import han_share, keyword_tokens, to_simplified

MODEL_FILE = Path(__file__).with_name("model.json")

_ASKS_PERSON = re.compile(r"谁|誰|哪位|\bwho(m|se)?\b", re.IGNORECASE)
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
# A name or model in Latin letters: capitalised or with a digit (NVIDIA, H100, GPT-4, Gemini).
# Bounded by non-Latin characters, not \b: Han characters count as word characters (輝達的H100).
_LATIN_NAME = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z][A-Za-z0-9\-]*|[A-Za-z]+\d[A-Za-z0-9\-]*)(?![A-Za-z0-9])")
# A number on its own, not the digits of a model name (H100).
_FOCUS_NUMBER = re.compile(r"(?<![A-Za-z0-9.,])\d+(?:[.,]\d+)*")
_SENTENCE_START_WORDS = frozenset(["what", "which", "who", "whom", "whose", "how", "why", "when", "where", "is", "are", "was", "were", "do", "does", "did", "can", "could", "the", "a", "an", "in", "on", "of"])


def focus_groups(question: str, glossary=None) -> list[list[str]]:
    """The question's numbers and names, each with its other spellings (輝達 / nvidia / 英伟达), lowercased
    Simplified: what an answer must be about (another model version, year or company is a near miss)."""
    groups = [[n] for n in _FOCUS_NUMBER.findall(question)]
    for name in _LATIN_NAME.findall(question):
        if name.lower() not in _SENTENCE_START_WORDS:
            aliases = glossary.en_names.get(name.lower(), [])[:3] if glossary is not None else []
            groups.append([name.lower(), *aliases])
    if glossary is not None:
        for run in _HAN_RUN.findall(to_simplified(question)):
            for word in glossary.words(run):
                if word in glossary.names:
                    english = glossary.names[word]
                    groups.append([word, english.lower(), *glossary.en_names.get(english.lower(), [])[:3]])
    return [list(dict.fromkeys(g)) for g in groups]


def _focus_share(groups: list[list[str]], text: str) -> float:
    """Share of the question's focus items (a name with its other spellings is one item) present in `text`."""
    if not groups:
        return 1.0
    flat = to_simplified(text).lower()
    return sum(any(t in flat for t in g) for g in groups) / len(groups)


SENTENCE_FEATURES = [
    "e5", "e5_gap", "use", "use_gap", "cov_own", "cov_own_gap", "cov_other", "cov_best", "cov_passage",
    "neighbour_cov", "focus_sentence", "focus_passage", "has_focus", "asks_type", "typed", "typed_missing",
    "asks_person", "novelty", "quotes_question", "hit_rank", "hit_score_ratio", "position", "first_in_hit",
    "log_length", "cross", "cross_use", "cross_e5", "cross_cov_other", "same_cov_own",
]
GATE_FEATURES = [
    "top1", "top2", "top1_gap", "max_e5", "max_use", "best_cov", "best_cov_own", "best_cov_other",
    "best_focus_sentence", "max_focus_passage", "has_focus", "asks_type", "best_typed", "any_typed_top3",
    "best_cross", "max_cov_passage", "best_novelty", "top3_mean",
]


@dataclass
class Linear:
    """A standardised logistic-regression layer: sigmoid(((x - mean) / scale) · w + b)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    @classmethod
    def from_dict(cls, d: dict) -> Linear:
        return cls(*(np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "weights")), float(d["bias"]))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.weights + self.bias


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


class AnswerModel:
    """Sentence scorer + gate loaded from JSON; `threshold` is the gate's probability cut (fitted on training
    data for ≤ 4% false refusals) unless a setting overrides it."""

    def __init__(self, data: dict):
        assert data["sentence_features"] == SENTENCE_FEATURES and data["gate_features"] == GATE_FEATURES, (
            "rag/answer/model.json was fitted on other features: run `make answer-model`"
        )
        self.sentence = Linear.from_dict(data["sentence"])
        self.gate = Linear.from_dict(data["gate"])
        self.threshold = float(data["gate"]["threshold"])
        # Cuts fitted apart for a best sentence in the question's language and in the other one.
        self.threshold_same = float(data["gate"].get("threshold_same", self.threshold))
        self.threshold_cross = float(data["gate"].get("threshold_cross", self.threshold))
        self.data = data

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerModel:
        return _load(str(path))

    def sentence_logits(self, x: np.ndarray) -> np.ndarray:
        return self.sentence.logits(x)

    def cut(self, g: np.ndarray) -> float:
        """The fitted probability cut for a question with gate features `g`."""
        return self.threshold_cross if g[GATE_FEATURES.index("best_cross")] > 0.5 else self.threshold_same

    def answerable_probability(self, g: np.ndarray) -> float:
        return float(sigmoid(self.gate.logits(g[None, :]))[0])


@lru_cache(maxsize=4)
def _load(path: str) -> AnswerModel:
    return AnswerModel(json.loads(Path(path).read_text(encoding="utf-8")))


def _coverage(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def sentence_features(
    question: str, hits: list, cands: list, e5_sims: np.ndarray, use_sims: np.ndarray, keywords, glossary=None
) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate (rag.answer.Candidate: hit_index, start, end, text)."""
    chinese_question = han_share(question) > 0.5
    terms = keyword_tokens(question, for_query=True)
    own = {t: keywords.idf(t) for t in set(terms)}
    asked = set(terms) | set(keyword_tokens(question))
    other_terms: list[str] = []
    if glossary is not None:
        other_terms = glossary.other_language_terms(question, keywords.knows) + glossary.name_terms(question)
    other = {t: keywords.idf(t) for t in set(other_terms)}
    focus = focus_groups(question, glossary)
    core = _core(question)
    wanted = answer_type(question)
    asks_person = bool(_ASKS_PERSON.search(question))
    passage_cov = {}
    for h, hit in enumerate(hits):
        present = set(keyword_tokens(hit.text)) | set(keyword_tokens(hit.title))
        passage_cov[h] = (max(_coverage(own, present), _coverage(other, present)), _focus_share(focus, hit.title + " " + hit.text))
    best_hit = max((getattr(h, "score", 0.0) for h in hits), default=0.0) or 1.0
    rows = []
    said_sets = [set(keyword_tokens(c.text)) for c in cands]
    cov_own = np.array([_coverage(own, s) for s in said_sets])
    cov_other = np.array([_coverage(other, s) for s in said_sets])
    for i, c in enumerate(cands):
        hit = hits[c.hit_index]
        said = said_sets[i]
        cross = float((han_share(c.text) > 0.5) != chinese_question)
        novelty = len(said - asked) / len(said) if said else 0.0
        quotes = float(len(core) >= 4 and core in _core(c.text))
        typed = float(wanted is not None and shows_answer_type(wanted, c.text, question))
        neighbours = [cov_own[j] for j in (i - 1, i + 1) if 0 <= j < len(cands) and cands[j].hit_index == c.hit_index]
        focus_s = _focus_share(focus, c.text)
        rows.append(
            [
                e5_sims[i], 0.0, use_sims[i], 0.0, cov_own[i], 0.0, cov_other[i], max(cov_own[i], cov_other[i]),
                passage_cov[c.hit_index][0], max(neighbours, default=0.0), focus_s, passage_cov[c.hit_index][1],
                float(bool(focus)), float(wanted is not None), typed, float(wanted is not None and not typed),
                float(asks_person), novelty, quotes, 1.0 / (1 + c.hit_index), getattr(hit, "score", 0.0) / best_hit,
                c.start / max(1, len(hit.text)), float(c.start == 0 or not hit.text[: c.start].strip()),
                math.log1p(len(c.text)), cross, cross * use_sims[i], cross * e5_sims[i], cross * cov_other[i],
                (1 - cross) * cov_own[i],
            ]
        )
    x = np.asarray(rows, dtype=np.float64).reshape(len(cands), len(SENTENCE_FEATURES))
    if len(x):
        for col, base in (("e5_gap", "e5"), ("use_gap", "use"), ("cov_own_gap", "cov_own")):
            b = SENTENCE_FEATURES.index(base)
            x[:, SENTENCE_FEATURES.index(col)] = x[:, b] - x[:, b].max()
    return x


def gate_features(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """GATE_FEATURES of one question from its candidates' features and sentence logits."""
    f = {name: x[:, i] for i, name in enumerate(SENTENCE_FEATURES)}
    order = np.argsort(-logits)
    b = order[0]
    top = logits[order]
    top2 = top[1] if len(top) > 1 else top[0] - 5.0
    return np.array(
        [
            top[0], top2, top[0] - top2, f["e5"].max(), f["use"].max(), f["cov_best"][b], f["cov_own"][b],
            f["cov_other"][b], f["focus_sentence"][b], f["focus_passage"].max(), f["has_focus"][b], f["asks_type"][b],
            f["typed"][b], f["typed"][order[:3]].max(), f["cross"][b], f["cov_passage"].max(), f["novelty"][b],
            top[:3].mean(),
        ],
        dtype=np.float64,
    )
