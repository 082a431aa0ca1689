"""The reader interface: one reader per document format, found by file suffix in a registry a plugin can extend."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ingest.documents import IngestError
from rag.text.terms import strip_invisible


def default_ocr_cache() -> Path:
    """Where OCR results are kept when no settings say (Settings.cache_dir's default, ocr/)."""
    from rag.settings import REPO_ROOT

    return REPO_ROOT / ".cache" / "ocr"


@dataclass(frozen=True)
class Limits:
    """What one document may cost to read (Settings.max_pages, max_extracted_chars, max_unzipped_mb,
    max_markup_mb, max_paragraphs): each is checked while the document is read, so reading stops at the limit."""

    max_pages: int = 2_000
    max_chars: int = 20_000_000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_markup_bytes: int = 20 * 1024 * 1024
    max_paragraphs: int = 300_000
    max_ocr_pages: int = 200
    max_image_pixels: int = 60_000_000
    ocr_min_confidence: float = 0.3
    ocr_threads: int = 0  # 0: one per core
    ocr_cache: Path | None = field(
        default_factory=lambda: default_ocr_cache()
    )  # OCR results by content hash; None: none
    progress: bool = False  # a progress bar per OCR'd page on stderr
    # Told (file name, pages read, pages to read) as a document's pages are OCR'd: the page's progress line.
    on_ocr_page: Callable[[str, int, int], object] | None = field(default=None, compare=False)

    @classmethod
    def from_settings(
        cls, settings, progress: bool = False, on_ocr_page: Callable[[str, int, int], object] | None = None
    ) -> Limits:
        return cls(
            max_pages=settings.max_pages,
            max_chars=settings.max_extracted_chars,
            max_unzipped_bytes=settings.max_unzipped_mb * 1024 * 1024,
            max_markup_bytes=settings.max_markup_mb * 1024 * 1024,
            max_paragraphs=settings.max_paragraphs,
            max_ocr_pages=settings.max_ocr_pages,
            max_image_pixels=settings.max_image_pixels,
            ocr_min_confidence=settings.ocr_min_confidence,
            ocr_threads=settings.ocr_threads,
            ocr_cache=Path(settings.cache_dir) / "ocr",
            progress=progress,
            on_ocr_page=on_ocr_page,
        )

    def check_chars(self, path: Path, count: int) -> None:
        """Refuse, naming the file and the limit, a document that gives `count` characters of text so far."""
        if count > self.max_chars:
            raise IngestError(path, f"more than {self.max_chars:,} characters of text (RAG_MAX_EXTRACTED_CHARS)")

    def check_markup(self, path: Path, size: int) -> None:
        """Refuse, naming the file and the limit, a document that would have `size` bytes of markup parsed."""
        if size > self.max_markup_bytes:
            raise IngestError(
                path,
                f"more than {self.max_markup_bytes / 2**20:,.0f} MB of markup to parse ({size / 2**20:,.1f} MB"
                ", a repeated part counted each time; RAG_MAX_MARKUP_MB)",
            )


@dataclass
class Extracted:
    """A document's text as a reader found it, with where each page and heading starts in that text."""

    text: str
    title: str = ""  # the document's own title (PDF /Title, DOCX core properties, <title>, dc:title), "" if none
    pages: list[tuple[int, int]] = field(default_factory=list)  # (offset, 1-based page) where each page starts
    headings: list[tuple[int, str]] = field(default_factory=list)  # (offset, "Chapter › Heading") where each starts
    date: str | None = None
    boxes: list[LineBox] = field(default_factory=list)  # where each line of a page's text is drawn (PDF, OCR)
    ocr_dropped: int = 0  # OCR lines kept out for low confidence


# (start, end, 1-based page, (x0, y0, x1, y1)): a line's offsets in the text and its box on the page, top-left
# origin, in PDF points for a PDF page and in pixels for an image.
LineBox = tuple[int, int, int, tuple[float, float, float, float]]


class Reader(Protocol):
    """Turns a file's bytes into Extracted text; raises IngestError(path, reason) when it cannot."""

    suffixes: tuple[str, ...]  # lower case, with the dot

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted: ...


_REGISTRY: dict[str, Reader] = {}


def register(reader: Reader) -> Reader:
    """Make `reader` the one for its suffixes (a later registration replaces an earlier one: plugins win)."""
    for suffix in reader.suffixes:
        _REGISTRY[suffix.lower()] = reader
    return reader


def reader_for(suffix: str) -> Reader | None:
    return _REGISTRY.get(suffix.lower())


def registered_suffixes() -> frozenset[str]:
    return frozenset(_REGISTRY)


# Full-width punctuation stays: NFKC would turn ，。？ into ASCII and change how Chinese text reads and splits.
_KEEP = "\u3000\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_NORMALISE_RE = re.compile(f"[^{_KEEP}]+")


def normalise(text: str) -> str:
    """NFKC (PDFs give compatibility ideographs such as U+F97E for 量, ligatures such as ﬁ), full-width
    punctuation kept; Windows line ends and invisible characters out."""
    text = _NORMALISE_RE.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return strip_invisible(text.replace("\r\n", "\n").replace("\r", "\n"))


class TextBuilder:
    """Assembles a document's text piece by piece, normalised as it goes so recorded offsets stay true."""

    def __init__(self, path: Path, limits: Limits):
        self.path = path
        self.limits = limits
        self.parts: list[str] = []
        self.size = 0
        self.pages: list[tuple[int, int]] = []
        self.headings: list[tuple[int, str]] = []
        self.boxes: list[LineBox] = []
        self.paragraphs = 0
        self.markup = 0  # bytes of markup parsed so far (Limits.max_markup_bytes)

    def parse(self, size: int) -> None:
        """Count `size` more bytes of markup about to be parsed (a repeated part again): over the limit, stop."""
        self.markup += size
        self.limits.check_markup(self.path, self.markup)

    def _separate(self) -> None:
        """Start a new paragraph: a blank line after what is there."""
        if self.parts and not self.parts[-1].endswith("\n\n"):
            self.add("\n" if self.parts[-1].endswith("\n") else "\n\n", raw=True)

    def add(self, text: str, raw: bool = False) -> None:
        text = text if raw else normalise(text)
        if not text:
            return
        self.parts.append(text)
        self.size += len(text)
        self.limits.check_chars(self.path, self.size)

    def paragraph(self, text: str) -> None:
        text = normalise(text).strip()
        if text:
            self.paragraphs += 1
            if self.paragraphs > self.limits.max_paragraphs:
                raise IngestError(
                    self.path, f"more than {self.limits.max_paragraphs:,} paragraphs (RAG_MAX_PARAGRAPHS)"
                )
            self._separate()
            self.add(text, raw=True)

    def boxed_paragraph(self, lines: list[tuple[str, tuple[float, float, float, float]]], page: int) -> None:
        """A paragraph of drawn lines (text, box) joined as the layout wrapped them, each line's box recorded."""
        lines = [(normalise(text).strip(), box) for text, box in lines]
        lines = [(text, box) for text, box in lines if text]
        if not lines:
            return
        self._separate()
        for i, (text, box) in enumerate(lines):
            if i:
                self.add(joint(lines[i - 1][0], text), raw=True)
            self.boxes.append((self.size, self.size + len(text), page, box))
            self.add(text, raw=True)

    def page(self, number: int) -> None:
        self._separate()
        self.pages.append((self.size, number))

    def heading(self, path: str, text: str | None = None) -> None:
        """A heading line (its own text, or the last part of `path`) that starts a section named `path`."""
        self._separate()
        self.headings.append((self.size, normalise(path).strip()))
        self.paragraph(text if text is not None else path.rsplit(" › ", 1)[-1])

    def result(self, title: str = "", date: str | None = None) -> Extracted:
        text = "".join(self.parts).rstrip() + "\n"
        return Extracted(text, " ".join(normalise(title or "").split()), self.pages, self.headings, date, self.boxes)


CJK_RE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def is_cjk(ch: str) -> bool:
    """A Chinese character or full-width form: drawn two Latin letters wide, written without spaces."""
    return bool(CJK_RE.match(ch))


def joint(before: str, after: str) -> str:
    """What goes between a wrapped line and the next: nothing between Chinese characters or after a hyphen, else
    a space."""
    if before.endswith("-") or (is_cjk(before[-1]) and is_cjk(after[0])):
        return ""
    return " "


class HeadingPath:
    """The headings above the current position: a level-2 heading replaces the level-2 and deeper ones."""

    sep = " › "

    def __init__(self, base: str = ""):
        self.stack: list[tuple[int, str]] = [(0, base)] if base else []

    def push(self, level: int, text: str) -> str:
        self.stack = [(lv, t) for lv, t in self.stack if lv < level] + [(level, " ".join(text.split()))]
        return self.sep.join(t for _, t in self.stack)


def open_zip(raw: bytes, path: Path, limits: Limits, what: str) -> zipfile.ZipFile:
    """A zip container (DOCX, EPUB) checked before anything is decompressed: the uncompressed sizes its directory
    declares must stay under the limit. zipfile never inflates a member past its declared size, so a directory
    that lies gives a short, failing read rather than a bomb (and read_member caps each read as well)."""
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE: an encrypted Office file (or an old binary .doc)
        raise IngestError(path, f"encrypted (password-protected) or old binary {what}: cannot be read")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise IngestError(path, f"corrupt or truncated {what} (not a readable zip container: {exc})") from None
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        mb = limits.max_unzipped_bytes // (1024 * 1024)
        raise IngestError(
            path, f"unpacks to {total / 2**20:,.0f} MB, more than {mb} MB (a zip bomb? RAG_MAX_UNZIPPED_MB)"
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise IngestError(path, f"encrypted {what}: cannot be read")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, path: Path, limits: Limits, what: str) -> bytes:
    """One member's bytes, never more than the limit whatever its header claims."""
    try:
        with archive.open(name) as member:
            data = member.read(limits.max_unzipped_bytes + 1)
    except KeyError:
        raise IngestError(path, f"corrupt {what}: {name} is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise IngestError(path, f"corrupt or truncated {what} ({name}: {exc})") from None
    if len(data) > limits.max_unzipped_bytes:
        raise IngestError(path, f"{name} unpacks to more than its stated size (a zip bomb?)")
    return data


def lazy_import(module: str, package: str, path: Path) -> Callable:
    """Import an optional reader library when a file needs it; a one-line error naming the package otherwise."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise IngestError(path, f"needs the {package} package (pip install {package})") from None
