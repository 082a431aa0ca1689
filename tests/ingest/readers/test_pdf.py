"""The PDF reader on PDFs built at test time: pages, /Title, NFKC, and the damaged ones named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.documents import IngestError
from ingest.readers import Limits, reader_for
from ingest.readers.base import normalise
from tests.ingest.readers.builders import HANS_FONT, encrypted_pdf_bytes, pdf_bytes, scanned_pdf_bytes

PAGES = [
    ["第一頁：台灣的電力來源", "", "核能與燃煤各佔一部分。"],
    ["第二頁：水力發電", "", "日月潭水庫的有效容量約為一億立方公尺。"],
    ["第三頁：結論"],
]


def read(raw: bytes, limits: Limits | None = None):
    return reader_for(".pdf").read(raw, Path("report.pdf"), limits or Limits())


def test_pages_are_read_exactly_and_each_start_is_recorded() -> None:
    doc = read(pdf_bytes(PAGES, title="電力報告"))
    assert doc.title == "電力報告"
    assert [page for _, page in doc.pages] == [1, 2, 3]
    second = doc.text[doc.pages[1][0] : doc.pages[2][0]]
    assert "日月潭水庫的有效容量約為一億立方公尺。" in second and "核能" not in second


def test_simplified_chinese_with_a_non_embedded_font() -> None:
    doc = read(pdf_bytes([["长江三峡水电站的装机容量为二千二百五十万千瓦。"]], font=HANS_FONT))
    assert "长江三峡水电站的装机容量为二千二百五十万千瓦。" in doc.text


def test_compatibility_ideographs_become_the_usual_characters() -> None:
    assert normalise("數\uf97e與ﬁle") == "數量與file"  # U+F97E is a compatibility 量, ﬁ a ligature
    assert normalise("你好，世界！（一）") == "你好，世界！（一）"  # full-width punctuation is kept


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: encrypted_pdf_bytes(pdf_bytes(PAGES)), "encrypted PDF"),
        (lambda: pdf_bytes(PAGES)[:700], "corrupt or truncated PDF"),
        (lambda: b"%PDF-1.7\n" + b"\x00garbage" * 50, "corrupt or truncated PDF"),
        (lambda: b"<html>not a pdf</html>", "corrupt PDF"),
        (scanned_pdf_bytes, "no text layer"),
    ],
)
def test_damaged_pdfs_give_one_line_naming_the_reason(make, reason) -> None:
    with pytest.raises(IngestError) as info:
        read(make())
    assert reason in str(info.value) and "report.pdf" in str(info.value) and "\n" not in str(info.value)


def test_page_and_size_limits() -> None:
    raw = pdf_bytes(PAGES)
    with pytest.raises(IngestError, match="3 pages, more than 2"):
        read(raw, Limits(max_pages=2))
    with pytest.raises(IngestError, match="more than 10 characters"):
        read(raw, Limits(max_chars=10))


def test_lines_the_layout_wrapped_are_joined_so_sentences_stay_whole() -> None:
    doc = read(
        pdf_bytes(
            [
                [
                    "水力發電",
                    "日月潭水庫的有效容量約為一億立方公尺，是台灣最重要的抽",
                    "蓄水力電廠所在地。",
                    "The Sihwa Lake station in South Korea produces 254 megawatts",
                    "from ten bulb turbines.",
                ]
            ]
        )
    )
    assert "水力發電\n日月潭水庫的有效容量約為一億立方公尺，是台灣最重要的抽蓄水力電廠所在地。\n" in doc.text
    assert "produces 254 megawatts from ten bulb turbines." in doc.text


def test_bookmarks_name_the_sections_from_their_pages() -> None:
    outline = [(0, "第一章 電力來源", 0), (0, "第二章 水力", 1), (1, "日月潭", 1), (0, "結論", 2)]
    doc = read(pdf_bytes(PAGES, outline=outline))
    starts = [offset for offset, _ in doc.pages]
    assert doc.headings == [
        (starts[0], "第一章 電力來源"),
        (starts[1], "第二章 水力"),
        (starts[1], "第二章 水力 › 日月潭"),
        (starts[2], "結論"),
    ]
