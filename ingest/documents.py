"""Plain data records passed between the loaders, the chunker and the indexer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import NotebookError


class IngestError(NotebookError):
    """A file that cannot be ingested; str() is the one-line message shown to users."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class Document:
    """One decoded source file."""

    source: str  # identity in the index: path relative to the indexed root, POSIX separators
    path: Path  # where it was read from
    text: str  # the whole decoded text (front matter included); chunk offsets point into it
    title: str  # front matter title, else the format's own title, else a headline (ingest/titles.py), else file stem
    sha256: str  # of the raw bytes: the file's content hash
    date: str | None = None  # front matter date (ISO string) if any
    categories: list[str] = field(default_factory=list)
    body_start: int = 0  # offset of the text after the YAML front matter (0 when none)
    encoding: str = "utf-8"  # of a text file; the format ("pdf", "docx" ...) for the others
    pages: list[tuple[int, int]] = field(default_factory=list)  # (offset, 1-based page) where each page starts (PDF)
    headings: list[tuple[int, str]] = field(default_factory=list)  # (offset, heading path) where each section starts
    boxes: list = field(
        default_factory=list
    )  # (start, end, page, (x0, y0, x1, y1)) of each drawn line (readers.base.LineBox)
    ocr_dropped: int = 0  # OCR lines kept out of the text for low confidence (Settings.ocr_min_confidence)

    def boxes_between(self, start: int, end: int) -> list:
        """The drawn lines that the text from `start` to `end` overlaps."""
        return [box for box in self.boxes if box[0] < end and box[1] > start]

    def page_at(self, offset: int) -> int | None:
        """The page the character at `offset` is on; None for documents without pages."""
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page if page is not None or not self.pages else self.pages[0][1]


@dataclass
class Chunk:
    """A span of a document, sized for the embedder."""

    source: str
    title: str
    section: str  # heading or dated post the chunk belongs to ("" when none)
    text: str  # == document.text[start:end]
    start: int
    end: int
    ordinal: int  # position of the chunk within its document
    date: str | None = None  # the dated post's or the document's date
    page: int | None = None  # 1-based page the chunk is on (PDF; chunks never cross a page), None elsewhere
