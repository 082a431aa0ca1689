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


class DocxReader:
    """Body text in order (table rows as "cell | cell" lines); headings give each section its path."""

    suffixes = (".docx",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        open_zip(raw, path, limits, "DOCX")  # sizes checked before python-docx decompresses anything
        docx = lazy_import("docx", "python-docx", path)
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        try:
            document = docx.Document(io.BytesIO(raw))
        except Exception as exc:  # noqa: BLE001 — python-docx raises KeyError, ValueError, lxml errors... on a damaged package
            raise IngestError(path, f"corrupt DOCX ({type(exc).__name__}: {' '.join(str(exc).split())[:100]})") from None
        builder = TextBuilder(path, limits)
        headings = HeadingPath()
        title_para = ""
        for element in document.element.body.iterchildren():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "p":
                paragraph = Paragraph(element, document)
                text = paragraph.text.strip()
                if not text:
                    continue
                level = heading_level(paragraph.style.name if paragraph.style is not None else "")
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
