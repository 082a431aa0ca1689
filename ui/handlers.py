"""What the page's events do: ask, search, open a citation, upload, remove, re-index, relabel (testable without the app)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Notebook
from rag.errors import BackendUnavailable
from rag.llm import BACKENDS
from rag.types import accumulate
from ui import render, session
from ui.labels import LANGUAGES, labels, pick_language
from ui.session import Turn
from ui.uploads import MAX_DOCUMENT_UPLOAD_MB, MAX_UPLOAD_MB, UploadError, original_name, save_upload, upload_limit_mb

log = logging.getLogger(__name__)


def error_line(err: BaseException) -> str:
    """An unexpected error as one line for the page: its type and message (the traceback goes to the log)."""
    message = str(err).strip().splitlines()
    return f"{type(err).__name__}: {message[0]}" if message else type(err).__name__


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
        out.append((f"{title} · {Path(s.get('name') or s['source']).name}", s["source"]))
    return out


def refreshed_sources(notebook: Notebook, selected: list[str] | None, picked: str | None = None) -> tuple[Any, Any]:
    """The scope checkboxes and the remove picker after a change in the documents. What the page has ticked
    (`selected`) and picked (`picked`) is left as the page has it: an update carrying a value would undo a tick or a
    pick the user made while it was on its way (a timer's refresh landing between picking a document and pressing
    remove). Only a document that is gone is unticked, and a picked one that is gone unpicked."""
    choices = source_choices(notebook)
    known = {value for _, value in choices}
    ticked = list(selected or [])
    kept = [s for s in ticked if s in known]
    scope = gr.update(choices=choices) if kept == ticked else gr.update(choices=choices, value=kept)
    remove = gr.update(choices=choices) if picked in known else gr.update(choices=choices, value=None)
    return scope, remove


# ---- chat ---------------------------------------------------------------------------------------------------
def add_question(question: str, history: list[dict]) -> tuple[Any, ...]:
    """Move the typed question into the chat (the box empties, the passages panel clears)."""
    history = plain_history(history)
    if question and question.strip():
        history.append({"role": "user", "content": question.strip()})
        return "", history, ""
    return question, history, gr.skip()


def pick_example(history: list[dict], evt: gr.SelectData) -> tuple[list[dict], str]:
    """An example question clicked in the empty chat, or a suggested follow-up under an answer, becomes the
    user's question."""
    value = evt.value
    text = (value.get("text") or value.get("value") or "") if isinstance(value, dict) else str(value)
    return plain_history(history) + [{"role": "user", "content": text}], ""


def pick_guide_question(history: list[dict], sample: Any) -> tuple[list[dict], str]:
    """A question clicked in the notebook guide becomes the user's question."""
    text = sample[0] if isinstance(sample, (list, tuple)) and sample else str(sample or "")
    return plain_history(history) + [{"role": "user", "content": text}], ""


def example_questions(notebook: Notebook, fallback: list[str], lang: str | None = None) -> list[str]:
    """The page's three example questions: the notebook's own, from its sources' guides (rag.guide), else
    `fallback`."""
    try:
        script = lang if lang in ("zh-Hant", "zh-Hans", "en") else notebook.settings.default_script
        return notebook.guides.overview(script, build=False).questions or fallback
    except Exception:  # a page without examples from guides still opens
        log.exception("the notebook's guides could not be read")
        return fallback


def guide_panel(notebook: Notebook, lang: str) -> tuple[str, Any]:
    """The notebook guide (each source's summary and key terms) and its questions to click, in `lang`."""
    try:
        overview = notebook.guides.overview(lang, build=False)
    except Exception:  # shown empty; the error goes to the server log
        log.exception("the notebook's guides could not be read")
        overview = None
    questions = [q for g in (overview.guides if overview else []) for q in g.questions]
    return render.guide_html(overview, lang), gr.update(samples=[[q] for q in questions], visible=bool(questions))


def respond(
    notebook: Notebook,
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
    """Answer (streamed) or search the chat's last question; yields (chat, turns, passages panel, source panel)."""
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
        sources = session.scope(notebook, selected)
        if mode == "search":
            hits = session.search(notebook, question, int(k), sources)
            history[-1]["content"] = L["found"].format(n=len(hits))
            yield history, turns + [Turn(None, hits)], render.hits_html(hits, turn, show_scores, lang), gr.skip()
            return
        earlier = history[:-2]  # the conversation before this question, for follow-ups
        events = session.ask_events(notebook, question, sources, int(k), backend, model, endpoint, earlier)
        for text, answer in accumulate(events):
            history[-1]["content"] = text
            if answer is None:
                yield history, gr.skip(), gr.skip(), gr.skip()
            else:
                if answer.suggestions:  # clickable under the answer (Chatbot options: option_select asks one)
                    history[-1]["options"] = [{"value": q, "label": q} for q in answer.suggestions]
                passages = render.passages_html(answer, turn, show_scores, lang)
                yield history, turns + [Turn(answer, answer.hits)], passages, render.message_html(L["source_empty"])
    except BackendUnavailable as err:
        history[-1]["content"] = L["no_backend"].format(backend=err)
        yield history, turns + [Turn()], "", gr.skip()
    except Exception as err:  # shown as one line in the chat; the traceback goes to the server log only
        log.exception("answering %r failed", question)
        history[-1]["content"] = L["error"].format(error=error_line(err))
        yield history, turns + [Turn()], "", gr.skip()


def show_citation(notebook: Notebook, key: str, turns: list[Turn], lang: str) -> str:
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
            notebook.source_file(first.source),
            first.name or first.source,
            first.title,
            spans,
            hit.date if hit else None,
            first.section,
            lang,
            first.page if first.page is not None else hit.page if hit else None,
            read=partial(notebook.document, first.source),
            boxes=[box for c in cites for box in c.bbox],
        )
    if kind == "hit" and 0 <= n < len(turn.hits):
        hit = turn.hits[n]
        return render.source_html(
            notebook.source_file(hit.source),
            hit.name or hit.source,
            hit.title,
            [render.Span(hit.start, hit.end, hit.text)],
            hit.date,
            hit.section,
            lang,
            hit.page,
            read=partial(notebook.document, hit.source),
            boxes=hit.boxes_between(hit.start, hit.end),
        )
    return render.message_html(L["cite_missing"])


def chat_api(notebook: Notebook, message: str) -> Iterator[tuple[str, str]]:
    """The /chat endpoint: the streamed reply and, at the end, the cited passages."""
    for text, answer in accumulate(notebook.ask_events(message)):
        yield text, "" if answer is None else render.passages_html(answer)


# ---- documents ----------------------------------------------------------------------------------------------
def upload(
    notebook: Notebook,
    files: list[str] | None,
    selected: list[str],
    lang: str,
    progress: Callable[..., Any] | None = None,  # kept for callers of the former blocking upload; unused
) -> tuple[Any, ...]:
    """Save uploaded files and index them in the background (questions go on meanwhile); (status, scope, remove
    picker, upload box). `indexing_status` reports the progress and shows the documents once they are in."""
    L = labels(lang)
    lines: list[str] = []
    saved: list[Path] = []
    for file in files or []:
        name = original_name(str(file))
        # The check reads the file (a scan is OCR'd then, and cached for the indexing): the page's timer shows its
        # pages under the upload's name, not the hidden name it is checked under.
        read = partial(notebook.document, on_ocr_page=partial(_pages_read_as, notebook, name))
        try:
            saved.append(save_upload(Path(file), session.uploads_folder(notebook), name, read))
        except UploadError as err:
            lines.append(L[err.key].format(name=err.name, mb=upload_limit_mb(err.name), reason=err.reason))
        except OSError as err:
            log.exception("saving upload %s failed", name)
            lines.append(L["error"].format(error=err.strerror or error_line(err)))
        finally:
            notebook.background.ocr_page(name, 0, 0)  # read or not, no page of it is being read any more
    if saved:
        names = ("、" if lang != "en" else ", ").join(path.name for path in saved)
        notebook.index_in_background(saved, names)
        lines.insert(0, L["queued"].format(names=names))
    return ("  \n".join(lines), gr.skip(), gr.skip(), None)


def _pages_read_as(notebook: Notebook, name: str, _checked: str, done: int, total: int) -> None:
    notebook.background.ocr_page(name, done, total)


def indexing_status(
    notebook: Notebook, selected: list[str], lang: str, seen: int = 0, picked: str | None = None
) -> tuple[Any, ...]:
    """What the page's timer shows: the reports of the jobs finished since this page last looked (`seen`: how many
    it has shown; every tab shows every report) and their documents in the lists, else the pages of a scan OCR'd
    so far, else the progress of the job being indexed, else nothing new; (status, scope, remove picker, seen)."""
    L = labels(lang)
    indexer = notebook.background
    finished, count = indexer.finished_since(int(seen or 0))
    if finished:
        lines = []
        for job in finished:
            if isinstance(job.error, KeyboardInterrupt):
                lines.append(L["stopped"].format(name=job.name))
            elif job.error is not None:
                lines.append(L["error"].format(error=error_line(job.error)))
            elif job.report is not None:
                lines.append(render.report_text(job.report, lang))
        return ("  \n".join(lines), *refreshed_sources(notebook, selected, picked), count)
    reading, now = indexer.reading(), indexer.progress()
    if reading is not None:  # a scan's pages being OCR'd, by an upload's check or a job: the slow step
        name, done, total = reading
        return L["ocr_progress"].format(name=name, done=done, total=total), gr.skip(), gr.skip(), gr.skip()
    if now is None:
        return gr.skip(), gr.skip(), gr.skip(), count if count != seen else gr.skip()
    name, done, total, _waiting = now
    return L["progress"].format(name=name, done=done, total=total or "…"), gr.skip(), gr.skip(), gr.skip()


def remove(notebook: Notebook, source: str | None, selected: list[str], lang: str) -> tuple[Any, ...]:
    """Take the picked source out (its file too when the UI put it there); (status, scope, remove picker)."""
    L = labels(lang)
    if not source:
        return (L["pick_first"], gr.skip(), gr.skip())
    if notebook.background.busy():  # the writer lock would hold this event (and the questions) until then
        return (L["busy"], gr.skip(), gr.skip())
    title = next((s["title"] for s in notebook.sources() if s["source"] == source), source)
    try:
        deleted = session.remove_source(notebook, source)
    except Exception as err:
        log.exception("removing %s failed", source)
        return (L["error"].format(error=error_line(err)), gr.skip(), gr.skip())
    note = L["removed_file"] if deleted else L["removed_index"]
    return (f"{L['removed'].format(title=title, file=source)} {note}", *refreshed_sources(notebook, selected))


def reindex(
    notebook: Notebook,
    selected: list[str],
    lang: str,
    progress: Callable[..., Any] | None = None,  # see upload
) -> tuple[Any, ...]:
    """Bring the index in step with its folders (session.reindex_paths), in the background; (status, scope, remove picker)."""
    L = labels(lang)
    paths = session.reindex_paths(notebook)
    if not paths:  # nb.index() of nothing would index seeds/ into a notebook that never had them
        return (L["nothing_to_index"], gr.skip(), gr.skip())
    names = " + ".join(f"{path.name}/" for path in paths)
    notebook.index_in_background(paths, names)
    return (L["queued"].format(names=names), gr.skip(), gr.skip())


# ---- language -----------------------------------------------------------------------------------------------
def detect_language(browser_language: str) -> str:
    return pick_language(browser_language)


# The page's labelled components by elem_id, each with the update that relabels it in a language.
RELABEL: dict[str, Callable[[dict[str, str]], Any]] = {
    "title": lambda L: gr.update(value=L["title"]),
    "sources-heading": lambda L: gr.update(value=L["sources_heading"]),
    "scope": lambda L: gr.update(label=L["scope"], info=L["scope_info"]),
    "manage": lambda L: gr.update(label=L["manage"]),
    "notebooks": lambda L: gr.update(label=L["notebooks"]),
    "notebook-pick": lambda L: gr.update(label=L["notebook_pick"]),
    "nb-name": lambda L: gr.update(label=L["nb_name"]),
    "nb-new": lambda L: gr.update(value=L["nb_new"]),
    "nb-rename": lambda L: gr.update(value=L["nb_rename"]),
    "nb-delete": lambda L: gr.update(value=L["nb_delete"]),
    "nb-import-label": lambda L: gr.update(value=L["nb_import"]),
    "upload": lambda L: gr.update(label=L["upload_label"]),
    "upload-limits": lambda L: gr.update(value=L["upload"].format(mb=MAX_UPLOAD_MB, doc_mb=MAX_DOCUMENT_UPLOAD_MB)),
    "remove-pick": lambda L: gr.update(label=L["remove_pick"]),
    "remove": lambda L: gr.update(value=L["remove"]),
    "reindex": lambda L: gr.update(value=L["reindex"]),
    "settings": lambda L: gr.update(label=L["settings"]),
    "guide": lambda L: gr.update(label=L["guide"]),
    "backend": lambda L: gr.update(label=L["backend"], choices=[(L.get(f"backend_{n}", n), n) for n in BACKENDS]),
    "model": lambda L: gr.update(label=L["model"]),
    "endpoint": lambda L: gr.update(label=L["endpoint"]),
    "k": lambda L: gr.update(label=L["k"]),
    "scores": lambda L: gr.update(label=L["scores"]),
    "chatbot": lambda L: gr.update(label=L["chat"], placeholder=L["chat_placeholder"]),
    "question": lambda L: gr.update(label=L["question"], placeholder=L["placeholder"]),
    "mode": lambda L: gr.update(choices=[(L["mode_answer"], "answer"), (L["mode_search"], "search")]),
    "source-heading": lambda L: gr.update(value=L["source_heading"]),
    "passages-heading": lambda L: gr.update(value=L["passages_heading"]),
    "chat-pick": lambda L: gr.update(label=L["chats"]),
    "new-chat": lambda L: gr.update(value=L["new_chat"]),
    "delete-chat": lambda L: gr.update(value=L["delete_chat"]),
    "save-note": lambda L: gr.update(value=L["save_note"]),
    "notes": lambda L: gr.update(label=L["notes"]),
    "note-search": lambda L: gr.update(label=L["note_search"]),
    "note-pick": lambda L: gr.update(label=L["note_pick"]),
    "note-title": lambda L: gr.update(label=L["note_title"]),
    "note-body": lambda L: gr.update(label=L["note_body"]),
    "note-save": lambda L: gr.update(value=L["note_save"]),
    "note-new": lambda L: gr.update(value=L["note_new"]),
    "note-delete": lambda L: gr.update(value=L["note_delete"]),
    "note-source": lambda L: gr.update(value=L["note_source"]),
    "export": lambda L: gr.update(label=L["export"]),
    **{
        f"export-{w}": (lambda L, w=w: gr.update(value=L[f"export_{w}"])) for w in ("chat", "notes", "notebook", "file")
    },
    "download": lambda L: gr.update(label=L["download"]),
}
# The source panel's "click a citation" text in every language: only that (not an open document) is relabelled.
SOURCE_PLACEHOLDERS = {render.message_html(labels(code)["source_empty"]) for _, code in LANGUAGES}


def relabel(language: str, panel: str) -> list[Any]:
    """Updates for every component in RELABEL (in its order), then the source panel's."""
    L = labels(language)
    updates = [update(L) for update in RELABEL.values()]
    source_panel = (
        gr.update(value=render.message_html(L["source_empty"])) if panel in SOURCE_PLACEHOLDERS else gr.skip()
    )
    return [*updates, source_panel]
