"""The port: `RAG_PORT=… make run` serves there, and a port in use is one line before anything loads or is announced."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from rag.cli import main
from rag.settings import Settings

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


@pytest.mark.process
@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_run_leaves_the_port_to_rag_port_and_opens_the_sample_notebook(monkeypatch):
    def serve_line(env: dict[str, str], *args: str) -> str:
        dry = subprocess.run(
            ["make", "-n", "run", *args], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        return [line for line in dry.stdout.splitlines() if " serve" in line][-1]

    env = {**os.environ, "RAG_PORT": "7871"}
    # No --port of its own (the old Makefile passed --port 7860, which beat RAG_PORT): `rag serve` reads RAG_PORT.
    assert "--port" not in serve_line(env) and '--notebook "Sample: AI chips"' in serve_line(env)
    assert serve_line(env, "PORT=7999").split()[-2:] == ["--port", "7999"]
    monkeypatch.setenv("RAG_PORT", "7871")
    assert Settings().port == 7871  # what `rag serve` binds when no --port is given
