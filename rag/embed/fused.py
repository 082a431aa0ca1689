"""Several embedders fused into one vector (the main e5 plus USE), and the part that works across languages."""

from __future__ import annotations

import numpy as np


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


def cross_lingual_embedder(dense_embedder):
    """The USE part of the notebook's fused embedder (fast, good across languages), else the embedder."""
    for part, _ in getattr(dense_embedder, "parts", ()):
        if getattr(part, "name", "").startswith("use"):
            return part
    return dense_embedder
