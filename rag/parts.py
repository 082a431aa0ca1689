"""A notebook's loaded parts (models, index, retrievers, answerers): each built once per key, shared with its views,
loaded side by side by a preload, and closed with the notebook."""

from __future__ import annotations

import importlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class Parts:
    """Loaded components a notebook shares with its `with_settings` views, each kept under what it was built from.

    Models and the index have a few distinct keys (the embedder and index settings); retrievers and answerers
    are keyed by the whole settings, so a request with another model or endpoint typed in the UI builds one
    once. Those are capped: the oldest is dropped (a view still holding it keeps it working).

    Each part is a Future: built once, by the first thread that asks for it, while other threads wait for it and
    other parts build in other threads (a preload loads the models, the index and the dictionaries side by side).
    A part that failed is not kept: the next use builds it again, as it would have on first use; a part that
    failed in the background keeps its error until its first use, which raises it (the same error, where it is
    used) and drops it, with the parts that failed on it (a retriever whose glossary failed).
    """

    settings_bound_limit = 16

    def __init__(self) -> None:
        self._parts: dict[tuple, Future] = {}
        self._settings_bound: OrderedDict[tuple, Future] = OrderedDict()
        self._owned: list[Future] = []  # built here, not handed in: closed with the notebook
        self._builders: dict[int, int] = {}  # id(future) -> the thread building it (a part needing itself)
        self._lock = threading.Lock()  # guards the tables only: builds run outside it
        self._local = threading.local()  # .background: this thread is a preload's
        self._threads: list[threading.Thread] = []
        self.started: set[str] = set()  # what preload() started loading ("search", "answers")
        self.started_lock = threading.Lock()

    def get(self, key: tuple, build: Callable[[], T], settings_bound: bool = False) -> T:
        table = self._settings_bound if settings_bound else self._parts
        with self._lock:
            future = table.get(key)
            mine = future is None
            if mine:
                future = table[key] = Future()
                self._builders[id(future)] = threading.get_ident()
                if not settings_bound:  # retrievers and answerers hold nothing to close, and come and go
                    self._owned.append(future)
                if settings_bound and len(table) > self.settings_bound_limit:
                    table.popitem(last=False)
            elif settings_bound:
                table.move_to_end(key)
        if mine:
            try:
                future.set_result(build())
            except BaseException as err:  # noqa: BLE001 -- kept for whoever waits for the part, then raised
                future.set_exception(err)
            finally:
                self._builders.pop(id(future), None)
        elif not future.done() and self._builders.get(id(future)) == threading.get_ident():
            raise RuntimeError(f"building {key[0]} needs itself")
        error = future.exception()  # waits for the builder
        if error is not None:
            if not getattr(self._local, "background", False):  # seen where it is used: built again on the next use
                self._drop_failed(error)
            raise error
        return future.result()

    def _drop_failed(self, error: BaseException) -> None:
        """Forget the parts that failed with `error`: the one used and those built on it in the background (a
        retriever whose glossary failed), so that each is built again on its next use."""
        with self._lock:
            for table in (self._parts, self._settings_bound):
                for key in [k for k, f in table.items() if f.done() and f.exception() is error]:
                    del table[key]
            self._owned = [f for f in self._owned if not (f.done() and f.exception() is error)]

    def put(self, key: tuple, value: Any) -> None:
        """A part loaded elsewhere (another notebook's model): used as it is, never closed here."""
        future: Future = Future()
        future.set_result(value)
        with self._lock:
            self._parts[key] = future

    def built(self, key: tuple) -> Any:
        """The part under `key` when it is built, else None (nothing is built or waited for)."""
        future = self._parts.get(key)
        return future.result() if future is not None and future.done() and future.exception() is None else None

    def in_background(self, name: str, *loads: Callable[[], object]) -> threading.Thread:
        """Run `loads` one after another in a thread of their own. A load that fails is kept failed by its part,
        for its first use to raise (a warm-up that is not a part fails again where it is used)."""

        def run() -> None:
            self._local.background = True
            for load in loads:
                try:
                    load()
                except BaseException:  # noqa: BLE001, S112 -- kept by the part: raised where it is used
                    continue

        # Daemon: a load stuck in native code must not hold the interpreter's exit; close() waits for it first.
        thread = threading.Thread(target=run, name=f"rag-preload-{name}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def close(self, timeout: float = 10.0) -> bool:
        """Wait up to `timeout` seconds for the preload threads, then close every part built here that has a
        close() (an executor's threads, a background indexer); True when every thread ended in time."""
        end = time.monotonic() + timeout
        with self._lock:
            threads, owned = list(self._threads), list(self._owned)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, end - time.monotonic()))
        ended = not any(t.is_alive() for t in threads if t is not threading.current_thread())
        for future in reversed(owned):
            if future.done() and future.exception() is None and callable(getattr(future.result(), "close", None)):
                ended = future.result().close(max(0.0, end - time.monotonic())) is not False and ended
        return ended


# ---- the preload plan ----------------------------------------------------------------------------------------
def _import_native(imported: threading.Event) -> None:
    """The embedders' modules imported, up to the loads that run in native code without the GIL; `imported` set."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401

        import rag.embed.fused
        import rag.embed.onnx
        import rag.embed.use
        import rag.provision.e5  # noqa: F401
    except ImportError:  # another backend (torch): its own imports follow
        pass
    finally:
        imported.set()


def _load_converters() -> None:
    """The OpenCC converters every question goes through (script detection, keyword matching), built once."""
    from rag.text.script import converter

    for config in ("t2s", "s2tw", "tw2sp"):
        converter(config)


def _load_jieba(notebook) -> None:
    from rag.text.jieba_dictionary import load_jieba_dictionary

    load_jieba_dictionary(notebook.settings.cache_dir)


def _warm_embedders(notebook) -> None:
    """One query through the embedders: what loads on first use inside them (USE's weights) loads now."""
    notebook.dense_embedder.embed_queries(["warm-up"])


def preload(notebook, parts: Parts, answers: bool = True) -> None:
    """Start loading, in background threads, what a notebook's first search needs (and with `answers`, its first
    answer): the embedders, Chroma's vector index, BM25, jieba's dictionary, the glossary (and the answerer).

    Each part still loads once; the first use of a part waits for its load, and a load that failed raises its error
    there, as a load on first use would. Loads that run in native code without the GIL (the ONNX session, the e5
    tokenizer) overlap with the rest on a second core.
    """
    with parts.started_lock:
        wanted = {"search", "answers"} if answers else {"search"}
        new = wanted - parts.started
        parts.started |= wanted
    if "search" in new:
        index = notebook.chunk_index
        # Modules that several of the threads import, imported here first: two threads importing one module for
        # the first time at once can see it half initialised (seen with numpy).
        for module in ("rag.embed", "rag.embed.fused", "rag.embed.memo"):
            importlib.import_module(module)
        # The e5 tokenizer and ONNX session load in native code without the GIL (~1.5 s); Chroma's index load and
        # the marshalled dictionaries hold it (~1.2 s at 100,000 chunks). Those wait until the models' libraries
        # are imported, so that they run while the models load instead of holding up the models' Python steps.
        native = threading.Event()
        parts.in_background(
            "models",
            partial(_import_native, native),
            lambda: notebook.dense_embedder,
            partial(_warm_embedders, notebook),
        )
        after = partial(native.wait, 2.0)
        parts.in_background("index", after, index.store.warm, notebook.refresh)
        parts.in_background(
            "text", after, partial(_load_jieba, notebook), _load_converters, lambda: notebook.glossary,
            lambda: notebook.retriever,
        )  # fmt: skip
    if "answers" in new:
        importlib.import_module("rag.answer")  # LangChain, here: ask has imported it by now, anyone else waits
        parts.in_background("answerer", lambda: notebook.answerer)
