"""Answering: the Answerer base class (an AnswerRequest in, Delta pieces and a Final Answer out) and
`make_answerer`, which picks the answerer for the settings' backend from the rag.llm registry.

extractive.py quotes the best retrieved sentences (no LLM, the default and fallback); generative.py asks a chat
model and verify.py checks each of its sentences against the passages; context.py fits the passages to the
model's context.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig

from rag.text import conversation_script, detect_script
from rag.types import Answer, AnswerEvent, AnswerRequest, collect

if TYPE_CHECKING:
    from rag.settings import Settings


def history_pairs(history: Sequence | None) -> list[tuple[str, str]]:
    """(question, answer) pairs from pairs or from role/content messages (Gradio's chat history)."""
    pairs: list[tuple[str, str]] = []
    for item in history or []:
        if isinstance(item, dict):
            content = item.get("content")
            content = content if isinstance(content, str) else ""
            if item.get("role") == "user":
                pairs.append((content, ""))
            elif item.get("role") == "assistant" and pairs:
                pairs[-1] = (pairs[-1][0], (pairs[-1][1] + "\n" + content).strip())
        else:
            q, a = item[0], item[1]
            pairs.append((str(q or ""), str(a or "")))
    return [(q, a) for q, a in pairs if q]


def answer_script(question: str, history: Sequence | None, default: str) -> str:
    """The script to answer `question` in: the one its characters are written in; for Chinese in characters
    shared by both scripts, the one the user's earlier questions were written in, else `default` (the user's
    chosen one, settings.default_script). The user's questions only: answers quote documents in either script."""
    return detect_script(question, conversation_script([q for q, _ in history_pairs(history)], default))


class Answerer(Runnable[AnswerRequest, Answer]):
    """`stream(AnswerRequest)` yields Delta text pieces, then one Final(Answer); `invoke` returns the Answer."""

    backend = "base"

    def standalone_question(self, question: str, history: Sequence | None) -> tuple[str, str | None]:
        """(`question` rewritten to stand alone given the conversation, error notice or None): here by rules
        (rag.followup: the last question's subject carried in); an answerer with an LLM has it rewrite them."""
        from rag.followup import standalone_question

        return standalone_question(question, [q for q, _ in history_pairs(history)]), None

    def reading(self, keywords) -> Answerer:
        """This answerer weighing the question's words by `keywords` (a rag.index.keyword.KeywordIndex: a view of the
        notebook's without some sources); itself when it reads no keyword index."""
        return self

    def invoke(self, input: AnswerRequest, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        try:
            return collect(self.stream(input, config))
        except ValueError:
            raise AssertionError(f"{type(self).__name__}.stream ended without an Answer") from None

    def stream(
        self, input: AnswerRequest, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AnswerEvent]:
        raise NotImplementedError


def make_answerer(settings: Settings, extractive: Answerer, embedder=None) -> Answerer:
    """The answerer for `settings.backend`: the extractive one itself, or a GenerativeAnswerer over it."""
    from rag.llm import BACKENDS, chat_model, endpoint

    name = settings.backend.lower()
    if BACKENDS[name].chat_model is None:
        return extractive
    from rag.answer.generative import GenerativeAnswerer

    llm = chat_model(settings, name)
    return GenerativeAnswerer(llm, extractive, settings, name, endpoint(settings, name), embedder)
