"""The public Python API: `Notebook(path).index(...)`, `.search(q)`, `.ask(q)`, `.ask_stream(q)`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import SecretStr

from rag.errors import NotebookError
from rag.index import Index
from rag.index.identity import collection_for
from rag.index.storage import open_index, writing
from rag.index.store import StoredChunk
from rag.messages import ASK_A_QUESTION, EMPTY_NOTEBOOK, say
from rag.offline import go_offline
from rag.parts import Parts, preload
from rag.retrieval import HybridRetriever
from rag.settings import Settings
from rag.text import asks_nothing, clean_text
from rag.types import Answer, AnswerEvent, AnswerRequest, Delta, Final, Hit, IndexReport, collect

if TYPE_CHECKING:
    from ingest.documents import Document
    from rag.answer import Answerer
    from rag.background import BackgroundIndexer, Job
    from rag.index.extracted import StoredText
# Settings the retriever and the answerers never read (search and ask are handed k): views differing only in
# these share them.
PER_CALL_SETTINGS = frozenset({"k", "answer_k"})
# Question vectors each embedder remembers (search, then the answer step, embed the same question).
QUESTIONS_REMEMBERED = 256
BACKGROUND = ("background-indexer",)  # the Parts key of the notebook's background indexer


def _plain(value: Any) -> Any:
    """A settings value as a hashable key part (the secret itself, so two API keys never share an answerer)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    return value


def settings_key(settings: Settings, ignore: frozenset[str] = frozenset()) -> tuple:
    """Every settings value but the ignored ones: the identity of a part that reads the settings as it runs."""
    return tuple((name, _plain(getattr(settings, name))) for name in type(settings).model_fields if name not in ignore)


def locate_citations(answer: Answer) -> Answer:
    """Each citation's page, line boxes and shown name from its chunk (chunks never span pages: the chunk's page is the quote's)."""
    hits = {hit.chunk_id: hit for hit in answer.hits}
    for citation in answer.citations:
        hit = hits.get(citation.chunk_id)
        if citation.page is None and hit is not None:
            citation.page = hit.page
        if not citation.bbox and hit is not None:
            citation.bbox = hit.boxes_between(citation.start, citation.end)
        citation.name = citation.name or (hit.name if hit is not None else "") or citation.source
    return answer


class Notebook:
    """A folder of indexed documents you can search and ask; heavy parts load on first use.

    `embedder` / `dense_embedder`: models already loaded for these settings (another notebook's), used instead
    of loading them again. `with_settings(**changes)` gives a view with other settings that shares them.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        settings: Settings | None = None,
        *,
        embedder: Any = None,
        dense_embedder: Any = None,
        **overrides: Any,
    ):
        base = settings or Settings()
        if path is not None:
            overrides["path"] = Path(path)
        self.settings = base.updated(**overrides)
        go_offline(allow_hub=self.settings.hub_model())  # the Python API as offline as the command line
        if self.settings.notebook:  # a notebook by name: its own data folder under the data folder, made when new
            from rag.notebooks import Notebooks

            info = Notebooks(self.settings.path).open_or_create(self.settings.notebook)
            self.settings = self.settings.updated(path=info.folder, notebook="")
        self._parts = Parts()
        if embedder is not None:
            self._parts.put(self._embedder_key(), embedder)
        if dense_embedder is not None:
            self._parts.put(self._dense_embedder_key(), dense_embedder)
        _ = self.chunk_index  # the data folder and the Chroma collection exist from here on

    @classmethod
    def open(
        cls,
        name: str,
        settings: Settings | None = None,
        *,
        create: bool = True,
        embedder: Any = None,
        dense_embedder: Any = None,
        **overrides: Any,
    ) -> Notebook:
        """The notebook called `name` under the data folder (settings.path), made empty when there is none yet
        (with `create=False`: NotebookError naming the notebooks there are). `embedder`s: as for Notebook()."""
        from rag.notebooks import Notebooks

        base = (settings or Settings()).updated(**overrides)
        shelf = Notebooks(base.path)
        info = shelf.open_or_create(name) if create else shelf.get(name)
        settings = base.updated(path=info.folder, notebook="")
        return cls(settings=settings, embedder=embedder, dense_embedder=dense_embedder)

    def with_settings(self, **changes: Any) -> Notebook:
        """This notebook with other settings (k, backend, llm_model ...) for one request, itself left unchanged.

        The view shares the loaded models, the index, and retrievers/answerers already built for the same
        settings; only the parts the changes touch are built (once, then shared too).
        """
        settings = self.settings.updated(**changes)
        if settings == self.settings:
            return self
        view = object.__new__(type(self))
        view.settings = settings
        view._parts = self._parts
        return view

    # ---- parts, built on first use and shared with views ----------------------------------------------------
    def _embedder_key(self) -> tuple:
        s = self.settings
        return ("embedder", s.embedder, s.embedder_backend, s.embed_batch, str(s.cache_dir))

    def _dense_embedder_key(self) -> tuple:
        s = self.settings
        return ("dense", *self._embedder_key()[1:], s.second_embedder, s.second_embedder_weight)

    @property
    def embedder(self):
        def build():
            from rag.embed import load_embedder, offline_e5_folder
            from rag.settings import DEFAULT_EMBEDDER

            s = self.settings
            if s.embedder == DEFAULT_EMBEDDER:
                offline_e5_folder(s.cache_dir)  # builds the offline e5 on a first start, else a stat
            return load_embedder(s.embedder_path(), batch_size=s.embed_batch, backend=s.embedder_backend)

        return self._parts.get(self._embedder_key(), build)

    @property
    def dense_embedder(self):
        """What the dense index is built with: the main embedder, fused with USE unless turned off."""

        def build():
            if not self.settings.second_embedder:
                return self.embedder
            from rag.embed.fused import ConcatEmbedder
            from rag.embed.memo import MemoEmbedder
            from rag.embed.use import UseEmbedder

            w = self.settings.second_embedder_weight
            # Both parts remember the last questions: the answerer embeds the question searched a moment before.
            parts = [self.embedder, UseEmbedder(cache_dir=self.settings.cache_dir)]
            memos = [MemoEmbedder(p, QUESTIONS_REMEMBERED, passages=False) for p in parts]
            return ConcatEmbedder([(memos[0], 1.0 - w), (memos[1], w)])

        return self._parts.get(self._dense_embedder_key(), build)

    @property
    def chunker(self):
        def build():
            from ingest.chunker import Chunker

            # The hard cap leaves room for the title header and the "passage: " prompt within the model's limit.
            return Chunker(
                self.embedder.count_tokens,
                max_tokens=s.chunk_tokens,
                overlap_tokens=s.chunk_overlap,
                hard_max_tokens=min(s.chunk_tokens, self.embedder.max_tokens - 64),
            )

        s = self.settings
        return self._parts.get(("chunker", *self._embedder_key()[1:], s.chunk_tokens, s.chunk_overlap), build)

    @property
    def chunk_index(self) -> Index:
        """The chunks (Chroma + BM25, kept in step by rag.index.Index): the only way anything writes them."""
        # Keyed by the set-up (the name before ids): the id is read from the data folder once, when it is built.
        setup, url = self.settings.collection_name(), self.settings.chroma_url or None
        key = ("index", str(self.path.resolve()), setup, url)
        return self._parts.get(key, lambda: open_index(self.path, collection_for(self.path, self.settings), url))

    @property
    def glossary(self):
        """The CC-CEDICT glossary for other-language keywords; None when translate_query is off."""
        if not self.settings.translate_query:
            return None

        def build():
            from rag.text.glossary import Glossary

            return Glossary(self.settings.cache_dir)

        return self._parts.get(("glossary", str(self.settings.cache_dir)), build)

    @property
    def retriever(self) -> HybridRetriever:
        def build():
            index = self.chunk_index
            return HybridRetriever(index.store, index.keywords, self.dense_embedder, self.settings, self.glossary)

        key = ("retriever", *settings_key(self.settings, PER_CALL_SETTINGS))
        return self._parts.get(key, build, settings_bound=True)

    @property
    def answerer(self) -> Answerer:
        def build():
            # LangChain (the answerers are Runnables): imported on first use, by a preload while the models load.
            from rag.answer import make_answerer
            from rag.answer.extractive import ExtractiveAnswerer

            keywords = self.chunk_index.keywords
            # USE (the fused index's cross-lingual part): its question-sentence cosine holds across languages.
            from rag.embed.memo import MemoEmbedder

            parts = [p for p, _ in getattr(self.dense_embedder, "parts", ())]
            main = parts[0] if parts else self.embedder  # with the questions the search embedded
            cross = parts[1] if len(parts) > 1 else None
            # Sentence vectors are remembered: the same passages come back question after question.
            extractive = ExtractiveAnswerer(
                MemoEmbedder(main), keywords, self.settings, self.glossary, cross and MemoEmbedder(cross)
            )
            if self.settings.backend == "extractive":
                return extractive
            from rag.embed.fused import cross_lingual_embedder

            return make_answerer(self.settings, extractive, cross_lingual_embedder(self.dense_embedder))

        key = ("answerer", *settings_key(self.settings, PER_CALL_SETTINGS))
        answerer = self._parts.get(key, build, settings_bound=True)
        # The answerer weighs the question's words by BM25's idf: handed hits without a search first
        # (`nb.answerer.invoke(AnswerRequest(q, hits=...))`), it would find BM25 not yet loaded, every word alike.
        if not self.chunk_index.keywords.synced:
            self.refresh()
        return answerer

    def preload(self, answers: bool = True) -> None:
        """Start loading, in background threads, what a first search needs (and with `answers`, a first answer):
        the embedders, Chroma's vector index, BM25, jieba's dictionary, the glossary (and the answerer).

        Search and ask call it themselves; call it earlier (after opening, before the first question arrives) to
        have them loaded by then. Each part still loads once; a load that failed raises its error where the part is
        first used (rag.parts.preload).
        """
        preload(self, self._parts, answers)

    def use_backend(self, backend: str, **llm_settings) -> None:
        """Answer with another backend from now on (rag.llm.backends() lists them), e.g.
        `nb.use_backend("openai", llm_base_url="http://127.0.0.1:11434/v1", llm_model="qwen2.5")`."""
        self.settings = self.settings.updated(backend=backend, **llm_settings)

    # ---- where things are -----------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The data folder: Chroma and the keyword index."""
        return Path(self.settings.path)

    @property
    def home(self) -> Path:
        """Where the documents live: source names are relative to it."""
        return Path(self.settings.home).resolve()

    @property
    def info(self):
        """This notebook's id, name and data folder (rag.notebooks.NotebookInfo), from its notebook.json."""
        from rag.notebooks import DEFAULT_NAME, NotebookInfo, ensure_identity, read_identity

        try:
            data = ensure_identity(self.path, DEFAULT_NAME if self.path.parent.name != "notebooks" else self.path.name)
        except OSError:  # a read-only data folder: what it says, if anything
            data = read_identity(self.path)
        return NotebookInfo(
            str(data.get("id", "")), str(data.get("name") or DEFAULT_NAME), self.path, str(data.get("created", ""))
        )

    @property
    def name(self) -> str:
        return self.info.name

    def delete(self) -> None:
        """Remove this notebook: its chunks (from a Chroma server too), then its data folder with chats and notes."""
        from rag.notebooks import NOTEBOOKS_FOLDER, Notebooks

        if self.path.resolve().parent.name != NOTEBOOKS_FOLDER:
            raise NotebookError(
                f"{self.path} is a data folder of its own, not one of several notebooks: delete it yourself"
            )
        for source in self.sources():
            self.remove(source["source"])
        Notebooks(self.path.resolve().parent.parent).delete_folder(self.info.id)

    def source_file(self, source: str) -> Path:
        """The file of an indexed source (its name is relative to the home, or absolute)."""
        path = Path(source)
        return path if path.is_absolute() else self.home / path

    def document(
        self, source: str | Path, on_ocr_page: Callable[[str, int, int], object] | None = None
    ) -> Document | StoredText:
        """An indexed source's document (text, title, date, pages and headings): the text the indexer kept when it
        read the file (a citation click never extracts a PDF again), else the file read now with the notebook's
        limits (`on_ocr_page(file name, pages read, pages to read)` told as its pages are OCR'd); a Path is read as
        a file. IngestError (one line naming the file) when it cannot be read."""
        from ingest.loaders import load_document
        from ingest.readers import Limits

        kept = self.chunk_index.extracted.load(source) if isinstance(source, str) else None
        if kept is not None:
            return kept
        limits = Limits.from_settings(self.settings, on_ocr_page=on_ocr_page)
        return load_document(self.source_file(str(source)), limits=limits)

    # ---- lifetime -------------------------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> bool:
        """Stop the background indexer at its next batch, wait for the preload threads and stop the embedders'
        helper threads (shared with every `with_settings` view); True when all ended within `timeout` seconds."""
        indexer = self._parts.built(BACKGROUND)
        stopped = indexer.stop(timeout) if indexer is not None else True
        return self._parts.close(timeout) and stopped

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the index ------------------------------------------------------------------------------------------
    @property
    def background(self) -> BackgroundIndexer:
        """This notebook's background indexer (shared with its views): `index_in_background` hands it jobs."""

        def build():
            from rag.background import BackgroundIndexer

            return BackgroundIndexer(self)

        return self._parts.get(BACKGROUND, build)

    def index_in_background(self, paths: Iterable[str | Path], name: str = "") -> Job:
        """Index files or folders in the notebook's background thread, one job after another, while questions are
        answered from what is committed; `background.progress()` and `.take_finished()` tell how it goes."""
        paths = [Path(p) for p in paths]
        return self.background.submit(name or ", ".join(p.name for p in paths), paths)

    def index(
        self,
        *paths: str | Path | Iterable[str | Path],
        progress: bool = True,
        on_progress: Callable[[int, int], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_ocr_page: Callable[[str, int, int], object] | None = None,
    ) -> IndexReport:
        """Bring the index in step with files/folders: add new, re-embed changed, drop deleted.

        Each file's chunks become visible together when all are stored; an interrupted file is finished by the
        next run. With `progress`, shows a progress bar while embedding and prints the counts at the end;
        `on_progress(done, total)` is told the chunks embedded so far, `on_ocr_page(file name, done, total)` the
        pages of a scan OCR'd so far, and `should_stop()` (asked between batches) ends the run early with
        KeyboardInterrupt, committed files kept.
        """
        from ingest.indexer import Indexer  # the readers and the chunker: not for a process that only asks
        from ingest.readers import Limits

        flat: list[Path] = []
        for p in paths or (self.settings.seeds,):
            flat += [Path(x) for x in p] if isinstance(p, (list, tuple, set)) else [Path(p)]
        indexer = Indexer(
            self.chunk_index,
            self.chunker,
            self.dense_embedder.embed_passages,
            home=self.home,
            batch_size=self.settings.embed_batch,
            progress=progress,
            follow_outside_links=self.settings.follow_outside_links,
            max_file_chunks=self.settings.max_file_chunks,
            on_progress=on_progress,
            should_stop=should_stop,
            limits=Limits.from_settings(self.settings, progress=progress, on_ocr_page=on_ocr_page),
        )
        # A read-only folder or a full disk: one line naming it; one writer at a time across processes.
        with writing(self.chunk_index, self.path), self.chunk_index.writing():
            report = indexer.run(flat)
        if progress:
            print(report.summary(), flush=True)
        if self.settings.source_guides:  # each new or changed source's guide (rag.guide), kept in the data folder
            self.guides.update(progress=progress)
        return report

    def remove(self, source: str) -> int:
        """Take a source's chunks out of the index (its file is left alone); how many chunks went."""
        with writing(self.chunk_index, self.path), self.chunk_index.writing():
            removed = self.chunk_index.remove_source(source)
        self.guides.store.delete(source)
        return removed

    def refresh(self) -> bool:
        """Catch up with what another process (`rag index`) committed since: True if the index changed."""
        index = self.chunk_index
        changed = index.refresh()
        index.sync()  # BM25 in step with the committed chunks (a no-op when it is)
        return changed

    def sources(self) -> list[dict]:
        """The indexed documents: source, title, date and chunk count."""
        self.refresh()
        index = self.chunk_index
        # The commit record counts the chunks; only each document's first chunk is read (not all metadata: 11 s at
        # 100,000 chunks).
        committed, first_chunks = index.committed(), index.first_chunks()
        out = []
        for source, first in sorted(first_chunks.items()):
            title = first.get("doc_title") or first.get("title", "")  # not a dated post's title: the document's
            name = first.get("name", source)  # never an absolute path: the indexed folder's name and the path in it
            out.append(
                {
                    "source": source,
                    "name": name,
                    "title": title,
                    "chunks": len(committed[source]),
                    "date": first.get("date"),
                }
            )
        return out

    def count(self) -> int:
        """Chunks in the index."""
        return self.chunk_index.count()

    def is_empty(self) -> bool:
        return self.chunk_index.is_empty()

    def chunks(self, ids: list[str]) -> list[StoredChunk]:
        """Indexed chunks by id (text and metadata), in the order asked; unknown ids are skipped."""
        return self.chunk_index.get(ids)

    def chunk_ids(self) -> list[str]:
        """Every indexed chunk's id, sorted."""
        return self.chunk_index.chunk_ids()

    def texts(self) -> Iterator[str]:
        """Every indexed chunk's text (for benchmarks and calibration)."""
        return self.chunk_index.texts()

    # ---- source guides --------------------------------------------------------------------------------------
    @property
    def guides(self):
        """The sources' guides (rag.guide.NotebookGuides): summary, key terms, suggested questions."""
        from rag.guide import NotebookGuides

        return self._parts.get(("guides", str(self.path.resolve())), lambda: NotebookGuides(self))

    def guide(self, source: str, script: str | None = None):
        """A source's guide: `.summary` (its central sentences, cited by `.citations`), `.terms`, `.questions`;
        in `script` ('zh-Hant', 'zh-Hans', 'en': as written; None: settings.default_script)."""
        return self.guides.guide(source, script or self.settings.default_script)

    def overview(self, script: str | None = None):
        """The notebook's overview from its sources' guides: `.sentences`, `.terms`, `.questions`, `.guides`."""
        return self.guides.overview(script or self.settings.default_script)

    # ---- search and answers ---------------------------------------------------------------------------------
    def search(
        self,
        question: str,
        k: int | None = None,
        sources: list[str] | None = None,
        exclude_sources: list[str] | None = None,
    ) -> list[Hit]:
        """Top-k chunks for a question (k: 1 to rag.settings.MAX_K), dense and keyword rankings fused;
        `exclude_sources`: searched as if those had never been indexed (their chunks out of the ranks and of BM25's
        statistics)."""
        return self._search(question, self.settings.checked_k(k), sources, exclude_sources)

    def _search(
        self, question: str, k: int, sources: list[str] | None, exclude_sources: list[str] | None = None
    ) -> list[Hit]:
        question = clean_text(question)  # invisible characters and lone surrogates out
        self.preload(answers=False)
        with self.chunk_index.reading:  # BM25 stays as synced here while this search reads it
            self.refresh()
            return self.retriever.search(question, k, sources, exclude_sources)

    def ask_events(
        self, question: str, sources: list[str] | None = None, history: list | None = None
    ) -> Iterator[AnswerEvent]:
        """Delta text pieces of the answer as they come, then Final(the finished Answer).

        `history`: earlier turns as (question, answer) pairs (or role/content dicts); a follow-up is rewritten
        into a standalone question before retrieval (`Answer.rewritten_query`): by rules (rag.followup), or by
        the LLM of a generative backend.
        The answer is in the question's script; one written only in characters shared by both scripts takes the
        script of the user's earlier questions, else settings.default_script.
        """
        empty = self.is_empty()
        if not empty:
            self.preload(answers=False)  # the import below (LangChain) then runs while the models load
        from rag.answer import answer_script

        if not empty:
            self.preload()  # the answerer, once this thread has imported LangChain (never two first imports at once)

        question = clean_text(question)  # invisible characters and lone surrogates out
        script = answer_script(question, history, self.settings.default_script)
        # Empty, blank, punctuation, emoji, one character: one line asking for a question, never quotes.
        nothing = asks_nothing(question, follow_up=bool(history))
        if nothing or empty:
            text = say(ASK_A_QUESTION if nothing else EMPTY_NOTEBOOK, script)
            yield Delta(text)
            yield Final(Answer(text=text, refused=True, script=script))
            return
        summary = self.guides.summary_answer(question, sources, script)  # 「總結…」: the guides' summaries, cited
        if summary is not None:
            yield Delta(summary.text)
            yield Final(locate_citations(summary))
            return
        query, llm_error = question, None
        if history:
            query, llm_error = self.answerer.standalone_question(question, history)
        hits = self._search(query, self.settings.answer_hits(), sources)
        request = AnswerRequest(question=question, query=query, hits=hits, llm_error=llm_error, script=script)
        for event in self.answerer.stream(request):
            if isinstance(event, Final):
                locate_citations(event.answer)
                if query != question and event.answer.rewritten_query is None:
                    event.answer.rewritten_query = query  # shown under the answer: what was searched
                event.answer.suggestions = self.guides.suggestions(event.answer, question, history)
            yield event

    def ask(self, question: str, sources: list[str] | None = None, history: list | None = None) -> Answer:
        """A cited answer from the documents, or a plain refusal when they do not contain one."""
        return collect(self.ask_events(question, sources, history))

    def ask_stream(self, question: str, sources: list[str] | None = None, history: list | None = None) -> Iterator[str]:
        """The answer's text, piece by piece."""
        return (e.text for e in self.ask_events(question, sources, history) if isinstance(e, Delta))

    def as_retriever(self, k: int | None = None, sources: list[str] | None = None):
        """This notebook's search as a LangChain `BaseRetriever` for LCEL chains: Documents with the hit's text and
        metadata source, title, section, page, chunk_id and score. `k`: passages per query (default: settings.k)."""
        from rag.langchain import NotebookRetriever

        return NotebookRetriever(notebook=self, k=k, sources=sources)

    def status(self) -> dict:
        return {
            "path": str(self.path),
            **({"chroma_url": self.settings.chroma_url} if self.settings.chroma_url else {}),
            "documents": len(self.chunk_index.committed()),  # the commit record: no metadata read at 100k chunks
            "chunks": self.count(),
            "embedder": self.settings.embedder,
        }
