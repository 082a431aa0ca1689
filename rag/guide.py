"""Source guides: each document's central sentences (LexRank over sentence vectors), key terms and suggested
questions, kept in the data folder beside the index; and the notebook overview made from them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.text import STOP_WORDS, han_share, is_chinese, keyword_tokens, sentence_spans, to_script
from rag.text.script import HAN
from rag.types import Citation

VERSION = 6  # bump when what a guide holds or how it is chosen changes: older files are rebuilt
SUMMARY_SENTENCES = 3
TERMS = 8
QUESTIONS = 4
CENTRAL_CHUNKS = 6  # the chunks whose sentences are embedded: the most central by their stored vectors
MAX_SENTENCES = 40  # sentences embedded per document at most
DAMPING = 0.85  # LexRank's (PageRank's) damping factor

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_OWN_QUESTION = re.compile(r"[?？]\s*[」』\"”]?$")
_NOT_A_TERM = re.compile(r"^[\d\W_]+$|^(http|www|com|html?)$", re.IGNORECASE)
# Headings that name a part of every document, not what this one is about.
_GENERIC_HEADING = re.compile(
    r"^(摘要|一句話摘要|一句话摘要|總結|总结|結論|结论|前言|引言|目錄|目录|參考|参考|參考資料|参考资料|附錄|附录|金句|延伸閱讀|延伸阅读|"
    r"summary|abstract|introduction|conclusions?|references|contents|table of contents|appendix|notes?|faq|tl;?dr)$",
    re.IGNORECASE,
)
_OPENER = re.compile(
    r"^(?:但是|但|那麼|那么|所以|(?:So|But|And|Then)\b),?\s*", re.IGNORECASE
)  # 「但這是否…?」 asks 「這是否…?」
# A list item's marker and a bold label before a sentence (「- **意義：** 若…」): left out of the quote.
_MARKUP = re.compile(r"^(?:[-*+>]\s+|\d{1,2}[.)]\s+)?(?:\*\*[^*]{1,30}\*\*\s*[:：]?\s*)?")
# A question that asks something of its own (not "If it's all a bubble?"): a question word or an auxiliary first.
_ASKS = re.compile(
    r"^(what|which|who|whom|whose|why|how|when|where|is|are|was|were|do|does|did|can|could|will|would|should|has|have)\b"
    r"|什麼|什么|為什麼|为什么|為何|为何|如何|怎麼|怎么|是否|哪|誰|谁|多少|幾|几|嗎|吗",
    re.IGNORECASE,
)
_DECORATION = re.compile(r"^[\W\d_]+|[\W_]+$")  # emoji, numbering and punctuation around a heading


@dataclass
class Guide:
    """One source's guide: `summary` (its central sentences in document order, each cited by `citations`),
    `terms` (its distinctive words) and `questions` (3-5 it answers)."""

    source: str
    title: str
    sentences: list[str]
    citations: list[Citation]
    terms: list[str]
    questions: list[str]
    fingerprint: str = ""
    ranks: list[int] = field(default_factory=list)  # each summary sentence's place by centrality (0: most central)
    name: str = ""

    @property
    def summary(self) -> str:
        return (
            " ".join(self.sentences) if not any(han_share(s) > 0.5 for s in self.sentences) else "".join(self.sentences)
        )

    def in_script(self, script: str | None) -> Guide:
        """This guide with its Chinese text in `script` ('zh-Hant', 'zh-Hans'; 'en' or None: as written); the
        citations keep the document's own words."""
        if script not in ("zh-Hant", "zh-Hans"):
            return self

        def convert(text: str) -> str:
            return to_script(text, script) if HAN.search(text) else text

        return Guide(
            self.source, convert(self.title), [convert(s) for s in self.sentences], self.citations,
            [convert(t) for t in self.terms], [convert(q) for q in self.questions], self.fingerprint, self.ranks, self.name,
        )  # fmt: skip

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Guide:
        data = dict(data)
        data["citations"] = [Citation.from_record(c) for c in data.get("citations", [])]
        return cls(**data)


@dataclass
class Overview:
    """The notebook's overview: each source's most central sentence (cited), the notebook's key terms, and
    questions to start with (each source's first, in turn)."""

    guides: list[Guide]
    terms: list[str]
    questions: list[str]

    @property
    def sentences(self) -> list[tuple[Guide, str, Citation]]:
        """Each source's most central summary sentence, with its guide and citation."""
        out = []
        for g in self.guides:
            if g.sentences:
                i = g.ranks.index(0) if 0 in g.ranks else 0
                out.append((g, g.sentences[i], g.citations[i]))
        return out


def one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def fingerprint(chunk_ids: Iterable[str]) -> str:
    """What a guide was built from: the source's committed chunk ids (they change with its text)."""
    return hashlib.sha1(("\n".join(sorted(chunk_ids)) + f"\nv{VERSION}").encode()).hexdigest()[:20]


def lexrank(vectors: np.ndarray) -> np.ndarray:
    """Continuous LexRank: each row's stationary score on the graph of cosine similarities above their median
    (an embedder rates most pairs of sentences of one document alike; the lift over that is what links them)."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    sims = unit @ unit.T
    off = sims[~np.eye(n, dtype=bool)]
    weights = np.clip(sims - float(np.median(off)), 0.0, None)
    np.fill_diagonal(weights, 0.0)
    rows = weights.sum(axis=1, keepdims=True)
    transition = np.where(rows > 0, weights / np.where(rows > 0, rows, 1.0), 1.0 / n)
    score = np.full(n, 1.0 / n)
    for _ in range(100):
        new = (1 - DAMPING) / n + DAMPING * (transition.T @ score)
        if np.abs(new - score).sum() < 1e-9:
            break
        score = new
    return score


@dataclass
class _Sentence:
    text: str
    chunk: object  # rag.index.store.StoredChunk
    start: int  # offsets in the chunk text
    end: int

    @property
    def at(self) -> int:
        return int(self.chunk.meta.get("start", 0)) + self.start


def _informative(text: str, least: int = 0) -> bool:
    """Long enough to say something: eight Han characters or six words (`least` when given: a short document's
    sentences are all it has), and not too long to read as one."""
    asks = bool(_OWN_QUESTION.search(text))  # a question says what it asks in fewer words
    if HAN.search(text) and han_share(text) > 0.5:
        return (least or (5 if asks else 8)) <= len(HAN.findall(text)) and len(text) <= 160
    return (least or (4 if asks else 6)) <= len(text.split()) <= 60


def _sentences(chunks: list, least: int = 0) -> list[_Sentence]:
    """The informative sentences of the chunks in document order, once each (overlapping chunks repeat them)."""
    from rag.answer.rules import is_furniture

    out, seen = [], set()
    for chunk in chunks:
        text = chunk.text
        for a, b in sentence_spans(text):
            raw = text[a:b]
            whole_line = (a == 0 or text[a - 1] == "\n") and (b == len(text) or text[b] == "\n")
            if is_furniture(raw.strip(), whole_line):
                continue
            lead = len(raw) - len(raw.lstrip())
            lead += _MARKUP.match(raw[lead:]).end()
            sentence = raw[lead:].rstrip()
            key = "".join(sentence.split())
            if key in seen or "**" in sentence or "|" in sentence or not _informative(sentence, least):
                continue
            seen.add(key)
            out.append(_Sentence(sentence, chunk, a + lead, a + lead + len(sentence)))
    return out


_NOUN_TAGS = ("n", "nr", "ns", "nt", "nz", "vn", "eng")


def _is_noun(word: str) -> bool:
    """jieba's part of speech of the word on its own is a noun, a name or a Latin word."""
    import jieba.posseg

    tagged = jieba.posseg.lcut(word)
    return len(tagged) == 1 and tagged[0].flag.startswith(_NOUN_TAGS)


def _term(word: str) -> str:
    """A word as the keyword index holds it (Simplified, lowercased, English stemmed), for its idf."""
    terms = keyword_tokens(word)
    return terms[0] if terms else word.lower()


def key_terms(text: str, idf: Callable[[str], float], n: int = TERMS) -> list[str]:
    """The document's distinctive nouns and names: jieba's tf-idf (its general-language idf, nouns only),
    weighed by how rare each is in the notebook (its keyword index's idf), in the document's script."""
    import jieba.analyse

    from rag.text import converter, detect_script

    if not is_chinese(text[:4000]):
        return _english_terms(text, idf, n)
    simplified = converter("t2s").convert(text)
    # Tagging the whole text costs seconds a document; each candidate word's own tag is enough to keep the nouns.
    tags = [(t, w) for t, w in jieba.analyse.extract_tags(simplified, topK=8 * n, withWeight=True) if _is_noun(t)]
    top_idf = max((idf(t.lower()) for t, _ in tags), default=1.0) or 1.0
    scored = []
    for tag, weight in tags:
        key = tag.lower()
        if _NOT_A_TERM.match(tag) or len(tag) < 2 or key in STOP_WORDS:
            continue
        if not HAN.search(tag) and (tag.islower() and len(tag) < 5):
            continue  # a short lowercase English word is seldom what a document is about
        distinct = idf(_term(key)) / top_idf
        scored.append((weight * (0.25 + distinct), tag))
    scored.sort(reverse=True)
    traditional = detect_script(text[:4000], "zh-Hans") == "zh-Hant" and is_chinese(text[:4000])
    out: list[str] = []
    for _, tag in scored:
        shown = to_script(tag, "zh-Hant") if traditional and HAN.search(tag) else tag
        if all(shown.lower() not in o.lower() and o.lower() not in shown.lower() for o in out):
            out.append(shown)
        if len(out) == n:
            break
    return out


_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]")


def _english_terms(text: str, idf: Callable[[str], float], n: int) -> list[str]:
    """An English document's names first (words it writes capitalised inside its sentences: Nvidia, DeepSeek),
    then its longer words by tf-idf over the notebook."""
    from collections import Counter

    named, plain = Counter(), Counter()
    for m in _LATIN.finditer(text):
        word = m.group()
        before = text[max(0, m.start() - 2) : m.start()]
        if word[0].isupper() and m.start() > 0 and not re.search(r"[.!?\n]\s*$|^\s*$", before) or word.isupper():
            named[word] += 1
        elif word.islower() and len(word) >= 6 and word not in STOP_WORDS:
            plain[word] += 1
    top = max((idf(_term(w)) for w in list(named) + list(plain)), default=1.0) or 1.0

    def score(counts: Counter, w: str) -> float:
        return (1 + np.log(counts[w])) * idf(_term(w)) / top

    least = 2 if len(text) > 2000 else 1  # a short note says each thing once
    names = sorted(
        (w for w in named if named[w] >= least and w.lower() not in STOP_WORDS), key=lambda w: -score(named, w)
    )
    words = sorted((w for w in plain if plain[w] >= least), key=lambda w: -score(plain, w))
    out: list[str] = []
    for w in names[: (2 * n) // 3] + words + names[(2 * n) // 3 :]:
        if all(w.lower() != o.lower() for o in out):
            out.append(w)
    return out[:n]


def _heading_question(heading: str, chinese: bool, terms: list[str]) -> str:
    """A question a section heading says the document answers: one naming a key term or a name in Latin letters
    (「話題二：Groq的LPU晶片」 -> 「Groq的LPU晶片是什麼?」); a heading every document has names nothing."""
    heading = _DECORATION.sub("", re.sub(r"[（(][^）)]*[）)]?", "", heading.split("：")[-1].split(": ")[-1])).strip()
    if not heading or _GENERIC_HEADING.match(heading) or len(heading) > 40:
        return ""
    if not (re.search(r"[A-Z0-9]", heading) or any(t.lower() in heading.lower() for t in terms)):
        return ""
    return f"{heading}是什麼?" if chinese else f"What does it say about {heading}?"


def suggested_questions(
    text: str, sentences: list[_Sentence], terms: list[str], title: str, n: int = QUESTIONS
) -> list[str]:
    """3-5 questions the document answers: its own questions, its section headings, its key terms."""
    chinese = is_chinese(text[:4000])
    out: list[str] = []

    def add(q: str) -> None:
        key = "".join(q.lower().split())
        if q and len(out) < n and all(key != "".join(o.lower().split()) for o in out):
            out.append(q)

    for s in sentences:
        asked = _OPENER.sub("", s.text.strip('「」『』"“” '))
        if _OWN_QUESTION.search(asked) and len(asked) <= 60 and len(out) < 2 and _ASKS.search(asked):
            add(asked[:1].upper() + asked[1:])
    for heading in _HEADING.findall(text):
        if len(out) >= n - 1:
            break
        if "".join(heading.split()) not in "".join(title.split()):
            add(_heading_question(heading, chinese, terms))
    for term in sorted(terms, key=lambda t: not re.search(r"[A-Z0-9]", t)):  # names first, each kind in score order
        if not (term.isascii() and len(term) < 3):  # "AI" asks nothing of this document
            add(f"{term}是什麼?" if chinese else f"What does the document say about {term}?")
    return out


def build_guide(
    source: str,
    chunks: list,
    chunk_vectors: np.ndarray,
    embed_passages: Callable[[list[str]], object],
    idf: Callable[[str], float],
    ids_fingerprint: str = "",
) -> Guide:
    """A source's guide from its stored chunks (in any order) and their stored vectors: LexRank over the chunk
    vectors picks the central chunks, LexRank over their sentences' vectors the summary."""
    order = sorted(range(len(chunks)), key=lambda i: int(chunks[i].meta.get("start", 0)))
    chunks = [chunks[i] for i in order]
    chunk_vectors = np.asarray(chunk_vectors)[order] if len(chunk_vectors) else chunk_vectors
    first = chunks[0].meta if chunks else {}
    title, name = first.get("doc_title") or first.get("title", ""), first.get("name", source)
    central = chunks
    if len(chunks) > CENTRAL_CHUNKS:
        scores = lexrank(chunk_vectors)
        keep = sorted(np.argsort(-scores)[:CENTRAL_CHUNKS].tolist())
        central = [chunks[i] for i in keep]
    every = _sentences(chunks)
    candidates = _sentences(central)[:MAX_SENTENCES] or _sentences(central, least=3)[:MAX_SENTENCES]
    # Questions are asked, not stated: never a summary sentence.
    statements = [s for s in candidates if not _OWN_QUESTION.search(s.text)] or candidates
    chosen: list[tuple[int, _Sentence]] = []
    if statements:
        vectors = np.asarray(embed_passages([s.text for s in statements]), dtype=np.float32)
        scores = lexrank(vectors)
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        picked: list[int] = []
        for i in np.argsort(-scores).tolist():
            if all(float(unit[i] @ unit[j]) < 0.93 for j in picked):  # no sentence twice in other words
                picked.append(i)
            if len(picked) == SUMMARY_SENTENCES:
                break
        chosen = sorted(((rank, statements[i]) for rank, i in enumerate(picked)), key=lambda rs: rs[1].at)
    text = "\n".join(c.text for c in chunks)
    terms = key_terms(text, idf)
    questions = suggested_questions(text, every, terms, title)
    citations = [
        Citation(1, s.chunk.chunk_id, source, s.chunk.meta.get("title", title), s.text, s.chunk.meta.get("section", ""),
                 s.at, s.at + len(s.text), s.chunk.meta.get("page"), name)
        for _, s in chosen
    ]  # fmt: skip
    return Guide(
        source,
        title,
        [s.text for _, s in chosen],
        citations,
        terms,
        questions,
        ids_fingerprint,
        [r for r, _ in chosen],
        name,
    )


class GuideStore:
    """The guides of one notebook, one JSON file per source in `<data folder>/guides/`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder) / "guides"

    def file(self, source: str) -> Path:
        return self.folder / (hashlib.sha1(source.encode()).hexdigest()[:20] + ".json")

    def load(self, source: str) -> Guide | None:
        try:
            return Guide.from_dict(json.loads(self.file(source).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # none yet, or one from an older version: built again

    def save(self, guide: Guide) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.file(guide.source)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # two writers never share one
        tmp.write_text(json.dumps(guide.as_dict(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a file

    def delete(self, source: str) -> None:
        self.file(source).unlink(missing_ok=True)

    def keep_only(self, sources: Iterable[str]) -> None:
        """Remove the guides of sources no longer indexed."""
        wanted = {self.file(s).name for s in sources}
        if self.folder.is_dir():
            for path in self.folder.glob("*.json"):
                if path.name not in wanted:
                    path.unlink(missing_ok=True)


def overview(guides: list[Guide], n_terms: int = TERMS, n_questions: int = 3) -> Overview:
    """The notebook's overview from its sources' guides."""
    terms: list[str] = []
    for rank in range(TERMS):
        for g in guides:
            if rank < len(g.terms) and all(g.terms[rank].lower() != t.lower() for t in terms):
                terms.append(g.terms[rank])
    questions: list[str] = []
    for rank in range(QUESTIONS):
        for g in guides:
            if rank < len(g.questions) and g.questions[rank] not in questions:
                questions.append(g.questions[rank])
    return Overview(guides, terms[:n_terms], questions[:n_questions])


# ---- summary requests in the chat ---------------------------------------------------------------------------
_SUMMARY_ZH = re.compile(
    r"總結|总结|摘要|概括|概述|歸納|归纳|重點是什麼|重点是什么|重點整理|重点整理|(講|讲|說|说|寫|写)(了)?(些)?什麼|(講|讲|說|说|寫|写)(了)?(些)?什么|"
    r"關於什麼|关于什么|主要內容|主要内容|大意|導覽|导览"
)
_SUMMARY_EN = re.compile(
    r"\bsummari[sz]e\b|\bsummary\b|\boverview\b|\btl;?dr\b|\b(main|key) (points|ideas|takeaways)\b|"
    r"\bwhat('s| is| are)\b.{0,60}\b(about|covering)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_DOCUMENT_WORDS = re.compile(
    r"document|file|post|article|interview|podcast|paper|episode|notebook|source|文件|檔案|档案|文章|這篇|这篇|訪談|访谈|節目|节目|筆記本|笔记本|來源|来源",
    re.IGNORECASE,
)
# The words of a summary request that ask, as opposed to those naming what to summarise.
_ASKING_WORDS = (
    "summarize summarise summary overview what about tell document file post article interview podcast paper episode "
    "notebook source main key points 總結 总结 摘要 概括 概述 重點 重点 文件 文章 這篇 这篇 那篇 訪談 访谈 節目 节目 內容 内容 主要 講 讲 "
    "說 说 寫 写 什麼 什么 一下 請 请 幫 帮 這篇文章 这篇文章 那篇文章 這份文件 这份文件"
)
_ALL_DOCUMENTS = re.compile(
    r"這些|这些|所有|全部|筆記本|笔记本|\ball\b|\bthese\b|\bnotebook\b|\bsources\b|\bdocuments\b", re.IGNORECASE
)


def is_summary_request(question: str) -> bool:
    """「總結…」, 「这篇在讲什么?」, "Summarize …", "What is this document about?"."""
    if _SUMMARY_ZH.search(question) and (HAN.search(question) is not None):
        return True
    m = _SUMMARY_EN.search(question)
    if not m:
        return False
    # "What is X about?" asks for a summary only of a document: "what is attention about?" is a question.
    return not m.group(0).lower().startswith("what") or bool(_DOCUMENT_WORDS.search(question))


def named_sources(question: str, guides: list[Guide], idf: Callable[[str], float]) -> list[str]:
    """The sources whose title or name the question names ("Summarize the Dylan Patel interview"), best first;
    [] when it names none or all of them (「這些文件」)."""
    if _ALL_DOCUMENTS.search(question):
        return []
    asked = set(keyword_tokens(question))
    scored = []
    for g in guides:
        label = set(keyword_tokens(f"{g.title} {Path(g.name or g.source).stem}"))
        shared = asked & label
        weight = sum(idf(t) for t in shared)
        if weight > 0:
            scored.append((weight, g.source))
    scored.sort(reverse=True)
    if not scored:
        return []
    best = scored[0][0]
    return [s for w, s in scored if w >= 0.8 * best]


# ---- one notebook's guides ------------------------------------------------------------------------------------
class NotebookGuides:
    """A notebook's guides: built for new and changed sources after indexing, removed with them, read from the
    data folder; the overview, summary answers and suggested follow-ups made from them."""

    def __init__(self, notebook):
        self.notebook = notebook
        self.store = GuideStore(notebook.path)

    def _idf(self, term: str) -> float:
        return self.notebook.chunk_index.keywords.idf(term)

    def build(self, source: str, ids: Iterable[str]) -> Guide:
        """Build and keep the guide of one committed source."""
        index = self.notebook.chunk_index
        ids = sorted(ids)
        chunks = index.get(ids)
        vectors = index.store.embeddings([c.chunk_id for c in chunks])
        guide = build_guide(source, chunks, vectors, self.notebook.embedder.embed_passages, self._idf, fingerprint(ids))
        self.store.save(guide)
        return guide

    def update(self, progress: bool = False) -> int:
        """Guides for every committed source in step with its chunks; those of removed sources deleted. Returns
        how many were built."""
        import sys
        import time

        index = self.notebook.chunk_index
        index.sync()  # idf from the keyword index as committed
        committed = index.committed()
        self.store.keep_only(committed)
        todo = [
            (s, ids)
            for s, ids in committed.items()
            if (g := self.store.load(s)) is None or g.fingerprint != fingerprint(ids)
        ]
        started = time.perf_counter()
        for n, (source, ids) in enumerate(sorted(todo), start=1):
            if progress:
                print(f"\rsource guides: {n}/{len(todo)}", end="", file=sys.stderr, flush=True)
            try:
                self.build(source, ids)
            except Exception as err:  # noqa: BLE001 -- one line naming the source; the index and other guides stand
                print(
                    f"\nerror: {source}: no source guide ({type(err).__name__}: {one_line(str(err))})",
                    file=sys.stderr,
                    flush=True,
                )
        if progress and todo:
            print(
                f"\rsource guides: {len(todo)} built in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        return len(todo)

    def guide(self, source: str, script: str | None = None) -> Guide:
        """The guide of an indexed source (built now if it is missing or stale), in `script`."""
        committed = self.notebook.chunk_index.committed()
        if source not in committed:
            from rag.errors import NotebookError

            raise NotebookError(f"{source}: not an indexed source of this notebook")
        guide = self.store.load(source)
        if guide is None or guide.fingerprint != fingerprint(committed[source]):
            guide = self.build(source, committed[source])
        return guide.in_script(script)

    def all(self, script: str | None = None, sources: Iterable[str] | None = None, build: bool = True) -> list[Guide]:
        """The guides of the given sources (None: every source), by source name; without `build`, only those
        already built and in step (a page load never waits for a large notebook's guides)."""
        committed = self.notebook.chunk_index.committed()
        wanted = sorted(committed if sources is None else [s for s in sources if s in committed])
        if build:
            return [self.guide(s, script) for s in wanted]
        kept = [(s, self.store.load(s)) for s in wanted]
        return [g.in_script(script) for s, g in kept if g is not None and g.fingerprint == fingerprint(committed[s])]

    def overview(self, script: str | None = None, build: bool = True) -> Overview:
        return overview(self.all(script, build=build))

    def summary_answer(self, question: str, sources: list[str] | None, script: str):
        """The Answer to a summary request (「總結…」, "Summarize the X interview"): the scoped or named
        documents' guide summaries, cited; None when `question` asks no summary."""
        from rag.types import Answer, Hit

        if not is_summary_request(question):
            return None
        try:
            guides = self.all(None, sources)
        except Exception:  # the question is searched as any other instead
            logging.getLogger(__name__).exception("no source guides for a summary of %s", sources or "the notebook")
            return None
        if not sources:
            named = named_sources(question, guides, self._idf)
            if len(named) != 1:  # no title named, or several alike: the one holding the request's rare words
                named = self._mentioned_source(question) or named
            guides = [g for g in guides if g.source in named] or guides
        pieces, citations, hits = [], [], []
        chinese = script != "en"
        for n, g in enumerate([g for g in guides if g.sentences], start=1):
            shown = g.in_script(script if chinese else None)
            if len(guides) > 1:
                pieces.append(("\n" if pieces else "") + (f"{shown.title}：" if chinese else f"{shown.title}: "))
            for sentence, citation in zip(shown.sentences, g.citations):
                pieces.append(f"{sentence} [{n}]" + ("" if chinese else " "))
                citations.append(Citation(n, citation.chunk_id, citation.source, citation.title, citation.quote,
                                          citation.section, citation.start, citation.end, citation.page, citation.name))  # fmt: skip
            ids = list(dict.fromkeys(c.chunk_id for c in g.citations))
            hits += [Hit.from_stored(c) for c in self.notebook.chunk_index.get(ids)]
        if not citations:
            return None
        text = "".join(pieces).strip()
        answer = Answer(text=text, refused=False, citations=citations, script=script, hits=hits, backend="guide")
        answer.suggestions = self._questions(guides, [question], script)
        return answer

    def _mentioned_source(self, question: str) -> list[str]:
        """The one source that alone writes the request's words when its title does not name it ("What is the
        Longbridge post about?"); [] when no word of the request belongs to a single source, or they point at several."""
        if _ALL_DOCUMENTS.search(question):
            return []
        index = self.notebook.chunk_index
        asking = set(keyword_tokens(_ASKING_WORDS)) | set(keyword_tokens(_ASKING_WORDS, for_query=True))
        found: set[str] = set()
        for term in keyword_tokens(question, for_query=True):
            if term in asking or not index.keywords.knows(term):
                continue
            sources = index.store.sources_of([i for i, _ in index.keywords.search([term], 200)])
            if len(sources) == 1:
                found |= sources
        return sorted(found) if len(found) == 1 else []

    def _questions(self, guides: list[Guide], asked: list[str], script: str, n: int = 3) -> list[str]:
        seen = {"".join(q.split()).lower() for q in asked}
        out: list[str] = []
        for rank in range(QUESTIONS):
            for g in guides:
                if rank < len(g.questions):
                    q = g.in_script(script if script != "en" else None).questions[rank]
                    if "".join(q.split()).lower() not in seen and q not in out:
                        out.append(q)
        return out[:n]

    def suggestions(self, answer, question: str, history=None) -> list[str]:
        """Follow-up questions after an answer: the cited documents' guide questions (the retrieved ones' when it
        cites none), none already asked in the conversation."""
        from rag.answer import history_pairs

        cited = list(dict.fromkeys([c.source for c in answer.citations] or [h.source for h in answer.hits[:2]]))
        committed = self.notebook.chunk_index.committed()
        try:
            guides = [self.guide(s) for s in cited if s in committed]
        except Exception:  # an answer without suggestions rather than no answer
            logging.getLogger(__name__).exception("no source guide for %s", cited)
            return []
        asked = [question, answer.rewritten_query or ""] + [q for q, _ in history_pairs(history)]
        return self._questions(guides, asked, answer.script)
