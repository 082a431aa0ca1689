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

from rag.answer.extractive import answer_type, shows_answer_type
from rag.answer.rules import names_subject
from rag.text import han_share, keyword_tokens, sentence_spans, to_simplified
from rag.text.terms import QUESTION_WORDS, han_bigrams, matching_form, tokens_of_matching_form

MODEL_FILE = Path(__file__).with_name("model.json")

_ASKS_PERSON = re.compile(r"谁|誰|哪位|\bwho(m|se)?\b", re.IGNORECASE)
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")  # a focus item in Latin letters, as focus_groups lowercases it
# A name or model in Latin letters: capitalised or with a digit (NVIDIA, H100, GPT-4, Gemini).
# Bounded by non-Latin characters, not \b: Han characters count as word characters (輝達的H100).
_LATIN_NAME = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z][A-Za-z0-9\-]*|[A-Za-z]+\d[A-Za-z0-9\-]*)(?![A-Za-z0-9])")
_ACRONYM_PLURAL = re.compile(r"(?:[A-Z]{2,}|[A-Za-z]+\d+[A-Za-z0-9]*)s")
# A question's sentences, each with its end mark (「TPU能否取代GPU？為什麼？」 asks two).
_QUESTION_PART = re.compile(r"[^?？!！。;；]+[?？!！。;；]*")
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
            # An acronym's plural (TPUs, GPUs, H100s) is about the thing the passages write in the singular (TPU).
            singular = [name[:-1].lower()] if _ACRONYM_PLURAL.fullmatch(name) else []
            groups.append([name.lower(), *singular, *aliases])
    if glossary is not None:
        for run in _HAN_RUN.findall(to_simplified(question)):
            for word in glossary.words(run):
                if word in glossary.names:
                    english = glossary.names[word]
                    groups.append([word, english.lower(), *glossary.en_names.get(english.lower(), [])[:3]])
    return [list(dict.fromkeys(g)) for g in groups]


def _is_latin_name(item: str, question: str, glossary=None) -> bool:
    """A focus item that is a name written in Latin letters: an acronym or model (CEO, TSMC, H100), or a capitalised
    word that is not an ordinary English word (Groq, Blackwell); "Corporation" in "Oracle Corporation" is not."""
    if not _LATIN_WORD.fullmatch(item) or item.isdigit():
        return False
    written = next((n for n in _LATIN_NAME.findall(question) if n.lower() == item), item)
    if written.isupper() or any(ch.isdigit() for ch in written) or glossary is None:
        return True
    return item in glossary.en_names or item not in glossary.en_zh


_SECTION_PARTS = re.compile(r" › | · ")  # ingest.chunker's separators: date · post title › heading


def subject_label(label: str) -> str:
    """The parts of a passage's title or section path that name its subject: headings, not a dated post's opening
    sentences taken as its title (「市場對其新一代Blackwell架構的強勁需求。strong demand…」 above a list on Feynman)."""
    return " ".join(p for p in _SECTION_PARTS.split(label) if len(sentence_spans(p)) <= 1)


# Focus items spelled alike in every language and script: a year, and a model or version name (B200, GPT-4, SR99).
_YEAR = re.compile(r"1\d{3}|20\d\d")
_DECADE = re.compile(r"(1\d{3}|20\d\d)(?:'?s\b|\s*年代)")
_MODEL_NAME = re.compile(r"[a-z][a-z\-]*\d[a-z0-9\-]*|[a-z][a-z0-9\-]*[a-z]\d+")
# ... but not a quarter, half or fiscal year (Q3, H1, FY2024): Chinese writes them in words (第三季, 上半年, 2024財年).
_PERIOD_NAME = re.compile(r"[qh][1-4]|fy-?\d+")


def _asked_years(groups: list[list[str]], question: str) -> list[list[str]]:
    """The focus groups that are years the question asks about; a decade is not one: Chinese writes "the 1970s" as
    「20世纪70年代」."""
    decades = set(_DECADE.findall(question))
    return [g for g in groups if _YEAR.fullmatch(g[0]) and g[0] not in decades]


def unwritten_focus(question: str, hits: list, glossary=None) -> list[str]:
    """The question's years and model names (and their aliases) that no retrieved passage writes, as the question
    writes them: "How much HBM does the B200 have?" over passages on the H100 asks about another model version, and
    「台積電2019年營收多少?」 over passages on 2024 about another year. Compared without spaces, hyphens or case
    (SR 99 / SR99), since these are written alike in Chinese and English text."""
    every = focus_groups(question, glossary)
    years = _asked_years(every, question)
    groups = [g for g in every if g in years or (_MODEL_NAME.fullmatch(g[0]) and not _PERIOD_NAME.fullmatch(g[0]))]
    if not groups or not hits:
        return []
    written = " ".join(text_view(x).core for h in hits for x in (h.text, h.title, h.section))
    missing = [g[0] for g in groups if not any(text_view(t).core in written for t in g if text_view(t).core)]
    names = {n.lower(): n for n in _LATIN_NAME.findall(question)}
    return [names.get(item, item) for item in missing]


def misses_focus(question: str, hits: list, chosen: list, glossary=None) -> bool:
    """A near miss: the question's names in Latin letters are each written somewhere in the retrieved passages, but no
    quoted sentence's window (it, its neighbours, its passage's title and section) holds all of them — "Who is the
    CEO of Groq?" answered by a sentence on NVIDIA's CEO and another on Groq's chips; so are the question's years
    ("What happened to NVIDIA in 2019?" answered by sentences on other years). Other numbers and Chinese names are
    left to the gate: their spellings vary too much to require (中、俄、蒙 for 中國, 三百萬 for "3 million"), as are
    names no passage writes (across languages a name often has no spelling the glossary knows)."""
    groups = focus_groups(question, glossary)
    everywhere = " ".join(text_view(h.title).flat + " " + text_view(h.text).flat for h in hits)
    # Names the passages themselves write in Latin letters, more than once: their usual spelling, not a parenthesised
    # original (甲骨文公司（Oracle Corporation）) next to the Chinese name a sentence then uses.
    named = [g for g in groups if _is_latin_name(g[0], question, glossary) and everywhere.count(g[0]) >= 2]
    # And years the passages write (a year is spelled alike in both languages).
    named += [g for g in _asked_years(groups, question) if g[0] in everywhere]
    if not named:
        return False
    for c in chosen:
        hit = hits[c.hit_index]
        window = " ".join(
            text_view(x).flat
            for x in (subject_label(hit.title), subject_label(hit.section), c.text, *(n.text for n in (c.before, c.after) if n is not None))
        )
        if _focus_share(named, window) == 1.0:
            return False
    return True


def unsupported_across_languages(question: str, best: np.ndarray) -> bool:
    """A Chinese question whose best sentence (`best`: its SENTENCE_FEATURES row) is in the other language, and
    neither that sentence, its neighbours nor its passage share any of the question's words, not even through the
    glossary's English: only the embedders' similarity speaks for it (「金管会对AI Agent的规范什么时候开始上路?」
    answered by "A few weeks ago, there were some inspiring news in the field of artificial intelligence…", gate 0.17).

    Over the training questions the gate answers, this refuses 6 of 556 answerable XQuAD Chinese questions over
    English passages, 26 of 456 whose passage was removed and 10 of 126 asked of other documents. Without the passage
    condition it refused 18 answerable ones, and on the held-out ones false refusals rose 0.015 -> 0.055. Not for an
    English question: the glossary's Chinese for English words misses more often (43 of 529 answerable refused against
    56 of 395 removed: bench/results/answers-notes.md)."""
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    return (
        asks_in_chinese(question)
        and best[col["cross"]] > 0.5
        and best[col["cov_best"]] == 0
        and best[col["cov_window"]] == 0
        and best[col["cov_passage"]] == 0
    )


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


# A sentence between this share of Han (a Latin word counting as one letter) and half mixes both languages; it
# reads as its passage does: in a Chinese passage, Chinese naming things in Latin letters.
MIXED_HAN_SHARE = 0.25


def reads_chinese(sentence: str, passage: str = "") -> bool:
    """The sentence is Chinese: more than half its letters are Han, or it mixes both in a Chinese passage.

    Read alone, 「創立於1920年，前身為Indiana University School of Commerce and Finance。」 (half Han) counted as
    English for a Chinese question, and the scorer's allowance for sentences in the other language (lower
    similarities, words matched only through the glossary) put it first: over DRCD's and CMRC's held-out questions
    with their gold passage removed, such sentences were quoted with gate probabilities 0.51-0.89. Their grammar
    words do not settle it either: 「He commissioned sketches of churches in England, ，于1893年出资…」 has more
    English ones, and read as English it was quoted at 0.97-0.99 for questions on other churches."""
    share = text_view(sentence).han
    if passage and MIXED_HAN_SHARE <= share <= 0.5:
        return text_view(passage).han > 0.5
    return share > 0.5


def asks_in_chinese(question: str) -> bool:
    """The question is Chinese: more than half its letters are Han (a Latin word counting as one letter), as in
    「TPU能否取代GPU?」. It decides which sentences are in the other language, and which of the gate's cuts applies."""
    return text_view(question).han > 0.5


def other_language(question: str, sentence: str, passage: str = "") -> bool:
    """The sentence (in `passage`) is written in the other language than the question: the `cross` feature, and
    what keeps a sentence from e5's titled reading (as_embedded)."""
    return reads_chinese(sentence, passage) != asks_in_chinese(question)


def _focus_share(groups: list[list[str]], flat: str) -> float:
    """Share of the question's focus items (a name with its other spellings is one item) in the flat text."""
    if not groups:
        return 1.0
    return sum(any(t in flat for t in g) for g in groups) / len(groups)


SENTENCE_FEATURES = [
    "e5", "e5_gap", "use", "use_gap", "cov_own", "cov_own_gap", "cov_other", "cov_best", "cov_passage",
    "neighbour_cov", "focus_sentence", "focus_passage", "has_focus", "asks_type", "typed", "typed_missing",
    "asks_person", "novelty", "quotes_question", "hit_rank", "hit_score_ratio", "position", "first_in_hit",
    "log_length", "cross", "cross_use", "cross_e5", "cross_cov_other", "same_cov_own",
    "bigram_cov", "bigram_cov_window", "cov_window", "missing_idf", "hit_dense", "hit_keyword",
    "local_cov", "local_bigram_cov", "local_cov_window", "focus_window", "attribute_window",
]
# Computed for the shortlisted sentences only: embedding every candidate was most of an answer's time.
SIMILARITY_FEATURES = ("e5", "e5_gap", "use", "use_gap", "cross_use", "cross_e5")
GATE_FEATURES = [
    "top1", "top2", "top1_gap", "max_e5", "max_use", "best_cov", "best_cov_own", "best_cov_other",
    "best_focus_sentence", "max_focus_passage", "has_focus", "asks_type", "best_typed", "any_typed_top3",
    "best_cross", "max_cov_passage", "best_novelty", "top3_mean",
    "best_bigram_cov", "max_bigram_cov_window", "best_missing_idf", "min_missing_idf_top3", "max_cov_window",
    "max_hit_dense", "best_hit_keyword", "best_cov_window", "best_local_cov", "max_local_cov_window",
    "best_joint", "joint_at_best", "attribute_at_best",
]


@dataclass
class Scorer:
    """A small standardised network: ((x - mean) / scale), then an optional tanh hidden layer, then one logit.

    With no hidden layer it is a logistic regression; numpy only at run time (fitted with torch at set-up)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # output weights: one per feature, or one per hidden unit
    bias: float
    hidden_weights: np.ndarray | None = None  # features x units
    hidden_bias: np.ndarray | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Scorer:
        hidden = d.get("hidden")
        return cls(
            *(np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "weights")),
            float(d["bias"]),
            None if hidden is None else np.asarray(hidden["weights"], dtype=np.float64),
            None if hidden is None else np.asarray(hidden["bias"], dtype=np.float64),
        )

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        if self.hidden_weights is not None:
            z = np.tanh(z @ self.hidden_weights + self.hidden_bias)
        return z @ self.weights + self.bias


def shortlist_order(shortlister: Scorer, x: np.ndarray) -> np.ndarray:
    """Candidate indices best first by the stage-one scorer over text features `x` (the answerer and its training
    cut the shortlist from this one order)."""
    return np.argsort(-shortlister.logits(x), kind="stable")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


# The gate's probability cuts, one per kind of question (cut_kind): its probabilities are not calibrated alike for
# each. XQuAD's English questions over English passages get lower ones when answerable than DRCD's and CMRC's
# Chinese questions do; one cut for both languages was set by the English ones and let Chinese near misses through.
CUT_KINDS = ("same_zh", "same_en", "cross")


def cut_kind(question: str, x: np.ndarray) -> str:
    """Which of CUT_KINDS decides for `question` over its scored candidates' SENTENCE_FEATURES rows `x`.

    The cross-language cut was fitted on questions whose passages were all in the other language; when some scored
    sentences are in the question's own language (a mixed notebook), the best one being in the other language is
    no reason to ask for less: the question's own language's cut applies."""
    if (x[:, SENTENCE_FEATURES.index("cross")] > 0.5).all():
        return "cross"
    return "same_zh" if asks_in_chinese(question) else "same_en"


class AnswerModel:
    """Sentence scorer + gate loaded from JSON; `thresholds` are the gate's probability cuts per CUT_KINDS (fitted on
    training questions for few false refusals) unless a setting overrides them."""

    def __init__(self, data: dict):
        assert data["sentence_features"] == SENTENCE_FEATURES and data["gate_features"] == GATE_FEATURES, (
            "rag/answer/model.json was fitted on other features: run `make answer-model`"
        )
        self.sentence = Scorer.from_dict(data["sentence"])
        # Stage one: a scorer over the text features alone picks the sentences worth embedding.
        self.shortlister = Scorer.from_dict(data["shortlist"])
        self.shortlist_size = int(data["shortlist"]["size"])
        self.gate = Scorer.from_dict(data["gate"])
        # Sentences whose logit is this far below the best one's are left out of the answer (fitted with it).
        self.margin = float(data["sentence"].get("margin", 2.0))
        self.thresholds = {kind: float(data["gate"][f"threshold_{kind}"]) for kind in CUT_KINDS}
        self.data = data

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerModel:
        return _load(str(path))

    def sentence_logits(self, x: np.ndarray) -> np.ndarray:
        return self.sentence.logits(x)

    # Candidates of each language a shortlist holds at least, when the passages are in both. More than the best one
    # let question-language near misses' other-language neighbours through the gate on the seeds (2: 「金管會對AI
    # Agent的規範…」 and "What is the capital of Australia?" answered).
    per_language = 1

    def shortlist(self, x: np.ndarray, both_languages: bool = False) -> np.ndarray:
        """Indices of the candidates worth embedding (text features `x`, similarities still 0), best first.

        Over passages in both languages (`both_languages`), the best sentence of each language is among them: the
        text features see the question's own words and only the glossary's translations of the others, so the
        stage-one scorer puts a sentence in the other language below the question-language sentences that merely
        share its words; the embedders, which read both languages, then judge."""
        order = shortlist_order(self.shortlister, x)
        keep = list(order[: self.shortlist_size])
        cross = x[order, SENTENCE_FEATURES.index("cross")] > 0.5
        if both_languages and cross.any() and not cross.all():
            for language in (True, False):
                best = [i for i, c in zip(order, cross) if c == language][: self.per_language]
                keep += [i for i in best if i not in keep]
        return np.asarray(keep, dtype=int)

    def cut(self, question: str, x: np.ndarray) -> float:
        """The fitted probability cut for `question` over its scored candidates' features `x`."""
        return self.thresholds[cut_kind(question, x)]

    def answerable_probability(self, g: np.ndarray) -> float:
        return float(sigmoid(self.gate.logits(g[None, :]))[0])


@lru_cache(maxsize=4)
def _load(path: str) -> AnswerModel:
    return AnswerModel(json.loads(Path(path).read_text(encoding="utf-8")))


def _coverage(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def question_bigrams(question: str, keywords) -> dict[str, float]:
    """The question's Han character bigrams (Simplified, question words left out) with their BM25 idf: they
    match a paraphrase that jieba cuts differently (成立於哪一年 / 於1990年成立)."""
    core = QUESTION_WORDS.sub(" ", matching_form(question))
    return {b: keywords.idf(b) for b in set(han_bigrams(core, simplified=True)) if len(b) == 2}


def _local_weights(weights: dict[str, float], sentence_sets: list[frozenset[str]], given: frozenset[str]) -> dict[str, float]:
    """The question's words weighted by how well they tell one passage's sentences apart: a word in every sentence
    or in the title (the passage's subject: 交叉笛鲷) says which passage, not which sentence (体长, 可达)."""
    n = len(sentence_sets)
    out = {}
    for t, w in weights.items():
        df = n if t in given else sum(t in s for s in sentence_sets)
        out[t] = w * math.log1p(n / (1 + df))
    return out


def sentence_features(question: str, hits: list, cands: list, keywords, glossary=None) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate (rag.answer.Candidate: hit_index, start, end, text), the
    SIMILARITY_FEATURES left at 0: fill_similarities adds them for the shortlisted rows only."""
    terms = keyword_tokens(question, for_query=True)
    own = {t: keywords.idf(t) for t in set(terms)}
    asked = set(terms) | set(keyword_tokens(question))
    other_terms: list[str] = []
    if glossary is not None:
        other_terms = glossary.other_language_terms(question, keywords.knows) + glossary.name_terms(question)
    other = {t: keywords.idf(t) for t in set(other_terms)}
    focus = focus_groups(question, glossary)
    # Each question it asks (a part ending in a question mark, and the last), letters and digits only: a sentence
    # holding one asks it back (「大家爭論不休的「究竟TPU能否取代GPU」」 for 「TPU能否取代GPU？為什麼？」). Not a part
    # that sets up context, which the answering sentence often repeats (「…她居然答應了！」此話為何人所言?).
    parts = _QUESTION_PART.findall(question)
    questions = [
        core for i, part in enumerate(parts)
        if (i == len(parts) - 1 or part.rstrip()[-1] in "?？") and len(core := text_view(part).core) >= 4
    ]
    wanted = answer_type(question)
    asks_person = bool(_ASKS_PERSON.search(question))
    passage_cov = {}
    for h, hit in enumerate(hits):
        body, title = text_view(hit.text), text_view(hit.title)
        present = body.tokens | title.tokens
        focus_p = _focus_share(focus, title.flat + " " + body.flat)
        passage_cov[h] = (max(_coverage(own, present), _coverage(other, present)), focus_p)
    best_hit = max((getattr(h, "score", 0.0) for h in hits), default=0.0) or 1.0
    rows = []
    views = [text_view(c.text) for c in cands]
    said_sets = [v.tokens for v in views]
    cov_own = np.array([_coverage(own, s) for s in said_sets])
    cov_other = np.array([_coverage(other, s) for s in said_sets])
    bigrams = question_bigrams(question, keywords)
    # The sentence with its neighbours in the same passage: an answer often spans two sentences.
    windows = [
        [j for j in (i - 1, i, i + 1) if 0 <= j < len(cands) and cands[j].hit_index == c.hit_index]
        for i, c in enumerate(cands)
    ]
    top_idf = max(own.values(), default=0.0) or 1.0
    # The attribute asked for: the question's words that are not its focus (names, numbers) — 良率 in
    # 「台積電3奈米良率是多少?」, "ceo" in "Who is the CEO of Groq?". An answer holds both near each other.
    named = {t for g in focus for t in g}
    attribute_own = {t: w for t, w in own.items() if t not in named}
    attribute_other = {t: w for t, w in other.items() if t not in named}
    local: dict[int, tuple[dict[str, float], dict[str, float], dict[str, float]]] = {}
    for h, hit in enumerate(hits):
        members = [i for i, c in enumerate(cands) if c.hit_index == h]
        words, pairs, title = [said_sets[i] for i in members], [views[i].bigrams for i in members], text_view(hit.title)
        local[h] = (
            _local_weights(own, words, title.tokens),
            _local_weights(other, words, title.tokens),
            _local_weights(bigrams, pairs, title.bigrams),
        )
    for i, c in enumerate(cands):
        hit, view = hits[c.hit_index], views[i]
        said = said_sets[i]
        cross = float(other_language(question, c.text, hit.text))
        novelty = len(said - asked) / len(said) if said else 0.0
        quotes = float(any(q in view.core for q in questions))
        typed = float(wanted is not None and shows_answer_type(wanted, c.text, question))
        neighbours = [cov_own[j] for j in (i - 1, i + 1) if 0 <= j < len(cands) and cands[j].hit_index == c.hit_index]
        focus_s = _focus_share(focus, view.flat)
        window_said = frozenset().union(*(said_sets[j] for j in windows[i]))
        window_bigrams = frozenset().union(*(views[j].bigrams for j in windows[i]))
        # The window with its passage's title and section: they name what "it" refers to.
        window_flat = " ".join(
            [text_view(subject_label(hit.title)).flat, text_view(subject_label(hit.section)).flat]
            + [views[j].flat for j in windows[i]]
        )
        attribute = (
            max(_coverage(attribute_own, window_said), _coverage(attribute_other, window_said))
            if attribute_own or attribute_other
            else 1.0
        )
        # The rarest question word the window lacks: one missing name or number marks a near miss.
        missing = max((w for t, w in own.items() if t not in window_said), default=0.0) / top_idf
        rows.append(
            [
                0.0, 0.0, 0.0, 0.0, cov_own[i], 0.0, cov_other[i], max(cov_own[i], cov_other[i]),
                passage_cov[c.hit_index][0], max(neighbours, default=0.0), focus_s, passage_cov[c.hit_index][1],
                float(bool(focus)), float(wanted is not None), typed, float(wanted is not None and not typed),
                float(asks_person), novelty, quotes, 1.0 / (1 + c.hit_index), getattr(hit, "score", 0.0) / best_hit,
                c.start / max(1, len(hit.text)), float(c.start == 0 or not hit.text[: c.start].strip()),
                math.log1p(len(c.text)), cross, 0.0, 0.0, cross * cov_other[i],
                (1 - cross) * cov_own[i],
                _coverage(bigrams, view.bigrams), _coverage(bigrams, window_bigrams), _coverage(own, window_said),
                missing, getattr(hit, "dense_similarity", None) or 0.0,
                1.0 / hit.keyword_rank if getattr(hit, "keyword_rank", None) else 0.0,
                max(_coverage(local[c.hit_index][0], said), _coverage(local[c.hit_index][1], said)),
                _coverage(local[c.hit_index][2], view.bigrams),
                max(_coverage(local[c.hit_index][0], window_said), _coverage(local[c.hit_index][1], window_said)),
                _focus_share(focus, window_flat), attribute,
            ]
        )
    return with_gaps(np.asarray(rows, dtype=np.float64).reshape(len(cands), len(SENTENCE_FEATURES)))


def with_gaps(x: np.ndarray) -> np.ndarray:
    """Sets the *_gap columns: each row's distance to the best of these rows (the question's candidates)."""
    if len(x):
        for col, base in (("e5_gap", "e5"), ("use_gap", "use"), ("cov_own_gap", "cov_own")):
            b = SENTENCE_FEATURES.index(base)
            x[:, SENTENCE_FEATURES.index(col)] = x[:, b] - x[:, b].max()
    return x


def as_embedded(question: str, title: str, sentence: str, passage: str = "") -> str:
    """The text e5 compares with the question: a sentence in the question's language under its passage's title
    when the title names the subject ("黄鞍鹦嘴鱼: 本鱼分布于印度太平洋区…"), since many sentences leave their subject to
    it; else the sentence alone: across languages, and under a headline, the title makes every sentence of the
    passage look alike (measured: bench/results/answers-notes.md)."""
    titled = names_subject(title) and not other_language(question, sentence, passage)
    return f"{title.strip()}: {sentence}" if titled else sentence


def fill_similarities(x: np.ndarray, e5_sims: np.ndarray, use_sims: np.ndarray) -> np.ndarray:
    """x (the shortlisted candidates' rows) with the embedders' question-sentence cosines and the gaps over x."""
    x = x.copy()
    cross = x[:, SENTENCE_FEATURES.index("cross")]
    for name, value in (("e5", e5_sims), ("use", use_sims), ("cross_e5", cross * e5_sims), ("cross_use", cross * use_sims)):
        x[:, SENTENCE_FEATURES.index(name)] = value
    return with_gaps(x)


def gate_features(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """GATE_FEATURES of one question from its candidates' features and sentence logits."""
    f = {name: x[:, i] for i, name in enumerate(SENTENCE_FEATURES)}
    order = np.argsort(-logits)
    b = order[0]
    top = logits[order]
    top2 = top[1] if len(top) > 1 else top[0] - 5.0
    joint = np.minimum(f["focus_window"], f["attribute_window"])  # the focus and the attribute together
    return np.array(
        [
            top[0], top2, top[0] - top2, f["e5"].max(), f["use"].max(), f["cov_best"][b], f["cov_own"][b],
            f["cov_other"][b], f["focus_sentence"][b], f["focus_passage"].max(), f["has_focus"][b], f["asks_type"][b],
            f["typed"][b], f["typed"][order[:3]].max(), f["cross"][b], f["cov_passage"].max(), f["novelty"][b],
            top[:3].mean(),
            f["bigram_cov"][b], f["bigram_cov_window"].max(), f["missing_idf"][b], f["missing_idf"][order[:3]].min(),
            f["cov_window"].max(), f["hit_dense"].max(), f["hit_keyword"][b], f["cov_window"][b],
            f["local_cov"][b], f["local_cov_window"].max(),
            joint.max(), joint[b], f["attribute_window"][b],
        ],
        dtype=np.float64,
    )
