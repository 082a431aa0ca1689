"""Chinese-aware recursive splitter: sections (headings, dated posts, a reader's headings and pages), then paragraphs →
lines → sentences → clauses."""

from __future__ import annotations

import datetime as _dt
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ingest.documents import Chunk, Document
from rag.text.sentences import ABBREVIATIONS, CJK_CHARS, SENTENCE_END, is_sentence_end

# Split levels, coarse to fine.
PARAGRAPH, LINE, SENTENCE, CLAUSE, COMMA, SPACE, HARD = range(7)

_CJK_RE = CJK_CHARS


@dataclass
class Section:
    """A heading or dated post and the text under it: doc.text[start:end] (heading line included)."""

    start: int
    end: int
    label: str  # "" for text before the first heading / documents without headings
    date: str | None = None  # ISO date of the dated post it belongs to
    title: str | None = None  # the dated post's own title (its chunks cite it rather than the file's title)
    page: int | None = None  # 1-based page it is on (documents with pages: sections are cut at page starts)


@dataclass
class _Piece:
    start: int
    end: int
    tokens: int  # count of the stripped text, minus the count of ""


@dataclass
class _Line:
    start: int  # offset of the line in doc.text
    text: str  # without its "\n"

    @property
    def stripped(self) -> str:
        return self.text.strip()


class Chunker:
    """Split a Document into Chunks of at most max_tokens (never more than hard_max_tokens) tokens, measured
    with count_tokens, each overlapping the previous one in its section by up to overlap_tokens of whole
    sentences. Subclass and override the class attributes or the section_* / cut_points methods to adapt."""

    heading_max_chars = 40
    post_title_max_chars = 80
    section_sep = " · "  # between a dated post's date line and its title
    subsection_sep = " › "  # between a dated post's label and a heading inside it

    md_heading_re = re.compile(r"^[ ]{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
    fence_re = re.compile(r"^[ ]{0,3}(```|~~~)")
    date_line_re = re.compile(r"^\s*(\d{4})年(\d{1,2})月(\d{1,2})日(.*)$")
    list_item_re = re.compile(r"^\s*(?:[-*+•·▪●○◦‣]\s|\d{1,3}[.)、．]|[(（]\d{1,3}[)）]|[A-Za-z][.)]\s)")
    heading_bad_re = re.compile(r"[。！？!?：:，,]|\.(?:\s|$)")
    annotation_re = re.compile(r"^[\[（(【<].*[\]）)】>]$|^https?://|^<")

    paragraph_re = re.compile(r"\n(?:[^\S\n]*\n)+")
    sentence_re = SENTENCE_END  # the one sentence rule (rag.text.sentences), shared with the answerers
    clause_re = re.compile(rf"[；：][^\S\n]*|[;:](?:[^\S\n]+|(?=[{_CJK_RE}]))|(?<=[{_CJK_RE}])[;:][^\S\n]*")
    comma_re = re.compile(rf"[，、][^\S\n]*|,(?:[^\S\n]+|(?=[{_CJK_RE}]))|(?<=[{_CJK_RE}]),[^\S\n]*")
    space_re = re.compile(r"\s+")
    abbreviations = ABBREVIATIONS
    # No token spans more characters than this (sentencepiece pieces stay under ~16): longer segments cannot fit.
    max_chars_per_token = 32

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        max_tokens: int = 256,
        overlap_tokens: int = 48,
        hard_max_tokens: int | None = None,
    ):
        if max_tokens < 1:
            raise ValueError("max_tokens must be positive")
        if not 0 <= overlap_tokens < max_tokens:
            raise ValueError("overlap_tokens must be in [0, max_tokens)")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.hard_max_tokens = max_tokens if hard_max_tokens is None else hard_max_tokens
        if self.hard_max_tokens < max_tokens:
            raise ValueError("hard_max_tokens must be >= max_tokens")
        # What count_tokens charges for nothing (e.g. [CLS] + [SEP]): subtracted per piece when summing.
        self._base = count_tokens("")
        self._cache: dict[str, int] = {}

    # ------------------------------------------------------------------ public

    def split(self, doc: Document, limit: int | None = None) -> list[Chunk]:
        """The chunks of doc's body, in order, ordinal 0..n-1; with `limit`, splitting stops at the first section
        that takes the count past it (the caller refuses such a file without chunking all of it)."""
        self._cache = {}  # per document: keeps memory bounded
        chunks: list[Chunk] = []
        for section in self.paged(doc, self.sections(doc)):
            if limit is not None and len(chunks) > limit:
                break
            for start, end in self.split_section(doc.text, section.start, section.end):
                chunks.append(
                    Chunk(
                        source=doc.source,
                        title=section.title or doc.title,
                        section=section.label,
                        text=doc.text[start:end],
                        start=start,
                        end=end,
                        ordinal=len(chunks),
                        date=section.date or doc.date,
                        page=section.page,
                    )
                )
        return chunks

    @staticmethod
    def paged(doc: Document, sections: list[Section]) -> list[Section]:
        """The sections cut at every page start inside them, each labelled with its page: a chunk never spans two
        pages, so its citation names one."""
        if not doc.pages:
            return sections
        starts = [offset for offset, _ in doc.pages]
        out: list[Section] = []
        for sec in sections:
            cuts = [sec.start] + [o for o in starts if sec.start < o < sec.end] + [sec.end]
            for a, b in itertools.pairwise(cuts):
                if doc.text[a:b].strip():
                    out.append(Section(a, b, sec.label, sec.date, sec.title, doc.page_at(a)))
        return out

    # ---------------------------------------------------------------- sections

    def sections(self, doc: Document) -> list[Section]:
        """Split the body into sections at markdown headings, dated-post lines and short standalone
        heading lines. Covers doc.text[doc.body_start:] contiguously; heading-only sections are folded
        into the next one."""
        if doc.headings:
            return self.marked_sections(doc)
        text = doc.text
        lines: list[_Line] = []
        pos = doc.body_start
        for raw in text[doc.body_start :].split("\n"):
            lines.append(_Line(pos, raw))
            pos += len(raw) + 1

        # (line index, label, date, is a dated post, the post's title)
        starts: list[tuple[int, str, str | None, bool, str | None]] = []
        post_label: str | None = None
        post_date: str | None = None
        post_title: str | None = None
        in_fence = False
        skip_to = -1
        for i, line in enumerate(lines):
            if self.fence_re.match(line.text):
                in_fence = not in_fence
                continue
            if in_fence or i <= skip_to:
                continue
            stripped = line.stripped
            if not stripped:
                continue
            date = self.section_date(stripped)
            if date is not None:
                title_idx = self._next_nonblank(lines, i + 1)
                label, post_title = stripped, None
                if title_idx is not None:
                    title = lines[title_idx].stripped
                    if self.section_date(title) is None and not self.md_heading_re.match(lines[title_idx].text):
                        post_title = self._trim(title, self.post_title_max_chars)
                        label = f"{stripped}{self.section_sep}{post_title}"
                        skip_to = title_idx  # the post's title line is not a heading of its own
                post_label, post_date = label, date
                starts.append((i, label, date, True, post_title))
                continue
            heading = self.section_heading(lines, i)
            if heading is not None:
                md_date = self.section_date(heading)
                if md_date is not None:  # "## 2025年1月2日 …": a dated post written as a heading
                    post_label, post_date, post_title = heading, md_date, None
                    starts.append((i, heading, md_date, True, None))
                elif post_label is not None:
                    starts.append((i, f"{post_label}{self.subsection_sep}{heading}", post_date, False, post_title))
                else:
                    starts.append((i, heading, None, False, None))

        body_end = len(text)
        first = lines[starts[0][0]].start if starts else body_end
        bounds: list[tuple[Section, int | None]] = []  # (section, end of its heading line unless a post)
        if text[doc.body_start : first].strip():
            bounds.append((Section(doc.body_start, first, ""), None))
        for k, (i, label, date, is_post, title) in enumerate(starts):
            sec_start = lines[i].start if k or bounds else doc.body_start
            sec_end = lines[starts[k + 1][0]].start if k + 1 < len(starts) else body_end
            head_end = None if is_post else lines[i].start + len(lines[i].text)
            bounds.append((Section(sec_start, sec_end, label, date, title), head_end))

        # Fold a heading with nothing under it into the next section (not a dated post: its title is content).
        out: list[Section] = []
        carry: int | None = None
        for k, (sec, head_end) in enumerate(bounds):
            if carry is not None:
                sec.start, carry = carry, None
            if head_end is not None and k + 1 < len(bounds) and not text[head_end : sec.end].strip():
                carry = sec.start
                continue
            out.append(sec)
        return out

    @staticmethod
    def marked_sections(doc: Document) -> list[Section]:
        """Sections from the headings a reader recorded (DOCX styles, HTML h1-h6, EPUB chapters): each runs from
        its heading to the next, labelled with its heading path; text before the first heading has label ""."""
        text, out = doc.text, []
        marks = [(o, label) for o, label in doc.headings if o >= doc.body_start]
        if not marks or text[doc.body_start : marks[0][0]].strip():
            out.append(Section(doc.body_start, marks[0][0] if marks else len(text), ""))
        for k, (offset, label) in enumerate(marks):
            end = marks[k + 1][0] if k + 1 < len(marks) else len(text)
            if end > offset:
                out.append(Section(offset, end, label))
        if out:
            out[0].start = doc.body_start
        return out

    def section_date(self, line: str) -> str | None:
        """ISO date if line is a dated-post line such as "2025年11月26日 星期三" (short, no sentence after)."""
        m = self.date_line_re.match(line)
        if not m:
            return None
        rest = m.group(4).strip()
        if len(rest) > 20 or re.search(r"[。！？!?，,：:；;]", rest):
            return None
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            return None

    def section_heading(self, lines: list[_Line], i: int) -> str | None:
        """The heading text if lines[i] is a markdown heading or a short standalone heading line."""
        line = lines[i]
        m = self.md_heading_re.match(line.text)
        if m:
            return m.group(2).strip() or None
        s = line.stripped
        if len(s) > self.heading_max_chars:
            return None
        # A paragraph of one line, after a blank line.
        if i == 0 or lines[i - 1].stripped or (i + 1 < len(lines) and lines[i + 1].stripped):
            return None
        if self.heading_bad_re.search(s) or self.list_item_re.match(line.text) or self.annotation_re.search(s):
            return None
        if s.startswith("|") or not any(ch.isalnum() for ch in s):
            return None
        # Followed by a longer paragraph.
        j = self._next_nonblank(lines, i + 1)
        if j is None or self.md_heading_re.match(lines[j].text) or self.section_date(lines[j].stripped):
            return None
        para = []
        while j < len(lines) and lines[j].stripped:
            para.append(lines[j].stripped)
            j += 1
        if len(para) == 1 and len(para[0]) < max(2 * len(s), 20):
            return None
        return s

    @staticmethod
    def _next_nonblank(lines: list[_Line], i: int) -> int | None:
        while i < len(lines):
            if lines[i].stripped:
                return i
            i += 1
        return None

    @staticmethod
    def _trim(s: str, n: int) -> str:
        return s if len(s) <= n else s[: n - 1].rstrip() + "…"

    # ------------------------------------------------------------- splitting

    def tokens(self, text: str) -> int:
        """count_tokens of the stripped text minus the empty-string baseline, cached."""
        s = text.strip()
        n = self._cache.get(s)
        if n is None:
            n = self.count_tokens(s) - self._base
            self._cache[s] = n
        return n

    def cut_points(self, text: str, start: int, end: int, level: int) -> list[int]:
        """Offsets strictly inside (start, end) where text[start:end] may be cut at this level; the
        separator stays with the left piece."""
        seg = text[start:end]
        if level == PARAGRAPH:
            cuts = [m.end() for m in self.paragraph_re.finditer(seg)]
        elif level == LINE:
            cuts = [m.end() for m in re.finditer("\n", seg) if not self._is_wrap(seg, m.start())]
        elif level == SENTENCE:
            cuts = [m.end() for m in self.sentence_re.finditer(seg) if self._is_sentence_end(seg, m)]
        elif level == CLAUSE:
            cuts = [m.end() for m in self.clause_re.finditer(seg)]
        elif level == COMMA:
            cuts = [m.end() for m in self.comma_re.finditer(seg)]
        elif level == SPACE:
            cuts = [m.end() for m in self.space_re.finditer(seg)]
        else:
            return []
        return [start + c for c in cuts if 0 < c < len(seg)]

    @staticmethod
    def _is_wrap(seg: str, i: int) -> bool:
        """A newline that only hard-wraps an English sentence (letter/comma before, lowercase after)."""
        j = i - 1
        while j >= 0 and seg[j] in " \t":
            j -= 1
        k = i + 1
        while k < len(seg) and seg[k] in " \t":
            k += 1
        return (
            j >= 0
            and k < len(seg)
            and (seg[j].isascii() and (seg[j].isalpha() or seg[j] in ",-"))
            and (seg[k].isascii() and seg[k].islower())
        )

    def _is_sentence_end(self, seg: str, m: re.Match[str]) -> bool:
        return is_sentence_end(seg, m, self.abbreviations)

    def atomize(self, text: str, start: int, end: int, level: int = PARAGRAPH) -> list[_Piece]:
        """Pieces of text[start:end], each within hard_max_tokens, cut at the coarsest level that makes
        them fit (a piece that fits is never cut). Whitespace-only pieces are dropped."""
        out: list[_Piece] = []
        self._atomize(text, start, end, level, out)
        return out

    def _atomize(self, text: str, start: int, end: int, level: int, out: list[_Piece]) -> None:
        seg = text[start:end]
        if not seg.strip():
            return
        # A segment far longer than any that fits is not counted: tokenizing megabytes to learn they do not fit
        # would cost as much as the whole split (and its pieces are counted anyway).
        if len(seg) <= self.hard_max_tokens * self.max_chars_per_token:
            n = self.tokens(seg)
            if n + self._base <= self.hard_max_tokens:
                out.append(_Piece(start, end, n))
                return
        while level < HARD:
            cuts = self.cut_points(text, start, end, level)
            if cuts:
                prev = start
                for c in [*cuts, end]:
                    self._atomize(text, prev, c, level + 1, out)
                    prev = c
                return
            level += 1
        self._hard_cut(text, start, end, out)

    def _hard_cut(self, text: str, start: int, end: int, out: list[_Piece]) -> None:
        """Last resort for an unbroken string: the longest prefixes that fit.

        Only windows about a chunk long are counted, never the rest of the string, so this is linear in its
        length. Each cut is searched by interpolation (token counts grow about linearly with length, so two or
        three counts land on the limit), falling back to bisection where the counts are uneven.
        """
        limit = self.hard_max_tokens + self._base
        guess = max(2, self.hard_max_tokens)  # about a chunk: most tokenizers spend a token per char or more
        slack = self.hard_max_tokens // 64
        while start < end:
            remaining = end - start
            lo, lo_count = 1, None  # the longest prefix known to fit (lo == 1 may not: a cut is never empty)
            hi, hi_count = remaining + 1, None  # the shortest prefix known not to fit
            n, step = min(guess, remaining), 0
            while hi - lo > 1:
                count = self.count_tokens(text[start : start + n].strip())
                if count <= limit:
                    lo, lo_count = n, count
                    if n == remaining or count >= limit - slack:
                        break  # all of it fits, or the piece is within a percent or two of the limit: near enough
                else:
                    hi, hi_count = n, count
                step += 1
                if hi_count is None:  # everything counted fits: extrapolate to the limit, then keep doubling
                    aim = lo * limit // max(lo_count or 1, 1) + 1 if step < 3 else 2 * lo
                    n = min(remaining, max(aim, lo + 1))
                elif lo_count is not None and step < 4:
                    n = lo + (limit - lo_count) * (hi - lo) // max(hi_count - lo_count, 1)
                else:
                    n = (lo + hi) // 2
                n = min(max(n, lo + 1), hi - 1)
            cut = lo
            while cut < remaining and text[start + cut].isspace():
                cut += 1  # trailing whitespace is stripped, so free: never leave it to a piece of its own
            if cut == remaining:
                out.append(_Piece(start, end, self.tokens(text[start:end])))
                return
            # Don't separate a combining mark, variation selector or joiner from its base character.
            while cut > 1 and (unicodedata.combining(text[start + cut]) or text[start + cut] in "\u200d\ufe0f\ufe0e"):
                cut -= 1
            tokens = (
                lo_count - self._base if cut >= lo and lo_count is not None else self.tokens(text[start : start + cut])
            )
            out.append(_Piece(start, start + cut, tokens))
            start += cut
            guess = cut  # the next window of the same kind of text cuts about as long

    def split_section(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """(start, end) spans of the chunks of text[start:end]: pieces merged greedily up to max_tokens,
        each chunk after the first starting with the last whole sentences of the previous one."""
        pieces = self.atomize(text, start, end)
        spans: list[tuple[int, int]] = []
        i = 0
        prev: tuple[int, int] | None = None  # piece indexes of the previous chunk (its overlap excluded)
        while i < len(pieces):
            overlap = self._overlap(text, pieces[prev[0] : prev[1]]) if prev else []
            ov_tokens = sum(u.tokens for u in overlap)
            # Drop overlap sentences from the front until the first new piece fits beside them.
            while overlap and self._base + ov_tokens + pieces[i].tokens > self.max_tokens:
                ov_tokens -= overlap.pop(0).tokens
            total = self._base + ov_tokens + pieces[i].tokens
            j = i + 1
            while j < len(pieces) and total + pieces[j].tokens <= self.max_tokens:
                total += pieces[j].tokens
                j += 1
            # Verify with one real count: summed counts can underestimate.
            while True:
                cstart = overlap[0].start if overlap else pieces[i].start
                s, e = self._trim_span(text, cstart, pieces[j - 1].end)
                limit = self.max_tokens if (j - i > 1 or overlap) else self.hard_max_tokens
                if j - i == 1 and not overlap:
                    break  # a single piece: measured exactly when it was cut
                if self.count_tokens(text[s:e]) <= limit:
                    break
                if j - i > 1:
                    j -= 1
                else:
                    ov_tokens -= overlap.pop(0).tokens
            spans.append((s, e))
            prev = (i, j)
            i = j
        return spans

    def _overlap(self, text: str, prev: list[_Piece]) -> list[_Piece]:
        """The trailing whole sentences (or pieces) of the previous chunk's pieces that fit in overlap_tokens."""
        if self.overlap_tokens <= 0 or not prev:
            return []
        pstart, pend = prev[0].start, prev[-1].end
        # Unit boundaries: piece boundaries plus paragraph, line and sentence ends inside the pieces.
        bounds = {p.start for p in prev} | {pend}
        for level in (PARAGRAPH, LINE, SENTENCE):
            bounds.update(self.cut_points(text, pstart, pend, level))
        edges = sorted(bounds)
        units: list[_Piece] = []
        used = 0
        for a, b in zip(reversed(edges[:-1]), reversed(edges[1:])):
            if not text[a:b].strip():
                continue
            if a <= pstart:
                break  # never repeat the whole previous chunk
            n = self.tokens(text[a:b])
            if used + n > self.overlap_tokens:
                break
            used += n
            units.insert(0, _Piece(a, b, n))
        return units

    @staticmethod
    def _trim_span(text: str, start: int, end: int) -> tuple[int, int]:
        seg = text[start:end]
        left = len(seg) - len(seg.lstrip())
        right = len(seg.rstrip())
        return start + left, start + right
