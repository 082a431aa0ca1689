"""Gradio notebook page: layout and wiring of chat, clickable citations, sources, uploads, settings and labels."""

from __future__ import annotations

import asyncio
import logging
import socket
from functools import partial
from importlib.resources import files
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI
from gradio.http_server import Server

from rag import Notebook
from rag.errors import NotebookError
from rag.hosts import bound_names
from rag.offline import go_offline
from rag.settings import MAX_K, Settings
from ui import handlers, render, session, shelf
from ui.chat import TextMarkdown, text_chatbot
from ui.guard import HostGuard, allowed_hosts
from ui.labels import DEFAULT_LANGUAGE, LANGUAGES, labels
from ui.uploads import MAX_DOCUMENT_UPLOAD_BYTES, MAX_DOCUMENT_UPLOAD_MB, MAX_UPLOAD_MB

EXAMPLES = ["TPU能否取代GPU?", "亞馬遜機房裡最多的CPU是哪種?", "how profitable is the DRAM business over a cycle?"]
# System fonts only: the default theme pulls web fonts from a CDN, which an offline laptop cannot reach.
THEME = gr.themes.Soft(font=["system-ui", "Noto Sans CJK TC", "sans-serif"], font_mono=["ui-monospace", "monospace"])
GRACE_S = 3  # on Ctrl-C, open pages' event streams get this long to close before the server stops anyway
NOTEBOOK_LOCK = "notebook"  # events that read or change the index run one at a time
SOURCES_EVERY_S = 3.0  # how often an open page looks for documents another tab or process added or removed
# Where the browser keeps the page's last notebook and chat (ids, not secrets: the key encrypts nothing worth hiding).
BROWSER_KEY = "rag-notebook-page"


def static(name: str) -> str:
    """A file of ui/static/ (the page's CSS and scripts), packaged with the code."""
    return files("ui").joinpath("static", name).read_text(encoding="utf-8")


def build_app(notebook: Notebook) -> gr.Blocks:
    """The notebook page, opening on `notebook`, with the notebooks beside it (serve it with `start()` or
    `serve()`); the events are ui.handlers' and ui.shelf's."""
    L0 = labels(DEFAULT_LANGUAGE)
    notebooks = shelf.open_shelf(notebook)
    first = notebook.info
    on = partial(shelf.bound, notebooks)  # an event over the page's notebook (its id comes first in the inputs)

    # ---- layout ---------------------------------------------------------------------------------------------
    with gr.Blocks(title="Notebook", analytics_enabled=False) as app:
        turns = gr.State([])
        notebook_id = gr.State(first.id)  # the page's notebook: each tab may have its own
        chat_id = gr.State("")  # the open chat, saved after each answer ("": not saved yet)
        note_open = gr.State("")  # the note in the editor ("": a new one), the one the notes picker shows picked
        indexing_seen = gr.State(0)  # background jobs whose reports this page has shown
        seen_sources = gr.State([])  # the documents the lists show, to notice another tab's or process's change
        # The last notebook and chat, kept by the browser so that a reload (or a restarted server) opens them again.
        saved = gr.BrowserState({"notebook": "", "chat": ""}, storage_key=BROWSER_KEY, secret=BROWSER_KEY)
        with gr.Row(equal_height=True, elem_id="topbar"):
            gr.Markdown(L0["title"], elem_id="title")
            lang = gr.Radio(
                LANGUAGES, value=DEFAULT_LANGUAGE, show_label=False, container=False, elem_id="lang", scale=0,
                min_width=330,
            )  # fmt: skip
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=250):
                with gr.Accordion(L0["notebooks"], open=True, elem_id="notebooks"):
                    notebook_pick = gr.Dropdown(
                        shelf.notebook_choices(notebooks),
                        value=first.id,
                        label=L0["notebook_pick"],
                        elem_id="notebook-pick",
                    )
                    notebook_name = gr.Textbox(first.name, label=L0["nb_name"], elem_id="nb-name")
                    with gr.Row(equal_height=True):
                        nb_new = gr.Button(L0["nb_new"], elem_id="nb-new", size="sm", min_width=60)
                        nb_rename = gr.Button(L0["nb_rename"], elem_id="nb-rename", size="sm", min_width=60)
                        nb_delete = gr.Button(
                            L0["nb_delete"], elem_id="nb-delete", size="sm", variant="stop", min_width=60
                        )
                    gr.Markdown(L0["nb_import"], elem_id="nb-import-label")  # above the box: a label would cover it
                    nb_import = gr.File(show_label=False, file_types=[".zip"], elem_id="nb-import", height=100)
                gr.Markdown(L0["sources_heading"], elem_id="sources-heading")
                choices = handlers.source_choices(notebook)
                scope = gr.CheckboxGroup(choices, value=[], label=L0["scope"], info=L0["scope_info"], elem_id="scope")
                with gr.Accordion(L0["manage"], open=True, elem_id="manage"):
                    upload_box = gr.File(file_count="multiple", label=L0["upload_label"], elem_id="upload", height=140)
                    gr.Markdown(
                        L0["upload"].format(mb=MAX_UPLOAD_MB, doc_mb=MAX_DOCUMENT_UPLOAD_MB), elem_id="upload-limits"
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
                        session.answer_backends(notebook, DEFAULT_LANGUAGE),
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
                with gr.Row(equal_height=True):
                    chat_pick = gr.Dropdown([], value=None, label=L0["chats"], elem_id="chat-pick", scale=3)
                    new_chat = gr.Button(L0["new_chat"], elem_id="new-chat", size="sm", scale=1, min_width=80)
                    delete_chat = gr.Button(L0["delete_chat"], elem_id="delete-chat", size="sm", scale=1, min_width=80)
                chatbot = text_chatbot(
                    label=L0["chat"],
                    elem_id="chatbot",
                    height=520,
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
                        interactive=False,  # until the page has read its notebook: see page_state below
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
                save_note = gr.Button(L0["save_note"], elem_id="save-note", size="sm")
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
                with gr.Accordion(L0["notes"], open=False, elem_id="notes"):
                    note_search = gr.Textbox(label=L0["note_search"], elem_id="note-search")
                    note_pick = gr.Dropdown([], value=None, label=L0["note_pick"], elem_id="note-pick")
                    note_title = gr.Textbox(label=L0["note_title"], elem_id="note-title")
                    note_body = gr.Textbox(label=L0["note_body"], lines=5, elem_id="note-body")
                    with gr.Row(equal_height=True):
                        note_save = gr.Button(L0["note_save"], elem_id="note-save", size="sm", min_width=60)
                        note_new = gr.Button(L0["note_new"], elem_id="note-new", size="sm", min_width=60)
                        note_delete = gr.Button(L0["note_delete"], elem_id="note-delete", size="sm", min_width=60)
                        note_source = gr.Button(L0["note_source"], elem_id="note-source", size="sm", min_width=60)
                with gr.Accordion(L0["export"], open=False, elem_id="export"):
                    with gr.Row(equal_height=True):
                        export_buttons = {
                            what: gr.Button(L0[f"export_{what}"], elem_id=f"export-{what}", size="sm", min_width=60)
                            for what in ("chat", "notes", "notebook", "file")
                        }
                    download = gr.File(label=L0["download"], elem_id="download", interactive=False)

        # Hidden plumbing: the citation clicked in the page, the browser's language, and the /chat API.
        cite_key = gr.Textbox(visible="hidden", elem_id="cite-key")
        cite_go = gr.Button(visible="hidden", elem_id="cite-go")
        browser_language = gr.Textbox(visible=False)
        api_question = gr.Textbox(visible=False)
        api_reply = gr.Textbox(visible=False)
        api_passages = gr.HTML(visible=False)
        api_button = gr.Button(visible=False)

        # ---- wiring -----------------------------------------------------------------------------------------
        answer_inputs = [notebook_id, chatbot, turns, mode, scope, k, show_scores, backend, model, endpoint, lang]
        answer_outputs = [chatbot, turns, passages, source_panel]
        private: dict[str, Any] = {"api_visibility": "private"}
        locked: dict[str, Any] = {"concurrency_id": NOTEBOOK_LOCK, "concurrency_limit": 1, **private}
        respond = on(handlers.respond)
        store_chat = (on(shelf.save_chat), [notebook_id, chat_id, chatbot, turns], [chat_id, chat_pick, saved])

        question.submit(
            handlers.add_question, [question, chatbot], [question, chatbot, passages], queue=False, **private
        ).then(respond, answer_inputs, answer_outputs, show_progress="minimal", **locked).then(*store_chat, **private)
        chatbot.example_select(handlers.pick_example, [chatbot], [chatbot, passages], queue=False, **private).then(
            respond, answer_inputs, answer_outputs, show_progress="minimal", **locked
        ).then(*store_chat, **private)
        chatbot.option_select(handlers.pick_example, [chatbot], [chatbot, passages], queue=False, **private).then(
            respond, answer_inputs, answer_outputs, show_progress="minimal", **locked
        ).then(*store_chat, **private)
        guide_questions.click(
            handlers.pick_guide_question, [chatbot, guide_questions], [chatbot, passages], queue=False, **private
        ).then(respond, answer_inputs, answer_outputs, show_progress="minimal", **locked).then(*store_chat, **private)
        # The guide follows the page's language and is read again on each load (guides are built by indexing).
        show_guide = (on(handlers.guide_panel), [notebook_id, lang], [guide, guide_questions])
        lang.change(*show_guide, queue=False, **private)
        app.load(*show_guide, queue=False, **private)
        # ... and after an upload, removal or re-index reports (their status line changes).
        status.change(*show_guide, queue=False, show_progress="hidden", **private)
        chatbot.clear(lambda: ([], "", "", ""), None, [turns, passages, source_panel, chat_id], queue=False, **private)

        cite_go.click(None, [cite_key], [cite_key], js="(key) => window.__citeKey || ''", **private).then(
            on(handlers.show_citation), [notebook_id, cite_key, turns, lang], [source_panel], **private
        ).then(None, js=static("scroll-to-mark.js"), **private)

        upload_box.upload(
            on(handlers.upload),
            [notebook_id, upload_box, scope, lang],
            [status, scope, remove_pick, upload_box],
            show_progress="minimal",  # no overlay on the status line: the timer writes a scan's OCR progress there
            **locked,
        )
        remove_button.click(
            on(handlers.remove), [notebook_id, remove_pick, scope, lang], [status, scope, remove_pick], **locked
        )
        reindex_button.click(on(handlers.reindex), [notebook_id, scope, lang], [status, scope, remove_pick], **locked)
        # Uploads and re-index run in the background: each second the page shows their progress, then the documents.
        indexing = on(handlers.indexing_status)
        gr.Timer(1.0).tick(
            indexing, [notebook_id, scope, lang, indexing_seen, remove_pick], [status, scope, remove_pick, indexing_seen],
            queue=False, show_progress="hidden", **private,
        )  # fmt: skip
        # What another tab or process (`rag index`) changed in the notebook's documents reaches the lists too.
        gr.Timer(SOURCES_EVERY_S).tick(
            on(shelf.sources_changed), [notebook_id, seen_sources, scope, remove_pick], [scope, remove_pick, seen_sources],
            queue=False, show_progress="hidden", **private,
        )  # fmt: skip

        # The page's notebook, chats and notes: read from the notebook's folder on load and after each change.
        state_outputs = [
            notebook_id, notebook_pick, notebook_name, scope, remove_pick, chat_pick, chatbot, turns, chat_id,
            note_pick, seen_sources, indexing_seen,
        ]  # fmt: skip
        page_state = partial(shelf.page_state, notebooks, examples=EXAMPLES)
        # The question box opens once the notebook is read: a question asked before would have its chat replaced
        # by the load's (empty) one when that lands, on a slow machine seconds later. Opened even if the read failed.
        app.load(page_state, [saved, scope], state_outputs, **private).then(
            lambda: gr.update(interactive=True), None, [question], queue=False, **private
        )
        reload: dict[str, Any] = {"fn": page_state, "inputs": [saved, scope], "outputs": state_outputs, **private}
        cleared_outputs = [passages, note_title, note_body, source_panel, note_open]
        cleared = (shelf.cleared, [lang], cleared_outputs)

        def shows_other_notebook(event: Any) -> None:
            """After `event` set the page's notebook: everything read again from it, the old one's panels emptied."""
            event.then(**reload).then(*cleared, **private).then(*show_guide, queue=False, **private)

        # The pickers' input events come again whenever their list is left, picked or not (the only event a pick
        # made with the keyboard sends): each does nothing when the notebook, chat or note is the open one already.
        notebook_pick.input(
            partial(shelf.switch, notebooks, examples=EXAMPLES), [notebook_pick, notebook_id, scope, lang],
            [saved, *state_outputs, *cleared_outputs], **private,
        ).then(*show_guide, queue=False, **private)  # fmt: skip
        shows_other_notebook(
            nb_new.click(partial(shelf.create, notebooks), [notebook_name, lang], [status, saved], **private)
        )
        nb_rename.click(
            partial(shelf.rename, notebooks), [notebook_id, notebook_name, lang], [status, notebook_pick], **private
        )
        shows_other_notebook(
            nb_delete.click(
                partial(shelf.delete, notebooks), [notebook_id, notebook_name, lang], [status, saved], **locked
            )
        )
        shows_other_notebook(
            nb_import.upload(
                partial(shelf.import_file, notebooks), [nb_import, lang], [status, saved, nb_import], **locked
            )
        )

        chat_pick.input(
            on(shelf.open_chat),
            [notebook_id, chat_pick, chat_id],
            [chatbot, turns, chat_id, passages, saved],
            **private,
        )
        new_chat.click(on(shelf.new_chat), [notebook_id], [chatbot, turns, chat_id, chat_pick, passages], **private)
        delete_chat.click(
            on(shelf.delete_chat), [notebook_id, chat_id], [chatbot, turns, chat_id, chat_pick, passages], **private
        )

        save_note.click(
            on(shelf.save_answer),
            [notebook_id, chatbot, turns, note_search, note_pick, lang],
            [status, note_pick],
            **private,
        )
        note_pick.input(
            on(shelf.open_note), [notebook_id, note_pick, note_open], [note_title, note_body, note_open], **private
        )
        note_save.click(
            on(shelf.write_note), [notebook_id, note_pick, note_title, note_body, note_search, lang],
            [status, note_pick, note_open], **private,
        )  # fmt: skip
        note_new.click(
            lambda: (gr.update(value=None), "", "", ""), None, [note_pick, note_title, note_body, note_open], **private
        )
        note_delete.click(
            on(shelf.delete_note), [notebook_id, note_pick, note_search, lang],
            [status, note_pick, note_title, note_body, note_open], **private,
        )  # fmt: skip
        note_search.change(on(shelf.find_notes), [notebook_id, note_search, note_pick], [note_pick], **private)
        note_source.click(on(shelf.note_as_source), [notebook_id, note_pick, lang], [status], **locked)
        for what, button in export_buttons.items():
            button.click(
                on(partial(shelf.export, what=what)), [notebook_id, chat_id, chatbot, turns], [download], **private
            )

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
    app.notebooks = notebooks  # type: ignore[attr-defined]  # serve() closes the ones the page opened
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


def check_port_free(host: str, port: int) -> None:
    """One line naming the port and the setting when something listens on host:port already: said before the
    models load, and never after a "Notebook on …" line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing socket is no obstacle
        try:
            probe.bind((host, port))
        except OSError as err:
            raise NotebookError(
                f"cannot serve on {host}:{port}: {err.strerror or err} (another server? choose a port with "
                "RAG_PORT=7861 make run, or rag serve --port 7861)"
            ) from err


def serve(settings: Settings, index_seeds: bool = False) -> bool:
    """Open the page of the notebook of `settings` (settings.notebook, made when new, else the data folder's own)
    on settings.host:settings.port until Ctrl-C (or a signal the caller turns into KeyboardInterrupt); the notebook
    is closed on the way out. True when its threads ended in time (a batch in native code may still run: the caller
    decides how to exit). A port in use is one line (NotebookError) before anything loads."""
    host, port = settings.host, settings.port
    check_port_free(host, port)
    notebook = Notebook(settings=settings)  # its models load on first use, below
    page = None
    try:
        # `rag serve` went offline before importing this module; a direct caller gets the variables read from here
        # on (telemetry, tokenizers), but huggingface_hub read HF_HUB_OFFLINE when gradio imported it: call
        # go_offline first.
        go_offline(allow_hub=settings.hub_model())
        if index_seeds:
            notebook.index(settings.seeds)
        notebook.preload()  # the models, BM25, jieba and the glossary load side by side, in background threads
        _ = notebook.retriever, notebook.answerer  # ready before the first question, not during it
        page = build_app(notebook)
        app = asgi_app(page, host, port, settings.allowed_hosts)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_S)
        config.load()
        # The address is printed once the socket is bound (a port taken meanwhile is uvicorn's one error line).
        sock = config.bind_socket()
        print(f"Notebook on http://{host}:{port} ({notebook.name})", flush=True)
        logging.getLogger("uvicorn.error").addFilter(quiet_cancellations)
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # a signal before the server was up (models loading)
    finally:
        # An upload being indexed stops at its next batch (its file is finished by the next re-index).
        # The notebook and those the page switched to (page.notebooks holds them all once the page is built).
        stopped = page.notebooks.close(timeout=10.0) if page is not None else notebook.close(timeout=10.0)
    return stopped
