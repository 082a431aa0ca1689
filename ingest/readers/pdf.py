"""PDF text layers, page by page: pypdfium2 (exact on Chinese PDFs whose fonts are not embedded), pypdf as fallback."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import Extracted, HeadingPath, Limits, TextBuilder, lazy_import, register

# Fewer visible characters than this per page on average: a scan (images of text), not a text layer.
MIN_CHARS_PER_PAGE = 4
# A line at least this share of the page's longest line is full: the layout wrapped it, the sentence goes on.
FULL_LINE = 0.8
_SENTENCE_ENDS = tuple("。！？!?：:.;；」』")
_CJK_RE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def _width(line: str) -> int:
    """How wide a line is drawn: a Chinese character (or full-width form) takes two Latin letters' room."""
    return len(line) + len(_CJK_RE.findall(line))


def unwrap(text: str) -> str:
    """A page's lines joined where the layout wrapped a sentence: a full-width line that does not end a sentence
    runs on into the next (without a space between Chinese characters). The answerers treat a line break as a
    sentence end, so wrapped lines would otherwise be quoted in halves; headings and short last lines stay lines."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    longest = max((_width(line) for line in lines), default=0)
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        follows = line.lstrip()
        if prev and follows and _width(prev) >= FULL_LINE * longest and not prev.endswith(_SENTENCE_ENDS):
            joint = "" if _CJK_RE.match(prev[-1]) and _CJK_RE.match(follows[0]) else " "
            out[-1] = prev + ("" if prev.endswith("-") else joint) + follows
        else:
            out.append(line)
    return "\n".join(out)


def _too_many_pages(path: Path, pages: int, limits: Limits) -> None:
    if pages > limits.max_pages:
        raise IngestError(path, f"{pages} pages, more than {limits.max_pages} (RAG_MAX_PAGES)")


def _check_chars(path: Path, pages: list[str], limits: Limits) -> None:
    """Stop reading, as the pages come, once they hold more text than the limit (pages sharing one large content
    stream each give all of its text)."""
    limits.check_chars(path, sum(map(len, pages)))


# PDFium is not thread-safe: the browser reads a cited PDF for the source panel while uploads are indexed in the
# background, so every use of it goes through this lock.
_PDFIUM_LOCK = threading.Lock()


Outline = list[tuple[int, str, int]]  # (level, title, 0-based page index) of each bookmark, in outline order


def _pdfium_pages(raw: bytes, path: Path, limits: Limits) -> tuple[str, list[str], Outline]:
    pdfium = lazy_import("pypdfium2", "pypdfium2", path)
    with _PDFIUM_LOCK:
        return _read_pdfium(pdfium, raw, path, limits)


def _read_pdfium(pdfium, raw: bytes, path: Path, limits: Limits) -> tuple[str, list[str], Outline]:
    pdf = pdfium.PdfDocument(raw)
    try:
        _too_many_pages(path, len(pdf), limits)
        title = str(pdf.get_metadata_dict().get("Title") or "")
        pages: list[str] = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
            _check_chars(path, pages, limits)
        return title, pages, _outline(pdf, len(pages))
    finally:
        pdf.close()


def _outline(pdf, page_count: int) -> Outline:
    """The PDF's bookmarks that point at a page; [] when it has none or they cannot be read (they only name sections)."""
    out: Outline = []
    try:
        for bookmark in pdf.get_toc(max_depth=6):
            dest = bookmark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = " ".join(bookmark.get_title().split())
            if title and index is not None and 0 <= index < page_count:
                out.append((bookmark.level, title, index))
    except Exception:  # noqa: BLE001 — a broken outline costs the section names, never the text
        return []
    return out


def _pypdf_pages(raw: bytes, path: Path, limits: Limits) -> tuple[str, list[str]]:
    import io
    import logging

    pypdf = lazy_import("pypdf", "pypdf", path)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about damage would print beside our one line
    reader = pypdf.PdfReader(io.BytesIO(raw))
    if reader.is_encrypted and not reader.decrypt(""):
        raise IngestError(path, "encrypted PDF (password-protected): cannot be read")
    _too_many_pages(path, len(reader.pages), limits)
    title = str((reader.metadata or {}).get("/Title") or "")
    pages: list[str] = []
    for page in reader.pages:
        pages.append(page.extract_text() or "")
        _check_chars(path, pages, limits)
    return title, pages, []


class PdfReader:
    """Each page's text layer, its start recorded so every chunk knows its page; bookmarks (the outline) name the
    sections, each starting at its page."""

    suffixes = (".pdf",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        if not raw.lstrip()[:5].startswith(b"%PDF"):
            raise IngestError(path, "corrupt PDF (no %PDF header)")
        try:
            title, pages, outline = _pdfium_pages(raw, path, limits)
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001 — pypdfium2 raises PdfiumError with PDFium's reason
            if "password" in str(exc).lower():
                raise IngestError(path, "encrypted PDF (password-protected): cannot be read") from None
            try:  # pypdf mends some damage PDFium refuses (a broken cross-reference table)
                title, pages, outline = _pypdf_pages(raw, path, limits)
            except IngestError:
                raise
            except Exception:  # noqa: BLE001 — pypdf fails in many ways on a broken file
                raise IngestError(path, f"corrupt or truncated PDF ({_reason(exc)})") from None
        builder = TextBuilder(path, limits)
        for number, text in enumerate(pages, 1):
            builder.page(number)
            for paragraph in unwrap(text).split("\n\n"):
                builder.paragraph(paragraph)
        visible = sum(not ch.isspace() for ch in builder.result().text)
        if visible < MIN_CHARS_PER_PAGE * max(len(pages), 1):
            raise IngestError(path, "no text layer (a scanned PDF? OCR is not available)")
        starts = {number - 1: offset for offset, number in builder.pages}
        path_of = HeadingPath()
        marks = [(starts[index], path_of.push(level + 1, name)) for level, name, index in outline]
        builder.headings = sorted(marks, key=lambda mark: mark[0])  # stable: bookmarks on one page keep their order
        return builder.result(title=title)


def _reason(exc: Exception) -> str:
    """PDFium's own words ("Failed to load document (PDFium: Data format error)." → "PDFium: Data format error")."""
    text = " ".join(str(exc).split())
    inner = re.search(r"\((PDFium:[^)]*)\)", text)
    return (inner.group(1) if inner else text.rstrip("."))[:120] or type(exc).__name__


register(PdfReader())
