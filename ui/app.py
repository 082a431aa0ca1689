"""Gradio notebook page: layout and wiring of chat, clickable citations, sources, uploads, settings and labels."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.offline import go_offline

go_offline()

import gradio as gr

from rag import Notebook
from rag.types import accumulate
from ui import actions, render
from ui.actions import DEFAULT_BACKEND, ENDPOINT_FIELD, MODEL_FIELD, BackendUnavailable, Turn
from ui.labels import DEFAULT_LANGUAGE, LANGUAGES, labels, pick_language
from ui.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, UploadError, original_name, save_upload

log = logging.getLogger(__name__)

EXAMPLES = ["TPU能否取代GPU?", "亞馬遜機房裡最多的CPU是哪種?", "how profitable is the DRAM business over a cycle?"]
# System fonts only: the default theme pulls web fonts from a CDN, which an offline laptop cannot reach.
THEME = gr.themes.Soft(font=["system-ui", "Noto Sans CJK TC", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
.passage {border-left: 3px solid #6366f1; padding: 4px 10px; margin: 8px 0;}
.passage mark, .source-doc mark {background: #fde68a; padding: 0 1px;}
.passage .meta, .source-doc .meta, p.meta {color: #6b7280; font-size: 0.85em;}
.passage .cite {font-size: 0.85em; margin-left: 6px;}
.unsupported {border-left: 3px solid #dc2626; background: #fef2f2; padding: 4px 10px; margin: 8px 0; color: #991b1b;}
.unsupported ul {margin: 4px 0 0 0; padding-left: 18px;}
a.cite {color: #4f46e5; text-decoration: none; cursor: pointer; font-weight: 600;}
a.cite:hover {text-decoration: underline;}
.source-doc h4 {margin: 0 0 4px 0;}
.source-doc .note {color: #b45309; font-size: 0.85em;}
.doc-text {white-space: pre-wrap; max-height: 430px; overflow-y: auto; position: relative; font-size: 0.9em;
  line-height: 1.6; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 10px; margin-top: 6px;}
#passages {max-height: 300px; overflow-y: auto;}
#scope [data-testid="checkbox-group"] {max-height: 230px; overflow-y: auto; flex-direction: column; flex-wrap: nowrap;
  gap: 4px;}
#scope label {font-size: 0.85em; padding: 4px 8px;}
#title h2 {margin: 4px 0;}
#status p {margin: 2px 0;}
"""
# Runs once in the page: turns "[n]" in answers into links, and a click on a link opens it in the source panel.
# Answers stay plain text (so the copy button copies "[1]", not HTML); the links are added in the page only.
SCRIPT = """
() => {
  const ONE = /\\[(\\d{1,3})\\]/;
  const ALL = /\\[(\\d{1,3})\\]/g;
  const linkify = () => {
    document.querySelectorAll('#chatbot [data-testid="bot"]').forEach((message, turn) => {
      const walker = document.createTreeWalker(message, NodeFilter.SHOW_TEXT);
      const found = [];
      while (walker.nextNode()) {
        const node = walker.currentNode;
        if (ONE.test(node.data) && !node.parentElement.closest('a, code, pre')) found.push(node);
      }
      for (const node of found) {
        const parts = document.createDocumentFragment();
        let last = 0;
        for (const m of node.data.matchAll(ALL)) {
          parts.append(node.data.slice(last, m.index));
          const link = document.createElement('a');
          link.className = 'cite';
          link.href = '#cite:' + turn + ':' + m[1];
          link.textContent = m[0];
          parts.append(link);
          last = m.index + m[0].length;
        }
        parts.append(node.data.slice(last));
        node.replaceWith(parts);
      }
    });
  };
  let queued = false;
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; linkify(); }); }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    window.__citeKey = decodeURIComponent(link.getAttribute('href').slice(1));
    document.querySelector('#cite-go')?.click();
  }, true);
}
"""
# After the source panel changes: scroll its first <mark> into the middle of the document box.
SCROLL_TO_MARK = """
() => {
  let tries = 0;
  const go = () => {
    const mark = document.querySelector('#source-panel mark');
    const box = mark && mark.closest('.doc-text');
    if (!box) { if (++tries < 20) setTimeout(go, 100); return; }
    box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
    document.querySelector('#source-panel').scrollIntoView({block: 'nearest'});
  };
  setTimeout(go, 50);
}
"""
NOTEBOOK_LOCK = "notebook"  # events that read or change the index run one at a time


def message_text(message: dict) -> str:
    """The text of a chat message, whichever content form Gradio hands over."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def plain_history(history: list[dict] | None) -> list[dict]:
    """The chat as role/text messages."""
    return [{"role": m["role"], "content": message_text(m)} for m in history or []]


def source_choices(notebook: Notebook) -> list[tuple[str, str]]:
    """(label, source) for each indexed document: its title and file name."""
    out = []
    for s in notebook.sources():
        title = s["title"] if len(s["title"]) <= 48 else s["title"][:47] + "…"
        out.append((f"{title} · {Path(s['source']).name}", s["source"]))
    return out


def build_app(notebook: Notebook) -> gr.Blocks:
    """The notebook page for one notebook (launch it with `launch_options()`)."""
    L0 = labels(DEFAULT_LANGUAGE)

    # ---- handlers -------------------------------------------------------------------------------------------
    def add_question(question: str, history: list[dict]) -> tuple[Any, ...]:
        history = plain_history(history)
        if question and question.strip():
            history.append({"role": "user", "content": question.strip()})
            return "", history, ""
        return question, history, gr.skip()

    def pick_example(history: list[dict], evt: gr.SelectData) -> tuple[list[dict], str]:
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value)
        return plain_history(history) + [{"role": "user", "content": text}], ""

    def respond(
        history: list[dict],
        turns: list[Turn],
        mode: str,
        selected: list[str],
        k: int,
        show_scores: bool,
        backend: str,
        model: str,
        endpoint: str,
        lang: str,
    ) -> Iterator[tuple[Any, ...]]:
        L = labels(lang)
        history = plain_history(history)
        if not history or history[-1]["role"] != "user":
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        question = history[-1]["content"]
        turn = sum(1 for m in history if m["role"] == "assistant")  # this answer's place among the answers
        turns = (list(turns or []) + [Turn()] * turn)[:turn]
        history.append({"role": "assistant", "content": ""})
        try:
            sources = actions.scope(notebook, selected)
            if mode == "search":
                hits = actions.search(notebook, question, int(k), sources)
                history[-1]["content"] = L["found"].format(n=len(hits))
                yield history, turns + [Turn(None, hits)], render.hits_html(hits, turn, show_scores, lang), gr.skip()
                return
            earlier = history[:-2]  # the conversation before this question, for follow-ups
            events = actions.ask_events(notebook, question, sources, int(k), backend, model, endpoint, earlier)
            for text, answer in accumulate(events):
                history[-1]["content"] = text
                if answer is None:
                    yield history, gr.skip(), gr.skip(), gr.skip()
                else:
                    passages = render.passages_html(answer, turn, show_scores, lang)
                    yield history, turns + [Turn(answer, answer.hits)], passages, render.message_html(L["source_empty"])
        except BackendUnavailable as err:
            history[-1]["content"] = L["no_backend"].format(backend=err)
            yield history, turns + [Turn()], "", gr.skip()
        except Exception as err:  # shown as one line in the chat; the traceback goes to the server log only
            log.exception("answering %r failed", question)
            history[-1]["content"] = L["error"].format(error=type(err).__name__)
            yield history, turns + [Turn()], "", gr.skip()

    def show_citation(key: str, turns: list[Turn], lang: str) -> str:
        """The source panel for "cite:<turn>:<n>" (a citation) or "hit:<turn>:<i>" (a search result)."""
        L = labels(lang)
        try:
            kind, t, n = key.split(":")
            turn = turns[int(t)]
            n = int(n)
        except (ValueError, IndexError, TypeError):
            return render.message_html(L["cite_missing"])
        if kind == "cite" and turn.answer is not None:
            cites = [c for c in turn.answer.citations if c.n == n]
            if not cites:
                return render.message_html(L["cite_missing"])
            first = cites[0]
            hit = next((h for h in turn.answer.hits if h.chunk_id == first.chunk_id), None)
            spans = [render.Span(c.start, c.end, c.quote) for c in cites]
            return render.source_html(
                actions.source_path(notebook, first.source),
                first.source,
                first.title,
                spans,
                hit.date if hit else None,
                first.section,
                lang,
            )
        if kind == "hit" and 0 <= n < len(turn.hits):
            hit = turn.hits[n]
            return render.source_html(
                actions.source_path(notebook, hit.source),
                hit.source,
                hit.title,
                [render.Span(hit.start, hit.end, hit.text)],
                hit.date,
                hit.section,
                lang,
            )
        return render.message_html(L["cite_missing"])

    def refreshed_sources(selected: list[str] | None) -> tuple[Any, Any]:
        choices = source_choices(notebook)
        known = {value for _, value in choices}
        return (
            gr.update(choices=choices, value=[s for s in selected or [] if s in known]),
            gr.update(choices=choices, value=None),
        )

    def upload(files: list[str] | None, selected: list[str], lang: str, progress=gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        L = labels(lang)
        lines: list[str] = []
        saved: list[Path] = []
        for file in files or []:
            name = original_name(str(file))
            try:
                saved.append(save_upload(Path(file), actions.uploads_folder(notebook), name))
            except UploadError as err:
                lines.append(L[err.key].format(name=err.name, mb=MAX_UPLOAD_MB, reason=err.reason))
            except OSError as err:
                log.exception("saving upload %s failed", name)
                lines.append(L["error"].format(error=err.strerror or type(err).__name__))
        added: list[str] = []
        for i, path in enumerate(saved):
            progress((i, len(saved)), desc=f"{L['indexing']} {path.name}", unit="files")
            try:
                report = notebook.index(path, progress=False)
            except Exception as err:
                log.exception("indexing %s failed", path)
                lines.append(L["error"].format(error=type(err).__name__))
                continue
            if report.errors:
                lines += [f"✗ {e}" for e in report.errors]
            else:
                added.append(path.name)
        progress((len(saved), len(saved)), desc=L["indexing"], unit="files")
        if added:
            lines.insert(0, L["uploaded"].format(names="、".join(added) if lang != "en" else ", ".join(added)))
        return ("  \n".join(lines), *refreshed_sources(selected), None)

    def remove(source: str | None, selected: list[str], lang: str) -> tuple[Any, ...]:
        L = labels(lang)
        if not source:
            return (L["pick_first"], gr.skip(), gr.skip())
        title = next((s["title"] for s in notebook.sources() if s["source"] == source), source)
        try:
            deleted = actions.remove_source(notebook, source)
        except Exception as err:
            log.exception("removing %s failed", source)
            return (L["error"].format(error=type(err).__name__), gr.skip(), gr.skip())
        note = L["removed_file"] if deleted else L["removed_index"]
        return (f"{L['removed'].format(title=title, file=source)} {note}", *refreshed_sources(selected))

    def reindex(selected: list[str], lang: str, progress=gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:  # noqa: B008
        L = labels(lang)
        progress(0, desc=f"{L['indexing']} seeds/")
        try:
            report = notebook.index(notebook.settings.seeds, progress=True)
        except Exception as err:
            log.exception("re-indexing seeds failed")
            return (L["error"].format(error=type(err).__name__), gr.skip(), gr.skip())
        return (render.report_text(report, lang), *refreshed_sources(selected))

    def chat_api(message: str) -> Iterator[tuple[str, str]]:
        """The /chat endpoint: the streamed reply and, at the end, the cited passages."""
        for text, answer in accumulate(notebook.ask_events(message)):
            yield text, "" if answer is None else render.passages_html(answer)

    def detect_language(browser_language: str) -> str:
        return pick_language(browser_language)

    # ---- layout ---------------------------------------------------------------------------------------------
    with gr.Blocks(title="Notebook", analytics_enabled=False) as app:
        turns = gr.State([])
        with gr.Row(equal_height=True, elem_id="topbar"):
            title = gr.Markdown(L0["title"], elem_id="title")
            lang = gr.Radio(
                LANGUAGES, value=DEFAULT_LANGUAGE, show_label=False, container=False, elem_id="lang", scale=0,
                min_width=330,
            )  # fmt: skip
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=250):
                sources_heading = gr.Markdown(L0["sources_heading"])
                choices = source_choices(notebook)
                scope = gr.CheckboxGroup(choices, value=[], label=L0["scope"], info=L0["scope_info"], elem_id="scope")
                with gr.Accordion(L0["manage"], open=True, elem_id="manage") as manage:
                    upload_box = gr.File(
                        file_count="multiple",
                        label=L0["upload"].format(mb=MAX_UPLOAD_MB),
                        elem_id="upload",
                        height=140,
                    )
                    with gr.Row(equal_height=True):
                        remove_pick = gr.Dropdown(
                            choices, value=None, label=L0["remove_pick"], elem_id="remove-pick", scale=3
                        )
                        remove_button = gr.Button(L0["remove"], elem_id="remove", scale=1, min_width=70)
                    reindex_button = gr.Button(L0["reindex"], variant="secondary", elem_id="reindex", size="sm")
                status = gr.Markdown(elem_id="status")
                with gr.Accordion(L0["settings"], open=False, elem_id="settings") as settings:
                    backend = gr.Dropdown(
                        actions.answer_backends(notebook),
                        value=actions.setting(notebook, "backend", DEFAULT_BACKEND),
                        label=L0["backend"],
                        elem_id="backend",
                    )
                    model = gr.Textbox(actions.setting(notebook, MODEL_FIELD), label=L0["model"], elem_id="model")
                    endpoint = gr.Textbox(
                        actions.setting(notebook, ENDPOINT_FIELD), label=L0["endpoint"], elem_id="endpoint"
                    )
                    k = gr.Slider(1, 20, value=notebook.settings.k, step=1, label=L0["k"], elem_id="k")
                    show_scores = gr.Checkbox(False, label=L0["scores"], elem_id="scores")
            with gr.Column(scale=4, min_width=360):
                chatbot = gr.Chatbot(
                    label=L0["chat"],
                    elem_id="chatbot",
                    height=560,
                    buttons=["copy", "copy_all"],
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder=L0["chat_placeholder"],
                    feedback_options=None,
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        label=L0["question"],
                        placeholder=L0["placeholder"],
                        elem_id="question",
                        submit_btn=True,
                        scale=4,
                        show_label=False,
                    )
                    mode = gr.Radio(
                        [(L0["mode_answer"], "answer"), (L0["mode_search"], "search")],
                        value="answer",
                        label=L0["mode"],
                        show_label=False,
                        elem_id="mode",
                        scale=1,
                        min_width=180,
                    )
            with gr.Column(scale=3, min_width=300):
                source_heading = gr.Markdown(L0["source_heading"])
                source_panel = gr.HTML(render.message_html(L0["source_empty"]), elem_id="source-panel")
                passages_heading = gr.Markdown(L0["passages_heading"])
                passages = gr.HTML(elem_id="passages")

        # Hidden plumbing: the citation clicked in the page, the browser's language, and the /chat API.
        cite_key = gr.Textbox(visible="hidden", elem_id="cite-key")
        cite_go = gr.Button(visible="hidden", elem_id="cite-go")
        browser_language = gr.Textbox(visible=False)
        api_question = gr.Textbox(visible=False)
        api_reply = gr.Textbox(visible=False)
        api_passages = gr.HTML(visible=False)
        api_button = gr.Button(visible=False)

        # ---- wiring -----------------------------------------------------------------------------------------
        answer_inputs = [chatbot, turns, mode, scope, k, show_scores, backend, model, endpoint, lang]
        answer_outputs = [chatbot, turns, passages, source_panel]
        private: dict[str, Any] = {"api_visibility": "private"}
        locked: dict[str, Any] = {"concurrency_id": NOTEBOOK_LOCK, "concurrency_limit": 1, **private}

        question.submit(add_question, [question, chatbot], [question, chatbot, passages], queue=False, **private).then(
            respond, answer_inputs, answer_outputs, show_progress="minimal", **locked
        )
        chatbot.example_select(pick_example, [chatbot], [chatbot, passages], queue=False, **private).then(
            respond, answer_inputs, answer_outputs, show_progress="minimal", **locked
        )
        chatbot.clear(lambda: ([], "", ""), None, [turns, passages, source_panel], queue=False, **private)

        cite_go.click(None, [cite_key], [cite_key], js="(key) => window.__citeKey || ''", **private).then(
            show_citation, [cite_key, turns, lang], [source_panel], **private
        ).then(None, js=SCROLL_TO_MARK, **private)

        upload_box.upload(upload, [upload_box, scope, lang], [status, scope, remove_pick, upload_box], **locked)
        remove_button.click(remove, [remove_pick, scope, lang], [status, scope, remove_pick], **locked)
        reindex_button.click(reindex, [scope, lang], [status, scope, remove_pick], **locked)

        api_button.click(
            chat_api, [api_question], [api_reply, api_passages], api_name="chat", concurrency_id=NOTEBOOK_LOCK,
            concurrency_limit=1,
        )  # fmt: skip

        relabeled = [
            title, sources_heading, scope, manage, upload_box, remove_pick, remove_button, reindex_button, settings,
            backend, model, endpoint, k, show_scores, chatbot, question, mode, source_heading, passages_heading,
            source_panel,
        ]  # fmt: skip

        placeholders = {render.message_html(labels(code)["source_empty"]) for _, code in LANGUAGES}

        def relabel(language: str, panel: str) -> list[Any]:
            L = labels(language)
            return [
                gr.update(value=L["title"]),
                gr.update(value=L["sources_heading"]),
                gr.update(label=L["scope"], info=L["scope_info"]),
                gr.update(label=L["manage"]),
                gr.update(label=L["upload"].format(mb=MAX_UPLOAD_MB)),
                gr.update(label=L["remove_pick"]),
                gr.update(value=L["remove"]),
                gr.update(value=L["reindex"]),
                gr.update(label=L["settings"]),
                gr.update(label=L["backend"]),
                gr.update(label=L["model"]),
                gr.update(label=L["endpoint"]),
                gr.update(label=L["k"]),
                gr.update(label=L["scores"]),
                gr.update(label=L["chat"], placeholder=L["chat_placeholder"]),
                gr.update(label=L["question"], placeholder=L["placeholder"]),
                gr.update(choices=[(L["mode_answer"], "answer"), (L["mode_search"], "search")]),
                gr.update(value=L["source_heading"]),
                gr.update(value=L["passages_heading"]),
                gr.update(value=render.message_html(L["source_empty"])) if panel in placeholders else gr.skip(),
            ]

        lang.change(relabel, [lang, source_panel], relabeled, queue=False, **private)
        app.load(
            detect_language, [browser_language], [lang], js="() => navigator.language || ''", queue=False, **private
        )
    return app


def launch_options() -> dict[str, Any]:
    """What `launch()` needs besides host and port: offline theme, styles, the page script, upload cap."""
    return {
        "theme": THEME,
        "css": CSS,
        "js": SCRIPT,
        "share": False,
        "footer_links": [],
        "max_file_size": 4 * MAX_UPLOAD_BYTES,  # bigger files than our limit still get our message up to this
    }


def serve(path: str | Path = ".rag", host: str = "127.0.0.1", port: int = 7860, index_seeds: bool = False) -> None:
    """Open the notebook page on host:port (loopback unless asked otherwise)."""
    notebook = Notebook(path=path)
    if index_seeds:
        notebook.index(notebook.settings.seeds)
    _ = notebook.retriever, notebook.answerer  # load the models before the first question, not during it
    app = build_app(notebook)
    print(f"Notebook on http://{host}:{port}", flush=True)
    app.queue().launch(server_name=host, server_port=port, **launch_options())
