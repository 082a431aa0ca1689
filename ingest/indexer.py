"""Incremental indexing: only new or changed chunks are embedded; chunks of deleted files leave the index."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ingest.chunker import Chunker
from ingest.documents import Chunk, Document, IngestError
from ingest.loaders import iter_files, load_document
from rag.index import Index
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


def chunk_metadata(chunk: Chunk, doc: Document) -> dict:
    meta = {
        "source": doc.source,
        "title": chunk.title,
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
        "ordinal": chunk.ordinal,
        "file_sha256": doc.sha256,
        "terms": " ".join(bm25_terms(f"{chunk.title} {chunk.section} {chunk.text}")),
    }
    if chunk.date:
        meta["date"] = chunk.date
    return meta  # Chroma rejects None values, so optional keys are left out


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
        max_file_chunks: int | None = None,
    ):
        self.index = index
        self.chunker = chunker
        self.embed = embed
        self.home = home.resolve()
        self.batch_size = batch_size
        self.progress = progress
        self.max_file_chunks = max_file_chunks

    def source_name(self, file: Path) -> str:
        """The file's identity: relative to the notebook's home when inside it (stable across cwd), else absolute."""
        resolved = file.resolve()
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
        paths = [Path(p) for p in paths]
        report = IndexReport()
        existing = self.index.metadata_by_source()
        seen: set[str] = set()
        pending: list[tuple[str, Chunk, dict]] = []  # chunks still to embed, with their ids and metadata
        stale: list[str] = []
        for file, _root in iter_files([p for p in paths if p.exists()]):
            source = self.source_name(file)
            seen.add(source)
            try:
                doc = load_document(file)
                doc.source = source
                chunks = self.chunker.split(doc, limit=self.max_file_chunks)
                if not chunks:
                    raise IngestError(file, "no text to index")
                if self.max_file_chunks is not None and len(chunks) > self.max_file_chunks:
                    raise IngestError(
                        file, f"skipped: more than {self.max_file_chunks} chunks (the max_file_chunks setting, RAG_MAX_FILE_CHUNKS)"
                    )
            except IngestError as err:
                report.errors.append(str(err))
                print(f"error: {err}", file=sys.stderr)
                continue  # what was indexed for this file before stays: nothing indexed is lost
            old = existing.get(source, {})
            ids = chunk_ids(source, chunks)
            metas = [chunk_metadata(c, doc) for c in chunks]
            if set(ids) == set(old) and all(m.get("file_sha256") == doc.sha256 for m in old.values()):
                report.unchanged += 1
                continue
            if old:
                report.updated += 1
            else:
                report.added += 1
            keep = [(i, m) for i, m in zip(ids, metas) if i in old]
            self.index.update_metadata([i for i, _ in keep], [m for _, m in keep])  # offsets may have moved
            pending += [(i, c, m) for i, c, m in zip(ids, chunks, metas) if i not in old]
            stale += [i for i in old if i not in set(ids)]
        self._embed_and_upsert(pending)
        report.embedded = len(pending)
        # Stale chunks go only after their replacements are stored: a crash in between is mended by a rerun.
        self.index.delete(stale)
        prefixes, files = self._scope(paths)
        for source, old in existing.items():
            if source not in seen and (source in files or any(source.startswith(p) for p in prefixes)):
                self.index.delete(list(old))
                report.removed += 1
        self.index.sync()
        report.chunks = self.index.count()
        return report

    def _embed_and_upsert(self, pending: list[tuple[str, Chunk, dict]]) -> None:
        if not pending:
            return
        from tqdm import tqdm

        bar = tqdm(total=len(pending), unit="chunk", desc="embedding", disable=not self.progress, file=sys.stderr)
        # Each batch is stored as soon as it is embedded, so an interrupted run keeps its finished work.
        for start in range(0, len(pending), self.batch_size):
            ids, chunks, metas = zip(*pending[start : start + self.batch_size])
            vectors = self.embed([embed_text(c) for c in chunks])
            self.index.upsert(list(ids), vectors, [c.text for c in chunks], list(metas))
            bar.update(len(ids))
        bar.close()
