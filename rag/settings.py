"""The one settings object: every knob of the notebook, typed, described, grouped, and the only reader of RAG_*."""

from __future__ import annotations

import difflib
import hashlib
import numbers
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import SettingsError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EMBEDDER = "e5-small-offline"
# Where `make setup` builds the default embedder, under cache_dir (rag.embedder's ensure_e5 builds it there).
DEFAULT_EMBEDDER_FOLDER = Path("models") / "multilingual-e5-small"
# Bump when chunking, keyword terms or embedded text change: the index is then rebuilt, never mixed.
INDEX_VERSION = 6  # 3: Han bigrams in the BM25 terms; 4: dated posts embedded under their own title, pages
# 5: an already Simplified 么 stays 么 in the keyword terms (什么 was 什幺: not dropped as a question word).
# 6: chunks keep their drawn lines' boxes (PDF text layers, OCR) and a PDF's image-only pages are OCR'd.

ENV_PREFIX = "RAG_"
MAX_K = 50  # most passages one search returns: an agent or a page asking for more gets a one-line error
GROUPS = ("storage", "embedding", "retrieval", "answer", "llm", "verify", "serve")
# RAG_* variables that are not settings of the notebook: the browser test's switch for the README picture.
NOT_SETTINGS = frozenset({"RAG_UPDATE_SCREENSHOT"})


def setting(default: Any, *, group: str, description: str, **constraints: Any) -> Any:
    """A settings field: its default, the group `rag settings` shows it in, what it does, and its bounds (ge=1 ...)."""
    assert group in GROUPS, group
    return Field(default, description=description, json_schema_extra={"group": group}, **constraints)


class Settings(BaseSettings):
    """Every knob of the notebook; each can be set as RAG_<NAME> in the environment or as a keyword.

    Built only from validated values: `Settings(k="7").k == 7`, and `settings.updated(backend="nonsense")`,
    an unknown keyword or an unknown RAG_* variable raise SettingsError with a one-line message.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_assignment=True)

    # storage
    path: Path = setting(
        Path(".rag"), group="storage", description="Data folder holding the Chroma database and the keyword index."
    )
    notebook: str = setting(
        "",
        group="storage",
        description="The notebook to open, by name: each is its own data folder under the data folder's notebooks/ "
        "(`rag notebooks` lists them; `rag index` and the page create a new one). Empty: the data folder itself.",
    )
    home: Path = Field(
        default_factory=Path.cwd,
        json_schema_extra={"group": "storage"},
        description="Where the documents live: source names are relative to it and uploads go to its uploads/ "
        "(default: the current folder).",
    )
    cache_dir: Path = setting(
        REPO_ROOT / ".cache", group="storage", description="Git-ignored cache where offline models are built at set-up."
    )
    collection: str = setting(
        "notebook",
        group="storage",
        description="Chroma collection name prefix; the notebook's id (its data folder's notebook.json) and the "
        "embedder set-up are appended, so notebooks sharing a Chroma server never share a collection and a set-up change "
        "re-embeds.",
    )
    chroma_url: str = setting(
        "",
        group="storage",
        description="A Chroma server (`chroma run --path DIR --host 127.0.0.1 --port 8000`) holding the chunks instead of "
        "the data folder, e.g. http://127.0.0.1:8000: notebooks in several processes share its collection; the data "
        "folder keeps only this machine's keyword-index copy. Empty: Chroma embedded in the data folder.",
    )
    follow_outside_links: bool = setting(
        False,
        group="storage",
        description="Index what symbolic links in an indexed folder point to outside it; off: such links are "
        "refused with a one-line error (a link planted in a folder cannot bring /etc/passwd into the notebook).",
    )
    seeds: Path = setting(
        REPO_ROOT / "seeds", group="storage", description="Folder indexed by `make run` and the UI's re-index button."
    )
    # embedding
    embedder: str = setting(
        DEFAULT_EMBEDDER,
        group="embedding",
        description="Sentence-transformers model: a folder path or hub id; the default is built offline.",
    )
    embedder_backend: Literal["auto", "onnx", "torch"] = setting(
        "auto",
        group="embedding",
        description="How the offline e5 runs: onnx (int8 ONNX Runtime, ~4x faster, cosine ≥ 0.99 to fp32), torch "
        "(fp32 sentence-transformers), or auto (onnx when its file was built, else torch).",
    )
    second_embedder: bool = setting(
        True,
        group="embedding",
        description="Fuse USE multilingual v3 (offline, fast) into the dense vectors: better across languages.",
    )
    second_embedder_weight: float = setting(
        0.3,
        group="embedding",
        description="Share of the USE cosine in the fused dense similarity, the main embedder has the rest (0.3: "
        "DRCD R@1 0.94 -> 0.95 and XQuAD en->zh 0.69 -> 0.74 against 0.5; USE alone is weak within Chinese).",
    )
    chunk_tokens: int = setting(256, group="embedding", description="Target chunk size in embedder tokens.")
    chunk_overlap: int = setting(
        48, group="embedding", description="Overlap between consecutive chunks, in embedder tokens."
    )
    embed_batch: int = setting(32, group="embedding", description="Texts per embedding batch.")
    watch_debounce: float = setting(
        1.0,
        group="embedding",
        description="Seconds a watched folder (`rag index --watch`) must stay quiet before its changes are "
        "indexed: an editor's save or a copy of many files becomes one run.",
        ge=0.0,
    )
    max_file_chunks: int = setting(
        10_000,
        group="embedding",
        description="Most chunks one file may add (~2.5M tokens, more than a 5 MB upload makes); a file "
        "that would add more is skipped with a message naming it and the rest of the run goes on.",
        ge=1,
    )
    max_pages: int = setting(
        2_000,
        group="embedding",
        description="Most pages a PDF (or chapters an EPUB) may have; a longer one is skipped with a one-line "
        "error naming it.",
        ge=1,
    )
    max_extracted_chars: int = setting(
        20_000_000,
        group="embedding",
        description="Most characters of text one PDF, DOCX, web page or EPUB may give (20M: a 10,000-page "
        "book); more is refused with a one-line error, so a hostile file cannot fill the memory.",
        ge=1,
    )
    max_unzipped_mb: int = setting(
        200,
        group="embedding",
        description="Most megabytes a DOCX or EPUB may unpack to, read from its zip directory before anything "
        "is decompressed (a zip bomb disguised as a document is refused by name).",
        ge=1,
    )
    max_markup_mb: int = setting(
        20,
        group="embedding",
        description="Most megabytes of markup (a web page's HTML, a DOCX's XML, an EPUB's chapters, a chapter "
        "the spine lists again counted again) one document may make the reader parse; more is refused with a one-line "
        "error naming the file, so a small hostile file cannot cost minutes (bench/worst_files.py).",
        ge=1,
    )
    max_paragraphs: int = setting(
        300_000,
        group="embedding",
        description="Most paragraphs (headings and table rows included) one document may have (a 10,000-page "
        "book has ~150,000); more is refused with a one-line error naming the file.",
        ge=1,
    )
    max_ocr_pages: int = setting(
        200,
        group="embedding",
        description="Most pages of one document that are read by OCR (scanned PDF pages, TIFF pages; about 1-3 s "
        "each on 2 cores); a document with more is skipped with a one-line error naming it.",
        ge=1,
    )
    max_image_pixels: int = setting(
        60_000_000,
        group="embedding",
        description="Most pixels an image (or one TIFF page) may have, read from its header before it is decoded: "
        "a larger one (a decompression bomb, a 30,000x30,000 px picture) is refused by name. 60M: a 600 dpi A3 scan.",
        ge=1,
    )
    ocr_min_confidence: float = setting(
        0.3,
        group="embedding",
        description="OCR lines the recogniser is less sure of than this (0-1) are kept out of the index and counted "
        "(make bench-ocr chose it: the lowest character error rate on its dev pages; higher cuts drop real lines of "
        "degraded pages). A line with fewer than two letters or digits is noise unless scored 0.9 or more.",
        ge=0.0,
        le=1.0,
    )
    ocr_threads: int = setting(
        0,
        group="embedding",
        description="Pages OCR'd at once (each with one ONNX thread); 0: one per CPU core.",
        ge=0,
    )
    # retrieval
    candidates: int = setting(40, group="retrieval", description="Hits taken from each retriever before fusion.", ge=1)
    fusion: Literal["score", "rrf"] = setting(
        "score",
        group="retrieval",
        description="How the dense, keyword and other-language lists combine: score = weighted sum of normalised "
        "scores (dense: from the corpus median to the best hit; BM25: share of the best hit's score), rrf = "
        "reciprocal rank fusion. Score fusion keeps BM25's sure wins (DRCD sample200 R@1 0.80 -> 0.95).",
    )
    rrf_k: int = setting(
        60,
        group="retrieval",
        description="Reciprocal-rank-fusion constant (fusion=rrf): larger flattens the rank weights.",
    )
    dense_weight: float = setting(
        1.0, group="retrieval", description="Weight of the dense (embedding) list in the fusion."
    )
    keyword_weight: float = setting(1.0, group="retrieval", description="Weight of the BM25 list in the fusion.")
    translate_query: bool = setting(
        True,
        group="retrieval",
        description="Also search the question's keywords in the other language (CC-CEDICT glossary): finds English "
        "passages for Chinese questions and the reverse (dev.jsonl R@5 0.72 -> 0.83).",
    )
    dense_by_language: bool = setting(
        True,
        group="retrieval",
        description="In a notebook of Chinese and English passages, measure each passage's embedding similarity "
        "from the typical similarity of passages in its own language: the embedder rates any passage in the question's "
        "language above one in the other, which buries the other language's answers (dev.jsonl R@5 0.72 -> 0.78).",
    )
    translation_weight: float = setting(
        0.5, group="retrieval", description="Weight of the other-language keyword ranking in the fusion."
    )
    k: int = setting(5, group="retrieval", description="Passages returned by search.", ge=1, le=MAX_K)
    glossary_senses: int = setting(
        3,
        group="retrieval",
        description="English senses of a Chinese word kept from CC-CEDICT for the other-language search.",
        ge=1,
    )
    glossary_per_phrase: int = setting(
        3,
        group="retrieval",
        description="Most Chinese words an English word or two-word phrase brings to the other-language search.",
        ge=1,
    )
    glossary_per_name: int = setting(
        3,
        group="retrieval",
        description="Most Chinese spellings a company or person name brings to the keyword search (輝達, 英偉達 ...).",
        ge=1,
    )
    # answer
    answer_k: int = setting(
        12,
        group="answer",
        description="Passages an answer reads (at least k): the passage holding the answer is often just past the "
        "first five (dev.jsonl fact recall 0.65 -> 0.70 at 8, 0.80 -> 0.85 at 12; the public sets' figures within "
        "one question of 8's: bench/results/answers-notes.md).",
        ge=1,
    )
    answer_sentences: int = setting(4, group="answer", description="Most sentences the extractive answer quotes.")
    answer_unknown_share: float = setting(
        0.67,
        group="answer",
        description="A question is refused, naming the words, when at least this share of its content words "
        "(and two or more) appear nowhere in the notebook in either language (CC-CEDICT's translations of them "
        "included) and no passage is close (answer_unknown_dense): 'best hiking trail in the Alps' asked of notes on "
        "AI chips; two thirds are enough when the rest are common words of the notebook ('train a puppy' over posts "
        "on training models). Above 1 turns it off. At 0.67 it refused none of 200 held-out XQuAD English questions "
        "answered by Chinese passages, and 4 of 612 training ones.",
        ge=0.0,
        le=1.01,
    )
    answer_unknown_dense: float = setting(
        0.62,
        group="answer",
        description="The e5 cosine of the closest passage below which answer_unknown_share applies: a question whose "
        "passage is this close is on the notebook's subject though its words are unknown (a name with no Chinese "
        "spelling CC-CEDICT knows). English questions over Chinese passages: median 0.64; off the subject: 0.61.",
        ge=0.0,
        le=1.0,
    )
    answer_unwritten_focus: bool = setting(
        True,
        group="answer",
        description="Refuse when a year or a model name in the question (2019, B200, GPT-4: written alike in Chinese "
        "and English; not a decade) is in none of the passages read: they are about another year or version. Of the "
        "training questions the learned gate answers (DRCD test, CMRC 2018 trial, XQuAD even articles) it refused "
        "28 of 1,237 unanswerable and 2 of 3,951 answerable ones.",
    )
    answer_gate: float | None = setting(
        None,
        group="answer",
        description="Probability the learned answer gate (rag/answer/model.json) must give that the retrieved "
        "sentences answer the question, else the answer is a refusal; higher refuses more. Unset: the cuts fitted "
        "with the model, one per kind of question (their targets: bench/train_answer_model.py; the figures: "
        "bench/results/answers-notes.md).",
    )
    answer_margin: float | None = setting(
        None,
        group="answer",
        description="Sentences whose learned score (a logit) is this far below the best one's are left out of the "
        "answer; unset: the margin fitted with the model (the narrowest that keeps nearly every answer the best "
        "answer_sentences would hold).",
    )
    source_guides: bool = setting(
        True,
        group="answer",
        description="Build each source's guide when it is indexed (rag.guide: a summary of its central sentences, "
        "key terms, suggested questions; about a second per document), kept in the data folder; off: built on "
        "first use.",
    )
    default_script: Literal["zh-Hant", "zh-Hans"] = setting(
        "zh-Hant",
        group="answer",
        description="Script of the answer to a Chinese question written only in characters common to both scripts "
        "when the conversation so far does not tell (the user's chosen language).",
    )
    # llm
    backend: str = setting(
        "extractive",
        group="llm",
        description="Answerer, one of rag.llm.BACKENDS: extractive (no LLM), openai (any OpenAI-compatible "
        "chat server) or llamacpp (a local GGUF file through llama-cpp-python, `make llm`).",
    )
    llm_base_url: str = setting(
        "http://127.0.0.1:8080/v1",
        group="llm",
        description="OpenAI-compatible endpoint for the openai backend (llama.cpp server :8080/v1, Ollama :11434/v1).",
    )
    llm_api_key: SecretStr = setting(
        SecretStr("not-needed"), group="llm", description="API key sent to the server (local ones ignore it)."
    )
    llm_model: str = setting("local-model", group="llm", description="Model name sent to the OpenAI-compatible server.")
    llm_timeout: float = setting(
        60.0, group="llm", description="Seconds to wait for the server (connect and each streamed read)."
    )
    gguf_path: Path | None = setting(
        None,
        group="llm",
        description="GGUF model for the llamacpp backend; default: the Qwen2.5-Coder-0.5B `make llm` assembles.",
    )
    llm_gpu_layers: int | None = setting(
        None,
        group="llm",
        description="Layers the llamacpp backend offloads to a GPU: unset = all when llama.cpp was built with GPU "
        "support (CUDA/Metal/Vulkan), else 0; 0 forces CPU.",
    )
    llm_max_context_tokens: int = setting(
        4096,
        group="llm",
        description="Model context (cl100k_base tokens): prompt + answer; the lowest-ranked passages are trimmed to fit.",
    )
    llm_answer_tokens: int = setting(512, group="llm", description="Most tokens the model may generate for one answer.")
    llm_history_turns: int = setting(
        3, group="llm", description="Previous turns used to rewrite a follow-up into a standalone question."
    )
    # verify
    verify_min_overlap: float = setting(
        0.5,
        group="verify",
        description="Share of a generated sentence's keywords its cited passage must contain (dev.jsonl: reference "
        "sentences vs their evidence chunk ≥ 0.6, vs the best other-document chunk ≤ 0.36).",
    )
    verify_min_similarity: float = setting(
        0.5,
        group="verify",
        description="USE cosine a sentence needs to its passage's closest sentence when they are in different "
        "languages (dev.jsonl: evidence ≥ 0.52, other documents ≤ 0.47).",
    )
    # serve
    host: str = setting("127.0.0.1", group="serve", description="Address the chat UI binds to.")
    port: int = setting(7860, group="serve", description="Port of the chat UI.", ge=1, le=65535)
    mcp_port: int = setting(
        8765, group="serve", description="Port of `rag mcp --http` (it binds to host too).", ge=1, le=65535
    )
    allowed_hosts: str = setting(
        "",
        group="serve",
        description="Host names the chat UI answers besides loopback (comma-separated, name or name:port, "
        "e.g. notebook.lan); any other Host header or a cross-site Origin gets 403.",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from rag.llm import BACKENDS  # the one list of backends (light: no LangChain until a model is built)

        if value not in BACKENDS:
            raise ValueError(f"Input should be one of {', '.join(BACKENDS)}")
        return value

    def __init__(self, **values: Any) -> None:
        check_environment()
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise settings_error(err) from err

    def updated(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated like the rest (model_copy(update=...) skips validation)."""
        # Every field is passed, so the environment cannot override a value of this object.
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**values, **changes})

    def grouped(self) -> dict[str, list[tuple[str, Any, str]]]:
        """(RAG_ name, value, description) of every setting by group, in GROUPS order; secrets stay hidden."""
        out: dict[str, list[tuple[str, Any, str]]] = {group: [] for group in GROUPS}
        for name, field in type(self).model_fields.items():
            group = (field.json_schema_extra or {}).get("group", "storage")  # type: ignore[union-attr]
            out[group].append((env_name(name), getattr(self, name), field.description or ""))
        return out

    def checked_k(self, k: Any) -> int:
        """Passages a search was asked for, within the bounds of the k setting (1 to MAX_K); None: the setting.
        The CLI's -k, the MCP tool's k and the UI's slider all pass here."""
        if k is None:
            return self.k
        bounds = f"a whole number from 1 to {MAX_K}"
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise SettingsError(f"k (passages to return) must be {bounds}, not {k!r}")
        try:
            return self.updated(k=int(k)).k
        except SettingsError:
            raise SettingsError(f"k (passages to return) must be {bounds}, not {k!r}") from None

    def answer_hits(self) -> int:
        """Passages `ask` retrieves and answers from: answer_k, or k when that is more."""
        return max(self.k, self.answer_k)

    def index_setup(self) -> str:
        """A short hash of the embedder set-up: vectors of another set-up are never mixed in one collection."""
        setup = (
            f"{INDEX_VERSION}|{self.embedder}|{self.embedder_backend}|{self.second_embedder and self.second_embedder_weight}|"
            f"{self.chunk_tokens}|{self.chunk_overlap}"
        )
        return hashlib.sha1(setup.encode()).hexdigest()[:8]

    def collection_name(self, notebook_id: str | None = None) -> str:
        """Chroma collection of the notebook `notebook_id` (rag.index.identity) for this embedder set-up; without an
        id, the name indexes had before notebook ids (the set-up alone)."""
        return (
            f"{self.collection}-{notebook_id}-{self.index_setup()}"
            if notebook_id
            else f"{self.collection}-{self.index_setup()}"
        )

    def embedder_path(self) -> str:
        """The model to load: the offline e5 folder under cache_dir unless another model is named.

        A path only: nothing is built here (the loader builds the offline e5 when its folder is missing)."""
        if self.embedder != DEFAULT_EMBEDDER:
            return self.embedder
        return str(Path(self.cache_dir) / DEFAULT_EMBEDDER_FOLDER)

    def hub_model(self) -> bool:
        """Whether the embedder is a hub model id to download (org/name, not a folder here): only then may the
        process reach the Hugging Face hub (rag.offline.go_offline)."""
        named = self.embedder
        return named != DEFAULT_EMBEDDER and "/" in named and not Path(named).expanduser().exists()


def env_name(field: str) -> str:
    """The environment variable of a setting: k -> RAG_K."""
    return f"{ENV_PREFIX}{field.upper()}"


def check_environment(environ: dict[str, str] | None = None) -> None:
    """Refuse a RAG_* environment variable that names no setting (a typo would otherwise be ignored silently)."""
    environ = os.environ if environ is None else environ
    known = {env_name(name) for name in Settings.model_fields} | NOT_SETTINGS
    for name in sorted(environ):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known - NOT_SETTINGS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (rag settings lists them)"
            raise SettingsError(f"unknown setting {name} in the environment{hint}")


def settings_error(err: ValidationError) -> SettingsError:
    """A pydantic ValidationError as one line naming each setting: "setting RAG_K: Input should be a valid integer,
    unable to parse string as an integer (got 'abc')"."""
    problems = []
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else "?"
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, list(Settings.model_fields), n=1)
            problems.append(f"unknown setting {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            continue
        where = env_name(name) if name in Settings.model_fields else name
        message = e["msg"].removeprefix("Value error, ")  # a validator's own words
        problems.append(f"setting {where}: {message} (got {e.get('input')!r})")
    return SettingsError("; ".join(problems))
