"""The `rag` command's JSON, run as a user runs it (a separate process on the indexed seeds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parents[1] / "data" / "dev.jsonl"


def rag(*args: str, path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args, "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=dict(os.environ, RAG_PATH=str(path), RAG_HOME=str(Path(path).parent)),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.process
def test_search_json(seeds_notebook):
    hits = rag("search", "TPU能否取代GPU?", "-k", "3", path=seeds_notebook.path)["hits"]
    assert len(hits) == 3
    assert set(hits[0]) == {"chunk_id", "source", "title", "section", "page", "text", "score"}
    assert any("TPU" in h["text"] for h in hits)


@pytest.mark.process
def test_ask_json(seeds_notebook):
    answer = rag("ask", "TPU能否取代GPU?", path=seeds_notebook.path)
    assert answer["refused"] is False and answer["answer"]
    assert answer["citations"] and {"n", "chunk_id", "source", "title", "quote"} <= set(answer["citations"][0])
    refused = rag("ask", "如何烤出好吃的酸種麵包?", path=seeds_notebook.path)
    assert refused["refused"] is True and refused["citations"] == []


@pytest.mark.process
def test_a_follow_up_asked_after_an_earlier_question_and_the_guide(seeds_notebook):
    answer = rag("ask", "那它的缺點是什麼?", "--after", "TPU能否取代GPU?", path=seeds_notebook.path)
    assert answer["rewritten_query"] == "TPU的缺點是什麼?" and answer["suggestions"]
    guides = rag("guide", path=seeds_notebook.path)
    assert len(guides) == 5 and all(g["sentences"] and g["terms"] and 3 <= len(g["questions"]) <= 5 for g in guides)
    one = rag("guide", guides[0]["source"], "--script", "zh-Hans", path=seeds_notebook.path)
    assert [g["source"] for g in one] == [guides[0]["source"]]


@pytest.mark.process
def test_index_and_status_json(seeds_notebook, seeds_home):
    report = rag("index", str(seeds_home / "seeds"), path=seeds_notebook.path)
    assert report["unchanged"] == 5 and report["embedded"] == 0 and report["chunks"] > 0
    status = rag("status", path=seeds_notebook.path)
    assert status["documents"] == 5 and status["chunks"] == report["chunks"]


@pytest.mark.process
def test_eval_on_an_empty_notebook_says_so_instead_of_scoring_zero(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--path", str(tmp_path / "empty"), "eval", str(DEV)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2
    assert "is empty" in out.stderr and "rag index" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def run_rag(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m rag.cli ARGS` as a user runs it, with extra environment variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=300,
    )


def assert_one_line_error(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("rag: ")
    for word in words:
        assert word in out.stderr


@pytest.mark.process
def test_a_bad_setting_is_one_line_naming_it(tmp_path):
    out = run_rag("search", "x", env={"RAG_K": "abc", "RAG_PATH": str(tmp_path)})
    assert_one_line_error(out, "RAG_K", "valid integer")
    out = run_rag("status", env={"RAG_KK": "3"})
    assert_one_line_error(out, "RAG_KK", "did you mean RAG_K?")


@pytest.mark.process
def test_a_missing_path_is_an_error_and_the_other_paths_are_still_indexed(tmp_path):
    doc = tmp_path / "docs" / "note.md"
    doc.parent.mkdir()
    doc.write_text("# Note\n\nThe notebook indexes this sentence.\n", encoding="utf-8")
    out = run_rag("--path", str(tmp_path / ".rag"), "index", str(tmp_path / "typo"), str(doc.parent), "--json")
    assert_one_line_error(out, "no such file or directory", "typo")
    assert json.loads(out.stdout)["added"] == 1


@pytest.mark.process
def test_a_missing_question_file_and_an_empty_notebook_are_one_line(tmp_path):
    assert_one_line_error(run_rag("--path", str(tmp_path), "eval", str(tmp_path / "missing.jsonl")), "missing.jsonl")
    assert_one_line_error(run_rag("--path", str(tmp_path), "search", "TPU"), "is empty", "rag index")


@pytest.mark.process
def test_search_takes_k_from_the_settings(seeds_notebook):
    out = run_rag("search", "TPU能否取代GPU?", "--json", env={"RAG_K": "2", "RAG_PATH": str(seeds_notebook.path)})
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["hits"]) == 2


@pytest.mark.process
def test_settings_command_prints_the_settings_in_force_by_group():
    out = run_rag("settings", "--json", env={"RAG_PORT": "8123", "RAG_LLM_API_KEY": "sk-secret"})
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["serve"]["RAG_PORT"] == 8123 and shown["retrieval"]["RAG_K"] == 5
    assert "sk-secret" not in out.stdout
    text = run_rag("settings", "-v").stdout
    assert "[retrieval]" in text and "RAG_K=5" in text and "Passages returned" in text


def test_serve_binds_where_the_settings_say(monkeypatch):
    import types

    from rag import cli

    calls = []
    monkeypatch.setitem(
        sys.modules, "ui.app", types.SimpleNamespace(serve=lambda settings, **kw: calls.append(settings) or True)
    )
    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    monkeypatch.setenv("RAG_PORT", "8123")
    assert cli.main(["serve"]) == 0
    assert calls[-1].host == "0.0.0.0" and calls[-1].port == 8123
    assert cli.main(["serve", "--port", "9000", "--chroma-url", "http://127.0.0.1:9"]) == 0
    assert calls[-1].port == 9000 and calls[-1].chroma_url == "http://127.0.0.1:9"  # handed on, never via os.environ
    assert "RAG_CHROMA_URL" not in os.environ


@pytest.mark.process
def test_index_exit_status_tells_a_partial_run_from_a_clean_one_and_names_each_failure_once(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Note\n\nThe notebook indexes this sentence.\n", encoding="utf-8")
    (docs / "blob.txt").write_bytes(bytes(range(256)) * 4)
    os.mkfifo(docs / "pipe.txt")
    env = {"RAG_PATH": str(tmp_path / ".rag"), "RAG_HOME": str(tmp_path)}
    out = run_rag("index", str(docs), env=env)
    assert out.returncode == 3, out.stderr
    both = out.stdout + out.stderr
    assert both.count("blob.txt") == 1 and both.count("pipe.txt") == 1 and "Traceback" not in both
    assert "2 file(s) could not be indexed" in out.stdout and "added 1" in out.stdout
    (docs / "blob.txt").unlink()
    (docs / "pipe.txt").unlink()
    assert run_rag("index", str(docs), env=env).returncode == 0
    assert "3  some files could not be indexed" in run_rag("index", "--help").stdout


@pytest.mark.process
def test_a_missing_folder_and_a_k_out_of_bounds_are_one_line_errors(tmp_path):
    assert_one_line_error(
        run_rag("--path", str(tmp_path / ".rag"), "index", str(tmp_path / "no-such-folder")), "no-such-folder"
    )
    for k in ("-1", "0", "51"):
        assert_one_line_error(
            run_rag("--path", str(tmp_path / ".rag"), "search", "TPU", "-k", k), "k (passages", "from 1 to 50"
        )
