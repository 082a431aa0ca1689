"""A scanned PDF indexed by a real notebook: the answer's citation names the page and boxes the quoted line, and
the source panel shows that page with the line framed beside the text (no document text in the picture's markup)."""

from __future__ import annotations

import io
import re
from functools import partial

from tests.ingest.readers.builders import text_image
from ui.render import Span, source_html

PAGES = [
    ["Annual field notes, volume two.", "Sampling started in March."],
    ["The Tamsui River floods every spring.", "Boats stay in the harbour then."],
]


def test_a_scanned_pdf_cites_its_page_and_the_panel_frames_the_line(notebook_at, tmp_path):
    images = [text_image([(30, 30 + 50 * i, line) for i, line in enumerate(lines)], (620, 150)) for lines in PAGES]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=100, save_all=True, append_images=images[1:])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "field notes.pdf").write_bytes(buffer.getvalue())

    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    report = nb.index(docs, progress=False)
    assert report.added == 1 and not report.errors
    answer = nb.ask("Which river floods every spring?")
    assert not answer.refused and answer.citations
    cite = answer.citations[0]
    assert cite.page == 2 and "Tamsui" in cite.quote
    assert len(cite.bbox) == 1
    x0, y0, x1, y1 = cite.bbox[0]  # the first line of page 2, in PDF points (100 dpi image: 0.72 pt per pixel)
    assert 15 < x0 < 30 and 15 < y0 < y1 < 57 and x1 > 150  # above the second line, drawn at 80 px = 57.6 pt

    html = source_html(
        nb.source_file(cite.source),
        cite.name,
        cite.title,
        [Span(cite.start, cite.end, cite.quote)],
        page=2,
        read=partial(nb.document, cite.source),
        boxes=cite.bbox,
    )
    figure = re.search(r"<figure class='page-image'>.*?</figure>", html, re.DOTALL).group()
    assert figure.count("<rect class='cited'") == 1 and "data:image/jpeg;base64," in figure
    assert "Tamsui" not in figure and "<mark>The Tamsui River floods every spring.</mark>" in html


def test_images_are_accepted_everywhere_documents_are(tmp_path):
    from ingest.loaders import SUPPORTED_SUFFIXES, iter_files
    from ui.uploads import ALLOWED_SUFFIXES, safe_name

    images = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"}
    assert images <= SUPPORTED_SUFFIXES  # rag index, nb.index, MCP index and --watch walk by this list
    assert images <= set(ALLOWED_SUFFIXES) and safe_name("掃描 第1頁.PNG") == "掃描 第1頁.png"
    for suffix in images:
        (tmp_path / f"page{suffix}").write_bytes(b"x")
    assert {f.suffix for f, _ in iter_files([tmp_path])} == images
