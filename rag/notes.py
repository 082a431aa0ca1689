"""A notebook's notes: saved answers (with their citations) and the user's own, in SQLite in its data folder."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.notebooks import now
from rag.sqlite import transaction
from rag.types import Citation

FILE_NAME = "notes.sqlite3"
NOTES_FOLDER = "notes"  # in the data folder: notes added to the notebook as sources, one Markdown file each
TITLE_CHARS = 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, citations TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL
);
"""


@dataclass
class Note:
    """A note: its text and, for a saved answer, the citations its [n] markers point to."""

    id: str
    title: str
    body: str
    citations: list[Citation] = field(default_factory=list)
    created: str = ""
    updated: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "citations": [asdict(c) for c in self.citations]}


def default_title(body: str) -> str:
    """A note's title when none is given: its first line, cut to TITLE_CHARS."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"


def searchable(text: str) -> str:
    """The form notes are searched in: Simplified and Traditional alike, any case."""
    from rag.text.terms import matching_form

    return matching_form(text).casefold()


class Notes:
    """The notes of the notebook whose data folder is `folder`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / FILE_NAME

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA)

    def add(
        self, body: str, title: str = "", citations: list[Citation] | None = None, note_id: str | None = None
    ) -> Note:
        """A new note (an answer saved with its citations, or the user's own text)."""
        stamp = now()
        note = Note(
            note_id or str(uuid.uuid4()),
            title.strip() or default_title(body),
            body,
            list(citations or []),
            stamp,
            stamp,
        )
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO notes (id, title, body, citations, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    note.id,
                    note.title,
                    note.body,
                    json.dumps([asdict(c) for c in note.citations], ensure_ascii=False),
                    stamp,
                    stamp,
                ),
            )
        return note

    def edit(self, note_id: str, body: str, title: str = "") -> Note | None:
        """The note with new text (its citations kept); None when there is no such note."""
        with self._connect() as db:
            changed = db.execute(
                "UPDATE notes SET title = ?, body = ?, updated = ? WHERE id = ?",
                (title.strip() or default_title(body), body, now(), note_id),
            ).rowcount
        return self.get(note_id) if changed else None

    def delete(self, note_id: str) -> bool:
        if not self.path.exists():
            return False
        with self._connect() as db:
            return db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0

    def list(self) -> list[Note]:
        """Every note, the one last changed first."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, title, body, citations, created, updated FROM notes ORDER BY updated DESC, rowid DESC"
            ).fetchall()
        return [
            Note(i, t, b, [Citation.from_record(c) for c in json.loads(cs)], cr, up) for i, t, b, cs, cr, up in rows
        ]

    def get(self, note_id: str) -> Note | None:
        return next((n for n in self.list() if n.id == note_id), None)

    def search(self, query: str) -> list[Note]:
        """The notes holding every word of `query` in their title, text or quotes (either Chinese script, any case)."""
        words = searchable(query).split()
        found = []
        for note in self.list():
            text = searchable(" ".join([note.title, note.body, *(c.quote for c in note.citations)]))
            if all(word in text for word in words):
                found.append(note)
        return found

    def source_file(self, note_id: str) -> Path:
        """Where a note added to the notebook as a source is written (notes/<id>.md in the data folder)."""
        return self.folder / NOTES_FOLDER / f"{note_id}.md"

    def write_source(self, note: Note) -> Path:
        """The note as a Markdown file to index (its title the heading, its citations listed under it)."""
        from rag.export import note_markdown

        path = self.source_file(note.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(note_markdown(note, level=1), encoding="utf-8")
        return path
