"""The UI's parts without a browser: labels, upload names and checks, the source panel, per-request settings."""

from __future__ import annotations

from functools import partial

import pytest

from ingest.loaders import load_document
from rag.types import Answer, Citation
from ui.labels import LABELS, pick_language
from ui.render import Span, passages_html, source_html
from ui.uploads import MAX_UPLOAD_BYTES, UploadError, safe_name, save_upload


def test_every_language_has_every_label():
    keys = set(LABELS["en"])
    assert all(set(strings) == keys for strings in LABELS.values())


@pytest.mark.parametrize(
    "tag, expected",
    [("zh-TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("zh-Hant-TW", "zh-Hant"), ("zh-CN", "zh-Hans"), ("zh", "zh-Hans"),
     ("zh_SG", "zh-Hans"), ("en-US", "en"), ("fr", "en"), ("", "zh-Hant")],
)  # fmt: skip
def test_browser_language_picks_the_ui_language(tag, expected):
    assert pick_language(tag) == expected


@pytest.mark.parametrize(
    "name, safe",
    [("筆記.txt", "筆記.txt"), ("Report 2024.MD", "Report 2024.md"), ("../../etc/passwd.txt", "passwd.txt"),
     ("C:\\Users\\me\\會議紀錄.md", "會議紀錄.md"), ("a<b>|c?.txt", "a_b_c.txt"), ("簡報（草稿）.txt", "簡報_草稿.txt")],
)  # fmt: skip
def test_upload_names_are_sanitised(name, safe):
    assert safe_name(name) == safe


@pytest.mark.parametrize(
    "name, key",
    [(".env.md", "bad_name"), ("../.hidden.txt", "bad_name"), ("???.txt", "bad_name"), ("setup.exe", "bad_type"),
     ("notes", "bad_type"), ("slides.pptx", "bad_type"), ("x.txt.exe", "bad_type")],
)  # fmt: skip
def test_bad_upload_names_are_refused(name, key):
    with pytest.raises(UploadError) as err:
        safe_name(name)
    assert err.value.key == key


def test_uploads_are_checked_before_they_replace_a_file(tmp_path):
    folder = tmp_path / "uploads"
    good = tmp_path / "in" / "筆記.txt"
    good.parent.mkdir()
    good.write_text("第一版的內容。", encoding="utf-8")
    saved = save_upload(good, folder, None, load_document)
    assert saved == (folder / "筆記.txt").resolve() and saved.read_text(encoding="utf-8") == "第一版的內容。"
    good.write_bytes(bytes(range(256)) * 8)  # binary under the same name: refused, the saved file stays
    with pytest.raises(UploadError) as err:
        save_upload(good, folder, None, load_document)
    assert err.value.key == "unreadable"
    assert saved.read_text(encoding="utf-8") == "第一版的內容。"
    assert sorted(p.name for p in folder.iterdir()) == ["筆記.txt"]
    big = tmp_path / "in" / "big.txt"
    big.write_bytes(b"a" * (MAX_UPLOAD_BYTES + 1))
    with pytest.raises(UploadError) as err:
        save_upload(big, folder, None, load_document)
    assert err.value.key == "too_big"


def test_source_panel_marks_the_passage_in_its_document(tmp_path):
    doc = tmp_path / "doc.md"
    text = "# 標題\n\n" + "前文。" * 800 + "\n這是被引用的句子。\n" + "後文。" * 800
    doc.write_text(text, encoding="utf-8")
    start = text.index("這是被引用的句子。")
    html = source_html(
        doc,
        "doc.md",
        "標題",
        [Span(start, start + 9, "這是被引用的句子。")],
        "2024-01-02",
        lang="zh-Hant",
        read=partial(load_document, doc),
    )
    assert "<mark>這是被引用的句子。</mark>" in html
    assert "doc.md" in html and "2024-01-02" in html and "<h4>標題</h4>" in html
    assert html.count("前文。") < 800 and "…" in html  # a window around the passage, not the whole file

    doc.write_text("新增一行。\n" + text, encoding="utf-8")  # offsets moved: found by its text
    assert "<mark>這是被引用的句子。</mark>" in source_html(
        doc, "doc.md", "標題", [Span(start, start + 9, "這是被引用的句子。")], read=partial(load_document, doc)
    )

    doc.unlink()  # gone: the indexed passage itself, with a note
    html = source_html(
        doc,
        "doc.md",
        "標題",
        [Span(start, start + 9, "這是被引用的句子。")],
        lang="en",
        read=partial(load_document, doc),
    )
    assert "<mark>這是被引用的句子。</mark>" in html and "no longer on disk" in html


def test_source_panel_shows_the_cited_pdf_page_with_the_quote_marked(tmp_path):
    from tests.ingest.readers.builders import pdf_bytes

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(
        pdf_bytes(
            [
                ["第一頁的內容。"] * 20,
                ["日月潭水庫的有效容量約為一億立方公尺。", "第二頁其他內容。"],
                ["第三頁的內容。"] * 20,
            ]
        )
    )
    text = load_document(pdf).text
    start = text.index("日月潭水庫")
    quote = "日月潭水庫的有效容量約為一億立方公尺。"
    html = source_html(
        pdf,
        "docs/report.pdf",
        "電力報告",
        [Span(start, start + len(quote), quote)],
        page=2,
        read=partial(load_document, pdf),
    )
    assert f"<mark>{quote}</mark>" in html and "p. 2" in html and "docs/report.pdf" in html
    assert "第二頁其他內容。" in html and "第一頁" not in html and "第三頁" not in html  # the cited page only
    answer = Answer(
        text=quote, refused=False, citations=[Citation(1, "c", "docs/report.pdf", "電力報告", quote, page=2)]
    )
    assert "p. 2" in passages_html(answer)


def test_source_panel_shows_the_cited_section_of_a_docx(tmp_path):
    from tests.ingest.readers.builders import docx_bytes

    notes = tmp_path / "notes.docx"
    notes.write_bytes(
        docx_bytes([("h1", "风电"), ("p", "风电段落。"), ("h1", "光伏"), ("p", "青海塔拉滩光伏园区占地六百平方公里。")])
    )
    text = load_document(notes).text
    quote = "青海塔拉滩光伏园区占地六百平方公里。"
    start = text.index(quote)
    html = source_html(
        notes,
        "notes.docx",
        "笔记",
        [Span(start, start + len(quote), quote)],
        section="光伏",
        read=partial(load_document, notes),
    )
    assert f"<mark>{quote}</mark>" in html and "风电段落" not in html and "光伏" in html


def test_per_request_settings_leave_the_notebook_alone(seeds_notebook):
    from ui import session

    before = seeds_notebook.settings.k
    assert len(session.search(seeds_notebook, "TPU能否取代GPU?", 2)) == 2
    view = session.answering_view(seeds_notebook, 2)
    assert view.settings.k == 2 and seeds_notebook.settings.k == before
    assert view.chunk_index is seeds_notebook.chunk_index and view.answerer is seeds_notebook.answerer
    assert session.answering_view(seeds_notebook, before) is seeds_notebook  # nothing asked differs
    assert session.scope(seeds_notebook, []) is None
    every = [s["source"] for s in seeds_notebook.sources()]
    assert session.scope(seeds_notebook, every) is None
    assert session.scope(seeds_notebook, every[:1] + ["not/indexed.txt"]) == every[:1]
    with pytest.raises(session.BackendUnavailable):
        list(session.ask_events(seeds_notebook, "TPU能否取代GPU?", backend="no-such-backend"))


def test_the_passages_panel_shows_the_rewritten_query_and_strikes_unsupported_claims():
    answer = Answer(
        text="The documents do not say.",
        refused=False,
        rewritten_query="What does TPU <v7> cost?",
        unsupported=["TPU costs 87% less <b>than</b> GPUs."],
    )
    panel = passages_html(answer, 0, lang="en")
    assert "Searched as (rewritten with the conversation): What does TPU &lt;v7&gt; cost?" in panel
    assert "<del>⚠ TPU costs 87% less &lt;b&gt;than&lt;/b&gt; GPUs.</del>" in panel  # escaped, struck, flagged
    assert "No passages cited." in panel
    assert passages_html(Answer(text="x", refused=False), 0) == "<p class='meta'>No passages cited.</p>"


def test_a_second_upload_of_a_name_is_kept_beside_the_first(tmp_path):
    folder = tmp_path / "uploads"
    sent = tmp_path / "in" / "筆記.txt"
    sent.parent.mkdir()
    sent.write_text("第一版的內容。", encoding="utf-8")
    first = save_upload(sent, folder, None, load_document)
    assert save_upload(sent, folder, None, load_document) == first  # the same content again is the same file
    sent.write_text("第二版的內容。", encoding="utf-8")
    second = save_upload(sent, folder, None, load_document)
    sent.write_text("第三版的內容。", encoding="utf-8")
    third = save_upload(sent, folder, None, load_document)
    assert [p.name for p in (first, second, third)] == ["筆記.txt", "筆記 (2).txt", "筆記 (3).txt"]
    assert [p.read_text(encoding="utf-8") for p in (first, second, third)] == [
        "第一版的內容。",
        "第二版的內容。",
        "第三版的內容。",
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["筆記 (2).txt", "筆記 (3).txt", "筆記.txt"]  # no staging left
