"""Extracted texts kept at index time: a citation is shown from them (the file is not read again), and they leave
with their source."""

from __future__ import annotations

import gzip

import pytest

from rag.index.extracted import ExtractedTexts, StoredText, extracted_text

DOC = "# Ironwood\n\nIronwood 是 Google 第七代 TPU 晶片,專為推論設計。\n\n## Memory\n\nEach chip has 192 GB of HBM.\n"


def test_the_text_is_kept_when_indexed_shown_from_there_and_removed_with_the_source(notebook_at, tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ironwood.md").write_text(DOC, encoding="utf-8")
    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    nb.index(tmp_path / "docs", progress=False)
    kept = extracted_text(tmp_path / ".rag", "docs/ironwood.md")
    assert kept is not None and kept.text.startswith(DOC.rstrip("\n")) and kept.title == "Ironwood"

    # A citation click renders from the kept text: the reader is not called, and the file may even be gone.
    import ingest.loaders
    import ui.render

    def never(*args, **kwargs):
        raise AssertionError("the document was read again")

    monkeypatch.setattr(ingest.loaders, "load_document", never)
    hit = nb.search("HBM memory per chip", k=1)[0]
    page = ui.render.source_html(
        nb.source_file(hit.source),
        hit.source,
        hit.title,
        [ui.render.Span(hit.start, hit.end, hit.text)],
        section=hit.section,
        read=lambda: nb.document(hit.source),
    )
    assert "<mark>" in page and "192 GB" in page

    # Changed: kept again from the new bytes; removed: gone.
    (tmp_path / "docs" / "ironwood.md").write_text(DOC + "\nNew paragraph about Trillium.\n", encoding="utf-8")
    nb.index(tmp_path / "docs", progress=False)
    assert "Trillium" in extracted_text(tmp_path / ".rag", "docs/ironwood.md").text
    (tmp_path / "docs" / "ironwood.md").unlink()
    assert nb.index(tmp_path / "docs", progress=False).removed == 1
    assert extracted_text(tmp_path / ".rag", "docs/ironwood.md") is None
    assert not list((tmp_path / ".rag" / "extracted").iterdir())


def test_a_notebook_indexed_before_texts_were_kept_keeps_them_on_its_next_run(notebook_at, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ironwood.md").write_text(DOC, encoding="utf-8")
    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    nb.index(tmp_path / "docs", progress=False)
    nb.chunk_index.extracted.remove("docs/ironwood.md")
    report = nb.index(tmp_path / "docs", progress=False)
    assert report.unchanged == 1 and extracted_text(tmp_path / ".rag", "docs/ironwood.md") is not None


@pytest.mark.parametrize("damage", [b"", b"not gzip", gzip.compress(b"[1, 2]"), gzip.compress(b'{"source": "other"}')])
def test_a_damaged_kept_text_reads_as_none(tmp_path, damage):
    texts = ExtractedTexts(tmp_path)
    texts.save(StoredText("a.md", "0" * 64, "text"))
    assert texts.has("a.md", "0" * 64) and not texts.has("a.md", "1" * 64) and texts.load("a.md").text == "text"
    texts._file("a.md").write_bytes(damage)
    assert texts.load("a.md") is None and not texts.has("a.md", "0" * 64)
