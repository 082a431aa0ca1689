"""What the UI does to a notebook beyond its API: ask with k and a backend, find a source's file, remove a source."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag import Notebook
from rag.llm import BackendUnavailable, backends
from rag.types import Answer, AnswerEvent, Hit

DEFAULT_BACKEND = "extractive"
# Settings fields the model and endpoint textboxes set, when the notebook's settings have them.
MODEL_FIELD, ENDPOINT_FIELD = "llm_model", "llm_base_url"
_answerers: dict[tuple, object] = {}  # answerers built for a backend/model/endpoint other than the notebook's


@dataclass
class Turn:
    """One assistant message: its answer (None in search-only mode) and the passages it was given."""

    answer: Answer | None = None
    hits: list[Hit] = field(default_factory=list)


def home(notebook: Notebook) -> Path:
    """The notebook's home: the parent of its data folder, to which sources are relative."""
    return notebook.path.resolve().parent


def uploads_folder(notebook: Notebook) -> Path:
    """Where browser uploads are saved: uploads/ in the notebook home."""
    from ui.uploads import UPLOADS_FOLDER

    return home(notebook) / UPLOADS_FOLDER


def source_path(notebook: Notebook, source: str) -> Path:
    """The file of an indexed source (relative to the home, or absolute)."""
    path = Path(source)
    return path if path.is_absolute() else home(notebook) / path


def answer_backends(notebook: Notebook) -> list[tuple[str, str]]:
    """(label, name) for the backend picker, from the rag.llm registry."""
    return [(b["label"], b["name"]) for b in backends(notebook.settings)]


def setting(notebook: Notebook, name: str, default: str = "") -> str:
    """A settings value as text, "" when this notebook's settings have no such field."""
    return str(getattr(notebook.settings, name, default) or default)


def answering_view(notebook: Notebook, k: int, backend: str = "", model: str = "", endpoint: str = "") -> Notebook:
    """The notebook as one request wants it (k passages, a backend, model, endpoint) without changing it for others.

    A shallow copy shares the loaded models, store and index; only an answerer for other settings is built
    (once, then cached).
    """
    fields = type(notebook.settings).model_fields
    wanted = {"k": int(k), "backend": backend, MODEL_FIELD: model, ENDPOINT_FIELD: endpoint}
    updates = {
        name: value
        for name, value in wanted.items()
        if value not in ("", None) and name in fields and getattr(notebook.settings, name) != value
    }
    if not updates:
        return notebook
    _ = notebook.retriever, notebook.answerer  # loaded once on the shared notebook, not on each view
    view = copy.copy(notebook)
    view.settings = notebook.settings.model_copy(update=updates)
    if set(updates) - {"k"}:
        key = (id(notebook), view.settings.backend, setting(view, MODEL_FIELD), setting(view, ENDPOINT_FIELD))
        view.__dict__.pop("answerer", None)
        if key not in _answerers:
            _answerers[key] = view.answerer
        view.__dict__["answerer"] = _answerers[key]
    return view


def scope(notebook: Notebook, selected: list[str] | None) -> list[str] | None:
    """The sources to pass to search/ask: None (all) when nothing or everything is checked."""
    if not selected:
        return None
    known = {s["source"] for s in notebook.sources()}
    chosen = [s for s in selected if s in known]
    return None if not chosen or set(chosen) == known else chosen


def ask_events(
    notebook: Notebook,
    question: str,
    sources: list[str] | None = None,
    k: int | None = None,
    backend: str = DEFAULT_BACKEND,
    model: str = "",
    endpoint: str = "",
    history: list[dict] | None = None,
) -> Iterator[AnswerEvent]:
    """Delta pieces then Final(Answer), from the chosen backend (model and endpoint are for backends that use them).

    `history` (earlier role/content messages) is passed on when the notebook takes it (to rewrite follow-ups).
    """
    if backend and backend not in {name for _, name in answer_backends(notebook)}:
        raise BackendUnavailable(backend)
    view = answering_view(notebook, k or notebook.settings.k, backend, model, endpoint)
    if history and "history" in inspect.signature(view.ask_events).parameters:
        yield from view.ask_events(question, sources, history=history)
    else:
        yield from view.ask_events(question, sources)


def search(notebook: Notebook, question: str, k: int | None = None, sources: list[str] | None = None) -> list[Hit]:
    """The top-k passages without an answer."""
    return notebook.search(question, k or notebook.settings.k, sources)


def removable_folders(notebook: Notebook) -> list[Path]:
    """Folders whose files the UI may delete: the uploads folder and the seeds folder."""
    return [uploads_folder(notebook).resolve(), Path(notebook.settings.seeds).resolve()]


def remove_source(notebook: Notebook, source: str) -> bool:
    """Take a source out of the notebook; its file is deleted when it lives in uploads/ or seeds/. True if deleted."""
    path = source_path(notebook, source).resolve()
    if path.is_file() and any(path.is_relative_to(folder) for folder in removable_folders(notebook)):
        path.unlink()
        notebook.index(path, progress=False)  # a named file that is gone: its chunks leave the index
        return True
    ids = list(notebook.store.metadata_by_source().get(source, {}))
    notebook.store.delete(ids)
    notebook.keywords.sync(notebook.store)
    return False
