"""Shared fixtures: the real offline embedder and a notebook over a copy of the seeds, built once per run."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
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

    nb = Notebook(path=seeds_home / ".rag", home=seeds_home)
    report = nb.index(seeds_home / "seeds", progress=False)
    assert report.added == 5 and not report.errors
    return nb


def _unused_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call it for a port nothing listens on at 127.0.0.1 (servers started by tests, or a server that is down)."""
    return _unused_loopback_port
