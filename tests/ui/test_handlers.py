"""The page's event handlers called directly on a real tiny notebook (no app, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui import handlers
from ui.labels import labels
from ui.session import Turn

CAFE = "藍鯨咖啡館\n\n藍鯨咖啡館的招牌飲料是桂花烏龍拿鐵，每杯售價一百二十元。\n老闆說這款拿鐵每天只賣五十杯。\n"
DRAM = "DRAM cycles\n\nDRAM is a cyclical business. The gross margin is negative at the bottom of the cycle.\n"
QUESTION = "藍鯨咖啡館的招牌飲料是什麼?"


def no_progress(*args, **kwargs) -> None:
    """Stands in for gr.Progress outside a running app."""


@pytest.fixture(scope="module")
def notebook(notebook_at, tmp_path_factory):
    """Two tiny documents in their own home; the run's loaded models are shared, not loaded again."""
    home = tmp_path_factory.mktemp("handlers-home")
    (home / "docs").mkdir()
    for name, text in {"cafe.txt": CAFE, "dram.txt": DRAM}.items():
        (home / "docs" / name).write_text(text, encoding="utf-8")
    nb = notebook_at(home, seeds=home / "docs")
    assert nb.index(home / "docs", progress=False).added == 2
    return nb


def finished_status(notebook):
    """What the page's timer shows once the background indexing is done."""
    assert notebook.background.wait(timeout=120)
    return handlers.indexing_status(notebook, [], "en", seen(notebook))[:3]


def seen(notebook) -> int:
    """How many finished jobs a page that opened before the last one would have shown."""
    return notebook.background.finished_since(0)[1] - 1


def answer(notebook, question: str, mode: str = "answer", backend: str = "extractive", k="5", history=None):
    """The last yield of `respond` for a question typed into the chat."""
    _, chat, _ = handlers.add_question(question, history or [])
    *_, last = handlers.respond(notebook, chat, [], mode, [], k, False, backend, "", "", "zh-Hant")
    return last


def test_an_answer_streams_into_the_chat_with_its_passages_and_citation(notebook):
    chat, turns, passages, _ = answer(notebook, QUESTION)
    assert chat[-1]["role"] == "assistant" and "桂花烏龍拿鐵" in chat[-1]["content"] and "[1]" in chat[-1]["content"]
    assert len(turns) == 1 and turns[0].answer is not None and "passage" in passages
    html = handlers.show_citation(notebook, "cite:0:1", turns, "zh-Hant")
    assert "<mark>" in html and "docs/cafe.txt" in html
    missing = handlers.show_citation(notebook, "cite:5:1", turns, "zh-Hant")
    assert labels("zh-Hant")["cite_missing"] in missing


def test_search_mode_lists_passages_without_an_answer(notebook):
    chat, turns, _, _ = answer(notebook, "DRAM gross margin", mode="search", k="2")
    assert chat[-1]["content"] == labels("zh-Hant")["found"].format(n=2)
    assert turns[0].answer is None and len(turns[0].hits) == 2
    assert "docs/dram.txt" in handlers.show_citation(notebook, "hit:0:0", turns, "zh-Hant")


def test_an_unknown_backend_and_an_unexpected_error_are_one_line_in_the_chat(notebook):
    chat, *_ = answer(notebook, QUESTION, backend="no-such-backend")
    assert chat[-1]["content"] == labels("zh-Hant")["no_backend"].format(backend="no-such-backend")
    chat, turns, *_ = answer(notebook, QUESTION, k="many")  # int("many") fails inside the handler
    assert "ValueError: invalid literal for int()" in chat[-1]["content"] and turns == [Turn()]


def test_upload_indexes_the_file_into_home_uploads_and_remove_deletes_it(notebook, tmp_path):
    note = tmp_path / "notes.md"
    note.write_text("# Notes\n\nThe Bluewhale roastery opens at seven in the morning.\n", encoding="utf-8")
    bad = tmp_path / "setup.exe"
    bad.write_bytes(b"MZ")
    status, _, _, box = handlers.upload(notebook, [str(note), str(bad)], [], "en", no_progress)
    assert status.startswith("⏳") and "notes.md" in status and "setup.exe" in status and box is None
    status, scope, _ = finished_status(notebook)
    assert status.startswith("✓ Added 1")
    saved = notebook.home / "uploads" / "notes.md"
    assert saved.is_file() and "uploads/notes.md" in {value for _, value in scope["choices"]}
    status, scope, _ = handlers.remove(notebook, "uploads/notes.md", ["uploads/notes.md"], "en")
    assert status.startswith("Removed Notes (uploads/notes.md).") and labels("en")["removed_file"] in status
    assert not saved.exists() and scope["value"] == []
    assert "uploads/notes.md" not in {s["source"] for s in notebook.sources()}
    assert notebook.chunk_index.in_step()


def test_removing_a_document_outside_the_ui_folders_keeps_its_file(notebook):
    other = notebook.home / "notes" / "hbm.txt"  # not in uploads/ or seeds/: the UI must not delete it
    other.parent.mkdir()
    other.write_text("HBM is stacked DRAM next to the GPU.\n", encoding="utf-8")
    notebook.index(other, progress=False)
    status, *_ = handlers.remove(notebook, "notes/hbm.txt", [], "en")
    assert labels("en")["removed_index"] in status and other.is_file()
    assert {s["source"] for s in notebook.sources()} == {"docs/cafe.txt", "docs/dram.txt"}
    status, *_ = handlers.remove(notebook, "docs/dram.txt", [], "en")  # seeds here = docs/: its file goes
    assert labels("en")["removed_file"] in status and not (notebook.home / "docs" / "dram.txt").exists()
    (notebook.home / "docs" / "dram.txt").write_text(DRAM, encoding="utf-8")
    status, *_ = handlers.reindex(notebook, [], "en", no_progress)
    assert status.startswith("⏳") and "docs/" in status
    status, *_ = finished_status(notebook)
    assert status.startswith("✓ Added 1, updated 0, removed 0, unchanged 1 files")
    assert {s["source"] for s in notebook.sources()} == {"docs/cafe.txt", "docs/dram.txt"}


def test_a_refresh_keeps_what_the_page_ticked_and_picked_unless_its_document_is_gone(notebook):
    # A timer's refresh that carried values would undo a pick made while it was on its way (pick, then remove).
    scope, remove = handlers.refreshed_sources(notebook, ["docs/cafe.txt"], "docs/dram.txt")
    assert {value for _, value in scope["choices"]} >= {"docs/cafe.txt", "docs/dram.txt"}
    assert "value" not in scope and "value" not in remove and remove["choices"] == scope["choices"]
    scope, remove = handlers.refreshed_sources(notebook, ["docs/cafe.txt", "docs/gone.txt"], "docs/gone.txt")
    assert scope["value"] == ["docs/cafe.txt"] and remove["value"] is None


def test_relabel_updates_every_named_component_and_only_an_empty_source_panel():
    from ui import render

    empty_zh = render.message_html(labels("zh-Hant")["source_empty"])
    updates = handlers.relabel("en", empty_zh)
    assert len(updates) == len(handlers.RELABEL) + 1
    assert updates[list(handlers.RELABEL).index("title")]["value"] == labels("en")["title"]
    assert updates[-1]["value"] == render.message_html(labels("en")["source_empty"])
    assert handlers.relabel("en", "<div>an open document</div>")[-1] == handlers.gr.skip()


def test_error_line_keeps_the_message():
    assert handlers.error_line(ValueError("bad k\nmore detail")) == "ValueError: bad k"
    assert handlers.error_line(KeyError()) == "KeyError"
    assert Path(handlers.__file__).with_name("static").joinpath("citations.js").is_file()


def test_questions_are_answered_while_an_upload_is_indexed_and_its_document_shows_when_in(notebook, tmp_path):
    big = tmp_path / "plankton.md"
    big.write_text(
        "# Plankton\n\n"
        + "\n\n".join(f"Plankton survey {i}: the krill count rose in the cold current. " * 6 for i in range(40)),
        encoding="utf-8",
    )
    indexer = notebook.background
    status, *_ = handlers.upload(notebook, [str(big)], [], "en")
    assert status.startswith("⏳") and indexer.busy()
    chat, *_ = answer(notebook, QUESTION)  # answered from the committed index, not after the upload
    assert "桂花烏龍拿鐵" in chat[-1]["content"] and indexer.busy()
    assert "uploads/plankton.md" not in {s["source"] for s in notebook.sources()}  # not until all its chunks are in
    shown, scope, _, _ = handlers.indexing_status(notebook, [], "en", notebook.background.finished_since(0)[1])
    assert shown.startswith("⏳ Indexing plankton.md") and scope == handlers.gr.skip()
    status, scope, _ = finished_status(notebook)
    assert status.startswith("✓ Added 1") and "uploads/plankton.md" in {value for _, value in scope["choices"]}
    assert notebook.search("krill count in the cold current", k=1)[0].source == "uploads/plankton.md"
    done = notebook.background.finished_since(0)[1]
    assert handlers.indexing_status(notebook, [], "en", done) == (handlers.gr.skip(),) * 4  # nothing new


def _scan(folder: Path, name: str, lines: list[str]) -> Path:
    """A TIFF with one line of text a page: a small scan, each page OCR'd on its own."""
    from tests.ingest.readers.builders import image_bytes, text_image

    pages = [text_image([(20, 20, line)], (460, 80), 28) for line in lines]
    file = folder / name
    file.write_bytes(image_bytes(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    return file


OCR_LINES = (
    "⏳ OCR 辨識 {name}：{done}/{total} 頁",
    "⏳ OCR 识别 {name}：{done}/{total} 页",
    "⏳ OCR of {name}: {done}/{total} pages read",
)


def test_a_scans_pages_show_on_the_page_as_they_are_ocrd_at_upload_and_while_indexing(notebook_at, tmp_path):
    """The page's timer line, read each time a page is OCR'd (the per-page signal that drives the shell's bar), in
    the three languages: during an upload's readability check, then for a scan indexed by a background job."""
    nb = notebook_at(tmp_path, cache_dir=tmp_path / "cache")  # its own OCR cache: these pages are read, not cached
    indexer, shown = nb.background, []
    told = indexer.ocr_page

    def watch(name: str, done: int, total: int) -> None:  # the real method, then what the page's timer shows
        told(name, done, total)
        count = indexer.finished_since(0)[1]
        shown.append(tuple(handlers.indexing_status(nb, [], lang, count)[0] for lang in ("zh-Hant", "zh-Hans", "en")))

    def lines(name: str, total: int) -> list[tuple[str, ...]]:
        return [tuple(f.format(name=name, done=d, total=total) for f in OCR_LINES) for d in range(total)]

    indexer.ocr_page = watch
    scan = _scan(tmp_path, "潮汐 scan.tif", ["Harbour tides 2024", "潮汐表第二頁", "Third page of tides"])
    status, *_ = handlers.upload(nb, [str(scan)], [], "zh-Hant")
    assert status.startswith("⏳") and "潮汐 scan.tif" in status
    assert shown[:3] == lines("潮汐 scan.tif", 3)  # 0, 1 and 2 of 3 pages read, under the upload's own name
    assert shown[3:] == [(handlers.gr.skip(),) * 3] * 2  # the last page, then the end of the check: no OCR line
    assert indexer.wait(timeout=120)
    assert len(shown) == 5  # the job found the pages the check read in the cache: none read again
    assert "uploads/潮汐 scan.tif" in {s["source"] for s in nb.sources()}

    shown.clear()
    nb.index_in_background([_scan(tmp_path, "ledger.tif", ["Ledger page one", "帳簿第二頁"])], "ledger.tif")
    assert indexer.wait(timeout=120)
    assert shown[:2] == lines("ledger.tif", 2)
    assert len(shown) == 3 and shown[2][2].startswith("⏳ Indexing ledger.tif:")  # read: the job's chunks again
    assert indexer.reading() is None and "ledger.tif" in {s["source"] for s in nb.sources()}
