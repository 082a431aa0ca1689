"""The public Python API: `Notebook(path).index(...)`, `.search(q)`, `.ask(q)`, `.ask_stream(q)`."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

from rag.offline import go_offline
from rag.settings import Settings

go_offline()

from ingest.indexer import Indexer, IndexReport  # noqa: E402
from rag.answer import Answer, Answerer, ExtractiveAnswerer  # noqa: E402
from rag.keyword import KeywordIndex  # noqa: E402
from rag.prompts import EMPTY_NOTEBOOK  # noqa: E402
from rag.retrieval import Hit, HybridRetriever  # noqa: E402
from rag.store import ChunkStore  # noqa: E402
from rag.text import detect_script  # noqa: E402


class Notebook:
    """A folder of indexed documents you can search and ask; heavy parts load on first use."""

    def __init__(self, path: str | Path | None = None, settings: Settings | None = None, **overrides):
        base = settings or Settings()
        if path is not None:
            overrides["path"] = Path(path)
        self.settings = base.model_copy(update=overrides)
        self.path = Path(self.settings.path)
        self.store = ChunkStore(self.path, self.settings.collection_name())
        self.keywords = KeywordIndex(self.path / "bm25" / self.settings.collection_name())

    @cached_property
    def embedder(self):
        from rag.embedder import load_embedder

        return load_embedder(
            self.settings.embedder_path(), batch_size=self.settings.embed_batch, backend=self.settings.embedder_backend
        )

    @cached_property
    def dense_embedder(self):
        """What the dense index is built with: the main embedder, fused with USE unless turned off."""
        if not self.settings.second_embedder:
            return self.embedder
        from rag.multi_embedder import ConcatEmbedder, UseEmbedder

        w = self.settings.second_embedder_weight
        return ConcatEmbedder([(self.embedder, 1.0 - w), (UseEmbedder(), w)])

    @cached_property
    def chunker(self):
        from ingest.chunker import Chunker

        # The hard cap leaves room for the title header and the "passage: " prompt within the model's limit.
        return Chunker(
            self.embedder.count_tokens,
            max_tokens=self.settings.chunk_tokens,
            overlap_tokens=self.settings.chunk_overlap,
            hard_max_tokens=min(self.settings.chunk_tokens, self.embedder.max_tokens - 64),
        )

    @cached_property
    def retriever(self) -> HybridRetriever:
        glossary = None
        if self.settings.translate_query:
            from rag.glossary import Glossary

            glossary = Glossary(self.settings.cache_dir)
        return HybridRetriever(self.store, self.keywords, self.dense_embedder, self.settings, glossary)

    @cached_property
    def answerer(self) -> Answerer:
        cross = next((p for p, _ in getattr(self.dense_embedder, "parts", ()) if p is not self.embedder), None)
        extractive = ExtractiveAnswerer(self.embedder, self.keywords, self.settings, self.retriever.glossary, cross)
        if self.settings.backend == "extractive":
            return extractive
        from rag.generative import cross_lingual_embedder, make_answerer

        return make_answerer(self.settings, extractive, cross_lingual_embedder(self.dense_embedder))

    def use_backend(self, backend: str, **llm_settings) -> None:
        """Answer with another backend from now on (rag.generative.backends() lists them), e.g.
        `nb.use_backend("openai", llm_base_url="http://127.0.0.1:11434/v1", llm_model="qwen2.5")`."""
        self.settings = self.settings.model_copy(update={"backend": backend, **llm_settings})
        self.__dict__.pop("answerer", None)

    def index(self, *paths: str | Path | Iterable[str | Path], progress: bool = True) -> IndexReport:
        """Bring the index in step with files/folders: add new, re-embed changed, drop deleted.

        With `progress`, shows a progress bar while embedding and prints the counts at the end.
        """
        flat: list[Path] = []
        for p in paths or (self.settings.seeds,):
            flat += [Path(x) for x in p] if isinstance(p, (list, tuple, set)) else [Path(p)]
        indexer = Indexer(
            self.store,
            self.keywords,
            self.chunker,
            self.dense_embedder.embed_passages,
            home=self.path.resolve().parent,
            batch_size=self.settings.embed_batch,
            progress=progress,
        )
        report = indexer.run(flat)
        if progress:
            print(report.summary(), flush=True)
        return report

    def sources(self) -> list[dict]:
        """The indexed documents: source, title, date and chunk count."""
        out = []
        for source, chunks in sorted(self.store.metadata_by_source().items()):
            first = min(chunks.values(), key=lambda m: m.get("ordinal", 0))
            out.append({"source": source, "title": first.get("title", ""), "chunks": len(chunks), "date": first.get("date")})
        return out

    def search(self, question: str, k: int | None = None, sources: list[str] | None = None) -> list[Hit]:
        """Top-k chunks for a question, dense and keyword rankings fused."""
        self.keywords.sync(self.store)
        return self.retriever.search(question, k or self.settings.k, sources)

    def ask_events(
        self, question: str, sources: list[str] | None = None, history: list | None = None
    ) -> Iterator[str | Answer]:
        """Text pieces of the answer as they come, then the finished Answer.

        `history`: earlier turns as (question, answer) pairs (or role/content dicts); with a generative
        backend a follow-up is rewritten into a standalone question before retrieval (`Answer.rewritten_query`).
        """
        if self.store.count() == 0:
            script = detect_script(question, self.settings.default_script)
            text = EMPTY_NOTEBOOK.get(script, EMPTY_NOTEBOOK["en"])
            yield text
            yield Answer(text=text, refused=True, script=script)
            return
        query, llm_error = question, None
        if history and hasattr(self.answerer, "standalone_question"):
            query, llm_error = self.answerer.standalone_question(question, history)
        hits = self.search(query, self.settings.k, sources)
        yield from self.answerer.stream({"question": question, "query": query, "hits": hits, "llm_error": llm_error})

    def ask(self, question: str, sources: list[str] | None = None, history: list | None = None) -> Answer:
        """A cited answer from the documents, or a plain refusal when they do not contain one."""
        return next(e for e in self.ask_events(question, sources, history) if isinstance(e, Answer))

    def ask_stream(self, question: str, sources: list[str] | None = None, history: list | None = None) -> Iterator[str]:
        """The answer's text, piece by piece."""
        return (e for e in self.ask_events(question, sources, history) if isinstance(e, str))

    def status(self) -> dict:
        return {
            "path": str(self.path),
            "documents": len(self.store.metadata_by_source()),
            "chunks": self.store.count(),
            "embedder": self.settings.embedder,
        }
