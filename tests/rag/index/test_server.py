"""Server mode: notebooks on a real `chroma run` (index, change, delete, search, ask), shared by processes, bad urls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import NotebookError

REPO = Path(__file__).resolve().parents[3]

DOCS = {
    "hbm.md": "# HBM\n\nHBM stacks DRAM dies on top of each other next to the GPU, which gives it its bandwidth.\n",
    "tpu.txt": "谷歌的TPU是專為矩陣運算設計的晶片，Gemini就是在TPU叢集上訓練的。\n",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The real e5 + USE, loaded once for this module's in-process notebooks."""
    from rag import Notebook

    nb = Notebook(path=tmp_path_factory.mktemp("models") / ".rag")
    return nb.embedder, nb.dense_embedder


def server_notebook(url: str, home: Path, models, data: str = ".rag", **settings):
    from rag import Notebook

    embedder, dense = models
    return Notebook(path=home / data, home=home, chroma_url=url, embedder=embedder, dense_embedder=dense, **settings)


def test_the_notebook_core_on_a_chroma_server(chroma_server, tmp_path, models):
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    nb = server_notebook(chroma_server, tmp_path, models, collection="core")
    report = nb.index(tmp_path / "seeds", progress=False)
    assert report.added == 5 and not report.errors
    assert not (tmp_path / ".rag" / "chroma").exists()  # the chunks are on the server, not in the data folder
    hits = nb.search("TPU能否取代GPU?", k=5)
    assert any(h.source.endswith("001_a39377fc7e6609dd.txt") and h.keyword_rank for h in hits[:3])
    answer = nb.ask("TPU能否取代GPU?")
    assert not answer.refused and "TPU" in answer.text
    quoted = {c.chunk_id: c.text for c in nb.chunks([c.chunk_id for c in answer.citations])}
    assert all(c.quote in quoted[c.chunk_id] for c in answer.citations)
    assert nb.ask("如何烤出好吃的酸種麵包?").refused

    # Change a file: its new text is found, its old chunks are gone; delete another: it leaves.
    changed = tmp_path / "seeds" / "003_ae8d2fd946726d35.txt"
    before = set(nb.chunk_index.committed()["seeds/003_ae8d2fd946726d35.txt"])
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n鯨魚晶片Blockwhale的量產時間是二〇二七年第三季。\n", encoding="utf-8")
    (tmp_path / "seeds" / "000_550ab7507c6a24dd.txt").unlink()
    report = nb.index(tmp_path / "seeds", progress=False)
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 3)
    after = set(nb.chunk_index.committed()["seeds/003_ae8d2fd946726d35.txt"])
    assert after != before and not (before - after) & set(nb.chunk_ids())
    assert nb.search("Blockwhale量產時間", k=1)[0].source == "seeds/003_ae8d2fd946726d35.txt"
    assert all(s["source"] != "seeds/000_550ab7507c6a24dd.txt" for s in nb.sources())
    assert nb.chunk_index.in_step() and nb.chunk_index.store.collection.count() == nb.count()  # no orphan chunk

    # Another notebook (its own data folder, no keyword index yet) sees the same chunks and finds the same passages.
    other = server_notebook(chroma_server, tmp_path, models, data="other", collection="core")
    assert other.count() == nb.count() and other.chunk_ids() == nb.chunk_ids()
    assert [h.chunk_id for h in other.search("TPU能否取代GPU?", k=3)] == [h.chunk_id for h in nb.search("TPU能否取代GPU?", k=3)]
    # A removal by one is seen by the other at its next search.
    assert nb.remove("seeds/003_ae8d2fd946726d35.txt") > 0
    assert all(h.source != "seeds/003_ae8d2fd946726d35.txt" for h in other.search("Blockwhale量產時間", k=5))


CHILD = """
import json, sys
from pathlib import Path
from rag import Notebook
from rag.offline import go_offline
go_offline()
mode, url, home, data = sys.argv[1:5]
nb = Notebook(path=Path(data), home=Path(home), chroma_url=url, collection="shared")
if mode == "index":
    print(json.dumps(nb.index(Path(home) / "docs", progress=False).as_dict()))
else:
    hits = nb.search(sys.argv[5], k=1)
    print(json.dumps({"source": hits[0].source, "keyword_rank": hits[0].keyword_rank, "count": nb.count()}))
"""


def child(*args: object) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, args)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_two_processes_share_one_collection_without_duplicates(chroma_server, tmp_path, models):
    (tmp_path / "docs").mkdir()
    for name, text in DOCS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    # Two processes index the same folder at once, each with its own data folder: one adds, the other finds it done.
    first, second = child("index", chroma_server, tmp_path, tmp_path / "a"), child("index", chroma_server, tmp_path, tmp_path / "b")
    reports = [finished(first), finished(second)]
    assert sorted(r["added"] for r in reports) == [0, 2] and sorted(r["unchanged"] for r in reports) == [0, 2]
    nb = server_notebook(chroma_server, tmp_path, models, data="c", collection="shared")
    ids = nb.chunk_ids()
    assert len(ids) == len(set(ids)) == nb.chunk_index.store.collection.count() == reports[0]["chunks"]
    assert sorted(s["source"] for s in nb.sources()) == ["docs/hbm.md", "docs/tpu.txt"]
    # A third process, with a fresh data folder, searches the first one's chunks, the keyword leg included.
    found = finished(child("search", chroma_server, tmp_path, tmp_path / "d", "HBM DRAM bandwidth"))
    assert found == {"source": "docs/hbm.md", "keyword_rank": 1, "count": len(ids)}
    assert nb.search("TPU叢集", k=1)[0].source == "docs/tpu.txt"


def test_a_server_that_is_down_or_a_bad_url_is_one_line_naming_the_setting(tmp_path, free_port, capsys):
    from rag import Notebook
    from rag.cli import main

    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NotebookError) as err:
        Notebook(path=tmp_path / ".rag", chroma_url=down)
    message = str(err.value)
    assert message.startswith(f"cannot reach the Chroma server at {down} (the chroma_url setting") and "\n" not in message
    with pytest.raises(NotebookError, match="RAG_CHROMA_URL.*expected http://HOST:PORT"):
        Notebook(path=tmp_path / ".rag", chroma_url="ftp://127.0.0.1/x")
    assert main(["status", "--path", str(tmp_path / ".rag"), "--chroma-url", down]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: cannot reach the Chroma server") and "--chroma-url" in lines[0]
