"""A live folder: files created, changed, deleted and broken while watched (in-process, and `rag index --watch`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.watch import FolderWatcher
from rag import Notebook
from rag.errors import NotebookError

REPO = Path(__file__).resolve().parents[2]
DEBOUNCE = 0.3


@pytest.fixture
def notebook(tmp_path, notebook_at) -> Notebook:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "dram.txt").write_text(
        "DRAM is a cyclical business. The gross margin is about 60% at the top of the cycle.", encoding="utf-8"
    )
    return notebook_at(tmp_path)


def eventually(check: Callable[[], object], seconds: float = 60.0) -> None:
    """Wait until `check()` is true (the watcher's debounce, then an index run)."""
    deadline = time.time() + seconds
    while not check():
        assert time.time() < deadline, "the index did not follow the folder in time"
        time.sleep(0.1)


def sources(nb: Notebook) -> set[str]:
    return {s["source"] for s in nb.sources()}


def top_source(nb: Notebook, query: str) -> str | None:
    hits = nb.search(query, k=1)
    return hits[0].source if hits else None


def test_created_changed_and_deleted_files_follow_while_watched(notebook, tmp_path, capfd):
    docs = tmp_path / "docs"
    reports = []
    with FolderWatcher(notebook, [docs], debounce=DEBOUNCE, on_report=reports.append):
        eventually(lambda: sources(notebook) == {"docs/dram.txt"})  # the catch-up indexed what was there

        (docs / "tpu.md").write_text("# TPU\n\nGemini 3 完全在 TPU 上訓練。", encoding="utf-8")
        eventually(lambda: "docs/tpu.md" in sources(notebook))
        assert top_source(notebook, "Gemini 3 用什麼晶片訓練?") == "docs/tpu.md"

        (docs / "tpu.md").write_text("# TPU\n\nIronwood 是第七代 TPU，專為推論設計。", encoding="utf-8")
        eventually(lambda: any("Ironwood" in h.text for h in notebook.search("Ironwood 第七代", k=5)))
        texts = [h.text for h in notebook.search("Gemini 3 訓練", k=5)]
        assert not any("Gemini 3" in t for t in texts)  # the old text is gone

        (docs / "tpu.md").unlink()
        eventually(lambda: sources(notebook) == {"docs/dram.txt"})

        # A bad file is named in one line while a good one written with it is indexed.
        (docs / "blob.txt").write_bytes(bytes(range(256)) * 4)
        (docs / "llama.txt").write_text("Llama3 有 1B、70B 和 405B 三种大小。", encoding="utf-8")
        eventually(lambda: "docs/llama.txt" in sources(notebook))
        eventually(lambda: any(r.errors for r in reports))
    errors = [e for r in reports for e in r.errors]
    assert len(errors) == 1 and "blob.txt" in errors[0] and "\n" not in errors[0]
    err = capfd.readouterr().err
    assert err.count("blob.txt") == 1 and "Traceback" not in err
    assert notebook.chunk_index.in_step()


def test_a_folder_moved_away_takes_its_sources_and_hidden_files_and_the_data_folder_are_ignored(tmp_path, models):
    home = tmp_path
    (home / "notes" / "sub").mkdir(parents=True)
    (home / "notes" / "sub" / "a.md").write_text("# A\n\nThe first note mentions Zanzibar.", encoding="utf-8")
    (home / "notes" / "b.md").write_text("# B\n\nThe second note mentions Spanner.", encoding="utf-8")
    # The data folder inside the watched one: its own writes must not trigger runs.
    nb = Notebook(path=home / "notes" / "data", home=home, **models)
    reports = []
    with FolderWatcher(nb, [home / "notes"], debounce=DEBOUNCE, on_report=reports.append):
        eventually(lambda: sources(nb) == {"notes/sub/a.md", "notes/b.md"})
        (home / "notes" / ".draft.md").write_text("a hidden draft", encoding="utf-8")
        (home / "notes" / "archive.zip").write_bytes(b"PK\x03\x04")  # a type no reader takes: left alone
        shutil.move(home / "notes" / "sub", home / "elsewhere")
        eventually(lambda: sources(nb) == {"notes/b.md"})
        time.sleep(3 * DEBOUNCE)
    assert sum(r.removed for r in reports) == 1 and not any(r.errors for r in reports)
    # The catch-up and the move: no run for the hidden file, the picture or the data folder's own writes.
    assert len(reports) == 2, reports


@pytest.mark.process
def test_rag_index_watch_follows_the_folder_and_stops_on_ctrl_c(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "dram.txt").write_text("DRAM is a cyclical business.", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_PATH=str(tmp_path / ".rag"), RAG_HOME=str(tmp_path), RAG_WATCH_DEBOUNCE="0.3", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "index", "--watch", str(docs), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    lines: list[dict] = []
    err: list[str] = []
    threading.Thread(target=lambda: lines.extend(json.loads(line) for line in proc.stdout), daemon=True).start()
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    try:
        eventually(lambda: lines, seconds=240)  # the catch-up's report
        assert lines[0]["added"] == 1
        (docs / "tpu.md").write_text("# TPU\n\nGemini 3 完全在 TPU 上訓練。", encoding="utf-8")
        (docs / "blob.txt").write_bytes(bytes(range(256)) * 4)
        eventually(lambda: len(lines) >= 2)
        assert lines[1]["added"] == 1 and len(lines[1]["errors"]) == 1
        (docs / "dram.txt").unlink()
        eventually(lambda: len(lines) >= 3)
        assert lines[2]["removed"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    time.sleep(0.2)
    text = "".join(err)
    assert proc.returncode == 130, text
    assert "rag: stopped watching" in text and "Traceback" not in text
    assert text.count("blob.txt") == 1


def test_a_watched_file_follows_its_edits_and_its_neighbours_are_left_alone(notebook, tmp_path):
    docs = tmp_path / "docs"
    reports = []
    with FolderWatcher(notebook, [docs / "dram.txt"], debounce=DEBOUNCE, on_report=reports.append):
        eventually(lambda: sources(notebook) == {"docs/dram.txt"})
        (docs / "other.txt").write_text("Not watched: only dram.txt is.", encoding="utf-8")
        # An editor's atomic save: the new text written beside the file, then renamed over it.
        (docs / "dram.txt.tmp").write_text("DRAM prices doubled in one quarter.", encoding="utf-8")
        os.replace(docs / "dram.txt.tmp", docs / "dram.txt")
        eventually(lambda: any("doubled" in h.text for h in notebook.search("DRAM prices", k=2)))
    assert sources(notebook) == {"docs/dram.txt"} and reports[-1].updated == 1


@pytest.mark.process
def test_a_missing_path_is_one_line(tmp_path, notebook):
    with pytest.raises(NotebookError, match="no such file or directory: .*typo"):
        FolderWatcher(notebook, [tmp_path / "typo"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--path", str(tmp_path / ".rag"), "index", "--watch", str(tmp_path / "typo")],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2 and out.stderr.strip() == f"rag: no such file or directory: {tmp_path / 'typo'}"


def test_a_watched_folder_deleted_and_made_again_is_followed_again(notebook, tmp_path):
    docs = tmp_path / "docs"
    reports: list = []
    with FolderWatcher(notebook, [docs], debounce=DEBOUNCE, on_report=reports.append):
        eventually(lambda: reports)  # the catch-up
        assert sources(notebook) == {"docs/dram.txt"}
        shutil.rmtree(docs)
        eventually(lambda: not sources(notebook))
        docs.mkdir()
        (docs / "hbm.txt").write_text("HBM stacks DRAM dies next to the GPU for bandwidth.", encoding="utf-8")
        eventually(lambda: sources(notebook) == {"docs/hbm.txt"})
        # Files made after the folder came back are followed too: its watch was started again.
        (docs / "tpu.txt").write_text("Google's TPU is a matrix accelerator used to train Gemini.", encoding="utf-8")
        eventually(lambda: sources(notebook) == {"docs/hbm.txt", "docs/tpu.txt"})
        (docs / "hbm.txt").unlink()
        eventually(lambda: sources(notebook) == {"docs/tpu.txt"})
