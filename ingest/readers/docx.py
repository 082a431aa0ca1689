"""Word .docx files with python-docx: paragraphs and tables in document order, Heading styles as the section path."""

from __future__ import annotations

import io
import re
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import Extracted, HeadingPath, Limits, TextBuilder, lazy_import, open_zip, register

# Word writes the built-in names in English whatever the UI language; localised copies are accepted too.
_HEADING_STYLE_RE = re.compile(r"^(?:heading|標題|标题|überschrift|titre)\s*(\d)$", re.IGNORECASE)


def heading_level(style_name: str) -> int | None:
    """1-9 for a heading style, 0 for the Title style, None for body text."""
    name = (style_name or "").strip()
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE_RE.match(name)
    return int(match.group(1)) if match else None


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PIECES = {f"{_W}t": None, f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n"}


def paragraph_text(element) -> str:
    """A w:p's text (runs, hyperlinks, inserted revisions; deleted ones are w:delText, left out), read in one pass
    in lxml: python-docx's Paragraph.text runs XPath queries per paragraph (~0.1 ms each)."""
    return "".join(
        node.text or "" if piece is None else piece for node in element.iter(*_PIECES) for piece in (_PIECES[node.tag],)
    )


class DocxReader:
    """Body text in order (table rows as "cell | cell" lines); headings give each section its path."""

    suffixes = (".docx",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        archive = open_zip(raw, path, limits, "DOCX")  # sizes checked before python-docx decompresses anything
        body = next((i for i in archive.infolist() if i.filename == "word/document.xml"), None)
        limits.check_markup(path, body.file_size if body is not None else 0)  # the size zipfile will inflate it to
        docx = lazy_import("docx", "python-docx", path)
        from docx.enum.style import WD_STYLE_TYPE
        from docx.table import Table

        try:
            document = docx.Document(io.BytesIO(raw))
        except Exception as exc:  # noqa: BLE001 — python-docx raises KeyError, ValueError, lxml errors... on a damaged package
            raise IngestError(
                path, f"corrupt DOCX ({type(exc).__name__}: {' '.join(str(exc).split())[:100]})"
            ) from None
        builder = TextBuilder(path, limits)
        headings = HeadingPath()
        title_para = ""
        # Style names by id, read once: python-docx's paragraph.style searches every style for each paragraph
        # (~1 ms each: a DOCX of many one-letter paragraphs took minutes).
        styles = {style.style_id: style.name for style in document.styles}
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        body_style = default.name if default is not None else ""
        for element in document.element.body.iterchildren():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "p":
                text = paragraph_text(element).strip()
                if not text:
                    continue
                level = heading_level(styles.get(element.style, body_style) if element.style else body_style)
                if level == 0:
                    title_para = title_para or text
                    builder.paragraph(text)
                elif level is not None:
                    builder.heading(headings.push(level, text), text)
                else:
                    builder.paragraph(text)
            elif tag == "tbl":
                rows = []
                for row in Table(element, document).rows:
                    cells = list(dict.fromkeys(c.text.strip() for c in row.cells))  # merged cells repeat
                    rows.append(" | ".join(cells))
                builder.paragraph("\n".join(r for r in rows if r.strip(" |")))
        props = document.core_properties
        title = (props.title or "").strip() or title_para
        # core_properties.created is left out: Word templates carry their own creation date (python-docx's: 2013).
        return builder.result(title=title)


register(DocxReader())
