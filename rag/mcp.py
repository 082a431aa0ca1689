"""The notebook as a Model Context Protocol server (`rag mcp`): search, ask, list_sources and index for agents."""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.from_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations

from rag.errors import NotebookError
from rag.home import hidden_part
from rag.hosts import allowed_hosts as hosts_for
from rag.hosts import bound_names
from rag.settings import Settings

INSTRUCTIONS = (
    "A research notebook over the user's own documents (Traditional Chinese, Simplified Chinese, English). "
    "Use `ask` for a cited answer built only from the documents (it says plainly when they do not contain one), "
    "`search` for the passages themselves, `list_sources` for what is indexed, `guide` for a document's summary, "
    "key terms and questions it answers, `index` to add or refresh files; "
    "each takes an optional `notebook` (`list_notebooks` names them). "
    "Cite the `source` of what you use."
)


class NotebookTools:
    """The tools' work over the notebooks of the data folder, each opened on first use and kept for the process:
    models load once. `notebook` names one (none: the settings' own)."""

    def __init__(self, settings: Settings, notebook: Any = None) -> None:
        self.settings = settings
        self._notebook = notebook
        self._lock = threading.Lock()
        self._named: Any = None  # rag.notebooks.OpenNotebooks, for tools given a notebook's name

    @property
    def notebook(self):
        with self._lock:
            if self._notebook is None:
                from rag import Notebook

                self._notebook = Notebook(settings=self.settings)
            return self._notebook

    def open(self, name: str | None = None):
        """The notebook called `name` (one line naming those there are when none is), else the default one."""
        if not name:
            return self.notebook
        from rag.notebooks import OpenNotebooks, data_root

        default = self.notebook
        with self._lock:
            if self._named is None:
                self._named = OpenNotebooks(default.settings.updated(path=data_root(default.path)), first=default)
        return self._named.get(name)

    def list_notebooks(self) -> dict[str, Any]:
        from rag.notebooks import Notebooks, data_root

        return {"notebooks": [{"name": i.name, "id": i.id} for i in Notebooks(data_root(self.notebook.path)).list()]}

    def close(self) -> None:
        """Close the notebook this process opened (preload threads, helper threads), if it opened one."""
        with self._lock:
            notebook, self._notebook = self._notebook, None
            named, self._named = self._named, None
        if named is not None:
            named.close()
        if notebook is not None:
            notebook.close()

    def warm(self) -> None:
        """Load the models now (a background thread at start), so the first call does not wait the whole load."""
        try:
            nb = self.notebook
            nb.preload()  # side by side, in background threads; the line below waits for what it needs
            _ = nb.retriever, nb.answerer
        except Exception as err:  # noqa: BLE001 — the first tool call reports it in one line
            print(f"rag: notice: models not preloaded: {' '.join(str(err).split())}", file=sys.stderr, flush=True)

    def search(self, query: str, k: int | None = None, notebook: str | None = None) -> dict[str, Any]:
        k = self.settings.checked_k(k)  # an agent asking for too many gets one line, not a context flood
        nb = self.open(notebook)
        if nb.is_empty():
            raise NotebookError(f"the notebook at {nb.path} is empty: index documents first (the index tool)")
        return {"hits": [hit_dict(h) for h in nb.search(query, k=k)]}

    def ask(self, question: str, notebook: str | None = None) -> dict[str, Any]:
        answer = self.open(notebook).ask(question).as_dict()
        keys = ("answer", "status", "refused", "citations", "notice", "unsupported", "rewritten_query", "suggestions")
        return {key: answer[key] for key in keys if key in answer}

    def list_sources(self, notebook: str | None = None) -> dict[str, Any]:
        return {"sources": self.open(notebook).sources()}

    def guide(self, source: str | None = None, notebook: str | None = None) -> dict[str, Any]:
        nb = self.open(notebook)
        guides = [nb.guide(source)] if source else nb.overview().guides
        return {"guides": [g.as_dict() for g in guides]}

    def index(
        self, path: str, on_progress: Callable[[int, int], object] | None = None, notebook: str | None = None
    ) -> dict[str, Any]:
        """Index a file or folder inside the notebook's home; bad files are listed in `errors`, one line each."""
        nb = self.open(notebook)
        given = Path(path).expanduser()
        target = given if given.is_absolute() else nb.home / given
        shown = path if len(path) <= 200 else f"{path[:200]}… ({len(path):,} characters)"
        try:
            exists, resolved = target.exists() or target.is_symlink(), target.resolve()
        except (OSError, ValueError) as err:  # a name too long for the file system, a NUL byte
            raise NotebookError(f"cannot use the path {shown}: {getattr(err, 'strerror', None) or err}") from err
        if not exists:
            raise NotebookError(f"no such file or directory: {shown}")
        # An agent steered by a document must not pull ~/.ssh into the notebook and read it back: only what really
        # lies under the home (a link in it to elsewhere is refused too: given by name, the indexer would follow it).
        if not _inside(resolved, nb.home):
            raise NotebookError(
                f"{shown} is outside the notebook's home {nb.home}: only files under it can be indexed "
                "(set RAG_HOME to the folder of your documents)"
            )
        hidden = hidden_part(resolved, nb.home)
        if hidden:
            raise NotebookError(
                f"{shown} is in the hidden folder {hidden}: hidden files and folders (.ssh, .config ...) are indexed only "
                "when you name them yourself (rag index PATH)"
            )
        return nb.index(target, progress=False, on_progress=on_progress).as_dict()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def hit_dict(hit) -> dict[str, Any]:
    """A hit as an agent reads it: where it is from, its text and its fused score."""
    return {
        "source": hit.source,
        "title": hit.title,
        "section": hit.section,
        "page": getattr(hit, "page", None),
        "chunk_id": hit.chunk_id,
        "score": round(float(hit.score), 4),
        "text": hit.text,
    }


def _one_line_errors(work: Callable[[], dict[str, Any]]) -> dict[str, Any] | CallToolResult:
    """The tool's result, or the user error as the CLI words it: one line, marked as a tool error."""
    try:
        return work()
    except NotebookError as err:
        return CallToolResult(
            content=[TextContent(type="text", text=f"rag: {' '.join(str(err).split())}")], is_error=True
        )


def _lifespan(tools: NotebookTools, stdio: bool):
    """The server's lifespan: stray prints go to stderr while stdio carries the protocol; models start loading."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[None]:
        # stdio_server() has already taken fd 1 for the protocol and pointed fd 1 at stderr; sys.stdout's own
        # buffer would still flush onto the wire when the process exits, so it goes to stderr too.
        previous = sys.stdout
        if stdio:
            sys.stdout = sys.stderr
        threading.Thread(target=tools.warm, name="rag-mcp-warm", daemon=True).start()
        try:
            yield
        finally:
            if stdio:
                sys.stdout = previous

    return lifespan


def build_server(
    settings: Settings, stdio: bool = True, notebook: Any = None, tools: NotebookTools | None = None
) -> MCPServer:
    """The MCP server with its tools over the notebook of `settings` (or an open `notebook`, or `tools`)."""
    tools = tools or NotebookTools(settings, notebook)
    server = MCPServer("rag-notebook", instructions=INSTRUCTIONS, log_level="WARNING", lifespan=_lifespan(tools, stdio))
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=reads)
    def search(query: str, k: int | None = None, notebook: str | None = None) -> dict[str, Any]:
        """Passages of the user's documents that match a query (any of zh-Hant, zh-Hans, English; the languages
        are searched across), best first: each with source, title, section, page, chunk_id, score and text.
        k: how many passages (default: the notebook's k setting; at most 50). notebook: which notebook, by name
        (list_notebooks; default: the server's)."""
        return _one_line_errors(lambda: tools.search(query, k, notebook))

    @server.tool(annotations=reads)
    def ask(question: str, notebook: str | None = None) -> dict[str, Any]:
        """A cited answer to a question from the user's documents only: `answer` quotes them with [n] markers,
        `citations` lists each n with chunk_id, source, title and the quote. `status` is "answered"; "partial" when
        the documents are about the question but do not state what it asks (`answer` says so and quotes the closest
        passages, cited); or "not_found" (no citations) when nothing in them is about it. `refused` is true unless
        answered. notebook: which notebook, by name (default: the server's)."""
        return _one_line_errors(lambda: tools.ask(question, notebook))

    @server.tool(annotations=reads)
    def list_sources(notebook: str | None = None) -> dict[str, Any]:
        """The indexed documents: source (file name), title, date and chunk count of each. notebook: which
        notebook, by name (default: the server's)."""
        return _one_line_errors(lambda: tools.list_sources(notebook))

    @server.tool(annotations=reads)
    def guide(source: str | None = None, notebook: str | None = None) -> dict[str, Any]:
        """A document's guide: its central sentences (`sentences`, each cited in `citations`), key `terms` and
        `questions` it answers; without `source` (a list_sources name), every document's. notebook: which
        notebook, by name (default: the server's)."""
        return _one_line_errors(lambda: tools.guide(source, notebook))

    @server.tool(annotations=reads)
    def list_notebooks() -> dict[str, Any]:
        """The user's notebooks (name and id): each keeps its own documents; the other tools take its name."""
        return _one_line_errors(tools.list_notebooks)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True))
    def index(path: str, ctx: Context, notebook: str | None = None) -> dict[str, Any]:
        """Bring a file or folder (under the notebook's home; relative paths start there) into the notebook: new
        files are added, changed ones re-indexed, deleted ones removed. Returns the counts; `errors` names each
        file that could not be indexed, one line each (the others are indexed)."""

        def progress(done: int, total: int) -> None:  # from the worker thread the tool runs in
            if total:
                anyio.from_thread.run(ctx.report_progress, done, total, "chunks embedded")

        return _one_line_errors(lambda: tools.index(path, progress, notebook))

    return server


def http_security(host: str, allowed_hosts: str, port: int) -> TransportSecuritySettings:
    """Host and Origin checks (DNS rebinding, other sites' pages): the page's rule (rag.hosts), so loopback, the
    bind address and RAG_ALLOWED_HOSTS on this server's port only; a page served on another loopback port is
    another site."""
    hosts = sorted(hosts_for(port, [*bound_names(host), *allowed_hosts.split(",")]))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )


def serve(settings: Settings, http: bool = False) -> None:
    """Serve until the client goes (stdio) or Ctrl-C (HTTP, at http://settings.host:settings.mcp_port/mcp); the
    notebook is closed on the way out."""
    tools = NotebookTools(settings)
    server = build_server(settings, stdio=not http, tools=tools)
    try:
        if not http:
            server.run("stdio")
            return
        host, port = settings.host, settings.mcp_port
        print(f"rag: MCP server on http://{host}:{port}/mcp (streamable HTTP)", file=sys.stderr, flush=True)
        server.run(
            "streamable-http",
            host=host,
            port=port,
            transport_security=http_security(host, settings.allowed_hosts, port),
        )
    finally:
        tools.close()
