"""Parts loaded side by side (Notebook.preload): built once, the same answers, and a failed load's error where it is used."""

from __future__ import annotations

import json
import threading

import pytest

from rag.errors import NotebookError
from rag.notebook import Notebook
from rag.parts import Parts
from tests.rag.python_process import run_python

QUESTION = "TPU能否取代GPU?"


def _wait_for_preloads() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("rag-preload-"):
            thread.join()


def test_a_part_wanted_by_several_threads_is_built_once():
    parts, builds, started = Parts(), [], threading.Event()

    def build():
        builds.append(threading.current_thread().name)
        started.set()
        threading.Event().wait(0.2)  # the other thread asks meanwhile
        return object()

    parts.in_background("slow", lambda: parts.get(("model",), build))
    started.wait()
    assert parts.get(("model",), build) is parts.get(("model",), build)
    assert builds == ["rag-preload-slow"]


def test_a_background_failure_is_raised_at_first_use_then_built_again():
    parts = Parts()
    parts.in_background(
        "failing", lambda: parts.get(("model",), lambda: (_ for _ in ()).throw(NotebookError("model.onnx: damaged")))
    ).join()
    with pytest.raises(NotebookError, match=r"^model.onnx: damaged$"):
        parts.get(("model",), lambda: pytest.fail("built again before its error was seen"))
    assert parts.get(("model",), lambda: "rebuilt") == "rebuilt"


def test_a_part_that_fails_to_load_in_the_background_raises_its_one_line_error_on_use(seeds_notebook, monkeypatch):
    from rag.text.glossary import Glossary

    loaded_in = []
    _wait_for_preloads()  # another notebook's loads, still running from an earlier test, would meet the patch below

    def unreadable(self, *args, **kwargs):
        loaded_in.append(threading.current_thread().name)
        raise NotebookError("cedict_1_0_ts_utf-8_mdbg.txt.gz: unreadable")

    monkeypatch.setattr(Glossary, "__init__", unreadable)
    nb = Notebook(
        seeds_notebook.path,
        home=seeds_notebook.home,
        embedder=seeds_notebook.embedder,
        dense_embedder=seeds_notebook.dense_embedder,
    )
    nb.preload()
    _wait_for_preloads()
    assert loaded_in == ["rag-preload-text"]  # loaded (and failed) in the background, once
    with pytest.raises(NotebookError, match=r"^cedict_1_0_ts_utf-8_mdbg.txt.gz: unreadable$"):
        nb.ask(QUESTION)
    monkeypatch.undo()
    answer = nb.ask(QUESTION)  # the next use loads it again, as a load on first use would
    assert not answer.refused and answer.citations


ASK_IN_A_FRESH_PROCESS = """
import json, sys
from pathlib import Path
from rag.offline import go_offline
go_offline()
from rag import Notebook
if sys.argv[3] == "one-by-one":
    Notebook.preload = lambda self, answers=True: None  # every part loaded where it is first used, as before
nb = Notebook(Path(sys.argv[1]), home=Path(sys.argv[2]))
answer = nb.ask(sys.argv[4])
print(json.dumps({"text": answer.text, "refused": answer.refused, "script": answer.script, "started": sorted(nb._parts.started),
                  "citations": [[c.n, c.chunk_id, c.quote, c.page, c.name] for c in answer.citations]}, ensure_ascii=False))
"""


@pytest.mark.process
def test_a_fresh_process_answers_the_same_with_its_parts_loaded_side_by_side(seeds_notebook):
    answers = {}
    for mode in ("one-by-one", "side-by-side"):
        done = run_python(ASK_IN_A_FRESH_PROCESS, seeds_notebook.path, seeds_notebook.home, mode, QUESTION)
        assert done.returncode == 0, done.stderr[-2000:]
        answers[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    loaded_alone, preloaded = answers["one-by-one"], answers["side-by-side"]
    assert loaded_alone["started"] == [] and preloaded["started"] == ["answers", "search"]
    assert not preloaded["refused"] and preloaded["citations"]
    assert {k: v for k, v in preloaded.items() if k != "started"} == {
        k: v for k, v in loaded_alone.items() if k != "started"
    }
