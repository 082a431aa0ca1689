"""A notebook's background indexing: uploads and re-index requests indexed in one thread, a job at a time, while
questions are answered from what is committed."""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.types import IndexReport

if TYPE_CHECKING:
    from rag.notebook import Notebook

log = logging.getLogger(__name__)


@dataclass
class Job:
    """Files or folders to bring into the index, under the name the page shows while they are indexed."""

    name: str
    paths: list[Path]
    report: IndexReport | None = None
    error: BaseException | None = None


FINISHED_KEPT = 50  # finished jobs remembered for pages that have not shown them yet


class BackgroundIndexer:
    """Indexes a notebook's uploads and re-index requests in one thread, a job at a time, so that questions are
    answered meanwhile from what is committed (a file appears whole once its chunks are in, never a part of it).

    The page polls `progress()` and `take_finished()`; `stop()` ends the current job at its next batch (its
    finished files stay; the rest is finished by the next re-index) for a clean shutdown.
    """

    def __init__(self, notebook: Notebook):
        self.notebook = notebook
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._finished: list[Job] = []  # for take_finished
        self._recent: list[Job] = []  # for finished_since
        self._finished_count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self.current: Job | None = None
        self.done = self.total = 0  # chunks embedded so far in the current job, of all it embeds
        self._reading: tuple[str, int, int] | None = None  # the scan being OCR'd: (name, pages read, pages)

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

    def ocr_page(self, name: str, done: int, total: int) -> None:
        """A page of `name` OCR'd (`done` of `total`), by a job or by an upload's check before it is queued; the
        last page clears it."""
        self._reading = (name, done, total) if done < total else None

    def reading(self) -> tuple[str, int, int] | None:
        """(name of the scan being OCR'd, pages read, pages to read), or None when no page is being read."""
        return self._reading

    def finished_since(self, seen: int) -> tuple[list[Job], int]:
        """The jobs finished after the first `seen` ones (of the last FINISHED_KEPT), and how many have finished:
        each open page keeps its own count, so every tab reports every job, not only the first to ask."""
        with self._lock:
            count = self._finished_count
            kept = self._recent[max(0, len(self._recent) - (count - seen)) :] if seen < count else []
        return kept, count

    def take_finished(self) -> list[Job]:
        """The jobs finished since the last call, oldest first."""
        with self._lock:
            finished, self._finished = self._finished, []
        return finished

    def wait(self, timeout: float | None = None) -> bool:
        """Until every submitted job is done (True) or the timeout passed (False)."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 5.0) -> bool:
        """End the current job at its next batch and take no more; wait up to `timeout` for the thread. True when
        it ended in time (a batch in native code cannot be interrupted: it ends when the batch does)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    close = stop  # Notebook.close() stops it with the rest of the notebook

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
                    *job.paths,
                    progress=False,
                    on_progress=self._progress,
                    should_stop=self._stop.is_set,
                    on_ocr_page=self.ocr_page,
                )
            except KeyboardInterrupt as err:  # stop(): the server is shutting down
                job.error = err
            except Exception as err:  # shown as one line on the page; the traceback goes to the server log
                log.exception("indexing %s failed", job.name)
                job.error = err
            with self._lock:
                self.current, self._reading = None, None
                self._finished.append(job)
                self._recent = [*self._recent[-(FINISHED_KEPT - 1) :], job]
                self._finished_count += 1
        self._idle.set()
