"""Shared fixtures: the real offline embedder and a notebook over a copy of the seeds, built once per run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.offline import go_offline

go_offline()

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def seeds_home(tmp_path_factory) -> Path:
    """A notebook home with a copy of the five seed files in seeds/."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(SEEDS, home / "seeds")
    return home


@pytest.fixture(scope="session")
def seeds_notebook(seeds_home):
    """A real Notebook (Chroma + e5 + BM25) with the seeds indexed."""
    from rag import Notebook

    nb = Notebook(path=seeds_home / ".rag")
    report = nb.index(seeds_home / "seeds", progress=False)
    assert report.added == 5 and not report.errors
    return nb
