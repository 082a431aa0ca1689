"""Several notebooks under one data path: each its own data folder, <path>/notebooks/<slug>-<id>/, with notebook.json."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import NotebookError

NOTEBOOKS_FOLDER = "notebooks"  # under the data path: one data folder per notebook
IDENTITY_FILE = "notebook.json"  # in each data folder: the notebook's id (its Chroma collection) and name
DEFAULT_NAME = "Notebook"  # the data path itself, when it holds an index from before there were several
SAMPLE_NAME = "Sample: AI chips"  # what `make run` opens, holding seeds/
MAX_NAME = 80
# What marks a data folder that was indexed before notebook.json existed: Chroma's folder or the commit record.
_INDEX_MARKS = ("chroma", "commits.sqlite3")


def now() -> str:
    """The time as stored in notebook.json, chats and notes: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def slug(name: str) -> str:
    """A folder name for a notebook's name: letters (any script) and digits, the rest one dash; 'notebook' if none."""
    text = unicodedata.normalize("NFKC", name).lower()
    return re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-_")[:48] or "notebook"


def clean_name(name: str) -> str:
    """A notebook's name as stored: one line, trimmed; refused when empty or longer than MAX_NAME."""
    cleaned = " ".join(str(name or "").split())
    if not cleaned:
        raise NotebookError("a notebook needs a name")
    if len(cleaned) > MAX_NAME:
        raise NotebookError(f"a notebook's name is at most {MAX_NAME} characters, not {len(cleaned)}")
    return cleaned


def read_identity(folder: Path) -> dict:
    """The data folder's notebook.json ({} when there is none or it cannot be read)."""
    try:
        data = json.loads((folder / IDENTITY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ensure_identity(folder: Path, name: str | None = None) -> dict:
    """The data folder's notebook.json, written first when it lacks one, an id or (given `name`) a name."""
    from rag.index.identity import notebook_id

    notebook_id(folder)  # the id (the Chroma collection's name) made once, atomically, whoever opens it first
    data = read_identity(folder)
    if name is not None and not data.get("name"):
        write_identity(folder, data | {"name": name})
    return read_identity(folder)


def write_identity(folder: Path, data: dict) -> None:
    """notebook.json replaced whole (written beside it, then renamed: a reader never sees half of it)."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{IDENTITY_FILE}.tmp"
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    partial.replace(folder / IDENTITY_FILE)


@dataclass(frozen=True)
class NotebookInfo:
    """One notebook on the shelf: its id, shown name, data folder and when it was made."""

    id: str
    name: str
    folder: Path
    created: str = ""

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "folder": str(self.folder), "created": self.created}


class Notebooks:
    """The notebooks under a data path: listed, found by name (or id, or folder name), created, renamed, deleted.

    The data path itself counts as one notebook when it holds an index made before there were several (its
    name DEFAULT_NAME until renamed); every other notebook is a data folder under notebooks/.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def folder(self) -> Path:
        return self.path / NOTEBOOKS_FOLDER

    def _root_is_notebook(self) -> bool:
        return (self.path / IDENTITY_FILE).is_file() or any((self.path / mark).exists() for mark in _INDEX_MARKS)

    def _info(self, folder: Path, default_name: str) -> NotebookInfo:
        data = ensure_identity(folder, default_name)
        return NotebookInfo(
            str(data["id"]), str(data.get("name") or default_name), folder, str(data.get("created", ""))
        )

    def list(self) -> list[NotebookInfo]:
        """Every notebook, by name (the data path's own first, when it is one)."""
        found = []
        if self.folder.is_dir():
            for sub in sorted(self.folder.iterdir()):
                if sub.is_dir() and (sub / IDENTITY_FILE).is_file():
                    found.append(self._info(sub, sub.name))
        found.sort(key=lambda info: info.name.casefold())
        return ([self._info(self.path, DEFAULT_NAME)] if self._root_is_notebook() else []) + found

    def find(self, ref: str) -> NotebookInfo | None:
        """The notebook called `ref` (its name, any case; else its id or folder name), None when there is none."""
        ref = " ".join(str(ref).split())
        every = self.list()
        for match in (
            lambda i: i.name == ref,
            lambda i: i.name.casefold() == ref.casefold(),
            lambda i: i.id == ref,
            lambda i: i.folder.name == ref and i.folder.parent == self.folder,
        ):
            hits = [info for info in every if match(info)]
            if hits:
                return hits[0]
        return None

    def get(self, ref: str) -> NotebookInfo:
        """The notebook called `ref`; NotebookError naming the ones there are when none is."""
        info = self.find(ref)
        if info is None:
            names = ", ".join(repr(i.name) for i in self.list()) or "none yet"
            raise NotebookError(f"no notebook named {ref!r} under {self.path} (there are: {names})")
        return info

    def create(self, name: str) -> NotebookInfo:
        """A new, empty notebook called `name` (a name already taken is refused)."""
        name = clean_name(name)
        if self.find(name) is not None:
            raise NotebookError(f"a notebook named {name!r} already exists")
        # The id in the folder's name: a deleted notebook's folder is never used again (Chroma keeps a client per
        # folder for the process, which would read the deleted one's files).
        data = {"id": uuid.uuid4().hex, "name": name, "created": now()}
        folder = self.folder / f"{slug(name)}-{data['id'][:8]}"
        folder.mkdir(parents=True)
        write_identity(folder, data)
        return NotebookInfo(data["id"], name, folder, data["created"])

    def open_or_create(self, name: str) -> NotebookInfo:
        return self.find(name) or self.create(name)

    def rename(self, ref: str, new_name: str) -> NotebookInfo:
        """The notebook called `ref`, called `new_name` from now on (its folder and id stay)."""
        info = self.get(ref)
        new_name = clean_name(new_name)
        taken = self.find(new_name)
        if taken is not None and taken.id != info.id:
            raise NotebookError(f"a notebook named {new_name!r} already exists")
        data = read_identity(info.folder) | {"name": new_name}
        write_identity(info.folder, data)
        return NotebookInfo(info.id, new_name, info.folder, info.created)

    def delete_folder(self, ref: str) -> NotebookInfo:
        """Remove a notebook's data folder (Notebook.delete empties its collection first, for a Chroma server)."""
        info = self.get(ref)
        if info.folder.resolve() == self.path.resolve():
            raise NotebookError(f"{info.name!r} is the data folder {self.path} itself: delete that folder to remove it")
        shutil.rmtree(info.folder)
        return info


def list_notebooks(path: str | Path | None = None) -> list[NotebookInfo]:
    """The notebooks under a data path (default: settings.path, RAG_PATH)."""
    if path is None:
        from rag.settings import Settings

        path = Settings().path
    return Notebooks(path).list()


class OpenNotebooks:
    """The notebooks a server (the page, the MCP server) has open, by id: each opened once, all sharing the models
    of the first one opened (a notebook switched to answers at once, without loading the embedders again)."""

    def __init__(self, settings, first=None):
        import threading

        self.settings = settings  # the data path and every other setting the notebooks are opened with
        self.shelf = Notebooks(settings.path)
        self._open: dict[str, object] = {}
        self._lock = threading.Lock()
        if first is not None:
            self._open[first.info.id] = first

    def default(self) -> NotebookInfo:
        """The notebook opened when none is named: settings.notebook (made when new), else the data folder's own,
        else the first there is, else a new one called DEFAULT_NAME."""
        if self.settings.notebook:
            return self.shelf.open_or_create(self.settings.notebook)
        every = self.shelf.list()
        return every[0] if every else self.shelf.create(DEFAULT_NAME)

    def get(self, ref: str | None = None):
        """The open Notebook for a name or id (None or "": the default one); NotebookError when there is none."""
        from rag.notebook import Notebook

        info = self.shelf.get(ref) if ref else self.default()
        with self._lock:
            nb = self._open.get(info.id)
            if nb is None:
                shared = next(iter(self._open.values()), None)
                models = (
                    {} if shared is None else {"embedder": shared.embedder, "dense_embedder": shared.dense_embedder}
                )
                nb = self._open[info.id] = Notebook(
                    settings=self.settings.updated(path=info.folder, notebook=""), **models
                )
            return nb

    def close(self, timeout: float = 10.0) -> bool:
        """Close every open notebook (Notebook.close); True when all their threads ended in time."""
        with self._lock:
            notebooks, self._open = list(self._open.values()), {}
        closed = [nb.close(timeout) for nb in notebooks]  # every one, even after one that did not end in time
        return all(closed)

    def forget(self, notebook_id: str) -> None:
        """Drop a deleted notebook."""
        with self._lock:
            self._open.pop(notebook_id, None)


def data_root(folder: str | Path) -> Path:
    """The data path a notebook's data folder belongs to: <path> for <path>/notebooks/<name>/, else the folder itself."""
    folder = Path(folder)
    return (
        folder.parent.parent
        if folder.parent.name == NOTEBOOKS_FOLDER and (folder / IDENTITY_FILE).is_file()
        else folder
    )
