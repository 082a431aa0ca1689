"""The DOCX reader: body text in order, Heading styles as section paths, core-properties title, damage named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.documents import IngestError
from ingest.readers import Limits, reader_for
from tests.ingest.readers.builders import docx_bytes, zip_bomb

BLOCKS = [
    ("title", "新能源笔记"),
    ("h1", "第一章 风电"),
    ("p", "内蒙古的风电装机容量在2023年达到七千万千瓦。"),
    ("h2", "海上风电"),
    ("p", "福建平潭的海上风电场离岸约二十公里。"),
    ("h1", "第二章 光伏"),
    ("p", "青海塔拉滩光伏园区占地六百平方公里。"),
]


def read(raw: bytes, limits: Limits | None = None):
    return reader_for(".docx").read(raw, Path("notes.docx"), limits or Limits())


def test_headings_become_paths_and_the_title_comes_from_core_properties() -> None:
    doc = read(docx_bytes(BLOCKS, title="新能源研究笔记"))
    assert doc.title == "新能源研究笔记"
    paths = [path for _, path in doc.headings]
    assert paths == ["第一章 风电", "第一章 风电 › 海上风电", "第二章 光伏"]
    start = {p: o for o, p in doc.headings}["第一章 风电 › 海上风电"]
    assert doc.text[start:].startswith("海上风电\n\n福建平潭")


def test_the_title_style_is_the_title_when_core_properties_have_none() -> None:
    assert read(docx_bytes(BLOCKS, title="")).title == "新能源笔记"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (lambda: docx_bytes(BLOCKS)[:2000], "corrupt or truncated DOCX"),
        (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "encrypted (password-protected)"),
        (lambda: zip_bomb(["[Content_Types].xml", "word/document.xml"], 3 * 1024 * 1024), "a zip bomb?"),
    ],
)
def test_damaged_docx_files_give_one_line(raw, reason) -> None:
    with pytest.raises(IngestError) as info:
        read(raw(), Limits(max_unzipped_bytes=4 * 1024 * 1024))
    assert reason in str(info.value) and str(info.value).startswith("notes.docx: ")
