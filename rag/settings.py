"""One typed settings object for the whole notebook, read from RAG_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EMBEDDER = "e5-small-offline"
# Bump when chunking, keyword terms or embedded text change: the index is then rebuilt, never mixed.
INDEX_VERSION = 3  # 3: Han bigrams in the BM25 terms


class Settings(BaseSettings):
    """Every knob of the notebook; each can be set as RAG_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    path: Path = Field(Path(".rag"), description="Data folder holding the Chroma database and the keyword index.")
    cache_dir: Path = Field(
        REPO_ROOT / ".cache", description="Git-ignored cache where offline models are built at set-up."
    )
    embedder: str = Field(
        DEFAULT_EMBEDDER,
        description="Sentence-transformers model: a folder path or hub id; the default is built offline.",
    )
    collection: str = Field(
        "notebook", description="Chroma collection name prefix; the embedder set-up is appended so a change re-embeds."
    )
    embedder_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="How the offline e5 runs: onnx (int8 ONNX Runtime, ~4x faster, cosine ≥ 0.99 to fp32), torch "
        "(fp32 sentence-transformers), or auto (onnx when its file was built, else torch).",
    )
    second_embedder: bool = Field(
        True,
        description="Fuse USE multilingual v3 (offline, fast) into the dense vectors: better across languages.",
    )
    second_embedder_weight: float = Field(
        0.3,
        description="Share of the USE cosine in the fused dense similarity, the main embedder has the rest (0.3: "
        "DRCD R@1 0.94 -> 0.95 and XQuAD en->zh 0.69 -> 0.74 against 0.5; USE alone is weak within Chinese).",
    )
    chunk_tokens: int = Field(256, description="Target chunk size in embedder tokens.")
    chunk_overlap: int = Field(48, description="Overlap between consecutive chunks, in embedder tokens.")
    embed_batch: int = Field(32, description="Texts per embedding batch.")
    candidates: int = Field(40, description="Hits taken from each retriever before fusion.")
    fusion: Literal["score", "rrf"] = Field(
        "score",
        description="How the dense, keyword and other-language lists combine: score = weighted sum of normalised "
        "scores (dense: from the corpus median to the best hit; BM25: share of the best hit's score), rrf = "
        "reciprocal rank fusion. Score fusion keeps BM25's sure wins (DRCD sample200 R@1 0.80 -> 0.95).",
    )
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant (fusion=rrf): larger flattens the rank weights.")
    dense_weight: float = Field(1.0, description="Weight of the dense (embedding) list in the fusion.")
    keyword_weight: float = Field(1.0, description="Weight of the BM25 list in the fusion.")
    translate_query: bool = Field(
        True,
        description="Also search the question's keywords in the other language (CC-CEDICT glossary): finds English "
        "passages for Chinese questions and the reverse (dev.jsonl R@5 0.72 -> 0.83).",
    )
    translation_weight: float = Field(0.5, description="Weight of the other-language keyword ranking in the fusion.")
    k: int = Field(5, description="Passages returned by search and read by the answerer.")
    answer_sentences: int = Field(4, description="Most sentences the extractive answer quotes.")
    answer_gate: float | None = Field(
        None,
        description="Probability the learned answer gate (rag/answer_model.json) must give that the retrieved "
        "sentences answer the question, else the answer is a refusal; higher refuses more. Unset: the cut fitted "
        "for at most 4% false refusals on the training questions (DRCD test, CMRC 2018 trial, XQuAD).",
    )
    answer_margin: float = Field(0.08, description="Sentences scoring this far below the best one are left out of the answer.")
    default_script: str = Field(
        "zh-Hant", description="Script used for Chinese questions written only in characters common to both scripts."
    )
    seeds: Path = Field(REPO_ROOT / "seeds", description="Folder indexed by `make run` and the UI's re-index button.")
    host: str = Field("127.0.0.1", description="Address the chat UI binds to.")
    port: int = Field(7860, description="Port of the chat UI.")
    # Generative answers (rag/generative.py); the extractive answer stays the offline default and fallback.
    backend: Literal["extractive", "openai", "llamacpp"] = Field(
        "extractive",
        description="Answerer: extractive (no LLM), openai (any OpenAI-compatible chat server) or llamacpp "
        "(a local GGUF file through llama-cpp-python, `make llm`).",
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="OpenAI-compatible endpoint for the openai backend (llama.cpp server :8080/v1, Ollama :11434/v1).",
    )
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key sent to the server (local ones ignore it).")
    llm_model: str = Field("local-model", description="Model name sent to the OpenAI-compatible server.")
    llm_timeout: float = Field(60.0, description="Seconds to wait for the server (connect and each streamed read).")
    gguf_path: Path | None = Field(
        None, description="GGUF model for the llamacpp backend; default: the Qwen2.5-Coder-0.5B `make llm` assembles."
    )
    llm_gpu_layers: int | None = Field(
        None,
        description="Layers the llamacpp backend offloads to a GPU: unset = all when llama.cpp was built with GPU "
        "support (CUDA/Metal/Vulkan), else 0; 0 forces CPU.",
    )
    llm_max_context_tokens: int = Field(
        4096,
        description="Model context (cl100k_base tokens): prompt + answer; the lowest-ranked passages are trimmed to fit.",
    )
    llm_answer_tokens: int = Field(512, description="Most tokens the model may generate for one answer.")
    llm_history_turns: int = Field(3, description="Previous turns used to rewrite a follow-up into a standalone question.")
    verify_min_overlap: float = Field(
        0.5,
        description="Share of a generated sentence's keywords its cited passage must contain (dev.jsonl: reference "
        "sentences vs their evidence chunk ≥ 0.6, vs the best other-document chunk ≤ 0.36).",
    )
    verify_min_similarity: float = Field(
        0.5,
        description="USE cosine a sentence needs to its passage's closest sentence when they are in different "
        "languages (dev.jsonl: evidence ≥ 0.52, other documents ≤ 0.47).",
    )

    def collection_name(self) -> str:
        """Chroma collection for this embedder set-up: vectors of another set-up are never mixed in."""
        import hashlib

        setup = (
            f"{INDEX_VERSION}|{self.embedder}|{self.embedder_backend}|{self.second_embedder and self.second_embedder_weight}|"
            f"{self.chunk_tokens}|{self.chunk_overlap}"
        )
        return f"{self.collection}-{hashlib.sha1(setup.encode()).hexdigest()[:8]}"

    def embedder_path(self) -> str:
        """The model to load: the offline e5 folder (built if missing) unless another model is named."""
        if self.embedder != DEFAULT_EMBEDDER:
            return self.embedder
        from rag.embedder import ensure_e5

        return str(ensure_e5(self.cache_dir))
