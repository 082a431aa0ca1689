"""Checks a generated answer against the passages it was given: every [n] must point to a passage that
supports its sentence (shared keywords, every number present), else the citation is moved or the
sentence is reported as unsupported.

Thresholds (calibrated on tests/data/dev.jsonl by `python -m bench.calibrate verify`):
- same language: a claim is supported when ≥ `min_overlap` of its keyword tokens occur in the passage;
- across languages (English claim, Chinese passage or the reverse) keywords cannot match, so the
  cosine of the claim and the passage's closest sentence (USE multilingual) must reach `min_similarity`;
- in both cases every number in the claim must occur in the passage (by digits or by value:
  65萬 = 650,000, 30億 = 3 billion): an invented number makes the claim unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.text import is_chinese, keyword_tokens, sentence_spans

# [1]  [1, 2]  [1][2]  【1】  ［1］  [1-2] — the citation forms models write.
_MARKER = re.compile(r"[\[【［]\s*\d+(?:\s*(?:[,，、;；]|-|–|and)\s*\d+)*\s*[\]】］]")
_MARKERS_AT_START = re.compile(rf"^(?:\s*{_MARKER.pattern})+")
_DIGITS = re.compile(r"\d+")

DEFAULT_MIN_OVERLAP = 0.5
DEFAULT_MIN_SIMILARITY = 0.5


class SentenceEmbedder(Protocol):
    """The cross-language check embeds passage sentences and claims alike (USE multilingual, rag.embed.use)."""

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def citation_numbers(text: str) -> list[int]:
    """The passage numbers cited in `text`, in order, each once ([1-3] is 1, 2, 3)."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        inner = m.group(0)
        for a, b in re.findall(r"(\d+)\s*(?:-|–)\s*(\d+)", inner):
            if int(b) - int(a) <= 20:
                out += list(range(int(a), int(b) + 1))
        out += [int(d) for d in _DIGITS.findall(re.sub(r"\d+\s*(?:-|–)\s*\d+", "", inner))]
    seen: set[int] = set()
    return [n for n in out if not (n in seen or seen.add(n))]


def strip_citations(text: str) -> str:
    """`text` without its [n] markers, spaces tidied around where they were."""
    text = _MARKER.sub("", text)
    text = re.sub(r"[ \t]+([。．.,，;；:：!！?？)）」』])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


# ---------------------------------------------------------------- numbers

_MULTIPLIERS = {
    "萬億": 1e12, "万亿": 1e12, "萬": 1e4, "万": 1e4, "億": 1e8, "亿": 1e8, "兆": 1e12, "千": 1e3, "百": 1e2,
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "t": 1e12,
}  # fmt: skip
_ARABIC = re.compile(
    r"(?<![A-Za-z0-9.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(萬億|万亿|萬|万|億|亿|兆|千|百|thousand|million|billion|trillion|bn|mn|[kKmMbBtT](?![a-zA-Z]))?"
)
_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"萬": 1e4, "万": 1e4, "億": 1e8, "亿": 1e8}
_CN_NUMBER = re.compile(r"[零〇一二兩两三四五六七八九十百千萬万億亿]{2,}")


def _chinese_value(s: str) -> float | None:
    """四千億 → 4e11, 二十 → 20, 一百二十五 → 125; None for what is not a number (一個)."""
    total, section, digit = 0.0, 0.0, None
    for ch in s:
        if ch in _CN_DIGIT:
            digit = _CN_DIGIT[ch]
        elif ch in _CN_UNIT:
            section += (1 if digit is None else digit) * _CN_UNIT[ch]
            digit = None
        elif ch in _CN_BIG:
            total = (total + section + (digit or 0)) * _CN_BIG[ch]
            section, digit = 0.0, None
    value = total + section + (digit or 0)
    units = sum(ch in _CN_UNIT or ch in _CN_BIG for ch in s)
    return value if units and value >= 10 else None


@dataclass(frozen=True)
class Number:
    digits: str  # as written, commas dropped: "650000", "2.5"
    value: float  # with its multiplier: 65萬 → 650000


def numbers(text: str) -> list[Number]:
    """The numbers written in `text` (Arabic digits with 萬/億/million… multipliers, and Chinese numerals)."""
    out = []
    for m in _ARABIC.finditer(strip_citations(text)):
        digits = m.group(1).replace(",", "")
        unit = (m.group(2) or "").lower()
        value = float(digits) * _MULTIPLIERS.get(unit, 1.0)
        out.append(Number(digits, value))
    for m in _CN_NUMBER.finditer(text):
        value = _chinese_value(m.group(0))
        if value is not None:
            out.append(Number(format(value, "g"), value))
    return out


def numbers_supported(claim: str, passage: str) -> list[str]:
    """The claim's numbers that the passage does not contain (empty when all are there)."""
    have = numbers(passage)
    digits = {n.digits for n in have}
    values = [n.value for n in have]
    missing = []
    for n in numbers(claim):
        if n.digits in digits or any(abs(n.value - v) <= 1e-9 * max(1.0, abs(v)) for v in values):
            continue
        missing.append(n.digits)
    return missing


# ---------------------------------------------------------------- support


def claim_terms(text: str) -> set[str]:
    """The keyword tokens a claim must share with its passage (numbers included)."""
    return set(keyword_tokens(strip_citations(text), for_query=True))


def is_claim(text: str) -> bool:
    """A sentence that states something: not a lead-in ("Here is what the passages say:") or a bare marker."""
    plain = strip_citations(text).strip()
    if not plain or plain.endswith((":", "：")):
        return False
    return len(claim_terms(plain)) >= 2  # numbers count: "約 20%" is a claim, a list number "2." is not


@dataclass
class Support:
    """How well a set of passages (those a claim cites) supports one claim."""

    passages: list[int]  # indexes into the passages, those that share something with the claim
    overlap: float  # share of the claim's keyword tokens found in the passages
    similarity: float | None  # best cosine of the claim to a passage sentence (used across languages)
    missing_numbers: list[str]
    quotes: dict[int, tuple[int, int]]  # best-supporting sentence of each passage, offsets in its text
    supported: bool

    @property
    def strength(self) -> float:
        return self.overlap if self.similarity is None else max(self.overlap, self.similarity)


@dataclass
class Verifier:
    """Scores claims against passages; `embedder` (optional) enables the cross-language check."""

    passages: Sequence[str]
    embedder: SentenceEmbedder | None = None
    min_overlap: float = DEFAULT_MIN_OVERLAP
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    _tokens: dict[int, set[str]] = field(default_factory=dict, repr=False)
    _sentences: dict[int, list[tuple[int, int]]] = field(default_factory=dict, repr=False)
    _sentence_tokens: dict[int, list[set[str]]] = field(default_factory=dict, repr=False)
    _vectors: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def tokens(self, i: int) -> set[str]:
        if i not in self._tokens:
            self._tokens[i] = set(keyword_tokens(self.passages[i]))
        return self._tokens[i]

    def sentences(self, i: int) -> list[tuple[int, int]]:
        if i not in self._sentences:
            self._sentences[i] = sentence_spans(self.passages[i]) or [(0, len(self.passages[i]))]
        return self._sentences[i]

    def sentence_tokens(self, i: int) -> list[set[str]]:
        if i not in self._sentence_tokens:
            text = self.passages[i]
            self._sentence_tokens[i] = [set(keyword_tokens(text[a:b])) for a, b in self.sentences(i)]
        return self._sentence_tokens[i]

    def sentence_vectors(self, i: int) -> np.ndarray:
        if i not in self._vectors:
            text = self.passages[i]
            self._vectors[i] = np.asarray(self.embedder.embed_passages([text[a:b] for a, b in self.sentences(i)]))
        return self._vectors[i]

    def _cross(self, claim: str, indexes: Sequence[int]) -> bool:
        return self.embedder is not None and any(is_chinese(claim) != is_chinese(self.passages[i]) for i in indexes)

    def check(self, claim: str, indexes: Sequence[int], claim_vector: np.ndarray | None = None) -> Support:
        """Does the union of these passages support the claim?"""
        plain = strip_citations(claim)
        terms = claim_terms(plain)
        indexes = list(dict.fromkeys(indexes))
        union = set().union(*(self.tokens(i) for i in indexes)) if indexes else set()
        overlap = len(terms & union) / len(terms) if terms else 0.0
        missing = numbers_supported(plain, "\n".join(self.passages[i] for i in indexes))
        cross = self._cross(plain, indexes)
        if cross and claim_vector is None:
            claim_vector = np.asarray(self.embedder.embed_passages([plain]))[0]
        quotes: dict[int, tuple[int, int]] = {}
        similarity = None
        for i in indexes:
            spans = self.sentences(i)
            shared = [len(terms & t) for t in self.sentence_tokens(i)]
            best = int(np.argmax(shared))
            if cross and is_chinese(plain) != is_chinese(self.passages[i]):
                sims = self.sentence_vectors(i) @ claim_vector
                best = int(np.argmax(sims))
                similarity = max(similarity or -1.0, float(sims[best]))
                if sims[best] >= self.min_similarity or shared[best]:
                    quotes[i] = spans[best]
            elif shared[best]:
                quotes[i] = spans[best]  # a passage that shares no word with the claim is not a source of it
        if missing or not quotes:
            supported = False
        else:
            supported = overlap >= self.min_overlap or (similarity is not None and similarity >= self.min_similarity)
        return Support(list(quotes), overlap, similarity, missing, quotes, supported)

    def best(self, claim: str, cited: Sequence[int] = ()) -> Support | None:
        """Support from the passages the claim cites; failing that, from the one passage that supports
        it best (the citation is then moved there); None when no passage does."""
        plain = strip_citations(claim)
        everything = range(len(self.passages))
        claim_vector = None
        if self._cross(plain, everything):
            claim_vector = np.asarray(self.embedder.embed_passages([plain]))[0]
        cited = [i for i in cited if 0 <= i < len(self.passages)]
        if cited:
            support = self.check(plain, cited, claim_vector)
            if support.supported:
                return support
        singles = [self.check(plain, [i], claim_vector) for i in everything]
        good = [s for s in singles if s.supported]
        return max(good, key=lambda s: s.strength) if good else None


# ---------------------------------------------------------------- sentences as they stream


@dataclass
class Sentence:
    text: str  # as the model wrote it, markers included
    gap: str = ""  # what separated it from the previous sentence ("\n" keeps the model's lines)

    @property
    def cited(self) -> list[int]:
        return citation_numbers(self.text)

    @property
    def plain(self) -> str:
        return strip_citations(self.text)


def _split(text: str) -> tuple[list[Sentence], str]:
    """Sentences of `text` with the markers that follow a sentence's full stop moved onto it."""
    out: list[Sentence] = []
    prev_end = 0
    for a, b in sentence_spans(text):
        piece = text[a:b]
        gap = text[prev_end:a]
        lead = _MARKERS_AT_START.match(piece)
        if lead and out:
            out[-1].text += gap + lead.group(0)
            piece = piece[lead.end() :].lstrip()
            gap = ""
        prev_end = b
        if piece:
            out.append(Sentence(piece, gap))
    return out, text[prev_end:]


class SentenceStream:
    """Feed model tokens in, get whole sentences out (each with its trailing [n] markers)."""

    def __init__(self):
        self.buffer = ""

    def feed(self, piece: str) -> Iterator[Sentence]:
        self.buffer += piece
        sentences, _ = _split(self.buffer)
        if len(sentences) < 2:
            return
        last = sentences[-1]
        # Wait until the last sentence has started with real words: its leading "[1]" may still belong
        # to the sentence before.
        if not re.search(r"[^\s\d\[\]【】［］,，、\-–]", _MARKERS_AT_START.sub("", last.text)):
            return
        done = sentences[:-1]
        yield from done
        # Keep the unfinished last sentence (and the gap before it) in the buffer.
        cut = self.buffer.rfind(last.text)
        self.buffer = self.buffer[cut - len(last.gap) if cut >= len(last.gap) else cut :]

    def close(self) -> Iterator[Sentence]:
        sentences, _ = _split(self.buffer)
        self.buffer = ""
        yield from sentences
