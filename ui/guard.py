"""The server's door: answer only requests addressed to loopback (or hosts the user named), never a cross-site page.

A web page on the internet can make the browser talk to 127.0.0.1 through a domain that resolves there (DNS
rebinding): the request then carries that domain in Host. Another site's script carries its own Origin. Both get
403 with a one-line reason, before Gradio (whose CORS answer echoes the Origin of a non-loopback Host) sees them.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.hosts import LOOPBACK, allowed_hosts, origin_host  # one rule for the page and `rag mcp --http`

__all__ = ["LOOPBACK", "HostGuard", "allowed_hosts", "origin_host"]


class HostGuard:
    """ASGI middleware: 403 for a Host not in `hosts`, or an Origin whose host is not in `hosts` (cross-site)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None to let it in."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "").strip().lower()
        if host not in self.hosts:
            return (
                f"host not allowed: {host or '(none)'!r}; this notebook answers {', '.join(sorted(self.hosts))} "
                "(add names with RAG_ALLOWED_HOSTS)"
            )
        origin = headers.get("origin")
        if origin is not None and origin_host(origin) not in self.hosts:
            return f"cross-site request refused: origin {origin!r} is not this notebook"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        else:
            await PlainTextResponse(f"403 Forbidden: {reason}\n", status_code=403)(scope, receive, send)
