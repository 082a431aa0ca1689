"""HTML for the page: cited passages, search hits, and a cited passage shown highlighted in its document."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import Document, IngestError
from rag.index.extracted import StoredText
from rag.types import PARTIAL, Answer, Citation, Hit
from ui.labels import labels
from ui.page_image import page_figure

WINDOW_CHARS = 1500  # document text shown on each side of a cited passage


def cite_link(key: str, text: str) -> str:
    """A link the page's script turns into "open this in the source panel" (see ui/app.py SCRIPT)."""
    return f"<a class='cite' href='#{html.escape(key)}'>{html.escape(text)}</a>"


def _meta(
    source: str,
    section: str = "",
    date: str | None = None,
    score: float | None = None,
    lang: str = "en",
    page: int | None = None,
) -> str:
    L = labels(lang)
    parts = [html.escape(source)]
    if page is not None:
        parts.append(html.escape(L["page"].format(page=page)))
    if section:
        parts.append(html.escape(section))
    if date:
        parts.append(html.escape(date))
    if score is not None:
        parts.append(f"<span class='score'>{L['score']} {score:.4f}</span>")
    return f"<div class='meta'>{' · '.join(parts)}</div>"


def _mark_quotes(text: str, quotes: list[str]) -> str:
    body = html.escape(text)
    for quote in quotes:
        q = html.escape(quote)
        if q and f"<mark>{q}</mark>" not in body:
            body = body.replace(q, f"<mark>{q}</mark>", 1)
    return body


def passages_html(answer: Answer | None, turn: int | None = None, show_scores: bool = False, lang: str = "en") -> str:
    """The cited passages: number, title, file and the passage text with the quoted sentences marked."""
    if answer is None:
        return ""
    L = labels(lang)
    notes = answer_notes_html(answer, lang)
    if not answer.citations:
        return f"{notes}<p class='meta'>{L['no_passages']}</p>"
    by_n: dict[int, list[Citation]] = {}
    for c in answer.citations:
        by_n.setdefault(c.n, []).append(c)
    hits = {h.chunk_id: h for h in answer.hits}
    parts = []
    for n, cites in sorted(by_n.items()):
        first = cites[0]
        hit = hits.get(first.chunk_id)
        body = _mark_quotes(hit.text if hit else first.quote, [c.quote for c in cites])
        meta = _meta(
            first.name or first.source,
            first.section,
            hit.date if hit else None,
            hit.score if hit and show_scores else None,
            lang,
            first.page if first.page is not None else hit.page if hit else None,
        )
        link = f" {cite_link(f'cite:{turn}:{n}', L['open'])}" if turn is not None else ""
        parts.append(
            f"<div class='passage' id='cite-{n}'><b>[{n}] {html.escape(first.title)}</b>{link}{meta}<div>{body}</div></div>"
        )
    return notes + "".join(parts)


def answer_notes_html(answer: Answer, lang: str = "en") -> str:
    """Above the passages: that they are the closest passages, not an answer (a partial answer); the query actually
    searched when a follow-up was rewritten; and the generated claims that failed verification, struck through and
    flagged so they are never read as cited facts."""
    L = labels(lang)
    out = []
    if answer.status == PARTIAL:
        out.append(f"<p class='meta partial' data-status='partial'>{html.escape(L['partial'])}</p>")
    if answer.rewritten_query:
        out.append(f"<p class='meta rewritten'>{html.escape(L['rewritten'])}{html.escape(answer.rewritten_query)}</p>")
    if answer.unsupported:
        items = "".join(f"<li><del>⚠ {html.escape(claim)}</del></li>" for claim in answer.unsupported)
        out.append(f"<div class='unsupported'><b>{html.escape(L['unsupported'])}</b><ul>{items}</ul></div>")
    return "".join(out)


def guide_html(overview, lang: str = "en") -> str:
    """The notebook guide: each source's title, summary (cited sentences, as text) and key terms."""
    L = labels(lang)
    if overview is None or not overview.guides:
        return f"<p class='meta'>{html.escape(L['guide_empty'])}</p>"
    parts = []
    for g in overview.guides:
        terms = f"<div class='meta'>{html.escape(L['guide_terms'])}{html.escape('、'.join(g.terms) if lang != 'en' else ', '.join(g.terms))}</div>"
        parts.append(
            f"<div class='guide'><b>{html.escape(g.title or g.name or g.source)}</b>"
            f"<div class='meta'>{html.escape(g.name or g.source)}</div><div>{html.escape(g.summary)}</div>{terms}</div>"
        )
    return "".join(parts)


def hits_html(hits: list[Hit], turn: int | None = None, show_scores: bool = False, lang: str = "en") -> str:
    """Search results: title, file, section, score and text of each passage."""
    L = labels(lang)
    if not hits:
        return f"<p class='meta'>{L['no_hits']}</p>"
    parts = []
    for i, hit in enumerate(hits):
        meta = _meta(hit.name or hit.source, hit.section, hit.date, hit.score if show_scores else None, lang, hit.page)
        link = f" {cite_link(f'hit:{turn}:{i}', L['open'])}" if turn is not None else ""
        parts.append(
            f"<div class='passage hit'><b>{i + 1}. {html.escape(hit.title)}</b>{link}{meta}"
            f"<div>{html.escape(hit.text)}</div></div>"
        )
    return "".join(parts)


@dataclass
class Span:
    """A passage to show in its document: character offsets in the file's text and the text expected there."""

    start: int
    end: int
    text: str


def _locate(doc_text: str, span: Span, near: int = 0) -> tuple[int, int] | None:
    """Where a span is in the document now: at its offsets when unchanged, else found by its text."""
    if doc_text[span.start : span.end] == span.text:
        return span.start, span.end
    at = doc_text.find(span.text, max(0, near - WINDOW_CHARS))
    if at < 0:
        at = doc_text.find(span.text)
    return (at, at + len(span.text)) if at >= 0 and span.text else None


def _window(text: str, start: int, end: int, bounds: tuple[int, int] | None = None) -> tuple[int, int]:
    """About WINDOW_CHARS either side of [start, end), widened to whole lines when a line end is close, and never
    beyond `bounds` (the cited page of a PDF)."""
    first, last = bounds or (0, len(text))
    lo, hi = max(first, start - WINDOW_CHARS), min(last, end + WINDOW_CHARS)
    if lo > first:
        nl = text.find("\n", lo, start)
        lo = nl + 1 if 0 <= nl and nl - lo < 300 else lo
    if hi < last:
        nl = text.rfind("\n", end, hi)
        hi = nl if nl >= 0 and hi - nl < 300 else hi
    return lo, hi


def _bounds(marks: list[tuple[int, object]], key: object, length: int) -> tuple[int, int] | None:
    """Where the part of a document's text that a marker names starts and ends (the next marker): a PDF's page
    from doc.pages, or a DOCX/HTML/EPUB section from doc.headings; None when no marker has that key."""
    starts = [offset for offset, name in marks if name == key]
    if key is None or key == "" or not starts:
        return None
    after = [offset for offset, _ in marks if offset > starts[0]]
    return starts[0], after[0] if after else length


def source_html(
    path: Path,
    source: str,
    title: str,
    spans: list[Span],
    date: str | None = None,
    section: str = "",
    lang: str = "en",
    page: int | None = None,
    *,
    read: Callable[[], Document | StoredText],
    boxes: list[tuple[float, float, float, float]] | None = None,
) -> str:
    """The document around the cited spans (within the cited page of a PDF or section of a DOCX, page or e-book),
    spans in <mark>, with its title, file, page, section and date above. `read` gives the document: the notebook's
    Notebook.document (the text the indexer kept, else the file read with the notebook's limits). For a PDF or an
    image, the page itself at `path` beside the text with the cited lines (`boxes`, page coordinates) framed."""
    L = labels(lang)
    note = ""
    doc_text: str | None = None
    bounds = None
    try:
        doc = read()
        doc_text, date = doc.text, date or doc.date
        title = title or doc.title
        # The cited page of a PDF, else the cited section of a document whose reader marked its headings.
        bounds = _bounds(doc.pages, page, len(doc.text)) or _bounds(doc.headings, section, len(doc.text))
    except IngestError:
        note = L["file_missing"].format(file=source)
    found = [_locate(doc_text, s, spans[0].start) for s in spans] if doc_text is not None else []
    located = sorted({f for f in found if f})
    if doc_text is not None and not located:
        note = L["file_changed"].format(file=source)
    if not located:  # show the indexed text itself
        doc_text, bounds = "\n\n".join(dict.fromkeys(s.text for s in spans)), None
        located = sorted({(doc_text.find(s.text), doc_text.find(s.text) + len(s.text)) for s in spans})
    if bounds is not None and not bounds[0] <= located[0][0] < bounds[1]:
        bounds = None  # the quote is not on that page or in that section (the file changed): show around it
    lo, hi = _window(doc_text, located[0][0], located[-1][1], bounds)
    pieces, pos = [], lo
    for a, b in located:
        a = max(a, pos)  # overlapping spans: mark the rest only
        if a >= b:
            continue
        pieces.append(html.escape(doc_text[pos:a]))
        pieces.append(f"<mark>{html.escape(doc_text[a:b])}</mark>")
        pos = b
    pieces.append(html.escape(doc_text[pos:hi]))
    body = ("…" if lo > 0 else "") + "".join(pieces) + ("…" if hi < len(doc_text) else "")
    rows = [f"<b>{L['file']}</b> {html.escape(source)}"]
    if date:
        rows.append(f"<b>{L['date']}</b> {html.escape(date)}")
    if page is not None:
        rows.append(html.escape(L["page"].format(page=page)))
    if section:
        rows.append(f"<b>{L['section']}</b> {html.escape(section)}")
    note_html = f"<p class='note'>{html.escape(note)}</p>" if note else ""
    figure = page_figure(path, page, boxes or []) if doc_text is not None and not note else ""
    text_html = f"<div class='doc-text'>{body}</div>"
    return (
        f"<div class='source-doc'><h4>{html.escape(title)}</h4><div class='meta'>{' · '.join(rows)}</div>"
        f"{note_html}" + (f"<div class='page-and-text'>{figure}{text_html}</div>" if figure else text_html) + "</div>"
    )


def message_html(text: str) -> str:
    """A short note for a panel (escaped)."""
    return f"<p class='meta'>{html.escape(text)}</p>"


def report_text(report, lang: str = "en") -> str:
    """An index report in the UI language, one line per file that could not be read."""
    L = labels(lang)
    line = "✓ " + L["report"].format(
        added=report.added,
        updated=report.updated,
        removed=report.removed,
        unchanged=report.unchanged,
        chunks=report.chunks,
        embedded=report.embedded,
    )
    return line + "".join(f"  \n✗ {e}" for e in report.errors)
