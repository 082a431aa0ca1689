"""BM25 keyword index over jieba terms, derived from the terms stored with each chunk in Chroma, updated in place."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import sparse

from rag.errors import notice

# bm25s's defaults (Lucene variant): the scores are the ones bm25s gives for the same terms.
K1 = 1.5
B = 0.75
# The recent segment is merged into the main one (and dead rows dropped) once it holds more than this share of the
# main one's rows and more than MERGE_MIN_ROWS: appending to a small segment keeps an incremental run's cost in
# proportion to what it changed, and the large main segment is rewritten (and saved) only now and then.
MERGE_SHARE = 0.25
MERGE_MIN_ROWS = 2_000
# A sync that adds more than this many chunks, most of what the index will hold, reads all terms in one pass.
MERGE_ROWS = 20_000
EMPTY_TERM = "\u0000"  # a chunk with no terms still has a row


def fingerprint(ids: Iterable[str]) -> str:
    """Identity of a set of chunks: the index is stale when Chroma's committed ids no longer hash to it."""
    return hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()


def _segment(first_row: int, docs: list[list[int]], columns: int) -> sparse.csc_matrix:
    """Term frequencies of `docs` (term columns per row), numbered from `first_row`: a CSC matrix, rows by columns
    (for term column t, rows indices[indptr[t]:indptr[t+1]] hold it data times), counts capped at 65,535."""
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    cols = np.fromiter((c for d in docs for c in d), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(first_row, first_row + len(docs), dtype=np.int64), lengths)
    counts = sparse.csc_matrix(
        (np.ones(len(cols), dtype=np.int64), (rows, cols)), shape=(first_row + len(docs), columns)
    )  # fmt: skip
    counts.sum_duplicates()  # one entry per row and term, its count; indices sorted
    return _stored(counts)


def _stored(matrix: sparse.csc_matrix) -> sparse.csc_matrix:
    """The form kept and saved: int32 rows, uint16 counts, sorted."""
    matrix.sort_indices()
    data = np.minimum(matrix.data, 65535).astype(np.uint16)
    return sparse.csc_matrix(
        (data, matrix.indices.astype(np.int32), matrix.indptr.astype(np.int64)), shape=matrix.shape
    )


def _column(segment: sparse.csc_matrix, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding term column `col`, and how often."""
    if col >= segment.shape[1]:
        return segment.indices[:0], segment.data[:0]
    lo, hi = segment.indptr[col], segment.indptr[col + 1]
    return segment.indices[lo:hi], segment.data[lo:hi]


def _loaded(indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray, n_rows: int) -> sparse.csc_matrix:
    """A saved segment, checked: ValueError when it is cut short, out of step or names rows it does not have."""
    if not len(indptr) or indptr[-1] != len(rows) or len(rows) != len(tf) or np.any(np.diff(indptr) < 0):
        raise ValueError("its term matrix is cut short or out of step")
    if len(rows) and (rows.max() >= n_rows or rows.min() < 0):
        raise ValueError("its term matrix names rows it does not have")
    return sparse.csc_matrix((tf, rows, indptr), shape=(n_rows, len(indptr) - 1))


def _merge(a: sparse.csc_matrix, b: sparse.csc_matrix, rows: int, columns: int) -> sparse.csc_matrix:
    """One segment holding both (their rows are distinct: b's come after a's), `rows` by `columns`."""
    a, b = a.copy(), b.copy()
    a.resize((rows, columns))
    b.resize((rows, columns))
    return _stored((a + b).tocsc())


def _read_only(*args, **kwargs) -> None:
    raise TypeError("a view of the keyword index without some chunks (KeywordIndex.without) is read-only")


class KeywordIndex:
    """BM25 (Lucene variant, as bm25s) over the committed chunks' terms, saved beside Chroma and kept in step
    incrementally: new chunks are appended to a small recent segment, removed ones are masked out, and the
    statistics (document frequency, average length) are computed from the live rows at query time, so every
    score equals a full rebuild's. The whole index is read from Chroma only when no saved one fits.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.fingerprint = ""
        self._rows: list[str] = []  # chunk id of every row, live or not
        self._row_of: dict[str, int] = {}
        self._live = np.zeros(0, dtype=bool)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._main = self._recent = None
        self._main_rows = 0  # rows [0, _main_rows) are in the main segment
        self._main_columns = 0
        self._main_token = ""
        self._main_saved = False
        self._ids_cache: list[str] | None = None
        self._avgdl = 0.0
        self._known: frozenset[str] | None = None  # the committed id set last synced to (identity check first)

    # ---- what it holds -------------------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        """The chunk ids it holds, sorted."""
        if self._ids_cache is None:
            self._ids_cache = sorted(self._rows[i] for i in np.flatnonzero(self._live))
        return self._ids_cache

    def __len__(self) -> int:
        return int(self._live.sum())

    @property
    def synced(self) -> bool:
        """Whether it has been brought in step with the store at least once (before that it holds nothing)."""
        return self._known is not None

    def without(self, chunk_ids: Iterable[str]) -> KeywordIndex:
        """A read-only view of the index as if `chunk_ids` had never been indexed: their rows are out of every
        statistic (document frequencies, the average length, the number of chunks), so scores, ranks and idf are
        those of an index built without them. For measuring answers over documents that lack a passage."""
        view = copy.copy(self)
        view._rows = list(self._rows)  # the index appends to its own list in place when it syncs
        view._live = self._live.copy()
        view._live[[self._row_of[i] for i in chunk_ids if i in self._row_of]] = False
        view._ids_cache = None
        view.fingerprint = fingerprint(view.ids)
        view.sync = view._save = _read_only  # a view is never brought in step or saved: its index is
        return view

    # ---- keeping in step -----------------------------------------------------------------------------------
    def sync(
        self, store, rebuild: bool = False, changed: Iterable[str] = (), committed: frozenset[str] | None = None
    ) -> None:
        """Make the index hold exactly the committed chunks (`committed`, else the store's ids) with their current terms.

        `changed`: chunks whose stored terms were rewritten (a new title): the same ids, so only this tells.
        `rebuild`: read every chunk's terms again. A first sync loads the saved index when it fits, else builds it.
        """
        changed = set(changed)
        if committed is not None and committed is self._known and not changed and not rebuild:
            return  # nothing committed since the last look: not even a fingerprint to compute
        want_ids = committed if committed is not None else frozenset(store.all_ids())
        if not rebuild and not changed and want_ids == self._known:
            return
        if rebuild:
            self._full_build(store, want_ids)
        else:
            if self._known is None:  # first sync in this process: the saved index, when there is one
                self._load()
            live_ids = {self._rows[i] for i in np.flatnonzero(self._live)}
            removed = live_ids - want_ids
            added = (want_ids - live_ids) | (changed & want_ids)
            if len(added) > MERGE_ROWS and len(added) >= len(want_ids) // 2:  # mostly new: one pass over Chroma
                self._full_build(store, want_ids)
            elif removed or added or changed:
                self._update(store, removed | (changed & live_ids), sorted(added))
        self._known = want_ids if isinstance(want_ids, frozenset) else frozenset(want_ids)
        fp = fingerprint(self._known)
        if fp != self.fingerprint or changed or rebuild:
            self.fingerprint = fp
            self._save()

    def _full_build(self, store, want_ids: frozenset[str]) -> None:
        ids, terms = store.all_ids_and_terms()
        keep = [(i, t) for i, t in zip(ids, terms) if i in want_ids]
        self._reset()
        self._append([i for i, _ in keep], [t for _, t in keep])
        self._consolidate(force=True)

    def _reset(self) -> None:
        self._rows, self._row_of = [], {}
        self._live = np.zeros(0, dtype=bool)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._vocab, self._terms = {}, []
        self._main = self._recent = None
        self._main_rows = self._main_columns = 0
        self._main_saved = False
        self._ids_cache = None

    def _update(self, store, removed: set[str], added: list[str]) -> None:
        for chunk_id in removed:
            row = self._row_of.pop(chunk_id, None)
            if row is not None:
                self._live[row] = False
        if added:
            got = store.terms(added)
            added = [i for i in added if i in got]
            self._append(added, [got[i] for i in added])
        self._ids_cache = None
        self._consolidate()

    def _column(self, term: str) -> int:
        col = self._vocab.get(term)
        if col is None:
            col = self._vocab[term] = len(self._terms)
            self._terms.append(term)
        return col

    def _append(self, ids: list[str], terms: list[list[str]]) -> None:
        """New rows in the recent segment (a chunk id already held moves to its new row)."""
        if not ids:
            return
        for chunk_id in ids:
            old = self._row_of.get(chunk_id)
            if old is not None:
                self._live[old] = False
        first = len(self._rows)
        docs = [[self._column(t) for t in (ts or [EMPTY_TERM])] for ts in terms]
        self._rows += ids
        self._row_of.update((i, first + k) for k, i in enumerate(ids))
        self._live = np.concatenate([self._live, np.ones(len(ids), dtype=bool)])
        self._lengths = np.concatenate([self._lengths, np.fromiter((len(d) for d in docs), np.float32, len(docs))])
        # The recent segment is rebuilt from its rows' terms: they are few by construction (see MERGE_*).
        fresh = _segment(first, docs, len(self._terms))
        self._recent = fresh if self._recent is None else _merge(self._recent, fresh, len(self._rows), len(self._terms))
        self._ids_cache = None

    def _consolidate(self, force: bool = False) -> None:
        """Merge the recent segment into the main one when it has grown (or `force`), dropping dead rows then."""
        recent_rows = len(self._rows) - self._main_rows
        dead = len(self._rows) - int(self._live.sum())
        grown = recent_rows > max(MERGE_MIN_ROWS, MERGE_SHARE * self._main_rows)
        stale = dead > max(MERGE_MIN_ROWS, MERGE_SHARE * len(self._rows))
        if not (force or grown or stale):
            return
        parts = [s for s in (self._main, self._recent) if s is not None]
        if not parts:
            self._main, self._main_rows, self._main_columns = None, len(self._rows), len(self._terms)
            self._main_token, self._main_saved = uuid.uuid4().hex, False
            return
        shape = (len(self._rows), len(self._terms))
        whole = _merge(parts[0], parts[1], *shape) if len(parts) > 1 else parts[0].copy()
        whole.resize(shape)
        # Compact: live rows renumbered in order, dead ones out.
        live_rows = np.flatnonzero(self._live)
        self._main = _stored(whole[live_rows, :].tocsc())
        self._rows = [self._rows[i] for i in live_rows]
        self._row_of = {chunk_id: k for k, chunk_id in enumerate(self._rows)}
        self._lengths = self._lengths[live_rows]
        self._live = np.ones(len(self._rows), dtype=bool)
        self._recent = None
        self._main_rows, self._main_columns = len(self._rows), len(self._terms)
        self._main_token, self._main_saved = uuid.uuid4().hex, False

    # ---- saving and loading --------------------------------------------------------------------------------
    def _save(self) -> None:
        """Write the index beside Chroma (the large main segment only when it changed); when the folder cannot be
        written (read-only media, a full disk) it stays in memory and the next start brings it in step again."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self._main_saved:
                self._write_npz("main.npz", self._main, token=self._main_token)
                self._write(
                    "main.json", json.dumps({"token": self._main_token, "terms": self._terms[: self._main_columns]})
                )
                self._main_saved = True
            self._write_npz("recent.npz", self._recent, live=self._live, lengths=self._lengths)
            manifest = {
                "fingerprint": self.fingerprint,
                "main": self._main_token,
                "main_rows": self._main_rows,
                "rows": self._rows,
                "terms": self._terms[self._main_columns :],
            }
            self._write("manifest.json", json.dumps(manifest, ensure_ascii=False))  # last: it names the rest
        except OSError as err:
            notice(
                f"{self.folder}: keyword index not saved ({err.strerror or err}); kept in memory, brought in step on the next start"
            )

    def _write(self, name: str, text: str) -> None:
        partial = self.folder / f"{name}.partial"
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.folder / name)

    def _write_npz(self, name: str, segment: sparse.csc_matrix | None, **extra) -> None:
        arrays = dict(extra)
        if segment is not None:
            arrays.update(indptr=segment.indptr, rows=segment.indices, tf=segment.data)
        if "token" in arrays:
            arrays["token"] = np.array(arrays["token"])
        partial = self.folder / f"{name}.partial"
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
        os.replace(partial, self.folder / name)

    def _load(self) -> bool:
        """Load the saved index (any fingerprint: sync then applies the difference); a damaged one is reported in
        one line and dropped, so that sync rebuilds it from the terms stored in Chroma."""
        if not (self.folder / "manifest.json").exists():
            return False
        try:
            manifest = json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
            if isinstance(manifest, dict) and "fingerprint" in manifest and "main" not in manifest:
                return False  # saved by the bm25s-based index before this one: built again once, quietly
            main_meta = json.loads((self.folder / "main.json").read_text(encoding="utf-8"))
            if main_meta["token"] != manifest["main"]:
                raise ValueError("its main segment is not the one its manifest names")
            rows, main_rows = list(manifest["rows"]), int(manifest["main_rows"])
            terms = list(main_meta["terms"]) + list(manifest["terms"])
            with np.load(self.folder / "main.npz") as npz:
                if str(npz["token"]) != manifest["main"]:
                    raise ValueError("its main segment is not the one its manifest names")
                main = (npz["indptr"], npz["rows"], npz["tf"]) if "indptr" in npz else None
            with np.load(self.folder / "recent.npz") as npz:
                recent = (npz["indptr"], npz["rows"], npz["tf"]) if "indptr" in npz else None
                live, lengths = npz["live"], npz["lengths"]
            if len(live) != len(rows) or len(lengths) != len(rows) or main_rows > len(rows):
                raise ValueError(f"it holds {len(live)} rows, the manifest {len(rows)}")
            main, recent = (None if saved is None else _loaded(*saved, len(rows)) for saved in (main, recent))
            for segment in (main, recent):
                if segment is not None and segment.shape[1] > len(terms):
                    raise ValueError("its term matrix has more terms than its vocabulary")
        except Exception as err:  # noqa: BLE001 -- numpy, json and zip each fail their own way on a damaged file
            notice(
                f"{self.folder}: keyword index damaged ({type(err).__name__}: {err}); rebuilt from the chunks in Chroma"
            )
            self._reset()
            return False
        self._reset()
        self._rows, self._live, self._lengths = rows, live.astype(bool), lengths.astype(np.float32)
        self._row_of = {chunk_id: k for k, chunk_id in enumerate(rows) if live[k]}
        self._terms = terms
        self._vocab = {t: k for k, t in enumerate(terms)}
        self._main, self._recent = main, recent
        self._main_rows, self._main_columns = main_rows, len(main_meta["terms"])
        self._main_token, self._main_saved = manifest["main"], True
        self.fingerprint = manifest["fingerprint"]
        return True

    # ---- reading -------------------------------------------------------------------------------------------
    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Live rows holding the term and how often."""
        col = self._vocab.get(term)
        if col is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16)
        parts = [_column(s, col) for s in (self._main, self._recent) if s is not None]
        rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, dtype=np.int32)
        tf = np.concatenate([t for _, t in parts]) if parts else np.zeros(0, dtype=np.uint16)
        keep = self._live[rows]
        return rows[keep], tf[keep]

    def knows(self, term: str) -> bool:
        """Whether some chunk has the term."""
        return term in self._vocab and len(self._postings(term)[0]) > 0

    def _idf(self, df: int) -> float:
        n = len(self)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def idf(self, term: str) -> float:
        """BM25 idf of a term: how much a match on it says. A term no chunk has gets the highest idf,
        since a question about it is likely about something the documents do not cover."""
        return self._idf(len(self._postings(term)[0]))

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every row (dead rows 0) for the query terms; a repeated term counts again, as in bm25s."""
        out = np.zeros(len(self._rows), dtype=np.float32)
        live = self._live
        if not live.any():
            return out
        avgdl = float(self._lengths[live].mean())
        for term in terms:
            rows, tf = self._postings(term)
            if not len(rows):
                continue
            tf = tf.astype(np.float32)
            norm = K1 * ((1 - B) + B * self._lengths[rows] / avgdl)
            out[rows] += np.float32(self._idf(len(rows))) * tf / (norm + tf)
        return out

    def search(self, terms: list[str], n: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """Top-n (chunk_id, bm25 score) with a positive score, optionally only among `allowed` ids."""
        known = [t for t in terms if t in self._vocab]
        if not known:
            return []
        scores = self.scores(known)
        if allowed is not None:
            mask = np.zeros(len(self._rows), dtype=bool)
            rows = [self._row_of[i] for i in allowed if i in self._row_of]
            mask[rows] = True
            scores = np.where(mask, scores, 0.0)
        if n < len(scores):
            top = np.argpartition(-scores, n)[:n]
            top = top[np.argsort(-scores[top], kind="stable")]
        else:
            top = np.argsort(-scores, kind="stable")
        return [(self._rows[i], float(scores[i])) for i in top if scores[i] > 0]
