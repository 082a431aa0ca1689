"""A damaged commit record (commits.sqlite3 truncated or overwritten) is moved aside and rebuilt from the index,
as a deleted one is: one notice line, every document still searchable."""

from __future__ import annotations

import pytest
from chromadb.api.client import SharedSystemClient

DOC = "# Tide\n\nForty-two sea stars were counted on the north reef in May.\n"


@pytest.mark.parametrize("damage", ["half", "header", "garbage"])
def test_a_damaged_commit_record_is_rebuilt(notebook_at, tmp_path, capsys, damage):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "tide.md").write_text(DOC, encoding="utf-8")
    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    nb.index(tmp_path / "docs", progress=False)
    ids = nb.chunk_ids()
    del nb
    record = tmp_path / ".rag" / "commits.sqlite3"
    raw = record.read_bytes()
    record.write_bytes({"half": raw[: len(raw) // 2], "header": raw[:100], "garbage": b"\x00garbage" * 500}[damage])
    SharedSystemClient.clear_system_cache()
    capsys.readouterr()

    again = notebook_at(tmp_path, path=tmp_path / ".rag")
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith(f"rag: notice: {record}: damaged (") and "rebuilt from the index" in err[0]
    )
    assert again.chunk_ids() == ids and again.search("sea stars north reef", k=1)[0].source == "docs/tide.md"
    assert (tmp_path / ".rag" / "commits.sqlite3.damaged").is_file()  # kept, not deleted
    assert again.index(tmp_path / "docs", progress=False).unchanged == 1
