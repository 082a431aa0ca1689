"""The EPUB reader: chapters in spine order named from the table of contents, dc:title, damage and DRM named."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ingest.documents import IngestError
from ingest.readers import Limits, reader_for
from tests.ingest.readers.builders import epub_bytes, zip_bomb

CHAPTERS = [
    ("Chapter 1. The Lighthouse", "<h1>Chapter 1. The Lighthouse</h1><p>The keeper lit the lamp at dusk.</p>"),
    (
        "Chapter 2. The Storm",
        "<h1>Chapter 2. The Storm</h1><p>Waves broke over the pier.</p><h2>Morning</h2><p>Calm.</p>",
    ),
]


DRM = (
    b'<encryption><EncryptedData><CipherData><CipherReference URI="OEBPS/text/ch0.xhtml"/></CipherData>'
    b"</EncryptedData></encryption>"
)


def read(raw: bytes, limits: Limits | None = None):
    return reader_for(".epub").read(raw, Path("book.epub"), limits or Limits())


def test_chapters_in_order_with_their_names() -> None:
    doc = read(epub_bytes("The Keeper", CHAPTERS))
    assert doc.title == "The Keeper"
    assert [p for _, p in doc.headings] == [
        "Chapter 1. The Lighthouse",
        "Chapter 2. The Storm",
        "Chapter 2. The Storm › Morning",
    ]
    assert doc.text.index("lit the lamp") < doc.text.index("Waves broke")


def test_obfuscated_fonts_alone_are_not_drm() -> None:
    fonts = (
        b'<encryption><EncryptedData><CipherData><CipherReference URI="OEBPS/fonts/a.otf"/></CipherData>'
        b"</EncryptedData></encryption>"
    )
    assert "lit the lamp" in read(_with(epub_bytes("The Keeper", CHAPTERS), "META-INF/encryption.xml", fonts)).text


def test_without_a_table_of_contents_the_first_heading_names_the_chapter() -> None:
    doc = read(epub_bytes("The Keeper", CHAPTERS, nav=False))
    assert [p for _, p in doc.headings][:2] == ["Chapter 1. The Lighthouse", "Chapter 2. The Storm"]


def _with(raw: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (lambda: epub_bytes("T", CHAPTERS)[:300], "corrupt or truncated EPUB"),
        (lambda: zip_bomb(["mimetype", "OEBPS/text/ch0.xhtml"], 3 * 1024 * 1024), "a zip bomb?"),
        (lambda: _with(epub_bytes("T", CHAPTERS), "META-INF/encryption.xml", DRM), "encrypted EPUB"),
    ],
)
def test_damaged_epubs_give_one_line(raw, reason) -> None:
    with pytest.raises(IngestError) as info:
        read(raw(), Limits(max_unzipped_bytes=4 * 1024 * 1024))
    assert reason in str(info.value) and str(info.value).startswith("book.epub: ")
