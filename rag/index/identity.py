"""The notebook id: a uuid kept in the data folder's notebook.json, which names its Chroma collection (never a path)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import NotebookError, notice
from rag.settings import Settings

FILE_NAME = "notebook.json"
# How the data path is set, for the one-line messages about it.
PATH_SETTING = "the path setting (RAG_PATH, --path)"


def check_data_folder(folder: Path) -> None:
    """One line when the data path exists but is not a folder (a regular file, a broken link)."""
    if folder.exists() and not folder.is_dir() or folder.is_symlink() and not folder.exists():
        raise NotebookError(
            f"{folder}: the data path is not a folder ({PATH_SETTING}): give a folder, or remove the file"
        )


def stored_id(folder: Path) -> str | None:
    """The id in `folder`/notebook.json, None when there is none yet; a damaged file is one line naming it."""
    path = folder / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise NotebookError(f"{path}: cannot be read as the notebook's id ({err}): restore it from a backup") from err
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value):
        raise NotebookError(
            f'{path}: no notebook id in it (expected {{"id": "<32 hex digits>"}}): restore it from a backup'
        )
    return value


def notebook_id(folder: Path) -> str:
    """The id of the notebook in data folder `folder`, created on first use (the folder too).

    Created atomically: processes opening a new data folder at once all get the id the first of them wrote.
    Copy notebook.json into another data folder to open the same notebook from there (another machine on the
    same Chroma server)."""
    check_data_folder(folder)
    found = stored_id(folder)
    if found is not None:
        return found
    folder.mkdir(parents=True, exist_ok=True)
    record = {"id": uuid.uuid4().hex, "created": datetime.now(UTC).isoformat(timespec="seconds")}
    fd, temporary = tempfile.mkstemp(prefix=".notebook-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, folder / FILE_NAME)  # fails if another process was first: its id is the one
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return stored_id(folder) or record["id"]


def collection_for(folder: Path, settings: Settings) -> str:
    """The Chroma collection of the notebook in `folder` (Settings.collection_name with its id).

    A data folder indexed before ids existed has its collection renamed to it (nothing is embedded again); on a
    server the old collection may hold other notebooks' chunks, so it is left as it was. A read-only folder
    without an id keeps its old name."""
    legacy, url = settings.collection_name(), settings.chroma_url or None
    try:
        notebook = notebook_id(folder)
    except OSError:  # read-only media: searched under the name it was indexed with (rag.index.storage)
        if stored_id(folder) is None:
            return legacy
        raise
    name = settings.collection_name(notebook)
    if url is None:
        _adopt_local(folder, legacy, name)
        _tell_about_other_setup(folder, f"{settings.collection}-{notebook}-", name)
    else:
        _tell_about_server_collection(folder, legacy, name, url)
    return name


def _adopt_local(folder: Path, legacy: str, name: str) -> None:
    """Rename the embedded collection `legacy` (an index from before notebook ids) to `name`, with its commit
    record and keyword index, so the index keeps working as it was."""
    database = folder / "chroma" / "chroma.sqlite3"
    if not database.is_file():
        return
    with sqlite3.connect(database) as db:  # read only the names: opening a Chroma client here costs ~0.5 s
        names = {row[0] for row in db.execute("SELECT name FROM collections")}
    if legacy not in names or name in names:
        return
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder / "chroma"), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    )
    client.get_collection(legacy, embedding_function=None).modify(name=name)
    commits = folder / "commits.sqlite3"
    if commits.is_file():
        with sqlite3.connect(commits) as db:
            for table in ("chunks", "generations"):
                db.execute(f"UPDATE {table} SET collection = ? WHERE collection = ?", (name, legacy))
    keywords = folder / "bm25" / legacy
    if keywords.is_dir() and not (folder / "bm25" / name).exists():
        keywords.rename(folder / "bm25" / name)
    notice(f"{folder}: the index is now this notebook's own collection {name} (renamed, nothing embedded again)")


def _tell_about_other_setup(folder: Path, prefix: str, name: str) -> None:
    """Say in one line, until this set-up's collection holds chunks, that the notebook's chunks are in a collection
    of another set-up (an index version bump, another embedder or chunk size): its documents must be indexed again."""
    commits = folder / "commits.sqlite3"
    if not commits.is_file():
        return
    try:
        with closing(sqlite3.connect(commits)) as db:  # the commit record: which collections hold chunks (no Chroma)
            held = dict(db.execute("SELECT collection, count(*) FROM chunks GROUP BY collection").fetchall())
    except sqlite3.Error:  # a damaged or older record: the index rebuilds it when opened, and says so there
        return
    others = {other: n for other, n in held.items() if other.startswith(prefix) and other != name}
    if others and not held.get(name):
        other, count = max(others.items(), key=lambda item: item[1])
        notice(
            f"{folder}: this notebook was indexed by another version or set-up ({count} chunks in {other}), so it "
            "is empty until its documents are indexed again (`rag index`, or re-index in the page); the old "
            "chunks are left as they are, never mixed in"
        )


def _tell_about_server_collection(folder: Path, legacy: str, name: str, url: str) -> None:
    """Say in one line that a notebook from before ids starts a collection of its own on the server (until that
    collection has a keyword-index copy here, i.e. once it was indexed or searched)."""
    from rag.index.index import server_key

    copies = folder / "bm25"
    if (copies / f"server-{server_key(url, legacy)}").is_dir() and not (
        copies / f"server-{server_key(url, name)}"
    ).exists():
        notice(
            f"{folder}: this notebook now has its own collection {name} on {url}; {legacy}, which notebooks shared "
            "before, is left as it is: run `rag index` again to fill this one"
        )
