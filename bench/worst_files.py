"""Small hostile documents, each format's costliest under the default limits, built here and timed while read.

    python -m bench.worst_files [--scale 0.1]

Each file is made to cost the most a reader allows before a limit stops it (an EPUB whose spine lists one large
chapter again and again, a DOCX of one-letter paragraphs, a PDF whose pages share one content stream, ...). The
line per file: its size, how long `load_document` took (wall clock and CPU), and what it gave (characters) or the one-line refusal.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from ingest.documents import IngestError
from ingest.loaders import load_document
from ingest.readers import Limits
from rag.settings import Settings


def _zip(members: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _epub(chapters: dict[str, str], spine: list[str]) -> bytes:
    manifest = "".join(
        f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, name in enumerate(chapters)
    )
    ids = {name: f"c{i}" for i, name in enumerate(chapters)}
    refs = "".join(f'<itemref idref="{ids[n]}"/>' for n in spine)
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Worst</dc:title></metadata>'
        f"<manifest>{manifest}</manifest><spine>{refs}</spine></package>"
    )
    container = (
        '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0">'
        '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'
    )
    return _zip(
        {"mimetype": "application/epub+zip", "META-INF/container.xml": container, "content.opf": opf, **chapters}
    )


def _xhtml(body: str) -> str:
    return f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>'


def epub_repeated_spine(limits: Limits, scale: float) -> bytes:
    """The probe's file: one 1.5 MB chapter (markup and a little text) listed by the spine max_pages times."""
    chapter = _xhtml("<p>" + "<b>x</b>" * int(190_000 * scale) + "</p>")
    return _epub({"c.xhtml": chapter}, ["c.xhtml"] * limits.max_pages)


def epub_unique_chapters(limits: Limits, scale: float) -> bytes:
    """Distinct chapters of tag soup adding up to just under the markup limit: each is parsed once, all of it."""
    size = int(limits.max_markup_bytes * scale)
    count = 20
    chapters = {
        f"c{i}.xhtml": _xhtml(f"<p>{i}</p>" + "<span><i>y</i></span>" * (size // count // 21 - 6)) for i in range(count)
    }
    return _epub(chapters, list(chapters))


def docx_one_letter_paragraphs(limits: Limits, scale: float) -> bytes:
    """One-letter paragraphs, up to the paragraph limit (and one more)."""
    import docx

    document = docx.Document()
    document.add_paragraph("a")
    out = io.BytesIO()
    document.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    members: dict[str, bytes | str] = {name: source.read(name) for name in source.namelist()}
    xml = members["word/document.xml"].decode()
    body = "<w:p><w:r><w:t>a</w:t></w:r></w:p>" * int((limits.max_paragraphs + 1) * scale)
    members["word/document.xml"] = xml.replace("<w:body>", "<w:body>" + body, 1)
    return _zip(members)


def html_many_paragraphs(limits: Limits, scale: float) -> bytes:
    """A page of one-word paragraphs in an article, just under the markup limit."""
    size = int(limits.max_markup_bytes * scale) - 200
    return (
        "<html><head><title>Worst</title></head><body><article>"
        + "<p>word</p>" * (size // 11)
        + "</article></body></html>"
    ).encode()


def pdf_shared_content(limits: Limits, scale: float) -> bytes:
    """max_pages pages drawing one shared content stream of many short text runs (each page gives all its text)."""
    pages = max(1, int(limits.max_pages * scale))
    stream = b"BT /F1 8 Tf 10 780 Td " + b"(word word word word word word word word word) Tj 0 -9 Td " * 80 + b"ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{5 + i} 0 R".encode() for i in range(pages))
        + f"] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    objects += [page] * pages
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def text_one_letter_lines(limits: Limits, scale: float) -> bytes:
    """A plain-text file of one-letter lines, just under the character limit."""
    return b"a\n" * (int(limits.max_chars * scale) // 2)


WORST: dict[str, tuple[str, Callable[[Limits, float], bytes]]] = {
    "epub-repeated-spine": (".epub", epub_repeated_spine),
    "epub-unique-chapters": (".epub", epub_unique_chapters),
    "docx-one-letter-paragraphs": (".docx", docx_one_letter_paragraphs),
    "html-many-paragraphs": (".html", html_many_paragraphs),
    "pdf-shared-content": (".pdf", pdf_shared_content),
    "text-one-letter-lines": (".txt", text_one_letter_lines),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of each worst case to build (1: the real one)")
    parser.add_argument("--only", nargs="*", default=list(WORST), choices=list(WORST))
    args = parser.parse_args(argv)
    limits = Limits.from_settings(Settings())
    print(f"limits: {limits}")
    print(f"{'file':28} {'bytes':>10} {'seconds':>8} {'cpu s':>6}  result")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            suffix, build = WORST[name]
            path = Path(folder) / f"{name}{suffix}"
            path.write_bytes(build(limits, args.scale))
            start, cpu = time.perf_counter(), time.process_time()
            try:
                result = f"read {len(load_document(path, limits=limits).text):,} characters"
            except IngestError as err:
                result = f"refused: {err}"
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"{name:28} {path.stat().st_size:>10,} {seconds:>8.1f} {cpu:>6.1f}  {result}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
