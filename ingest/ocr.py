"""Offline OCR of page images with the models inside the rapidocr wheel: lines with boxes and confidence, pages
read in parallel, results cached by content hash."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import IngestError
from rag.text.script import HAN, han_share
from rag.util import available_cpus, save_cache_copy

# The models the rapidocr 3.10.0 wheel ships (PP-OCRv6 small detection and recognition, the mobile direction
# classifier). Named explicitly: with no model_path rapidocr resolves a download URL and fetches what is missing.
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}
# Part of every cache key: another model or another way of reading gives other lines.
ENGINE_TAG = "rapidocr-3.10.0-ppocrv6-small-3"  # 2: long lines read as a few marks read again; 3: from a crop
# turned upright along the line's own box
# A line needs this many letters or digits unless the recogniser is at least NOISE_SURE of it: single marks that a
# photo's texture or a scan's specks make are noise.
MIN_LINE_CHARS = 2
NOISE_SURE = 0.9
# A table's rule ("|---|---|", "+----+----+", "=====") has no letters but is no noise: a wide line of at least this
# many dashes or equals signs, its marks mostly rule marks (the recogniser reads a pipe as "]" or "1" now and
# then), with a pipe-delimited row (at least two "|") just above or below it.
RULE_MARKS = frozenset("|-:+=")
RULE_DASHES = 3
RULE_SHARE = 0.8
RULE_WIDE = 3.0
TABLE_GAP = 1.5
# Rows of one table: left edges within this many line heights (a pipe drawn there, read or not).
TABLE_EDGE = 0.5
# A page whose kept lines have fewer letters or digits than this has no text (a photo of nothing).
MIN_PAGE_CHARS = 3

# A line read less surely than this, or with fewer characters than this share of its width in line heights (a
# Chinese character is about one line height wide, a Latin letter half), is read again from its own crop.
REREAD_BELOW = 0.8
SHORT_FOR_WIDTH = 0.25
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Line:
    """One line the recogniser read: its text, how sure it is (0-1) and its box (x0, y0, x1, y1) on the page."""

    text: str
    score: float
    box: Box


@dataclass
class PageText:
    """What OCR read on one page: its lines and the page's size, in the page's own units."""

    width: float
    height: float
    lines: list[Line]

    def kept(self, min_confidence: float) -> tuple[list[Line], int]:
        """The lines worth indexing and how many were kept out for low confidence (noise is not counted)."""
        sure = [line for line in self.lines if line.score >= min_confidence]
        kept = [
            line
            for line in sure
            if _letters(line.text) >= MIN_LINE_CHARS or line.score >= NOISE_SURE or _table_rule(line, sure)
        ]
        if sum(_letters(line.text) for line in kept) < MIN_PAGE_CHARS:
            kept = []
        return kept, len(self.lines) - len(sure)

    def as_json(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "lines": [[ln.text, ln.score, *ln.box] for ln in self.lines],
        }

    @classmethod
    def from_json(cls, data: dict) -> PageText:
        lines = [Line(str(t), float(s), (float(a), float(b), float(c), float(d))) for t, s, a, b, c, d in data["lines"]]
        return cls(float(data["width"]), float(data["height"]), lines)


# Chinese is set with full-width marks; the recogniser often gives their ASCII look-alikes ("多久?" for "多久？").
FULL_WIDTH = str.maketrans("(),:;?!", "（），：；？！")
_ASCII_MARK = re.compile(r"[(),:;?!]")


def chinese_marks(lines: list[str], page_chinese: bool = False) -> list[str]:
    """A paragraph's lines with their ASCII marks as the full-width ones Chinese is set with, when the paragraph is
    mostly Han characters (a Latin word counting as one letter), or holds some on a page that is (its heading
    "回覆 1 (wenhu_rider):" is half names); a comma or colon between digits stays (2,300; 10:32). Same lengths,
    so the lines' offsets hold."""
    text = "".join(lines)
    if not (han_share(text) > 0.5 or page_chinese and HAN.search(text)):
        return lines

    def full_width(line: str) -> str:
        def mark(m: re.Match[str]) -> str:
            before, after = line[m.start() - 1 : m.start()], line[m.end() : m.end() + 1]
            if m.group() in ",:" and before.isdigit() and after.isdigit():
                return m.group()
            return m.group().translate(FULL_WIDTH)

        return _ASCII_MARK.sub(mark, line)

    return [full_width(line) for line in lines]


def _is_rule(text: str) -> bool:
    marks = text.replace(" ", "")
    dashes = marks.count("-") + marks.count("=")
    return dashes >= RULE_DASHES and sum(ch in RULE_MARKS for ch in marks) >= RULE_SHARE * len(marks)


def _pipe_row(text: str) -> bool:
    return text.count("|") >= 2 and not _is_rule(text)


def _next_to(a: Line, b: Line) -> bool:
    """Whether b is on the line just above or below a, sharing some of its width."""
    h = max(a.box[3] - a.box[1], 1.0)
    gap = max(b.box[1] - a.box[3], a.box[1] - b.box[3])
    return a is not b and 0 <= gap < TABLE_GAP * h and min(a.box[2], b.box[2]) > max(a.box[0], b.box[0])


def _table_rule(line: Line, lines: list[Line]) -> bool:
    """A wide line of rule marks next to a table's row: the table's rule, not a speck."""
    x0, y0, x1, y1 = line.box
    return (
        _is_rule(line.text)
        and x1 - x0 >= RULE_WIDE * max(y1 - y0, 1.0)
        and any(_pipe_row(other.text) and _next_to(line, other) for other in lines)
    )


def table_edges(lines: list[Line]) -> list[Line]:
    """The lines with the outer pipes of a table's rows given back where the recogniser left them out. A table: rows
    with pipes (and its rules) one under another, their left edges aligned, whose whole rows ("|a|b|": at least two,
    or one and a rule) agree on their number of pipes. A row of it short of exactly its missing "|" at the start or
    the end gets them back: the pipe is drawn there, at the aligned edge, only the recogniser left it out."""
    tables: list[list[int]] = []
    for i in sorted(range(len(lines)), key=lambda i: lines[i].box[1]):
        line = lines[i]
        if not (_pipe_row(line.text) or _is_rule(line.text)):
            continue
        h = max(line.box[3] - line.box[1], 1.0)
        for table in tables:
            last = lines[table[-1]]
            if _next_to(last, line) and abs(last.box[0] - line.box[0]) < TABLE_EDGE * h:
                table.append(i)
                break
        else:
            tables.append([i])
    out = list(lines)
    for table in tables:
        texts = [lines[i].text for i in table]
        whole = [t.count("|") for t in texts if _pipe_row(t) and t.startswith("|") and t.endswith("|")]
        rules = sum(_is_rule(t) for t in texts)
        if len(set(whole)) != 1 or len(whole) + min(rules, 1) < 2 or len(table) < 3:
            continue
        for i in table:
            text = lines[i].text
            mended = ("" if text.startswith("|") else "|") + text + ("" if text.endswith("|") else "|")
            if _pipe_row(text) and mended != text and mended.count("|") == whole[0]:
                out[i] = Line(mended, lines[i].score, lines[i].box)
    return out


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def model_paths() -> dict[str, Path]:
    """The bundled model files (IngestError-free: a missing one is reported when a page is read)."""
    import rapidocr

    folder = Path(rapidocr.__file__).resolve().parent / "models"
    return {task: folder / name for task, name in MODEL_FILES.items()}


def engine_params(threads: int) -> dict:
    """rapidocr settings: the bundled models by path (never a download), `threads` ONNX threads, every line returned
    with its score (the confidence cut is ours, so it can be changed without reading again), quiet."""
    params: dict = {
        "Global.log_level": "error",
        "Global.text_score": 0.0,
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    for task, path in model_paths().items():
        params[f"{task}.model_path"] = str(path)
    return params


class _Engines:
    """RapidOCR instances, one per page being read at once (an instance keeps per-call state), made on first use."""

    def __init__(self):
        self.lock = threading.Lock()
        self.free: dict[int, list] = {}

    def take(self, threads: int):
        with self.lock:
            if self.free.get(threads):
                return self.free[threads].pop()
        missing = [str(p) for p in model_paths().values() if not p.is_file()]
        if missing:
            raise RuntimeError(f"OCR model missing: {', '.join(missing)} (reinstall rapidocr==3.10.0)")
        from rapidocr import RapidOCR

        return RapidOCR(params=engine_params(threads))

    def give(self, threads: int, engine) -> None:
        with self.lock:
            self.free.setdefault(threads, []).append(engine)


ENGINES = _Engines()


def recognise(image, threads: int = 1, scale: float = 1.0) -> PageText:
    """OCR one PIL image (RGB); boxes divided by `scale` (the image's pixels per page unit)."""
    import numpy as np

    engine = ENGINES.take(threads)
    lines = []
    try:
        # rapidocr reads arrays as OpenCV's BGR; its switches stick between calls, so each call names them all.
        result = engine(np.asarray(image)[:, :, ::-1], use_det=True, use_cls=True, use_rec=True)
        if getattr(result, "boxes", None) is not None and result.txts:
            for quad, text, score in zip(result.boxes, result.txts, result.scores):
                xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
                pixels = (min(xs), min(ys), max(xs), max(ys))
                text, score = _read_again(engine, image, quad, str(text).strip(), float(score))
                box = tuple(round(v / scale, 1) for v in pixels)
                lines.append(Line(text, round(score, 4), box))
    finally:
        ENGINES.give(threads, engine)
    return PageText(round(image.width / scale, 1), round(image.height / scale, 1), lines)


def _read_again(engine, image, quad, text: str, score: float) -> tuple[str, float]:
    """A long line read as a few characters, or read unsurely, is read again from a padded crop of its box turned
    upright: rapidocr's own crop of a long line sometimes comes back as one or two marks ("一" for a whole sentence)
    or, on a page turned a degree or two, as scraps ("racer  ey  e  n  it"), where the padded upright crop reads it
    whole; the surer reading wins."""
    import cv2
    import numpy as np

    corners = np.asarray(quad, dtype=np.float32).reshape(4, 2)  # top-left, top-right, bottom-right, bottom-left
    width = float(np.linalg.norm(corners[1] - corners[0]))
    height = max(float(np.linalg.norm(corners[3] - corners[0])), 1.0)
    if score >= REREAD_BELOW and len(text) >= SHORT_FOR_WIDTH * width / height:
        return text, score
    # The box grown by a fifth of its height on every side, along its own axes, mapped onto an upright rectangle.
    along = (corners[1] - corners[0]) / max(width, 1.0)
    across = (corners[3] - corners[0]) / height
    pad = height * 0.2
    grown = corners + np.array(
        [-along - across, along - across, along + across, -along + across], dtype=np.float32
    ) * np.float32(pad)
    w, h = round(width + 2 * pad), round(height + 2 * pad)
    upright = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    pixels = np.asarray(image)
    crop = cv2.warpPerspective(
        pixels, cv2.getPerspectiveTransform(grown, upright), (w, h), borderMode=cv2.BORDER_REPLICATE
    )
    again = engine(crop[:, :, ::-1], use_det=False, use_cls=False, use_rec=True)
    if getattr(again, "txts", None) and float(again.scores[0]) > score:
        return str(again.txts[0]).strip(), float(again.scores[0])
    return text, score


class Cache:
    """OCR results as JSON files named by the page's key (the file's content hash, the page, the engine): an
    unchanged scan is never read twice. A folder that cannot be written is no cache, never an error."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def _file(self, key: str) -> Path | None:
        return self.folder / key[:2] / f"{key}.json" if self.folder is not None else None

    def get(self, key: str) -> PageText | None:
        file = self._file(key)
        try:
            return PageText.from_json(json.loads(file.read_text(encoding="utf-8"))) if file else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, page: PageText) -> None:
        file = self._file(key)
        if file is not None:
            data = json.dumps(page.as_json(), ensure_ascii=False).encode()
            save_cache_copy(file, lambda f: f.write(data))


def page_key(file_sha256: str, page: int, how: str = "") -> str:
    """The cache key of one page of a file: its content hash, the page, how it was rendered, the engine."""
    import hashlib

    return hashlib.sha256(f"{file_sha256}:{page}:{how}:{ENGINE_TAG}".encode()).hexdigest()


@dataclass
class PageJob:
    """A page to read: its 1-based number, its cache key and how to get its image (and pixels per page unit)."""

    number: int
    key: str
    image: Callable[[], tuple[object, float]]


def read_pages(jobs: list[PageJob], path: Path, limits, what: str = "page") -> dict[int, PageText]:
    """Each job's PageText by page number: cached pages from the cache, the others read in parallel (one ONNX
    thread each, as many at once as Settings.ocr_threads), with a progress bar per page on stderr and
    `limits.on_ocr_page` told each page read."""
    if len(jobs) > limits.max_ocr_pages:
        raise IngestError(path, f"{len(jobs)} {what}s to OCR, more than {limits.max_ocr_pages} (RAG_MAX_OCR_PAGES)")
    cache = Cache(limits.ocr_cache)
    out: dict[int, PageText] = {}
    todo = []
    for job in jobs:
        cached = cache.get(job.key)
        if cached is not None:
            out[job.number] = cached
        else:
            todo.append(job)
    if not todo:
        return out
    workers = max(1, min(limits.ocr_threads or available_cpus(), len(todo)))
    threads = max(1, (limits.ocr_threads or available_cpus()) // workers)

    def read(job: PageJob) -> tuple[int, PageText]:
        image, scale = job.image()
        page = recognise(image, threads, scale)
        cache.put(job.key, page)
        return job.number, page

    from tqdm import tqdm

    show = limits.progress and len(todo) > 1
    bar = tqdm(total=len(todo), unit=what, desc=f"OCR {path.name}"[:40], disable=not show, file=sys.stderr, leave=False)
    told = limits.on_ocr_page or (lambda name, done, total: None)
    try:
        told(path.name, 0, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rag-ocr") as pool:
            for done, (number, page) in enumerate(pool.map(read, todo), 1):
                out[number] = page
                bar.update(1)
                told(path.name, done, len(todo))
    finally:
        bar.close()
    return out
