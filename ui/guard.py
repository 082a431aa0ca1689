"""The server's door: answer only requests addressed to loopback (or hosts the user named), never a cross-site page.

A web page on the internet can make the browser talk to 127.0.0.1 through a domain that resolves there (DNS
rebinding): the request then carries that domain in Host. Another site's script carries its own Origin. Both get
403 with a one-line reason, before Gradio (whose CORS answer echoes the Origin of a non-loopback Host) sees them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _with_port(name: str, port: int) -> set[str]:
    """A host name as Host headers spell it: with the port, and bare too when the port is the default one."""
    name = name.strip().lower()
    if not name:
        return set()
    has_port = "]:" in name if name.startswith("[") else ":" in name
    if has_port:
        return {name}
    return {f"{name}:{port}"} | ({name} if port == 80 else set())


def allowed_hosts(port: int, extra: str | Iterable[str] = ()) -> frozenset[str]:
    """Host header values the server answers: each loopback name with its port, and the user's own names
    (`extra`: "name" or "name:port", comma-separated in a string; a name without port gets the server's)."""
    names = extra.split(",") if isinstance(extra, str) else list(extra)
    hosts: set[str] = set()
    for name in [*LOOPBACK, *names]:
        hosts |= _with_port(name, port)
    return frozenset(hosts)


def origin_host(origin: str) -> str:
    """The host[:port] of an Origin header ("http://127.0.0.1:7860" → "127.0.0.1:7860"); "" when it has none."""
    parts = urlsplit(origin.strip().lower())
    return parts.netloc if parts.scheme in ("http", "https") else ""


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
