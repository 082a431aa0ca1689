"""Offline bilingual (zh/en) research notebook: index your files, search them, ask with citations."""

from rag.notebook import Notebook
from rag.settings import Settings

__all__ = ["Notebook", "Settings"]
