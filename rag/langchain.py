"""The notebook as a LangChain retriever: `nb.as_retriever(k=5)` in any LCEL chain, Documents with citation metadata."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.types import Hit


def hit_document(hit: Hit) -> Document:
    """A hit as a LangChain Document: its text, and where it is from for citing it."""
    metadata = {
        "source": hit.source,
        "title": hit.title,
        "section": hit.section,
        "page": getattr(hit, "page", None),
        "chunk_id": hit.chunk_id,
        "score": float(hit.score),
    }
    return Document(page_content=hit.text, metadata=metadata, id=hit.chunk_id)


class NotebookRetriever(BaseRetriever):
    """The notebook's hybrid search (dense + BM25 + other-language keywords) behind LangChain's retriever interface.

    `k`: passages per query (None: the notebook's k setting); `sources`: only these sources' passages.
    Async calls (`ainvoke`) run the search in a worker thread, as BaseRetriever does.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    notebook: Any = Field(exclude=True)  # a rag.Notebook (Any: pydantic must not try to validate or copy it)
    k: int | None = Field(default=None, ge=1)
    sources: list[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit_document(h) for h in self.notebook.search(query, k=self.k, sources=self.sources)]
