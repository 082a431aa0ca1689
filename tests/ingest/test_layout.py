"""Reading order of OCR'd lines (ingest.layout) on line boxes laid out as real pages are: no OCR needed."""

from __future__ import annotations

from ingest.layout import paragraphs
from ingest.ocr import Line


def _line(text: str, x: float, y: float, width: float, height: float = 20) -> Line:
    return Line(text, 0.99, (x, y, x + width, y + height))


def _texts(paras: list[list[Line]]) -> list[str]:
    return [" ".join(ln.text for ln in para) for para in paras]


def test_two_columns_are_read_one_after_the_other_under_a_heading_across_both():
    lines = [_line("Heading across both columns of the page", 40, 10, 700)]
    for row in range(5):
        lines.append(_line(f"left{row} words words words", 40, 60 + row * 28, 320))
        lines.append(_line(f"right{row} words words words", 420, 60 + row * 28, 320))
    lines.append(_line("Footer across the page, page 3 of 9", 40, 260, 700))
    paras = paragraphs(lines)
    text = "\n".join(_texts(paras))
    assert (
        text.index("Heading") < text.index("left0") < text.index("left4") < text.index("right0") < text.index("Footer")
    )
    assert [ln.text for ln in paras[1]] == [f"left{r} words words words" for r in range(5)]  # one wrapped paragraph


def test_chat_bubbles_left_and_right_keep_their_turns():
    lines = []
    for turn in range(6):  # bubbles alternate sides, never side by side: a conversation, not columns
        x = 20 if turn % 2 == 0 else 300
        lines.append(_line(f"message {turn}", x, 20 + turn * 50, 150))
    assert _texts(paragraphs(lines)) == [f"message {t}" for t in range(6)]


def test_screenshot_chrome_stays_apart_from_the_sentences():
    lines = [
        _line("9:41", 10, 5, 40, 16),
        _line("5G 100%", 300, 5, 70, 16),
        _line("今天的會議改到下午三點，請大家務必", 10, 60, 360),
        _line("準時參加。", 10, 86, 100),
        _line("Like", 10, 140, 40, 16),
        _line("Reply", 120, 140, 50, 16),
        _line("10:32", 300, 140, 50, 16),
    ]
    texts = _texts(paragraphs(lines))
    assert texts[:2] == ["9:41", "5G 100%"]
    assert (
        "今天的會議改到下午三點，請大家務必 準時參加。" in texts
    )  # joined into one paragraph (the builder joins without a space)
    assert {"Like", "Reply", "10:32"} <= set(texts)


def test_short_lines_of_a_list_are_not_joined_but_a_wrapped_line_is():
    lines = [
        _line("A long first line of the paragraph that runs to the edge", 20, 10, 600),
        _line("and wraps here.", 20, 34, 160),
        _line("Item one", 20, 80, 90),
        _line("Item two", 20, 104, 90),
    ]
    assert _texts(paragraphs(lines)) == [
        "A long first line of the paragraph that runs to the edge and wraps here.",
        "Item one",
        "Item two",
    ]


def test_vertical_text_is_read_right_to_left():
    lines = [
        _line("第一行直書", 200, 10, 24, 150),
        _line("第二行直書", 160, 10, 24, 150),
        _line("第三行", 120, 10, 24, 90),
    ]
    assert [ln.text for ln in paragraphs(lines)[0]] == ["第一行直書", "第二行直書", "第三行"]
