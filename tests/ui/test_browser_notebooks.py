"""Notebooks in a real browser (Debian's Chromium via Playwright): the page keeps its state across tabs, reloads and a
server restart; notebooks made and switched; notes written, edited, searched, deleted and added as documents; an
answer saved as a note; exports downloaded with their citations; a notebook file exported and imported."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.test_browser import (  # noqa: F401 -- browser: a fixture
    CHROMIUM,
    ask,
    browser,
    open_page,
    remove_picked,
    status_after,
    upload,
)

APPLES = "# Apples\n\nApples grow on trees in orchards. Farmers pick apples in autumn and press them into cider.\n"
TEA = "# 凍頂烏龍茶\n\n凍頂烏龍茶產於南投鹿谷。茶農在春季和冬季採收茶葉，經過輕發酵與焙火製成。\n"
LIGHTHOUSE = "# Harbor Lighthouse\n\nThe Harbor Lighthouse keeper lights the lamp at six every evening.\n"
QUESTION = "Where do apples grow?"
NAME = "Orchards and tea"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run `make browser` (apt)"),
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """A notebook called NAME, one of several under its data folder, holding the apples and tea documents."""
    from rag import Notebook

    home = tmp_path_factory.mktemp("notebooks-home")
    (home / "docs").mkdir()
    (home / "docs" / "apples.md").write_text(APPLES, encoding="utf-8")
    (home / "docs" / "tea.md").write_text(TEA, encoding="utf-8")
    nb = Notebook.open(NAME, path=home / ".rag", home=home)
    assert nb.index(home / "docs", progress=False).added == 2
    return nb


class Served:
    """The page served on one port, stopped and started again over the same data folder (a restarted server)."""

    def __init__(self, notebook, port: int):
        self.notebook, self.port, self.server = notebook, port, None
        self.url = f"http://127.0.0.1:{port}/"

    def start(self, notebook=None) -> None:
        from ui.app import build_app, start

        self.server = start(build_app(notebook or self.notebook), "127.0.0.1", self.port)

    def restart(self) -> None:
        """A new server process would open the notebook afresh: a new Notebook over the same folder, a new page."""
        from rag import Notebook

        self.server.close()
        nb = self.notebook
        again = Notebook(settings=nb.settings, embedder=nb.embedder, dense_embedder=nb.dense_embedder)
        self.start(again)


@pytest.fixture(scope="module")
def served(notebook, free_port) -> Iterator[Served]:
    served = Served(notebook, free_port())
    served.start()
    yield served
    served.server.close()


@pytest.fixture
def page(browser, served):  # noqa: F811
    page = open_page(browser, served.url, locale="zh-TW")
    yield page
    page.context.close()


def scope_labels(page) -> list[str]:
    return page.locator("#scope label").all_inner_texts()


def wait_for_scope(page, text: str, present: bool = True) -> None:
    page.locator("#scope label", has_text=text).first.wait_for(state="visible" if present else "detached")


def test_an_upload_in_one_tab_is_in_the_other_tabs_lists_after_reload(browser, served, tmp_path):  # noqa: F811
    first, second = open_page(browser, served.url), open_page(browser, served.url)
    try:
        wait_for_scope(second, "Apples")
        assert not any("Harbor Lighthouse" in label for label in scope_labels(second))
        note = tmp_path / "lighthouse.md"
        note.write_text(LIGHTHOUSE, encoding="utf-8")
        status = upload(first, note)
        assert "✓ 新增 1" in status, status
        wait_for_scope(first, "Harbor Lighthouse")
        second.reload()
        second.wait_for_selector("#question textarea:not([disabled])")
        wait_for_scope(second, "Harbor Lighthouse")  # the scope list, read from the notebook at load
        second.click("#remove-pick input")  # and the remove picker
        second.get_by_role("option", name=re.compile("Harbor Lighthouse")).wait_for()
        second.keyboard.press("Escape")
        # The first tab removes it: the second sees it go without a reload (the lists follow the notebook).
        status = remove_picked(first, re.compile("Harbor Lighthouse"))
        assert "已移除" in status, status
        wait_for_scope(second, "Harbor Lighthouse", present=False)
    finally:
        first.context.close()
        second.context.close()


def test_a_chat_survives_a_reload_and_a_server_restart(browser, served, notebook):  # noqa: F811
    context_page = open_page(browser, served.url)
    try:
        expected = notebook.ask(QUESTION)
        reply = ask(context_page, QUESTION)
        assert "orchards" in reply and "[1]" in reply
        # Saved once answered: the past chats list names it.
        context_page.wait_for_function(
            "(q) => (document.querySelector('#chat-pick input')?.value ?? '').includes(q)", arg=QUESTION
        )
        served.restart()
        context_page.reload()
        context_page.wait_for_selector("#question textarea:not([disabled])")
        context_page.locator("#chatbot [data-testid='bot']").first.wait_for()
        assert QUESTION in context_page.locator("#chatbot [data-testid='user']").first.inner_text()
        assert "orchards" in context_page.locator("#chatbot [data-testid='bot']").first.inner_text()
        # Its citations still open their passage: the answer came back with them.
        context_page.locator("#chatbot a.cite", has_text="[1]").first.click()
        mark = context_page.locator("#source-panel mark").first
        mark.wait_for(state="visible")
        assert mark.inner_text().strip() in [c.quote.strip() for c in expected.citations if c.n == 1]
        # A new chat, then the old one picked from the list again.
        context_page.click("#new-chat")
        context_page.wait_for_function("() => !document.querySelector('#chatbot [data-testid=\"bot\"]')")
        context_page.click("#chat-pick input")
        context_page.get_by_role("option", name=re.compile(re.escape(QUESTION))).first.click()
        context_page.locator("#chatbot [data-testid='bot']").first.wait_for()
    finally:
        context_page.context.close()


def test_notebooks_are_made_switched_and_deleted_in_the_page(page, notebook):
    wait_for_scope(page, "Apples")
    page.fill("#nb-name textarea, #nb-name input", "Empty one")
    page.click("#nb-new")
    page.wait_for_function("() => (document.querySelector('#status')?.innerText ?? '').includes('已建立')")
    page.wait_for_function("() => document.querySelector('#notebook-pick input')?.value === 'Empty one'")
    wait_for_scope(page, "Apples", present=False)  # a new notebook starts empty
    assert scope_labels(page) == []
    assert page.locator("#chatbot button", has_text="TPU能否取代GPU?").count() == 0  # no examples about nothing
    reply = ask_plain(page, QUESTION)
    assert "orchards" not in reply and "[1]" not in reply
    # Back to the first notebook: its documents.
    page.click("#notebook-pick input")
    page.get_by_role("option", name=NAME).click()
    wait_for_scope(page, "Apples")
    page.click("#notebook-pick input")
    page.get_by_role("option", name="Empty one").click()
    page.wait_for_function("() => document.querySelector('#nb-name textarea, #nb-name input')?.value === 'Empty one'")
    page.click("#nb-delete")  # the name typed is the notebook's own: deleted
    page.wait_for_function("() => (document.querySelector('#status')?.innerText ?? '').includes('已刪除')")
    wait_for_scope(page, "Apples")
    from rag.notebooks import Notebooks, data_root

    assert [i.name for i in Notebooks(data_root(notebook.path)).list()] == [NAME]


def ask_plain(page, question: str) -> str:
    """Ask and wait for the reply, whether or not it cites passages (a refusal lists none)."""
    answers = page.locator("#chatbot [data-testid='bot']").count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        "([n]) => document.querySelectorAll('#chatbot [data-testid=\"bot\"]').length > n"
        " && !document.querySelector('#chatbot .pending')",
        arg=[answers],
    )
    page.wait_for_timeout(500)  # the last streamed piece
    return page.locator("#chatbot [data-testid='bot']").last.inner_text()


def download(page, button: str) -> str:
    """Click an export button and download the file it makes; its text."""
    return download_file(page, button).read_text(encoding="utf-8")


def download_file(page, button: str, folder: Path | None = None) -> Path:
    """Click an export button and download the file it makes; where it is (in `folder` under its own name)."""
    page.locator("#download").evaluate("e => e.dataset.before = e.innerText")
    page.click(button)
    page.wait_for_function(
        "() => { const d = document.querySelector('#download'); return d?.querySelector('a') && d.innerText !== d.dataset.before; }"
    )
    with page.expect_download() as info:
        page.locator("#download a").first.click()
    if folder is None:
        return Path(info.value.path())
    info.value.save_as(folder / info.value.suggested_filename)
    return folder / info.value.suggested_filename


def test_an_answer_saved_as_a_note_and_the_exports_carry_numbered_citations(page, notebook):
    ask(page, QUESTION)
    page.click("#save-note")
    page.wait_for_function("() => (document.querySelector('#status')?.innerText ?? '').includes('已儲存筆記')")
    page.click("#export")  # open the export accordion
    exported = download(page, "#export-chat")
    body, _, cited = exported.partition("## Citations")
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = dict(re.findall(r"^\[(\d+)\] “(.+?)” — ", cited, flags=re.MULTILINE))
    assert numbers and numbers == {int(n) for n in listed}, (numbers, listed)
    for quote in listed.values():
        assert quote in " ".join(APPLES.split())  # each quote is the document's own text
    assert "## Sources" in cited and "docs/apples.md" in cited
    assert f"**Q:** {QUESTION}" in exported
    notes = download(page, "#export-notes")
    assert QUESTION in notes and "## Citations" in notes
    whole = download(page, "#export-notebook")
    assert whole.startswith(f"# {NAME}") and "## Notes" in whole and "## Chats" in whole


def test_dark_mode_marks_are_readable_and_the_upload_label_leaves_the_drop_text_clear(browser, served):  # noqa: F811
    page = open_page(browser, served.url + "?__theme=dark")
    try:
        ask(page, QUESTION)
        page.locator("#chatbot a.cite", has_text="[1]").first.click()
        mark = page.locator("#source-panel mark").first
        mark.wait_for(state="visible")
        colors = mark.evaluate("m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]")
        assert contrast(*colors) >= 4.5, colors
        label = page.locator("#upload [data-testid='block-label']").first.bounding_box()
        drop = page.evaluate(DROP_TEXT_BOX)
        assert drop, "the upload box says nothing about dropping files"
        apart = (
            label["y"] + label["height"] <= drop["y"] or drop["y"] + drop["height"] <= label["y"]
            or label["x"] + label["width"] <= drop["x"] or drop["x"] + drop["width"] <= label["x"]
        )  # fmt: skip
        assert apart, (label, drop)
        page.click("#settings")  # open the settings accordion
        backend = page.locator("#backend input").input_value()
        assert backend == "摘錄原文（不用 LLM）"
    finally:
        page.context.close()


# Where the upload box's own "drop files here" text is drawn (the text itself, not the box around it).
DROP_TEXT_BOX = """() => {
  const walker = document.createTreeWalker(document.querySelector('#upload'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    if (/拖放|Drop/.test(walker.currentNode.data)) {
      const range = document.createRange();
      range.selectNodeContents(walker.currentNode);
      const r = range.getBoundingClientRect();
      return {x: r.x, y: r.y, width: r.width, height: r.height};
    }
  }
  return null;
}"""


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def luminance(css: str) -> float:
        channels = [int(v) / 255 for v in re.findall(r"\d+", css)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# ---- notes and the notebook file ----------------------------------------------------------------------------
def wait_for_options(page, dropdown: str, present: list[str], absent: list[str] = ()) -> list[str]:
    """Open `dropdown` and wait until it lists each of `present` once and none of `absent` (an event may still be
    redrawing its choices); the options it lists then."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.click(f"{dropdown} input")
    try:
        return page.wait_for_function(
            """([present, absent]) => {
                 const shown = [...document.querySelectorAll('[role=option]')].map(o => o.innerText.replace(/^✓/, '').trim());  // ✓: the picked one
                 return present.every(p => shown.filter(s => s === p).length === 1)
                        && !absent.some(a => shown.includes(a)) && shown; }""",
            arg=[present, list(absent)],
        ).json_value()
    except PlaywrightTimeout as err:  # what it listed instead
        shown = page.get_by_role("option").all_inner_texts()
        raise AssertionError(f"{dropdown} lists {shown}, not {present} without {list(absent)}") from err
    finally:
        page.keyboard.press("Escape")
        page.locator(f"{dropdown} input").blur()  # a later click on it opens the list again


def fill(page, box: str, text: str) -> None:
    page.fill(f"{box} textarea, {box} input", text)


def field(page, box: str) -> str:
    return page.locator(f"{box} textarea, {box} input").first.input_value()


def test_a_note_is_written_edited_searched_and_deleted_in_the_page(page, notebook):
    from rag.notes import Notes

    tag = uuid.uuid4().hex[:6]  # this test's own notes, whatever other tests left in the notebook
    kumquat, lychee = f"Kumquat jam {tag}", f"Lychee tart {tag}"
    page.click("#notes")  # open the notes accordion
    fill(page, "#note-title", kumquat)
    fill(page, "#note-body", "Boil the kumquats whole with rock sugar for an hour.")
    status = status_after(page, lambda: page.click("#note-save"), "已儲存筆記")
    assert f"「{kumquat}」" in status, status
    page.wait_for_function("(t) => document.querySelector('#note-pick input')?.value === t", arg=kumquat)
    wait_for_options(page, "#note-pick", [kumquat])
    # Edited: the same note changes, in the list and in the notebook (no second note).
    edited = f"Kumquat marmalade {tag}"
    fill(page, "#note-title", edited)
    fill(page, "#note-body", "Slice the kumquats thin and boil them with rock sugar for an hour.")
    status = status_after(page, lambda: page.click("#note-save"), "已儲存筆記")
    assert f"「{edited}」" in status, status
    wait_for_options(page, "#note-pick", [edited], absent=[kumquat])
    mine = [n for n in Notes(notebook.path).list() if tag in n.title]
    assert [(n.title, n.body) for n in mine] == [
        (edited, "Slice the kumquats thin and boil them with rock sugar for an hour.")
    ]
    # A second note, written after "+ new note"; then the search box narrows the list, in either Chinese script.
    page.click("#note-new")
    page.wait_for_function("() => document.querySelector('#note-title textarea, #note-title input')?.value === ''")
    fill(page, "#note-title", lychee)
    fill(page, "#note-body", "荔枝塔用新鮮荔枝和奶油做成。")
    status_after(page, lambda: page.click("#note-save"), f"「{lychee}」")
    wait_for_options(page, "#note-pick", [edited, lychee])
    page.click("#note-new")  # the note open in the editor stays listed whatever the search: none open
    page.wait_for_function("() => document.querySelector('#note-title textarea, #note-title input')?.value === ''")
    fill(page, "#note-search", f"kumquats {tag}")  # a word of the body only, and the title's tag
    wait_for_options(page, "#note-pick", [edited], absent=[lychee])
    fill(page, "#note-search", "荔枝 奶油")
    wait_for_options(page, "#note-pick", [lychee], absent=[edited])
    fill(page, "#note-search", "荔枝塔 奶油 kumquat")  # every word must match: none does
    wait_for_options(page, "#note-pick", [], absent=[edited, lychee])
    fill(page, "#note-search", "")
    wait_for_options(page, "#note-pick", [edited, lychee])
    # Picked (with the keyboard: typed, then Enter), it opens in the editor; deleted, it leaves the list and the notebook.
    page.click("#note-pick input")
    page.keyboard.type("Kumquat marm")
    page.get_by_role("option", name=edited).wait_for()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(t) => document.querySelector('#note-title textarea, #note-title input')?.value === t", arg=edited
    )
    assert "Slice the kumquats" in field(page, "#note-body")
    status_after(page, lambda: page.click("#note-delete"), "已刪除筆記")
    wait_for_options(page, "#note-pick", [lychee], absent=[edited])
    assert [n.title for n in Notes(notebook.path).list() if tag in n.title] == [lychee]
    assert field(page, "#note-title") == "" and field(page, "#note-body") == ""


def test_a_picker_opened_and_left_without_a_pick_keeps_the_chat_and_the_note_being_written(page):
    ask(page, QUESTION)
    page.wait_for_function("(q) => (document.querySelector('#chat-pick input')?.value ?? '').includes(q)", arg=QUESTION)
    page.click("#notes")  # open the notes accordion
    fill(page, "#note-title", "Unsaved thoughts")
    fill(page, "#note-body", "Orchards need bees in spring.")
    for picker in ("#note-pick", "#chat-pick", "#notebook-pick"):
        page.click(f"{picker} input")
        page.click("#title")  # looked at the list, picked nothing (Gradio sends the picker's input event on leaving)
    page.click("#note-body textarea")
    # Those events are done once none of their outputs shows Gradio's progress overlay.
    page.wait_for_function(
        """() => !['#note-title', '#note-body', '#chatbot', '#notebook-pick', '#chat-pick', '#note-pick', '#scope']
                   .some(box => [...document.querySelectorAll(`${box} [data-testid="status-tracker"]`)]
                                .some(t => t.innerText.trim()))"""
    )
    assert field(page, "#note-title") == "Unsaved thoughts"
    assert field(page, "#note-body") == "Orchards need bees in spring."
    assert page.locator("#chatbot [data-testid='bot']").count() == 1
    assert QUESTION in page.locator("#chat-pick input").input_value()


def test_a_note_added_as_a_document_is_indexed_and_answers_with_its_citation(page):
    tag = uuid.uuid4().hex[:6]  # a bakery no other document or test knows
    title, question = f"Moonrise Bakery {tag}", "What does the Moonrise Bakery bake?"
    reply = ask_plain(page, question)
    assert "saffron" not in reply  # not in the notebook yet
    page.click("#notes")  # open the notes accordion
    fill(page, "#note-title", title)
    fill(page, "#note-body", f"The Moonrise Bakery {tag} bakes saffron buns every Thursday morning.")
    status_after(page, lambda: page.click("#note-save"), f"「{title}」")
    page.wait_for_function("(t) => document.querySelector('#note-pick input')?.value === t", arg=title)
    # Indexed in the background like an upload: the page's timer reports it, and it joins the documents.
    status = status_after(page, lambda: page.click("#note-source"), "✓ 新增 1")
    assert "✗" not in status, status
    wait_for_scope(page, title)
    reply = ask(page, question)
    assert "saffron buns" in reply and "[1]" in reply, reply
    assert re.search(r"notes/[0-9a-f-]+\.md", page.inner_text("#passages"))
    page.locator("#chatbot [data-testid='bot']").last.locator("a.cite", has_text="[1]").first.click()
    page.wait_for_function(
        "() => (document.querySelector('#source-panel mark')?.innerText ?? '').includes('saffron buns')"
    )
    assert title in page.inner_text("#source-panel")


def test_a_notebook_exported_as_one_file_is_imported_switched_to_and_holds_its_sources_notes_and_chats(
    page, notebook, tmp_path
):
    from rag.notebooks import Notebooks, data_root

    question = "凍頂烏龍茶產於哪裡?"
    expected = notebook.ask(question)
    quotes = [c.quote.strip() for c in expected.citations if c.n == 1]
    assert quotes and all(c.title == "凍頂烏龍茶" for c in expected.citations if c.n == 1)
    reply = ask(page, question)  # a chat, saved once answered
    assert "南投" in reply and "[1]" in reply, reply
    page.wait_for_function("(q) => (document.querySelector('#chat-pick input')?.value ?? '').includes(q)", arg=question)
    status_after(page, lambda: page.click("#save-note"), "已儲存筆記")  # and the answer as a note
    titles = sorted(s["title"] for s in notebook.sources())  # what the file carries
    page.click("#export")  # open the export accordion
    file = download_file(page, "#export-file", tmp_path)
    assert file.name.endswith(".notebook.zip"), file.name

    names = [i.name for i in Notebooks(data_root(notebook.path)).list()]
    status = status_after(
        page, lambda: page.set_input_files("#nb-import input[type=file]", str(file)), "已匯入|✗|not a notebook"
    )
    imported = re.search(r"已匯入「(.+)」", status)
    assert imported, status
    name = imported.group(1)
    assert name.startswith(f"{NAME} (") and name not in names  # a new notebook beside the exported one
    # Switched to: the picker lists and shows it, the name box holds its name, its documents are the file's.
    page.wait_for_function("(n) => document.querySelector('#notebook-pick input')?.value === n", arg=name)
    wait_for_options(page, "#notebook-pick", [NAME, name])
    assert field(page, "#nb-name") == name
    page.wait_for_function(
        """(titles) => JSON.stringify([...document.querySelectorAll('#scope label')]
                         .map(l => l.innerText.split(' · ')[0].trim()).sort()) === JSON.stringify(titles)""",
        arg=titles,
    )
    page.click("#notes")  # its notes: the saved answer
    wait_for_options(page, "#note-pick", [question])
    # Its chats: the one asked above, whose [1] opens the quote in the imported copy of the document.
    page.click("#chat-pick input")
    page.get_by_role("option", name=re.compile(re.escape(question))).first.click()
    page.locator("#chatbot [data-testid='bot']").first.wait_for()
    page.locator("#chatbot [data-testid='bot']").first.locator("a.cite", has_text="[1]").first.click()
    page.wait_for_function(
        "(quotes) => quotes.includes((document.querySelector('#source-panel mark')?.innerText ?? '').trim())",
        arg=quotes,
    )
    # Asked again in the imported notebook: answered from the same document and sentence.
    page.click("#new-chat")
    page.wait_for_function("() => !document.querySelector('#chatbot [data-testid=\"bot\"]')")
    reply = ask(page, question)
    assert "南投" in reply and "[1]" in reply, reply
    page.locator("#chatbot a.cite", has_text="[1]").first.click()
    page.wait_for_function(
        "(quotes) => quotes.includes((document.querySelector('#source-panel mark')?.innerText ?? '').trim())",
        arg=quotes,
    )
    assert "凍頂烏龍茶" in page.inner_text("#source-panel")
    # Deleted again (its name is in the name box): the notebook beside it is left as it was.
    status_after(page, lambda: page.click("#nb-delete"), "已刪除")
    assert [i.name for i in Notebooks(data_root(notebook.path)).list()] == names
