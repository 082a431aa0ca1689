"""An embedder that remembers the vectors it made: the answerer embeds the same passages' sentences question
after question, and a training run embeds them once for several variants."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class MemoEmbedder:
    """Wraps an embedder; `embed_passages`/`embed_queries` compute only texts not seen before.

    `max_items` bounds each memo (least recently used go first; None: unbounded, for set-up runs); `store`
    lets a caller keep the memos, e.g. on disk between runs ({"passages": {...}, "queries": {...}})."""

    def __init__(self, embedder, max_items: int | None = 20000, store: dict | None = None, passages: bool = True):
        self.embedder = embedder
        self.max_items = max_items
        self.store = store if store is not None else {}
        self.passages = passages  # False: only questions are remembered (the index's embedder: chunks pass through)
        self._lock = threading.Lock()  # the server answers several questions at once

    def __getattr__(self, name):  # dimension, count_tokens ... of the wrapped embedder
        return getattr(self.embedder, name)

    def _vectors(self, kind: str, method: str, texts: list[str]) -> np.ndarray:
        with self._lock:
            memo = self.store.setdefault(kind, OrderedDict())
            missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            made = np.asarray(getattr(self.embedder, method)(missing), dtype=np.float32)
            with self._lock:
                memo.update(zip(missing, made))
        with self._lock:
            rows = [memo[t] for t in texts]
            if self.max_items is not None and isinstance(memo, OrderedDict):
                for t in texts:
                    memo.move_to_end(t)
                while len(memo) > self.max_items:
                    memo.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, getattr(self.embedder, "dimension", 0)), dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not self.passages:
            return self.embedder.embed_passages(texts)
        return self._vectors("passages", "embed_passages", texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._vectors("queries", "embed_queries", texts)
