"""An LLM failure as one localized line for the answer (server down, timeout, HTTP error, backend unavailable)."""

from __future__ import annotations

import re

from rag import messages
from rag.llm import BackendUnavailable


def one_line(text: str, limit: int = 200) -> str:
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
        return messages.say(messages.LLM_UNAVAILABLE, script, detail=one_line(exc))
    if (openai and isinstance(exc, openai.APITimeoutError)) or isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return messages.say(messages.LLM_TIMEOUT, script, url=where, timeout=timeout)
    if (openai and isinstance(exc, openai.APIConnectionError)) or isinstance(
        exc, (ConnectionError, httpx.TransportError)
    ):
        cause = exc.__cause__ or exc.__context__ or exc
        return messages.say(messages.LLM_UNREACHABLE, script, url=where, detail=one_line(cause or exc))
    if openai and isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        body = body.get("error", body) if isinstance(body.get("error", body), dict) else body
        message = body.get("message") or re.sub(r"^Error code: \d+ - ", "", str(exc.message))
        return messages.say(
            messages.LLM_HTTP_ERROR, script, url=where, detail=one_line(f"HTTP {exc.status_code}: {message}")
        )
    return messages.say(messages.LLM_FAILED, script, detail=one_line(f"{type(exc).__name__}: {exc}"))
