"""The cited page as a picture for the source panel: a PDF page rendered with PDFium or the image itself, the
cited lines boxed over it. Only numbers and our own encoded pixels go into the markup, never document text."""

from __future__ import annotations

import base64
import functools
import io
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import Limits

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
SHOWN_WIDTH = 900  # pixels the page picture is encoded at: sharp in the panel, a few hundred KB at most
PAD = 2.0  # page units around a box, so the frame does not cover the letters


@functools.lru_cache(maxsize=16)
def _picture(path: str, mtime_ns: int, page: int) -> tuple[str, float, float]:
    """(data URI of a JPEG of the page, page width, page height in the boxes' units); mtime_ns keys the cache."""
    raw = Path(path).read_bytes()
    if path.lower().endswith(".pdf"):
        from ingest.readers.pdf import PDF_SCALE, render_page

        image = render_page(raw, page, PDF_SCALE)
        width, height = image.width / PDF_SCALE, image.height / PDF_SCALE
    else:
        from ingest.readers.image import decode_page

        image = decode_page(raw, Path(path), Limits(), page - 1)
        width, height = image.size
    if image.width > SHOWN_WIDTH:
        image = image.resize((SHOWN_WIDTH, max(1, round(image.height * SHOWN_WIDTH / image.width))))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), float(width), float(height)


def page_figure(path: Path, page: int | None, boxes: list[tuple[float, float, float, float]]) -> str:
    """An <svg> of the page with each box drawn over it; "" when the file is no PDF or image or cannot be shown."""
    if page is None or not str(path).lower().endswith((".pdf", *IMAGE_SUFFIXES)):
        return ""
    try:
        uri, width, height = _picture(str(path), Path(path).stat().st_mtime_ns, int(page))
    except (OSError, IngestError, ValueError, IndexError):
        return ""
    except Exception:  # noqa: BLE001 — PDFium's errors: the text beside still shows the passage
        return ""
    rects = "".join(
        f"<rect class='cited' x='{x0 - PAD:.1f}' y='{y0 - PAD:.1f}' width='{x1 - x0 + 2 * PAD:.1f}' "
        f"height='{y1 - y0 + 2 * PAD:.1f}'/>"
        for x0, y0, x1, y1 in boxes
    )
    return (
        f"<figure class='page-image'><svg viewBox='0 0 {width:.1f} {height:.1f}' role='img' "
        f"aria-label='page {int(page)}' xmlns='http://www.w3.org/2000/svg'>"
        f"<image href='{uri}' x='0' y='0' width='{width:.1f}' height='{height:.1f}'/>{rects}</svg></figure>"
    )
