"""Each indexed document's extracted text, kept compressed in the data folder: a citation is shown without reading the file again."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

FOLDER = "extracted"


@dataclass
class StoredText:
    """A document's text as the indexer read it, with where its pages and headings start (ingest Document's)."""

    source: str
    sha256: str  # of the file's bytes when it was read (first: `has` reads only the start of the file)
    text: str
    title: str = ""
    date: str | None = None
    pages: list[tuple[int, int]] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)


def from_document(doc) -> StoredText:
    """What is kept of an ingest Document."""
    return StoredText(doc.source, doc.sha256, doc.text, doc.title, doc.date, list(doc.pages), list(doc.headings))


class ExtractedTexts:
    """`<data folder>/extracted/<sha1 of the source>.json.gz` per source: written by the indexer when it reads a
    file (rag.index.Index is the only writer), removed with the source."""

    def __init__(self, folder: Path):
        self.folder = folder / FOLDER

    def _file(self, source: str) -> Path:
        return self.folder / f"{hashlib.sha1(source.encode()).hexdigest()}.json.gz"

    def has(self, source: str, sha256: str) -> bool:
        """Whether the text kept for `source` was read from the bytes with this hash."""
        try:
            with gzip.open(self._file(source), "rb") as kept:
                head = kept.read(4096).decode("utf-8", errors="replace")
        except (OSError, EOFError):
            return False
        return f'"sha256": "{sha256}"' in head and f'"source": {json.dumps(source, ensure_ascii=False)}' in head

    def save(self, stored: StoredText) -> None:
        """Keep a document's text (replacing what was kept for its source), written whole or not at all."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(json.dumps(asdict(stored), ensure_ascii=False).encode(), compresslevel=6)
        fd, temporary = tempfile.mkstemp(prefix=".saving-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, self._file(stored.source))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self, source: str) -> StoredText | None:
        """The text kept for `source`; None when none is (indexed before texts were kept, or damaged)."""
        try:
            data = json.loads(gzip.decompress(self._file(source).read_bytes()))
        except (OSError, EOFError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("source") != source:
            return None
        data["pages"] = [tuple(p) for p in data.get("pages", [])]
        data["headings"] = [tuple(h) for h in data.get("headings", [])]
        return StoredText(**{k: v for k, v in data.items() if k in StoredText.__dataclass_fields__})

    def remove(self, source: str) -> None:
        self._file(source).unlink(missing_ok=True)


def extracted_text(data_folder: Path, source: str) -> StoredText | None:
    """The text the indexer extracted from `source` in the notebook whose data folder is `data_folder`, or None."""
    return ExtractedTexts(Path(data_folder)).load(source)
