"""Images and scanned PDFs read by OCR (rapidocr's bundled models, offline): text, pages, boxes, reading order,
the cache, the limits and every kind of bad image as one line. Small images: OCR is the slow step."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from PIL import Image

from ingest.documents import IngestError
from ingest.loaders import load_document
from ingest.ocr import ENGINES, Line, PageText, _Engines, engine_params, model_paths
from ingest.readers.base import Limits
from ingest.readers.image import decode_page
from tests.ingest.readers.builders import image_bytes, png_header, text_image

HANT, HANS, EN = "臺灣語言政策研究", "简体中文段落测试", "Offline OCR 2024"


def _sample(mode: str = "RGB"):
    return text_image([(20, 15, HANT), (20, 60, HANS), (20, 105, EN)], (360, 150), 26, mode)


def _load(tmp_path: Path, name: str, raw: bytes, **limits) -> object:
    file = tmp_path / name
    file.write_bytes(raw)
    return load_document(file, limits=Limits(ocr_cache=tmp_path / "ocr", **limits))


def _flat(text: str) -> str:
    return "".join(text.split())


def test_an_image_reads_as_its_three_scripts_with_a_box_per_line(tmp_path):
    doc = _load(tmp_path, "note.png", image_bytes(_sample()))
    assert doc.text.split("\n\n") == [HANT, HANS, EN + "\n"] or _flat(doc.text) == _flat(HANT + HANS + EN)
    assert doc.pages == [(0, 1)] and doc.encoding == "png"
    assert [doc.text[s:e] for s, e, _, _ in doc.boxes] == [HANT, HANS, EN]
    x0, y0, x1, y1 = doc.boxes[0][3]
    assert 10 <= x0 < x1 <= 360 and 5 <= y0 < y1 <= 60  # pixels of the image, where the first line is drawn


@pytest.mark.parametrize(
    "name, make",
    [
        ("cmyk.jpg", lambda: image_bytes(_sample("CMYK"), "JPEG", quality=95)),
        (
            "grey16.png",
            lambda: image_bytes(
                Image.fromarray(__import__("numpy").asarray(_sample("L"), dtype="uint16") * 257), "PNG"
            ),
        ),
        ("screenshot.png", lambda: image_bytes(_transparent(), "PNG")),
        ("rotated.jpg", lambda: _exif_rotated()),
        (
            "animated.webp",
            lambda: image_bytes(
                _sample(),
                "WEBP",
                save_all=True,
                append_images=[Image.new("RGB", (360, 150))],
                duration=200,
                lossless=True,
            ),
        ),
    ],
)
def test_unusual_images_decode_to_the_page_as_drawn(tmp_path, name, make):
    """CMYK, 16-bit grey, transparency, EXIF orientation, animation: the pixels OCR gets are the page as drawn."""
    import numpy as np

    decoded = decode_page(make(), tmp_path / name, Limits(), 0)
    assert decoded.mode == "RGB" and decoded.size == _sample().size
    difference = np.abs(np.asarray(decoded, dtype=float) - np.asarray(_sample(), dtype=float)).mean()
    assert difference < 6, difference  # JPEG and CMYK round trips blur a little; a wrong turn or black page is > 40


def test_an_exif_rotated_photo_of_a_page_reads_right(tmp_path):
    assert _flat(_load(tmp_path, "rotated.jpg", _exif_rotated()).text) == _flat(HANT + HANS + EN)


def _transparent():
    """Black text on a transparent background (a screenshot of a dark-on-clear UI): must not read black on black."""
    image = _sample("L")
    rgba = Image.new("RGBA", image.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(image, lambda v: 255 - v))
    return rgba


def _exif_rotated() -> bytes:
    """The page stored turned a quarter, with the EXIF orientation that tells a viewer to turn it back."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return image_bytes(_sample().transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)


@pytest.mark.parametrize(
    "name, raw, reason",
    [
        ("zero.png", b"", "empty file"),
        ("corrupt.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "corrupt"),
        ("notapng.jpg", b"this is text, not a picture" * 20, "not a readable image"),
        ("truncated.png", None, "truncated"),
        ("bomb.png", png_header(30_000, 30_000), "30,000x30,000 pixels"),
    ],
)
def test_bad_images_are_one_line_naming_the_file_and_the_reason(tmp_path, name, raw, reason):
    if raw is None:
        whole = image_bytes(_sample(), "PNG")
        raw = whole[: len(whole) // 2]
    with pytest.raises(IngestError) as err:
        _load(tmp_path, name, raw)
    message = str(err.value)
    assert name in message and reason in message and "\n" not in message


def test_an_image_without_text_is_no_text_found_not_an_empty_document(tmp_path):
    import numpy as np

    rng = np.random.default_rng(7)
    # A photo of nothing: a smooth gradient with grain (sky, a wall).
    ramp = np.linspace(60, 200, 320)[None, :, None] + rng.normal(0, 12, (200, 320, 3))
    photo = Image.fromarray(np.clip(ramp, 0, 255).astype("uint8"))
    for name, image in (("blank.png", Image.new("RGB", (320, 200), "white")), ("photo.jpg", photo)):
        with pytest.raises(IngestError, match="no text found"):
            _load(tmp_path, name, image_bytes(image, "PNG" if name.endswith("png") else "JPEG"))


def test_each_page_of_a_tiff_is_a_page_and_the_page_limit_holds(tmp_path):
    first, second = (
        text_image([(20, 20, "First page text")], (320, 80)),
        text_image([(20, 20, "第二頁的文字")], (320, 80)),
    )
    raw = image_bytes(first, "TIFF", save_all=True, append_images=[second])
    doc = _load(tmp_path, "scan.tif", raw)
    assert [number for _, number in doc.pages] == [1, 2]
    assert (
        _flat(doc.text[: doc.pages[1][0]]) == "Firstpagetext" and _flat(doc.text[doc.pages[1][0] :]) == "第二頁的文字"
    )
    assert {page for _, _, page, _ in doc.boxes} == {1, 2}
    with pytest.raises(IngestError, match="RAG_MAX_OCR_PAGES"):
        _load(tmp_path, "scan2.tif", raw, max_ocr_pages=1)


def test_an_unchanged_image_is_read_once(tmp_path, monkeypatch):
    raw = image_bytes(text_image([(20, 20, "Cached words here")], (320, 80)))
    first = _load(tmp_path, "page.png", raw)

    def no_ocr(*args, **kwargs):
        raise AssertionError("OCR ran again on an unchanged image")

    monkeypatch.setattr("ingest.ocr.recognise", no_ocr)
    again = _load(tmp_path, "copy.png", raw)  # the same bytes under another name: the same cache entry
    assert again.text == first.text and again.boxes == first.boxes


def test_lines_below_the_confidence_are_kept_out_and_counted():
    page = PageText(
        400,
        300,
        [
            Line("Sure line of text", 0.98, (0, 0, 100, 20)),
            Line("g4rbl3d", 0.31, (0, 30, 80, 50)),
            Line("·", 0.7, (0, 60, 5, 65)),
        ],
    )
    kept, dropped = page.kept(0.6)
    assert [ln.text for ln in kept] == ["Sure line of text"] and dropped == 1  # the speck is noise, not counted
    assert page.kept(0.99) == ([], 3)


# A screenshot of a Markdown table as rapidocr read it (dev page forum-01-commute-cost: text, score, box): the rule
# has no letters and is read at 0.805; the pipe at the start of three rows, and at the end of one, was not read.
TABLE = [
    ("我自己整理了一下每月成本：", 0.99, (90.0, 322.0, 700.0, 352.0)),
    ("|項目|機車|捷運|", 0.960, (89.0, 383.0, 320.0, 413.0)),
    ("|---|--|---|", 0.805, (87.0, 442.0, 208.0, 477.0)),
    ("油錢／車資|約650元|1,200元（定期票）", 0.986, (90.0, 504.0, 630.0, 534.0)),
    ("|停車費|公司停車位每月600元|0|", 0.979, (90.0, 566.0, 521.0, 596.0)),
    ("保養與保險|約400元|0|", 0.990, (90.0, 627.0, 417.0, 657.0)),
    ("單程時間|40分鐘|55分鐘|", 0.985, (90.0, 688.0, 443.0, 717.0)),
    ("--", 0.85, (600.0, 900.0, 640.0, 930.0)),  # a speck of marks: noise
    ("------------", 0.85, (90.0, 1000.0, 400.0, 1030.0)),  # a line of dashes with no table by it: noise as before
]


def test_a_tables_rule_is_kept_between_its_rows_though_it_has_no_letters():
    page = PageText(1240, 1200, [Line(*row) for row in TABLE])
    kept, dropped = page.kept(0.3)
    assert [ln.text for ln in kept] == [row[0] for row in TABLE[:7]] and dropped == 0


def test_a_plain_text_tables_borders_and_pipes_are_kept_as_drawn():
    """A table drawn in plain text (+---+ borders, | between cells): the borders are its rules, and the row whose
    first pipe was not read gets it back, as does the header whose last pipe was not."""
    from ingest.ocr import table_edges

    drawn = [
        ("+--------+-------+", 0.7, (50, 100, 300, 120)),
        ("| Name | Age", 0.95, (50, 130, 300, 160)),
        ("+--------+-------+", 0.7, (50, 170, 300, 190)),
        ("| Ann | 31 |", 0.95, (50, 200, 250, 230)),
        ("Bob | 40 |", 0.95, (51, 240, 250, 270)),
        ("+--------+-------+", 0.7, (50, 280, 300, 300)),
        ("Some words under it.", 0.99, (50, 340, 400, 370)),
    ]
    kept, _ = PageText(500, 500, [Line(*row) for row in drawn]).kept(0.3)
    assert [ln.text for ln in table_edges(kept)] == [
        "+--------+-------+",
        "| Name | Age|",
        "+--------+-------+",
        "| Ann | 31 |",
        "|Bob | 40 |",
        "+--------+-------+",
        "Some words under it.",
    ]


def test_a_screenshot_of_a_table_reads_as_the_table_with_the_pipes_the_recogniser_left_out(tmp_path):
    """Rows aligned under one another whose whole rows agree on four pipes: a row short of its first or last pipe
    gets it back; wrapped text that holds pipes (a phone's lines of a table written inline) is left as read."""
    from ingest.ocr import table_edges
    from ingest.readers.image import build

    doc = build({1: PageText(1240, 1200, [Line(*row) for row in TABLE])}, tmp_path / "table.png", Limits())
    assert doc.text.strip().split("\n\n")[1:] == [
        "|項目|機車|捷運|",
        "|---|--|---|",
        "|油錢／車資|約650元|1,200元（定期票）|",
        "|停車費|公司停車位每月600元|0|",
        "|保養與保險|約400元|0|",
        "|單程時間|40分鐘|55分鐘|",
    ]
    phone = [  # dev page forum-01-commute-cost-phone: the table's source wrapped as running text
        ("|項目|機車|捷運||---|-----||油錢／車資|", 0.905, (45.0, 473.0, 626.0, 511.0)),
        ("約650元|1,200元（定期票)|停車費|公", 0.947, (46.0, 517.0, 635.0, 555.0)),
        ("司停車位每月600元|0||保養與保險|約", 0.972, (46.0, 563.0, 599.0, 604.0)),
        ("400元|0||單程時間", 0.960, (44.0, 608.0, 332.0, 649.0)),
    ]
    lines = [Line(*row) for row in phone]
    assert table_edges(lines) == lines  # an ImportError on the code before: the pipes were never given back


def test_chinese_gets_back_the_full_width_marks_the_recogniser_gives_as_ascii(tmp_path):
    """The recogniser reads 「多久？」 as "多久?": a Chinese paragraph, or a line with Han on a Chinese page (a
    reply's heading of names), gets the full-width marks back; numbers and English paragraphs keep theirs."""
    from ingest.readers.image import build

    lines = [
        ("主持人:您的攤子開了多久?受訪者:從民國九十八年(2009)開始,", (0, 0, 900, 30)),
        ("收回了2,300多份問卷,早上10:32開門!", (0, 40, 700, 70)),
        ("**回覆 1 (wenhu_rider):**", (0, 120, 300, 150)),
        ("Q: Why then? (A short answer, please.)", (0, 200, 600, 230)),
    ]
    page = PageText(1000, 300, [Line(text, 0.99, box) for text, box in lines])
    doc = build({1: page}, tmp_path / "scan.png", Limits())
    shown = [doc.text[start:end] for start, end, _, _ in doc.boxes]
    assert shown == [
        "主持人：您的攤子開了多久？受訪者：從民國九十八年（2009）開始，",
        "收回了2,300多份問卷，早上10:32開門！",
        "**回覆 1 （wenhu_rider）：**",
        "Q: Why then? (A short answer, please.)",
    ]


@pytest.mark.parametrize("angle", [-1.5, 2.0])
def test_a_line_read_as_scraps_on_a_turned_page_is_read_again_from_its_box_turned_upright(angle):
    """On a page turned a degree or two, the axis-aligned crop of a long line's box cuts into the lines above and
    below it (it read "a rrt." and " " here); the box's own crop turned upright reads the whole line."""
    import numpy as np

    from ingest.ocr import _read_again

    lines = [
        "A: Practise your race-day breakfast. Nobody tries a new shoe on",
        "race day, but plenty of people try a new energy gel and regret it.",
        "Q: How long should someone rest after a marathon?",
    ]
    page = text_image([(40, 30 + 48 * i, line) for i, line in enumerate(lines)], (1100, 200), 30)
    page = page.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor="white")
    engine = ENGINES.take(1)
    try:
        found = engine(np.asarray(page)[:, :, ::-1], use_det=True, use_cls=True, use_rec=True)
        quad = next(q for q, text in zip(found.boxes, found.txts) if "plenty" in text)  # where the line is
        text, score = _read_again(engine, page, quad, "racer  ey     e   n  it", 0.71)  # as the bench's page read
    finally:
        ENGINES.give(1, engine)
    assert text == lines[1] and score > 0.9


def test_the_models_come_from_the_wheel_and_nothing_is_downloaded(tmp_path, monkeypatch):
    import rapidocr
    import rapidocr.utils.download_file as download

    package = Path(rapidocr.__file__).resolve().parent
    params = engine_params(1)
    for task, path in model_paths().items():
        assert path.is_file() and path.is_relative_to(package) and params[f"{task}.model_path"] == str(path)

    def refused(*args, **kwargs):
        raise AssertionError("a download or a connection was attempted")

    monkeypatch.setattr(download.DownloadFile, "run", classmethod(refused))
    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr("ingest.ocr.ENGINES", _Engines())  # a fresh engine, built under the guard
    doc = _load(tmp_path, "offline.png", image_bytes(text_image([(20, 20, "No network needed")], (320, 80))))
    assert _flat(doc.text) == "Nonetworkneeded"
    assert ENGINES is not None


def test_a_scanned_pdf_is_read_page_by_page_and_a_mixed_one_gets_both(tmp_path):
    scans = [text_image([(30, 30, f"Scanned page {n} about rivers")], (500, 120)) for n in (1, 2)]
    buffer = io.BytesIO()
    scans[0].save(buffer, "PDF", resolution=100, save_all=True, append_images=scans[1:])
    doc = _load(tmp_path, "scan.pdf", buffer.getvalue())
    assert [n for _, n in doc.pages] == [1, 2] and "Scanned page 2 about rivers" in doc.text[doc.pages[1][0] :]
    page, box = doc.boxes[0][2], doc.boxes[0][3]
    assert page == 1 and 0 < box[0] < box[2] <= 500 * 72 / 100  # PDF points, not the render's pixels

    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(400, 300))
    pdf.drawString(40, 250, "Typed page about glaciers.")
    pdf.showPage()
    pdf.drawImage(ImageReader(scans[1]), 20, 100, width=360, height=86)
    pdf.showPage()
    pdf.save()
    mixed = _load(tmp_path, "mixed.pdf", out.getvalue())
    typed, scanned = mixed.text[: mixed.pages[1][0]], mixed.text[mixed.pages[1][0] :]
    assert typed.strip() == "Typed page about glaciers." and "Scanned page 2 about rivers" in scanned
    # The typed line's box comes from PDFium's character rectangles: near the top of the page, in points.
    s, e, page, (x0, y0, _x1, y1) = mixed.boxes[0]
    assert mixed.text[s:e] == "Typed page about glaciers." and page == 1 and 35 < x0 < 45 and 35 < y0 < y1 < 60
