"""`make bench-extraction`: extraction speed (pages/s) and characters extracted per format on a 50-page mixed-language
document (DRCD zh-Hant, CMRC 2018 zh-Hans and XQuAD English passages) as PDF, DOCX, HTML, EPUB and Markdown, how many of
its paragraphs come back exactly, and the time to index the PDF with the real notebook."""

from __future__ import annotations

import argparse
import html
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ingest.loaders import load_document
from ingest.readers.base import Limits, normalise
from rag.offline import go_offline

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
PAGES = 50
# What fits on an A4 page at 10 pt with a heading: about this many characters of Chinese / of English.
PAGE_CHARS = {"zh-Hant": 1100, "zh-Hans": 1100, "en": 2600}
FONTS = {"zh-Hant": "MSung-Light", "zh-Hans": "STSong-Light", "en": "Helvetica"}
ATTRIBUTION = (
    "The benchmark document is derived from DRCD (Shao et al. 2018, arXiv:1806.00920, Delta Research Center; CC BY-SA "
    "3.0), CMRC 2018 (Cui et al., EMNLP-IJCNLP 2019, D19-1600; CC BY-SA 4.0) and XQuAD (Artetxe, Ruder, Yogatama 2019, "
    "arXiv:1910.11856; CC BY-SA 4.0), all from Wikipedia; see ../shared/data/SOURCES.md. It is built at run time and "
    "not kept."
)


def _articles(path: Path) -> list[tuple[str, list[str]]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [(a.get("title", ""), [p["context"] for p in a["paragraphs"]]) for a in data]


def pages(data: Path, count: int = PAGES) -> list[tuple[str, str, list[str]]]:
    """`count` pages of (language, heading, paragraphs), rotating zh-Hant, zh-Hans and English articles."""
    sources = {
        "zh-Hant": _articles(data / "drcd" / "DRCD_dev.json"),
        "zh-Hans": _articles(data / "cmrc2018" / "squad-style-data" / "cmrc2018_dev.json"),
        "en": _articles(data / "xquad" / "xquad.en.json"),
    }
    out = []
    for i in range(count):
        lang = ("zh-Hant", "zh-Hans", "en")[i % 3]
        title, paragraphs = sources[lang][i // 3]
        kept, size = [], 0
        for p in paragraphs:
            if kept and size + len(p) > PAGE_CHARS[lang]:
                break
            kept.append(p[: PAGE_CHARS[lang]])
            size += len(kept[-1])
        out.append((lang, title.replace("_", " "), kept))
    return out


def build_pdf(doc_pages, path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    for font in ("MSung-Light", "STSong-Light"):
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    story = []
    for lang, title, paragraphs in doc_pages:
        cjk = lang != "en"
        body = ParagraphStyle(
            lang, fontName=FONTS[lang], fontSize=10, leading=14, spaceAfter=6, wordWrap="CJK" if cjk else None
        )
        head = ParagraphStyle(f"{lang}-h", parent=body, fontSize=14, leading=18, spaceAfter=10)
        story.append(Paragraph(html.escape(title), head))
        story += [Paragraph(html.escape(p), body) for p in paragraphs]
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4, title="Mixed-language reader (DRCD, CMRC 2018, XQuAD)").build(story[:-1])


def build_docx(doc_pages, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Mixed-language reader (DRCD, CMRC 2018, XQuAD)"
    for _, title, paragraphs in doc_pages:
        document.add_heading(title, 1)
        for p in paragraphs:
            document.add_paragraph(p)
    document.save(str(path))


def build_html(doc_pages, path: Path) -> None:
    article = "".join(
        f"<h2>{html.escape(t)}</h2>" + "".join(f"<p>{html.escape(p)}</p>" for p in ps) for _, t, ps in doc_pages
    )
    nav = "<nav><ul>" + "".join(f"<li><a href='#{i}'>Section {i}</a></li>" for i in range(20)) + "</ul></nav>"
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Mixed-language reader</title>"
        f"<script>var t = 1;</script></head><body><header>{nav}</header><main><article><h1>Mixed-language reader</h1>"
        f"{article}</article></main><footer><p>Copyright. All rights reserved.</p></footer></body></html>",
        encoding="utf-8",
    )


def build_epub(doc_pages, path: Path) -> None:
    import sys

    sys.path.insert(0, str(REPO))
    from tests.ingest.readers.builders import epub_bytes

    chapters = [
        (html.escape(t), f"<h1>{html.escape(t)}</h1>" + "".join(f"<p>{html.escape(p)}</p>" for p in ps))
        for _, t, ps in doc_pages
    ]
    path.write_bytes(epub_bytes("Mixed-language reader", chapters))


def build_md(doc_pages, path: Path) -> None:
    path.write_text("".join(f"# {t}\n\n" + "".join(f"{p}\n\n" for p in ps) for _, t, ps in doc_pages), encoding="utf-8")


BUILDERS = {"pdf": build_pdf, "docx": build_docx, "html": build_html, "epub": build_epub, "md": build_md}


def _squash(text: str) -> str:
    return "".join(normalise(text).split())


def recall(doc_pages, text: str) -> float:
    """Share of the source paragraphs found whole in the extracted text (whitespace and NFKC aside)."""
    squashed = _squash(text)
    paragraphs = [p for _, _, ps in doc_pages for p in ps]
    return sum(_squash(p) in squashed for p in paragraphs) / len(paragraphs)


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def pypdf_text(path: Path) -> str:
    import pypdf

    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(str(path)).pages)


def index_time(pdf: Path) -> dict:
    """Index the PDF alone into a fresh notebook (models loaded first, not counted)."""
    from rag import Notebook

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        docs = home / "docs"
        docs.mkdir()
        (docs / pdf.name).write_bytes(pdf.read_bytes())
        nb = Notebook(path=home / ".rag", home=home)
        nb.dense_embedder.embed_passages(["warm up"])
        began = time.perf_counter()
        report = nb.index(docs, progress=False)
        seconds = time.perf_counter() - began
        # The same chunks embedded again on their own: how much of the index time is the embedder's.
        from ingest.indexer import embed_text

        chunks = nb.chunker.split(load_document(docs / pdf.name, docs))
        began = time.perf_counter()
        nb.dense_embedder.embed_passages([embed_text(c) for c in chunks])
        embedding = time.perf_counter() - began
        return {"seconds": seconds, "embedding": embedding, "chunks": report.chunks, "errors": report.errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (drcd/, cmrc2018/, xquad/)")
    parser.add_argument("--repeat", type=int, default=3, help="extractions per format (the median is reported)")
    parser.add_argument("--no-index", action="store_true", help="skip the index-time measurement")
    args = parser.parse_args()
    go_offline()
    doc_pages = pages(args.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {}
        for fmt, build in BUILDERS.items():
            files[fmt] = folder / f"reader.{fmt}"
            build(doc_pages, files[fmt])
        for fmt, path in files.items():
            seconds, doc = timed(lambda path=path: load_document(path, limits=Limits()), args.repeat)
            units = len(doc.pages) if doc.pages else len(doc_pages)
            rows.append(
                {
                    "format": fmt,
                    "reader": {
                        "pdf": "pypdfium2",
                        "docx": "python-docx",
                        "html": "trafilatura",
                        "epub": "zip + XHTML",
                        "md": "text loader",
                    }[fmt],
                    "bytes": path.stat().st_size,
                    "pages": units,
                    "seconds": seconds,
                    "chars": len(doc.text),
                    "recall": recall(doc_pages, doc.text),
                    "title": doc.title,
                }
            )
            print(f"{fmt}: {seconds:.3f} s, {len(doc.text):,} chars, recall {rows[-1]['recall']:.3f}", flush=True)
        seconds, text = timed(lambda: pypdf_text(files["pdf"]), args.repeat)
        rows.append(
            {
                "format": "pdf",
                "reader": "pypdf (fallback)",
                "bytes": files["pdf"].stat().st_size,
                "pages": PAGES,
                "seconds": seconds,
                "chars": len(normalise(text)),
                "recall": recall(doc_pages, text),
                "title": "",
            }
        )
        indexed = None if args.no_index else index_time(files["pdf"])
    source_chars = sum(len(p) for _, _, ps in doc_pages for p in ps)
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, check=False, capture_output=True, text=True, cwd=REPO).stdout.strip()
    write_results(rows, indexed, source_chars, commit, doc_pages)


def write_results(rows, indexed, source_chars: int, commit: str, doc_pages) -> None:
    langs = {lang: sum(1 for p in doc_pages if p[0] == lang) for lang in ("zh-Hant", "zh-Hans", "en")}
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores (1, 5, 15 min)"
    lines = [
        f"# Extraction: {PAGES}-page mixed-language document (commit {commit})",
        "",
        (
            f"`python -m bench.extraction` (`make bench-extraction`). One document of {PAGES} pages — "
            f"{langs['zh-Hant']} zh-Hant (DRCD dev), {langs['zh-Hans']} zh-Hans (CMRC 2018 dev), {langs['en']} English "
            f"(XQuAD) articles, one per page under its title, {source_chars:,} characters of passages — written as each "
            "format (the PDF with reportlab's non-embedded CID fonts, as Acrobat-made Chinese reports are), then read by "
            "`ingest.loaders.load_document` (median of runs). *Paragraphs exact*: share of the source paragraphs found "
            "whole in the extracted text, whitespace and NFKC aside. Pages/s for EPUB, DOCX, HTML and Markdown count the "
            "same 50 article pages. The PDF's missing paragraphs hold characters its built-in Helvetica cannot draw "
            "(ł, Greek): they are not in the PDF at all."
        ),
        "",
        "| format | reader | file KB | pages | seconds | pages/s | characters | paragraphs exact |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['format']} | {r['reader']} | {r['bytes'] / 1024:,.0f} | {r['pages']} | {r['seconds']:.3f} | "
            f"{r['pages'] / r['seconds']:,.0f} | {r['chars']:,} | {r['recall']:.3f} |"
        )
    if indexed:
        lines += [
            "",
            (
                f"Index time for the PDF alone (fresh notebook, models already loaded, default settings): "
                f"{indexed['seconds']:.1f} s for {PAGES} pages, {indexed['chunks']} chunks "
                f"({PAGES / indexed['seconds']:.1f} pages/s, {indexed['chunks'] / indexed['seconds']:.1f} chunks/s); "
                f"embedding the same chunks alone takes {indexed['embedding']:.1f} s, extraction "
                f"{rows[0]['seconds']:.1f} s. Load average during the run: {load}."
            ),
        ]
    lines += ["", ATTRIBUTION, ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "extraction.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
