"""Keyword terms: the matching form, stop words, stemming and Han bigrams."""

from __future__ import annotations

from rag.text.terms import STOP_WORDS, bm25_terms, clean_text, han_bigrams, keyword_tokens, matching_form


def test_matching_form_is_simplified_with_mainland_words():
    # Matching may swap regional words (軟體 ~ 软件) so either spelling finds the other; display never does.
    assert matching_form("軟體的記憶體") == "软件的内存"
    assert matching_form("English only") == "English only"


def test_simplified_and_traditional_questions_read_alike():
    # OpenCC's Taiwan table turns an already Simplified 么 into 幺: 什么 became 什幺, kept as the question's rarest
    # keyword, where the same question in Traditional dropped its question word.
    assert matching_form("为什么") == matching_form("為什麼") == "为什么"
    assert matching_form("那么怎么办") == "那么怎么办"
    simplified = keyword_tokens("北京地铁采用什么方式换乘？", for_query=True)
    assert simplified == keyword_tokens("北京地鐵採用什麼方式換乘？", for_query=True)
    assert not any("幺" in t or "么" in t for t in simplified)


def test_keyword_tokens_drop_stop_words_and_stem_english():
    assert keyword_tokens("The model overfits on the data") == ["model", "overfit", "data"]
    assert "的" in STOP_WORDS and "the" in STOP_WORDS
    terms = keyword_tokens("輝達的資料中心營收", for_query=True)
    assert "的" not in terms and "营收" in terms


def test_bm25_terms_add_han_bigrams_in_the_matching_form():
    assert han_bigrams("資料中心") == ["数据", "据中", "中心"]  # Taiwan's 資料 is the Mainland's 数据
    assert han_bigrams("的") == ["的"]
    terms = bm25_terms("資料中心 GPUs", for_query=True)
    assert "gpus" in terms or "gpu" in terms
    assert terms[-3:] == ["数据", "据中", "中心"]


def test_invisible_characters_do_not_split_keywords():
    assert bm25_terms("Iron\u200bwood 晶\u200d片 \u202eTPU\u202c") == bm25_terms("Ironwood 晶片 TPU")
    assert keyword_tokens("\ufeffNVI\u2060DIA") == keyword_tokens("NVIDIA") == ["nvidia"]


def test_clean_text_drops_lone_surrogates_and_invisible_characters():
    assert clean_text("TPU\ud800 能否\udfff取代\u200bGPU") == "TPU 能否取代GPU"
    assert clean_text("😀 emoji stay") == "😀 emoji stay"
