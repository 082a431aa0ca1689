"""A notebook's saved chats: SQLite in its data folder, each message with the answer and passages it showed."""

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
from rag.types import Answer, Citation, Hit, known_fields

FILE_NAME = "chats.sqlite3"
TITLE_CHARS = 60  # a chat is listed under its first question, cut to this

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (id TEXT PRIMARY KEY, title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    turn TEXT,
    PRIMARY KEY (chat_id, position)
);
"""


def answer_from_record(data: dict) -> Answer:
    """An Answer from dataclasses.asdict(answer), its citations and hits as objects again."""
    values = known_fields(Answer, data)
    values["citations"] = [Citation.from_record(c) for c in data.get("citations", [])]
    values["hits"] = [Hit.from_record(h) for h in data.get("hits", [])]
    return Answer(**values)


@dataclass
class Message:
    """One chat message; an assistant's keeps its answer (with citations) and the passages it was given."""

    role: str
    content: str
    answer: Answer | None = None
    hits: list[Hit] = field(default_factory=list)

    def turn_record(self) -> str | None:
        if self.role != "assistant":
            return None
        return json.dumps(
            {"answer": asdict(self.answer) if self.answer else None, "hits": [asdict(h) for h in self.hits]},
            ensure_ascii=False,
        )

    @classmethod
    def from_row(cls, role: str, content: str, turn: str | None) -> Message:
        data = json.loads(turn) if turn else {}
        answer = answer_from_record(data["answer"]) if data.get("answer") else None
        return cls(role, content, answer, [Hit.from_record(h) for h in data.get("hits", [])])


@dataclass(frozen=True)
class ChatInfo:
    id: str
    title: str
    created: str
    updated: str


class Chats:
    """The chats of the notebook whose data folder is `folder`: saved whole after each answer, listed newest first."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / FILE_NAME

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA)

    def save(self, chat_id: str | None, messages: list[Message]) -> str:
        """Store the chat's messages (replacing what it held); a new chat when `chat_id` is None or unknown. Its id."""
        chat_id = chat_id or str(uuid.uuid4())
        first = next((m.content for m in messages if m.role == "user"), "")
        title = " ".join(first.split())
        title = title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
        stamp = now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO chats (id, title, created, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET title = excluded.title, updated = excluded.updated",
                (chat_id, title, stamp, stamp),
            )
            db.execute("DELETE FROM messages WHERE chat_id = ?", (chat_id,))
            db.executemany(
                "INSERT INTO messages (chat_id, position, role, content, turn) VALUES (?, ?, ?, ?, ?)",
                [(chat_id, i, m.role, m.content, m.turn_record()) for i, m in enumerate(messages)],
            )
        return chat_id

    def list(self) -> list[ChatInfo]:
        """Every chat, the one last added to first."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, title, created, updated FROM chats ORDER BY updated DESC, rowid DESC"
            ).fetchall()
        return [ChatInfo(*row) for row in rows]

    def messages(self, chat_id: str) -> list[Message]:
        """The chat's messages in order ([] for an unknown chat)."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT role, content, turn FROM messages WHERE chat_id = ? ORDER BY position", (chat_id,)
            ).fetchall()
        return [Message.from_row(*row) for row in rows]

    def get(self, chat_id: str) -> ChatInfo | None:
        return next((c for c in self.list() if c.id == chat_id), None)

    def delete(self, chat_id: str) -> bool:
        """Remove a chat and its messages; False when there was none."""
        if not self.path.exists():
            return False
        with self._connect() as db:
            return db.execute("DELETE FROM chats WHERE id = ?", (chat_id,)).rowcount > 0

    def export_records(self) -> list[dict[str, Any]]:
        """Every chat with its messages, as JSON-ready dicts (a notebook file's chats.json)."""
        return [
            {
                **asdict(info),
                "messages": [
                    {"role": m.role, "content": m.content, "turn": m.turn_record()} for m in self.messages(info.id)
                ],
            }
            for info in reversed(self.list())
        ]

    def import_records(self, records: list[dict[str, Any]]) -> int:
        """Chats from export_records (another notebook's file) added under their ids; how many."""
        for record in records:
            messages = [Message.from_row(m["role"], m["content"], m.get("turn")) for m in record.get("messages", [])]
            self.save(record.get("id"), messages)
        return len(records)
