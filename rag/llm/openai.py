"""The openai backend: any OpenAI-compatible chat server (llama.cpp server, Ollama, vLLM, LM Studio, OpenAI).

Through langchain-openai, an optional package: without it the backend explains what to install.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatResult

from rag import messages
from rag.llm import BackendUnavailable
from rag.settings import Settings


class UnavailableChatModel(BaseChatModel):
    """Stands in for a backend that cannot run: every call raises BackendUnavailable(reason)."""

    reason: str

    @property
    def _llm_type(self) -> str:
        return "unavailable"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        raise BackendUnavailable(self.reason)


def chat_openai(settings: Settings) -> BaseChatModel:
    """ChatOpenAI for `settings` (streaming, no retries, greedy), or a stand-in that explains what to install."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        return UnavailableChatModel(reason=messages.OPENAI_MISSING)
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        streaming=True,
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=0.0,
        max_tokens=settings.llm_answer_tokens,  # sent as max_completion_tokens, which Ollama and
        extra_body={"max_tokens": settings.llm_answer_tokens},  # llama-cpp-python's server ignore
    )
