"""Gradio notebook page: layout and wiring of chat, clickable citations, sources, uploads, settings and labels."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from importlib.resources import files
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI
from gradio.http_server import Server

from rag import Notebook
from rag.hosts import bound_names
from rag.offline import go_offline
from rag.settings import MAX_K, Settings
from ui import handlers, render, session
from ui.chat import TextMarkdown, text_chatbot
from ui.guard import HostGuard, allowed_hosts
from ui.labels import DEFAULT_LANGUAGE, LANGUAGES, labels
from ui.uploads import MAX_DOCUMENT_UPLOAD_BYTES, MAX_DOCUMENT_UPLOAD_MB, MAX_UPLOAD_MB

EXAMPLES = ["TPU能否取代GPU?", "亞馬遜機房裡最多的CPU是哪種?", "how profitable is the DRAM business over a cycle?"]
# System fonts only: the default theme pulls web fonts from a CDN, which an offline laptop cannot reach.
THEME = gr.themes.Soft(font=["system-ui", "Noto Sans CJK TC", "sans-serif"], font_mono=["ui-monospace", "monospace"])
GRACE_S = 3  # on Ctrl-C, open pages' event streams get this long to close before the server stops anyway
NOTEBOOK_LOCK = "notebook"  # events that read or change the index run one at a time


def static(name: str) -> str:
    """A file of ui/static/ (the page's CSS and scripts), packaged with the code."""
    return files("ui").joinpath("static", name).read_text(encoding="utf-8")


def build_app(notebook: Notebook) -> gr.Blocks:
    """The notebook page for one notebook (serve it with `start()` or `serve()`); the events are ui.handlers'."""
    L0 = labels(DEFAULT_LANGUAGE)

    # ---- layout ---------------------------------------------------------------------------------------------
    with gr.Blocks(title="Notebook", analytics_enabled=False) as app:
        turns = gr.State([])
        with gr.Row(equal_height=True, elem_id="topbar"):
            gr.Markdown(L0["title"], elem_id="title")
            lang = gr.Radio(
                LANGUAGES, value=DEFAULT_LANGUAGE, show_label=False, container=False, elem_id="lang", scale=0,
                min_width=330,
            )  # fmt: skip
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=250):
                gr.Markdown(L0["sources_heading"], elem_id="sources-heading")
                choices = handlers.source_choices(notebook)
                scope = gr.CheckboxGroup(choices, value=[], label=L0["scope"], info=L0["scope_info"], elem_id="scope")
                with gr.Accordion(L0["manage"], open=True, elem_id="manage"):
                    upload_box = gr.File(
                        file_count="multiple",
                        label=L0["upload"].format(mb=MAX_UPLOAD_MB, doc_mb=MAX_DOCUMENT_UPLOAD_MB),
                        elem_id="upload",
                        height=140,
                    )
                    with gr.Row(equal_height=True):
                        remove_pick = gr.Dropdown(
                            choices, value=None, label=L0["remove_pick"], elem_id="remove-pick", scale=3
                        )
                        remove_button = gr.Button(L0["remove"], elem_id="remove", scale=1, min_width=70)
                    reindex_button = gr.Button(L0["reindex"], variant="secondary", elem_id="reindex", size="sm")
                status = TextMarkdown(elem_id="status")  # file names and titles: text, never markup
                with gr.Accordion(L0["settings"], open=False, elem_id="settings"):
                    backend = gr.Dropdown(
                        session.answer_backends(notebook),
                        value=notebook.settings.backend,
                        label=L0["backend"],
                        elem_id="backend",
                    )
                    model = gr.Textbox(notebook.settings.llm_model, label=L0["model"], elem_id="model")
                    endpoint = gr.Textbox(notebook.settings.llm_base_url, label=L0["endpoint"], elem_id="endpoint")
                    # The setting's own bounds; `ask` reads max(k, answer_k) passages, as the label says.
                    k = gr.Slider(1, MAX_K, value=notebook.settings.k, step=1, label=L0["k"], elem_id="k")
                    show_scores = gr.Checkbox(False, label=L0["scores"], elem_id="scores")
            with gr.Column(scale=4, min_width=360):
                chatbot = text_chatbot(
                    label=L0["chat"],
                    elem_id="chatbot",
                    height=560,
                    buttons=["copy", "copy_all"],
                    examples=[{"text": q} for q in handlers.example_questions(notebook, EXAMPLES)],
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
                gr.Markdown(L0["source_heading"], elem_id="source-heading")
                source_panel = gr.HTML(render.message_html(L0["source_empty"]), elem_id="source-panel")
                gr.Markdown(L0["passages_heading"], elem_id="passages-heading")
                passages = gr.HTML(elem_id="passages")
                with gr.Accordion(L0["guide"], open=False, elem_id="guide"):
                    guide = gr.HTML(render.guide_html(None, DEFAULT_LANGUAGE), elem_id="guide-panel")
                    guide_questions = gr.Dataset(
                        components=[gr.Textbox(visible=False)], samples=[], label=L0["guide_questions"],
                        elem_id="guide-questions", type="values", visible=False,
                    )  # fmt: skip

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
        respond = partial(handlers.respond, notebook)

        question.submit(
            handlers.add_question, [question, chatbot], [question, chatbot, passages], queue=False, **private
        ).then(respond, answer_inputs, answer_outputs, show_progress="minimal", **locked)
        chatbot.example_select(handlers.pick_example, [chatbot], [chatbot, passages], queue=False, **private).then(
            respond, answer_inputs, answer_outputs, show_progress="minimal", **locked
        )
        chatbot.option_select(handlers.pick_example, [chatbot], [chatbot, passages], queue=False, **private).then(
            respond, answer_inputs, answer_outputs, show_progress="minimal", **locked
        )
        guide_questions.click(
            handlers.pick_guide_question, [chatbot, guide_questions], [chatbot, passages], queue=False, **private
        ).then(respond, answer_inputs, answer_outputs, show_progress="minimal", **locked)
        # The guide follows the page's language and is read again on each load (guides are built by indexing).
        show_guide = partial(handlers.guide_panel, notebook)
        lang.change(show_guide, [lang], [guide, guide_questions], queue=False, **private)
        app.load(show_guide, [lang], [guide, guide_questions], queue=False, **private)
        # ... and after an upload, removal or re-index reports (their status line changes).
        status.change(show_guide, [lang], [guide, guide_questions], queue=False, show_progress="hidden", **private)
        chatbot.clear(lambda: ([], "", ""), None, [turns, passages, source_panel], queue=False, **private)

        cite_go.click(None, [cite_key], [cite_key], js="(key) => window.__citeKey || ''", **private).then(
            partial(handlers.show_citation, notebook), [cite_key, turns, lang], [source_panel], **private
        ).then(None, js=static("scroll-to-mark.js"), **private)

        upload = partial(handlers.upload, notebook)
        upload_box.upload(upload, [upload_box, scope, lang], [status, scope, remove_pick, upload_box], **locked)
        remove = partial(handlers.remove, notebook)
        remove_button.click(remove, [remove_pick, scope, lang], [status, scope, remove_pick], **locked)
        reindex = partial(handlers.reindex, notebook)
        reindex_button.click(reindex, [scope, lang], [status, scope, remove_pick], **locked)
        # Uploads and re-index run in the background: each second the page shows their progress, then the documents.
        indexing = partial(handlers.indexing_status, notebook)
        gr.Timer(1.0).tick(indexing, [scope, lang], [status, scope, remove_pick], queue=False, show_progress="hidden", **private)

        api_button.click(
            partial(handlers.chat_api, notebook), [api_question], [api_reply, api_passages], api_name="chat",
            concurrency_id=NOTEBOOK_LOCK, concurrency_limit=1,
        )  # fmt: skip

        # handlers.RELABEL names the relabelled components by elem_id; the source panel comes last.
        by_elem_id = {block.elem_id: block for block in app.blocks.values() if getattr(block, "elem_id", None)}
        relabeled = [by_elem_id[elem_id] for elem_id in handlers.RELABEL] + [source_panel]
        lang.change(handlers.relabel, [lang, source_panel], relabeled, queue=False, **private)
        app.load(
            handlers.detect_language, [browser_language], [lang], js="() => navigator.language || ''", queue=False,
            **private,
        )  # fmt: skip
    return app


def launch_options() -> dict[str, Any]:
    """What Gradio needs besides host and port: offline theme, styles, the page script, upload cap."""
    return {
        "theme": THEME,
        "css": static("notebook.css"),
        "js": static("citations.js"),
        "footer_links": [],
        "max_file_size": 2 * MAX_DOCUMENT_UPLOAD_BYTES,  # bigger files than our limit still get our message up to this
    }


def asgi_app(blocks: gr.Blocks, host: str, port: int, extra_hosts: str = "") -> FastAPI:
    """The page as an ASGI app behind ui.guard.HostGuard (loopback Host and same-origin requests only, plus
    `extra_hosts`, plus the bind address when it is a specific one). Gradio's own launch() puts its CORS layer
    outside any middleware we could give it, so the page is mounted on an app of ours whose outermost layer is the
    guard."""
    outer = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    outer.add_middleware(HostGuard, hosts=allowed_hosts(port, [*bound_names(host), *extra_hosts.split(",")]))
    return gr.mount_gradio_app(outer, blocks.queue(), path="/", server_name=host, server_port=port, **launch_options())


def quiet_cancellations(record: logging.LogRecord) -> bool:
    """A uvicorn log record to print: not the traceback of a request the shutdown cancelled (an open page's event
    stream after GRACE_S: "Exception in ASGI application ... CancelledError", one per page), which is no error."""
    error = record.exc_info[1] if record.exc_info else None
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, asyncio.CancelledError):
            return False
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return True


def start(blocks: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, extra_hosts: str = "") -> Server:
    """Serve the page in a background thread (tests, embedding); `.close()` stops it."""
    app = asgi_app(blocks, host, port, extra_hosts)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_S)
    server = Server(config)
    server.run_in_thread()
    return server


def serve(settings: Settings, index_seeds: bool = False) -> bool:
    """Open the page of the notebook of `settings` on settings.host:settings.port until Ctrl-C (or a signal the
    caller turns into KeyboardInterrupt); the notebook is closed on the way out. True when its threads ended in
    time (a batch in native code may still run: the caller decides how to exit)."""
    notebook = Notebook(settings=settings)  # its models load on first use, below
    try:
        # `rag serve` went offline before importing this module; a direct caller gets the variables read from here
        # on (telemetry, tokenizers), but huggingface_hub read HF_HUB_OFFLINE when gradio imported it: call
        # go_offline first.
        go_offline(allow_hub=settings.hub_model())
        if index_seeds:
            notebook.index(settings.seeds)
        notebook.preload()  # the models, BM25, jieba and the glossary load side by side, in background threads
        _ = notebook.retriever, notebook.answerer  # ready before the first question, not during it
        host, port = settings.host, settings.port
        app = asgi_app(build_app(notebook), host, port, settings.allowed_hosts)
        print(f"Notebook on http://{host}:{port}", flush=True)
        logging.getLogger("uvicorn.error").addFilter(quiet_cancellations)
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_S)
    except KeyboardInterrupt:
        pass  # a signal before the server was up (models loading)
    finally:
        # An upload being indexed stops at its next batch (its file is finished by the next re-index).
        stopped = notebook.close(timeout=10.0)
    return stopped
