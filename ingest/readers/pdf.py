"""PDF text layers, page by page: pypdfium2 (exact on Chinese PDFs whose fonts are not embedded), pypdf as fallback."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import (
    CJK_RE,
    Extracted,
    HeadingPath,
    Limits,
    TextBuilder,
    joint,
    lazy_import,
    normalise,
    register,
)
from ingest.readers.image import add_ocr_page

# Fewer visible characters than this per page on average: a scan (images of text), not a text layer.
MIN_CHARS_PER_PAGE = 4
# A line at least this share of the page's longest line is full: the layout wrapped it, the sentence goes on.
FULL_LINE = 0.8
_SENTENCE_ENDS = tuple("。！？!?：:.;；」』")


def _width(line: str) -> int:
    """How wide a line is drawn: a Chinese character (or full-width form) takes two Latin letters' room."""
    return len(line) + len(CJK_RE.findall(line))


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
            out[-1] = prev + joint(prev, follows) + follows
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


PageLines = list[tuple[str, tuple[float, float, float, float]]]  # a page's drawn text runs and their boxes


@dataclass
class PdfPages:
    """What PDFium found: the title, each page's text, its lines' boxes, the pages that are images, the outline."""

    title: str
    texts: list[str]
    lines: list[PageLines] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)  # 1-based pages with an image and no text layer to speak of
    outline: Outline = field(default_factory=list)


def _pdfium_pages(raw: bytes, path: Path, limits: Limits) -> PdfPages:
    pdfium = lazy_import("pypdfium2", "pypdfium2", path)
    with _PDFIUM_LOCK:
        return _read_pdfium(pdfium, raw, path, limits)


def _visible(text: str) -> int:
    return sum(not ch.isspace() for ch in text)


def _page_lines(textpage, height: float) -> PageLines:
    """The page's text runs as PDFium lays them out, each with its rectangle (top-left origin, in points)."""
    out: PageLines = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).strip()
        if text:
            out.append((text, (round(left, 1), round(height - top, 1), round(right, 1), round(height - bottom, 1))))
    return out


def _has_image(page, pdfium) -> bool:
    try:
        return any(True for _ in page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,), max_depth=3))
    except Exception:  # noqa: BLE001 — an unreadable object list: assume an image, OCR tells
        return True


def _read_pdfium(pdfium, raw: bytes, path: Path, limits: Limits) -> PdfPages:
    pdf = pdfium.PdfDocument(raw)
    try:
        _too_many_pages(path, len(pdf), limits)
        found = PdfPages(str(pdf.get_metadata_dict().get("Title") or ""), [])
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded()
            found.texts.append(text)
            found.lines.append(_page_lines(textpage, page.get_height()))
            if _visible(text) < MIN_CHARS_PER_PAGE and _has_image(page, pdfium):
                found.scanned.append(i + 1)
            textpage.close()
            page.close()
            _check_chars(path, found.texts, limits)
        found.outline = _outline(pdf, len(found.texts))
        return found
    finally:
        pdf.close()


def render_page(raw: bytes, number: int, scale: float):
    """Page `number` (1-based) as a PIL image, `scale` pixels per point."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(raw)
        try:
            page = pdf[number - 1]
            image = page.render(scale=scale).to_pil().convert("RGB")
            page.close()
            return image
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


def _pypdf_pages(raw: bytes, path: Path, limits: Limits) -> PdfPages:
    import io
    import logging

    pypdf = lazy_import("pypdf", "pypdf", path)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about damage would print beside our one line
    reader = pypdf.PdfReader(io.BytesIO(raw))
    if reader.is_encrypted and not reader.decrypt(""):
        raise IngestError(path, "encrypted PDF (password-protected): cannot be read")
    _too_many_pages(path, len(reader.pages), limits)
    title = str((reader.metadata or {}).get("/Title") or "")
    texts: list[str] = []
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        _check_chars(path, texts, limits)
    return PdfPages(title, texts)


def _box_lines(builder: TextBuilder, first_part: int, lines: PageLines, number: int) -> None:
    """Each drawn line of a text-layer page (its text: builder.parts from `first_part` on) found in order in the
    page's text, its box recorded; a line the text does not show as drawn (joined differently) gets no box."""
    text = "".join(builder.parts[first_part:])
    start = builder.size - len(text)
    cursor = 0
    for line, box in lines:
        key = normalise(line).strip()
        at = text.find(key, cursor) if key else -1
        if at >= 0:
            builder.boxes.append((start + at, start + at + len(key), number, box))
            cursor = at + len(key)


class PdfReader:
    """Each page's text layer, its start recorded so every chunk knows its page; bookmarks (the outline) name the
    sections, each starting at its page. Pages that are images with no text layer are read by OCR (a scanned PDF,
    or a scanned page inside a typed one); every line keeps its box on the page."""

    suffixes = (".pdf",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        if not raw.lstrip()[:5].startswith(b"%PDF"):
            raise IngestError(path, "corrupt PDF (no %PDF header)")
        try:
            found = _pdfium_pages(raw, path, limits)
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001 — pypdfium2 raises PdfiumError with PDFium's reason
            if "password" in str(exc).lower():
                raise IngestError(path, "encrypted PDF (password-protected): cannot be read") from None
            try:  # pypdf mends some damage PDFium refuses (a broken cross-reference table)
                found = _pypdf_pages(raw, path, limits)
            except IngestError:
                raise
            except Exception:  # noqa: BLE001 — pypdf fails in many ways on a broken file
                raise IngestError(path, f"corrupt or truncated PDF ({_reason(exc)})") from None
        read = _ocr(raw, path, limits, found.scanned)
        builder = TextBuilder(path, limits)
        dropped = 0
        for number, text in enumerate(found.texts, 1):
            builder.page(number)
            if number in read:
                dropped += add_ocr_page(builder, read[number], number, limits)
                continue
            first_part = len(builder.parts)
            for paragraph in unwrap(text).split("\n\n"):
                builder.paragraph(paragraph)
            if found.lines:
                _box_lines(builder, first_part, found.lines[number - 1], number)
        visible = _visible(builder.result().text)
        if visible < MIN_CHARS_PER_PAGE * max(len(found.texts), 1) and not read:
            raise IngestError(path, "no text layer and no scanned page to read (an empty or vector-drawn PDF?)")
        if not visible:
            raise IngestError(path, "no text found (scanned PDF: OCR read no words on its pages)")
        starts = {number - 1: offset for offset, number in builder.pages}
        path_of = HeadingPath()
        marks = [(starts[index], path_of.push(level + 1, name)) for level, name, index in found.outline]
        builder.headings = sorted(marks, key=lambda mark: mark[0])  # stable: bookmarks on one page keep their order
        extracted = builder.result(title=found.title)
        extracted.ocr_dropped = dropped
        return extracted


# Pixels per point a scanned page is rendered at for OCR (200 dpi): small print stays legible to the recogniser.
OCR_SCALE = 200 / 72
# ... and to be shown beside its text (150 dpi: an A4 page about 1240 px wide).
PDF_SCALE = 150 / 72


def _ocr(raw: bytes, path: Path, limits: Limits, pages: list[int]) -> dict:
    """The OCR'd text of the scanned pages, by page number (from the cache when the file was read before)."""
    if not pages:
        return {}
    import hashlib

    from ingest.ocr import PageJob, page_key, read_pages

    sha = hashlib.sha256(raw).hexdigest()
    jobs = [
        PageJob(n, page_key(sha, n, f"pdf@{OCR_SCALE:.3f}"), lambda n=n: (render_page(raw, n, OCR_SCALE), OCR_SCALE))
        for n in pages
    ]
    return read_pages(jobs, path, limits)


def _reason(exc: Exception) -> str:
    """PDFium's own words ("Failed to load document (PDFium: Data format error)." → "PDFium: Data format error")."""
    text = " ".join(str(exc).split())
    inner = re.search(r"\((PDFium:[^)]*)\)", text)
    return (inner.group(1) if inner else text.rstrip("."))[:120] or type(exc).__name__


register(PdfReader())
