"""A real Chroma server (`chroma run`, shipped by the chromadb package) on a free loopback port, for the whole run."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def wait_for_heartbeat(url: str, process: subprocess.Popen, log: Path, seconds: float = 60.0) -> None:
    """Until the server answers its heartbeat; a server that exits or never answers fails the run in one line."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"chroma run did not answer at {url} within {seconds:.0f} s")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory, free_port) -> str:
    """The url of a `chroma run --path DIR --host 127.0.0.1 --port N` started for the run, stopped after it."""
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).with_name("chroma")
    log = (
        data.parent / f"{data.name}.log"
    )  # a file, not a pipe: the server logs every request and a full pipe stalls it
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(chroma), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_heartbeat(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
