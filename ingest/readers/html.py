"""Saved web pages with trafilatura: the article (headings kept as the section path), not navigation, ads or footers."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import Extracted, HeadingPath, Limits, TextBuilder, lazy_import, register

_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Trafilatura's Markdown: **bold** and *italic* markers, and a backslash before literal Markdown characters
# ("\[citation needed\]", "a\_b", "2\*3"); the text keeps neither.
_EMPHASIS_RE = re.compile(r"(?<!\\)(\*\*?)(?=\S)(.+?)(?<=\S)(?<!\\)\1")
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")


def plain(markdown_line: str) -> str:
    """A line of trafilatura's Markdown as the page's text: emphasis markers and escapes out."""
    return _ESCAPE_RE.sub(r"\1", _EMPHASIS_RE.sub(r"\2", markdown_line))


_H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


def first_h1(html: str) -> str:
    """The text of the page's first <h1>, "" when it has none."""
    import html as html_lib

    match = _H1_RE.search(html)
    return " ".join(html_lib.unescape(_TAG_RE.sub(" ", match.group(1))).split()) if match else ""


# Tags above which a page is read whole instead of through trafilatura, whose article detection grows with the
# square of the element count (20,000 paragraphs: 2 s; 190,000: 3 minutes): a long page keeps its navigation text.
MAX_TAGS_FOR_ARTICLE = 80_000


class HtmlReader:
    """The main text of a page as trafilatura finds it, as Markdown so headings survive; title from og:title or
    <title> (trafilatura's metadata), else the first <h1>."""

    suffixes = (".html", ".htm")

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        trafilatura = lazy_import("trafilatura", "trafilatura", path)
        from trafilatura.utils import decode_file

        limits.check_markup(path, len(raw))
        html = decode_file(raw)  # the page's declared charset, else detected
        if html.count("<") > MAX_TAGS_FOR_ARTICLE:
            return self._read_whole(html, path, limits)
        try:
            markdown = trafilatura.extract(
                html, output_format="markdown", include_formatting=True, include_comments=False, favor_recall=True
            )
            meta = trafilatura.extract_metadata(
                html, extensive=False
            )  # a date the page declares, not a guessed copyright year
        except Exception as exc:  # noqa: BLE001 — lxml on a hopeless document
            raise IngestError(path, f"cannot parse the page ({type(exc).__name__})") from None
        if not markdown or not markdown.strip():
            raise IngestError(path, "no article text found (the page is only script, styles or navigation)")
        builder = TextBuilder(path, limits)
        headings = HeadingPath()
        paragraph: list[str] = []

        def flush() -> None:
            builder.paragraph("\n".join(paragraph))
            paragraph.clear()

        for line in markdown.split("\n"):
            heading = _MD_HEADING_RE.match(line)
            if heading:
                flush()
                text = plain(heading.group(2)).strip()
                if text:
                    builder.heading(headings.push(len(heading.group(1)), text), text)
            elif not line.strip():
                flush()
            else:
                paragraph.append(plain(line))
        flush()
        title = (meta.title if meta is not None else "") or first_h1(html)
        date = meta.date if meta is not None and meta.date else None
        return builder.result(title=title or "", date=date)

    @staticmethod
    def _read_whole(html: str, path: Path, limits: Limits) -> Extracted:
        """Every block of the page's body in order (as an EPUB chapter is read): linear in its size."""
        from ingest.readers.epub import xhtml_blocks

        builder = TextBuilder(path, limits)
        headings = HeadingPath()
        for kind, level, text in xhtml_blocks(html):
            if kind == "h":
                builder.heading(headings.push(level, text), text)
            else:
                builder.paragraph(text)
        if not builder.size:
            raise IngestError(path, "no text found in the page")
        title = re.search(r"<title[^>]*>(.*?)</title>", html[:100_000], re.IGNORECASE | re.DOTALL)
        import html as html_lib

        return builder.result(title=html_lib.unescape(title.group(1)) if title else first_h1(html))


register(HtmlReader())
