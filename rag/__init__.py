"""Offline bilingual (zh/en) research notebook: index your files, search them, ask with citations."""

from __future__ import annotations

import importlib
from typing import Any

from rag.offline import no_telemetry

no_telemetry()  # from the moment `rag` is imported: ONNX Runtime, Chroma, Gradio and the hub report nothing

__all__ = ["Answer", "Citation", "Hit", "IndexReport", "Notebook", "Settings", "list_notebooks"]

# Lazy: `python -m rag.provision e5`, the CLI's help and `from rag import Answer` should not pay for
# importing Chroma or LangChain.
_HOMES = {
    "Notebook": "rag.notebook",
    "Settings": "rag.settings",
    "Hit": "rag.types",
    "Citation": "rag.types",
    "Answer": "rag.types",
    "IndexReport": "rag.types",
    "list_notebooks": "rag.notebooks",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(name)
