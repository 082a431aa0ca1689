"""The offline default answerer (no LLM): quotes the retrieved sentences closest to the question, each cited [n]."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.runnables import RunnableConfig

from rag.answer import Answerer
from rag.index.keyword import KeywordIndex
from rag.messages import NO_TIME, REFUSAL, refusal
from rag.settings import Settings
from rag.text import detect_script, han_share, keyword_tokens, sentence_spans, to_script, to_simplified
from rag.types import Answer, AnswerRequest, Citation, Delta, Final, Hit

# What kind of answer a question asks for, and how a sentence shows it has one (extractive QA's answer types).
_ASKS_TIME = re.compile(
    r"什么时候|什麼時候|何时|何時|哪一年|哪年|几月|幾月|哪天|多久|\bwhen\b|what year|what date|how long", re.IGNORECASE
)
_ASKS_AMOUNT = re.compile(
    r"多少|幾[個台家種次倍年歲%％]|几[个台家种次倍年岁%％]|多大|多快|\bhow (much|many|fast|big|large)\b", re.IGNORECASE
)
_HAS_TIME = re.compile(
    r"\d{4}|\d{1,2}\s*[月日號号]|[一二三四五六七八九十〇零兩两]+\s*[年月日]|[今明去前后後]年|[今明昨前后後]天|年[中底初]|[上下]半年|"
    r"[上下本这這][個个]?(月|週|周|星期|季)|季度|最近|近期|目前|即將|即将|不久|之後|之后|以後|以后|\d+\s*(年|天|週|周|個月|个月|小時|小时)|"
    r"Q[1-4]\b|\b(19|20)\d\d\b|\b(next|this|last|coming) (year|month|quarter|week)\b|\b(january|february|march|april|"
    r"may|june|july|august|september|october|november|december|today|tomorrow|yesterday|recently|soon|ago|later|"
    r"currently|now)\b|\b\d+ (years?|months?|days?|weeks?|hours?)\b|\b\d+s\b",
    re.IGNORECASE,
)
_HAS_AMOUNT = re.compile(r"\d|[一二兩两三四五六七八九十百千萬万億亿]+\s*[倍個个台家種种次年%％美元億亿萬万]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def answer_type(question: str) -> re.Pattern | None:
    """The pattern a sentence answering `question` must show: a time for "when", a number for "how much"."""
    if _ASKS_TIME.search(question):
        return _HAS_TIME
    if _ASKS_AMOUNT.search(question):
        return _HAS_AMOUNT
    return None


def shows_answer_type(pattern: re.Pattern, sentence: str, question: str) -> bool:
    """The sentence has the asked-for kind of fact, not only numbers the question itself gives."""
    asked = set(_NUMBER.findall(question))
    return bool(pattern.search(_NUMBER.sub(lambda m: "" if m.group(0) in asked else m.group(0), sentence)))


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
    typed: bool = False  # has the kind of fact the question asks for (a time, a number)
    features: Any = None  # its row of rag.answer.model.SENTENCE_FEATURES
    logit: float = 0.0  # the learned sentence scorer's logit; score is its probability


class ExtractiveAnswerer(Answerer):
    """No LLM: picks the retrieved sentences closest to the question, cites each, converts to its script."""

    backend = "extractive"

    def __init__(self, embedder, keywords: KeywordIndex, settings: Settings, glossary=None, cross_embedder=None):
        self.embedder = embedder
        self.keywords = keywords
        self.settings = settings
        self.glossary = glossary  # rag.text.glossary.Glossary: question keywords in the other language, for coverage
        # USE (the fused index's cross-lingual part): its question-sentence cosine holds across languages.
        self.cross_embedder = cross_embedder

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

    def sentence_features(self, question: str, hits: list[Hit], cands: list[Candidate]) -> np.ndarray:
        """rag.answer.model.SENTENCE_FEATURES of each candidate; each model embeds all sentences in one batch."""
        from rag.answer.model import sentence_features

        texts = [c.text for c in cands]
        e5 = np.asarray(self.embedder.embed_passages(texts)) @ np.asarray(self.embedder.embed_queries([question])[0])
        if self.cross_embedder is not None:
            use = np.asarray(self.cross_embedder.embed_passages(texts)) @ np.asarray(
                self.cross_embedder.embed_queries([question])[0]
            )
        else:
            use = e5
        return sentence_features(question, hits, cands, e5, use, self.keywords, self.glossary)

    def score(self, question: str, hits: list[Hit], cands: list[Candidate]) -> None:
        """Each candidate's probability of holding the answer, from the learned sentence scorer
        (rag/answer/model.json, fitted on DRCD test, CMRC 2018 trial and XQuAD by bench/train_answer_model.py)."""
        from rag.answer.model import SENTENCE_FEATURES, AnswerModel, sigmoid

        x = self.sentence_features(question, hits, cands)
        logits = AnswerModel.load().sentence_logits(x)
        col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
        for c, row, logit in zip(cands, x, logits):
            c.features, c.logit, c.score = row, float(logit), float(sigmoid(logit))
            c.similarity = float(row[col["e5"]])
            c.coverage = float(row[col["cov_best"]])
            c.typed = bool(row[col["typed"]])

    def gate(self, cands: list[Candidate]) -> tuple[float, float]:
        """The learned gate's probability that the best candidates answer the question, and its cut."""
        from rag.answer.model import AnswerModel, gate_features

        model = AnswerModel.load()
        g = gate_features(np.stack([c.features for c in cands]), np.array([c.logit for c in cands]))
        cut = self.settings.answer_gate if self.settings.answer_gate is not None else model.cut(g)
        return model.answerable_probability(g), cut

    def answerable_probability(self, cands: list[Candidate]) -> float:
        return self.gate(cands)[0]

    def is_answerable(self, cands: list[Candidate]) -> bool:
        """Answer only when the learned gate says the best sentences hold the answer; its cut is
        settings.answer_gate, or the one fitted for ≤ 4% false refusals on the training questions
        (separately for a best sentence in the question's language and in the other one)."""
        probability, cut = self.gate(cands)
        return probability >= cut

    def select(self, cands: list[Candidate]) -> list[Candidate]:
        ranked = sorted(cands, key=lambda c: -c.score)
        floor = ranked[0].score - self.settings.answer_margin
        chosen = [c for c in ranked[: self.settings.answer_sentences] if c.score >= floor]
        # Read as an answer: the best sentence's passage first, each passage's sentences in document order.
        order = {}
        for c in chosen:
            order.setdefault(c.hit_index, len(order))
        return sorted(chosen, key=lambda c: (order[c.hit_index], c.start))

    def stream(self, input: AnswerRequest, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        question = input.question
        hits: list[Hit] = input.hits
        script = detect_script(question, self.settings.default_script)
        cands = self.candidates(hits)
        if cands:
            self.score(question, hits, cands)
        chosen = self.select(cands) if cands and self.is_answerable(cands) else []
        # A "when" question answered by sentences without any time only sounds like an answer.
        untimed = chosen and answer_type(question) is _HAS_TIME and not any(c.typed for c in chosen)
        if not chosen or untimed:
            text = refusal(script, NO_TIME if untimed else REFUSAL)
            yield Delta(text)
            yield Final(Answer(text=text, refused=True, script=script, hits=hits, backend=self.backend))
            return
        citations: list[Citation] = []
        number: dict[int, int] = {}
        pieces = []
        for c in chosen:
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
            yield Delta(piece)
        text = "".join(pieces)
        yield Final(Answer(text=text, refused=False, citations=citations, script=script, hits=hits, backend=self.backend))
