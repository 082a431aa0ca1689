"""BM25 keyword index over jieba terms, derived from the terms stored with each chunk in Chroma."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from rag.errors import notice
from rag.index.store import ChunkStore


def fingerprint(ids: list[str]) -> str:
    """Identity of a set of chunks: the index is stale when Chroma's ids no longer hash to it."""
    return hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()


class KeywordIndex:
    """bm25s over the chunk terms; saved beside Chroma and rebuilt whenever Chroma's chunk set changed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ids: list[str] = []
        self.fingerprint = ""
        self.bm25 = None

    def sync(self, store: ChunkStore, rebuild: bool = False) -> None:
        """Make the index match the store: load the saved one if current, else rebuild and save it.

        `rebuild`: the chunk set is the same but stored terms changed (a new title), which the id
        fingerprint cannot see.
        """
        ids = store.all_ids()
        want = fingerprint(ids)
        if not rebuild and want == self.fingerprint:
            return
        if not rebuild and self._load(want):
            return
        ids, terms = store.all_ids_and_terms()
        self._build(ids, terms)
        self._save()

    def _build(self, ids: list[str], terms: list[list[str]]) -> None:
        import bm25s

        self.ids = ids
        self.fingerprint = fingerprint(ids)
        self.bm25 = None
        if ids:
            self.bm25 = bm25s.BM25()
            # A chunk with no terms still needs a slot so row numbers stay aligned with ids.
            self.bm25.index([t or ["\u0000"] for t in terms], show_progress=False)

    def _save(self) -> None:
        """Write the index beside Chroma; when the folder cannot be written (read-only media, a full disk) it stays
        in memory for this process, with a one-line notice, and is rebuilt on the next start."""
        manifest = self.folder / "manifest.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # The manifest goes first and comes back last: a save that stops midway leaves a folder _load refuses.
            manifest.unlink(missing_ok=True)
            if self.bm25 is not None:
                self.bm25.save(str(self.folder), show_progress=False)
            partial = manifest.with_suffix(".json.partial")
            partial.write_text(json.dumps({"fingerprint": self.fingerprint, "ids": self.ids}))
            os.replace(partial, manifest)
        except OSError as err:
            notice(f"{self.folder}: keyword index not saved ({err.strerror or err}); kept in memory, rebuilt on the next start")

    def _load(self, want: str) -> bool:
        """Load the saved index when it is the one for `want`; a damaged one (a truncated file) is reported in one
        line and refused, so that sync rebuilds it from the terms stored in Chroma."""
        manifest = self.folder / "manifest.json"
        if not manifest.exists():
            return False
        try:
            data = json.loads(manifest.read_text())
            if data.get("fingerprint") != want:
                return False
            bm25 = self._read_bm25(data["ids"])
        except Exception as err:  # noqa: BLE001 -- numpy, json and bm25s each fail their own way on a damaged file
            notice(f"{self.folder}: keyword index damaged ({type(err).__name__}: {err}); rebuilt from the chunks in Chroma")
            return False
        self.ids = data["ids"]
        self.fingerprint = want
        self.bm25 = bm25
        return True

    def _read_bm25(self, ids: list[str]):
        """The saved bm25s index for these ids (None when there are none), checked to have one row per id."""
        if not ids:
            return None
        import bm25s

        bm25 = bm25s.BM25.load(str(self.folder), show_progress=False)
        scores = bm25.scores
        if scores.get("num_docs") != len(ids):
            raise ValueError(f"it holds {scores.get('num_docs')} chunks, the manifest {len(ids)}")
        data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
        if len(data) != len(indices) or not len(indptr) or indptr[-1] != len(data) or (len(indices) and indices.max() >= len(ids)):
            raise ValueError("its score matrix is cut short or out of step")
        return bm25

    def knows(self, term: str) -> bool:
        """Whether some chunk has the term."""
        return self.bm25 is not None and term in self.bm25.vocab_dict

    def idf(self, term: str) -> float:
        """BM25 idf of a term: how much a match on it says. A term no chunk has gets the highest idf,
        since a question about it is likely about something the documents do not cover."""
        n = len(self.ids)
        df = self._df(self.bm25.vocab_dict[term]) if self.knows(term) else 0
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def _df(self, col: int) -> int:
        indptr = self.bm25.scores["indptr"]
        return int(indptr[col + 1] - indptr[col])

    def search(self, terms: list[str], n: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """Top-n (chunk_id, bm25 score) with a positive score, optionally only among `allowed` ids."""
        if self.bm25 is None:
            return []
        known = [t for t in terms if t in self.bm25.vocab_dict]
        if not known:
            return []
        scores = self.bm25.get_scores(known)
        if allowed is not None:
            mask = np.fromiter((i in allowed for i in self.ids), dtype=bool, count=len(self.ids))
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores)[:n]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
