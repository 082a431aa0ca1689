"""Where chunks are kept: Chroma (store.py) and BM25 (keyword.py), written only through `Index` (index.py)."""

from rag.index.index import Index

__all__ = ["Index"]
