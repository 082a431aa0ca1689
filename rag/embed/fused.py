"""Several embedders fused into one vector (the main e5 plus USE), and the part that works across languages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Texts from which the parts embed side by side (threads: ONNX and BLAS release the GIL); a query or two is
# quicker in turn than handed to a thread.
PARALLEL_FROM = 2


class ConcatEmbedder:
    """Several embedders as one: weighted, normalised parts concatenated, so the cosine of two fused
    vectors is the weighted mean of the parts' cosines — score fusion inside one Chroma query."""

    def __init__(self, parts: list[tuple[object, float]]):
        self.parts = parts
        total = sum(w for _, w in parts)
        self.scales = [float(np.sqrt(w / total)) for _, w in parts]
        self.dimension = sum(p.dimension for p, _ in parts)
        self._helpers: ThreadPoolExecutor | None = None

    def _fuse(self, method: str, texts: list[str]) -> np.ndarray:
        calls = [getattr(p, method) for p, _ in self.parts]
        if len(calls) > 1 and len(texts) >= PARALLEL_FROM:
            if self._helpers is None:
                self._helpers = ThreadPoolExecutor(len(calls) - 1, thread_name_prefix="rag-embed")
            others = [self._helpers.submit(call, texts) for call in calls[1:]]
            try:
                first = calls[0](texts)
            finally:
                outputs = [f.result() for f in others]  # never leave a part running past this call
            outputs.insert(0, first)
        else:
            outputs = [call(texts) for call in calls]
        return np.concatenate([v * s for v, s in zip(outputs, self.scales)], axis=1).astype(np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._fuse("embed_passages", texts)

    def close(self, timeout: float | None = None) -> bool:
        """Stop the helper threads (an executor's threads are waited for at interpreter exit); a later call to
        embed starts them again."""
        helpers, self._helpers = self._helpers, None
        if helpers is not None:
            helpers.shutdown(wait=True, cancel_futures=True)
        return True

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._fuse("embed_queries", texts)


def cross_lingual_embedder(dense_embedder):
    """The USE part of the notebook's fused embedder (fast, good across languages), else the embedder."""
    for part, _ in getattr(dense_embedder, "parts", ()):
        if getattr(part, "name", "").startswith("use"):
            return part
    return dense_embedder
