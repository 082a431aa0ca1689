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


def server_notebook(url: str, home: Path, models, data: str = ".rag", **settings):
    from rag import Notebook

    return Notebook(path=home / data, home=home, chroma_url=url, **models, **settings)


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
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\n\n鯨魚晶片Blockwhale的量產時間是二〇二七年第三季。\n", encoding="utf-8"
    )
    (tmp_path / "seeds" / "000_550ab7507c6a24dd.txt").unlink()
    report = nb.index(tmp_path / "seeds", progress=False)
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 3)
    after = set(nb.chunk_index.committed()["seeds/003_ae8d2fd946726d35.txt"])
    assert after != before and not (before - after) & set(nb.chunk_ids())
    assert nb.search("Blockwhale量產時間", k=1)[0].source == "seeds/003_ae8d2fd946726d35.txt"
    assert all(s["source"] != "seeds/000_550ab7507c6a24dd.txt" for s in nb.sources())
    assert nb.chunk_index.in_step() and nb.chunk_index.store.collection.count() == nb.count()  # no orphan chunk

    # The same notebook opened from another data folder (its notebook.json copied there: the notebook's id, not a
    # path, names its collection; no keyword index there yet) sees the same chunks and finds the same passages.
    (tmp_path / "other").mkdir()
    shutil.copy(tmp_path / ".rag" / "notebook.json", tmp_path / "other" / "notebook.json")
    other = server_notebook(chroma_server, tmp_path, models, data="other", collection="core")
    assert other.count() == nb.count() and other.chunk_ids() == nb.chunk_ids()
    assert [h.chunk_id for h in other.search("TPU能否取代GPU?", k=3)] == [
        h.chunk_id for h in nb.search("TPU能否取代GPU?", k=3)
    ]
    # A removal by one is seen by the other at its next search, even within ServerCommits.FRESH_SECONDS of its last
    # look (its keyword index may still list the removed chunks then: they are gone from the store, so left out).
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
        [sys.executable, "-c", CHILD, *map(str, args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.process
def test_two_processes_share_one_collection_without_duplicates(chroma_server, tmp_path, models):
    (tmp_path / "docs").mkdir()
    for name, text in DOCS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    # Two processes index the same folder at once, each with its own data folder holding the same notebook id: one
    # adds, the other finds it done.
    for data in "abcd":
        (tmp_path / data).mkdir()
        (tmp_path / data / "notebook.json").write_text(json.dumps({"id": "5" * 32}), encoding="utf-8")
    first, second = (
        child("index", chroma_server, tmp_path, tmp_path / "a"),
        child("index", chroma_server, tmp_path, tmp_path / "b"),
    )
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


HOMES = {
    "a": {
        "only_a.md": "# Aardvark\n\nAardvarks dig burrows at night and eat termites with a sticky tongue.\n",
        "common.md": "# Common\n\nThe alpha notebook's common file talks about HBM memory stacks.\n",
    },
    "b": {
        "only_b.txt": "蜂鳥每秒振翅五十次，能在空中倒退飛行。\n",
        "common.md": "# Common\n\nThe beta notebook's common file talks about TPU pods and Gemini.\n",
    },
}

INDEXER = """
import json, sys
from pathlib import Path
from rag import Notebook
from rag.offline import go_offline
go_offline()
url, home = sys.argv[1:3]
nb = Notebook(path=Path(home) / ".rag", home=Path(home), chroma_url=url)
print(json.dumps(nb.index(Path(home) / "docs", progress=False).as_dict()))
"""


def index_in_child(url: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.Popen(
        [sys.executable, "-c", INDEXER, url, str(home)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.process
def test_two_homes_on_one_server_never_touch_each_others_chunks(chroma_server, tmp_path, models):
    homes = {name: tmp_path / name for name in HOMES}
    for name, files in HOMES.items():
        (homes[name] / "docs").mkdir(parents=True)
        for file, text in files.items():
            (homes[name] / "docs" / file).write_text(text, encoding="utf-8")

    def both() -> dict[str, dict]:
        """Both homes indexed at once, each by its own process."""
        running = {name: index_in_child(chroma_server, home) for name, home in homes.items()}
        return {name: finished(process) for name, process in running.items()}

    def held(name: str) -> dict[str, str]:
        """{chunk id: text} of every chunk the notebook of home `name` shows, checked against what it stores."""
        nb = server_notebook(chroma_server, homes[name], models)
        ids = nb.chunk_ids()
        assert nb.chunk_index.store.collection.count() == len(ids)  # nothing of the other home's in its collection
        return {c.chunk_id: c.text for c in nb.chunks(ids)}

    reports = both()
    assert [(r["added"], r["removed"]) for r in reports.values()] == [(2, 0), (2, 0)]
    ids = {name: json.loads((home / ".rag" / "notebook.json").read_text())["id"] for name, home in homes.items()}
    assert ids["a"] != ids["b"]
    first = {name: held(name) for name in homes}
    assert "Aardvarks" in " ".join(first["a"].values()) and "蜂鳥" in " ".join(first["b"].values())
    assert "TPU" not in " ".join(first["a"].values()) and "HBM" not in " ".join(first["b"].values())
    assert not set(first["a"]) & set(first["b"])

    # Home a changes its common.md and deletes its only file; b re-indexes unchanged: neither run touches the other.
    (homes["a"] / "docs" / "common.md").write_text(
        "# Common\n\nThe alpha notebook now talks about NVLink.\n", encoding="utf-8"
    )
    (homes["a"] / "docs" / "only_a.md").unlink()
    reports = both()
    assert (reports["a"]["updated"], reports["a"]["removed"]) == (1, 1)
    assert (reports["b"]["unchanged"], reports["b"]["removed"], reports["b"]["updated"]) == (2, 0, 0)
    second = {name: held(name) for name in homes}
    assert second["b"] == first["b"]
    assert "NVLink" in " ".join(second["a"].values()) and "Aardvarks" not in " ".join(second["a"].values())

    # Now b changes and deletes, a re-indexes unchanged.
    (homes["b"] / "docs" / "common.md").write_text(
        "# Common\n\nThe beta notebook now talks about Trainium.\n", encoding="utf-8"
    )
    (homes["b"] / "docs" / "only_b.txt").unlink()
    reports = both()
    assert (reports["b"]["updated"], reports["b"]["removed"]) == (1, 1)
    assert (reports["a"]["unchanged"], reports["a"]["removed"], reports["a"]["updated"]) == (1, 0, 0)
    third = {name: held(name) for name in homes}
    assert third["a"] == second["a"]
    assert "Trainium" in " ".join(third["b"].values()) and "蜂鳥" not in " ".join(third["b"].values())
    sources = {
        name: [s["source"] for s in server_notebook(chroma_server, home, models).sources()]
        for name, home in homes.items()
    }
    assert sources == {"a": ["docs/common.md"], "b": ["docs/common.md"]}


def test_a_server_that_is_down_or_a_bad_url_is_one_line_naming_the_setting(tmp_path, free_port, capsys):
    from rag import Notebook
    from rag.cli import main

    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NotebookError) as err:
        Notebook(path=tmp_path / ".rag", chroma_url=down)
    message = str(err.value)
    assert (
        message.startswith(f"cannot reach the Chroma server at {down} (the chroma_url setting") and "\n" not in message
    )
    with pytest.raises(NotebookError, match="RAG_CHROMA_URL.*expected http://HOST:PORT"):
        Notebook(path=tmp_path / ".rag", chroma_url="ftp://127.0.0.1/x")
    assert main(["status", "--path", str(tmp_path / ".rag"), "--chroma-url", down]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: cannot reach the Chroma server") and "--chroma-url" in lines[0]


@pytest.mark.process
def test_a_server_that_goes_down_while_indexing_is_one_line_naming_it(tmp_path, free_port, models):
    from tests.rag.index.conftest import wait_for_heartbeat

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).with_name("chroma")
    with open(tmp_path / "chroma.log", "w") as log:
        server = subprocess.Popen(
            [str(chroma), "run", "--path", str(tmp_path / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
        )
    try:
        wait_for_heartbeat(url, server, tmp_path / "chroma.log")
        (tmp_path / "docs").mkdir()
        for i in range(6):
            (tmp_path / "docs" / f"n{i}.md").write_text(
                f"# Note {i}\n\n" + f"Paragraph {i} about reefs and tides. " * 60, encoding="utf-8"
            )
        nb = server_notebook(url, tmp_path, models, embed_batch=4)

        def stop_the_server(done: int, total: int) -> None:
            if done and server.poll() is None:
                server.terminate()
                server.wait(timeout=30)

        with pytest.raises(NotebookError) as err:
            nb.index(tmp_path / "docs", progress=False, on_progress=stop_the_server)
        message = str(err.value)
        assert (
            message.startswith(f"cannot reach the Chroma server at {url} (the chroma_url setting")
            and "\n" not in message
        )
        assert "what was committed before stays" in message
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
