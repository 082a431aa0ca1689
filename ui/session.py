"""What one UI request does with the notebook: ask with its own k and backend, scope to sources, find and remove
files, index uploads in the background."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag import Notebook
from rag.llm import BackendUnavailable, backends
from rag.types import Answer, AnswerEvent, Hit, IndexReport
from ui.uploads import UPLOADS_FOLDER

DEFAULT_BACKEND = "extractive"
log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One assistant message: its answer (None in search-only mode) and the passages it was given."""

    answer: Answer | None = None
    hits: list[Hit] = field(default_factory=list)


def uploads_folder(notebook: Notebook) -> Path:
    """Where browser uploads are saved: uploads/ in the notebook's home."""
    return notebook.home / UPLOADS_FOLDER


def answer_backends(notebook: Notebook) -> list[tuple[str, str]]:
    """(label, name) for the backend picker."""
    return [(b["label"], b["name"]) for b in backends(notebook.settings)]


def answering_view(notebook: Notebook, k: int, backend: str = "", model: str = "", endpoint: str = "") -> Notebook:
    """The notebook as one request wants it (k passages, a backend, model, endpoint), unchanged for others;
    an empty text field keeps the notebook's own setting."""
    wanted = {"k": int(k), "backend": backend, "llm_model": model, "llm_base_url": endpoint}
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
    backend: str = DEFAULT_BACKEND,
    model: str = "",
    endpoint: str = "",
    history: list[dict] | None = None,
) -> Iterator[AnswerEvent]:
    """Delta pieces then Final(Answer), from the chosen backend (model and endpoint are for backends that use them);
    `history` (earlier role/content messages) lets a generative backend rewrite a follow-up."""
    if backend and backend not in {name for _, name in answer_backends(notebook)}:
        raise BackendUnavailable(backend)
    view = answering_view(notebook, k or notebook.settings.k, backend, model, endpoint)
    yield from view.ask_events(question, sources, history=history or None)


def search(notebook: Notebook, question: str, k: int | None = None, sources: list[str] | None = None) -> list[Hit]:
    """The top-k passages without an answer."""
    return notebook.search(question, k or notebook.settings.k, sources)


def removable_folders(notebook: Notebook) -> list[Path]:
    """Folders whose files the UI may delete: the uploads folder and the seeds folder."""
    return [uploads_folder(notebook).resolve(), Path(notebook.settings.seeds).resolve()]


def remove_source(notebook: Notebook, source: str) -> bool:
    """Take a source out of the notebook; its file is deleted when it lives in uploads/ or seeds/. True if deleted."""
    path = notebook.source_file(source).resolve()
    deleted = path.is_file() and any(path.is_relative_to(folder) for folder in removable_folders(notebook))
    if deleted:
        path.unlink()
    notebook.remove(source)
    return deleted


# ---- indexing in the background ------------------------------------------------------------------------------
@dataclass
class Job:
    """Files or folders to bring into the index, under the name the page shows while they are indexed."""

    name: str
    paths: list[Path]
    report: IndexReport | None = None
    error: BaseException | None = None


class BackgroundIndexer:
    """Indexes a notebook's uploads and re-index requests in one thread, a job at a time, so that questions are
    answered meanwhile from what is committed (a file appears whole once its chunks are in, never a part of it).

    The page polls `progress()` and `take_finished()`; `stop()` ends the current job at its next batch (its
    finished files stay; the rest is finished by the next re-index) for a clean shutdown.
    """

    def __init__(self, notebook: Notebook):
        self.notebook = notebook
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._finished: list[Job] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self.current: Job | None = None
        self.done = self.total = 0  # chunks embedded so far in the current job, of all it embeds

    def submit(self, name: str, paths: list[Path]) -> Job:
        job = Job(name, list(paths))
        with self._lock:
            self._idle.clear()
            self._jobs.put(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="background-indexing", daemon=True)
                self._thread.start()
        return job

    def busy(self) -> bool:
        return not self._idle.is_set()

    def progress(self) -> tuple[str, int, int, int] | None:
        """(name of the job being indexed, chunks embedded, chunks to embed, jobs waiting), or None when idle."""
        job = self.current
        return None if job is None else (job.name, self.done, self.total, self._jobs.qsize())

    def take_finished(self) -> list[Job]:
        """The jobs finished since the last call, oldest first."""
        with self._lock:
            finished, self._finished = self._finished, []
        return finished

    def wait(self, timeout: float | None = None) -> bool:
        """Until every submitted job is done (True) or the timeout passed (False)."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """End the current job at its next batch and take no more; wait up to `timeout` for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _work(self) -> None:
        try:  # Linux schedules threads on their own: questions' threads get the CPU first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=0.5)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._idle.set()
                        self._thread = None
                        return
                continue
            self.current, self.done, self.total = job, 0, 0
            try:
                job.report = self.notebook.index(
                    *job.paths, progress=False, on_progress=self._progress, should_stop=self._stop.is_set
                )
            except KeyboardInterrupt as err:  # stop(): the server is shutting down
                job.error = err
            except Exception as err:  # shown as one line on the page; the traceback goes to the server log
                log.exception("indexing %s failed", job.name)
                job.error = err
            with self._lock:
                self.current = None
                self._finished.append(job)
        self._idle.set()


_indexers: dict[int, BackgroundIndexer] = {}
_indexers_lock = threading.Lock()


def background(notebook: Notebook) -> BackgroundIndexer:
    """The notebook's background indexer (one per notebook, made on first use)."""
    with _indexers_lock:
        indexer = _indexers.get(id(notebook))
        if indexer is None or indexer.notebook is not notebook:
            indexer = _indexers[id(notebook)] = BackgroundIndexer(notebook)
        return indexer


def stop_background(timeout: float = 5.0) -> bool:
    """Stop every background indexer (a server shutting down): each ends at its next batch. True when all
    their threads ended within `timeout` seconds."""
    with _indexers_lock:
        indexers = list(_indexers.values())
    for indexer in indexers:
        indexer._stop.set()
    end = time.monotonic() + timeout
    for indexer in indexers:
        indexer.stop(max(0.0, end - time.monotonic()))
    return not any(i._thread is not None and i._thread.is_alive() for i in indexers)


def reindex_paths(notebook: Notebook) -> list[Path]:
    """What "re-index" brings in step: the seeds folder and the uploads folder (when there is one)."""
    uploads = uploads_folder(notebook)
    return [Path(notebook.settings.seeds)] + ([uploads] if uploads.is_dir() else [])
