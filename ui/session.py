"""What one UI request does with the notebook: ask with its own k and backend, scope to sources, find and remove
files (the notebook indexes uploads in the background: Notebook.index_in_background)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag import Notebook
from rag.errors import BackendUnavailable
from rag.llm import backends
from rag.types import Answer, AnswerEvent, Hit
from ui.uploads import UPLOADS_FOLDER


@dataclass
class Turn:
    """One assistant message: its answer (None in search-only mode) and the passages it was given."""

    answer: Answer | None = None
    hits: list[Hit] = field(default_factory=list)


def uploads_folder(notebook: Notebook) -> Path:
    """Where browser uploads are saved: uploads/ in the data folder of one of several notebooks, else (a data
    folder of its own, as before there were several) uploads/ in the notebook's home."""
    from rag.notebooks import NOTEBOOKS_FOLDER

    if notebook.path.resolve().parent.name == NOTEBOOKS_FOLDER:
        return notebook.path.resolve() / UPLOADS_FOLDER
    return notebook.home / UPLOADS_FOLDER


def answer_backends(notebook: Notebook, lang: str | None = None) -> list[tuple[str, str]]:
    """(label, name) for the backend picker, labelled in the page's language."""
    from ui.labels import labels

    L = labels(lang)
    return [(L.get(f"backend_{b['name']}", b["label"]), b["name"]) for b in backends(notebook.settings)]


def answering_view(
    notebook: Notebook, k: int | None, backend: str = "", model: str = "", endpoint: str = ""
) -> Notebook:
    """The notebook as one request wants it (k passages, a backend, model, endpoint), unchanged for others;
    an empty text field keeps the notebook's own setting."""
    wanted = {"k": notebook.settings.checked_k(k), "backend": backend, "llm_model": model, "llm_base_url": endpoint}
    return notebook.with_settings(**{name: value for name, value in wanted.items() if value not in ("", None)})


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
    backend: str = "",
    model: str = "",
    endpoint: str = "",
    history: list[dict] | None = None,
) -> Iterator[AnswerEvent]:
    """Delta pieces then Final(Answer), from the chosen backend (model and endpoint are for backends that use them);
    `history` (earlier role/content messages) lets a generative backend rewrite a follow-up; an empty backend,
    model or endpoint keeps the notebook's own setting."""
    if backend and backend not in {name for _, name in answer_backends(notebook)}:
        raise BackendUnavailable(backend)  # the page words it: labels' no_backend
    view = answering_view(notebook, k, backend, model, endpoint)
    yield from view.ask_events(question, sources, history=history or None)


def search(notebook: Notebook, question: str, k: int | None = None, sources: list[str] | None = None) -> list[Hit]:
    """The top-k passages without an answer."""
    return notebook.search(question, k, sources)


def own_copies(notebook: Notebook) -> list[Path]:
    """Folders of the notebook's own copies of documents, in its data folder: the notes added as documents and the
    sources an imported notebook file brought."""
    from rag.export import SOURCES_FOLDER
    from rag.notes import NOTES_FOLDER

    return [notebook.path.resolve() / NOTES_FOLDER, notebook.path.resolve() / SOURCES_FOLDER]


def removable_folders(notebook: Notebook) -> list[Path]:
    """Folders whose files the UI may delete: the uploads folder, the seeds folder and the notebook's own copies
    (a removed document left there would come back at the next re-index)."""
    return [uploads_folder(notebook).resolve(), Path(notebook.settings.seeds).resolve(), *own_copies(notebook)]


def remove_source(notebook: Notebook, source: str) -> bool:
    """Take a source out of the notebook; its file is deleted when it lives in uploads/ or seeds/. True if deleted."""
    path = notebook.source_file(source).resolve()
    deleted = path.is_file() and any(path.is_relative_to(folder) for folder in removable_folders(notebook))
    if deleted:
        path.unlink()
    notebook.remove(source)
    return deleted


def reindex_paths(notebook: Notebook) -> list[Path]:
    """What "re-index" brings in step: the uploads folder and the notebook's own copies (when there are), and
    the seeds folder when the notebook holds a document from it (a new notebook never gets the sample posts)."""
    seeds = Path(notebook.settings.seeds).resolve()
    has_seeds = any(notebook.source_file(s["source"]).resolve().is_relative_to(seeds) for s in notebook.sources())
    folders = [uploads_folder(notebook), *own_copies(notebook)]
    return ([seeds] if has_seeds else []) + [folder for folder in folders if folder.is_dir()]
