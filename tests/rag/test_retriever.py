"""`nb.as_retriever()` inside LCEL chains: Documents that carry their citation, sync and async, on a real notebook."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from rag import Notebook
from tests.rag.small_corpus import DOCS


@pytest.fixture(scope="module")
def notebook(notebook_at, tmp_path_factory) -> Notebook:
    home = tmp_path_factory.mktemp("retriever")
    (home / "docs").mkdir()
    for name, text in DOCS.items():
        (home / "docs" / name).write_text(text, encoding="utf-8")
    nb = notebook_at(home, path=home / ".rag")
    assert nb.index(home / "docs", progress=False).added == len(DOCS)
    return nb


def format_docs(docs: list[Document]) -> str:
    """Numbered passages, each under its title and source: what a chain's prompt cites from."""
    return "\n\n".join(
        f"[{n}] {d.metadata['title']} ({d.metadata['source']})\n{d.page_content}" for n, d in enumerate(docs, 1)
    )


def chain_over(retriever: BaseRetriever):
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer only from the passages and cite them as [n]."),
            ("human", "{context}\n\nQuestion: {question}"),
        ]
    )
    # The parrot model answers with the prompt it was given: the test reads what the chain fed the model.
    context = retriever | RunnableLambda(format_docs)
    return {"context": context, "question": RunnablePassthrough()} | prompt | ParrotFakeChatModel() | StrOutputParser()


def test_the_retriever_returns_documents_with_citation_metadata(notebook):
    retriever = notebook.as_retriever(k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("DRAM gross margin at the top of the cycle")
    assert len(docs) == 2
    top = docs[0]
    assert set(top.metadata) == {"source", "title", "section", "page", "chunk_id", "score"}
    assert top.metadata["source"] == "docs/dram.txt" and "60%" in top.page_content
    assert top.id == top.metadata["chunk_id"] and top.metadata["page"] is None
    assert top.metadata["score"] >= docs[1].metadata["score"]
    assert len(notebook.as_retriever().invoke("TPU")) == min(5, notebook.count())  # k from the settings (5)


def test_an_lcel_chain_gets_the_right_source(notebook):
    out = chain_over(notebook.as_retriever(k=2)).invoke("Gemini 3 是在什麼晶片上訓練的?")
    assert "[1] TPU 筆記 (docs/tpu.md)" in out and "Gemini 3 完全在 TPU 上訓練" in out
    assert out.rstrip().endswith("Question: Gemini 3 是在什麼晶片上訓練的?")


def test_the_chain_and_the_retriever_work_async(notebook):
    retriever = notebook.as_retriever(k=1)

    async def run():
        return await asyncio.gather(
            chain_over(retriever).ainvoke("Llama3 最常用哪个版本?"),
            retriever.ainvoke("DRAM gross margin"),
            retriever.abatch(["TPU 擅長什麼運算?", "Llama3 有几种大小?"]),
        )

    answer, dram, (tpu, llama) = asyncio.run(run())
    assert "(docs/llama.txt)\nLlama3 有 1B" in answer
    assert dram[0].metadata["source"] == "docs/dram.txt"
    assert tpu[0].metadata["source"] == "docs/tpu.md" and llama[0].metadata["source"] == "docs/llama.txt"


def test_sources_limit_what_the_retriever_returns(notebook):
    docs = notebook.as_retriever(k=3, sources=["docs/llama.txt"]).invoke("TPU 晶片")
    assert docs and {d.metadata["source"] for d in docs} == {"docs/llama.txt"}
