"""The answer backends in one registry: name -> label, how to build its LangChain chat model, whether it can run here.

`BACKENDS` is the only list of backends: Settings.backend is validated against it, and the CLI's `--backend`
choices and the UI's picker come from it. To add one, write its chat-model builder (as rag/llm/openai.py) and add an entry.
Light to import: the LangChain modules load only when a chat model is built.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import messages
from rag.errors import BackendUnavailable  # noqa: F401 -- the one error, raised by the backends as rag.llm's

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.settings import Settings

# The llamacpp backend's default model, assembled by `python -m rag.provision gguf 0.5b` (`make llm`).
DEFAULT_GGUF_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


@dataclass(frozen=True)
class Backend:
    """One answer backend. `chat_model` is None for the extractive answerer (no LLM)."""

    label: str  # shown in the UI's picker
    chat_model: Callable[[Settings], BaseChatModel] | None
    available: Callable[[Settings], tuple[bool, str]]  # (can run here, where it runs or what to install)
    endpoint: Callable[[Settings], str] = lambda settings: ""  # where it runs, for notices


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def gguf_path(settings: Settings) -> Path:
    """The local model: RAG_GGUF_PATH, else the Qwen2.5-Coder-0.5B that `make llm` assembles."""
    return Path(settings.gguf_path) if settings.gguf_path else Path(settings.cache_dir) / "models" / DEFAULT_GGUF_FILE


def _openai_model(settings: Settings) -> BaseChatModel:
    from rag.llm.openai import chat_openai

    return chat_openai(settings)


def _openai_available(settings: Settings) -> tuple[bool, str]:
    ok = importlib.util.find_spec("langchain_openai") is not None
    return ok, f"{settings.llm_model} @ {settings.llm_base_url}" if ok else messages.OPENAI_INSTALL


def _llamacpp_model(settings: Settings) -> BaseChatModel:
    from rag.llm.llamacpp import chat_llamacpp

    return chat_llamacpp(settings)


def _llamacpp_available(settings: Settings) -> tuple[bool, str]:
    path = gguf_path(settings)
    if not llama_cpp_installed():
        return False, messages.LLAMA_CPP_MISSING
    if not path.exists():
        return False, messages.GGUF_MISSING.format(path=path)
    return True, str(path)


BACKENDS: dict[str, Backend] = {
    "extractive": Backend("Extractive (no LLM)", None, lambda settings: (True, "")),
    "openai": Backend(
        "OpenAI-compatible server", _openai_model, _openai_available, lambda settings: settings.llm_base_url
    ),
    "llamacpp": Backend(
        "Local GGUF model (llama.cpp)",
        _llamacpp_model,
        _llamacpp_available,
        lambda settings: str(gguf_path(settings)),
    ),
}


def backends(settings: Settings | None = None) -> list[dict[str, Any]]:
    """The answer backends for a picker: name (the RAG_BACKEND value), label, available, detail.

    Gradio: `gr.Dropdown(choices=[(b["label"], b["name"]) for b in backends()], value=settings.backend)`.
    """
    if settings is None:
        from rag.settings import Settings

        settings = Settings()
    out = []
    for name, backend in BACKENDS.items():
        ok, detail = backend.available(settings)
        out.append({"name": name, "label": backend.label, "available": ok, "detail": detail})
    return out


def _generative(name: str) -> Backend:
    backend = BACKENDS.get(name.lower())
    if backend is None or backend.chat_model is None:
        generative = ", ".join(n for n, b in BACKENDS.items() if b.chat_model)
        raise ValueError(f"unknown generative backend {name!r}; choose one of {generative}")
    return backend


def chat_model(settings: Settings, backend: str | None = None) -> BaseChatModel:
    """The LangChain chat model of a generative backend ("openai" or "llamacpp")."""
    return _generative(backend or settings.backend).chat_model(settings)


def endpoint(settings: Settings, backend: str | None = None) -> str:
    """Where the backend runs, for messages: the server URL or the model file."""
    return _generative(backend or settings.backend).endpoint(settings)
