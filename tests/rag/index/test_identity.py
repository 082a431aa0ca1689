"""The notebook id in notebook.json: created once, names the collection, adopts an index from before ids."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from rag import Notebook
from rag.errors import NotebookError
from rag.index.identity import FILE_NAME, notebook_id

DOC = "# Ironwood\n\nIronwood 是 Google 第七代 TPU 晶片,專為推論設計。\n"


def test_the_id_is_created_once_kept_and_never_derived_from_the_path(tmp_path):
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(notebook_id(tmp_path / "data"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1 and len(ids) == 8  # processes opening a new folder at once agree on one id
    stored = json.loads((tmp_path / "data" / FILE_NAME).read_text())["id"]
    assert stored == ids[0] and notebook_id(tmp_path / "data") == stored
    shutil.copytree(tmp_path / "data", tmp_path / "moved")  # a moved or copied folder is the same notebook
    assert notebook_id(tmp_path / "moved") == stored
    assert notebook_id(tmp_path / "other") != stored  # another folder, another notebook
    assert list((tmp_path / "data").iterdir()) == [tmp_path / "data" / FILE_NAME]  # no temporary file left


def test_a_damaged_notebook_json_or_a_data_path_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / FILE_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(NotebookError, match=r"notebook\.json: cannot be read as the notebook's id"):
        notebook_id(tmp_path / "data")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(NotebookError) as err:
        Notebook(path=tmp_path / "file", home=tmp_path)
    assert (
        str(err.value)
        == f"{tmp_path / 'file'}: the data path is not a folder (the path setting (RAG_PATH, --path)): give a folder, or remove the file"
    )


def test_an_index_from_before_ids_is_renamed_to_its_own_collection_and_not_embedded_again(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ironwood.md").write_text(DOC, encoding="utf-8")
    nb = Notebook(path=tmp_path / ".rag", home=tmp_path)
    nb.index(tmp_path / "docs", progress=False)
    ids, name, legacy = nb.chunk_ids(), nb.chunk_index.name, nb.settings.collection_name()
    assert (
        name == f"notebook-{json.loads((tmp_path / '.rag' / FILE_NAME).read_text())['id']}-{nb.settings.index_setup()}"
    )
    del nb
    # The folder as an earlier version left it: the collection, commit record and BM25 under the set-up name, no id.
    client = chromadb.PersistentClient(
        path=str(tmp_path / ".rag" / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    client.get_collection(name).modify(name=legacy)
    with sqlite3.connect(tmp_path / ".rag" / "commits.sqlite3") as db:
        for table in ("chunks", "generations"):
            db.execute(f"UPDATE {table} SET collection = ? WHERE collection = ?", (legacy, name))
    (tmp_path / ".rag" / "bm25" / name).rename(tmp_path / ".rag" / "bm25" / legacy)
    (tmp_path / ".rag" / FILE_NAME).unlink()
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    capsys.readouterr()

    again = Notebook(path=tmp_path / ".rag", home=tmp_path)
    assert "renamed, nothing embedded again" in capsys.readouterr().err
    assert again.chunk_ids() == ids and again.chunk_index.name != name  # a new id, the same chunks
    report = again.index(tmp_path / "docs", progress=False)
    assert (report.unchanged, report.added, report.updated) == (1, 0, 0)
    assert again.search("Ironwood 推論", k=1)[0].source == "docs/ironwood.md"
    names = {c.name for c in client.list_collections()}
    assert legacy not in names and again.chunk_index.name in names


def test_the_collection_name_is_a_valid_chroma_name():
    from rag.settings import Settings

    name = Settings().collection_name("0" * 32)
    assert len(name) <= 63 and name.replace("-", "").isalnum() and Path(name).name == name


def test_an_index_of_an_earlier_version_is_rebuilt_never_mixed_and_opening_it_says_so(
    tmp_path, capsys, monkeypatch, notebook_at
):
    """INDEX_VERSION bumped (chunks or their metadata changed): the notebook opens on a collection of its own,
    says in one line that its documents must be indexed again, and `index` embeds them all into it."""
    import rag.settings

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ironwood.md").write_text(DOC, encoding="utf-8")
    old = notebook_at(tmp_path, docs=tmp_path / "docs")
    assert len(old.chunk_ids()) == 1
    old_name = old.chunk_index.name
    capsys.readouterr()
    monkeypatch.setattr(rag.settings, "INDEX_VERSION", rag.settings.INDEX_VERSION + 1)
    new = notebook_at(tmp_path)
    told = capsys.readouterr().err
    assert new.chunk_index.name != old_name and new.chunk_ids() == []  # never mixed
    assert f"indexed by another version or set-up (1 chunks in {old_name})" in told and "indexed again" in told
    report = new.index(tmp_path / "docs", progress=False)
    assert (report.added, report.unchanged) == (1, 0)  # embedded again, not taken as unchanged
    assert new.search("Ironwood 推論", k=1)[0].source == "docs/ironwood.md"
    notebook_at(tmp_path)
    assert "another version" not in capsys.readouterr().err  # said until the documents are in, then no more
