"""The HTML reader keeps the article (headings as paths) and drops navigation, ads, footers and scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.documents import IngestError
from ingest.readers import Limits, reader_for
from tests.ingest.readers.builders import html_page

ARTICLE = (
    "<p>The Sihwa Lake station in South Korea produces 254 megawatts, the largest tidal output of any plant, "
    "from ten bulb turbines set into a seawall that was finished in 1994.</p>"
    "<h2>Costs</h2><p>Building the plant cost about 355 billion won, and it generates power only on the incoming "
    "tide, which keeps the lake water moving.</p>"
)


def read(markup: str):
    return reader_for(".html").read(markup.encode(), Path("tide.html"), Limits())


def test_the_article_without_navigation_ads_or_footer() -> None:
    doc = read(html_page("Tidal power in Korea", ARTICLE))
    assert doc.title == "Tidal power in Korea"
    assert "ten bulb turbines" in doc.text and "355 billion won" in doc.text
    for chrome in ("Subscribe", "Lumberyard", "All rights reserved", "Cookie", "window.tracker", "Storm closes"):
        assert chrome not in doc.text
    assert [path for _, path in doc.headings] == ["Tidal power in Korea", "Tidal power in Korea › Costs"]


def test_markdown_markers_and_escapes_do_not_reach_the_text() -> None:
    body = ARTICLE + "<p>An <i>early</i> plan [citation needed] named it tide_power_1 at 2*3 sites, <b>cheaply</b>.</p>"
    doc = read(html_page("Tidal power in Korea", body))
    assert "An early plan [citation needed] named it tide_power_1 at 2*3 sites, cheaply." in doc.text


def test_a_page_of_scripts_only_is_named() -> None:
    markup = "<html><head><script>var x = 1;</script></head><body><script>document.write('hi')</script></body></html>"
    with pytest.raises(IngestError, match=r"^tide\.html: no article text found"):
        read(markup)
