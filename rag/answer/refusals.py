"""When the extractive answer refuses: one ordered list of named rules, each with its reason, walked in order.

A rule reads the Evidence gathered so far: the analysed question and the retrieved passages (stage HITS), the scored
candidate sentences and the gate's verdict (SCORED), the sentences chosen to quote (CHOSEN). The answerer advances
the evidence to the stage a rule needs, so the rules before the gate cost no sentence embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.answer.features import COLUMN, focus_share, subject_label, text_view
from rag.answer.grading import on_topic, subject_shares
from rag.answer.question import Question, asks_time, has_money
from rag.messages import NO_MONEY, NO_TIME, PARTIAL_MONEY, PARTIAL_TIME, REFUSAL
from rag.settings import Settings
from rag.text import han_share, keyword_tokens, matching_form
from rag.types import Hit

HITS, SCORED, CHOSEN = "hits", "scored", "chosen"


@dataclass
class Evidence:
    """What the refusal rules read about one question; the answerer fills the later stages in."""

    question: Question
    hits: list[Hit]
    keywords: Any  # rag.index.keyword.KeywordIndex: which words the notebook writes, and their idf
    glossary: Any  # rag.text.glossary.Glossary or None
    settings: Settings
    stage: str = HITS  # how far it is filled in
    candidates: list = field(default_factory=list)  # every quotable sentence of the passages (rag.answer.extractive)
    scored: list = field(default_factory=list)  # the shortlisted candidates, best first (rag.answer.extractive)
    probability: float = 0.0  # the gate's probability that the best of them answer
    cut: float = 1.0  # ... and the cut it must reach
    chosen: list = field(default_factory=list)  # the sentences to quote, in reading order


@dataclass(frozen=True)
class Refusal:
    """Why an answer is refused: the rule's name, and what to say: a message (rag.messages) or the question's
    words the notebook never writes, named (then nothing is quoted: not_found). Any other refusal is graded
    (rag.answer.grading): partial, the closest passages quoted, when the passages are about the question's subject."""

    reason: str
    message: dict[str, str] | None = None
    words: tuple[str, ...] = ()
    # What a partial answer says above the closest passages (rag.answer.grading), when not messages.PARTIAL.
    partial: dict[str, str] | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    needs: str  # the stage of Evidence it reads: HITS, SCORED or CHOSEN
    check: Callable[[Evidence], Refusal | None]


# ---------------------------------------------------------------- off the notebook's subjects

# Two thirds of the words unknown is enough when the rest are common in the notebook: idf below this share of an
# unseen word's ("train" in "How do I train a puppy to sit?" over posts on training models).
COMMON_IDF_SHARE = 0.5


def as_asked(word: str, question: str) -> str:
    """A word of the question's matching form (Simplified, lowercased) as the question writes it: 面包 -> 麵包,
    alps -> Alps."""
    n = len(word)
    for i in range(len(question) - n + 1):
        if question[i : i + n].lower() == word or (han_share(word) > 0 and matching_form(question[i : i + n]) == word):
            return question[i : i + n]
    return word


def unknown_words(e: Evidence) -> list[str]:
    """The words of a question the notebook writes in neither language, as the question writes them, when they
    are most of its content words (settings.answer_unknown_share; or two thirds, the rest being common words of
    the notebook) and no passage is close (settings.answer_unknown_dense): the question is off the notebook's
    subjects. Else []."""
    if e.glossary is None:
        return []
    question = e.question.text
    words = e.glossary.written_forms(question, e.keywords.knows)
    unknown = [w for w, found in words if not found]
    closest = max((h.dense_similarity or 0.0 for h in e.hits), default=0.0)
    share = e.settings.answer_unknown_share
    if share > 1 or len(unknown) < 2 or closest >= e.settings.answer_unknown_dense:
        return []  # a share above 1 turns the rule off
    if len(unknown) < share * len(words):
        unseen = e.keywords.idf("\x00")  # what a word no chunk has weighs
        common = all(max(e.keywords.idf(f) for f in found) < COMMON_IDF_SHARE * unseen for _, found in words if found)
        if not (common and 3 * len(unknown) >= 2 * len(words)):
            return []
    return [as_asked(w, question) for w in unknown]


def _unknown_words(e: Evidence) -> Refusal | None:
    unknown = unknown_words(e)
    return Refusal("unknown_words", words=tuple(unknown)) if unknown else None


# ---------------------------------------------------------------- near misses: another year, version or name


def unwritten_focus(question: Question, hits: list[Hit]) -> list[str]:
    """The question's years and model names (and their aliases) that no retrieved passage writes, as the question
    writes them: "How much HBM does the B200 have?" over passages on the H100 asks about another model version, and
    「台積電2019年營收多少?」 over passages on 2024 about another year. Compared without spaces, hyphens or case
    (SR 99 / SR99), since these are written alike in Chinese and English text."""
    groups = question.versions
    if not groups or not hits:
        return []
    written = " ".join(text_view(x).core for h in hits for x in (h.text, h.title, h.section))
    missing = [g[0] for g in groups if not any(text_view(t).core in written for t in g if text_view(t).core)]
    return [question.latin_names.get(item, item) for item in missing]


def _unwritten_focus(e: Evidence) -> Refusal | None:
    """Another year or model version than the passages write: a near miss, refused before any quote; named when
    the notebook writes it nowhere."""
    unwritten = unwritten_focus(e.question, e.hits) if e.settings.answer_unwritten_focus else []
    if not unwritten:
        return None
    if any(e.keywords.knows(t) for w in unwritten for t in keyword_tokens(w)):
        return Refusal("unwritten_focus", REFUSAL)
    return Refusal("unwritten_focus", words=tuple(unwritten))


def misses_focus(question: Question, hits: list[Hit], chosen: list, glossary=None) -> bool:
    """A near miss: the question's names in Latin letters are each written somewhere in the retrieved passages, but no
    quoted sentence's window (it, its neighbours, its passage's title and section) holds all of them — "Who is the
    CEO of Groq?" answered by a sentence on NVIDIA's CEO and another on Groq's chips; so are the question's years
    ("What happened to NVIDIA in 2019?" answered by sentences on other years). Other numbers and Chinese names are
    left to the gate: their spellings vary too much to require (中、俄、蒙 for 中國, 三百萬 for "3 million"), as are
    names no passage writes (across languages a name often has no spelling the glossary knows)."""
    everywhere = " ".join(text_view(h.title).flat + " " + text_view(h.text).flat for h in hits)
    # Names the passages themselves write in Latin letters, more than once: their usual spelling, not a parenthesised
    # original (甲骨文公司（Oracle Corporation）) next to the Chinese name a sentence then uses.
    named = [g for g in question.focus if question.is_latin_name(g[0], glossary) and everywhere.count(g[0]) >= 2]
    # And years the passages write (a year is spelled alike in both languages).
    named += [g for g in question.years if g[0] in everywhere]
    if not named:
        return False
    for c in chosen:
        hit = hits[c.hit_index]
        window = " ".join(
            text_view(x).flat
            for x in (
                subject_label(hit.title),
                subject_label(hit.section),
                c.text,
                *(n.text for n in (c.before, c.after) if n is not None),
            )
        )
        if focus_share(named, window) == 1.0:
            return False
    return True


def _misses_focus(e: Evidence) -> Refusal | None:
    return Refusal("misses_focus", REFUSAL) if misses_focus(e.question, e.hits, e.chosen, e.glossary) else None


# ---------------------------------------------------------------- the gate, and what it cannot see


def _no_sentence(e: Evidence) -> Refusal | None:
    """The passages hold no sentence worth quoting (only headings, table rows, bylines, links)."""
    return None if e.scored else Refusal("no_sentence", REFUSAL)


def _gate(e: Evidence) -> Refusal | None:
    """The learned gate (rag.answer.model) says the best sentences do not hold the answer."""
    return None if e.probability >= e.cut else Refusal("gate", REFUSAL)


def _nothing_chosen(e: Evidence) -> Refusal | None:
    return None if e.chosen else Refusal("nothing_chosen", REFUSAL)


def unsupported_across_languages(question: Question, best: np.ndarray) -> bool:
    """A Chinese question whose best sentence (`best`: its SENTENCE_FEATURES row) is in the other language, and
    neither that sentence, its neighbours nor its passage share any of the question's words, not even through the
    glossary's English: only the embedders' similarity speaks for it (「金管会对AI Agent的规范什么时候开始上路?」
    answered by "A few weeks ago, there were some inspiring news in the field of artificial intelligence…", gate 0.17).

    Over the training questions the gate answers, this refuses 6 of 556 answerable XQuAD Chinese questions over
    English passages, 26 of 456 whose passage was removed and 10 of 126 asked of other documents. Without the passage
    condition it refused 18 answerable ones, and on the held-out ones false refusals rose 0.015 -> 0.055. Not for an
    English question: the glossary's Chinese for English words misses more often (43 of 529 answerable refused against
    56 of 395 removed: bench/results/answers-notes.md)."""
    return (
        question.chinese
        and best[COLUMN["cross"]] > 0.5
        and best[COLUMN["cov_best"]] == 0
        and best[COLUMN["cov_window"]] == 0
        and best[COLUMN["cov_passage"]] == 0
    )


def _unsupported_across_languages(e: Evidence) -> Refusal | None:
    """An English passage sharing no word with a Chinese question: similarity alone."""
    unsupported = unsupported_across_languages(e.question, e.scored[0].features)
    return Refusal("unsupported_across_languages", REFUSAL) if unsupported else None


def lacks_asked_fact(question: Question, chosen: list) -> dict[str, str] | None:
    """The refusal to say when the quoted sentences only sound like an answer: a "when" question with no time among
    them (NO_TIME), a price question with no sum of money (NO_MONEY); None when they have it."""
    if asks_time(question.answer_type) and not any(c.typed for c in chosen):
        return NO_TIME
    if question.asks_money and not any(has_money(c.text) for c in chosen):
        return NO_MONEY
    return None


def _lacks_asked_fact(e: Evidence) -> Refusal | None:
    # Only the sentences on the question's words count: the time in a sentence on another subject is no answer
    # (「金管會…什麼時候上路?」 with a sentence on data centres taking "a year or longer").
    lacking = lacks_asked_fact(e.question, on_topic(e.chosen))
    if not lacking:
        return None
    return Refusal("lacks_asked_fact", lacking, partial=PARTIAL_TIME if lacking is NO_TIME else PARTIAL_MONEY)


# ---------------------------------------------------------------- answered, but not about the question

# The most share of the question's content words (rag.answer.grading.subject_shares) the best documents may write
# and still be off its subject. On the notebook dev set's dev split, the questions answered in their own language
# that are off the documents' subjects share 0.0 ("明天北京会下雨吗？", 「電輔車怎麼收費？」), on-subject ones 0.28
# and more (answerable ones 0.37 and more).
OFF_SUBJECT_SHARE = 0.1


def content_words(e: Evidence) -> list[tuple[str, list[str]]]:
    """The question's content words with the forms the notebook writes them in (rag.text.glossary)."""
    return e.glossary.written_forms(e.question.text, e.keywords.knows) if e.glossary is not None else []


def off_subject(e: Evidence) -> bool:
    """The answer's best sentence is in the question's own language, yet the documents of the best passages write
    (next to) none of the question's content words: the gate answered on the sentence's shape alone ("明天北京会下雨吗？"
    over posts on commuting). Across languages similarity speaks for a sentence whose words the glossary cannot
    translate, so such an answer is left to the gate; so is a question with no content word the glossary reads
    (「環港線有幾輛車?」: a name it does not cut)."""
    if not e.scored or e.scored[0].features[COLUMN["cross"]] > 0.5 or not content_words(e):
        return False
    shares = subject_shares(e.question, e.hits, e.keywords, e.glossary)
    return max(shares.values(), default=0.0) < OFF_SUBJECT_SHARE


def _off_subject(e: Evidence) -> Refusal | None:
    """Off the question's subject: not_found, naming the question's words the notebook writes nowhere (else the
    plain refusal)."""
    if not off_subject(e):
        return None
    unwritten = tuple(as_asked(w, e.question.text) for w, found in content_words(e) if not found)
    return Refusal("off_subject", words=unwritten) if unwritten else Refusal("off_subject", REFUSAL)


# The rules in the order the answerer walks them; the first that refuses decides what the user reads.
REFUSALS: tuple[Rule, ...] = (
    Rule("unknown_words", HITS, _unknown_words),
    Rule("unwritten_focus", HITS, _unwritten_focus),
    Rule("no_sentence", SCORED, _no_sentence),
    Rule("gate", SCORED, _gate),
    Rule("nothing_chosen", CHOSEN, _nothing_chosen),
    Rule("misses_focus", CHOSEN, _misses_focus),
    Rule("unsupported_across_languages", CHOSEN, _unsupported_across_languages),
    Rule("off_subject", CHOSEN, _off_subject),
    Rule("lacks_asked_fact", CHOSEN, _lacks_asked_fact),
)
