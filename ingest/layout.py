"""Reading order of OCR'd lines as a person reads a page: columns one after another, wrapped lines joined into
paragraphs, a screenshot's status bar, buttons and timestamps kept apart from the sentences."""

from __future__ import annotations

import statistics
from dataclasses import replace

from ingest.ocr import Line
from ingest.readers.base import joint

# A column gutter is a vertical strip at least this many line heights wide that no narrow line crosses.
GUTTER_HEIGHTS = 1.2
# At most this share of the lines may cross a gutter (headings, captions, rules that run across the columns).
CROSSING = 0.2
# Two boxes on one row closer than this many line heights are one line the detector cut in two.
SAME_LINE_GAP = 1.0
# Lines of a paragraph: the gap below a line under this many line heights, heights within this ratio, left edges
# within this many line heights, and the line above reaching to within this many line heights of the right edge.
LINE_GAP = 0.9
HEIGHT_RATIO = 1.35
LEFT_EDGE = 1.5
FULL_LINE = 2.5
# A line that ends a sentence must reach closer to the edge to count as wrapped (a turn of an interview ends there).
SENTENCE_ENDS = tuple("。！？!?.」』")
# A page whose lines are mostly this much taller than wide (and at least two characters) is set vertically.
VERTICAL = 1.5


def _height(line: Line) -> float:
    return max(line.box[3] - line.box[1], 1.0)


def _overlap(a: Line, b: Line) -> float:
    """How much two lines share vertically, as a share of the shorter."""
    shared = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return max(shared, 0.0) / min(_height(a), _height(b))


def _gutter(lines: list[Line], h: float) -> tuple[float, float] | None:
    """The widest vertical strip, inside the lines' extent, that at most a few lines cross (a heading or a caption
    across both columns), with columns side by side on its two sides (lines at the same height left and right of
    it), else None: chat bubbles left and right take turns, columns do not."""
    left_edge, right_edge = int(min(ln.box[0] for ln in lines)), int(max(ln.box[2] for ln in lines)) + 1
    cover = [0] * (right_edge - left_edge + 1)
    for ln in lines:
        for x in range(int(ln.box[0]) - left_edge, int(ln.box[2]) - left_edge + 1):
            cover[x] += 1
    allowed = int(CROSSING * len(lines))
    gaps, start = [], None
    for x, count in enumerate([*cover, len(lines) + 1]):
        if count <= allowed and start is None:
            start = x
        elif count > allowed and start is not None:
            if start > 0 and x < len(cover) and x - start >= GUTTER_HEIGHTS * h:
                gaps.append(_deepest(cover, start, x, left_edge))
            start = None
    for a, b in sorted(gaps, key=lambda g: g[0] - g[1]):
        left = [ln for ln in lines if ln.box[2] <= a]
        right = [ln for ln in lines if ln.box[0] >= b]
        if len(left) < 3 or len(right) < 3:
            continue
        side_by_side = sum(any(_overlap(x, y) > 0.5 for y in right) for x in left)
        if side_by_side >= 0.5 * min(len(left), len(right)):
            return a, b
    return None


def _deepest(cover: list[int], start: int, end: int, offset: int) -> tuple[int, int]:
    """The widest part of a low strip that the fewest lines cross: lines that end a little into the gutter (a long
    line of the left column, a table row) or start in it must not count as crossing it, so the gutter is that part,
    however narrow, not the whole strip."""
    least = min(cover[start:end])
    best, run = (start, start), None
    for x in range(start, end + 1):
        if x < end and cover[x] == least:
            run = x if run is None else run
        elif run is not None:
            if x - run > best[1] - best[0]:
                best = (run, x)
            run = None
    return best[0] + offset, best[1] + offset


def _columns(lines: list[Line], h: float, depth: int = 0) -> list[list[Line]]:
    """The lines in blocks read one after another: between two lines that cross the gutter, the left column, then
    the right (each split again if it has columns of its own)."""
    gutter = _gutter(lines, h) if len(lines) >= 6 and depth < 3 else None
    if gutter is None:
        return [lines]
    a, b = gutter
    crossing = sorted((ln for ln in lines if ln.box[0] < b and ln.box[2] > a), key=lambda ln: ln.box[1])
    narrow = [ln for ln in lines if ln not in crossing]
    blocks: list[list[Line]] = []
    top = float("-inf")
    for cut in [*crossing, None]:
        bottom = cut.box[1] if cut is not None else float("inf")
        band = [ln for ln in narrow if top <= (ln.box[1] + ln.box[3]) / 2 < bottom]
        for side in ([ln for ln in band if ln.box[2] <= a], [ln for ln in band if ln.box[0] >= b]):
            if side:
                blocks += _columns(side, h, depth + 1)
        if cut is not None:
            blocks.append([cut])
            top = (cut.box[1] + cut.box[3]) / 2
    return blocks


def _merge(a: Line, b: Line) -> Line:
    box = (min(a.box[0], b.box[0]), min(a.box[1], b.box[1]), max(a.box[2], b.box[2]), max(a.box[3], b.box[3]))
    return Line(a.text + joint(a.text, b.text) + b.text, min(a.score, b.score), box)


def _rows(block: list[Line], h: float) -> list[list[Line]]:
    """The block's lines in rows top to bottom, each row left to right, pieces of one cut line joined."""
    rows: list[list[Line]] = []
    for ln in sorted(block, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if rows and any(_overlap(ln, other) > 0.5 for other in rows[-1]):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    out = []
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
        merged = [row[0]]
        for ln in row[1:]:
            if ln.box[0] - merged[-1].box[2] < SAME_LINE_GAP * h:
                merged[-1] = _merge(merged[-1], ln)
            else:
                merged.append(ln)
        out.append(merged)
    return out


def _continues(above: Line, below: Line, right_edge: float) -> bool:
    """Whether `below` is the next line of `above`'s paragraph: close under it, as tall, starting where it starts,
    and `above` wrapped (it runs to the block's right edge)."""
    h = max(_height(above), _height(below))
    return (
        below.box[1] - above.box[3] < LINE_GAP * h
        and h / min(_height(above), _height(below)) <= HEIGHT_RATIO
        and abs(below.box[0] - above.box[0]) < LEFT_EDGE * h
        and above.box[2] >= right_edge - (FULL_LINE if not above.text.endswith(SENTENCE_ENDS) else 1.0) * h
    )


def _vertical(lines: list[Line]) -> bool:
    tall = [ln for ln in lines if len(ln.text) >= 2 and _height(ln) > VERTICAL * (ln.box[2] - ln.box[0])]
    return len(tall) > len(lines) / 2


def paragraphs(lines: list[Line]) -> list[list[Line]]:
    """The page's lines as paragraphs in reading order; a line alone on a row beside others (a status bar, a
    button, a name and a time) is a paragraph of its own."""
    if not lines:
        return []
    if _vertical(lines):  # columns of characters, read right to left
        return [sorted(lines, key=lambda ln: -ln.box[2])]
    h = statistics.median(_height(ln) for ln in lines)
    out: list[list[Line]] = []
    for block in _columns(lines, h):
        right_edge = max(ln.box[2] for ln in block)
        current: list[Line] = []
        for row in _rows(block, h):
            if len(row) == 1 and current and _continues(current[-1], row[0], right_edge):
                current.append(row[0])
                continue
            if current:
                out.append(current)
            current = [row[0]] if len(row) == 1 else []
            if len(row) > 1:
                out += [[ln] for ln in row]
        if current:
            out.append(current)
    return [[replace(ln, text=ln.text.strip()) for ln in para if ln.text.strip()] for para in out if para]
