"""The CC-CEDICT glossary and the other-language keyword leg of retrieval, on tiny inline corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.text.glossary import Glossary, english_lemmas
from rag.text.script import is_chinese


@pytest.fixture(scope="module")
def glossary(tmp_path_factory) -> Glossary:
    cache = tmp_path_factory.mktemp("cache")
    Glossary(cache)  # builds the tables and keeps them in the cache folder
    return Glossary(cache)  # read from there word by word, as every later start does


def test_chinese_words_become_stemmed_english_terms(glossary):
    terms = glossary.english_terms("写那篇做空英伟达长文的作者以前在哪些对冲基金干过?")
    for term in ("hedg", "fund", "nvidia", "short", "author"):
        assert term in terms
    assert glossary.words("对冲基金干过") == ["对冲基金"]  # the longest dictionary word wins


def test_traditional_questions_are_looked_up_in_simplified(glossary):
    assert "hedg" in glossary.english_terms("對沖基金")
    assert "microsoft" in glossary.english_terms("微軟的資本支出")


def test_english_words_and_phrases_become_chinese_terms(glossary):
    terms = glossary.chinese_terms("Which hedge fund did the author work for?")
    assert "对冲基金" in terms
    assert "作者" in terms
    assert glossary.chinese_terms("the of and") == []  # stop words are not looked up


def test_inflected_english_words_have_their_dictionary_forms():
    assert english_lemmas("studies")[:2] == ["studies", "study"]
    assert (
        "stop" in english_lemmas("stopped")
        and "run" in english_lemmas("running")
        and "write" in english_lemmas("wrote")
    )
    assert english_lemmas("business") == ["business"]  # no plural to undo


def test_written_forms_say_how_the_notebook_writes_each_word(glossary):
    chips = {"训练", "gpu", "model"}.__contains__
    assert glossary.written_forms("Which models were trained on GPUs?", chips) == [
        ("models", ["model"]),
        ("trained", ["训练"]),
        ("gpus", ["gpu"]),
    ]


def unknown_words(glossary, question, known):
    """(the content words written_forms finds no form of, how many content words): what the answerer counts."""
    words = glossary.written_forms(question, known)
    return [w for w, found in words if not found], len(words)


def test_unknown_words_are_the_ones_the_notebook_writes_in_neither_language(glossary):
    chips = {"训练", "模型", "最好", "gpu", "吃"}.__contains__  # what an index on AI chips knows
    unknown, total = unknown_words(glossary, "What is the best hiking trail in the Alps?", chips)
    assert unknown == ["hiking", "trail", "alps"] and total == 4  # "best" is written: 最好
    assert unknown_words(glossary, "Which models were trained on GPUs?", chips)[0] == []  # 模型, 训练, gpu
    assert unknown_words(glossary, "What do they eat?", chips)[0] == []  # a single character (吃) counts
    # A Chinese question's words, in Simplified: known by themselves, by jieba's cut or by their English senses.
    assert unknown_words(glossary, "阿爾卑斯山的登山路線是哪條?", chips) == (["阿尔卑斯", "登山", "路线"], 3)
    assert unknown_words(glossary, "哪些模型是用GPU訓練的?", chips) == ([], 3)
    assert (
        unknown_words(glossary, "哪些模型是用GPU訓練的?", {"model", "gpu", "train"}.__contains__)[0] == []
    )  # English notes
    # An English sense is written only when all its words are: 對沖基金 "hedge fund".
    assert unknown_words(glossary, "對沖基金", {"fund"}.__contains__)[0] == ["对冲基金"]
    assert unknown_words(glossary, "對沖基金", {"hedg", "fund"}.__contains__)[0] == []


def test_the_question_language_picks_the_direction(glossary):
    assert is_chinese("TPU能否取代GPU?")
    assert not is_chinese("Can the TPU replace the GPU?")
    assert "replac" in glossary.other_language_terms("TPU能否取代GPU?")
    assert "取代" in glossary.other_language_terms("Can the TPU replace the GPU?")


def test_names_are_looked_up_in_the_other_script(glossary):
    assert "microsoft" in glossary.name_terms("微軟的資本支出")  # only ever a name: 微软 /Microsoft Corporation/
    assert "现代" in glossary.name_terms("How much is Hyundai investing?")
    assert "tsmc" in glossary.name_terms("台積電的產能")  # the acronym beside the full name
    # 现代 is also "modern": a Chinese word that is not only a name brings no English name along.
    assert glossary.name_terms("现代社会") == []


def test_company_names_match_their_other_chinese_spellings(glossary):
    # Taiwan writes 輝達 where the Mainland writes 英伟达 and many articles write NVIDIA.
    terms = glossary.name_terms("輝達下一代的架構")
    assert "nvidia" in terms and "伟达" in terms
    assert "辉达" in glossary.name_terms("英偉達的毛利率")
    assert "辉达" in glossary.name_terms("What does Nvidia say?")
    assert glossary.name_terms("微軟的資本支出") == ["microsoft"]  # 微软公司 adds only the generic 公司


def test_the_tables_are_kept_in_the_cache_folder_and_read_back_the_same(tmp_path, monkeypatch):
    first = Glossary(tmp_path)
    assert list((tmp_path / "glossary").glob("cedict-*.sqlite3"))
    monkeypatch.setattr(Glossary, "_parse", lambda self: pytest.fail("parsed again despite the kept tables"))
    again = Glossary(tmp_path)
    assert again.zh_en["对冲基金"] == ["hedge fund"] and "对冲基" not in again.zh_en
    assert again.names["辉达"] == "NVIDIA" and again.en_names.get("no such company") is None
    for table in ("zh_en", "en_zh", "names", "en_names"):
        assert dict(getattr(again, table).items()) == getattr(first, table), table
    for question in (
        "輝達下一代的架構",
        "写那篇做空英伟达长文的作者以前在哪些对冲基金干过?",
        "What does Hyundai sell?",
    ):
        assert again.name_terms(question) == first.name_terms(question)
        assert again.other_language_terms(question) == first.other_language_terms(question)


def test_a_damaged_cache_is_built_again(tmp_path):
    first = Glossary(tmp_path)
    (cached,) = (tmp_path / "glossary").glob("cedict-*.sqlite3")
    cached.write_bytes(cached.read_bytes()[:1000])
    assert dict(Glossary(tmp_path).zh_en.items()) == first.zh_en
    assert dict(Glossary(tmp_path).zh_en.items()) == first.zh_en  # the rebuilt file reads back whole


def indexed(notebook_at, tmp_path, files: dict[str, str]):
    """A real notebook over tiny inline files (the run's models), its keyword index in step with Chroma."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    nb = notebook_at(Path.cwd(), path=tmp_path / ".rag")
    nb.index(docs, progress=False)
    nb.chunk_index.sync()
    return nb


def test_a_chinese_question_finds_the_english_passage_through_the_glossary(notebook_at, tmp_path):
    with_leg = indexed(
        notebook_at,
        tmp_path,
        {
            "fund.md": "# Career\n\nBefore this he spent ten years at two hedge funds as an analyst.\n",
            "chips.md": "# 晶片\n\n台積電為輝達代工先進製程晶片，產能吃緊。\n",
            "cloud.md": "# 雲端\n\n雲端業者自研晶片，降低對單一供應商的依賴。\n",
        },
    )
    question = "他以前在对冲基金做什么?"
    hits = with_leg.search(question, k=3)
    english = next(h for h in hits if h.source.endswith("fund.md"))
    assert english.translated_rank == 1
    without = notebook_at(Path.cwd(), path=tmp_path / ".rag", translate_query=False)
    assert all(h.translated_rank is None for h in without.search(question, k=3))


def test_a_name_in_chinese_finds_the_chinese_passage_that_writes_it_in_latin_letters(notebook_at, tmp_path):
    nb = indexed(
        notebook_at,
        tmp_path,
        {
            "capex.md": "# 資本支出\n\n過去 Microsoft 的資本支出只佔銷售額的 1% 或 2%。\n",
            "other.md": "# 支出\n\n政府的支出與銷售額在去年都成長了。\n",
        },
    )
    retriever = nb.retriever
    ranked = [chunk_id for chunk_id, _ in retriever.keyword("微軟以前的支出佔銷售額多少?", 5, None)]
    capex = next(h.chunk_id for h in nb.search("資本支出", k=2) if h.source.endswith("capex.md"))
    assert ranked[0] == capex
    without = notebook_at(Path.cwd(), path=tmp_path / ".rag", translate_query=False)
    without.chunk_index.sync()
    scores = dict(without.retriever.keyword("微軟以前的支出佔銷售額多少?", 5, None))
    assert scores.get(capex, 0.0) < dict(retriever.keyword("微軟以前的支出佔銷售額多少?", 5, None))[capex]


def test_an_english_question_finds_a_chinese_passage_by_the_chinese_spelling_of_a_name(notebook_at, tmp_path):
    nb = indexed(
        notebook_at,
        tmp_path,
        {
            "hyundai.md": "# 投資\n\n現代汽車集團宣布投資30億美元成立研究中心。\n",
            "other.md": "# 投資\n\n政府宣布投資新的研究中心。\n",
        },
    )
    hyundai = next(h.chunk_id for h in nb.search("現代汽車", k=2) if h.source.endswith("hyundai.md"))
    ranked = [chunk_id for chunk_id, _ in nb.retriever.translated("How much is Hyundai investing?", 5, None)]
    assert ranked[:1] == [hyundai]
