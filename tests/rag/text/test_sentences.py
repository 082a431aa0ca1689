"""The one sentence rule, shared by the chunker and the answerers."""

from __future__ import annotations

from rag.text.sentences import sentence_cuts, sentence_spans


def spans(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_abbreviations_do_not_end_a_sentence():
    # Regression: the answerers' splitter once cut after "e.g." where the chunker did not.
    assert spans("Demand rose, e.g. in the U.S. market. Prices fell.") == [
        "Demand rose, e.g. in the U.S. market.",
        "Prices fell.",
    ]
    assert spans("Mr. Smith met Dr. Lee at 3.5 p.m. yesterday. Then he left.") == [
        "Mr. Smith met Dr. Lee at 3.5 p.m. yesterday.",
        "Then he left.",
    ]


def test_chinese_sentences_end_at_their_punctuation_with_closing_quotes():
    assert spans("第一句話說完了。第二句沒有問題！「第三句帶引號。」第四句是問題嗎？") == [
        "第一句話說完了。",
        "第二句沒有問題！",
        "「第三句帶引號。」",
        "第四句是問題嗎？",
    ]
    assert spans("價格是3.5美元。他住在台北.下一句") == ["價格是3.5美元。", "他住在台北.", "下一句"]


def test_line_breaks_end_a_sentence_for_the_answerers_but_not_for_the_chunker():
    text = "### 話題二：Groq的LPU晶片\nGroq makes chips. It sells them\n1. item one"
    assert spans(text) == ["### 話題二：Groq的LPU晶片", "Groq makes chips.", "It sells them", "1. item one"]
    assert [text[c - 1] for c in sentence_cuts(text)] == [" "]  # only after "chips. "


def test_a_year_or_version_before_the_full_stop_still_ends_the_sentence():
    assert spans("It launched in 2023. Sales grew.") == ["It launched in 2023.", "Sales grew."]
    assert spans("Yahoo! is old. Ok") == ["Yahoo!", "is old.", "Ok"]
