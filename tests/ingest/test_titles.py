"""True titles: the seeds' scraped pages get their headline, not "image source head" or a one-line comment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.titles import guess_title, usable_title

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("000_550ab7507c6a24dd.txt", "財報狗 EP587 - 496.【財經時事放大鏡】LLM發展趨勢 x Groq（2024-01-01）"),
        ("001_a39377fc7e6609dd.txt", "想知道 AI 在模擬賭博時,會不會像人一樣做出不太理性的選擇"),
        # Not "image source head" nor "trendx logo": the headline between them.
        ("002_125d09dc765dd298.txt", "Ten Wall Street Report on Wall Street: Bitcoin and Nvidia plummeted behind"),
        # Not the comment "Perfect answer sheet😄" nor the "site - author" byline: the article's first sentence.
        ("003_ae8d2fd946726d35.txt", "Working on large models, it's a half-professionally related issue."),
        (
            "004_f9c305b453ef41f2.txt",
            "AI Semiconductor Landscape feat. Dylan Patel | BG2 w/ Bill Gurley & Brad Gerstner",
        ),
    ],
)
def test_seed_titles(name: str, title: str) -> None:
    assert load_document(SEEDS / name).title == title


def test_short_plain_titles_are_kept() -> None:
    assert guess_title("藍鯨咖啡館\n\n藍鯨咖啡館的招牌飲料是桂花烏龍拿鐵。\n", "stem") == "藍鯨咖啡館"
    assert guess_title("DRAM cycles\n\nDRAM is a cyclical business.\n", "stem") == "DRAM cycles"


def test_boilerplate_and_short_captions_are_skipped() -> None:
    text = "Photo: Reuters\n\nshare this\n\nNew tidal plant opens on the west coast of Korea\n\nThe plant ..."
    assert guess_title(text, "stem") == "New tidal plant opens on the west coast of Korea"
    assert guess_title("😄😄\n\n---\n", "stem") == "stem"


@pytest.mark.parametrize(
    ("meta", "kept"),
    [
        ("Microsoft Word - report_v2.docx", ""),
        ("Untitled", ""),
        ("slides.pdf", ""),
        ("  台灣電力  報告 ", "台灣電力 報告"),
    ],
)
def test_metadata_titles_that_name_nothing_are_dropped(meta: str, kept: str) -> None:
    assert usable_title(meta) == kept
