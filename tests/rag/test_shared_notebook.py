"""The server and the shell on one notebook: a process searching while `rag index` adds a document (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Notebook

REPO = Path(__file__).resolve().parents[2]

# A long-lived reader, as `rag serve` is: one Notebook, searching in a loop until told to stop.
READER = """
import json, sys, time
from pathlib import Path
from rag import Notebook
home, stop = Path(sys.argv[1]), Path(sys.argv[2])
nb = Notebook(path=home / ".rag", home=home)
print(json.dumps({"ready": [s["source"] for s in nb.sources()]}), flush=True)
while not stop.exists():
    try:
        hits = nb.search("Cerebras 晶圓級引擎每秒多少 token", k=3)
        print(json.dumps({"sources": [h.source for h in hits], "documents": [s["source"] for s in nb.sources()]}), flush=True)
    except Exception as err:
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}), flush=True)
    time.sleep(0.2)
"""


def env(home: Path) -> dict[str, str]:
    return dict(os.environ, RAG_HOME=str(home), PYTHONPATH=str(REPO))


@pytest.mark.process
def test_a_searching_process_sees_what_rag_index_adds_meanwhile(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "dram.txt").write_text(
        "DRAM is a cyclical business.\n\nHBM is stacked DRAM for accelerators.", encoding="utf-8"
    )
    (docs / "tpu.txt").write_text("TPU 是 Google 的專用晶片，擅長矩陣運算。", encoding="utf-8")
    Notebook(path=tmp_path / ".rag", home=tmp_path).index(docs, progress=False)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path), cwd=REPO,
    )  # fmt: skip
    try:
        assert json.loads(reader.stdout.readline())["ready"] == ["docs/dram.txt", "docs/tpu.txt"]
        new = tmp_path / "new"
        new.mkdir()
        (new / "cerebras.txt").write_text(
            "Cerebras 的晶圓級引擎推理速度大約每秒 1,500 個 token。\n\n" + "它把整片晶圓做成一顆晶片。" * 30,
            encoding="utf-8",
        )
        index = subprocess.run(
            [sys.executable, "-m", "rag.cli", "--path", str(tmp_path / ".rag"), "index", str(new)],
            capture_output=True, text=True, env=env(tmp_path), cwd=REPO, timeout=300, check=False,
        )  # fmt: skip
        assert index.returncode == 0, index.stderr
        seen: list[dict] = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = json.loads(reader.stdout.readline())
            seen.append(line)
            if "error" in line or (line.get("sources") or [None])[0] == "new/cerebras.txt":
                break
    finally:
        stop.touch()
        reader.wait(timeout=30)
    errors = [line["error"] for line in seen if "error" in line]
    assert not errors, errors
    assert seen and seen[-1]["sources"][0] == "new/cerebras.txt", seen[-3:]
    assert "new/cerebras.txt" in seen[-1]["documents"]
    assert reader.returncode == 0, reader.stderr.read()[-2000:]
