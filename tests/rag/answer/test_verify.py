"""Citation verification on crafted cases: markers, numbers, support, sentences cut from a token stream."""

from __future__ import annotations

import pytest

from rag.answer.verify import (
    SentenceStream,
    Verifier,
    citation_numbers,
    is_claim,
    numbers_supported,
    strip_citations,
)

PASSAGES = [
    "NVIDIA's overall gross profit margin in recent quarters is about 75%. Consumer graphics drag it down.",
    "亞馬遜數據中心中最多的CPU是2015年到2020年間製造的24核Intel CPU。如果我用一台服務器替換六台，我基本上就憑空創造了電力。",
    "The company is willing to pay them at a salary of $ 650,000/year. They think in CUDA.",
]


def test_citation_markers_are_parsed_and_stripped():
    assert citation_numbers("a [1] b [2, 3]【4】[5-6] [1]") == [1, 2, 3, 4, 5, 6]
    assert strip_citations("Margins are about 75% [1]. 毛利率很高 [2]。") == "Margins are about 75%. 毛利率很高。"
    assert not is_claim("Here is what the passages say:")
    assert is_claim("NVIDIA's margin is about 75% [1].")


def test_numbers_must_appear_in_the_passage_by_digits_or_by_value():
    assert numbers_supported("Its margin is about 75%.", PASSAGES[0]) == []
    assert numbers_supported("Its margin is about 80%.", PASSAGES[0]) == ["80"]  # invented
    assert numbers_supported("年薪約 65 萬美元", PASSAGES[2]) == []  # 65萬 = 650,000
    assert numbers_supported("They invested $3 billion", "共同投資30億美元") == []
    assert numbers_supported("超過 4000 億美元", "將花費超過四千億美元") == []
    assert numbers_supported("一台可以抵六台", PASSAGES[1]) == []


def test_a_supported_claim_keeps_its_citation_and_quotes_the_best_sentence():
    v = Verifier(PASSAGES)
    s = v.best("NVIDIA's gross margin has been about 75% in recent quarters [1].", [0])
    assert s is not None and s.passages == [0]
    a, b = s.quotes[0]
    assert PASSAGES[0][a:b] == "NVIDIA's overall gross profit margin in recent quarters is about 75%."


def test_a_wrong_citation_moves_to_the_passage_that_supports_the_claim():
    v = Verifier(PASSAGES)
    # [3] exists but says nothing of the sort; [9] points to no passage at all.
    for cited in ([2], [8], []):
        s = v.best("亞馬遜數據中心最多的是24核Intel CPU。", cited)
        assert s is not None and s.passages == [1], cited


def test_an_invented_number_makes_the_claim_unsupported():
    v = Verifier(PASSAGES)
    assert v.best("NVIDIA's gross margin has been about 85% in recent quarters.", [0]) is None
    assert v.best("亞馬遜數據中心最多的是32核Intel CPU。", [1]) is None
    assert v.best("Apple designs its own chips in California.", [0]) is None  # nothing shared


def test_cross_language_claims_are_checked_with_the_multilingual_embedder(seeds_notebook):
    from rag.embed.fused import cross_lingual_embedder

    v = Verifier(PASSAGES, cross_lingual_embedder(seeds_notebook.dense_embedder))
    s = v.best("Amazon's most common data-center CPU is a 24-core Intel CPU made between 2015 and 2020.", [1])
    assert s is not None and s.passages == [1] and s.similarity >= 0.5
    assert v.best("Amazon's most common data-center CPU is a 48-core AMD CPU made in 2023.", [1]) is None
    s = v.best("工程師年薪約 65 萬美元。", [2])
    assert s is not None and s.passages == [2]


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_sentences_come_out_of_a_token_stream_with_their_markers(size):
    text = "DRAM margins are negative at the bottom. [1] The top is about 60% [2].\n毛利率平均約20%。[1]最後一句"
    stream, out = SentenceStream(), []
    for i in range(0, len(text), size):
        out += list(stream.feed(text[i : i + size]))
    out += list(stream.close())
    assert [s.text for s in out] == [
        "DRAM margins are negative at the bottom. [1]",
        "The top is about 60% [2].",
        "毛利率平均約20%。[1]",
        "最後一句",
    ]
    assert [s.cited for s in out] == [[1], [2], [1], []]
    assert "\n" in out[2].gap
