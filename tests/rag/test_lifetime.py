"""A notebook owns its lifetime: close() and `with` end its preload threads, background indexer and helper threads;
documents are read through it with its limits; k is checked once, against the setting's bounds."""

from __future__ import annotations

import threading

import pytest

from ingest.documents import IngestError
from rag import Notebook
from rag.embed.fused import ConcatEmbedder
from rag.errors import SettingsError
from rag.parts import Parts
from rag.settings import MAX_K, Settings


def _threads(prefix: str) -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()}


def test_closing_the_parts_stops_the_fused_embedders_helper_threads(seeds_notebook):
    parts = Parts()
    fused = parts.get(("dense",), lambda: ConcatEmbedder(seeds_notebook.dense_embedder.parts))
    before = _threads("rag-embed")
    fused.embed_queries(["TPU", "GPU"])  # two texts: the parts embed side by side, in a helper thread
    started = _threads("rag-embed") - before
    assert started
    assert parts.close(timeout=30)
    assert not any(t.is_alive() for t in started)
    assert fused.embed_queries(["TPU", "GPU"]).shape[0] == 2  # used again after close: it starts them again
    fused.close()


def test_a_part_handed_in_is_left_open_by_close(seeds_notebook):
    shared = ConcatEmbedder(seeds_notebook.dense_embedder.parts)
    shared.embed_queries(["TPU", "GPU"])
    parts = Parts()
    parts.put(("dense",), shared)
    assert parts.close(timeout=30)
    assert shared._helpers is not None  # another notebook's: still running
    shared.close()


def test_with_a_notebook_its_preload_and_background_indexing_end_on_the_way_out(seeds_notebook, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "krill.md").write_text("# Krill\n\n" + "Krill swarm in the cold current. " * 40, encoding="utf-8")
    before = _threads("rag-preload-") | _threads("background-indexing")
    with Notebook(
        tmp_path / ".rag", home=tmp_path, embedder=seeds_notebook.embedder, dense_embedder=seeds_notebook.dense_embedder
    ) as nb:
        nb.preload()
        job = nb.index_in_background([docs], name="docs/")
        started = (_threads("rag-preload-") | _threads("background-indexing")) - before
        assert started and job.name == "docs/"
        assert nb.background.wait(timeout=240)
        assert job.error is None and job.report is not None and job.report.added == 1
        assert nb.background.take_finished() == [job]
    assert not any(t.is_alive() for t in started)
    assert nb.close()  # closing again is harmless


def test_documents_are_read_through_the_notebook_with_its_limits(tmp_path):
    from tests.ingest.readers.builders import pdf_bytes

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "report.pdf").write_bytes(pdf_bytes([["第一頁。"], ["第二頁。"], ["第三頁。"]]))
    nb = Notebook(tmp_path / ".rag", home=tmp_path)
    assert "第三頁" in nb.document("docs/report.pdf").text  # a source name, relative to the home
    assert nb.document(tmp_path / "docs" / "report.pdf").pages  # or a path
    with pytest.raises(IngestError, match="report.pdf"):
        nb.with_settings(max_pages=2).document("docs/report.pdf")  # the notebook's limits, not the readers' defaults


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 2.5, True, "3"])
def test_k_out_of_bounds_is_one_line_wherever_it_comes_from(k):
    with pytest.raises(
        SettingsError, match=rf"^k \(passages to return\) must be a whole number from 1 to {MAX_K}, not"
    ):
        Settings().checked_k(k)


def test_k_within_bounds_is_kept_and_none_is_the_setting():
    settings = Settings(k=7)
    assert settings.checked_k(None) == 7 and settings.checked_k(MAX_K) == MAX_K and settings.checked_k(1) == 1
