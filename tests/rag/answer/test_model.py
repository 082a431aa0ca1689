"""The learned answer model through a real Notebook: answer when a sentence answers, refuse a near miss,
answer an English question from a Chinese passage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.answer.features import GATE_FEATURES, SENTENCE_FEATURES
from rag.answer.model import AnswerModel
from rag.answer.question import analyse, focus_groups

DOCS = {
    "camera.txt": "Acme X200 camera\n\nThe Acme X200 is a mirrorless camera announced in March 2023. It has a "
    "24-megapixel sensor and weighs 450 grams. Reviewers praised its autofocus and its battery life. "
    "The camera is made in Japan and ships with a 28-70 mm zoom lens.",
    "tsmc.txt": "台積電美國廠\n\n台積電於2020年宣布在美國亞利桑那州興建晶圓廠。該廠初期投資金額為120億美元，"
    "預計生產5奈米製程晶片。當地官員表示，工廠將創造約1900個工作機會。",
    "bread.txt": "Sourdough\n\nSourdough bread is leavened by a culture of wild yeast and lactic acid bacteria. "
    "The starter is fed with flour and water every day. A loaf usually needs twelve hours to rise.",
}


def notebook_of(notebook_at, home, docs: dict[str, str]):
    """A real Notebook whose data folder is in `home`, with `docs` (file name -> text) indexed, the run's models
    shared (its home: the current folder, as a Notebook(path) has)."""
    (home / "docs").mkdir()
    for name, text in docs.items():
        (home / "docs" / name).write_text(text, encoding="utf-8")
    return notebook_at(Path.cwd(), home / "docs", path=home / ".rag")


@pytest.fixture(scope="module")
def notebook(tmp_path_factory, notebook_at):
    return notebook_of(notebook_at, tmp_path_factory.mktemp("answer-model"), DOCS)


def test_the_committed_model_matches_the_features():
    model = AnswerModel.load()
    assert len(model.sentence.weights) == len(SENTENCE_FEATURES)
    assert len(model.gate.mean) == len(GATE_FEATURES) and model.gate.hidden_weights.shape[0] == len(GATE_FEATURES)
    assert all(0.0 < cut < 1.0 for cut in model.thresholds.values())


def test_each_kind_of_question_is_cut_where_its_own_answers_sit():
    from rag.answer.model import cut_kind

    model = AnswerModel.load()
    cross = SENTENCE_FEATURES.index("cross")
    mixed, other = np.zeros((3, len(SENTENCE_FEATURES))), np.zeros((3, len(SENTENCE_FEATURES)))
    mixed[0, cross] = 1.0  # the best sentence is in the other language, the rest in the question's
    other[:, cross] = 1.0
    assert cut_kind("台積電亞利桑那廠預計生產幾奈米的晶片?", mixed) == "same_zh"
    assert cut_kind("TPU能否取代GPU?", mixed) == "same_zh"  # names in Latin letters, a Chinese question
    assert cut_kind("How many jobs will the TSMC factory create?", mixed) == "same_en"
    assert cut_kind("How many jobs will the TSMC factory create?", other) == "cross"
    assert model.cut("How many jobs will the TSMC factory create?", other) == model.thresholds["cross"]
    assert model.cut("TPU能否取代GPU?", mixed) == model.thresholds["same_zh"]
    # Fitted apart: a Chinese answer shares more of its question's words, and is asked for more.
    assert model.thresholds["same_zh"] > model.thresholds["same_en"] > model.thresholds["cross"]


def test_a_name_and_its_other_spellings_are_one_focus_item():
    from rag.text.glossary import Glossary

    groups = focus_groups("輝達的H100賣多少錢?", Glossary())
    assert ["h100"] in groups
    assert any("nvidia" in g and "辉达" in g for g in groups)
    # An acronym's plural names the thing the passages write in the singular.
    assert focus_groups("Can TPUs replace GPUs?") == [["tpus", "tpu"], ["gpus", "gpu"]]
    assert focus_groups("Did Brooks win?") == [["brooks"]]  # a name ending in s is not a plural


def test_an_answerable_question_is_answered_with_the_sentence_holding_the_answer(notebook):
    answer = notebook.ask("How much does the Acme X200 weigh?")
    assert not answer.refused
    # On three tiny documents the product's description may lead (idf says little here); the weight is quoted.
    assert "450 grams" in answer.text and all(c.source.endswith("camera.txt") for c in answer.citations)


def test_a_price_question_answered_by_no_sum_of_money_is_partial_and_says_so(notebook):
    # The documents describe the X200 (its weight, its sensor: numbers) but never give its price: they are about
    # its subject, so the answer says the amount is not given and shows the closest passages, all of the camera.
    answer = notebook.ask("How much does the Acme X200 camera cost?")
    assert answer.refused and answer.status == "partial", answer.text
    assert answer.text.startswith("The documents do not give the amount."), answer.text
    assert answer.citations and all(c.source.endswith("camera.txt") for c in answer.citations)
    # A sum of money answers: the Chinese passage's 120億美元.
    invested = notebook.ask("How much did TSMC invest in its Arizona fab?")
    assert not invested.refused and "120億美元" in invested.text


def test_a_list_under_a_post_whose_opening_names_the_product_is_a_near_miss(seeds_notebook):
    # A post opens 「市場對其新一代Blackwell架構的強勁需求。strong demand…」 (taken as its title), then lists Feynman's
    # details: "Manufacturing Process: Expected to use TSMC's advanced A16 (1.6nm) node". Blackwell's node is not given.
    answer = seeds_notebook.ask("what TSMC process node is Blackwell built on?")
    assert answer.refused and answer.status == "partial", answer.text
    assert answer.text.startswith("The documents don't state"), answer.text


def test_a_title_or_section_names_the_subject_only_in_its_headings():
    from rag.answer.features import subject_label

    assert (
        subject_label("2025年11月24日 星期一 · 市場對其新一代Blackwell架構的強勁需求。strong demand for…")
        == "2025年11月24日 星期一"
    )
    assert subject_label("Cow market case › Hardware level threat") == "Cow market case Hardware level threat"
    assert subject_label("話題三：NVIDIA Blockwhale架構") == "話題三：NVIDIA Blockwhale架構"
    assert subject_label("台積電美國廠。") == "台積電美國廠。"  # a title ending in a full stop is still one
    assert subject_label("AI Landscape feat. Dylan Patel") == "AI Landscape feat. Dylan Patel"  # an abbreviation


@pytest.mark.xfail(
    strict=True,
    reason="known regression since 9b3c85f (table rows became candidates): the four rows of seed 000's company table "
    "join the candidates, the scorer's top scores fall (2.15 -> 1.77) and the gate rises 0.077 -> 0.119 over its cut "
    "0.111, so the Traditional question is answered with English A16 sentences (the Simplified one is partial). "
    "The gate is fragile to the candidate set; a refit on real negatives (issue 31) is the fix. Strict: passes -> fails.",
)
def test_a_near_miss_on_the_seeds_is_refused(seeds_notebook):
    # The seeds discuss TSMC's processes and yields of other things, never the 3 nm yield.
    answer = seeds_notebook.ask("台積電3奈米良率是多少?")
    assert answer.refused and not answer.citations, answer.text


def test_an_english_question_is_answered_from_a_chinese_passage(notebook):
    answer = notebook.ask("How much did TSMC invest in its Arizona fab?")
    assert not answer.refused, answer.text
    assert answer.citations and all(c.source.endswith("tsmc.txt") for c in answer.citations)
    # The passage's own words, not a translation. (Which of its two sentences leads is a tie here: 2020 and
    # 120億 both read as numbers to the answer-type feature.)
    assert any("120億美元" in c.quote for c in answer.citations), answer.text


def test_a_question_whose_words_the_notebook_never_writes_is_refused_naming_them(notebook):
    answer = notebook.ask("Who painted the Mona Lisa?")
    assert answer.refused and not answer.citations
    assert answer.text == "The documents do not mention painted, Mona, Lisa."
    # The same words, known to the notebook in Chinese only (台積電, 工廠): answered from the Chinese passage.
    assert not notebook.ask("How many jobs will the TSMC factory create?").refused
    # The setting turns the rule off: the gate alone decides, and says no more than that the documents do not say.
    assert notebook.with_settings(answer_unknown_share=1.01).ask("Who painted the Mona Lisa?").text != answer.text


def test_the_gate_probability_falls_when_the_documents_lack_the_answer(notebook):
    answerer = notebook.answerer

    def probability(question: str) -> float:
        hits = notebook.search(question)
        asked = answerer.analyse(question, hits)
        return answerer.answerable_probability(asked, answerer.score(asked, hits, answerer.candidates(hits)))

    assert probability("How long does a sourdough loaf need to rise?") > probability("Who invented sourdough bread?")
    assert np.isfinite(probability("台積電亞利桑那廠預計生產幾奈米的晶片?"))


def test_the_answerer_handed_hits_without_a_search_answers_as_ask_does(notebook):
    from rag import Notebook
    from rag.types import AnswerRequest

    question = "How much does the Acme X200 weigh?"
    hits = notebook.search(question)
    fresh = Notebook(path=notebook.path)  # as in a new process: nothing loaded, no search run yet
    # Its words are weighed by the index's idf (BM25 loaded for it), not all alike: BM25 holding nothing gives
    # every word log 2 (0.69); a word in one of the three documents weighs log(1 + 2.5 / 1.5) = 0.98.
    assert fresh.answerer.keywords.idf("sourdough") == notebook.answerer.keywords.idf("sourdough") > 0.9
    assert fresh.answerer.invoke(AnswerRequest(question, hits=hits)).text == notebook.ask(question).text


def test_a_quote_about_another_company_s_ceo_is_a_near_miss():
    from rag.answer.extractive import Candidate
    from rag.answer.refusals import misses_focus
    from rag.types import Hit

    groq = Hit("g", "groq.txt", "Groq", "Groq builds the LPU chip. Groq says the LPU is fast at inference.", 1.0)
    nvidia = Hit("n", "nvidia.txt", "NVIDIA", "NVIDIA's CEO is Jensen Huang. The CEO spoke at GTC.", 0.9)
    about_nvidia = Candidate(1, 0, 29, "NVIDIA's CEO is Jensen Huang.")
    about_the_chip = Candidate(0, 0, 25, "Groq builds the LPU chip.")
    question = "Who is the CEO of Groq?"
    # Groq and CEO are each written in the passages, never together: neither sentence is about Groq's CEO.
    assert misses_focus(analyse(question), [groq, nvidia], [about_nvidia, about_the_chip])
    with_ceo = Hit("c", "ceo.txt", "Groq", "Groq's CEO is Jonathan Ross. Ross founded Groq after Google.", 0.8)
    answer = Candidate(2, 0, 28, "Groq's CEO is Jonathan Ross.")
    assert not misses_focus(analyse(question), [groq, nvidia, with_ceo], [answer, about_nvidia])


def test_a_quote_from_another_year_than_the_question_asks_about_is_a_near_miss():
    from rag.answer.extractive import Candidate
    from rag.answer.refusals import misses_focus
    from rag.types import Hit

    text = "In 2019 NVIDIA agreed to buy Mellanox. Its chips sold well. In 2022 NVIDIA launched the H100 chip."
    hits = [Hit("n", "nvidia.txt", "NVIDIA", text, 1.0)]
    spans = [(0, 38), (39, 59), (60, len(text))]
    on_2019, between, on_2022 = (Candidate(0, a, b, text[a:b]) for a, b in spans)
    on_2019.after, between.before, between.after, on_2022.before = between, on_2019, on_2022, between
    assert misses_focus(analyse("What did NVIDIA buy in 2019?"), hits, [on_2019]) is False
    assert misses_focus(analyse("What did NVIDIA buy in 2019?"), hits, [on_2022]) is True  # another year
    assert misses_focus(analyse("What did NVIDIA buy in 2019?"), hits, [between]) is False  # its neighbour holds 2019
    assert (
        misses_focus(analyse("What did NVIDIA buy in the 2010s?"), hits, [on_2022]) is False
    )  # a decade: the gate's to judge
    assert (
        misses_focus(analyse("What did NVIDIA buy in 2015?"), hits, [on_2022]) is False
    )  # no passage writes 2015 (unwritten_focus)


def test_a_year_or_model_version_no_passage_writes_is_unwritten():
    from rag.answer.refusals import unwritten_focus
    from rag.types import Hit

    hits = [
        Hit("a", "h100.txt", "H100", "The H100 has 80 GB of HBM3. It shipped in 2022.", 1.0),
        Hit("b", "roads.txt", "SR 99", "The SR 99 tunnel opened in the 1970年代.", 0.9, section="Highways › SR 99"),
    ]
    assert unwritten_focus(analyse("How much HBM does the B200 have?"), hits) == ["B200"]  # another model version
    assert unwritten_focus(analyse("How much HBM does the H100 have?"), hits) == []
    assert unwritten_focus(analyse("輝達2019年推出了什麼?"), hits) == ["2019"]  # another year
    assert unwritten_focus(analyse("What shipped in 2022?"), hits) == []
    assert unwritten_focus(analyse("When did SR99 open?"), hits) == []  # spacing, hyphens and case aside
    assert (
        unwritten_focus(analyse("What changed in the 1980s?"), hits) == []
    )  # a decade is written otherwise in Chinese
    assert unwritten_focus(analyse("Who designed the H100 and the GPT-4 model?"), hits) == ["GPT-4"]
    assert unwritten_focus(analyse("What is HBM?"), hits) == []  # a name without a digit is the gate's to judge
    assert (
        unwritten_focus(analyse("What did the H100 earn in Q3 of FY2023?"), hits) == []
    )  # 第三季, 2023財年 in Chinese


def test_a_question_on_a_model_version_the_seeds_never_write_is_refused_naming_it(seeds_notebook):
    # The seeds discuss the H100 and HBM, never the B200: their HBM sentences answer another model.
    answer = seeds_notebook.ask("How much HBM does the B200 have?")
    assert answer.refused and not answer.citations and "B200" in answer.text, answer.text
    assert not seeds_notebook.ask("H100的價格是多少?").refused


def test_the_ceo_of_a_company_the_seeds_never_name_a_ceo_for_is_refused(seeds_notebook):
    # The example: the seeds discuss Groq's chips and NVIDIA's CEO, never Groq's CEO.
    answer = seeds_notebook.ask("Who is the CEO of Groq?")
    assert answer.refused and not answer.citations, answer.text


def test_over_passages_in_both_languages_the_shortlist_holds_the_best_of_each():
    model = AnswerModel.load()
    n = model.shortlist_size + 6
    x = np.zeros((n, len(SENTENCE_FEATURES)))
    x[:, SENTENCE_FEATURES.index("cov_own")] = np.linspace(1.0, 0.1, n)  # the question's own words, fewer and fewer
    one_language = list(model.shortlist(x))
    assert len(one_language) == model.shortlist_size and n - 2 not in one_language
    x[-2:, SENTENCE_FEATURES.index("cross")] = 1.0  # the last two sentences are in the other language
    both = list(model.shortlist(x, both_languages=True))
    assert both[:-1] == one_language  # the stage-one shortlist, then the other language's best (one)
    assert both[-1] == n - 2
    # Passages all in one language: a sentence in Latin letters among them (a list of names) is not rescued.
    assert list(model.shortlist(x)) == one_language


def test_a_chinese_question_is_answered_from_the_seeds_english_post(seeds_notebook):
    # dev d16: only the English post on shorting NVIDIA says where its author worked. The Chinese podcast on
    # NVIDIA's customers shares more of the question's words; its sentences used to fill the shortlist.
    answer = seeds_notebook.ask("写那篇做空英伟达长文的作者以前在哪些对冲基金干过?")
    assert not answer.refused, answer.text
    assert "Millennium" in answer.citations[0].quote and answer.citations[0].source.endswith("002_125d09dc765dd298.txt")


def test_a_chinese_question_answered_only_by_an_unrelated_english_sentence_is_refused(seeds_notebook):
    # dev d13 in Simplified: the seeds never say when the rules start. Its hits are English posts, and neither the
    # best sentence ("A few weeks ago, there were some inspiring news in the field of artificial intelligence…") nor
    # its passage shares any of its words, even through the glossary; the embedders' similarity alone gave the gate 0.17.
    answer = seeds_notebook.ask("金管会对AI Agent的规范什么时候开始上路?")
    assert answer.refused and answer.status == "partial", answer.text
    # The closest passages shown are the Chinese ones about the regulator, never the unrelated English sentence.
    assert answer.citations and all("金管" in c.quote for c in answer.citations), answer.text


def test_only_a_chinese_question_needs_a_shared_word_with_an_english_sentence():
    from rag.answer.refusals import unsupported_across_languages

    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    best = np.zeros(len(SENTENCE_FEATURES))
    best[col["cross"]] = 1.0  # in the other language, no word shared
    assert unsupported_across_languages(analyse("金管會的規範什麼時候上路?"), best)
    assert not unsupported_across_languages(analyse("When do the rules take effect?"), best)  # the glossary misses more
    best[col["cov_window"]] = 0.2  # its neighbour shares a word (对冲基金 → hedge fund)
    assert not unsupported_across_languages(analyse("金管會的規範什麼時候上路?"), best)
    best[col["cov_window"]], best[col["cov_passage"]] = 0.0, 0.3  # its passage does
    assert not unsupported_across_languages(analyse("金管會的規範什麼時候上路?"), best)
    best[col["cov_passage"]], best[col["cross"]] = 0.0, 0.0  # the question's own language: the gate decides
    assert not unsupported_across_languages(analyse("金管會的規範什麼時候上路?"), best)


def test_a_sentence_in_the_question_s_language_is_embedded_under_its_passage_s_title():
    from rag.answer.features import as_embedded

    question = analyse("黃鞍鸚嘴魚分布在哪裡?")
    # 「本魚」 leaves the subject to the title: read with it.
    assert as_embedded(question, "黃鞍鸚嘴魚", "本魚分布於印度太平洋區。") == "黃鞍鸚嘴魚: 本魚分布於印度太平洋區。"
    # Across languages every sentence of the article would share the title's match: the sentence alone.
    assert as_embedded(question, "Parrotfish", "It lives in the Indo-Pacific.") == "It lives in the Indo-Pacific."
    assert (
        as_embedded(analyse("Where does it live?"), "黃鞍鸚嘴魚", "本魚分布於印度太平洋區。")
        == "本魚分布於印度太平洋區。"
    )
    assert as_embedded(question, "", "本魚分布於印度太平洋區。") == "本魚分布於印度太平洋區。"  # no title
    # A headline is no subject: every sentence of the post would share it.
    post = "AI Semiconductor Landscape feat. Dylan Patel | BG2 w/ Bill Gurley & Brad Gerstner"
    assert as_embedded(analyse("Where did Dylan grow up?"), post, "He grew up in Georgia.") == "He grew up in Georgia."
    assert (
        as_embedded(question, "想知道 AI 在模擬賭博時,會不會像人一樣", "本魚分布於印度太平洋區。")
        == "本魚分布於印度太平洋區。"
    )


def test_a_sentence_naming_things_in_latin_letters_reads_as_its_chinese_passage():
    from rag.answer.features import other_language
    from rag.text.script import reads_as_chinese as reads_chinese

    mixed = "創立於1920年，前身為Indiana University School of Commerce and Finance。"
    passage = "印第安納大學是美國最早期的綜合研究型大學之一。" + mixed
    assert reads_chinese(mixed, passage) and not other_language(analyse("印第安納大學在哪一年創立?"), mixed, passage)
    assert other_language(analyse("When was Indiana University founded?"), mixed, passage)
    # Alone, half Latin words: it could be either; an English passage keeps it English.
    assert not reads_chinese(mixed) and not reads_chinese(mixed, "Indiana University is a public university.")
    assert not reads_chinese("TSMC (台積電) is the largest foundry in the world.", "TSMC makes chips. It is big.")
    assert reads_chinese("本魚分布於印度太平洋區。") and not reads_chinese("It lives in the Indo-Pacific.", passage)


UNIVERSITY = {
    "印第安納大學.txt": "印第安納大學\n\n印第安納大學是美國最早期的綜合研究型大學之一。旗艦級校區布魯明頓校區成立於1820年，"
    "是印第安納大學系統中最早成立的學校。全校大約有40%的本科生學習文理學院的專業。",
    "凱利商學院.txt": "凱利商學院\n\n凱利商學院是印第安納大學的商學院，位於布魯明頓。"
    "創立於1920年，前身為Indiana University School of Commerce and Finance。",
}


def test_a_chinese_sentence_naming_things_in_latin_letters_does_not_lead_for_being_english(tmp_path, notebook_at):
    nb = notebook_of(notebook_at, tmp_path, UNIVERSITY)
    # Read as English, the business school's founding (half Latin letters) took the other language's allowance and
    # led, labelled （英文）.
    answer = nb.ask("印第安納大學是哪一年成立的?")
    assert not answer.refused, answer.text
    assert "1820" in answer.citations[0].quote, answer.text
    answer = nb.ask("凱利商學院是哪一年創立的?")
    assert any("1920" in c.quote for c in answer.citations), answer.text
    assert "英文" not in answer.text


FISH = {
    "黃鞍鸚嘴魚.txt": "黃鞍鸚嘴魚\n\n黃鞍鸚嘴魚為輻鰭魚綱鱸形目鸚嘴魚科的其中一種，被世界自然保護聯盟列為無危物種。"
    "本魚分布於印度太平洋區，包括紅海、東非、馬爾地夫至萊恩群島等海域。水深1至30公尺。本魚體長可達40公分，以藻類為食。",
    "藍點鸚嘴魚.txt": "藍點鸚嘴魚\n\n藍點鸚嘴魚為鸚嘴魚科的魚類，體色藍綠。本魚分布於西太平洋區，包括日本南部、台灣及菲律賓海域。"
    "本魚棲息於珊瑚礁區，夜間以黏液包裹身體休息。",
}


def test_a_sentence_that_leaves_its_subject_to_the_title_answers_first(tmp_path, notebook_at):
    nb = notebook_of(notebook_at, tmp_path, FISH)
    # 「本魚分布於…」 names the fish only through the title; the sentence naming it says what kind of fish it is.
    answer = nb.ask("黃鞍鸚嘴魚分布在哪些海域?")
    assert not answer.refused, answer.text
    assert "印度太平洋區" in answer.citations[0].quote and answer.citations[0].source.endswith("黃鞍鸚嘴魚.txt")


def test_each_feature_is_read_by_the_name_the_model_was_fitted_on():
    import json

    from rag.answer.features import FEATURES, GATE
    from rag.answer.model import MODEL_FILE

    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert list(FEATURES) == SENTENCE_FEATURES == data["sentence_features"]
    assert list(GATE) == GATE_FEATURES == data["gate_features"]
    # A model fitted on other features (two columns swapped) is refused, also under python -O.
    swapped = {**data, "sentence_features": [SENTENCE_FEATURES[1], SENTENCE_FEATURES[0], *SENTENCE_FEATURES[2:]]}
    with pytest.raises(ValueError, match="make answer-model"):
        AnswerModel(swapped)


def test_the_refusal_rules_are_walked_in_one_order_before_any_quote(notebook):
    from rag.answer.refusals import CHOSEN, HITS, REFUSALS, SCORED, Evidence

    stages = [HITS, SCORED, CHOSEN]
    assert [stages.index(rule.needs) for rule in REFUSALS] == sorted(stages.index(rule.needs) for rule in REFUSALS)
    answerer = notebook.answerer
    # Off the notebook's subjects: the first rule refuses, naming the words, and nothing was scored.
    question = "Who painted the Mona Lisa?"
    hits = notebook.search(question)
    e = Evidence(answerer.analyse(question, hits), hits, answerer.keywords, answerer.glossary, answerer.settings)
    refused = answerer.refusal(e)
    assert refused.reason == "unknown_words" and refused.words == ("painted", "Mona", "Lisa") and not e.scored
    # A price question answered by a weight: every rule up to the last lets it through.
    question = "How much does the Acme X200 camera cost?"
    hits = notebook.search(question)
    e = Evidence(answerer.analyse(question, hits), hits, answerer.keywords, answerer.glossary, answerer.settings)
    refused = answerer.refusal(e)
    assert refused is not None and refused.reason in ("gate", "lacks_asked_fact"), refused
    question = "How much does the Acme X200 weigh?"
    hits = notebook.search(question)
    e = Evidence(answerer.analyse(question, hits), hits, answerer.keywords, answerer.glossary, answerer.settings)
    assert answerer.refusal(e) is None and e.chosen and e.probability >= e.cut
