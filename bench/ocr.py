"""`make bench-ocr`: OCR of rendered pages (issue 35). Character error rate per script on clean and degraded pages,
the confidence cut chosen on the dev pages, pages/s on 2 cores, photos of nothing, a 20-page scanned PDF indexed end
to end with the page cited, and retrieval R@5 on OCR'd pages against the same documents as text.

The pages are drawn here with Pillow (Noto CJK fonts, `make browser`) from the authored notebook development set
(tests/data/notebook_dev: 繁/简/English/mixed documents and their questions); the text drawn is the ground truth.
Dev documents choose the confidence cut and give the retrieval figures; CER is reported on the test documents.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import IngestError
from ingest.loaders import load_document
from ingest.ocr import Cache, page_key
from ingest.readers.base import Limits, default_ocr_cache, normalise
from ingest.readers.image import build
from rag.offline import go_offline
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEV_SET = REPO / "tests" / "data" / "notebook_dev"
RESULTS = REPO / "bench" / "results"
FONT_FILES = {
    "sans": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "serif": "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
}
THRESHOLDS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
DEGRADATIONS = ("jpeg40", "150dpi", "rotated", "blurred", "uneven-light")
TARGET_CLEAN, TARGET_DEGRADED = 0.01, 0.04


# ---------------------------------------------------------------------------------------------------- drawing
def _face(kind: str, lang: str, size: int):
    """The Noto CJK face of the right region (TC for 繁體, SC otherwise) from the collection file."""
    from PIL import ImageFont

    want = "TC" if lang == "zh-Hant" else "SC"
    for index in range(12):
        try:
            font = ImageFont.truetype(FONT_FILES[kind], size, index=index)
        except OSError:
            break
        if font.getname()[0].endswith(f" {want}"):
            return font
    return ImageFont.truetype(FONT_FILES[kind], size)


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.,:;!?%/()\-]*|\s+|.")


def _wrap(text: str, font, width: float) -> list[str]:
    """Lines no wider than `width`: Latin words kept whole, Chinese broken between any two characters."""
    lines, line = [], ""
    for token in _TOKEN.findall(text):
        if font.getlength(line + token) <= width or not line.strip():
            line += token
        else:
            lines.append(line.strip())
            line = token.lstrip()
    if line.strip():
        lines.append(line.strip())
    return lines


@dataclass
class Page:
    """A drawn page and the text on it, line by line in reading order."""

    name: str
    lang: str  # zh-Hant, zh-Hans, en or mixed
    kind: str  # single, two-column, phone, or single+<degradation>
    image: object
    truth: list[str]
    written: str = ""  # the document's own language label (zh-Hant, zh-Hans, en), mixed or not


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def single(name: str, lang: str, text: str, font_kind: str, size: int, width: int = 1240) -> Page:
    from PIL import Image, ImageDraw

    font, margin, lead = _face(font_kind, lang, size), 90, int(size * 1.6)
    lines: list[str | None] = []
    for para in _paragraphs(text):
        lines += _wrap(para, font, width - 2 * margin) + [None]  # None: the gap between paragraphs
    height = margin * 2 + sum(lead if ln is not None else lead // 2 for ln in lines)
    image = Image.new("RGB", (width, height), "white")
    draw, y = ImageDraw.Draw(image), margin
    for ln in lines:
        if ln is not None:
            draw.text((margin, y), ln, font=font, fill=(20, 20, 20))
        y += lead if ln is not None else lead // 2
    return Page(name, lang, "single", image, [ln for ln in lines if ln])


def two_columns(name: str, lang: str, text: str, size: int = 24, width: int = 1400) -> Page:
    """A heading across the page over two columns of text, the left one read first."""
    from PIL import Image, ImageDraw

    paras = _paragraphs(text)
    font, head, margin, gutter, lead = (
        _face("serif", lang, size),
        _face("sans", lang, size + 10),
        70,
        60,
        int(size * 1.55),
    )
    column = (width - 2 * margin - gutter) / 2
    heading = _wrap(paras[0], head, width - 2 * margin)
    body = [ln for para in paras[1:] for ln in _wrap(para, font, column)]
    half = (len(body) + 1) // 2
    top = margin + len(heading) * int((size + 10) * 1.6) + lead
    image = Image.new("RGB", (width, top + half * lead + margin), "white")
    draw = ImageDraw.Draw(image)
    for i, ln in enumerate(heading):
        draw.text((margin, margin + i * int((size + 10) * 1.6)), ln, font=head, fill="black")
    for i, ln in enumerate(body):
        x = margin if i < half else margin + column + gutter
        draw.text((x, top + (i % half) * lead), ln, font=font, fill="black")
    return Page(name, lang, "two-column", image, heading + body)


def phone(name: str, lang: str, text: str, chars: int = 260) -> Page:
    """A phone screenshot: status bar, a post's author and text in a bubble, its time and the buttons under it."""
    from PIL import Image, ImageDraw

    small, font, bold = _face("sans", lang, 24), _face("sans", lang, 30), _face("sans", lang, 32)
    post = " ".join(text.split())[:chars]
    lines = _wrap(post, font, 600)
    height = 250 + len(lines) * 46 + 220
    image = Image.new("RGB", (720, height), (246, 246, 246))
    draw = ImageDraw.Draw(image)
    draw.text((30, 18), "9:41", font=small, fill="black")
    draw.text((560, 18), "5G 100%", font=small, fill="black")
    draw.text((40, 110), "Lin Hsiu-chin", font=bold, fill=(30, 30, 30))
    draw.rounded_rectangle((24, 170, 696, 190 + len(lines) * 46 + 20), 18, fill="white")
    for i, ln in enumerate(lines):
        draw.text((48, 190 + i * 46), ln, font=font, fill=(25, 25, 25))
    y = 190 + len(lines) * 46 + 50
    draw.text((40, y), "10:32 AM", font=small, fill=(120, 120, 120))
    for x, label in ((40, "Like"), (260, "Reply"), (480, "Share")):
        draw.text((x, y + 60), label, font=small, fill=(60, 90, 200))
    truth = ["9:41", "5G 100%", "Lin Hsiu-chin", *lines, "10:32 AM", "Like", "Reply", "Share"]
    return Page(name, lang, "phone", image, truth)


def degrade(page: Page, how: str, seed: int) -> Page:
    """A copy as a scanner or a camera gives it back."""
    import numpy as np
    from PIL import Image, ImageFilter

    image = page.image
    if how == "jpeg40":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=40)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    elif how == "150dpi":  # drawn for 200 dpi, scanned at 150
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.BILINEAR)
    elif how == "rotated":
        angle = random.Random(seed).choice((-1.5, -1.0, 1.0, 1.5))
        image = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor="white")
    elif how == "blurred":
        image = image.filter(ImageFilter.GaussianBlur(1.2))
    elif how == "uneven-light":  # a desk lamp on one side: the far corner at 55% brightness, grey paper
        h, w = image.height, image.width
        light = np.clip(1.0 - 0.45 * (np.linspace(0, 1, w)[None, :] * 0.7 + np.linspace(0, 1, h)[:, None] * 0.3), 0, 1)
        pixels = np.asarray(image, dtype=np.float32) * 0.92 * light[:, :, None] + 6
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return Page(f"{page.name}-{how}", page.lang, f"{page.kind}+{how}", image, page.truth, page.written)


def photos_of_nothing(seed: int = 3) -> list[Page]:
    """Pictures with no text: a sky with grain, a wall's texture, blurred shapes."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    sky = np.linspace(90, 220, 900)[:, None, None] * np.array([0.6, 0.8, 1.0]) + rng.normal(0, 10, (900, 1200, 3))
    wall = rng.normal(150, 35, (90, 120, 3)).repeat(10, 0).repeat(10, 1)
    shapes = Image.new("RGB", (1200, 900), (200, 190, 170))
    draw = ImageDraw.Draw(shapes)
    for _ in range(25):
        x, y, r = (int(v) for v in rng.integers(0, 1200, 3))
        draw.ellipse((x, y % 900, x + r // 4, y % 900 + r // 5), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    pictures = [
        Image.fromarray(np.clip(sky, 0, 255).astype("uint8")),
        Image.fromarray(np.clip(wall, 0, 255).astype("uint8")).filter(ImageFilter.GaussianBlur(2)),
        shapes.filter(ImageFilter.GaussianBlur(3)),
    ]
    return [Page(f"photo-{i}", "none", "photo", image, []) for i, image in enumerate(pictures)]


# ---------------------------------------------------------------------------------------------------- scoring
def levenshtein(a: str, b: str) -> int:
    """Edit distance, bit-parallel (Myers 1999, Hyyrö's form): fast enough for whole pages in pure Python."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if not m:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    full, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = full, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


def _chars(text: str) -> str:
    """What CER counts: the normalised text without white space (Chinese has none; a space is layout, not text)."""
    return "".join(normalise(text).split())


def cer(truth: list[str], text: str) -> tuple[int, int]:
    """(edits, characters of the truth) in reading order."""
    want = _chars("".join(truth))
    return levenshtein(want, _chars(text)), len(want)


def line_script(line: str, written: str) -> str:
    """The script a drawn line is in: en unless most of its letters are Han (a Latin word counting as one);
    Chinese by the characters only one script writes, else the document's own label (en documents: zh-Hant)."""
    from rag.text.script import _written_script, han_share

    if han_share(line) <= 0.5:
        return "en"
    return _written_script(line) or (written if written.startswith("zh") else "zh-Hant")


def edits_by_position(want: str, got: str) -> list[int]:
    """A minimal edit script from `want` to `got`, as edits charged to each position of `want` (an insertion to the
    character before it): sums to the edit distance. Dynamic programming in numpy rows, then a walk back."""
    import numpy as np

    n, m = len(want), len(got)
    if not n:
        return []
    codes = {ch: i for i, ch in enumerate(set(want) | set(got))}
    g = np.array([codes[ch] for ch in got], dtype=np.int32)
    steps = np.arange(m + 1, dtype=np.int32)
    rows = np.empty((n + 1, m + 1), dtype=np.int32)
    rows[0] = steps
    for i, ch in enumerate(want, 1):
        prev = rows[i - 1]
        best = np.empty(m + 1, dtype=np.int32)
        best[0] = i
        best[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (g != codes[ch]))
        rows[i] = np.minimum.accumulate(best - steps) + steps  # or an insertion after the best to the left
    charged, i, j = [0] * n, n, m
    while i or j:
        if i and j and rows[i, j] == rows[i - 1, j - 1] + (want[i - 1] != got[j - 1]):
            charged[i - 1] += int(want[i - 1] != got[j - 1])
            i, j = i - 1, j - 1
        elif i and rows[i, j] == rows[i - 1, j] + 1:
            charged[i - 1] += 1
            i -= 1
        else:
            charged[max(i - 1, 0)] += 1
            j -= 1
    return charged


def cer_by_script(page: Page, text: str) -> dict[str, tuple[int, int]]:
    """(edits, characters of the truth) per script of the page's lines, the page aligned whole in reading order."""
    scripts = [ch_script for line in page.truth for ch_script in [line_script(line, page.written)] * len(_chars(line))]
    want = _chars("".join(page.truth))
    assert len(scripts) == len(want)  # each line's characters stand alone after normalising
    out: dict[str, list[int]] = {}
    for script, charged in zip(scripts, edits_by_position(want, _chars(text)), strict=True):
        out.setdefault(script, [0, 0])
        out[script][0] += charged
        out[script][1] += 1
    return {script: (edits, size) for script, (edits, size) in out.items()}


# ---------------------------------------------------------------------------------------------------- the runs
def documents() -> tuple[list[dict], list[dict]]:
    docs = [
        json.loads(line)
        for line in (DEV_SET / "documents.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    questions = [
        json.loads(line)
        for line in (DEV_SET / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return docs, questions


def _script(doc: dict) -> str:
    return "mixed" if doc.get("mixed_languages") else doc["lang"]


def _body(doc: dict) -> str:
    """The document's text as the notebook extracts it (markup and front matter out)."""
    loaded = load_document(DEV_SET / "docs" / doc["doc"])
    return loaded.text[loaded.body_start :]


def page_set(docs: list[dict], split: str, quick: bool) -> list[Page]:
    pages = []
    chosen = [d for d in docs if d["split"] == split][: 2 if quick else None]
    for i, doc in enumerate(chosen):
        text, lang = _body(doc), _script(doc)
        stem = doc["doc"].rsplit(".", 1)[0]
        clean = single(stem, lang, text, ("sans", "serif")[i % 2], (26, 30, 34)[i % 3])
        clean.written = doc["lang"]
        pages.append(clean)
        pages.append(two_columns(stem + "-2col", lang, text))  # dev too: the cut and the fixes see every kind
        pages.append(phone(stem + "-phone", lang, text))
        pages[-2].written = pages[-1].written = doc["lang"]
        if split == "dev":
            pages.append(degrade(clean, DEGRADATIONS[i % len(DEGRADATIONS)], i))
            continue
        for k, how in enumerate(DEGRADATIONS):
            if quick or (i + k) % 2 == 0:  # each degradation on half the test documents (all in --quick)
                pages.append(degrade(clean, how, i * 10 + k))
    return pages


def ocr_pages(pages: list[Page], folder: Path, threads: int, cold: bool = True) -> tuple[dict[str, object], float]:
    """Each page saved as a PNG and read by the notebook's own image reader (`cold`: the pages' cached results are
    removed first), in parallel as indexing does; the documents by name and the seconds it took."""
    from concurrent.futures import ThreadPoolExecutor

    folder.mkdir(parents=True, exist_ok=True)
    cache = default_ocr_cache()
    files = []
    for page in pages:
        raw = _png(page.image)
        file = folder / f"{page.name}.png"
        file.write_bytes(raw)
        if cold:
            (cache / (key := _image_key(raw))[:2] / f"{key}.json").unlink(missing_ok=True)
        files.append(file)
    limits = Limits(ocr_threads=1, ocr_cache=cache)
    started = time.perf_counter()

    def read(file: Path):
        try:
            return file.stem, load_document(file, limits=limits)
        except IngestError as err:
            return file.stem, err

    with ThreadPoolExecutor(max_workers=threads) as pool:  # one file per core, one ONNX thread each
        out = dict(pool.map(read, files))
    return out, time.perf_counter() - started


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _image_key(raw: bytes) -> str:
    import hashlib

    return page_key(hashlib.sha256(raw).hexdigest(), 1)


def rescored(page: Page, folder: Path, threshold: float) -> str:
    """The page's text with another confidence cut, from its cached OCR lines (no OCR again)."""
    raw = (folder / f"{page.name}.png").read_bytes()
    cached = Cache(default_ocr_cache()).get(_image_key(raw))
    if cached is None:
        return ""
    try:
        return build({1: cached}, folder / f"{page.name}.png", Limits(ocr_min_confidence=threshold)).text
    except IngestError:
        return ""


def cer_table(pages: list[Page], texts: dict[str, str]) -> dict[tuple[str, str], float]:
    """CER per (script, clean/degraded), summed over the pages' characters."""
    sums: dict[tuple[str, str], list[int]] = {}
    for page in pages:
        edits, size = cer(page.truth, texts.get(page.name, ""))
        state = "degraded" if "+" in page.kind else "clean"
        for key in ((page.lang, state), ("all", state)):
            sums.setdefault(key, [0, 0])
            sums[key][0] += edits
            sums[key][1] += size
    return {key: edits / max(size, 1) for key, (edits, size) in sums.items()}


def script_table(pages: list[Page], texts: dict[str, str]) -> dict[tuple[str, str], list[int]]:
    """[edits, characters] per (script of the line, clean/degraded), each page aligned whole: a mixed page's
    English lines count as en, its 繁體 lines as zh-Hant."""
    sums: dict[tuple[str, str], list[int]] = {}
    for page in pages:
        state = "degraded" if "+" in page.kind else "clean"
        for script, (edits, size) in cer_by_script(page, texts.get(page.name, "")).items():
            for key in ((script, state), ("all", state)):
                sums.setdefault(key, [0, 0])
                sums[key][0] += edits
                sums[key][1] += size
    return sums


def _text(result) -> str:
    return result.text if hasattr(result, "text") else ""


def end_to_end(docs: list[dict], questions: list[dict], work: Path, threads: int) -> dict:
    """A 20-page scanned PDF (one document per page) indexed by a real notebook; a question about page 14 asked."""
    from rag import Notebook

    chosen = docs[:20]
    images = [single(d["doc"], _script(d), _body(d), "serif", 28).image.convert("L") for d in chosen]
    pdf = work / "e2e" / "scanned-20-pages.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=200, save_all=True, append_images=images[1:])
    pdf.write_bytes(buffer.getvalue())
    import hashlib

    from ingest.readers.pdf import OCR_SCALE

    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    for n in range(1, 21):  # a cold cache for this file
        key = page_key(sha, n, f"pdf@{OCR_SCALE:.3f}")
        (default_ocr_cache() / key[:2] / f"{key}.json").unlink(missing_ok=True)
    page14 = chosen[13]["doc"]
    asked = [q for q in questions if q["doc"] == page14 and q.get("answerable")]
    nb = Notebook(path=work / "e2e" / ".rag", home=work / "e2e", ocr_threads=threads)
    started = time.perf_counter()
    report = nb.index(pdf, progress=False)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = nb.index(pdf, progress=False)
    second = time.perf_counter() - started
    answers = [nb.ask(q["question"]) for q in asked]
    top_pages = [(nb.search(q["question"], k=5) or [None])[0] for q in asked]
    fresh = Notebook(path=work / "e2e" / ".rag2", home=work / "e2e", ocr_threads=threads)
    started = time.perf_counter()
    fresh.index(pdf, progress=False)
    cached = time.perf_counter() - started
    return {
        "pages": 20,
        "index_seconds": round(first, 1),
        "pages_per_second": round(20 / first, 3),
        "errors": report.errors,
        "reindex_unchanged_seconds": round(second, 2),
        "reindex_unchanged_files": again.unchanged,
        "new_notebook_same_scan_seconds": round(cached, 1),
        "questions": [
            {
                "id": q["id"],
                "question": q["question"],
                "refused": a.refused,
                "cited_pages": [c.page for c in a.citations],
                "boxes_on_first": len(a.citations[0].bbox) if a.citations else 0,
                "top_hit_page": hit.page if hit else None,
            }
            for q, a, hit in zip(asked, answers, top_pages)
        ],
        "right_page_cited": sum(not a.refused and bool(a.citations) and a.citations[0].page == 14 for a in answers),
        "answered": sum(not a.refused for a in answers),
        "top_hit_on_page_14": sum(hit is not None and hit.page == 14 for hit in top_pages),
    }


def retrieval(docs: list[dict], questions: list[dict], ocr_folder: Path, work: Path, quick: bool) -> dict:
    """R@5 of the dev questions over the dev documents indexed as text and as their OCR'd page images."""
    from rag import Notebook

    dev = [d for d in docs if d["split"] == "dev"][: 2 if quick else None]
    names = {d["doc"]: d["doc"].rsplit(".", 1)[0] for d in dev}
    text_home, image_home = work / "as-text", work / "as-images"
    for home in (text_home, image_home):
        (home / "docs").mkdir(parents=True, exist_ok=True)
    for d in dev:
        (text_home / "docs" / f"{names[d['doc']]}.txt").write_text(_body(d), encoding="utf-8")
        shutil.copy(ocr_folder / f"{names[d['doc']]}.png", image_home / "docs" / f"{names[d['doc']]}.png")
    asked = [q for q in questions if q["doc"] in names and q.get("answerable")]
    out = {"documents": len(dev), "questions": len(asked)}
    for label, home in (("text", text_home), ("ocr", image_home)):
        nb = Notebook(path=home / ".rag", home=home)
        nb.index(home / "docs", progress=False)
        found = 0
        for q in asked:
            stems = {Path(h.source).stem for h in nb.search(q["question"], k=5)}
            found += names[q["doc"]] in stems
        out[f"r5_{label}"] = round(found / max(len(asked), 1), 3)
    out["difference"] = round(out["r5_text"] - out["r5_ocr"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 documents per split: a smoke run, not the figures")
    parser.add_argument("--threads", type=int, default=2, help="cores to read pages on (the issue asks for 2)")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        metavar="N",
        help="reuse the OCR cache for CER and retrieval (same OCR output) and time only N test pages read cold",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "ocr.md")
    args = parser.parse_args()
    go_offline()
    docs, questions = documents()
    work = Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    try:
        dev_pages, test_pages = page_set(docs, "dev", args.quick), page_set(docs, "test", args.quick)
        photos = photos_of_nothing()
        print(f"{len(dev_pages)} dev pages, {len(test_pages)} test pages, {len(photos)} photos of nothing", flush=True)
        cold = not args.warm
        _, dev_seconds = ocr_pages(dev_pages, work / "dev", args.threads, cold)
        test_read, test_seconds = ocr_pages(test_pages + photos, work / "test", args.threads, cold)
        timed = len(dev_pages) + len(test_pages) + len(photos)
        if args.warm:  # the speed from a cold sample: every other test page up to N
            sample = test_pages[::2][: args.warm]
            _, dev_seconds = ocr_pages(sample, work / "speed", args.threads)
            timed, test_seconds = len(sample), 0.0
        # The confidence cut: the one with the lowest CER on the dev pages; on a tie the notebook's default (so the
        # test figures are those of what ships), else the higher cut (fewer noise lines).
        shipped = Settings.model_fields["ocr_min_confidence"].default
        sweep = {}
        for t in THRESHOLDS:
            texts = {p.name: rescored(p, work / "dev", t) for p in dev_pages}
            sweep[t] = cer_table(dev_pages, texts)
        chosen = min(
            THRESHOLDS,
            key=lambda t: (round(sweep[t][("all", "clean")] + sweep[t][("all", "degraded")], 4), t != shipped, -t),
        )
        test_texts = {p.name: rescored(p, work / "test", chosen) for p in test_pages}
        table = cer_table(test_pages, test_texts)
        by_script = script_table(test_pages, test_texts)
        photo_words = {p.name: _text(test_read[p.name]) for p in photos}
        per_page = []
        for p in test_pages:
            edits, size = cer(p.truth, test_texts[p.name])
            per_page.append((p.name, p.lang, p.kind, size, edits / max(size, 1)))
        e2e = None if args.skip_e2e else end_to_end(docs, questions, work, args.threads)
        r5 = retrieval(docs, questions, work / "dev", work, args.quick)
        pages_read = timed
        report = {
            "chosen_threshold": chosen,
            "sweep": {str(t): {f"{k[0]}/{k[1]}": round(v, 4) for k, v in s.items()} for t, s in sweep.items()},
            "cer": {f"{k[0]}/{k[1]}": round(v, 4) for k, v in table.items()},
            "cer_by_line_script": {f"{k[0]}/{k[1]}": v for k, v in by_script.items()},
            "pages_per_second": round(pages_read / (dev_seconds + test_seconds), 3),
            "pages_read": pages_read,
            "photos_with_words": {k: v for k, v in photo_words.items() if v.strip()},
            "end_to_end": e2e,
            "retrieval": r5,
            "per_page": per_page,
        }
        print(json.dumps({k: v for k, v in report.items() if k != "per_page"}, ensure_ascii=False, indent=1))
        write(report, args, dev_pages, test_pages)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write(report: dict, args, dev_pages: list[Page], test_pages: list[Page]) -> None:
    scripts = ("zh-Hant", "zh-Hans", "en", "mixed", "all")
    cer = report["cer"]
    mark = lambda v, t: "–" if v is None else f"{v:.2%}" + (" ✓" if v <= t else " ✗")
    script_rows = []
    for s in ("zh-Hant", "zh-Hans", "en", "all"):
        counts = [report["cer_by_line_script"].get(f"{s}/{state}") for state in ("clean", "degraded")]
        rates = [None if c is None else c[0] / max(c[1], 1) for c in counts]
        sizes = " / ".join("0" if c is None else f"{c[1]:,}" for c in counts)
        script_rows.append(f"| {s} | {sizes} | {mark(rates[0], TARGET_CLEAN)} | {mark(rates[1], TARGET_DEGRADED)} |")
    rows = []
    for s in scripts:
        clean, degraded = cer.get(f"{s}/clean"), cer.get(f"{s}/degraded")
        pages = sum(p.lang == s or s == "all" for p in test_pages)
        rows.append(f"| {s} | {pages} | {mark(clean, TARGET_CLEAN)} | {mark(degraded, TARGET_DEGRADED)} |")
    kinds: dict[str, list[float]] = {}
    for _, _, kind, _, rate in report["per_page"]:
        kinds.setdefault(kind, []).append(rate)
    kind_rows = [f"| {k} | {len(v)} | {statistics.mean(v):.2%} | {max(v):.2%} |" for k, v in sorted(kinds.items())]
    sweep_rows = [
        f"| {t} | {s.get('all/clean', 0):.2%} | {s.get('all/degraded', 0):.2%} |" for t, s in report["sweep"].items()
    ]
    e2e = report["end_to_end"] or {}
    r5 = report["retrieval"]
    lines = [
        "# OCR bench (issue 35)",
        "",
        (
            f"`make bench-ocr`{' --quick' if args.quick else ''} on {time.strftime('%Y-%m-%d')}, {args.threads} cores (shared with "
            "other work: timings are upper bounds). rapidocr 3.10.0, PP-OCRv6 small det/rec from its wheel, ONNX Runtime."
        ),
        (
            "Pages drawn with Pillow in Noto Sans/Serif CJK (TC faces for 繁體, SC otherwise) at 26-34 px (10-12 pt at 200 dpi) "
            "from the notebook development set (tests/data/notebook_dev); the drawn lines are the ground truth. CER = edit "
            "distance / characters of the truth, both normalised as the notebook normalises text (NFKC, but full-width "
            "punctuation kept: 「?」 read for 「？」 is an error) with white space removed, in reading order (so a column "
            "read in the wrong order counts as errors). A markdown table is drawn as its source lines, pipes and "
            "rules included, and scored so."
        ),
        "",
        f"## Character error rate (test documents; targets: clean ≤ {TARGET_CLEAN:.0%}, degraded ≤ {TARGET_DEGRADED:.0%})",
        "",
        (
            "By the script of each drawn line (en unless most of its letters are Han; 繁/简 by the characters only one "
            "script writes, else the document's label): each page is aligned whole in reading order and each edit "
            "charged to the line of the truth character it falls on (an insertion to the one before it)."
        ),
        "",
        "| script of the line | characters (clean / degraded) | clean | degraded |",
        "|---|---|---|---|",
        *script_rows,
        "",
        'By document (as before: a document that mixes languages is "mixed", whatever its lines):',
        "",
        "| document | pages | clean | degraded |",
        "|---|---|---|---|",
        *rows,
        "",
        "| page kind | pages | mean CER | worst page |",
        "|---|---|---|---|",
        *kind_rows,
        "",
        (
            f"Degradations: {', '.join(DEGRADATIONS)} (JPEG quality 40; drawn for 200 dpi and scaled to 150; turned ±1-1.5°; "
            "Gaussian blur radius 1.2; brightness falling to 55% across the page on grey paper)."
        ),
        "",
        (
            f"## Confidence cut (chosen on the {len(dev_pages)} dev pages: {report['chosen_threshold']}; on a tie the "
            "notebook's default RAG_OCR_MIN_CONFIDENCE, so the test figures are what ships)"
        ),
        "",
        "| RAG_OCR_MIN_CONFIDENCE | dev CER clean | dev CER degraded |",
        "|---|---|---|",
        *sweep_rows,
        "",
        (
            f"Photos of nothing (sky with grain, a wall, blurred shapes): {3 - len(report['photos_with_words'])} of 3 gave "
            f'"no text found"{"" if not report["photos_with_words"] else ": words from " + ", ".join(report["photos_with_words"])}.'
        ),
        "",
        "## Speed",
        "",
        (
            f"{report['pages_read']} pages read (cold cache) at **{report['pages_per_second']} pages/s** on {args.threads} cores "
            "(one page per core, one ONNX thread each)."
        ),
        "",
        "## A 20-page scanned PDF, end to end",
        "",
    ]
    if e2e:
        lines += [
            (
                f"Indexed by a real notebook in {e2e['index_seconds']} s ({e2e['pages_per_second']} pages/s with chunking and "
                f"embedding); re-indexed unchanged in {e2e['reindex_unchanged_seconds']} s ({e2e['reindex_unchanged_files']} file "
                f"unchanged); the same scan into a new notebook in {e2e['new_notebook_same_scan_seconds']} s (OCR cache)."
            ),
            (
                f"The {len(e2e['questions'])} authored questions about page 14's document: top search hit on page 14 for "
                f"**{e2e['top_hit_on_page_14']}**; answered {e2e['answered']}, and of those the first citation is on "
                f"page 14 for **{e2e['right_page_cited']}** (the others refused by the extractive answerer)."
            ),
            "",
            "| question | answered | cited pages | boxes on the first | top hit page |",
            "|---|---|---|---|---|",
            *[
                f"| {q['id']} {q['question']} | {'no' if q['refused'] else 'yes'} | {q['cited_pages']} | "
                f"{q['boxes_on_first']} | {q['top_hit_page']} |"
                for q in e2e["questions"]
            ],
        ]
    else:
        lines.append("(skipped)")
    lines += [
        "",
        "## Retrieval on OCR'd pages vs the same documents as text",
        "",
        (
            f"{r5['documents']} dev documents, {r5['questions']} answerable dev questions (authored), R@5 = share whose "
            f"document is among the top 5 hits: text **{r5['r5_text']}**, OCR'd images **{r5['r5_ocr']}** (difference "
            f"{r5['difference']:+.3f}; target within 0.03)."
        ),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
