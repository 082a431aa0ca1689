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


def test_a_right_column_starting_a_few_pixels_into_the_gutter_is_still_read_after_the_left_one():
    """Boxes of a two-column forum page (the bench's dev page forum-01, 1400 px wide): the left column holds short
    table rows, so the strip few lines cross runs from x≈570 to the right column; its right column's boxes start
    at 725-729, a little into that strip. Only the strip no line crosses (698-725) is the gutter: the whole strip
    made the right column's lines "cross" it, and the page was read as rows across both columns."""
    left = [
        ("#[問題]通勤騎機車還是搭捷運比較划算？", 67, 78, 698, 116),
        ("住新店，公司在內湖，單程大約17公里。現在騎機車，", 70, 240, 653, 267),
        ("想改搭捷運，但不知道算起來哪個划算，大家幫我看看。", 69, 278, 664, 304),
        ("我自己整理了一下每月成本：", 69, 315, 376, 342),
        ("|項目|機車|捷運|", 67, 352, 286, 382),
        ("油錢／車資|約650元|1,200元（定期票）", 69, 426, 570, 454),
        ("|停車費|公司停車位每月600元|0|", 66, 460, 469, 495),
        ("**回覆 1 (wenhu_rider):**", 66, 570, 408, 603),
    ]
    right = [
        ("你漏算了折舊。一台新機車七八萬，騎五年，每個月也要", 729, 167, 1331, 194),
        ("一千多。這樣算捷運其實便宜。", 729, 204, 1062, 230),
        ("**回覆 2 (xindian_mom):**", 725, 236, 1085, 271),
        ("我也是新店到內湖，改搭捷運兩年了。最大好處是可以在", 728, 278, 1331, 304),
        ("坪林站常常擠不上第一班。", 727, 349, 1014, 379),
        ("**回覆 3 (ricebowl88，原PO)：**", 725, 383, 1130, 419),
        ("謝謝大家！算上折舊確實是捷運便宜。我決定下個月開始", 729, 426, 1330, 452),
        ("**回覆 4 (safety_first):**", 725, 494, 1047, 530),
    ]
    lines = [Line(text, 0.99, (x0, y0, x1, y1)) for text, x0, y0, x1, y1 in left + right]
    read = [ln.text for para in paragraphs(lines) for ln in para]
    assert read == [text for text, *_ in left + right]
