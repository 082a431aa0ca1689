"""Offline bilingual (zh/en) research notebook: index your files, search them, ask with citations."""

from __future__ import annotations

from typing import Any

__all__ = ["Notebook", "Settings"]


def __getattr__(name: str) -> Any:
    # Lazy: `python -m rag.embedder build` and the CLI's help should not pay for importing Chroma.
    if name == "Notebook":
        from rag.notebook import Notebook

        return Notebook
    if name == "Settings":
        from rag.settings import Settings

        return Settings
    raise AttributeError(name)
