"""Storage trouble in the data folder: read-only media and full disks are searched from a copy, writes fail in one line."""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import NotebookError, notice
from rag.index.index import Index
from rag.index.store import SERVER_SETTING

_OS_TROUBLE = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
# What Chroma's SQLite says about the same troubles (it raises its own InternalError, not OSError).
_MESSAGE_TROUBLE = {
    "disk is full": "no space left on the device",
    "no space left": "no space left on the device",
    "readonly database": "read-only (the folder or its files cannot be written)",
    "read-only file system": "read-only file system",
    "unable to open database file": "its database cannot be opened for writing (read-only or no permission)",
}


# Free space under which a write failure of Chroma's own (an InternalError that names no cause: "Error in
# compaction: Failed to apply logs to the metadata segment") is taken for the full disk it is.
LOW_SPACE = 64 * 2**20


def free_space(folder: Path) -> int | None:
    """Bytes free to this user on the file system of `folder` (or its nearest existing parent); None if unknown."""
    for where in (folder, *folder.parents):
        try:
            usage = os.statvfs(where)
        except OSError:
            continue
        return usage.f_bavail * usage.f_frsize
    return None


def storage_trouble(err: BaseException, folder: Path | None = None) -> str | None:
    """What is wrong with the storage, when `err` (or what caused it) is a full disk or a folder that cannot be
    written; None for any other error. With `folder`, a failure of Chroma's that names no cause is a full disk
    when the folder's file system has almost no room left."""
    found = _named_trouble(err)
    if found is None and folder is not None and type(err).__name__ == "InternalError":
        free = free_space(folder)
        if free is not None and free < LOW_SPACE:
            return f"no space left on the device ({free / 2**20:.1f} MB free)"
    return found


def _named_trouble(err: BaseException) -> str | None:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _OS_TROUBLE:
            return _OS_TROUBLE[current.errno]
        message = str(current).lower()
        for needle, trouble in _MESSAGE_TROUBLE.items():
            if needle in message:
                return trouble
        current = current.__cause__ or current.__context__
    return None


def unreachable(err: BaseException) -> bool:
    """Whether `err` (or what caused it) is a Chroma server that went away: a refused or dropped connection."""
    import httpx

    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (
            isinstance(current, (httpx.TransportError, ConnectionError))
            or "could not connect to" in str(current).lower()
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _temporary_copy(folder: Path, trouble: str) -> Path:
    """A copy of the data folder in the temporary folder, removed when the process ends."""
    copy = Path(tempfile.mkdtemp(prefix="rag-read-only-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    try:
        shutil.copytree(folder, copy / "data", symlinks=True)
    except OSError as err:  # shutil.Error is an OSError too
        shutil.rmtree(copy, ignore_errors=True)
        raise NotebookError(
            f"{folder}: {trouble}, and no room for a temporary copy to search in {copy.parent} ({storage_trouble(err) or err})"
        ) from err
    return copy / "data"


def _forget_failed_open(folder: Path) -> None:
    """Chroma caches a client's system under its folder before starting it, so a start that failed would be handed
    to the next open of that folder in this process (once the disk has room again): drop it."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(folder / "chroma"), None)
    except (ImportError, AttributeError):  # another Chroma version: nothing cached that way
        pass


def open_index(folder: Path, name: str, url: str | None = None) -> Index:
    """The notebook's Index in `folder` (on the Chroma server at `url` when given); when the folder cannot be written
    (read-only media, a full disk), an Index over a temporary copy of it, so search and ask still work, with
    `read_only` saying why writes are refused."""
    try:
        index = Index(folder, name, url)
        if url is None:
            _probe_when_full(index, folder)
    except Exception as err:  # Chroma opens its database for writing even to read: it fails on read-only media
        trouble = storage_trouble(err, folder)
        if trouble is None:
            raise
        _forget_failed_open(folder)
        if not folder.is_dir():
            raise NotebookError(f"{folder}: cannot create the data folder: {trouble}") from err
        index = Index(_temporary_copy(folder, trouble), name, url)
        index.read_only = f"{folder}: {trouble}"
        notice(f"{index.read_only}: searching a temporary copy; indexing and removing are off until it can be written")
        return index
    index.read_only = None
    return index


def _probe_when_full(index: Index, folder: Path) -> None:
    """On a nearly full disk, one search now: writes a full disk interrupted leave Chroma records it applies on
    the next read, which then fails; seen here, the notebook is searched from a copy (open_index) instead."""
    free = free_space(folder)
    if free is None or free >= LOW_SPACE:
        return
    got = index.store.collection.peek(1)
    if len(got["ids"]):
        index.store.collection.query(query_embeddings=[list(got["embeddings"][0])], n_results=1, include=[])


@contextmanager
def writing(index: Index, folder: Path) -> Iterator[None]:
    """Around a change to the index: refused in one line on a folder opened read-only, and a full disk or a folder
    that turns read-only midway is one line naming the folder (what was stored before stays: Chroma commits each
    batch, and stale chunks go only after their replacements are in)."""
    if getattr(index, "read_only", None):
        raise NotebookError(
            f"{index.read_only}: search and ask work, but nothing can be indexed or removed (restart once it can be written)"
        )
    try:
        yield
    except NotebookError:
        raise
    except Exception as err:
        url = getattr(index, "url", None)
        if url and unreachable(err):
            raise NotebookError(
                f"cannot reach the Chroma server at {url} ({SERVER_SETTING}): {' '.join(str(err).split()) or type(err).__name__}: "
                "the run stopped, what was committed before stays; index again once the server is back"
            ) from err
        trouble = storage_trouble(err, folder)
        if trouble is None:
            raise
        raise NotebookError(
            f"{folder}: {trouble}: the run stopped, what was indexed before stays; index again once it is fixed"
        ) from err
