"""PDF text layers, page by page: pypdfium2 (exact on Chinese PDFs whose fonts are not embedded), pypdf as fallback."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import Extracted, Limits, TextBuilder, lazy_import, register

# Fewer visible characters than this per page on average: a scan (images of text), not a text layer.
MIN_CHARS_PER_PAGE = 4


def _too_many_pages(path: Path, pages: int, limits: Limits) -> None:
    if pages > limits.max_pages:
        raise IngestError(path, f"{pages} pages, more than {limits.max_pages} (RAG_MAX_PAGES)")


def _pdfium_pages(raw: bytes, path: Path, limits: Limits) -> tuple[str, list[str]]:
    pdfium = lazy_import("pypdfium2", "pypdfium2", path)
    pdf = pdfium.PdfDocument(raw)
    try:
        _too_many_pages(path, len(pdf), limits)
        title = str(pdf.get_metadata_dict().get("Title") or "")
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return title, pages
    finally:
        pdf.close()


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
    return title, [page.extract_text() or "" for page in reader.pages]


class PdfReader:
    """Each page's text layer, its start recorded so every chunk knows its page."""

    suffixes = (".pdf",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        if not raw.lstrip()[:5].startswith(b"%PDF"):
            raise IngestError(path, "corrupt PDF (no %PDF header)")
        try:
            title, pages = _pdfium_pages(raw, path, limits)
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001 — pypdfium2 raises PdfiumError with PDFium's reason
            if "password" in str(exc).lower():
                raise IngestError(path, "encrypted PDF (password-protected): cannot be read") from None
            try:  # pypdf mends some damage PDFium refuses (a broken cross-reference table)
                title, pages = _pypdf_pages(raw, path, limits)
            except IngestError:
                raise
            except Exception:  # noqa: BLE001 — pypdf fails in many ways on a broken file
                raise IngestError(path, f"corrupt or truncated PDF ({_reason(exc)})") from None
        builder = TextBuilder(path, limits)
        for number, text in enumerate(pages, 1):
            builder.page(number)
            for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
                builder.paragraph(paragraph)
        visible = sum(not ch.isspace() for ch in builder.result().text)
        if visible < MIN_CHARS_PER_PAGE * max(len(pages), 1):
            raise IngestError(path, "no text layer (a scanned PDF? OCR is not available)")
        return builder.result(title=title)


def _reason(exc: Exception) -> str:
    """PDFium's own words ("Failed to load document (PDFium: Data format error)." → "PDFium: Data format error")."""
    text = " ".join(str(exc).split())
    inner = re.search(r"\((PDFium:[^)]*)\)", text)
    return (inner.group(1) if inner else text.rstrip("."))[:120] or type(exc).__name__


register(PdfReader())
