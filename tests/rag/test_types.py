"""rag.types: the light data module (no Chroma, LangChain or torch), the answer-stream events and collect()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.types import Answer, Delta, Final, accumulate, collect

REPO = Path(__file__).resolve().parents[2]


def _modules_after(statement: str) -> list[str]:
    code = f"{statement}; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}}))"
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout)


@pytest.mark.process
def test_types_import_no_heavy_module():
    code = "import rag.types, sys; assert not any(m.startswith(('chromadb','langchain','torch')) for m in sys.modules)"
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert out.returncode == 0, out.stderr


@pytest.mark.process
def test_the_package_exports_the_types_lazily():
    loaded = _modules_after("from rag import Answer, Citation, Hit, IndexReport")
    assert not {"chromadb", "langchain_core", "torch", "numpy"} & set(loaded)
    import rag

    assert set(rag.__all__) == {"Notebook", "Settings", "Hit", "Citation", "Answer", "IndexReport", "list_notebooks"}
    assert rag.Answer is Answer
    assert "chromadb" not in _modules_after("from rag import list_notebooks")


def test_collect_returns_the_final_answer_and_shows_each_piece():
    answer = Answer(text="a [1] b [1]", refused=False)
    seen = []
    assert collect([Delta("a [1]"), Delta(" b [1]"), Final(answer)], on_delta=seen.append) is answer
    assert seen == ["a [1]", " b [1]"]
    with pytest.raises(ValueError):
        collect([Delta("a")])


def test_accumulate_gives_the_text_so_far_then_the_answer():
    answer = Answer(text="a b", refused=False)
    assert list(accumulate([Delta("a"), Delta(" b"), Final(answer)])) == [("a", None), ("a b", None), ("a b", answer)]
