"""Which Host and Origin headers a server on loopback answers: one rule for the page (ui.guard) and `rag mcp --http`."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

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


def bound_names(host: str) -> list[str]:
    """The bind address as a Host header names it, when it is a specific one (a wildcard names none)."""
    return [] if host in ("", "0.0.0.0", "::") else [f"[{host}]" if ":" in host else host]
