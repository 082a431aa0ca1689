"""The page's notebooks, chats, notes and exports: what their events do (testable without the app).

Every event is handed the page's notebook id (its gr.State) and opens the notebook through rag.notebooks.OpenNotebooks,
so that each tab may have its own notebook; lists are read from the notebook's folder each time, never kept."""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Notebook
from rag.chats import Chats, Message
from rag.errors import NotebookError
from rag.export import FILE_SUFFIX, chat_markdown, export_notebook, import_notebook, notebook_markdown, notes_markdown
from rag.notebooks import OpenNotebooks, data_root, slug
from rag.notes import Notes
from ui import handlers
from ui.labels import labels
from ui.session import Turn

EXPORTS = Path(tempfile.gettempdir()) / "rag-exports"  # Gradio serves files from the temporary folder


def open_shelf(notebook: Notebook) -> OpenNotebooks:
    """The notebooks beside `notebook` (under the same data path), `notebook` itself open already."""
    return OpenNotebooks(notebook.settings.updated(path=data_root(notebook.path), notebook=""), first=notebook)


def bound(shelf: OpenNotebooks, handler: Callable) -> Callable:
    """`handler(notebook, *inputs)` as an event taking the page's notebook id first."""
    if inspect.isgeneratorfunction(handler):

        def stream(ref: str, *inputs: Any):
            yield from handler(shelf.get(ref or None), *inputs)

        return stream

    def run(ref: str, *inputs: Any):
        return handler(shelf.get(ref or None), *inputs)

    return run


# ---- lists read from the notebook --------------------------------------------------------------------------
def notebook_choices(shelf: OpenNotebooks) -> list[tuple[str, str]]:
    return [(info.name, info.id) for info in shelf.shelf.list()]


def chat_choices(notebook: Notebook) -> list[tuple[str, str]]:
    return [(f"{c.title or '…'} · {c.updated[:16].replace('T', ' ')}", c.id) for c in Chats(notebook.path).list()]


def note_choices(notebook: Notebook, query: str = "", keep: str | None = None) -> list[tuple[str, str]]:
    """The notes matching `query` (every note when it is blank), and the note `keep` (the one open in the editor,
    whose id the picker holds: were it left out, saving the editor would make a copy of it)."""
    notes = Notes(notebook.path)
    every = notes.list()
    matched = {n.id for n in notes.search(query)} if (query or "").strip() else {n.id for n in every}
    return [(n.title, n.id) for n in every if n.id in matched or n.id == keep]


def note_picker(notebook: Notebook, query: str, picked: str | None) -> Any:
    """The notes picker for `query`, the note open in the editor (`picked`) still picked while it exists."""
    choices = note_choices(notebook, query, picked)
    return gr.update(choices=choices, value=picked if picked in {i for _, i in choices} else None)


def chat_state(notebook: Notebook, chat_id: str) -> tuple[list[dict], list[Turn]]:
    """The chat's messages for the chat box and its answers' turns (for citation clicks)."""
    messages = Chats(notebook.path).messages(chat_id) if chat_id else []
    history = [{"role": m.role, "content": m.content} for m in messages]
    turns = [Turn(m.answer, m.hits) for m in messages if m.role == "assistant"]
    return history, turns


def page_state(
    shelf: OpenNotebooks, saved: dict | None, selected: list[str] | None = None, examples: list[str] | tuple = ()
) -> tuple[Any, ...]:
    """Everything the page shows of its notebook, read from it now: (notebook id, notebook picker, notebook name,
    scope, remove picker, chat picker, chat, turns, chat id, notes picker, sources seen, indexing jobs seen).
    `saved`: the browser's last notebook and chat; `examples`: the chat's example questions when the notebook's
    guides give none (an empty notebook shows none)."""
    saved = saved if isinstance(saved, dict) else {}
    try:
        info = shelf.shelf.get(saved["notebook"]) if saved.get("notebook") else shelf.default()
    except NotebookError:  # deleted meanwhile: the default one
        info = shelf.default()
    nb = shelf.get(info.id)
    chats = Chats(nb.path)
    # The chat this browser had open comes back (a reload, a restarted server); another browser starts a new one,
    # the past chats listed.
    chat_id = saved.get("chat") if saved.get("notebook") == info.id and chats.get(saved.get("chat") or "") else ""
    history, turns = chat_state(nb, chat_id)
    scope, remove = handlers.refreshed_sources(nb, selected)
    asked = handlers.example_questions(nb, list(examples) if scope["choices"] else [])
    chat = gr.update(value=history, examples=[{"text": q} for q in asked] or None)
    return (
        info.id,
        gr.update(choices=notebook_choices(shelf), value=info.id),
        info.name,
        scope,
        remove,
        gr.update(choices=chat_choices(nb), value=chat_id or None),
        chat,
        turns,
        chat_id,
        gr.update(choices=note_choices(nb), value=None),
        handlers.source_choices(nb),
        nb.background.finished_since(0)[1],  # reports of jobs finished before the page opened are not shown
    )


def sources_changed(notebook: Notebook, seen: list, selected: list[str], picked: str | None = None) -> tuple[Any, ...]:
    """The scope and remove picker again when the notebook's documents changed since the page last showed them (an
    upload in another tab, `rag index` in a shell); (scope, remove picker, sources seen)."""
    now = handlers.source_choices(notebook)
    if [tuple(c) for c in seen or []] == [tuple(c) for c in now]:
        return gr.skip(), gr.skip(), gr.skip()
    return (*handlers.refreshed_sources(notebook, selected, picked), now)


# ---- notebooks ----------------------------------------------------------------------------------------------
def create(shelf: OpenNotebooks, name: str, lang: str) -> tuple[Any, ...]:
    """A new, empty notebook, switched to; (status, the page's saved state)."""
    try:
        info = shelf.shelf.create(name)
    except NotebookError as err:
        return str(err), gr.skip()
    return labels(lang)["nb_created"].format(name=info.name), {"notebook": info.id, "chat": ""}


def rename(shelf: OpenNotebooks, ref: str, name: str, lang: str) -> tuple[Any, ...]:
    try:
        info = shelf.shelf.rename(shelf.get(ref or None).info.id, name)
    except NotebookError as err:
        return str(err), gr.skip()
    return labels(lang)["nb_renamed"].format(name=info.name), gr.update(choices=notebook_choices(shelf), value=info.id)


def delete(shelf: OpenNotebooks, ref: str, typed: str, lang: str) -> tuple[Any, ...]:
    """Delete the page's notebook when its name is typed in the name box (nothing is deleted by one stray click)."""
    L = labels(lang)
    nb = shelf.get(ref or None)
    info = nb.info
    if " ".join((typed or "").split()) != info.name:
        return L["nb_delete_confirm"].format(name=info.name), gr.skip()
    try:
        nb.delete()
    except NotebookError as err:
        return str(err), gr.skip()
    shelf.forget(info.id)
    return L["nb_deleted"].format(name=info.name), {"notebook": "", "chat": ""}


def cleared(lang: str) -> tuple[str, str, str, str, str]:
    """(passages, note title, note text, source panel, open note) emptied: another notebook is shown."""
    from ui import render

    return "", "", "", render.message_html(labels(lang)["source_empty"]), ""


PAGE_STATE_OUTPUTS = 12  # how many values page_state gives


def switch(
    shelf: OpenNotebooks,
    ref: str | None,
    current: str,
    selected: list[str],
    lang: str,
    examples: list[str] | tuple = (),
) -> tuple[Any, ...]:
    """The notebook picked in the notebook picker, shown: (saved state, page_state's values, cleared's values), a new
    chat in it. Nothing when it is the page's notebook already: Gradio sends the picker's input again whenever its
    list is left, picked or not, and reopening would drop the chat and the note being written."""
    if not ref or ref == current:
        return (gr.skip(),) * (1 + PAGE_STATE_OUTPUTS + len(cleared(lang)))
    saved = {"notebook": ref, "chat": ""}
    return (saved, *page_state(shelf, saved, selected, examples), *cleared(lang))


def import_file(shelf: OpenNotebooks, file: str | None, lang: str) -> tuple[Any, ...]:
    """A notebook file (export_notebook's) as a new notebook, switched to; (status, saved state, upload box)."""
    if not file:
        return gr.skip(), gr.skip(), None
    try:
        # Opened by the shelf: the page's models shared (a Notebook of its own loaded them again, ~0.5 GB, never freed).
        nb = import_notebook(file, shelf.settings, open_notebook=lambda info: shelf.get(info.id))
    except NotebookError as err:
        return str(err), gr.skip(), None
    return labels(lang)["nb_imported"].format(name=nb.name), {"notebook": nb.info.id, "chat": ""}, None


# ---- chats --------------------------------------------------------------------------------------------------
def save_chat(notebook: Notebook, chat_id: str, history: list[dict], turns: list[Turn]) -> tuple[Any, ...]:
    """Store the chat after an answer; (chat id, chat picker, saved state)."""
    history = handlers.plain_history(history)
    if not any(m["role"] == "assistant" for m in history):
        return gr.skip(), gr.skip(), gr.skip()
    answers = iter(turns or [])
    messages = []
    for m in history:
        turn = next(answers, None) if m["role"] == "assistant" else None
        messages.append(Message(m["role"], m["content"], turn.answer if turn else None, turn.hits if turn else []))
    chat_id = Chats(notebook.path).save(chat_id or None, messages)
    return (
        chat_id,
        gr.update(choices=chat_choices(notebook), value=chat_id),
        {"notebook": notebook.info.id, "chat": chat_id},
    )


def open_chat(notebook: Notebook, chat_id: str | None, open_id: str = "") -> tuple[Any, ...]:
    """(chat, turns, chat id, passages, saved state) of a chat picked in the list; nothing when it is the open chat
    `open_id` (the list left without a pick sends its value again)."""
    if (chat_id or "") == (open_id or ""):
        return (gr.skip(),) * 5
    history, turns = chat_state(notebook, chat_id or "")
    return history, turns, chat_id or "", "", {"notebook": notebook.info.id, "chat": chat_id or ""}


def delete_chat(notebook: Notebook, chat_id: str) -> tuple[Any, ...]:
    """Delete the open chat; (chat, turns, chat id, chat picker, passages)."""
    if chat_id:
        Chats(notebook.path).delete(chat_id)
    return [], [], "", gr.update(choices=chat_choices(notebook), value=None), ""


def new_chat(notebook: Notebook) -> tuple[Any, ...]:
    """(chat, turns, chat id, chat picker, passages) of an empty chat; it is saved at its first answer."""
    return [], [], "", gr.update(value=None), ""


# ---- notes --------------------------------------------------------------------------------------------------
def save_answer(
    notebook: Notebook, history: list[dict], turns: list[Turn], query: str, picked: str | None, lang: str
) -> tuple[Any, ...]:
    """The chat's last answer as a note with its citations; (status, notes picker). The picker keeps the note open
    in the editor picked (it is the one the editor saves to)."""
    L = labels(lang)
    history = handlers.plain_history(history)
    answer = turns[-1].answer if turns and history and history[-1]["role"] == "assistant" else None
    if answer is None or answer.refused:
        return L["note_no_answer"], gr.skip()
    question = next((m["content"] for m in reversed(history) if m["role"] == "user"), "")
    note = Notes(notebook.path).add(f"{question}\n\n{answer.text}", title=question, citations=answer.citations)
    return L["note_saved"].format(title=note.title), note_picker(notebook, query, picked)


def open_note(notebook: Notebook, note_id: str | None, open_id: str = "") -> tuple[Any, ...]:
    """(title, text, open note) of the picked note; nothing when it is the note open in the editor already (the list
    left without a pick sends its value again: reading the note would undo what is being written)."""
    if (note_id or "") == (open_id or ""):
        return gr.skip(), gr.skip(), gr.skip()
    note = Notes(notebook.path).get(note_id) if note_id else None
    return (note.title, note.body, note.id) if note else ("", "", "")


def write_note(
    notebook: Notebook, note_id: str | None, title: str, body: str, query: str, lang: str
) -> tuple[Any, ...]:
    """Save the note being edited (a new one when none is picked); (status, notes picker, open note)."""
    L = labels(lang)
    if not (body or "").strip():
        return L["note_empty"], gr.skip(), gr.skip()
    notes = Notes(notebook.path)
    note = (notes.edit(note_id, body, title) if note_id else None) or notes.add(body, title)
    return L["note_saved"].format(title=note.title), note_picker(notebook, query, note.id), note.id


def delete_note(notebook: Notebook, note_id: str | None, query: str, lang: str) -> tuple[Any, ...]:
    """(status, notes picker, title, text, open note) after deleting the picked note."""
    if note_id:
        Notes(notebook.path).delete(note_id)
    return labels(lang)["note_deleted"], note_picker(notebook, query, None), "", "", ""


def find_notes(notebook: Notebook, query: str, picked: str | None) -> Any:
    """The notes picker narrowed to `query` (the note open in the editor stays listed and picked)."""
    return note_picker(notebook, query, picked)


def note_as_source(notebook: Notebook, note_id: str | None, lang: str) -> str:
    """Index the picked note as a document of the notebook (in the background, like an upload); the status line (one
    output: a string, which Gradio shows; a 1-tuple it refused with a warning)."""
    L = labels(lang)
    note = Notes(notebook.path).get(note_id) if note_id else None
    if note is None:
        return L["note_pick_first"]
    path = Notes(notebook.path).write_source(note)
    notebook.index_in_background([path], note.title)
    return L["queued"].format(names=note.title)


# ---- exports ------------------------------------------------------------------------------------------------
def _export_path(notebook: Notebook, what: str, suffix: str = ".md") -> Path:
    EXPORTS.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=EXPORTS))  # one folder per export: the file keeps a readable name
    return folder / f"{slug(notebook.name)}-{what}{suffix}"


def export(notebook: Notebook, chat_id: str, history: list[dict], turns: list[Turn], what: str = "notebook") -> str:
    """A file to download: the open chat, the notes or the whole notebook as Markdown, or the notebook file."""
    if what == "file":
        return str(export_notebook(notebook, _export_path(notebook, "notebook", FILE_SUFFIX)))
    if what == "chat":
        title = (
            Chats(notebook.path).get(chat_id).title if chat_id and Chats(notebook.path).get(chat_id) else ""
        ) or "Chat"
        answers = iter(turns or [])
        messages = []
        for m in handlers.plain_history(history):
            turn = next(answers, None) if m["role"] == "assistant" else None
            messages.append(Message(m["role"], m["content"], turn.answer if turn else None))
        text = chat_markdown(title, messages)
    elif what == "notes":
        text = notes_markdown(notebook.name, Notes(notebook.path).list())
    else:
        text = notebook_markdown(notebook)
    path = _export_path(notebook, what)
    path.write_text(text, encoding="utf-8")
    return str(path)
