"""The offline default answerer (no LLM): quotes the retrieved sentences closest to the question, each cited [n]."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.runnables import RunnableConfig

from rag.answer import Answerer
from rag.answer.rules import (
    arrange,
    is_furniture,
    names_previous_as_view,
    points_to,
    reports_view,
    states_conclusion,
    without_source,
)
from rag.index.keyword import KeywordIndex
from rag.messages import NO_MONEY, NO_TIME, NOT_IN_NOTEBOOK, QUOTE_LANGUAGE, REFUSAL, refusal, say
from rag.settings import Settings
from rag.text import detect_script, han_share, is_chinese, keyword_tokens, matching_form, sentence_spans, to_script
from rag.types import Answer, AnswerRequest, Citation, Delta, Final, Hit

# English numbers written as words ("twelve hours", "a dozen", "three million").
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    r"eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
    r"trillion|dozen|half|several|a few|a couple of"
)
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
    # Eras and periods: 「300-50万年前的上新世晚期」, 「13世紀」, 「嘉慶年間」, 「明朝初期」.
    r"[万萬億亿]年|年前|世[紀纪]|年代|年間|年间|時期|时期|[初中末晚早]期|"
    r"Q[1-4]\b|\b(19|20)\d\d\b|\b(next|this|last|coming) (year|month|quarter|week)\b|\b(january|february|march|april|"
    r"may|june|july|august|september|october|november|december|today|tomorrow|yesterday|recently|soon|ago|later|"
    r"currently|now|centur(y|ies)|era|period|dynasty|reign)\b|\b\d+ (years?|months?|days?|weeks?|hours?)\b|\b\d+s\b|"
    rf"\b({_NUMBER_WORDS}|an?) (decades?|years?|months?|weeks?|days?|hours?|minutes?)\b",
    re.IGNORECASE,
)
_HAS_AMOUNT = re.compile(
    rf"\d|[一二兩两三四五六七八九十百千萬万億亿]+\s*[倍個个台家種种次年%％美元億亿萬万]|\b({_NUMBER_WORDS})\b", re.IGNORECASE
)
# A question asking how much money (a price, a cost, a salary) is answered by a sentence naming a sum of money, not by
# any number: "How much does the X200 cost?" is not answered by "It weighs 450 grams".
_ASKS_MONEY = re.compile(
    r"(多少|幾|几|how much|what).{0,12}?(錢|钱|價|价|費|费|薪|成本|售|\bcosts?\b|\bprices?\b|\bpaid\b|\bpay\b|\bsalar|\bcharge|\bfees?\b)"
    r"|(錢|钱|價格|价格|售價|售价|費用|费用|薪水|薪資|薪资|成本|\bcosts?\b|\bprices?\b|\bsalar(y|ies)\b|\bfees?\b).{0,12}?(多少|幾|几)"
    r"|\bhow much (does|did|do|will|would|is|was)\b.{0,60}\b(cost|charge|pay|sell for|earn)\b",
    re.IGNORECASE,
)
_HAS_MONEY = re.compile(
    r"[$€£¥₩]|美元|美金|(?<![单單])元|圓|円|港幣|港币|台幣|台币|人民幣|人民币|英鎊|英镑|歐元|欧元|韓元|韩元|[塊块][錢钱]|法郎|盧布|卢布|"
    r"免費|免费|圜|\b(dollars?|euros?|pounds?|yen|yuan|rupees?|francs?|usd|eur|gbp|rmb|cents?|free)\b|\d+\s*[kKmMbB]\b|"
    # A large sum with no currency the list above knows (355 billion won, 3億韓圜) still reads as a sum of money.
    r"\d[\d.,]*\s*(?:(?:billion|million|trillion|thousand|bn)\s*)?(won|baht|pesos?|rand|lira|krona|kronor|krone|dinars?|"
    r"dirhams?|riyals?|ringgit|rupiah|zloty|forints?|rubles?|roubles?)\b|"
    # ... unless a counter follows: 800億個電晶體, "80 billion transistors" are counts.
    r"\d[\d.,]*\s*(billion|million|trillion|bn)\b(?!\s+[A-Za-z])|\d[\d.,]*\s*[萬万億亿](?![個个人名座顆颗台件輛辆架種种次倍年天隻只])",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Dates are not amounts: 「台積電於2020年宣布」 does not answer "how much". A four-digit year (bare, or with 年) and a
# month or day are removed before looking for an amount; a year-like number followed by a unit stays an amount.
_UNIT = r"[%％億亿萬万元美人個个家台倍名座種种次件輛辆架顆颗]|\s*(?:dollars?|people|units?|km|kg|tons?|percent)\b"
_DATE = re.compile(
    rf"(?<![\d.,])(?:1[6-9]|20)\d\d(?:\s*[-–/]\s*(?:1[6-9]|20)?\d\d)?\s*年(?:\s*\d{{1,2}}\s*月)?(?:\s*\d{{1,2}}\s*[日號号])?"
    r"|\d{1,2}\s*月(?:\s*\d{1,2}\s*[日號号])?|\d{1,2}\s*[日號号](?![元本])"
    rf"|(?<![\d.,$])\b(?:1[6-9]|20)\d\d(?:s|\b)(?![.,]\d)(?!{_UNIT})",
    re.IGNORECASE,
)


def answer_type(question: str) -> re.Pattern | None:
    """The pattern a sentence answering `question` must show: a time for "when", a number for "how much"."""
    if _ASKS_TIME.search(question):
        return _HAS_TIME
    if _ASKS_AMOUNT.search(question):
        return _HAS_AMOUNT
    return None


def lacks_asked_fact(question: str, chosen: list[Candidate]) -> dict[str, str] | None:
    """The refusal to say when the quoted sentences only sound like an answer: a "when" question with no time among
    them (NO_TIME), a price question with no sum of money (NO_MONEY); None when they have it."""
    if answer_type(question) is _HAS_TIME and not any(c.typed for c in chosen):
        return NO_TIME
    if _ASKS_MONEY.search(question) and not any(_HAS_MONEY.search(c.text) for c in chosen):
        return NO_MONEY
    return None


def shows_answer_type(pattern: re.Pattern, sentence: str, question: str) -> bool:
    """The sentence has the asked-for kind of fact, not only numbers the question itself gives."""
    asked = set(_NUMBER.findall(question))
    if pattern is _HAS_AMOUNT:
        sentence = _DATE.sub(" ", sentence)
    return bool(pattern.search(_NUMBER.sub(lambda m: "" if m.group(0) in asked else m.group(0), sentence)))


@dataclass
class Candidate:
    hit_index: int
    start: int  # offsets in the hit text
    end: int
    text: str
    # What the sentence does in its passage (rag.answer.rules): they decide the answer's order, not its score.
    reported: bool = False  # reports a view (a claim the passage may refute): never leads
    restates: bool = False  # holds the question itself (「大家爭論不休的「究竟TPU能否取代GPU」」): asks, never leads
    concluding: bool = False  # carries a conclusion/contrast marker: leads a yes/no answer
    points: int = 0  # +1 points at the next sentence ("as follows:"), -1 at the previous one ("這三個方面…")
    before: Candidate | None = field(default=None, repr=False, compare=False)  # neighbours in the same chunk
    after: Candidate | None = field(default=None, repr=False, compare=False)
    score: float = 0.0
    similarity: float = 0.0
    coverage: float = 0.0
    typed: bool = False  # has the kind of fact the question asks for (a time, a number)
    features: Any = None  # its row of rag.answer.model.SENTENCE_FEATURES
    logit: float = 0.0  # the learned sentence scorer's logit; score is its sigmoid (for ordering, not a probability)


def _as_asked(word: str, question: str) -> str:
    """A word of the question's matching form (Simplified, lowercased) as the question writes it: 面包 -> 麵包,
    alps -> Alps."""
    n = len(word)
    for i in range(len(question) - n + 1):
        if question[i : i + n].lower() == word or (han_share(word) > 0 and matching_form(question[i : i + n]) == word):
            return question[i : i + n]
    return word


class ExtractiveAnswerer(Answerer):
    """No LLM: quotes the retrieved sentences the learned scorer ranks best, cites each, or refuses when the gate says
    they do not answer."""

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
            for c in self._sentences(h, hit):
                if c is None:
                    continue
                key = "".join(c.text.split())
                informative = len(key) >= 8 if han_share(c.text) > 0.5 else len(c.text.split()) >= 4
                # The title or section heading on a line of its own labels the passage; a document with no title
                # line is titled by its first sentence (ingest.titles), which is still its text, and quotable.
                text = hit.text
                own_line = (c.start == 0 or text[c.start - 1] == "\n") and (c.end == len(text) or text[c.end] == "\n")
                is_label = (own_line and key == "".join(hit.title.split())) or key in "".join(hit.section.split())
                if informative and not is_label and key not in seen:  # overlapping chunks repeat sentences
                    seen.add(key)
                    out.append(c)
        return out

    @staticmethod
    def _sentences(h: int, hit: Hit) -> list[Candidate | None]:
        """Every sentence of a chunk in order, None for headings, table rows, bylines and link-only lines,
        each linked to its neighbours and marked with what it does in the passage."""
        text = hit.text
        sentences: list[Candidate | None] = []
        for a, b in sentence_spans(text):
            whole_line = (a == 0 or text[a - 1] == "\n") and (b == len(text) or text[b] == "\n")
            sentences.append(None if is_furniture(text[a:b], whole_line) else Candidate(h, a, b, text[a:b]))
        for i, c in enumerate(sentences):
            if c is None:
                continue
            c.before = sentences[i - 1] if i > 0 else None
            c.after = sentences[i + 1] if i + 1 < len(sentences) else None
            c.points = points_to(c.text)
            c.concluding = states_conclusion(c.text)
            # A view is reported in the sentence itself, introduced by the one before ("…的說法是:"),
            # or named as a view by the one after ("這種說法…"); a sentence concluding against it is the author's.
            before = c.before.text.rstrip() if c.before is not None else ""
            introduced = before.endswith((":", "：")) and reports_view(before)
            named = c.after is not None and names_previous_as_view(c.after.text)
            c.reported = not c.concluding and (reports_view(c.text) or introduced or named)
        return sentences

    def coverage(self, query_terms: list[str], text: str) -> float:
        """Share of the question's idf weight whose terms occur in `text`."""
        weights = {t: self.keywords.idf(t) for t in set(query_terms)}
        total = sum(weights.values())
        if not total:
            return 0.0
        present = set(keyword_tokens(text))
        return sum(w for t, w in weights.items() if t in present) / total

    def text_features(self, question: str, hits: list[Hit], cands: list[Candidate]) -> np.ndarray:
        """rag.answer.model.SENTENCE_FEATURES of each candidate but the embedders' similarities (left at 0)."""
        from rag.answer.model import sentence_features

        return sentence_features(question, hits, cands, self.keywords, self.glossary)

    def similarities(self, question: str, hits: list[Hit], cands: list[Candidate]) -> tuple[np.ndarray, np.ndarray]:
        """Cosines of the question to each candidate: e5's (a sentence in the question's language read under its
        passage's title: rag.answer.model.as_embedded), and USE's on the sentence (its cross-lingual one; e5's again
        without it)."""
        from rag.answer.model import as_embedded

        texts = [c.text for c in cands]
        titled = [as_embedded(question, hits[c.hit_index].title, c.text, hits[c.hit_index].text) for c in cands]
        # One sentence per forward pass: the int8 encoder quantises activations over its whole batch, so a sentence
        # embedded beside others (and remembered) came out differently with what was asked before (cosine to the
        # question ±0.005, enough to move the gate across its cut: the same question answered or refused by turns).
        query = np.asarray(self.embedder.embed_queries([question])[0])
        e5 = np.array([float(np.asarray(self.embedder.embed_passages([t]))[0] @ query) for t in titled])
        if self.cross_embedder is None:
            return e5, e5
        use = np.asarray(self.cross_embedder.embed_passages(texts)) @ np.asarray(
            self.cross_embedder.embed_queries([question])[0]
        )
        return e5, use

    def sentence_features(self, question: str, hits: list[Hit], cands: list[Candidate]) -> np.ndarray:
        """Every SENTENCE_FEATURES column of every candidate (training reads them all; answering embeds only the
        shortlist: score)."""
        from rag.answer.model import fill_similarities

        x = self.text_features(question, hits, cands)
        return fill_similarities(x, *self.similarities(question, hits, cands))

    def score(self, question: str, hits: list[Hit], cands: list[Candidate]) -> list[Candidate]:
        """The candidates worth quoting, scored: a first scorer over the text features shortlists them, then only
        those are embedded and scored by the learned sentence scorer (logit; `score` is its sigmoid, for
        ordering) from rag/answer/model.json (fitted on DRCD test, CMRC 2018 trial and XQuAD by
        bench/train_answer_model.py). Returns the shortlist, best first."""
        from rag.answer.model import SENTENCE_FEATURES, AnswerModel, fill_similarities, sigmoid

        model = AnswerModel.load()
        x = self.text_features(question, hits, cands)
        # A Latin-lettered sentence inside a Chinese passage (a list of English names) is no other language's passage.
        keep = model.shortlist(x, both_languages=len({is_chinese(h.text) for h in hits}) == 2)
        short = [cands[i] for i in keep]
        x = fill_similarities(x[keep], *self.similarities(question, hits, short))
        logits = model.sentence_logits(x)
        col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
        for c, row, logit in zip(short, x, logits):
            c.features, c.logit, c.score = row, float(logit), float(sigmoid(logit))
            c.similarity = float(row[col["e5"]])
            c.coverage = float(row[col["cov_best"]])
            c.typed = bool(row[col["typed"]])
            c.restates = bool(row[col["quotes_question"]])
        return sorted(short, key=lambda c: -c.logit)

    def gate(self, question: str, scored: list[Candidate]) -> tuple[float, float]:
        """The learned gate's probability that the best (scored) candidates answer `question` (as the sentences were
        asked it), and its cut: settings.answer_gate, or the one fitted for its kind of question (AnswerModel.cut)."""
        from rag.answer.model import AnswerModel, gate_features

        model = AnswerModel.load()
        x = np.stack([c.features for c in scored])
        g = gate_features(x, np.array([c.logit for c in scored]))
        cut = self.settings.answer_gate if self.settings.answer_gate is not None else model.cut(question, x)
        return model.answerable_probability(g), cut

    def answerable_probability(self, question: str, scored: list[Candidate]) -> float:
        return self.gate(question, scored)[0]

    def is_answerable(self, question: str, scored: list[Candidate]) -> bool:
        """Answer only when the learned gate says the best sentences hold the answer."""
        probability, cut = self.gate(question, scored)
        return probability >= cut

    def unwritten_focus(self, question: str, hits: list[Hit]) -> list[str]:
        """The question's years and model names that no retrieved passage writes (rag.answer.model.unwritten_focus),
        as the question writes them; [] when the setting answer_unwritten_focus is off."""
        from rag.answer.model import unwritten_focus

        return unwritten_focus(question, hits, self.glossary) if self.settings.answer_unwritten_focus else []

    def misses_focus(self, question: str, hits: list[Hit], chosen: list[Candidate]) -> bool:
        """The question names things in Latin letters the passages also write (Groq, CEO) and no quoted sentence's
        window holds them all (rag.answer.model.misses_focus)."""
        from rag.answer.model import misses_focus

        return misses_focus(question, hits, chosen, self.glossary)

    def unsupported_across_languages(self, question: str, scored: list[Candidate]) -> bool:
        """A Chinese question whose best sentence is English and shares none of its words with it or its passage, even
        through the glossary (rag.answer.model.unsupported_across_languages)."""
        from rag.answer.model import unsupported_across_languages

        return unsupported_across_languages(question, scored[0].features)

    # Two thirds of the words unknown is enough when the rest are common in the notebook: idf below this share of an
    # unseen word's ("train" in "How do I train a puppy to sit?" over posts on training models).
    common_idf_share = 0.5

    def unknown_words(self, question: str, hits: list[Hit]) -> list[str]:
        """The words of a question the notebook writes in neither language, as the question writes them, when they
        are most of its content words (settings.answer_unknown_share; or two thirds, the rest being common words of
        the notebook) and no passage is close (settings.answer_unknown_dense): the question is off the notebook's
        subjects. Else []."""
        if self.glossary is None:
            return []
        words = self.glossary.written_forms(question, self.keywords.knows)
        unknown = [w for w, found in words if not found]
        closest = max((h.dense_similarity or 0.0 for h in hits), default=0.0)
        share = self.settings.answer_unknown_share
        if share > 1 or len(unknown) < 2 or closest >= self.settings.answer_unknown_dense:
            return []  # a share above 1 turns the rule off
        if len(unknown) < share * len(words):
            unseen = self.keywords.idf("\x00")  # what a word no chunk has weighs
            common = all(max(self.keywords.idf(f) for f in found) < self.common_idf_share * unseen for _, found in words if found)
            if not (common and 3 * len(unknown) >= 2 * len(words)):
                return []
        return [_as_asked(w, question) for w in unknown]

    def select(self, scored: list[Candidate], question: str = "", cands: list[Candidate] = ()) -> list[Candidate]:
        """The sentences to quote, in reading order, from the scored shortlist (`cands`: every candidate, for a
        yes/no question's conclusion, which may not have been shortlisted)."""
        from rag.answer.model import AnswerModel

        ranked = sorted(scored, key=lambda c: -c.logit)
        margin = self.settings.answer_margin
        floor = ranked[0].logit - (AnswerModel.load().margin if margin is None else margin)
        chosen = [c for c in ranked[: self.settings.answer_sentences] if c.logit >= floor]
        shortlisted = {id(c) for c in ranked}
        ranked += [c for c in cands if id(c) not in shortlisted]
        # Read as an answer: the answer first (a yes/no question's: the passage's own conclusion), then its support
        # by passage and document order, views the passage reports last, a pointer sentence with its neighbour.
        return arrange(chosen, ranked, question, self.settings.answer_sentences)

    @staticmethod
    def _not_mentioned(words: list[str], script: str) -> str:
        """The refusal naming what the documents do not mention, as the question writes it."""
        listed = ", ".join(words) if script == "en" else "、".join(f"「{w}」" for w in words)
        return refusal(script, NOT_IN_NOTEBOOK).format(words=listed)

    def _refusal(self, text: str, script: str, hits: list[Hit]) -> Iterator[Any]:
        yield Delta(text)
        yield Final(Answer(text=text, refused=True, script=script, hits=hits, backend=self.backend))

    def stream(self, input: AnswerRequest, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        question = input.query or input.question  # a follow-up's sentences are weighed against its standalone form
        hits: list[Hit] = input.hits
        script = input.script or detect_script(question, self.settings.default_script)
        # The document a question names chose its passages; a sentence is asked only for the rest.
        question = without_source(question, [h.title for h in hits])
        unknown = self.unknown_words(question, hits)
        if unknown:
            yield from self._refusal(self._not_mentioned(unknown, script), script, hits)
            return
        unwritten = self.unwritten_focus(question, hits)
        if unwritten:
            # Another year or model version than the passages write: a near miss, refused before any quote; named
            # when the notebook writes it nowhere.
            mentioned = any(self.keywords.knows(t) for w in unwritten for t in keyword_tokens(w))
            yield from self._refusal(refusal(script, REFUSAL) if mentioned else self._not_mentioned(unwritten, script), script, hits)
            return
        cands = self.candidates(hits)
        scored = self.score(question, hits, cands) if cands else []
        chosen = self.select(scored, question, cands) if scored and self.is_answerable(question, scored) else []
        if chosen and self.misses_focus(question, hits, chosen):
            chosen = []  # a near miss: no quoted sentence is about everything the question names
        if chosen and self.unsupported_across_languages(question, scored):
            chosen = []  # an English passage sharing no word with a Chinese question: similarity alone
        # A "when" question answered by sentences without any time only sounds like an answer; so does a price.
        lacking = lacks_asked_fact(question, chosen) if chosen else None
        if not chosen or lacking:
            yield from self._refusal(refusal(script, lacking or REFUSAL), script, hits)
            return
        from rag.answer.model import reads_chinese

        citations: list[Citation] = []
        number: dict[int, int] = {}
        pieces = []
        labelled = False
        for c in chosen:
            hit = hits[c.hit_index]
            if c.hit_index not in number:
                number[c.hit_index] = len(number) + 1
            n = number[c.hit_index]
            citations.append(
                Citation(n, hit.chunk_id, hit.source, hit.title, c.text, hit.section, hit.start + c.start, hit.start + c.end)
            )
            sentence = to_script(c.text, script) if script != "en" and han_share(c.text) > 0 else c.text
            # A quote in the other language says so, once for each run of such sentences.
            other_language = reads_chinese(c.text, hit.text) == (script == "en")
            if other_language and not labelled:
                sentence = say(QUOTE_LANGUAGE, script) + sentence
            labelled = other_language
            joiner = " " if pieces else ""  # keeps "[1]" apart from the next sentence in either language
            piece = f"{joiner}{sentence} [{n}]"
            pieces.append(piece)
            yield Delta(piece)
        text = "".join(pieces)
        yield Final(Answer(text=text, refused=False, citations=citations, script=script, hits=hits, backend=self.backend))
