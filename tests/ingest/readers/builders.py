"""Small documents of every format built at test time: PDFs (reportlab, non-embedded CID fonts), DOCX (python-docx),
HTML pages and EPUB books (text and zip), and the damaged ones (encrypted, truncated, scanned, zip bombs)."""

from __future__ import annotations

import io
import zipfile

# Non-embedded CID fonts: the PDF names the font and a reader must map its codes to Unicode (as Acrobat-made
# Chinese reports do); MSung-Light is Traditional, STSong-Light Simplified.
HANT_FONT, HANS_FONT = "MSung-Light", "STSong-Light"


def pdf_bytes(
    pages: list[list[str]], title: str | None = None, font: str = HANT_FONT, outline: list[tuple[int, str, int]] = ()
) -> bytes:
    """A PDF with one page per list of lines (drawn top to bottom), its /Title in the metadata when given, and
    bookmarks (level from 0, title, 0-based page) when an outline is given."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(font))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, invariant=1)  # invariant: the same bytes every time (no creation date, fixed id)
    if title:
        pdf.setTitle(title)
    for number, lines in enumerate(pages):
        for k, (_, _, page) in enumerate(outline):
            if page == number:
                pdf.bookmarkPage(f"entry{k}")  # one destination per entry: reportlab names an entry by its destination
        pdf.setFont(font, 11)
        y = 780
        for line in lines:
            if line:
                pdf.drawString(60, y, line)
            y -= 18
        pdf.showPage()
    for k, (level, name, _) in enumerate(outline):
        pdf.addOutlineEntry(name, f"entry{k}", level=level)
    pdf.save()
    return out.getvalue()


def scanned_pdf_bytes(pages: int = 2) -> bytes:
    """A PDF whose pages hold only drawings (what a scanner gives without OCR): no text layer."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, invariant=1)
    for i in range(pages):
        for k in range(20):
            pdf.rect(60 + 3 * k, 700 - 10 * k - i, 200, 4, fill=1)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def encrypted_pdf_bytes(raw: bytes, password: str = "secret") -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(raw))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(blocks: list[tuple[str, str]], title: str | None = None) -> bytes:
    """A DOCX from (kind, text) blocks: kind "title", "h1".."h3" (Word's Heading styles), "p", or "table" (rows
    one a line, cells separated by "|", the first row its header)."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for kind, text in blocks:
        if kind == "title":
            document.add_heading(text, 0)
        elif kind.startswith("h"):
            document.add_heading(text, int(kind[1:]))
        elif kind == "table":
            rows = [line.split("|") for line in text.splitlines()]
            table = document.add_table(rows=len(rows), cols=max(map(len, rows)))
            for cells, row in zip(rows, table.rows):
                for cell, value in zip(row.cells, cells):
                    cell.text = value.strip()
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def html_page(title: str, article: str, h1: str | None = None) -> str:
    """A saved news page: navigation, an ad and a footer around the article (`article` is its inner HTML)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | The Harbour Times</title>
<meta property="og:title" content="{title}"><script>window.tracker = {{id: 42}};</script>
<style>nav {{ color: red; }}</style></head>
<body>
<header><a href="/">The Harbour Times</a><nav><ul><li><a href="/world">World</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/subscribe">Subscribe for one dollar a week</a></li><li><a href="/login">Log in</a></li></ul></nav></header>
<aside class="ad">Advertisement: buy discount garden furniture at Lumberyard Deals today</aside>
<main><article><h1>{h1 or title}</h1>{article}</article></main>
<aside><h3>Most read</h3><ul><li><a href="/a">Mayor opens new bicycle lane</a></li><li><a href="/b">Storm closes ferry</a></li></ul></aside>
<footer><p>Copyright 2024 The Harbour Times. All rights reserved.</p><p>Contact us · Privacy policy · Cookie settings</p></footer>
</body></html>"""


def epub_bytes(title: str, chapters: list[tuple[str, str]], nav: bool = True) -> bytes:
    """An EPUB 3 book: (chapter title, chapter inner XHTML) in spine order, a nav document naming the chapters."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # stored first, uncompressed
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
            for i in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        nav_item = (
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>' if nav else ""
        )
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
            f"<dc:language>en</dc:language></metadata><manifest>{nav_item}{items}</manifest><spine>{spine}</spine></package>",
        )
        if nav:
            links = "".join(f'<li><a href="text/ch{i}.xhtml">{name}</a></li>' for i, (name, _) in enumerate(chapters))
            book.writestr(
                "OEBPS/nav.xhtml",
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
                f'xmlns:epub="http://www.idpf.org/2007/ops"><body><nav epub:type="toc"><ol>{links}</ol></nav></body></html>',
            )
        for i, (name, body) in enumerate(chapters):
            book.writestr(
                f"OEBPS/text/ch{i}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{name}</title><style>p {{ margin: 0 }}</style></head><body>{body}</body></html>",
            )
    return out.getvalue()


def zip_bomb(names: list[str], size: int = 24 * 1024 * 1024) -> bytes:
    """A small zip whose members unpack to `size` bytes each (zeros compress about 1000:1); tests set a limit below
    it (building a real gigabyte bomb would cost seconds)."""
    out = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for name in names:
            with bomb.open(name, "w", force_zip64=True) as member:
                for _ in range(size // len(chunk)):
                    member.write(chunk)
    return out.getvalue()


# Installed by `make browser` (fonts-noto-cjk): one face draws Traditional, Simplified and Latin text.
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def text_image(lines: list[tuple[int, int, str]], size: tuple[int, int], font_size: int = 24, mode: str = "RGB"):
    """A PIL image of black text on white: (x, y, text) per line, drawn with CJK_FONT."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(CJK_FONT, font_size)
    for x, y, text in lines:
        draw.text((x, y), text, font=font, fill="black")
    return image.convert(mode) if mode != "RGB" else image


def image_bytes(image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A small PNG that declares `width` x `height` pixels (a decompression bomb's header) with one row of data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\xff" * 3 * min(width, 1000))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", row) + chunk(b"IEND", b"")
