"""The data that crosses layers: hits, citations, answers, index reports, answer requests and answer-stream events.

Dataclasses and the standard library only (no Chroma, LangChain, numpy or torch), so the UI, the CLI and tests
can use them without loading the models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Hit:
    """One retrieved chunk; `score` is the fused score (higher is better; see Settings.fusion)."""

    chunk_id: str
    source: str
    title: str
    text: str
    score: float
    section: str = ""
    date: str | None = None
    start: int = 0
    end: int = 0
    dense_rank: int | None = None  # 1-based rank in the dense list, None when absent from it
    keyword_rank: int | None = None
    translated_rank: int | None = None  # rank in the other-language keyword list
    dense_similarity: float | None = None  # cosine similarity to the question
    page: int | None = None  # 1-based page of a PDF or image the chunk is on, None for other formats
    name: str = ""  # how the source is shown: relative to the folder it was indexed from, never absolute
    boxes: list[tuple[int, int, float, float, float, float]] = field(
        default_factory=list
    )  # (start, end, box) per drawn line

    def boxes_between(self, start: int, end: int) -> list[Box]:
        """The boxes on the page of the chunk's drawn lines that the text from `start` to `end` overlaps."""
        return [(x0, y0, x1, y1) for s, e, x0, y0, x1, y1 in self.boxes if s < end and e > start]

    @classmethod
    def from_stored(cls, chunk: Any, score: float = 0.0) -> Hit:
        """From a rag.store.StoredChunk (chunk_id, text, meta)."""
        m = chunk.meta
        return cls(
            chunk_id=chunk.chunk_id,
            source=m["source"],
            title=m.get("title", ""),
            text=chunk.text,
            score=score,
            section=m.get("section", ""),
            date=m.get("date"),
            start=m.get("start", 0),
            end=m.get("end", 0),
            page=m.get("page"),
            name=m.get("name", m["source"]),
            boxes=_decode_boxes(m.get("boxes")),
        )

    @classmethod
    def from_record(cls, data: dict) -> Hit:
        """A Hit from dataclasses.asdict(hit), as a saved chat keeps it (rag.types.known_fields)."""
        return cls(**known_fields(cls, data))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def known_fields(cls: type, data: dict) -> dict:
    """The items of a saved record `data` that are fields of the dataclass `cls`: a record written by another
    version of the notebook (a saved chat, a note, an exported notebook) still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


Box = tuple[float, float, float, float]  # (x0, y0, x1, y1), top-left origin: PDF points, or an image's pixels


def _decode_boxes(value: Any) -> list[tuple[int, int, float, float, float, float]]:
    """A chunk's stored line boxes (JSON [[start, end, x0, y0, x1, y1], ...]); [] when none or unreadable."""
    import json

    try:
        return [
            (int(s), int(e), float(a), float(b), float(c), float(d)) for s, e, a, b, c, d in json.loads(value or "[]")
        ]
    except (ValueError, TypeError):
        return []


@dataclass
class Citation:
    """A numbered pointer from the answer to the chunk a quoted sentence came from."""

    n: int
    chunk_id: str
    source: str
    title: str
    quote: str  # verbatim from the chunk text
    section: str = ""  # heading path ("Chapter › Heading") or dated post the quote is under, "" when none
    start: int = 0  # character offsets of the quote in the source file's text (a PDF's: its extracted text)
    end: int = 0
    page: int | None = None  # 1-based page of a PDF or image the quote is on, None for other formats
    name: str = ""  # how the source is shown (Hit.name)
    bbox: list[Box] = field(default_factory=list)  # the quote's lines on the page (Box), [] when not known

    @classmethod
    def from_record(cls, data: dict) -> Citation:
        """A Citation from dataclasses.asdict(citation), as saved in chats, notes, guides and exports."""
        return cls(**known_fields(cls, data))

    @property
    def where(self) -> str:
        """Where in the document, as a citation shows it: "p. 12", else the section, else ""."""
        return f"p. {self.page}" if self.page is not None else self.section


# What an answer is (Answer.status): the documents state it; they are about the question's subject but do not state
# what it asks (the closest passages are quoted so the user can judge); or nothing retrieved is about the question.
ANSWERED, PARTIAL, NOT_FOUND = "answered", "partial", "not_found"
STATUSES = (ANSWERED, PARTIAL, NOT_FOUND)


@dataclass
class Answer:
    """An answer and its evidence. `status` is one of STATUSES; `refused` (true for partial and not_found) is kept
    for callers that only ask whether the documents answered. A partial answer's `citations` are the closest
    passages it quotes, not an answer."""

    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    backend: str = "extractive"
    script: str = "en"
    hits: list[Hit] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # generated claims that failed verification
    notice: str = ""  # one line when the LLM failed or could not be verified (the extractive answer follows)
    rewritten_query: str | None = None  # the standalone question a follow-up was rewritten into
    suggestions: list[str] = field(default_factory=list)  # follow-up questions the cited documents answer (rag.guide)
    status: str = ""  # one of STATUSES; left empty: answered, or not_found when refused

    def __post_init__(self) -> None:
        if not self.status:
            self.status = NOT_FOUND if self.refused else ANSWERED
        if self.status not in STATUSES:
            raise ValueError(f"Answer.status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        self.refused = self.status != ANSWERED

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "status": self.status,
            "refused": self.refused,
            "backend": self.backend,
            "citations": [asdict(c) for c in self.citations],
            "unsupported": self.unsupported,
            "notice": self.notice,
            "rewritten_query": self.rewritten_query,
            "suggestions": self.suggestions,
        }


@dataclass
class IndexReport:
    """What one `index()` run did, counted in files (and chunks where named)."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0  # chunks in the index after the run
    embedded: int = 0  # chunks embedded by this run
    errors: list[str] = field(default_factory=list)  # one line per file that could not be read
    ocr_dropped: int = 0  # OCR lines kept out for low confidence (Settings.ocr_min_confidence) in the files read

    def summary(self) -> str:
        line = (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, unchanged {self.unchanged} files; "
            f"{self.chunks} chunks in the index ({self.embedded} embedded)"
        )
        if self.ocr_dropped:
            line += f"; {self.ocr_dropped} OCR line(s) below RAG_OCR_MIN_CONFIDENCE left out"
        # Each failed file was named on stderr as it failed: the summary counts them instead of naming them again.
        return line + (f"; {len(self.errors)} file(s) could not be indexed (named above)" if self.errors else "")

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class AnswerRequest:
    """What an answerer is asked: the user's question and the hits retrieved for it.

    `query` is the standalone rewrite of a follow-up that the hits were retrieved for (None: the question
    itself); `llm_error` is a notice when the LLM already failed (during the rewrite): it is then not asked;
    `script` is the script to answer in ('en', 'zh-Hant', 'zh-Hans'; rag.answer.answer_script: the question's
    own, else the conversation's, else the user's chosen one), None: the question's own or settings.default_script.
    """

    question: str
    query: str | None = None
    hits: list[Hit] = field(default_factory=list)
    llm_error: str | None = None
    script: str | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of the answer's text as it is produced; the pieces add up to the final Answer.text."""

    text: str


@dataclass(frozen=True)
class Final:
    """The finished answer: always the last event of an answer stream."""

    answer: Answer


AnswerEvent = Delta | Final


def accumulate(events: Iterable[AnswerEvent]) -> Iterator[tuple[str, Answer | None]]:
    """(the text so far, None) after each Delta, then (the answer's text, the Answer) at the Final: for
    consumers that show the answer as it grows (the chat UI)."""
    text = ""
    for event in events:
        if isinstance(event, Final):
            yield event.answer.text, event.answer
            return
        text += event.text
        yield text, None
    raise ValueError("the answer stream ended without a Final event")


def collect(events: Iterable[AnswerEvent], on_delta: Callable[[str], Any] | None = None) -> Answer:
    """The Answer at the end of an answer stream; `on_delta` sees each text piece as it comes (e.g. print)."""
    for event in events:
        if isinstance(event, Final):
            return event.answer
        if on_delta is not None:
            on_delta(event.text)
    raise ValueError("the answer stream ended without a Final event")
