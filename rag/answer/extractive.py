"""The offline default answerer (no LLM): quotes the retrieved sentences closest to the question, each cited [n]."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.runnables import RunnableConfig

from rag.answer import Answerer
from rag.answer.features import COLUMN, fill_similarities, gate_features, sentence_features, similarities
from rag.answer.grading import closest, subject_documents
from rag.answer.model import AnswerModel, sigmoid
from rag.answer.planted import planted_spans
from rag.answer.question import Question, analyse
from rag.answer.refusals import CHOSEN, REFUSALS, SCORED, Evidence, Refusal
from rag.answer.rules import (
    answers_nothing,
    arrange,
    is_aside,
    is_furniture,
    leans_on_previous,
    names_previous_as_view,
    points_to,
    raises_question,
    reports_view,
    states_conclusion,
    table_rows,
)
from rag.index.keyword import KeywordIndex
from rag.messages import ASKED, NOT_IN_NOTEBOOK, PARTIAL, QUOTE_LANGUAGE, refusal, say
from rag.settings import Settings
from rag.text import detect_script, han_share, is_chinese, sentence_spans, to_script
from rag.text.script import mostly_han, reads_as_chinese
from rag.types import ANSWERED, Answer, AnswerRequest, Citation, Delta, Final, Hit
from rag.types import PARTIAL as PARTIAL_STATUS


@dataclass
class Candidate:
    hit_index: int
    start: int  # offsets in the hit text
    end: int
    text: str
    # What the sentence does in its passage (rag.answer.rules): they decide the answer's order, not its score.
    reported: bool = False  # reports a view (a claim the passage may refute): never leads
    restates: bool = False  # holds the question itself (「大家爭論不休的「究竟TPU能否取代GPU」」): asks, never leads
    asks: bool = False  # raises a question instead of answering one (rag.answer.rules.raises_question)
    leans: bool = False  # its subject is in another sentence: 「說它是『錯誤』,是因為…」 never leads
    aside: bool = False  # a postscript: never leads
    ends_line: bool = True  # the last sentence of its line: a question there is an interviewer's turn
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

    def reading(self, keywords: KeywordIndex) -> ExtractiveAnswerer:
        """A copy weighing the question's words by `keywords` (e.g. the index without some sources)."""
        return ExtractiveAnswerer(self.embedder, keywords, self.settings, self.glossary, self.cross_embedder)

    def candidates(self, hits: list[Hit]) -> list[Candidate]:
        out, seen = [], set()
        for h, hit in enumerate(hits):
            for c in self._sentences(h, hit):
                if c is None:
                    continue
                key = "".join(c.text.split())
                # Counted in Han characters when mostly Han (script.mostly_han), not by is_chinese's grammar words:
                # 「可以使用A*算法寻找最优解。」 has no Chinese function character and an "A", and would need four words.
                informative = len(key) >= 8 if mostly_han(c.text) else len(c.text.split()) >= 4
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
        """Every sentence of a chunk in order, None for headings, bylines, link-only lines and sentences planted to
        speak to the reader (rag.answer.planted), each linked to its neighbours and marked with what it does in the
        passage; a table row is one sentence, read with its column headers."""
        text = hit.text
        rows = {(a, b): said for a, b, said in table_rows(text)}
        spans = sorted(
            [(a, b) for a, b in sentence_spans(text) if not any(ra <= a < rb for ra, rb in rows)] + list(rows)
        )
        planted = set(planted_spans(text, spans))  # speaks to the reader or an AI: never an answer
        sentences: list[Candidate | None] = []
        for a, b in spans:
            whole_line = (a == 0 or text[a - 1] == "\n") and (b == len(text) or text[b] == "\n")
            if (a, b) in planted or ((a, b) not in rows and is_furniture(text[a:b], whole_line)):
                sentences.append(None)
            else:
                sentences.append(Candidate(h, a, b, rows.get((a, b), text[a:b])))
        for i, c in enumerate(sentences):
            if c is None:
                continue
            c.before = sentences[i - 1] if i > 0 else None
            c.after = sentences[i + 1] if i + 1 < len(sentences) else None
            c.points = points_to(c.text)
            c.concluding = states_conclusion(c.text)
            c.asks, c.leans, c.aside = raises_question(c.text), leans_on_previous(c.text), is_aside(c.text)
            line_end = text.find("\n", c.end)
            c.ends_line = not text[c.end : len(text) if line_end < 0 else line_end].strip()
            # A view is reported in the sentence itself, introduced by the one before ("…的說法是:"),
            # or named as a view by the one after ("這種說法…"); a sentence concluding against it is the author's.
            before = c.before.text.rstrip() if c.before is not None else ""
            introduced = before.endswith((":", "：")) and reports_view(before)
            named = c.after is not None and names_previous_as_view(c.after.text)
            c.reported = not c.concluding and (reports_view(c.text) or introduced or named)
        return sentences

    def similarities(
        self, question: Question, hits: list[Hit], cands: list[Candidate]
    ) -> tuple[np.ndarray, np.ndarray]:
        """e5's and USE's cosines of the question to each candidate (rag.answer.features.similarities)."""
        return similarities(question, hits, cands, self.embedder, self.cross_embedder)

    def score(self, question: Question, hits: list[Hit], cands: list[Candidate]) -> list[Candidate]:
        """The candidates worth quoting, scored: a first scorer over the text features shortlists them, then only
        those are embedded and scored by the learned sentence scorer (logit; `score` is its sigmoid, for
        ordering) from rag/answer/model.json (fitted on DRCD test, CMRC 2018 trial and XQuAD by
        bench/train_answer_model.py). Returns the shortlist, best first."""
        model = AnswerModel.load()
        x = sentence_features(question, hits, cands)
        # A Latin-lettered sentence inside a Chinese passage (a list of English names) is no other language's passage.
        keep = model.shortlist(x, both_languages=len({is_chinese(h.text) for h in hits}) == 2)
        short = [cands[i] for i in keep]
        x = fill_similarities(x[keep], *self.similarities(question, hits, short))
        logits = model.sentence_logits(x)
        for c, row, logit in zip(short, x, logits):
            c.features, c.logit, c.score = row, float(logit), float(sigmoid(logit))
            c.similarity = float(row[COLUMN["e5"]])
            c.coverage = float(row[COLUMN["cov_best"]])
            c.typed = bool(row[COLUMN["typed"]])
            c.restates = bool(row[COLUMN["quotes_question"]])
        return sorted(short, key=lambda c: -c.logit)

    def gate(self, question: Question, scored: list[Candidate]) -> tuple[float, float]:
        """The learned gate's probability that the best (scored) candidates answer `question`, and its cut:
        settings.answer_gate, or the one fitted for its kind of question (AnswerModel.cut)."""
        model = AnswerModel.load()
        x = np.stack([c.features for c in scored])
        cut = self.settings.answer_gate if self.settings.answer_gate is not None else model.cut(question.text, x)
        return model.answerable_probability(self.gate_inputs(scored)), cut

    @staticmethod
    def gate_inputs(scored: list[Candidate]) -> np.ndarray:
        """What the gate reads of the scored candidates: their GATE_FEATURES (rag.answer.features)."""
        return gate_features(np.stack([c.features for c in scored]), np.array([c.logit for c in scored]))

    def answerable_probability(self, question: Question, scored: list[Candidate]) -> float:
        return self.gate(question, scored)[0]

    def analyse(self, question: str, hits: list[Hit]) -> Question:
        """The question as this notebook's answer reads it (rag.answer.question.analyse)."""
        return analyse(question, [h.title for h in hits], self.glossary, self.keywords)

    def select(self, scored: list[Candidate], question: str = "", cands: list[Candidate] = ()) -> list[Candidate]:
        """The sentences to quote, in reading order, from the scored shortlist (`cands`: every candidate, for a
        yes/no question's conclusion, which may not have been shortlisted)."""
        ranked = sorted(scored, key=lambda c: -c.logit)
        margin = self.settings.answer_margin
        # A sentence raising the question answers nothing: the margin is measured from the best that may answer.
        said = [c for c in ranked if not answers_nothing(c)] or ranked
        floor = said[0].logit - (AnswerModel.load().margin if margin is None else margin)
        chosen = [c for c in said[: self.settings.answer_sentences] if c.logit >= floor]
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

    def _graded(self, e: Evidence, refused: Refusal, asked: str, script: str) -> Iterator[Any]:
        """The answer when the documents do not state what was asked (rag.answer.grading): partial, the closest
        sentences quoted under one line saying so (the rule's own, else messages.PARTIAL naming the question as
        `asked`), or not_found, one line (naming the question's words the notebook never writes, when the rule
        found them)."""
        if refused.words:
            yield from self._refusal(self._not_mentioned(list(refused.words), script), script, e.hits)
            return
        self.advance(e, SCORED)  # a rule before the gate refused: the closest sentences are scored all the same
        quotes = closest(e.scored, e.hits, subject_documents(e.question, e.hits, e.keywords, e.glossary))
        if not quotes:  # nothing retrieved is about the question
            yield from self._refusal(refusal(script, refused.message), script, e.hits)
            return
        shown = asked.strip().rstrip("?？!！。.").strip()
        shown = to_script(shown, script) if script != "en" else shown
        header = say(refused.partial or PARTIAL, script, what=say(ASKED, script, question=shown))
        yield from self._quoted(quotes, e.hits, script, PARTIAL_STATUS, header)

    def _quoted(
        self, chosen: list[Candidate], hits: list[Hit], script: str, status: str = ANSWERED, header: str = ""
    ) -> Iterator[Any]:
        """The chosen sentences quoted in `script`, each cited [n]: one paragraph for an answer; for a partial answer
        one a line under `header`."""
        citations: list[Citation] = []
        number: dict[int, int] = {}
        pieces = [header] if header else []
        if header:
            yield Delta(header)
        labelled = False
        for c in chosen:
            hit = hits[c.hit_index]
            if c.hit_index not in number:
                number[c.hit_index] = len(number) + 1
            n = number[c.hit_index]
            # The quote verbatim (a table row's candidate text is its cells under their headers).
            quote = hit.text[c.start : c.end]
            citations.append(
                Citation(
                    n, hit.chunk_id, hit.source, hit.title, quote, hit.section, hit.start + c.start, hit.start + c.end
                )
            )
            sentence = to_script(c.text, script) if script != "en" and han_share(c.text) > 0 else c.text
            # A quote in the other language says so, once for each run of such sentences.
            other_language = reads_as_chinese(c.text, hit.text) == (script == "en")
            if other_language and not labelled:
                sentence = say(QUOTE_LANGUAGE, script) + sentence
            labelled = other_language
            # " " keeps "[1]" apart from the next sentence in either language; a partial answer lists its quotes.
            joiner = "\n- " if header else " " if pieces else ""
            piece = f"{joiner}{sentence} [{n}]"
            pieces.append(piece)
            yield Delta(piece)
        text = "".join(pieces)
        yield Final(
            Answer(
                text=text,
                refused=False,
                citations=citations,
                script=script,
                hits=hits,
                backend=self.backend,
                status=status,
            )
        )

    def advance(self, e: Evidence, stage: str) -> None:
        """Fills `e` in up to `stage` (rag.answer.refusals: HITS, SCORED, CHOSEN): the candidates scored and the
        gate's verdict, then the sentences chosen (only once the rules before let them through)."""
        if stage in (SCORED, CHOSEN) and e.stage not in (SCORED, CHOSEN):
            e.candidates = self.candidates(e.hits)
            e.scored = self.score(e.question, e.hits, e.candidates) if e.candidates else []
            if e.scored:
                e.probability, e.cut = self.gate(e.question, e.scored)
            e.stage = SCORED
        if stage == CHOSEN and e.stage != CHOSEN:
            e.chosen = self.select(e.scored, e.question.text, e.candidates) if e.scored else []
            e.stage = CHOSEN

    def refusal(self, e: Evidence) -> Refusal | None:
        """The first rule of REFUSALS that refuses, walked in order; None when none does (`e` is then filled in)."""
        for rule in REFUSALS:
            self.advance(e, rule.needs)
            refused = rule.check(e)
            if refused is not None:
                return refused
        return None

    def stream(self, input: AnswerRequest, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        asked = input.query or input.question  # a follow-up's sentences are weighed against its standalone form
        hits: list[Hit] = input.hits
        script = input.script or detect_script(asked, self.settings.default_script)
        # The document a question names chose its passages; a sentence is asked only for the rest.
        question = self.analyse(asked, hits)
        e = Evidence(question, hits, self.keywords, self.glossary, self.settings)
        refused = self.refusal(e)
        if refused is not None:
            yield from self._graded(e, refused, asked, script)
            return
        chosen = e.chosen
        if chosen[0].typed:  # the answer holds the asked-for time or number: a sentence without one is padding
            chosen = [c for c in chosen if c.typed]
        yield from self._quoted(chosen, hits, script)
