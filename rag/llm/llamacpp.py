"""The llamacpp backend: a local GGUF model through llama-cpp-python (optional: `make llm`) as a chat model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from rag import messages
from rag.llm import BackendUnavailable, gguf_path, llama_cpp_installed
from rag.settings import Settings
from rag.util import available_cpus

# Loaded models, shared by every ChatLlamaCpp of this process with the same file and set-up: loading a
# GGUF takes seconds and its weights hundreds of MB, and the UI builds a chat model per backend choice.
_LLAMAS: dict[tuple, Any] = {}


class ChatLlamaCpp(BaseChatModel):
    """A local GGUF model through llama-cpp-python's chat completion (the GGUF's own chat template),
    streamed. llama_cpp is imported and the model loaded on first use, once per process."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int | None = None  # None: all layers when llama.cpp was built with GPU offload, else 0
    max_tokens: int = 512
    temperature: float = 0.0
    _llm: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def load(self):
        if self._llm is None:
            if not llama_cpp_installed():
                raise BackendUnavailable(messages.LLAMA_CPP_MISSING)
            if not Path(self.model_path).exists():
                raise BackendUnavailable(messages.GGUF_MISSING.format(path=self.model_path))
            import llama_cpp

            threads = self.n_threads or available_cpus()
            gpu_layers = self.n_gpu_layers
            if gpu_layers is None:
                gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
            key = (self.model_path, self.n_ctx, threads, gpu_layers)
            if key not in _LLAMAS:
                _LLAMAS[key] = llama_cpp.Llama(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=threads,
                    n_gpu_layers=gpu_layers,
                    verbose=False,
                )
            self._llm = _LLAMAS[key]
        return self._llm

    def _request(self, messages: list[BaseMessage], stop, kwargs) -> dict:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return {
            "messages": [{"role": roles.get(m.type, "user"), "content": m.content} for m in messages],
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "stop": stop,
        }

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        out = self.load().create_chat_completion(**self._request(messages, stop, kwargs))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        for part in self.load().create_chat_completion(**self._request(messages, stop, kwargs), stream=True):
            delta = part["choices"][0].get("delta", {}).get("content")
            if delta:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk


def chat_llamacpp(settings: Settings) -> ChatLlamaCpp:
    """The local model of `settings` (loaded on first use)."""
    return ChatLlamaCpp(
        model_path=str(gguf_path(settings)),
        n_ctx=settings.llm_max_context_tokens,
        n_gpu_layers=settings.llm_gpu_layers,
        max_tokens=settings.llm_answer_tokens,
    )
