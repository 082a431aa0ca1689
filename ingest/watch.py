"""A live folder: watch files and folders and keep a notebook's index in step with them, debounced."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ingest.loaders import SUPPORTED_SUFFIXES, source_path
from rag.errors import NotebookError
from rag.types import IndexReport

# What can change the index: a directory's own "modified" (its listing changed) and opens/reads cannot.
EVENTS = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
MAX_DELAY_FACTOR = 10  # a folder that never goes quiet is still indexed every 10 debounce intervals


class FolderWatcher:
    """Keeps a notebook's index in step with files and folders as files appear, change and disappear.

    File events are collected; when none came for `debounce` seconds (settings.watch_debounce) the batch is
    applied in one `Notebook.index` run: new and changed files indexed, the sources of vanished files and
    folders removed, a bad file named in one line (stderr) while the others are indexed. Hidden files, the
    notebook's data folder and unsupported file types are ignored, as `rag index` ignores them in a folder.

    `with FolderWatcher(nb, ["docs/"]):` watches in a background thread; `run()` watches in this one until
    `stop()` or Ctrl-C (the CLI). `on_report(report)` gets each run's IndexReport, the first catch-up included.
    """

    def __init__(
        self,
        notebook: Any,
        paths: Iterable[str | Path],
        debounce: float | None = None,
        on_report: Callable[[IndexReport], object] | None = None,
        progress: bool = False,
    ) -> None:
        self.notebook = notebook
        self.roots = [Path(os.path.abspath(p)) for p in paths]
        missing = [str(p) for p in self.roots if not p.exists()]
        if missing:
            raise NotebookError(f"no such file or directory: {', '.join(missing)}")
        self._folders = {p for p in self.roots if p.is_dir()}
        self.debounce = notebook.settings.watch_debounce if debounce is None else debounce
        self.on_report = on_report or (lambda report: None)
        self.progress = progress  # print the summary of each run (and a progress bar while embedding), as rag index
        self.busy = False  # a batch is being applied
        self._data = Path(os.path.realpath(notebook.path))
        self._pending: dict[Path, float] = {}  # path -> when first seen in this batch
        self._last_event = 0.0
        self._changed = threading.Condition()
        self._stopping = False
        self._observer: Any = None
        self._watches: dict[Path, Any] = {}  # each watched folder's recursive watch (ObservedWatch)
        self._thread: threading.Thread | None = None

    # ---- events -------------------------------------------------------------------------------------------
    def wanted(self, path: Path, is_directory: bool) -> bool:
        """Whether a changed path can matter to the index: a watched file, or under a watched folder a supported
        file type or a folder (not hidden, not the notebook's data folder), as `rag index FOLDER` walks it."""
        if Path(os.path.realpath(path)).is_relative_to(self._data):
            return False
        for root in self.roots:
            if path == root:  # a file watched by name, whatever its type (rag index names a bad one), or a root gone
                return True
            if root in self._folders and path.is_relative_to(root):
                if any(part.startswith(".") for part in path.relative_to(root).parts):
                    return False
                return is_directory or path.suffix.lower() in SUPPORTED_SUFFIXES
        return False

    def note(self, path: str | bytes, is_directory: bool) -> None:
        """A path that changed (called from watchdog's thread): part of the next batch if it can matter."""
        changed = Path(os.fsdecode(path))
        if not self.wanted(changed, is_directory):
            return
        with self._changed:
            now = time.monotonic()
            self._pending.setdefault(changed, now)
            self._last_event = now
            self._changed.notify_all()

    def _next_batch(self) -> list[Path]:
        """Wait for changes, then until none came for `debounce` seconds; the changed paths ([] when stopping)."""
        with self._changed:
            while not self._pending and not self._stopping:
                self._changed.wait(1.0)
            while not self._stopping:
                now = time.monotonic()
                quiet_at = self._last_event + self.debounce
                latest = min(self._pending.values()) + max(MAX_DELAY_FACTOR * self.debounce, self.debounce)
                wait = min(quiet_at, latest) - now
                if wait <= 0:
                    break
                self._changed.wait(wait)
            if self._stopping:
                return []
            batch = sorted(self._pending)
            self._pending.clear()
            return batch

    # ---- applying a batch ---------------------------------------------------------------------------------
    def _source_name(self, path: Path) -> str:
        """A path as the indexer names its source: relative to the notebook's home when inside it."""
        named = source_path(path, path.parent)
        try:
            return named.relative_to(self.notebook.home).as_posix()
        except ValueError:
            return named.as_posix()

    def _vanished_sources(self, gone: list[Path]) -> list[str]:
        """Indexed sources whose file is gone: a deleted or moved-away file, or any file under a vanished folder."""
        names = [self._source_name(p) for p in gone]
        out = []
        for source in self.notebook.chunk_index.committed():
            under = any(source == n or source.startswith(n + "/") for n in names)
            if under and not os.path.lexists(self.notebook.source_file(source)):
                out.append(source)
        return sorted(out)

    def apply(self, batch: list[Path]) -> IndexReport | None:
        """Index what changed in `batch` in one run: existing paths indexed, vanished sources removed."""
        present = [p for p in batch if os.path.lexists(p)]
        gone = [p for p in batch if not os.path.lexists(p)]
        # A vanished file passed to index() by name is removed by the same run (the indexer's own rule).
        vanished = [self.notebook.source_file(s) for s in self._vanished_sources(gone)] if gone else []
        paths = present + vanished
        if not paths:
            return None
        self.busy = True
        try:
            report = self.notebook.index(*paths, progress=self.progress, should_stop=lambda: self._stopping)
        finally:
            self.busy = False
        self.on_report(report)
        return report

    def catch_up(self) -> IndexReport:
        """Index the watched paths whole (what changed while nobody watched)."""
        self.busy = True
        try:
            report = self.notebook.index(*self.roots, progress=self.progress, should_stop=lambda: self._stopping)
        finally:
            self.busy = False
        self.on_report(report)
        return report

    # ---- running ------------------------------------------------------------------------------------------
    def _observe(self) -> None:
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                watcher.note(event.src_path, event.is_directory)
                if event.dest_path:  # a move: the old name vanished, the new one appeared
                    watcher.note(event.dest_path, event.is_directory)

        class ParentHandler(FileSystemEventHandler):
            """A watched folder's parent: the folder deleted and made again (its own watch ended with it)."""

            def on_any_event(self, event: FileSystemEvent) -> None:
                for path in (event.src_path, event.dest_path):
                    root = Path(os.fsdecode(path)) if path else None
                    if root in watcher._folders:
                        if os.path.isdir(root):
                            watcher._watch_folder(root, Handler())
                        watcher.note(str(root), True)  # indexed whole, or its sources removed

        self._observer = Observer()
        self._handler = Handler()
        for root in self.roots:
            if root in self._folders:
                self._watch_folder(root, self._handler)
                if root.parent != root:
                    self._observer.schedule(ParentHandler(), str(root.parent), recursive=False, event_filter=EVENTS)
            else:  # a file is watched through its folder
                self._observer.schedule(self._handler, str(root.parent), recursive=False, event_filter=EVENTS)
        self._observer.daemon = True
        self._observer.start()

    def _watch_folder(self, root: Path, handler: FileSystemEventHandler) -> None:
        """(Re)start the recursive watch of a watched folder: one made again after a delete has a new inode that
        the old watch does not see."""
        old = self._watches.pop(root, None)
        if old is not None:
            try:
                self._observer.unschedule(old)
            except (KeyError, OSError):  # its emitter already ended with the deleted folder
                pass
        try:
            self._watches[root] = self._observer.schedule(handler, str(root), recursive=True, event_filter=EVENTS)
        except OSError as err:  # gone again already: the parent's next event tells
            print(f"rag: cannot watch {root}: {err.strerror or err}", file=sys.stderr, flush=True)

    def run(self, catch_up: bool = True) -> None:
        """Watch in this thread until stop() (KeyboardInterrupt propagates): catch up first, then apply each
        batch. A batch that fails (a read-only data folder, a full disk) is named in one line; the watch goes on."""
        self._observe()
        self._loop(catch_up)

    def start(self, catch_up: bool = True) -> Self:
        """Watch in a background thread; returns once events are being collected (the catch-up runs there)."""
        self._observe()
        self._thread = threading.Thread(target=self._loop, args=(catch_up,), name="rag-watch", daemon=True)
        self._thread.start()
        return self

    def _loop(self, catch_up: bool) -> None:
        try:
            if catch_up:
                self._guarded(self.catch_up)
            while not self._stopping:
                batch = self._next_batch()
                if batch:
                    self._guarded(self.apply, batch)
        finally:
            self._stop_observer()

    def _guarded(self, work: Callable[..., object], *args: object) -> None:
        try:
            work(*args)
        except KeyboardInterrupt:
            if not self._stopping:  # Ctrl-C: the caller's to handle; stop(): the run ended at a batch boundary
                raise
        except NotebookError as err:
            print(f"rag: {' '.join(str(err).split())}", file=sys.stderr, flush=True)
        except Exception as err:  # noqa: BLE001 — one line, and the folder stays watched
            print(f"rag: unexpected {type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr, flush=True)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; a run in progress stops at its next batch (what it committed stays)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._stop_observer()

    def _stop_observer(self) -> None:
        if self._observer is not None and self._observer.is_alive():
            self._observer.stop()
            self._observer.join(5.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
