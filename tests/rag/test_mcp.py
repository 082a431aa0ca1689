"""`rag mcp` as an agent meets it: the real CLI in a child process, driven by the MCP Python client (stdio, HTTP)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.rag.small_corpus import DOCS

REPO = Path(__file__).resolve().parents[2]
NEW_DOC = "Zanzibar is Google's global authorization system. It stores access control lists as relation tuples."


def make_home(root: Path) -> Path:
    """A notebook home with docs/ (indexed before the server starts) and later/ (indexed through the tool)."""
    (root / "docs").mkdir(parents=True)
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    (root / "later").mkdir()
    (root / "later" / "zanzibar.txt").write_text(NEW_DOC, encoding="utf-8")
    (root / "later" / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (root / "link-to-etc").symlink_to("/etc")  # a link out of the home: the tool refuses it
    return root


def env_for(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**clean, "RAG_PATH": str(home / ".rag"), "RAG_HOME": str(home), "PYTHONPATH": str(REPO)}


def index_docs(home: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", str(home / "docs"), "--json"],
        env=env_for(home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == len(DOCS)


def result(call) -> dict:
    """A successful tool call's structured result."""
    assert not call.is_error, call.content
    return call.structured_content


def error_line(call) -> str:
    assert call.is_error
    (content,) = call.content
    return content.text


async def stdio_session_run(home: Path, errlog) -> dict:
    """One `rag mcp` over stdio, every tool called in turn; what each returned (and when)."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "rag.cli", "mcp"], env=env_for(home), cwd=str(REPO)
    )
    seen: dict = {}
    with anyio.fail_after(600):
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            seen["tools"] = {t.name: t for t in (await session.list_tools()).tools}
            seen["search"] = result(await session.call_tool("search", {"query": "Gemini 3 用什麼晶片訓練?", "k": 2}))
            began = time.perf_counter()
            seen["ask"] = result(await session.call_tool("ask", {"question": "Gemini 3 是在什麼晶片上訓練的?"}))
            seen["ask_seconds"] = time.perf_counter() - began
            seen["refused"] = result(await session.call_tool("ask", {"question": "如何烤出好吃的酸種麵包?"}))
            seen["sources_before"] = result(await session.call_tool("list_sources", {}))
            seen["guide"] = result(await session.call_tool("guide", {}))
            progress: list[tuple] = []

            async def on_progress(done: float, total: float | None, message: str | None) -> None:
                progress.append((done, total))

            seen["index"] = result(await session.call_tool("index", {"path": "later"}, progress_callback=on_progress))
            seen["progress"] = progress
            seen["search_new"] = result(await session.call_tool("search", {"query": "Zanzibar authorization", "k": 1}))
            seen["sources_after"] = result(await session.call_tool("list_sources", {}))
            seen["missing"] = error_line(await session.call_tool("index", {"path": "no-such-folder"}))
            seen["outside"] = error_line(await session.call_tool("index", {"path": "/etc"}))
            seen["link_out"] = error_line(await session.call_tool("index", {"path": "link-to-etc"}))
            seen["bad_k"] = error_line(await session.call_tool("search", {"query": "TPU", "k": 0}))
    return seen


@pytest.fixture(scope="module")
def stdio_run(tmp_path_factory) -> dict:
    home = make_home(tmp_path_factory.mktemp("mcp"))
    index_docs(home)
    with open(home / "server-stderr.txt", "w+", encoding="utf-8") as errlog:
        seen = anyio.run(stdio_session_run, home, errlog)
        errlog.seek(0)
        seen["stderr"] = errlog.read()
    return seen


@pytest.mark.process
def test_the_guide_tool_gives_each_documents_summary_terms_and_questions(stdio_run):
    guides = stdio_run["guide"]["guides"]
    sources = {s["source"] for s in stdio_run["sources_before"]["sources"]}
    assert {g["source"] for g in guides} == sources
    assert all(g["sentences"] and g["citations"] and g["terms"] and g["questions"] for g in guides)


@pytest.mark.process
def test_the_tools_are_listed_with_their_arguments(stdio_run):
    tools = stdio_run["tools"]
    assert set(tools) == {"search", "ask", "list_sources", "list_notebooks", "index", "guide"}
    assert set(tools["search"].input_schema["properties"]) == {"query", "k", "notebook"}
    assert tools["ask"].input_schema["required"] == ["question"]
    assert tools["index"].input_schema["required"] == ["path"]
    assert tools["ask"].annotations.read_only_hint and not tools["index"].annotations.read_only_hint
    assert all(t.description for t in tools.values())


@pytest.mark.process
def test_search_returns_hits_with_their_citation_fields(stdio_run):
    hits = stdio_run["search"]["hits"]
    assert len(hits) == 2
    assert set(hits[0]) == {"source", "title", "section", "page", "chunk_id", "score", "text"}
    assert hits[0]["source"] == "docs/tpu.md" and "TPU" in hits[0]["text"] and hits[0]["title"] == "TPU 筆記"
    assert hits[0]["score"] >= hits[1]["score"]


@pytest.mark.process
def test_ask_cites_the_right_source_and_refuses_an_off_topic_question(stdio_run):
    answer = stdio_run["ask"]
    assert answer["refused"] is False and "TPU" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["source"] == "docs/tpu.md"
    assert f"[{answer['citations'][0]['n']}]" in answer["answer"]
    assert {"n", "chunk_id", "source", "title", "quote"} <= set(answer["citations"][0])
    refused = stdio_run["refused"]
    assert refused["refused"] is True and refused["citations"] == []
    # The plain refusal, or the one naming the question's words the notes never write (in its own script).
    assert refused["answer"] in ("文件中沒有找到相關內容。", "文件中沒有提到「好吃」、「麵包」。"), refused["answer"]


@pytest.mark.process
def test_index_adds_a_file_that_search_then_finds_and_names_a_bad_one(stdio_run):
    before = {s["source"] for s in stdio_run["sources_before"]["sources"]}
    assert before == {f"docs/{name}" for name in DOCS}
    report = stdio_run["index"]
    assert report["added"] == 1 and len(report["errors"]) == 1 and "blob.txt" in report["errors"][0]
    assert "\n" not in report["errors"][0]
    assert stdio_run["progress"] and stdio_run["progress"][-1] == (1, 1)  # chunks embedded, reported as they go
    assert stdio_run["search_new"]["hits"][0]["source"] == "later/zanzibar.txt"
    after = {s["source"]: s for s in stdio_run["sources_after"]["sources"]}
    assert set(after) == before | {"later/zanzibar.txt"} and after["later/zanzibar.txt"]["chunks"] == 1


@pytest.mark.process
def test_bad_arguments_are_one_line_errors(stdio_run):
    for line in (stdio_run["missing"], stdio_run["outside"], stdio_run["link_out"], stdio_run["bad_k"]):
        assert line.startswith("rag: ") and "\n" not in line and "Traceback" not in line
    assert "no such file or directory: no-such-folder" in stdio_run["missing"]
    assert (
        "outside the notebook's home" in stdio_run["outside"] and "outside the notebook's home" in stdio_run["link_out"]
    )
    assert "k (passages to return)" in stdio_run["bad_k"]
    assert "Traceback" not in stdio_run["stderr"]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


async def http_session_run(url: str) -> dict:
    with anyio.fail_after(300):
        return await _http_calls(url)


async def _http_calls(url: str) -> dict:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name for t in (await session.list_tools()).tools}
        hits = result(await session.call_tool("search", {"query": "DRAM gross margin at the top of the cycle", "k": 1}))
        return {"tools": tools, "hits": hits["hits"]}


@pytest.mark.process
def test_streamable_http_on_loopback(tmp_path, free_port):
    home = make_home(tmp_path)
    index_docs(home)
    port = free_port()
    command = [sys.executable, "-m", "rag.cli", "mcp", "--http", "--port", str(port)]
    proc = subprocess.Popen(
        command, env=env_for(home), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, proc)
        seen = anyio.run(http_session_run, f"http://127.0.0.1:{port}/mcp")
        assert seen["tools"] == {"search", "ask", "list_sources", "list_notebooks", "index", "guide"}
        assert seen["hits"][0]["source"] == "docs/dram.txt"
        # Another name for 127.0.0.1 (DNS rebinding) is turned away before any tool runs.
        rebound = httpx.post(f"http://127.0.0.1:{port}/mcp", headers={"Host": "evil.example:80"}, json={}, timeout=10)
        assert rebound.status_code in (403, 421)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, proc.stderr.read()


def test_http_answers_loopback_the_bind_address_and_the_named_hosts_only():
    from rag.mcp import http_security

    security = http_security("192.168.1.5", "notebook.lan, box:9000", 8765)
    assert security.enable_dns_rebinding_protection
    assert set(security.allowed_hosts) == {
        "127.0.0.1:8765",
        "localhost:8765",
        "[::1]:8765",
        "192.168.1.5:8765",
        "notebook.lan:8765",
        "box:9000",
    }
    assert (
        "http://notebook.lan:8765" in security.allowed_origins
        and "http://evil.example:8765" not in security.allowed_origins
    )
    assert not any(h.startswith("0.0.0.0") for h in http_security("0.0.0.0", "", 8765).allowed_hosts)


def test_http_refuses_an_origin_from_another_loopback_port_as_the_page_does():
    """A page served on another loopback port (any local web app) is another site: 403, as `rag serve` answers."""
    from mcp.server.transport_security import TransportSecurityMiddleware
    from starlette.requests import Request

    from rag.mcp import http_security
    from ui.guard import HostGuard, allowed_hosts

    def request(origin: str | None) -> Request:
        headers = [(b"host", b"127.0.0.1:8765"), (b"content-type", b"application/json")]
        headers += [(b"origin", origin.encode())] if origin else []
        return Request({"type": "http", "method": "POST", "path": "/mcp", "headers": headers})

    mcp = TransportSecurityMiddleware(http_security("127.0.0.1", "", 8765))
    page = HostGuard(None, allowed_hosts(8765))

    def verdicts(origin: str | None) -> tuple[int | None, bool]:
        refused = anyio.run(mcp.validate_request, request(origin), True)
        return (refused.status_code if refused else None), page.refusal(request(origin).scope) is not None

    assert verdicts(None) == (None, False) and verdicts("http://127.0.0.1:8765") == (None, False)
    assert verdicts("http://127.0.0.1:3000") == (403, True) and verdicts("http://localhost:5173") == (403, True)
    assert verdicts("http://evil.example") == (403, True)
