"""Reader budgets: the worst files of bench/worst_files.py, built against small limits, stop in one line naming
the file and the limit; the costs they probe (repeated chapters, one-letter paragraphs) are bounded by the limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import worst_files
from ingest.documents import IngestError
from ingest.loaders import load_document
from ingest.readers import Limits
from rag.settings import Settings

SMALL = Limits(max_pages=60, max_chars=200_000, max_markup_bytes=300_000, max_paragraphs=2_000)


def load(tmp_path: Path, name: str, raw: bytes, limits: Limits = SMALL):
    path = tmp_path / name
    path.write_bytes(raw)
    return load_document(path, limits=limits)


def refusal(tmp_path: Path, name: str, raw: bytes, limits: Limits = SMALL) -> str:
    with pytest.raises(IngestError) as err:
        load(tmp_path, name, raw, limits)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / name}: ") and "\n" not in message
    return message


def test_limits_come_from_the_settings():
    limits = Limits.from_settings(Settings(max_markup_mb=3, max_paragraphs=10, max_pages=4))
    assert (limits.max_markup_bytes, limits.max_paragraphs, limits.max_pages) == (3 * 2**20, 10, 4)


def test_an_epub_whose_spine_repeats_one_chapter_counts_each_repeat(tmp_path):
    raw = worst_files.epub_repeated_spine(SMALL, 0.1)  # a 150 kB chapter listed 60 times: 9 MB of markup
    assert len(raw) < 5_000
    assert "MB of markup to parse" in refusal(tmp_path, "spine.epub", raw) and "RAG_MAX_MARKUP_MB" in refusal(
        tmp_path, "spine.epub", raw
    )
    # Listed twice, it is read twice (its text twice), under the limit.
    once = worst_files._epub({"c.xhtml": worst_files._xhtml("<p>Chapter text.</p>")}, ["c.xhtml", "c.xhtml"])
    assert load(tmp_path, "twice.epub", once).text.count("Chapter text.") == 2


def test_a_docx_of_one_letter_paragraphs_stops_at_the_paragraph_limit(tmp_path):
    message = refusal(tmp_path, "letters.docx", worst_files.docx_one_letter_paragraphs(SMALL, 1.0))
    assert message.endswith("more than 2,000 paragraphs (RAG_MAX_PARAGRAPHS)")
    under = Limits(max_paragraphs=3_000)
    assert (
        load(tmp_path, "letters.docx", worst_files.docx_one_letter_paragraphs(SMALL, 1.0), under).text.count("a")
        == 2_002
    )


def test_a_docx_body_larger_than_the_markup_limit_is_refused_before_it_is_parsed(tmp_path):
    raw = worst_files.docx_one_letter_paragraphs(Limits(max_paragraphs=20_000), 1.0)  # 700 kB of document.xml
    assert "MB of markup to parse" in refusal(tmp_path, "big.docx", raw)


def test_a_page_over_the_markup_limit_is_refused_and_a_page_of_many_tags_is_read_whole(tmp_path, monkeypatch):
    assert "MB of markup to parse" in refusal(
        tmp_path, "page.html", worst_files.html_many_paragraphs(Limits(max_markup_bytes=400_000), 1.0)
    )
    from ingest.readers import html

    monkeypatch.setattr(html, "MAX_TAGS_FOR_ARTICLE", 1_000)
    raw = (
        b"<html><head><title>Tide &amp; moon</title></head><body><nav>Home</nav><article><h1>Tides</h1>"
        + b"<p>word</p>" * 1_000
        + b"</article></body></html>"
    )
    doc = load(tmp_path, "tags.html", raw)
    assert doc.title == "Tide & moon" and doc.text.count("word") == 1_000 and doc.headings == [(0, "Tides")]


def test_a_pdf_whose_pages_share_one_content_stream_stops_at_the_character_limit(tmp_path):
    raw = worst_files.pdf_shared_content(SMALL, 1.0)  # 60 pages of ~3,600 characters each
    assert refusal(tmp_path, "shared.pdf", raw).endswith(
        "more than 200,000 characters of text (RAG_MAX_EXTRACTED_CHARS)"
    )


def test_a_text_file_over_the_character_limit_is_refused(tmp_path):
    raw = worst_files.text_one_letter_lines(SMALL, 1.0) + b"b\n" * 10
    assert refusal(tmp_path, "lines.txt", raw).endswith(
        "more than 200,000 characters of text (RAG_MAX_EXTRACTED_CHARS)"
    )
