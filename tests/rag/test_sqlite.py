"""The notebook's small SQLite files (chats, notes): closed after each use, and records from another version load."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from rag.chats import Chats, Message
from rag.notes import Notes
from rag.sqlite import transaction
from rag.types import Citation


def open_files(path: Path) -> int:
    """How many of this process's file descriptors point at `path` (Linux)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


def test_a_transaction_commits_rolls_back_and_always_closes(tmp_path):
    path = tmp_path / "deep" / "t.sqlite3"  # its folder is made
    schema = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"
    with transaction(path, schema) as db:
        db.execute("INSERT INTO t VALUES (1)")
    assert open_files(path) == 0
    with pytest.raises(RuntimeError), transaction(path, schema) as db:
        db.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("the block failed")
    assert open_files(path) == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT x FROM t").fetchall() == [(1,)]  # the failed block's row was rolled back


def test_notes_and_chats_leave_no_file_open(tmp_path):
    notes, chats = Notes(tmp_path), Chats(tmp_path)
    notes.add("The lamp is lit at six.", "Lamp")
    chats.save(None, [Message("user", "When is the lamp lit?")])
    assert [n.title for n in notes.list()] == ["Lamp"] and len(chats.list()) == 1
    assert open_files(notes.path) == 0 and open_files(chats.path) == 0


def test_a_note_saved_by_another_version_still_loads(tmp_path):
    notes = Notes(tmp_path)
    notes.add("HBM sits beside the GPU.", "HBM", citations=[Citation(1, "c1", "docs/hbm.md", "HBM", "HBM sits beside")])
    with sqlite3.connect(notes.path) as db:  # a later version saved a field this one does not know
        (saved,) = db.execute("SELECT citations FROM notes").fetchone()
        record = json.loads(saved)
        record[0]["a_field_from_the_future"] = 7
        db.execute("UPDATE notes SET citations = ?", (json.dumps(record),))
    db.close()
    (note,) = notes.list()
    assert note.citations[0].source == "docs/hbm.md" and note.citations[0].quote == "HBM sits beside"
