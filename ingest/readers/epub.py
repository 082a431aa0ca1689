"""EPUB e-books read as what they are, a zip of XHTML: spine order, dc:title, chapters named from the table of contents."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from ingest.documents import IngestError
from ingest.readers.base import Extracted, HeadingPath, Limits, TextBuilder, open_zip, read_member, register

_BLOCKS = frozenset(
    {"p", "div", "li", "tr", "blockquote", "pre", "section", "article", "dd", "dt", "figcaption", "table"}
)
_SKIP = frozenset({"script", "style", "head", "title", "nav", "svg", "math"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_FONT_SUFFIXES = (b".ttf", b".otf", b".woff", b".woff2")


class _XhtmlText(HTMLParser):
    """Blocks of an XHTML chapter in order: ("p", 0, text) and ("h", level, text); scripts and styles dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int, str]] = []
        self.buffer: list[str] = []
        self.skip = 0
        self.heading = 0

    def _flush(self) -> None:
        text = "".join(self.buffer).strip()
        self.buffer.clear()
        if text:
            kind = "h" if self.heading else "p"
            self.blocks.append((kind, self.heading, " ".join(text.split()) if self.heading else text))

    def handle_starttag(self, tag: str, attrs) -> None:
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in _SKIP:
            self.skip += 1
        elif tag in _HEADINGS:
            self._flush()
            self.heading = _HEADINGS[tag]
        elif tag in _BLOCKS:
            self._flush()
        elif tag == "br":
            self.buffer.append("\n")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _HEADINGS:
            self._flush()
            self.heading = 0
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            # Source line breaks inside a paragraph are layout, not text: they become spaces.
            self.buffer.append(data.replace("\r", "").replace("\n", " ") if self.buffer or data.strip() else "")

    def close(self) -> None:
        super().close()
        self._flush()


def xhtml_blocks(markup: str) -> list[tuple[str, int, str]]:
    parser = _XhtmlText()
    parser.feed(markup)
    parser.close()
    return parser.blocks


def _xml(data: bytes, path: Path, name: str) -> ET.Element:
    if b"<!ENTITY" in data:  # entity definitions have no place in a container or package file: entity bombs
        raise IngestError(path, f"EPUB {name} defines XML entities: refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise IngestError(path, f"corrupt EPUB ({name}: {exc})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_all(root: ET.Element, name: str) -> list[ET.Element]:
    return [el for el in root.iter() if _local(el.tag) == name]


def _text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


class EpubReader:
    """Chapters in spine order, each under its table-of-contents label (its first heading when it has none)."""

    suffixes = (".epub",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        archive = open_zip(raw, path, limits, "EPUB")

        def member(name: str) -> bytes:
            return read_member(archive, name, path, limits, "EPUB")

        if "META-INF/encryption.xml" in archive.namelist():  # DRM, or only obfuscated fonts (the text is plain)
            uris = re.findall(rb'URI\s*=\s*["\']([^"\']*)', member("META-INF/encryption.xml"))
            if not uris or any(not uri.lower().endswith(_FONT_SUFFIXES) for uri in uris):
                raise IngestError(path, "encrypted EPUB (DRM): cannot be read")
        container = _xml(member("META-INF/container.xml"), path, "container.xml")
        rootfiles = [el.get("full-path") for el in _find_all(container, "rootfile") if el.get("full-path")]
        if not rootfiles:
            raise IngestError(path, "corrupt EPUB (container.xml names no package file)")
        opf_name = rootfiles[0]
        opf = _xml(member(opf_name), path, opf_name)
        base = posixpath.dirname(opf_name)
        titles = [_text(el) for el in _find_all(opf, "title") if _text(el)]
        manifest = {
            el.get("id"): (posixpath.normpath(posixpath.join(base, unquote(el.get("href", "")))), el)
            for el in _find_all(opf, "item")
        }
        spine = [manifest[ref.get("idref")][0] for ref in _find_all(opf, "itemref") if ref.get("idref") in manifest]
        if len(spine) > limits.max_pages:
            raise IngestError(path, f"{len(spine)} chapters, more than {limits.max_pages} (RAG_MAX_PAGES)")
        labels = self._toc_labels(opf, manifest, member)
        builder = TextBuilder(path, limits)
        parsed: dict[str, list[tuple[str, int, str]]] = {}  # a chapter the spine lists again is parsed once
        for name in spine:
            if name not in parsed:
                raw_chapter = member(name)
                builder.parse(len(raw_chapter))
                parsed[name] = xhtml_blocks(raw_chapter.decode("utf-8", errors="replace"))
            else:  # counted again: its text is added again, and what a repeat costs is bounded like the rest
                builder.parse(archive.getinfo(name).file_size)
            blocks = parsed[name]
            label = labels.get(name, "")
            headings = HeadingPath(label)
            if label and not (blocks and blocks[0][0] == "h" and blocks[0][2] == label):
                builder.heading(label)
            for kind, level, text in blocks:
                if kind == "h":
                    path_text = label if text == label else headings.push(level, text)
                    builder.heading(path_text, text)
                else:
                    builder.paragraph(text)
        if not builder.size:
            raise IngestError(path, "no text in the EPUB's chapters")
        return builder.result(title=titles[0] if titles else "")

    @staticmethod
    def _toc_labels(opf: ET.Element, manifest: dict, member) -> dict[str, str]:
        """Chapter file → its first label in the EPUB 3 nav document or the EPUB 2 NCX; {} when neither reads."""
        labels: dict[str, str] = {}
        for name, item in manifest.values():
            props = (item.get("properties") or "").split()
            is_nav = "nav" in props
            is_ncx = item.get("media-type") == "application/x-dtbncx+xml"
            if not (is_nav or is_ncx):
                continue
            try:
                toc = _xml(member(name), Path(name), name)
            except IngestError:
                continue  # a broken table of contents only costs the chapter names
            folder = posixpath.dirname(name)
            if is_nav:
                entries = [(a.get("href", ""), _text(a)) for a in _find_all(toc, "a")]
            else:
                entries = []
                for point in _find_all(toc, "navPoint"):
                    label = next((_text(t) for t in _find_all(point, "text")), "")
                    src = next((c.get("src", "") for c in point if _local(c.tag) == "content"), "")
                    entries.append((src, label))
            for href, label in entries:
                target = posixpath.normpath(posixpath.join(folder, unquote(href.split("#", 1)[0])))
                if label and href and target not in labels:
                    labels[target] = label
        return labels


register(EpubReader())
