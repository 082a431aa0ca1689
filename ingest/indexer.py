"""Incremental indexing: only new or changed chunks are embedded; chunks of deleted files leave the index."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingest.chunker import Chunker
from ingest.documents import Chunk, Document, IngestError
from ingest.loaders import iter_files, load_document, source_path
from ingest.readers import Limits
from rag.index import Index
from rag.index.extracted import from_document
from rag.text import bm25_terms
from rag.types import IndexReport


def chunk_ids(source: str, chunks: list[Chunk]) -> list[str]:
    """Deterministic ids from the source and the chunk text, so an unchanged chunk keeps its id (and embedding)."""
    prefix = hashlib.sha1(source.encode()).hexdigest()[:12]
    seen: dict[str, int] = {}
    ids = []
    for chunk in chunks:
        digest = hashlib.sha1(chunk.text.encode()).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1  # the same text twice in one file gets two ids
        ids.append(f"{prefix}-{digest}-{seen[digest]}")
    return ids


def display_name(source: str, file: Path, root: Path) -> str:
    """How a source is shown: its name when it is relative (to the notebook's home), else the indexed folder's name and
    the path inside it ("papers/2024/report.pdf"), never an absolute path."""
    if not Path(source).is_absolute():
        return source
    try:
        return Path(Path(root).resolve().name, source_path(file, root).relative_to(Path(root).resolve())).as_posix()
    except ValueError:
        return Path(source).name


def chunk_terms(chunk: Chunk) -> str:
    """The chunk's BM25 terms as stored in its metadata ("terms"): its title, section and text."""
    return " ".join(bm25_terms(f"{chunk.title} {chunk.section} {chunk.text}"))


def chunk_metadata(chunk: Chunk, doc: Document, name: str | None = None, terms: bool = True) -> dict:
    """What Chroma stores beside the chunk; without `terms` the "terms" key is left to be added (chunk_terms)."""
    meta = {
        "source": doc.source,
        "title": chunk.title,
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
        "ordinal": chunk.ordinal,
        "file_sha256": doc.sha256,
        "doc_title": doc.title,  # the document's own title (a dated post's chunk has the post's in "title")
    }
    if terms:
        meta["terms"] = chunk_terms(chunk)
    if chunk.date:
        meta["date"] = chunk.date
    if chunk.page is not None:
        meta["page"] = chunk.page
    boxes = doc.boxes_between(chunk.start, chunk.end)
    if boxes:  # the chunk's drawn lines, so a citation can box its quote on the page image
        meta["boxes"] = encode_boxes(boxes)
    if name and name != doc.source:
        meta["name"] = name  # shown instead of an absolute source (a folder outside the notebook's home)
    return meta  # Chroma rejects None values, so optional keys are left out


def encode_boxes(boxes: list) -> str:
    """Line boxes as Chroma can store them (a string): JSON [[start, end, x0, y0, x1, y1], ...] (the chunk's page)."""
    import json

    return json.dumps([[s, e, *(round(float(v), 1) for v in box)] for s, e, _, box in boxes], separators=(",", ":"))


def embed_text(chunk: Chunk) -> str:
    """What the embedder sees: the chunk with its title and section, which carry its topic."""
    header = " · ".join(p for p in (chunk.title, chunk.section) if p)
    return f"{header}\n{chunk.text}" if header else chunk.text


class Indexer:
    """Brings the index (Chroma and BM25, through rag.index.Index) in step with a set of files."""

    def __init__(
        self,
        index: Index,
        chunker: Chunker,
        embed: Callable[[list[str]], object],
        home: Path,
        batch_size: int = 32,
        progress: bool = True,
        follow_outside_links: bool = False,
        max_file_chunks: int | None = None,
        on_progress: Callable[[int, int], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
        limits: Limits | None = None,
    ):
        self.index = index
        self.chunker = chunker
        self.embed = embed
        self.home = home.resolve()
        self.batch_size = batch_size
        self.progress = progress
        self.follow_outside_links = follow_outside_links  # Settings.follow_outside_links
        self.max_file_chunks = max_file_chunks
        self.on_progress = on_progress or (lambda done, total: None)  # chunks embedded so far, of all to embed
        self.should_stop = should_stop or (lambda: False)  # checked between batches: stop there (KeyboardInterrupt)
        self.limits = limits or Limits()  # pages, characters and unzipped bytes one document may have

    def source_name(self, file: Path, root: Path | None = None) -> str:
        """The file's identity: relative to the notebook's home when inside it (stable across cwd), else absolute."""
        resolved = file.resolve() if root is None else source_path(file, root)  # a link by its own name
        try:
            return resolved.relative_to(self.home).as_posix()
        except ValueError:
            return resolved.as_posix()

    def _scope(self, paths: Iterable[Path]) -> tuple[list[str], set[str]]:
        """Folder prefixes and file names whose vanished sources this run may remove."""
        prefixes, files = [], set()
        for p in paths:
            name = self.source_name(p)
            if p.is_dir():
                prefixes.append(name.rstrip("/") + "/")
            else:
                files.add(name)
        return prefixes, files

    def run(self, paths: Iterable[str | Path]) -> IndexReport:
        """Index the files under `paths`: each file's chunks are written, then committed together (visible at
        once); an interrupted file stays unseen and its stored batches are reused by the next run."""
        paths = [Path(p) for p in paths]
        report = IndexReport()
        found = iter_files([p for p in paths if p.exists()], self.follow_outside_links)
        prefixes, scope_files = self._scope(paths)

        def in_scope(s: str) -> bool:  # a stored source this run may find gone
            return (
                s in scope_files
                or any(s.startswith(p) for p in prefixes)
                or (Path(s).is_absolute() and not Path(s).exists())  # outside every folder: only this tells
            )

        # Committed or not (an interrupted run's), of this run's files and of the stored sources in its scope only:
        # re-indexing one folder of a large notebook does not read the whole collection's metadata.
        stored_now = self.index.metadata_in_scope([self.source_name(f, r) for f, r in found], in_scope)
        committed = self.index.committed()
        seen: set[str] = set()
        files: list[_FileWork] = []
        for file, root in found:
            if self.should_stop():
                raise KeyboardInterrupt
            source = self.source_name(file, root)
            seen.add(source)
            try:
                doc = load_document(file, root, self.follow_outside_links, self.limits)
                doc.source = source
                stored = stored_now.get(source, {})
                # The same bytes make the same chunks (chunker settings name the collection): a large notebook's
                # unchanged files are neither chunked nor given keyword terms again.
                if (
                    stored
                    and committed.get(source) == set(stored)
                    and all(m.get("file_sha256") == doc.sha256 for m in stored.values())
                ):
                    report.unchanged += 1
                    self.index.keep_text(from_document(doc))  # kept already, unless indexed before texts were
                    continue
                report.ocr_dropped += doc.ocr_dropped
                chunks = self.chunker.split(doc, limit=self.max_file_chunks)
                if not chunks:
                    raise IngestError(file, "no text to index")
                if self.max_file_chunks is not None and len(chunks) > self.max_file_chunks:
                    raise IngestError(
                        file,
                        f"skipped: more than {self.max_file_chunks} chunks (the max_file_chunks setting, RAG_MAX_FILE_CHUNKS)",
                    )
            except IngestError as err:
                report.errors.append(str(err))
                print(f"error: {err}", file=sys.stderr)
                continue  # what was indexed for this file before stays: nothing indexed is lost
            self.index.keep_text(from_document(doc))  # a citation click shows it, never reads the file again
            ids = chunk_ids(source, chunks)
            name = display_name(source, file, root)
            # New chunks get their terms on the writer thread, beside the embedding of the next batch.
            metas = [chunk_metadata(c, doc, name, terms=i in stored) for i, c in zip(ids, chunks)]
            id_set = set(ids)
            if committed.get(source):
                report.updated += 1
            else:
                report.added += 1
            files.append(
                _FileWork(
                    source,
                    ids,
                    [(i, c, m) for i, c, m in zip(ids, chunks, metas) if i not in stored],
                    [(i, m) for i, m in zip(ids, metas) if i in stored],
                    [i for i in stored if i not in id_set],
                )
            )
        report.embedded = sum(len(f.todo) for f in files)
        self._embed_and_commit(files)
        gone = [s for s in set(stored_now) | set(committed) if s not in seen and in_scope(s)]
        for source in gone:
            self.index.remove_source(source)
            report.removed += source in committed
        self.index.sync()
        report.chunks = self.index.count()
        return report

    def _embed_and_commit(self, files: list[_FileWork]) -> None:
        """Embed and store the files' new chunks in batches (across files, as they come), committing each file as
        soon as all its chunks are stored, then dropping its previous version's chunks.

        Two stages side by side: while a batch is embedded (ONNX and BLAS, which release the GIL), a writer thread
        gives the previous batch its keyword terms (Python), writes it to Chroma and commits the files it
        completes. One thread writes the index at a time, batch after batch in order."""
        from tqdm import tqdm

        total = sum(len(f.todo) for f in files)
        bar = tqdm(total=total, unit="chunk", desc="embedding", disable=not self.progress or not total, file=sys.stderr)
        pending = [(k, item) for k, f in enumerate(files) for item in f.todo]
        left = [len(f.todo) for f in files]
        ready = [0]  # files[:ready[0]] are committed
        done = 0
        self.on_progress(0, total)

        def commit_ready(upto: int) -> None:
            # Files are embedded in order, so the ones ready to commit are the next ones in the list.
            while ready[0] < upto and left[ready[0]] == 0:
                f = files[ready[0]]
                # Kept chunks get their new offsets and terms, the file becomes visible whole, its old chunks go.
                self.index.update_metadata([i for i, _ in f.keep], [m for _, m in f.keep])
                self.index.commit(f.source, f.ids)
                self.index.delete(f.stale)
                ready[0] += 1

        def write(batch: list, vectors: object) -> None:
            for _, (_, c, m) in batch:
                m["terms"] = chunk_terms(c)
            self.index.upsert(
                [i for _, (i, _, _) in batch],
                vectors,
                [c.text for _, (_, c, _) in batch],
                [m for _, (_, _, m) in batch],
            )
            for k, _ in batch:
                left[k] -= 1
            commit_ready(batch[-1][0] + 1)

        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-index-writer")
        in_flight: list[tuple[Future, int]] = []  # the batch being written: at most one

        def written() -> None:
            """Wait for the batch being written (its error raised here), then count it as done."""
            nonlocal done
            while in_flight:
                future, n = in_flight.pop()
                future.result()
                done += n
                bar.update(n)
                self.on_progress(done, total)

        try:
            commit_ready(len(files))  # files with nothing new to embed
            for start in range(0, len(pending), self.batch_size):
                if self.should_stop():
                    raise KeyboardInterrupt
                batch = pending[start : start + self.batch_size]
                vectors = self.embed([embed_text(c) for _, (_, c, _) in batch])
                written()
                in_flight.append((writer.submit(write, batch, vectors), len(batch)))
            written()
            commit_ready(len(files))  # files after the last one embedded that had nothing new
        finally:
            writer.shutdown(wait=True)  # an interrupted run still finishes the batch it was writing
            bar.close()  # before any message about the interrupt, not redrawn after it


@dataclass
class _FileWork:
    """One file's share of a run: its chunk ids in order, chunks to embed, kept chunks' new metadata, stale ids."""

    source: str
    ids: list[str]
    todo: list[tuple[str, Chunk, dict]]
    keep: list[tuple[str, dict]]
    stale: list[str]
