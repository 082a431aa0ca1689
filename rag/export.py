"""Take things out of a notebook and back in: chats, notes and the whole notebook as Markdown with numbered
citations, and a notebook as one file (its sources, notes and chats in a zip, indexed again on import)."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from rag.chats import Chats, Message
from rag.errors import NotebookError
from rag.notebooks import NotebookInfo, Notebooks, now
from rag.notes import Note, Notes
from rag.types import Citation

if TYPE_CHECKING:
    from rag.notebook import Notebook

FILE_FORMAT = "rag-notebook"
FILE_VERSION = 1
FILE_SUFFIX = ".notebook.zip"
SOURCES_FOLDER = "sources"  # in the file and in the imported notebook's data folder
MAX_IMPORT_BYTES = 1024 * 1024 * 1024  # a notebook file unpacking to more than this is refused (a zip bomb)
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass
class References:
    """The citations of one Markdown export, numbered once across it, and the documents they come from."""

    citations: list[Citation] = field(default_factory=list)
    _numbers: dict[tuple, int] = field(default_factory=dict)

    def renumber(self, text: str, citations: list[Citation]) -> str:
        """`text` with its [n] markers (n: the answer's own numbers) replaced by this export's numbers."""
        mine = {c.n: c for c in citations}

        def number(match: re.Match) -> str:
            cite = mine.get(int(match.group(1)))
            if cite is None:
                return match.group(0)
            key = (cite.chunk_id, cite.start, cite.end, cite.quote)
            if key not in self._numbers:
                self._numbers[key] = len(self.citations) + 1
                self.citations.append(cite)
            return f"[{self._numbers[key]}]"

        return _MARKER.sub(number, text)

    def markdown(self) -> str:
        """The numbered citations, then the list of sources they are from."""
        if not self.citations:
            return ""
        lines = ["## Citations", ""]
        for n, c in enumerate(self.citations, 1):
            where = f", {c.where}" if c.where else ""
            lines.append(
                f"[{n}] “{' '.join(c.quote.split())}” — {c.title or c.name or c.source} ({c.name or c.source}{where})"
            )
        lines += ["", "## Sources", ""]
        seen: dict[str, Citation] = {}
        for c in self.citations:
            seen.setdefault(c.source, c)
        lines += [f"- {c.title or c.name or c.source} — {c.name or c.source}" for c in seen.values()]
        return "\n".join(lines) + "\n"


def _quote_block(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def chat_markdown(title: str, messages: list[Message], refs: References | None = None, level: int = 1) -> str:
    """A chat as Markdown: each question, each answer with its [n] markers numbered across the export, then the
    citations and sources (unless `refs` is shared with a larger export, which lists them once at its end)."""
    own = refs is None
    refs = refs or References()
    lines = [f"{'#' * level} {title or 'Chat'}", ""]
    for m in messages:
        if m.role == "user":
            lines += [f"**Q:** {m.content.strip()}", ""]
        else:
            cites = m.answer.citations if m.answer is not None else []
            lines += [_quote_block(refs.renumber(m.content, cites)) or ">", ""]
    return "\n".join(lines) + ("\n" + refs.markdown() if own else "")


def note_markdown(note: Note, refs: References | None = None, level: int = 2) -> str:
    """A note as Markdown under its title, its [n] markers numbered (across the export when `refs` is shared)."""
    own = refs is None
    refs = refs or References()
    body = refs.renumber(note.body.strip(), note.citations)
    text = f"{'#' * level} {note.title}\n\n{body}\n"
    return text + ("\n" + refs.markdown() if own and refs.citations else "")


def notes_markdown(name: str, notes: list[Note]) -> str:
    refs = References()
    parts = [f"# {name}: notes\n"] + [note_markdown(n, refs) for n in notes]
    return "\n".join(parts) + ("\n" + refs.markdown() if refs.citations else "")


def notebook_markdown(nb: Notebook) -> str:
    """The whole notebook as Markdown: its documents, its notes and its chats, citations numbered across them."""
    refs = References()
    parts = [f"# {nb.name}\n", "## Documents\n"]
    parts += [f"- {s['title'] or s['name']} — {s['name']} ({s['chunks']} passages)" for s in nb.sources()]
    notes = Notes(nb.path).list()
    if notes:
        parts += ["", "## Notes\n"] + [note_markdown(n, refs, level=3) for n in notes]
    chats = Chats(nb.path)
    listed = chats.list()
    if listed:
        parts += ["", "## Chats\n"] + [chat_markdown(c.title, chats.messages(c.id), refs, level=3) for c in listed]
    return "\n".join(parts) + "\n" + refs.markdown()


# ---- a notebook as one file ---------------------------------------------------------------------------------
def _unhidden(parts: Iterable[str]) -> list[str]:
    """Path parts with no hidden one: the indexer skips what lies under a hidden folder (.rag/...), so a source kept
    at such a path in the file would be unpacked on import and never indexed."""
    return [p.lstrip(".") for p in parts if p not in ("", ".", "..", "/") and p.lstrip(".")]


def _member_name(name: str, taken: set[str]) -> str:
    """Where a source goes in the file: sources/<its name>, never outside that folder, never hidden, never twice."""
    parts = _unhidden(PurePosixPath(name.replace("\\", "/")).parts)
    base = PurePosixPath(SOURCES_FOLDER, *(parts or ["document"]))
    member, n = str(base), 2
    while member in taken:
        member, n = str(base.with_stem(f"{base.stem}-{n}")), n + 1
    taken.add(member)
    return member


def _name_in_file(nb: Notebook, file: Path, source: dict) -> str:
    """A source's name in the file: its path in the notebook's data folder when it lies there (uploads/x.pdf,
    notes/<id>.md: their shown names run through the hidden .rag folder), else its shown name."""
    try:
        return file.resolve().relative_to(nb.path.resolve()).as_posix()
    except ValueError:
        return source.get("name") or source["source"]


def export_notebook(nb: Notebook, target: str | Path) -> Path:
    """The notebook as one zip file: manifest.json, its source files, notes.json and chats.json."""
    target = Path(target)
    taken: set[str] = set()
    listed = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for s in nb.sources():
            file = nb.source_file(s["source"])
            if not file.is_file():  # removed since it was indexed: listed, not carried
                listed.append({**s, "file": None})
                continue
            member = _member_name(_name_in_file(nb, file, s), taken)
            archive.write(file, member)
            listed.append({**s, "file": member})
        info = nb.info
        manifest = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "id": info.id,
            "name": info.name,
            "exported": now(),
            "sources": listed,
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr("notes.json", json.dumps([n.as_dict() for n in Notes(nb.path).list()], ensure_ascii=False))
        archive.writestr("chats.json", json.dumps(Chats(nb.path).export_records(), ensure_ascii=False))
    return target


def _read_file(path: Path) -> tuple[zipfile.ZipFile, dict]:
    try:
        archive = zipfile.ZipFile(path)
        manifest = json.loads(archive.read("manifest.json"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise NotebookError(f"{path}: not a notebook file ({err})") from err
    if manifest.get("format") != FILE_FORMAT or not isinstance(manifest.get("sources"), list):
        raise NotebookError(f"{path}: not a notebook file (no {FILE_FORMAT} manifest)")
    if sum(i.file_size for i in archive.infolist()) > MAX_IMPORT_BYTES:
        raise NotebookError(f"{path}: unpacks to more than {MAX_IMPORT_BYTES // 2**20} MB, refused")
    return archive, manifest


def _free_name(shelf: Notebooks, name: str) -> str:
    candidate, n = name, 2
    while shelf.find(candidate) is not None:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def _renamed_sources(record: dict, renamed: dict[str, str]) -> dict:
    """A stored answer or note whose citations and passages point at the imported sources' new names."""
    for key in ("citations", "hits"):
        for item in record.get(key) or []:
            if item.get("source") in renamed:
                item["source"] = renamed[item["source"]]
    return record


def import_notebook(
    path: str | Path,
    settings=None,
    name: str | None = None,
    open_notebook: Callable[[NotebookInfo], Notebook] | None = None,
) -> Notebook:
    """A new notebook from a file export_notebook wrote: its sources unpacked into the new data folder and indexed
    again, its notes and chats added (their citations pointing at the new copies). Named as in the file, or
    `name`, with " (2)" added when taken. `open_notebook(info)`: how a server opens the new notebook (with the
    models it has loaded, kept among those it closes); else a Notebook of its own, loading its own models."""
    from rag.notebook import Notebook
    from rag.settings import Settings

    settings = settings or Settings()
    archive, manifest = _read_file(Path(path))
    with archive:
        shelf = Notebooks(settings.path)
        info = shelf.create(_free_name(shelf, name or str(manifest.get("name") or Path(path).stem)))
        nb = (
            open_notebook(info) if open_notebook else Notebook(settings=settings.updated(path=info.folder, notebook=""))
        )
        unpacked: dict[str, Path] = {}
        for s in manifest["sources"]:
            member = s.get("file")
            if not member or PurePosixPath(member).parts[0] != SOURCES_FOLDER or ".." in PurePosixPath(member).parts:
                continue
            target = info.folder.joinpath(*_unhidden(PurePosixPath(member).parts))  # a file made before _unhidden
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
            unpacked[s["source"]] = target
        if unpacked:
            nb.index(info.folder / SOURCES_FOLDER, progress=False)
        by_file = {nb.source_file(s["source"]).resolve(): s["source"] for s in nb.sources()}
        renamed = {old: by_file[file.resolve()] for old, file in unpacked.items() if file.resolve() in by_file}
        notes = Notes(info.folder)
        for record in json.loads(archive.read("notes.json")) if "notes.json" in archive.namelist() else []:
            record = _renamed_sources(record, renamed)
            cites = [Citation.from_record(c) for c in record.get("citations", [])]
            notes.add(record.get("body", ""), record.get("title", ""), cites, record.get("id"))
        chats = json.loads(archive.read("chats.json")) if "chats.json" in archive.namelist() else []
        for chat in chats:
            for m in chat.get("messages", []):
                if m.get("turn"):
                    turn = json.loads(m["turn"])
                    if turn.get("answer"):
                        _renamed_sources(turn["answer"], renamed)
                    _renamed_sources(turn, renamed)
                    m["turn"] = json.dumps(turn, ensure_ascii=False)
        Chats(info.folder).import_records(chats)
    return nb
