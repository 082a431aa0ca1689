"""Incremental indexing on a temp folder with a real Chroma and the real embedder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.indexer import chunk_ids, chunk_terms
from ingest.loaders import iter_files, load_document
from rag import Notebook
from rag.errors import NotebookError

POSTS = {
    "tpu.md": "---\ntitle: TPU 筆記\ndate: 2025-11-26\n---\n# TPU\n\nTPU 是 Google 的專用晶片。它擅長矩陣運算。\n\n## 訓練\n\nGemini 3 完全在 TPU 上訓練。",
    "dram.txt": "DRAM is a cyclical business. The gross margin is negative at the bottom of the cycle.\n\nThe top of the cycle is about 60%.",
    "llama.txt": "Llama3 有 1B、70B 和 405B 三种大小。\n\n一般人最常用的是 70B 版本。",
}


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def expected_ids(nb: Notebook, folder: Path) -> set[str]:
    """The chunk ids a correct index holds for the files now in `folder`."""
    home = nb.home
    ids = set()
    for file, _ in iter_files([folder]):
        source = file.resolve().relative_to(home).as_posix()
        ids |= set(chunk_ids(source, nb.chunker.split(load_document(file))))
    return ids


def assert_consistent(nb: Notebook, folder: Path) -> None:
    stored = nb.chunk_ids()
    assert len(stored) == len(set(stored))
    assert set(stored) == expected_ids(nb, folder)  # no orphan, nothing missing
    assert nb.chunk_index.in_step()  # BM25 holds exactly Chroma's chunks


def assert_whole_files_only(nb: Notebook, folder: Path) -> None:
    """Every visible source shows all its chunks (those of its file now), never a part of them."""
    for source, chunks in nb.chunk_index.metadata_by_source().items():
        file = nb.home / source
        assert set(chunks) == set(chunk_ids(source, nb.chunker.split(load_document(file)))), source
    # BM25 is loaded by a notebook's first search or ask (or its preload), not when it is opened: loaded as a
    # search would, it holds exactly the committed chunks.
    nb.refresh()
    assert nb.chunk_index.in_step()


@pytest.fixture
def notebook(tmp_path, notebook_at) -> Notebook:
    return notebook_at(tmp_path)


def test_add_modify_delete_unchanged(notebook, tmp_path):
    docs = tmp_path / "docs"
    write(docs, POSTS)
    first = notebook.index(docs, progress=False)
    assert (first.added, first.updated, first.removed, first.unchanged) == (3, 0, 0, 0)
    assert first.chunks == notebook.count() > 0
    assert_consistent(notebook, docs)

    again = notebook.index(docs, progress=False)
    assert (again.added, again.updated, again.removed, again.unchanged, again.embedded) == (0, 0, 0, 3, 0)

    (docs / "dram.txt").write_text(POSTS["dram.txt"] + "\n\nThe average is about 20%.", encoding="utf-8")
    (docs / "llama.txt").unlink()
    write(docs, {"new.txt": "Cerebras 的推理速度大約每秒 1,500 個 token。"})
    changed = notebook.index(docs, progress=False)
    assert (changed.added, changed.updated, changed.removed, changed.unchanged) == (1, 1, 1, 1)
    assert 0 < changed.embedded < first.chunks + 2  # only the new file's and the changed chunks
    assert_consistent(notebook, docs)
    assert not any(h.source.endswith("llama.txt") for h in notebook.search("Llama3 有哪幾種大小", k=10))
    assert notebook.search("Cerebras 每秒多少 token", k=1)[0].source == "docs/new.txt"


def test_unchanged_files_compute_zero_embeddings(notebook, tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    write(docs, POSTS)
    notebook.index(docs, progress=False)
    calls = []
    real = notebook.embedder.embed_passages
    # undone after the test: the embedder is the run's shared one (notebook_at)
    monkeypatch.setattr(notebook.embedder, "embed_passages", lambda texts: calls.append(len(texts)) or real(texts))
    report = notebook.index(docs, progress=False)
    assert calls == [] and report.unchanged == 3 and report.embedded == 0


def test_other_folders_keep_their_chunks(notebook, tmp_path):
    write(tmp_path / "a", {"one.txt": "第一份文件的內容。"})
    write(tmp_path / "b", {"two.txt": "Second document content here."})
    notebook.index(tmp_path / "a", progress=False)
    notebook.index(tmp_path / "b", progress=False)
    assert {s["source"] for s in notebook.sources()} == {"a/one.txt", "b/two.txt"}


def test_ctrl_c_mid_run_then_rerun_leaves_a_clean_index(tmp_path):
    docs = tmp_path / "docs"
    write(docs, {f"post{i}.txt": f"第 {i} 篇文章。" + "這是一段關於晶片與模型的長文字。" * 40 for i in range(6)})
    nb = Notebook(path=tmp_path / ".rag", home=tmp_path, embed_batch=2)
    real = nb.embedder.embed_passages
    calls = []

    def interrupted(texts):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(texts)

    nb.embedder.embed_passages = interrupted
    with pytest.raises(KeyboardInterrupt):
        nb.index(docs, progress=False)
    assert 0 < nb.count()
    nb.embedder.embed_passages = real
    # A file also changes before the rerun: its old chunks must go, the finished ones must stay.
    (docs / "post0.txt").write_text("改寫後的第一篇。" * 30, encoding="utf-8")
    report = nb.index(docs, progress=False)
    assert report.embedded < report.chunks  # work finished before the interrupt was kept
    assert_consistent(nb, docs)


def index_in_a_process(tmp_path, docs, batches: bytes):
    """`rag index docs` in a child process (two chunks a batch), its stderr read as it comes; returns once the
    progress bar shows `batches` (a regex on the count) embedded: (process, stderr so far, reader thread)."""
    env = dict(os.environ, RAG_EMBED_BATCH="2", RAG_HOME=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "--path", str(tmp_path / ".rag"), "index", str(docs)],
        stderr=subprocess.PIPE,
        env=env,
    )
    seen = bytearray()
    reader = threading.Thread(
        target=lambda: [seen.extend(b) for b in iter(lambda: proc.stderr.read(1), b"")], daemon=True
    )
    reader.start()
    deadline = time.time() + 240
    while time.time() < deadline and not re.search(rb"embedding: +\d+%.*\| *" + batches + rb"/", bytes(seen)):
        time.sleep(0.05)
    return proc, seen, reader


@pytest.mark.process
def test_kill_9_mid_run_then_rerun_leaves_a_clean_index(tmp_path):
    docs = tmp_path / "docs"
    write(
        docs,
        {f"note{i}.md": f"# Note {i}\n\n" + f"Paragraph {i} about accelerators and memory. " * 120 for i in range(8)},
    )
    proc, _, _ = index_in_a_process(tmp_path, docs, rb"([4-9]|\d\d+)")
    assert proc.poll() is None, "the indexer finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    nb = Notebook(path=tmp_path / ".rag", home=tmp_path)
    stored = sum(len(c) for c in nb.chunk_index.metadata_by_source(everything=True).values())
    assert stored > 0
    assert_whole_files_only(nb, docs)  # the file being written when killed is not seen at all
    report = nb.index(docs, progress=False)
    assert report.embedded <= report.chunks - stored  # the batches stored before the kill are not embedded again
    assert_consistent(nb, docs)


def test_bad_files_are_named_and_the_rest_is_indexed(notebook, tmp_path, capsys):
    docs = tmp_path / "docs"
    write(docs, POSTS)
    notebook.index(docs, progress=False)
    before = set(notebook.chunk_ids())
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.md").write_bytes(bytes(range(256)) * 8)
    (docs / "garbled.txt").write_bytes(b"\xff\xfe\xfa" * 50 + b"\x81\x00\x81" * 3)
    (docs / "dram.txt").write_bytes(b"\x00\x01\x02 now a binary blob \x00")  # was indexed: must stay
    report = notebook.index(docs, progress=False)
    errors = "\n".join(report.errors)
    assert len(report.errors) == 4
    for name in ("empty.txt", "binary.md", "garbled.txt", "dram.txt"):
        assert name in errors
    assert "empty" in errors and "binary" in errors
    assert all("\n" not in e for e in report.errors)
    assert before <= set(notebook.chunk_ids())  # nothing indexed before is lost
    assert "error:" in capsys.readouterr().err


def test_a_file_over_max_file_chunks_is_skipped_by_name_and_the_rest_indexed(notebook_at, tmp_path, capsys):
    docs = tmp_path / "docs"
    write(docs, {"small.txt": POSTS["llama.txt"], "huge.txt": "沒有標點的超長字串" * 3000})
    nb = notebook_at(tmp_path, path=tmp_path / ".rag", max_file_chunks=20)
    report = nb.index(docs, progress=False)
    assert report.added == 1 and {s["source"] for s in nb.sources()} == {"docs/small.txt"}
    assert len(report.errors) == 1 and "huge.txt" in report.errors[0] and "max_file_chunks" in report.errors[0]
    lines = [line for line in capsys.readouterr().err.splitlines() if "huge.txt" in line]
    assert len(lines) == 1


@pytest.mark.process
def test_ctrl_c_to_rag_index_stops_at_once_with_one_line_and_no_partial_file(tmp_path):
    docs = tmp_path / "docs"
    big = "# Big\n\n" + "\n\n".join(f"Paragraph {i} on memory bandwidth and accelerators. " * 8 for i in range(60))
    write(docs, {"a_small.txt": "Cerebras 的推理速度大約每秒 1,500 個 token。", "big.md": big})
    proc, seen, reader = index_in_a_process(tmp_path, docs, rb"([6-9]|\d\d+)")
    assert proc.poll() is None, "the indexer finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)  # a hang fails here; how long it takes is bench's to measure, not a busy machine's test
    assert proc.returncode == 130
    reader.join(timeout=5)
    lines = [line for line in re.split(r"[\r\n]+", seen.decode()) if line.strip() and not line.startswith("embedding:")]
    assert len(lines) == 1 and lines[0].startswith("rag: interrupted") and "Traceback" not in seen.decode(), lines

    nb = Notebook(path=tmp_path / ".rag", home=tmp_path)
    assert {s["source"] for s in nb.sources()} == {"docs/a_small.txt"}  # big.md was being written: unseen
    assert all(h.source != "docs/big.md" for h in nb.search("memory bandwidth and accelerators", k=10))
    assert_whole_files_only(nb, docs)
    report = nb.index(docs, progress=False)  # the rerun finishes big.md, reusing the batches stored before
    assert report.added == 1 and report.unchanged == 1 and report.embedded < report.chunks - 1
    assert_consistent(nb, docs)
    assert nb.search("Paragraph 59 on memory bandwidth", k=1)[0].source == "docs/big.md"


def test_a_changed_file_with_nothing_new_to_embed_after_a_new_file_is_committed(notebook, tmp_path):
    docs = tmp_path / "docs"
    write(docs, {"b.txt": "第一段。\n\n第二段。", "c.txt": "Another note."})
    notebook.index(docs, progress=False)
    write(docs, {"a.txt": "全新的文件。", "b.txt": "第一段。"})  # b only loses a chunk: nothing to embed
    report = notebook.index(docs, progress=False)
    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)
    assert_consistent(notebook, docs)


def test_each_stored_chunk_has_the_terms_of_its_title_section_and_text(notebook, tmp_path):
    docs = tmp_path / "docs"
    write(docs, POSTS)
    notebook.index(docs, progress=False)
    stored = notebook.chunk_index.metadata_by_source()
    for file, _ in iter_files([docs]):
        source = file.resolve().relative_to(notebook.home).as_posix()
        chunks = notebook.chunker.split(load_document(file))
        for chunk_id, chunk in zip(chunk_ids(source, chunks), chunks):
            assert stored[source][chunk_id]["terms"] == chunk_terms(chunk)
    assert notebook.search("矩陣運算", k=1)[0].source == "docs/tpu.md"  # BM25 found them


def test_a_failed_write_stops_the_run_and_no_file_is_seen_in_part(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    write(docs, {f"post{i}.txt": f"第 {i} 篇文章。" + "這是一段關於晶片與模型的長文字。" * 40 for i in range(4)})
    nb = Notebook(path=tmp_path / ".rag", home=tmp_path, embed_batch=2)
    real = nb.chunk_index.upsert
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:  # written on the writer thread while the next batch is embedded
            raise OSError("No space left on device")
        return real(*args)

    monkeypatch.setattr(nb.chunk_index, "upsert", failing)
    with pytest.raises(NotebookError, match="no space left on the device: the run stopped"):
        nb.index(docs, progress=False)
    assert len(calls) == 3  # the run stopped at the failed batch
    assert nb.search("晶片與模型", k=3)  # a search brings BM25 in step with what was committed
    assert_whole_files_only(nb, docs)
    monkeypatch.undo()
    nb.index(docs, progress=False)
    assert_consistent(nb, docs)
