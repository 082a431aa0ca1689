"""The `rag` command's JSON, run as a user runs it (a separate process on the indexed seeds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DEV = Path(__file__).resolve().parents[1] / "data" / "dev.jsonl"


def rag(*args: str, path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args, "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ, RAG_PATH=str(path), RAG_HOME=str(Path(path).parent)),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_search_json(seeds_notebook):
    hits = rag("search", "TPU能否取代GPU?", "-k", "3", path=seeds_notebook.path)["hits"]
    assert len(hits) == 3
    assert set(hits[0]) == {"chunk_id", "source", "title", "text", "score"}
    assert any("TPU" in h["text"] for h in hits)


def test_ask_json(seeds_notebook):
    answer = rag("ask", "TPU能否取代GPU?", path=seeds_notebook.path)
    assert answer["refused"] is False and answer["answer"]
    assert answer["citations"] and {"n", "chunk_id", "source", "title", "quote"} <= set(answer["citations"][0])
    refused = rag("ask", "What is the best hiking trail in the Alps?", path=seeds_notebook.path)
    assert refused["refused"] is True and refused["citations"] == []


def test_index_and_status_json(seeds_notebook, seeds_home):
    report = rag("index", str(seeds_home / "seeds"), path=seeds_notebook.path)
    assert report["unchanged"] == 5 and report["embedded"] == 0 and report["chunks"] > 0
    status = rag("status", path=seeds_notebook.path)
    assert status["documents"] == 5 and status["chunks"] == report["chunks"]


def test_eval_on_an_empty_notebook_says_so_instead_of_scoring_zero(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--path", str(tmp_path / "empty"), "eval", str(DEV)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2
    assert "is empty" in out.stderr and "rag index" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
