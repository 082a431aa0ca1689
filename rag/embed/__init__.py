"""Embedders at query and index time: the Embedder protocol and `load_embedder` over a registry of backends.

Run time only: nothing here builds a model, except `offline_e5_folder`, which on a first start hands the
missing offline e5 folder to rag.provision (the one lazy import of set-up code on the query path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from rag.embed.transformer import TransformerEmbedder


class Embedder(Protocol):
    """What the index, the retriever and the answerers need of an embedder (L2-normalised float32 rows)."""

    dimension: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


class ChunkingEmbedder(Embedder, Protocol):
    """The main embedder also counts its own tokens, so that the chunker cuts passages it sees whole."""

    def count_tokens(self, text: str) -> int: ...

    @property
    def max_tokens(self) -> int: ...


def _torch(model: str | Path, batch_size: int) -> TransformerEmbedder:
    from rag.embed.transformer import TransformerEmbedder

    return TransformerEmbedder(model, batch_size=batch_size)


def _onnx(model: str | Path, batch_size: int) -> TransformerEmbedder:
    from rag.embed.onnx import OnnxEmbedder

    return OnnxEmbedder(model, batch_size=batch_size)


# The embedder backends (Settings.embedder_backend): name -> how to load a model folder or hub id.
# Imported on use, so that the ONNX path never imports torch.
EMBEDDERS: dict[str, Callable[[str | Path, int], TransformerEmbedder]] = {"onnx": _onnx, "torch": _torch}


def load_embedder(model: str | Path, batch_size: int = 32, backend: str = "auto") -> TransformerEmbedder:
    """The embedder for `model` (a folder path or hub id).

    backend "auto": OnnxEmbedder when `model` is a folder with ONNX_FILE (ensure_e5 builds one for
    the offline e5) and onnxruntime is installed, else the torch TransformerEmbedder; "onnx" / "torch" force one.
    """
    if backend != "auto" and backend not in EMBEDDERS:
        raise ValueError(f"backend must be auto, {' or '.join(EMBEDDERS)}, not {backend!r}")
    if backend == "auto":
        from rag.embed.onnx import ONNX_FILE

        backend = "torch"
        folder = Path(model).expanduser()
        if (folder / ONNX_FILE).is_file():
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                pass
            else:
                backend, model = "onnx", folder
    return EMBEDDERS[backend](model, batch_size)


def offline_e5_folder(cache_dir: Path) -> Path:
    """`cache_dir/models/multilingual-e5-small`, built on first use (a stat or two when present)."""
    from rag.provision.e5 import ensure_e5  # set-up code, loaded only here and only when needed

    return ensure_e5(cache_dir)
