"""The port: `RAG_PORT=… make run` serves there, and a port in use is one line before anything loads or is announced."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from rag.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_a_busy_port_is_one_line_before_the_notebook_is_announced(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--path", str(tmp_path / ".rag"), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert "Notebook on" not in out
    assert err.startswith(f"rag: cannot serve on 127.0.0.1:{port}: ") and err.count("\n") == 1, err
    assert "RAG_PORT" in err
    assert not (tmp_path / ".rag").exists()  # refused before the notebook was opened


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_run_serves_on_rag_port():
    env = {**os.environ, "RAG_PORT": "7871"}
    dry = subprocess.run(["make", "-n", "run"], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    serve = [line for line in dry.splitlines() if " serve " in line]
    assert serve and serve[-1].split()[-2:] == ["--port", "7871"], serve
    assert '--notebook "Sample: AI chips"' in serve[-1]
    plain = subprocess.run(["make", "-n", "run"], cwd=REPO, env={k: v for k, v in os.environ.items() if k != "RAG_PORT"},
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "--port" not in [line for line in plain.splitlines() if " serve " in line][-1]  # Settings' default
