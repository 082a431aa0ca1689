"""What the model reads: passages numbered and fitted into its context (cl100k_base tokens, offline), and the prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from rag import messages, prompts
from rag.answer.planted import planted_spans
from rag.settings import Settings
from rag.text import sentence_spans
from rag.types import Hit


@lru_cache(maxsize=4)
def _encoding(cache_dir: str):
    from rag.offline import tiktoken_offline

    tiktoken_offline(Path(cache_dir))
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str, settings: Settings) -> int:
    """cl100k_base tokens of `text` (offline)."""
    return len(_encoding(str(settings.cache_dir)).encode(text, disallowed_special=()))


@dataclass
class Passage:
    """A hit as given to the model: maybe shortened to its first sentences (`text` is hit.text[offset:…])."""

    n: int  # its number in the prompt, 1-based
    hit_index: int
    text: str
    offset: int = 0
    shortened: bool = False


def _where(hit: Hit) -> str:
    return hit.source + (f" · {hit.section}" if hit.section else "")


def marked(text: str) -> str:
    """The passage text with each planted sentence (rag.answer.planted) wrapped in prompts.PLANTED."""
    out, at = [], 0
    for a, b in planted_spans(text):
        out += [text[at:a], prompts.PLANTED.format(text=text[a:b])]
        at = b
    return "".join(out) + text[at:]


def render_passage(n: int, hit: Hit, text: str) -> str:
    title = hit.title or Path(hit.source).stem
    return prompts.PASSAGE.format(n=n, title=title, where=_where(hit), text=marked(text).strip())


def fit_passages(hits: Sequence[Hit], budget: int, settings: Settings) -> list[Passage]:
    """The hits in rank order, as many as fit in `budget` tokens; the first that does not fit whole is
    cut after its last sentence that fits (if any does) and the lower-ranked ones are dropped."""
    out: list[Passage] = []
    left = budget
    for i, hit in enumerate(hits):
        n = len(out) + 1
        cost = count_tokens(render_passage(n, hit, hit.text) + "\n\n", settings)
        if cost <= left:
            out.append(Passage(n, i, hit.text))
            left -= cost
            continue
        spans = sentence_spans(hit.text)
        keep = None
        for a, b in spans:  # the longest run of whole leading sentences that fits
            text = hit.text[spans[0][0] : b]
            if count_tokens(render_passage(n, hit, text) + "\n\n", settings) > left:
                break
            keep = text
        if keep:
            out.append(Passage(n, i, keep, offset=spans[0][0], shortened=True))
        break
    return out


def answer_messages(question: str, script: str, passages: list[Passage], hits: Sequence[Hit], settings: Settings):
    language = prompts.LANGUAGE_NAME.get(script, "English")
    system = prompts.ANSWER_SYSTEM.format(
        language=language, sentences=settings.answer_sentences, refusal=messages.refusal(script)
    )
    blocks = "\n\n".join(render_passage(p.n, hits[p.hit_index], p.text) for p in passages)
    user = prompts.ANSWER_USER.format(passages=blocks, question=question, language=language)
    return [SystemMessage(content=system), HumanMessage(content=user)]


def passage_budget(question: str, script: str, settings: Settings) -> int:
    """Tokens left for passages once the instructions, the question and the answer are counted."""
    fixed = sum(count_tokens(m.content, settings) + 8 for m in answer_messages(question, script, [], [], settings))
    return settings.llm_max_context_tokens - settings.llm_answer_tokens - fixed - 16
