"""PDF, DOCX, HTML and EPUB through the real Notebook: each answers a question only it can, cited at its page or
heading; bad documents are named in one line while the rest is indexed; a changed PDF is re-embedded, a deleted one
leaves, and a PDF that turns corrupt keeps what was indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Notebook
from tests.ingest.readers.builders import (
    HANS_FONT,
    docx_bytes,
    encrypted_pdf_bytes,
    epub_bytes,
    html_page,
    pdf_bytes,
    scanned_pdf_bytes,
    zip_bomb,
)

REPORT_PAGES = [
    ["台灣電力概況", "", "台灣的電力主要來自燃氣與燃煤發電，核能的比例逐年下降。", "離岸風電在彰化外海快速成長。"],
    ["水力發電", "", "日月潭水庫的有效容量約為一億立方公尺，是台灣最重要的抽蓄水力電廠所在地。"],
    ["結論", "", "未來十年的電力規劃以再生能源與儲能為重點。"],
]
OUTLINE = [(0, "台灣電力概況", 0), (0, "水力發電", 1), (0, "結論", 2)]  # the PDF's bookmarks
NOTES = [
    ("title", "新能源笔记"),
    ("h1", "第一章 风电"),
    ("p", "内蒙古的风电装机容量在二〇二三年达到七千万千瓦，居全国首位。"),
    ("h2", "海上风电"),
    ("p", "福建平潭的海上风电场离岸约二十公里，单机容量达到十六兆瓦。"),
    ("h1", "第二章 光伏"),
    ("p", "青海塔拉滩光伏园区占地六百平方公里，被称为光伏海洋。"),
]
ARTICLE = (
    "<p>The Sihwa Lake station in South Korea produces 254 megawatts from ten bulb turbines set into a seawall.</p>"
    "<h2>Costs</h2><p>Building the Sihwa Lake tidal plant cost about 355 billion won, paid by the state water "
    "company.</p>"
)
BOOK = [
    (
        "Chapter 1. The Lighthouse",
        (
            "<h1>Chapter 1. The Lighthouse</h1><p>The keeper lit the brass lamp at dusk every "
            "evening for forty years.</p>"
        ),
    ),
    (
        "Chapter 2. The Storm",
        (
            "<h1>Chapter 2. The Storm</h1><p>During the great storm of 1953, green waves broke over "
            "the stone pier and carried away the harbour crane.</p>"
        ),
    ),
]


def good_documents() -> dict[str, bytes]:
    return {
        "電力報告.pdf": pdf_bytes(REPORT_PAGES, title="台灣電力報告", outline=OUTLINE),
        "新能源笔记.docx": docx_bytes(NOTES, title="新能源笔记"),
        "tide.html": html_page("Tidal power in Korea", ARTICLE).encode(),
        "keeper.epub": epub_bytes("The Keeper's Log", BOOK),
    }


BAD_DOCUMENTS = {
    "locked.pdf": (lambda: encrypted_pdf_bytes(pdf_bytes(REPORT_PAGES)), "encrypted PDF"),
    "cut.pdf": (lambda: pdf_bytes(REPORT_PAGES)[:900], "corrupt or truncated PDF"),
    "scan.pdf": (scanned_pdf_bytes, "no text layer"),
    "bomb.docx": (lambda: zip_bomb(["[Content_Types].xml", "word/document.xml"]), "zip bomb"),
    "bomb.epub": (lambda: zip_bomb(["mimetype", "OEBPS/content.opf"]), "zip bomb"),
    "cut.epub": (lambda: epub_bytes("T", BOOK)[:400], "corrupt or truncated EPUB"),
    "cut.docx": (lambda: docx_bytes(NOTES)[:3000], "corrupt or truncated DOCX"),
    "script.html": (
        lambda: b"<html><head><script>var a = 1;</script></head><body><script>go()</script></body></html>",
        "no article text found",
    ),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("formats")


@pytest.fixture(scope="module")
def notebook(home, notebook_at) -> Notebook:
    # The bombs unpack to 48 MB: a lower limit than the default keeps them small and fast to build.
    return notebook_at(home, max_unzipped_mb=16)


@pytest.fixture(scope="module")
def indexed(notebook, home):
    docs = home / "docs"
    docs.mkdir()
    for name, raw in good_documents().items():
        (docs / name).write_bytes(raw)
    for name, (make, _) in BAD_DOCUMENTS.items():
        (docs / name).write_bytes(make())
    return notebook.index(docs, progress=False)


def test_good_documents_are_indexed_and_bad_ones_named_in_one_line_each(indexed, notebook):
    assert indexed.added == 4
    assert len(indexed.errors) == len(BAD_DOCUMENTS)
    for name, (_, reason) in BAD_DOCUMENTS.items():
        lines = [e for e in indexed.errors if e.startswith(f"docs/{name}: ") or f"/docs/{name}: " in e]
        assert len(lines) == 1 and reason in lines[0] and "\n" not in lines[0], (name, indexed.errors)
    titles = {s["source"]: s["title"] for s in notebook.sources()}
    assert titles == {
        "docs/電力報告.pdf": "台灣電力報告",
        "docs/新能源笔记.docx": "新能源笔记",
        "docs/tide.html": "Tidal power in Korea",
        "docs/keeper.epub": "The Keeper's Log",
    }


@pytest.mark.parametrize(
    ("question", "source", "page", "section", "quote"),
    [
        ("日月潭水庫的有效容量是多少？", "docs/電力報告.pdf", 2, "水力發電", "一億立方公尺"),
        ("福建平潭的海上风电场离岸多远？", "docs/新能源笔记.docx", None, "第一章 风电 › 海上风电", "二十公里"),
        (
            "How much did the Sihwa Lake tidal plant cost to build?",
            "docs/tide.html",
            None,
            "Tidal power in Korea › Costs",
            "355 billion won",
        ),
        (
            "What did the waves carry away during the great storm of 1953?",
            "docs/keeper.epub",
            None,
            "Chapter 2. The Storm",
            "harbour crane",
        ),
    ],
)
def test_each_format_answers_its_question_cited_at_its_page_or_heading(
    indexed, notebook, question, source, page, section, quote
):
    answer = notebook.ask(question)
    assert not answer.refused, answer.text
    cited = [c for c in answer.citations if quote in c.quote]
    assert cited, answer.citations
    citation = cited[0]
    assert citation.source == source and citation.page == page
    if section is not None:
        assert citation.section == section
    assert citation.where == (f"p. {page}" if page else section)
    as_json = answer.as_dict()["citations"][answer.citations.index(citation)]  # what `rag ask --json` prints
    assert as_json["page"] == page and as_json["section"] == citation.section


def test_pdf_chunks_keep_their_page_and_offsets_into_the_extracted_text(indexed, notebook):
    from ingest.loaders import load_document

    doc = load_document(notebook.home / "docs" / "電力報告.pdf")
    stored = notebook.chunk_index.metadata_by_source()["docs/電力報告.pdf"]
    chunks = notebook.chunks(list(stored))
    assert {c.meta["page"] for c in chunks} == {1, 2, 3}
    for c in chunks:
        assert doc.text[c.meta["start"] : c.meta["end"]] == c.text
        assert doc.page_at(c.meta["start"]) == c.meta["page"]


def test_a_changed_pdf_is_re_embedded_a_corrupt_one_keeps_its_chunks_and_a_deleted_one_leaves(indexed, notebook, home):
    docs = home / "docs"
    pdf = docs / "電力報告.pdf"
    before = set(notebook.chunk_index.metadata_by_source()["docs/電力報告.pdf"])
    changed = [*REPORT_PAGES[:2], ["結論", "", "二〇三〇年的目標是再生能源佔發電量的三成。"]]
    pdf.write_bytes(pdf_bytes(changed, title="台灣電力報告", outline=OUTLINE))
    report = notebook.index(docs, progress=False)
    assert (report.added, report.updated, report.removed) == (0, 1, 0) and 0 < report.embedded < len(before)
    after = set(notebook.chunk_index.metadata_by_source()["docs/電力報告.pdf"])
    assert after != before and len(after & before) >= 2  # unchanged pages kept their chunks

    pdf.write_bytes(pdf.read_bytes()[:800])  # truncated in place: named, and what was indexed stays
    report = notebook.index(docs, progress=False)
    assert any("電力報告.pdf: corrupt or truncated PDF" in e for e in report.errors), report.errors
    assert set(notebook.chunk_index.metadata_by_source()["docs/電力報告.pdf"]) == after

    pdf.unlink()
    report = notebook.index(docs, progress=False)
    assert report.removed == 1 and "docs/電力報告.pdf" not in notebook.chunk_index.metadata_by_source()


def test_a_simplified_chinese_pdf_is_found_by_its_words_on_its_page(notebook, home):
    """A zh-Hans PDF with a non-embedded font: its text is exact, so keyword search finds it, on page 2."""
    folder = home / "more"
    folder.mkdir()
    (folder / "三峡.pdf").write_bytes(
        pdf_bytes([["前言"], ["长江三峡水电站的装机容量为二千二百五十万千瓦，是世界最大的水电站。"]], font=HANS_FONT)
    )
    notebook.index(folder, progress=False)
    hits = notebook.search("三峡水电站的装机容量", k=3, sources=["more/三峡.pdf"])
    assert hits and hits[0].page == 2 and "二千二百五十万千瓦" in hits[0].text


def test_a_folder_outside_the_home_is_shown_by_its_name_never_an_absolute_path(notebook, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "papers"
    (outside / "2024").mkdir(parents=True)
    (outside / "2024" / "tide.html").write_text(html_page("Tidal power in Korea", ARTICLE), encoding="utf-8")
    notebook.index(outside, progress=False)
    shown = {s["name"] for s in notebook.sources()}
    assert "papers/2024/tide.html" in shown and not any(name.startswith("/") for name in shown)
    hits = notebook.search("Sihwa Lake tidal plant cost", k=5)
    assert "papers/2024/tide.html" in {h.name for h in hits}
    answer = notebook.ask("How much did the Sihwa Lake tidal plant cost to build?")
    assert all(not c.name.startswith("/") for c in answer.citations) and answer.citations
