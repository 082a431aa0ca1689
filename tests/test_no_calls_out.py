"""Nothing the notebook runs calls out: `rag index`, `rag ask` and `rag serve` answering one question over HTTP make
no connection and no DNS lookup beyond loopback.

Each command runs in its own process without the offline variables (the command must set them itself), under two
watches: a sitecustomize.py that refuses and logs any Python socket connect or name lookup outside loopback, and,
where strace is installed, a syscall trace of every connect/send with an address (native code too: ONNX Runtime's
telemetry is C++). The child also reports the telemetry variables it ran with.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.offline import NO_TELEMETRY, OFFLINE_ENV

REPO = Path(__file__).resolve().parents[1]
STRACE = shutil.which("strace")
NOTE = """# Tide Pool Survey

The tide pool survey counted forty-two sea stars on the north reef in May.
潮池調查在五月於北礁記錄到四十二隻海星。
"""
QUESTION = "How many sea stars did the tide pool survey count?"

SITECUSTOMIZE = """
import atexit, json, os, socket

_LOG = os.environ["NO_CALLS_OUT_LOG"]
_LOCAL = ("127.", "::1", "::ffff:127.", "localhost")


def _outside(host):
    host = host.decode() if isinstance(host, bytes) else str(host)
    return bool(host) and host not in ("0.0.0.0", "::") and not host.lower().startswith(_LOCAL)


def _refuse(what, target):
    with open(_LOG, "a") as log:
        log.write(json.dumps({"call": what, "target": repr(target), "pid": os.getpid()}) + "\\n")
    raise OSError(f"no calls out: {what} {target!r}")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _outside(address[0]):
        _refuse("connect", address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _outside(address[0]):
        _refuse("connect", address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None and _outside(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo


@atexit.register
def _report_environment():
    names = json.loads(os.environ["NO_CALLS_OUT_NAMES"])
    with open(os.environ["NO_CALLS_OUT_ENV"], "a") as out:
        out.write(json.dumps({name: os.environ.get(name) for name in names}) + "\\n")
"""
# strace lines naming an IPv4/IPv6 address: connect(...sin_addr=inet_addr("1.2.3.4")...), inet_pton(AF_INET6, "...")
ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6,\s*"([^"]+)"')

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the trace and the watch are Linux-only")


def outside_addresses(trace: Path) -> list[str]:
    """The strace lines whose address is not loopback."""
    out = []
    for line in trace.read_text(errors="replace").splitlines() if trace.exists() else []:
        for v4, v6 in ADDRESS.findall(line):
            address = v4 or v6
            if not (address.startswith(("127.", "::ffff:127.")) or address in ("::1", "0.0.0.0", "::")):
                out.append(line.strip())
    return out


@pytest.fixture
def watched(tmp_path):
    """(run, popen, paths): run a `rag` command in a fresh home under the watches; where their findings go."""
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "tide-pools.md").write_text(NOTE, encoding="utf-8")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    paths = {
        "log": tmp_path / "calls.jsonl",
        "env": tmp_path / "env.jsonl",
        "trace": tmp_path / "trace",
        "out": tmp_path,
    }
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV and not k.startswith("RAG_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site), str(REPO)]),
        NO_CALLS_OUT_LOG=str(paths["log"]),
        NO_CALLS_OUT_ENV=str(paths["env"]),
        NO_CALLS_OUT_NAMES=json.dumps(sorted(OFFLINE_ENV)),
    )

    def command(*args: str) -> list[str]:
        rag = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "rag.cli", *args]
        if STRACE is None:  # the Python-level watch alone (and the variables the child reports)
            return rag
        # -ff: one file per process (trace.<pid>); only calls that carry an address matter
        return [
            STRACE,
            "-f",
            "-ff",
            "-qq",
            "-e",
            "trace=connect,sendto,sendmsg,sendmmsg",
            "-o",
            str(paths["trace"]),
            *rag,
        ]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            command(*args), cwd=home, env=env, capture_output=True, text=True, timeout=600, check=False
        )

    def popen(*args: str, log) -> subprocess.Popen:
        # its own process group: Ctrl-C (SIGINT) reaches the server itself, not only strace
        return subprocess.Popen(
            command(*args), cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    return run, popen, paths


def switch(value: str | None) -> bool | None:
    """An on/off variable's meaning: libraries write "1"/"true"/"True" and "0"/"false"/"False" alike."""
    return None if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def wait_until_served(url: str, server: subprocess.Popen, seconds: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "rag serve ended before it served"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise AssertionError("rag serve did not start")


@pytest.mark.process
def test_index_ask_and_serve_make_no_call_outside_loopback(watched, free_port):
    from gradio_client import Client

    run, popen, paths = watched
    indexed = run("index", "notes")
    assert indexed.returncode == 0, indexed.stderr
    asked = run("ask", QUESTION)
    assert asked.returncode == 0, asked.stderr
    assert "forty-two" in asked.stdout

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(paths["out"] / "serve.log", "w") as log:
        server = popen("serve", "--port", str(port), log=log)
        try:
            wait_until_served(url, server)
            reply, _ = Client(url, verbose=False).predict(QUESTION, api_name="/chat")
            assert "forty-two" in reply
        finally:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

    calls = paths["log"].read_text().splitlines() if paths["log"].exists() else []
    assert calls == [], f"Python code called out: {calls}"
    outside = [line for trace in sorted(paths["out"].glob("trace*")) for line in outside_addresses(trace)]
    assert outside == [], f"a process connected or looked a name up outside loopback: {outside[:10]}"
    reports = [json.loads(line) for line in paths["env"].read_text().splitlines()]
    assert len(reports) >= 3, (paths["out"] / "serve.log").read_text()[-2000:]  # index, ask, serve (+ any children)
    for report in reports:  # ONNX Runtime's native telemetry among them
        assert {k: switch(report[k]) for k in NO_TELEMETRY} == {k: switch(v) for k, v in NO_TELEMETRY.items()}


@pytest.mark.process
def test_the_watches_see_a_call_out(watched):
    """The harness itself: a Python lookup is refused and logged, a raw connect shows in the trace."""
    run, _, paths = watched
    code = (
        "import socket, _socket\n"
        "try: socket.getaddrinfo('example.invalid', 80)\nexcept OSError: pass\n"
        "raw = _socket.socket(); raw.setblocking(False); raw.connect_ex(('198.51.100.7', 9))\n"
    )
    assert run("-c", code).returncode == 0
    assert "example.invalid" in paths["log"].read_text()
    if STRACE is not None:
        traced = [line for trace in paths["out"].glob("trace*") for line in outside_addresses(trace)]
        assert any("198.51.100.7" in line for line in traced)


PYTHON_API = f"""
import rag
from rag import Notebook

nb = Notebook(path=".rag", home=".")
nb.index("notes", progress=False)
print(nb.ask({QUESTION!r}).text)
"""


@pytest.mark.process
def test_the_python_api_makes_no_call_outside_loopback_from_import_on(watched):
    """`import rag; Notebook(...).ask(...)` in a process that set nothing itself: no connection or lookup out,
    native code's included (the trace), and the telemetry switches off from the import on."""
    run, _, paths = watched
    asked = run("-c", PYTHON_API)
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert "forty-two" in asked.stdout
    calls = paths["log"].read_text().splitlines() if paths["log"].exists() else []
    assert calls == [], f"Python code called out: {calls}"
    if STRACE is not None:
        traces = sorted(paths["out"].glob("trace*"))
        assert traces, "strace wrote no trace"
        outside = [line for trace in traces for line in outside_addresses(trace)]
        assert outside == [], f"a process connected or looked a name up outside loopback: {outside[:10]}"
    (report,) = [json.loads(line) for line in paths["env"].read_text().splitlines()]
    assert {k: switch(report[k]) for k in NO_TELEMETRY} == {k: switch(v) for k, v in NO_TELEMETRY.items()}
    assert switch(report["HF_HUB_OFFLINE"]) is True  # a Notebook of the offline e5 keeps the hub off too
