"""Scans, screenshots and photos of pages (.png .jpg .webp .tif): decoded safely with Pillow, read by OCR, each
page of a multi-page TIFF a page."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

from ingest.documents import IngestError
from ingest.readers.base import Extracted, Limits, TextBuilder, register

NO_TEXT = "no text found (OCR read no words in the image)"


def _open(raw: bytes, path: Path, limits: Limits):
    """The image, its size checked from the header before a pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # our own limit, checked below and per TIFF page, names the file and the setting
    try:
        image = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        raise IngestError(path, "not a readable image (corrupt, or not the format its name says)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise IngestError(path, f"corrupt image ({_why(exc)})") from None
    _check_size(image, path, limits)
    return image


def _check_size(image, path: Path, limits: Limits, page: int | None = None) -> None:
    width, height = image.size
    if width * height > limits.max_image_pixels:
        where = f" (page {page})" if page else ""
        raise IngestError(
            path,
            f"image{where} of {width:,}x{height:,} pixels, more than {limits.max_image_pixels:,} (RAG_MAX_IMAGE_PIXELS; "
            "a decompression bomb?)",
        )
    if width < 1 or height < 1:
        raise IngestError(path, "image of no pixels")


def _why(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:100] or type(exc).__name__


def to_rgb(image):
    """An RGB copy fit to read: turned as its EXIF orientation says, transparency on white (a screenshot's black
    text on a transparent background stays readable), 16-bit and float pixels scaled to 8 bits, CMYK converted."""
    import numpy as np
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        return Image.fromarray(np.clip(pixels / top * 255.0, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def decode_page(raw: bytes, path: Path, limits: Limits, index: int):
    """Page `index` of the image decoded to RGB, or an IngestError naming what is wrong with it."""
    image = _open(raw, path, limits)
    try:
        if index:
            image.seek(index)
            _check_size(image, path, limits, index + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings about odd metadata: the pixels are what we read
            image.load()
            return to_rgb(image)
    except IngestError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        text = _why(exc)
        if "truncated" in text or isinstance(exc, EOFError):
            raise IngestError(path, f"truncated image ({text})") from None
        raise IngestError(path, f"corrupt image ({text})") from None


def page_count(raw: bytes, path: Path, limits: Limits) -> int:
    """Pages of a multi-page TIFF; 1 for anything else (an animated WebP or PNG is read by its first frame)."""
    image = _open(raw, path, limits)
    if getattr(image, "format", "") != "TIFF":
        return 1
    try:
        return max(1, int(getattr(image, "n_frames", 1)))
    except (OSError, ValueError, EOFError) as exc:
        raise IngestError(path, f"corrupt TIFF ({_why(exc)})") from None


class ImageReader:
    """The OCR'd text of each page, in reading order (ingest.layout), every line's box kept for citations."""

    suffixes = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        from ingest.ocr import PageJob, page_key, read_pages

        pages = page_count(raw, path, limits)
        if pages > limits.max_pages:
            raise IngestError(path, f"{pages} pages, more than {limits.max_pages} (RAG_MAX_PAGES)")
        sha = hashlib.sha256(raw).hexdigest()
        jobs = [
            PageJob(n, page_key(sha, n), lambda n=n: (decode_page(raw, path, limits, n - 1), 1.0))
            for n in range(1, pages + 1)
        ]
        return build(read_pages(jobs, path, limits), path, limits)


def add_ocr_page(builder: TextBuilder, page, number: int, limits: Limits) -> int:
    """One OCR'd page's paragraphs in reading order, every line's box recorded; the lines kept out for low
    confidence are counted (returned)."""
    from ingest.layout import paragraphs
    from ingest.ocr import chinese_marks, table_edges
    from rag.text.script import han_share

    kept, dropped = page.kept(limits.ocr_min_confidence)
    kept = table_edges(kept)
    chinese = han_share("".join(ln.text for ln in kept)) > 0.5
    for para in paragraphs(kept):
        texts = chinese_marks([ln.text for ln in para], chinese)
        builder.boxed_paragraph([(text, ln.box) for text, ln in zip(texts, para, strict=True)], number)
    return dropped


def build(read: dict, path: Path, limits: Limits) -> Extracted:
    """The text of OCR'd pages, page by page; IngestError ("no text found") when no page had words."""
    builder = TextBuilder(path, limits)
    dropped = 0
    for number in sorted(read):
        builder.page(number)
        dropped += add_ocr_page(builder, read[number], number, limits)
    if not builder.boxes:
        raise IngestError(path, NO_TEXT + (f"; {dropped} line(s) below RAG_OCR_MIN_CONFIDENCE" if dropped else ""))
    extracted = builder.result()
    extracted.ocr_dropped = dropped
    return extracted


register(ImageReader())
