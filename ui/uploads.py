"""Browser uploads: check type, size and readability, sanitise the name (CJK kept) and save into the uploads folder."""

from __future__ import annotations

import filecmp
import itertools
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.image import ImageReader

ALLOWED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".pdf", ".docx", ".html", ".htm", ".epub", *ImageReader.suffixes)
TEXT_SUFFIXES: tuple[str, ...] = (".txt", ".md")
MAX_UPLOAD_MB = 5  # a text file
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_DOCUMENT_UPLOAD_MB = 50  # a PDF, DOCX, page or e-book: images and fonts make them bulkier than their text
MAX_DOCUMENT_UPLOAD_BYTES = MAX_DOCUMENT_UPLOAD_MB * 1024 * 1024
MAX_STEM_CHARS = 100
UPLOADS_FOLDER = "uploads"  # inside the notebook home (Settings.home)

# Kept: letters and digits of any script (CJK included), and - _ . ( ) and spaces; anything else becomes "_".
_UNSAFE = re.compile(r"[^\w\-. ()]+", re.UNICODE)


def upload_limit_mb(name: str) -> int:
    """The size limit for an upload of this name, in MB."""
    return MAX_UPLOAD_MB if Path(name).suffix.lower() in TEXT_SUFFIXES else MAX_DOCUMENT_UPLOAD_MB


class UploadError(Exception):
    """An upload refused; `key` names its message in ui.labels, `name` the file as the user sent it."""

    def __init__(self, key: str, name: str, reason: str = ""):
        self.key = key
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {key} {reason}".strip())


def original_name(name: str) -> str:
    """The last component of an uploaded name, whichever separator the browser used."""
    return re.split(r"[\\/]", name)[-1]


def safe_name(name: str) -> str:
    """A safe file name for an upload: basename only, no hidden file, unsafe characters → "_", ALLOWED_SUFFIXES only."""
    base = unicodedata.normalize("NFC", original_name(name)).strip()
    if base.startswith("."):
        raise UploadError("bad_name", base or name)
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in ALLOWED_SUFFIXES:
        raise UploadError("bad_type", base or name)
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFC", stem)).strip(" ._")[:MAX_STEM_CHARS].strip(" ._")
    if not stem or not any(ch.isalnum() for ch in stem):
        raise UploadError("bad_name", base)
    return f"{stem}.{suffix.lower()}"


def _names(target_name: str):
    """The name itself, then "name (2).txt", "name (3).txt" ...: a second upload of a name never replaces the first."""
    stem, _, suffix = target_name.rpartition(".")
    yield target_name
    for n in itertools.count(2):
        yield f"{stem} ({n}).{suffix}"


def save_upload(path: str | Path, folder: Path, name: str | None, read: Callable[[Path], object]) -> Path:
    """Check an uploaded temp file (name, size, readable by `read`: the notebook's Notebook.document, with its
    limits) and move a copy into `folder`; the saved path.

    The copy is checked under a hidden name first, so a bad upload never replaces a good file. A file of that name
    with other content is kept: the upload becomes "name (2).txt" (the same content again is the same file).
    """
    path = Path(path)
    name = name or path.name
    target_name = safe_name(name)
    if path.stat().st_size > upload_limit_mb(target_name) * 1024 * 1024:
        raise UploadError("too_big", original_name(name))
    folder.mkdir(parents=True, exist_ok=True)
    if (
        folder / target_name
    ).resolve().parent != folder.resolve():  # belt and braces: safe_name never yields a separator
        raise UploadError("bad_name", original_name(name))
    # Hidden (the indexer skips it) and unique, so two uploads of one name at once do not share it.
    fd, staged = tempfile.mkstemp(prefix=".uploading-", suffix=Path(target_name).suffix, dir=folder)
    os.close(fd)
    staging = Path(staged)
    try:
        shutil.copyfile(path, staging)
        try:
            read(staging)
        except IngestError as err:
            raise UploadError("unreadable", original_name(name), err.reason) from err
        for candidate in _names(target_name):
            target = folder / candidate
            if target.is_file() and filecmp.cmp(staging, target, shallow=False):
                return target.resolve()
            try:
                os.link(staging, target)  # fails when the name is taken, even by an upload saved a moment ago
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links
                if target.exists():
                    continue
                staging.replace(target)
            return target.resolve()
    finally:
        staging.unlink(missing_ok=True)
    raise AssertionError("unreachable: _names never ends")
