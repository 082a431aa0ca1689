"""Generative answers with verified citations, from any LangChain chat model: an OpenAI-compatible server
(llama.cpp server, Ollama, vLLM, LM Studio, OpenAI itself) through langchain-openai, or a local GGUF file
through llama-cpp-python (an optional extra: `make llm`).

How an answer is made (`GenerativeAnswerer.stream`):
1. The extractive answer is computed first: retrieval decides "no answer" (its calibrated refusal), and
   it is what the user gets whenever the LLM fails.
2. The passages are numbered in rank order and fitted into `llm_max_context_tokens` (cl100k_base
   tokens, offline): the lowest-ranked passages go first; a passage that must be shortened is cut at
   a sentence boundary, never mid-sentence.
3. The model's tokens are cut into sentences as they stream. Each sentence is verified (rag/answer/verify.py)
   before it is shown: its [n] must point to a passage that supports it, otherwise the citation is moved
   to a passage that does, or the sentence is withheld and listed in `Answer.unsupported`. The script is
   converted with OpenCC when the model drifted (繁 question → 繁 answer). Citations are renumbered in
   order of appearance and quote the best-supporting sentence of the passage, verbatim.
   So the streamed pieces always add up to `Answer.text`.
4. If the model says the fixed refusal sentence although the extractive answer found a sentence that
   answers (the LLM is only asked then), a bare refusal would contradict the passages: a one-line notice
   and the extractive answer are shown instead. So it is when no sentence survives verification. A server
   that is down, slow or failing gives a one-line notice (`Answer.notice`) and the extractive answer: never
   a traceback.

Follow-up questions: `standalone_question(question, history)` rewrites one into a standalone question
before retrieval (Notebook.ask_events does it when given `history`); the rewrite is on
`Answer.rewritten_query` (None when unchanged) for the UI to show — it is not part of the text stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from rag import messages, prompts
from rag.answer import Answerer, answer_script, history_pairs
from rag.answer.context import Passage, answer_messages, count_tokens, fit_passages, passage_budget
from rag.answer.planted import mask, planted_spans
from rag.answer.verify import SentenceStream, Verifier, is_claim, strip_citations
from rag.llm.notices import error_notice, one_line
from rag.settings import Settings
from rag.text import detect_script, matching_form, to_script
from rag.types import Answer, AnswerRequest, Citation, Delta, Final, Hit

REWRITE_MAX_TOKENS = 96  # a standalone question is one line


def _is_label(text: str, hits: Sequence[Hit]) -> bool:
    """A passage header (it names the source file) or a title/section line copied by the model."""
    key = "".join(text.split())
    for hit in hits:
        if hit.source in text:
            return True
        if key and any(key in "".join(label.split()) for label in (hit.title, hit.section) if label):
            return True
    return False


def _normalise(text: str) -> str:
    return re.sub(r"[\W_]+", "", matching_form(strip_citations(text)).lower())


_REFUSALS = {_normalise(t) for t in messages.REFUSAL.values()}


def is_refusal(text: str) -> bool:
    """The model said the fixed refusal sentence (in any script)."""
    plain = _normalise(text)
    return bool(plain) and any(r in plain for r in _REFUSALS) and len(plain) <= 2 * max(map(len, _REFUSALS))


@dataclass
class _Draft:
    """What has been accepted of the model's answer so far."""

    pieces: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    numbers: dict[int, int] = field(default_factory=dict)  # passage index → number shown
    unsupported: list[str] = field(default_factory=list)
    held: list = field(default_factory=list)  # lead-in sentences, shown only before a verified claim
    refused: bool = False


class GenerativeAnswerer(Answerer):
    """Answers with a chat model; every sentence verified against the passages before it is shown."""

    def __init__(
        self,
        llm: BaseChatModel,
        fallback: Answerer,
        settings: Settings,
        backend: str = "openai",
        where: str = "",
        embedder=None,
    ):
        self.llm = llm
        self.fallback = fallback
        self.settings = settings
        self.backend = backend
        self.where = where or backend
        self.embedder = embedder

    # -- follow-up questions

    def standalone_question(self, question: str, history: Sequence[tuple[str, str]] | None) -> tuple[str, str | None]:
        """(`question` rewritten to stand alone given the conversation, error notice or None).

        Without history, or when the model fails or answers nonsense, the question is returned as is.
        """
        if not history:
            return question, None
        script = answer_script(question, history, self.settings.default_script)
        turns, budget = [], self.settings.llm_max_context_tokens // 2
        for q, a in reversed(history_pairs(history)[-self.settings.llm_history_turns :]):
            a = strip_citations(a or "")
            a = a if len(a) <= 600 else a[:600] + "…"
            turn = prompts.HISTORY_TURN.format(question=q, answer=a)
            budget -= count_tokens(turn, self.settings)
            if budget < 0 and turns:
                break
            turns.insert(0, turn)
        language = prompts.LANGUAGE_NAME.get(script, "English")
        chat = [
            SystemMessage(content=prompts.REWRITE_SYSTEM.format(language=language)),
            HumanMessage(content=prompts.REWRITE_USER.format(history="\n\n".join(turns), question=question)),
        ]
        try:
            # A short cap: small models otherwise ramble on (extra_body: servers that read only max_tokens).
            limit = {"max_tokens": REWRITE_MAX_TOKENS, "extra_body": {"max_tokens": REWRITE_MAX_TOKENS}}
            out = "".join(str(c.content) for c in self.llm.stream(chat, **limit))
        except Exception as exc:  # noqa: BLE001 — reported as one line, never a traceback
            # The rules' rewrite instead (rag.followup): the extractive fallback still answers the follow-up.
            return super().standalone_question(question, history)[0], error_notice(
                exc, script, self.where, self.settings.llm_timeout
            )
        lines = [line.strip() for line in out.strip().splitlines() if line.strip()]
        rewritten = lines[0] if lines else ""
        rewritten = re.sub(r"^(standalone question|question|問題|问题)\s*[:：]\s*", "", rewritten, flags=re.IGNORECASE)
        rewritten = rewritten.strip().strip("\"'“”「」").strip()
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            return super().standalone_question(question, history)[0], None
        if script != "en":
            rewritten = to_script(rewritten, script)
        return rewritten, None

    # -- answering

    def _draft_answer(self, draft: _Draft, script: str, hits: list, rewritten: str | None, notice: str = "") -> Answer:
        """The Answer made of the sentences accepted so far; a notice (the LLM stopped) is appended."""
        return Answer(
            text="".join(draft.pieces) + (f"\n{notice}" if notice else ""),
            refused=False,
            citations=draft.citations,
            backend=self.backend,
            script=script,
            hits=hits,
            unsupported=draft.unsupported,
            notice=notice,
            rewritten_query=rewritten,
        )

    def _fallback(self, events: list, notice: str, draft: _Draft | None, rewritten: str | None) -> Iterator[Any]:
        """The notice line, then the extractive answer."""
        extractive: Answer = events[-1].answer
        yield Delta(notice + "\n")
        yield from events[:-1]
        yield Final(
            replace(
                extractive,
                text=notice + "\n" + extractive.text,
                backend=self.fallback.backend,
                notice=notice,
                unsupported=draft.unsupported if draft else [],
                rewritten_query=rewritten,
            )
        )

    def _accept(self, sentence, draft: _Draft, passages: list[Passage], hits, verifier: Verifier, script: str):
        """The piece to show for one generated sentence, or None when it is withheld."""
        plain = sentence.plain
        if not plain:
            return None
        if is_refusal(plain):
            draft.refused = True
            return None
        if not is_claim(plain):
            if len(re.findall(r"[^\W\d_]", plain)) >= 2:  # a lead-in; a bare list number "2." is dropped
                draft.held.append(sentence)
            return None
        if _is_label(plain, [hits[p.hit_index] for p in passages]):
            return None  # a passage's header, title or section copied: not an answer
        cited = [n - 1 for n in sentence.cited]  # numbers pointing to no passage are ignored: dropped
        support = verifier.best(plain, cited)
        shown = to_script(plain, script)  # the model drifted into the other script: characters only
        if support is None:
            draft.unsupported.append(shown)
            return None
        marks = []
        for i in support.passages:
            p = passages[i]
            hit = hits[p.hit_index]
            n = draft.numbers.setdefault(i, len(draft.numbers) + 1)
            a, b = support.quotes[i]
            quote = p.text[a:b]
            if not any(c.n == n and c.quote == quote for c in draft.citations):
                start = hit.start + p.offset + a
                draft.citations.append(
                    Citation(n, hit.chunk_id, hit.source, hit.title, quote, hit.section, start, start + len(quote))
                )
            if f"[{n}]" not in marks:
                marks.append(f"[{n}]")
        out = ""
        for s in [*draft.held, sentence]:
            text = shown if s is sentence else to_script(s.plain, script)
            if draft.pieces or out:  # a space keeps "[1]" apart from the next sentence, as the extractive does
                out += "\n" if "\n" in s.gap else " "
            out += text
        draft.held.clear()
        piece = f"{out} {''.join(sorted(marks, key=lambda m: int(m[1:-1])))}"
        draft.pieces.append(piece)
        return piece

    def stream(self, input: AnswerRequest, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        """Delta pieces of the verified answer, then Final(Answer); `input.query` is the standalone rewrite of
        the question the hits were retrieved for, `input.llm_error` a notice (the LLM already failed: skip it)."""
        question = input.question
        query = input.query or question
        hits: list[Hit] = input.hits
        rewritten = query if query != question else None
        script = input.script or detect_script(question, self.settings.default_script)
        events = list(self.fallback.stream(AnswerRequest(question=query, hits=hits, script=script), config))
        extractive: Answer = events[-1].answer
        if extractive.refused:  # retrieval decides "no answer": the LLM is not asked
            yield from events[:-1]
            yield Final(replace(extractive, backend=self.backend, rewritten_query=rewritten))
            return
        if input.llm_error:
            yield from self._fallback(events, input.llm_error, None, rewritten)
            return

        passages = fit_passages(hits, passage_budget(query, script, self.settings), self.settings)
        if not passages:
            detail = "llm_max_context_tokens leaves no room for a passage"
            yield from self._fallback(events, messages.say(messages.LLM_FAILED, script, detail=detail), None, rewritten)
            return
        chat = answer_messages(query, script, passages, hits, self.settings)
        verifier = Verifier(
            [mask(p.text, planted_spans(p.text)) for p in passages],  # a planted sentence supports no claim
            self.embedder,
            min_overlap=self.settings.verify_min_overlap,
            min_similarity=self.settings.verify_min_similarity,
        )
        draft = _Draft()
        splitter = SentenceStream()
        try:
            for chunk in self.llm.stream(chat, config):
                for sentence in splitter.feed(chunk.content if isinstance(chunk.content, str) else str(chunk.content)):
                    piece = self._accept(sentence, draft, passages, hits, verifier, script)
                    if piece:
                        yield Delta(piece)
                if len(draft.pieces) >= self.settings.answer_sentences:
                    break  # enough: small models go on copying the passages
            for sentence in splitter.close() if len(draft.pieces) < self.settings.answer_sentences else ():
                piece = self._accept(sentence, draft, passages, hits, verifier, script)
                if piece:
                    yield Delta(piece)
        except Exception as exc:  # noqa: BLE001 — a failing LLM is one line in the answer, never a traceback
            if not draft.pieces:
                yield from self._fallback(
                    events, error_notice(exc, script, self.where, self.settings.llm_timeout), draft, rewritten
                )
                return
            notice = messages.say(messages.LLM_STOPPED, script, detail=one_line(f"{type(exc).__name__}: {exc}"))
            yield Delta("\n" + notice)
            yield Final(self._draft_answer(draft, script, hits, rewritten, notice))
            return

        if draft.pieces:
            yield Final(self._draft_answer(draft, script, hits, rewritten))
        elif draft.refused:  # the gate found an answering sentence: show it, not a refusal that contradicts it
            yield from self._fallback(events, messages.say(messages.LLM_REFUSED, script), draft, rewritten)
        else:
            yield from self._fallback(events, messages.say(messages.UNVERIFIED, script), draft, rewritten)
