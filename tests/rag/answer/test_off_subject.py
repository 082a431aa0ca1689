"""The off_subject refusal rule (rag.answer.refusals) on real notebooks (e5, Chroma, BM25): an answer whose best
documents write none of the question's content words, its best sentence in the question's own language, is
not_found, naming the words the notebook writes nowhere; on-subject questions and answers across languages are left
to the gate."""

from __future__ import annotations

import pytest

from rag.answer.refusals import CHOSEN, REFUSALS, Evidence, off_subject
from rag.types import NOT_FOUND

BUS = """社區微循環公車訪談

記者：微循環公車現在有幾輛車？
站長：環港線目前有 12 輛電動小巴，尖峰時段每 8 分鐘一班，離峰每 15 分鐘一班。
記者：老人搭車要錢嗎？
站長：65 歲以上的長者持敬老卡免費搭乘，一般乘客單程 15 元。
"""
DUMPLINGS = """水餃店的一天

老闆每天清晨五點開始和麵，一天包大約三千顆水餃。豬肉白菜餡最受歡迎，韭菜蝦仁餡只在週末供應。
她說，麵皮要擀得中間厚、邊緣薄，煮的時候才不會破。
"""
WIFI = """Mesh wifi finally fixed my slow top floor

I bought a three-node mesh system and put the second node halfway up the stairs. Before the fix the top floor got
about 20 Mbps; now it gets 300 Mbps. Keep the nodes within two rooms of each other, and turn off the ISP router's
own wifi so devices do not jump between networks.
"""
MARATHON = """Training for my first marathon

I ran four days a week for sixteen weeks. The long run grew from 12 km to 32 km, and I finished the race in 4 hours
and 5 minutes. Carbon-plated shoes felt fast on race day, but I trained in ordinary cushioned shoes.
"""


def _notebook(notebook_at, tmp_path_factory, name: str, documents: dict[str, str]):
    home = tmp_path_factory.mktemp(name)
    docs = home / "docs"
    docs.mkdir()
    for file, text in documents.items():
        (docs / file).write_text(text, encoding="utf-8")
    return notebook_at(home, docs)


@pytest.fixture(scope="module")
def notebook(notebook_at, tmp_path_factory):
    """Chinese and English documents on buses, dumplings, mesh wifi and a marathon."""
    documents = {"bus.txt": BUS, "dumplings.txt": DUMPLINGS, "wifi.md": WIFI, "marathon.md": MARATHON}
    return _notebook(notebook_at, tmp_path_factory, "off_subject", documents)


@pytest.fixture(scope="module")
def chinese_notebook(notebook_at, tmp_path_factory):
    """Only the Chinese documents: an English question's best sentence is in the other language."""
    return _notebook(notebook_at, tmp_path_factory, "off_subject_zh", {"bus.txt": BUS, "dumplings.txt": DUMPLINGS})


def evidence(nb, question: str) -> Evidence:
    """The evidence the extractive answerer reads for `question`, filled in up to the chosen sentences."""
    answerer = nb.answerer
    hits = nb.search(question, nb.settings.answer_hits())
    e = Evidence(answerer.analyse(question, hits), hits, answerer.keywords, answerer.glossary, answerer.settings)
    answerer.advance(e, CHOSEN)
    return e


def test_a_question_off_the_documents_subjects_is_not_found_naming_its_unwritten_words(notebook):
    # The gate refuses these over so small a notebook; the rule is read on its own, as the answerer would after it.
    rule = next(r for r in REFUSALS if r.name == "off_subject")
    for question, unwritten in (("明天北京會下雨嗎？", "北京"), ("台北捷運幾點收班？", "台北捷運")):
        e = evidence(notebook, question)
        assert off_subject(e), question
        refused = rule.check(e)
        assert refused is not None and unwritten in refused.words, (question, refused)
        assert notebook.ask(question).status == NOT_FOUND, question


@pytest.mark.parametrize(
    "question",
    [
        "老人搭微循環公車要錢嗎？",
        "環港線多久一班車？",
        "How fast is the top floor after the mesh fix?",
        "How long was the longest training run?",
    ],
)
def test_a_question_on_a_documents_subject_is_left_to_the_gate(notebook, question):
    assert not off_subject(evidence(notebook, question)), question
    assert notebook.ask(question).status != NOT_FOUND, question


def test_an_answer_in_the_other_language_is_left_to_the_gate(chinese_notebook):
    # Across languages a sentence may answer with no word the glossary can match: similarity speaks for it.
    e = evidence(chinese_notebook, "What is the capital of France?")
    assert e.scored and not off_subject(e)


def test_the_seeds_on_subject_questions_are_not_refused_by_it(seeds_notebook):
    for question in ("TPU能否取代GPU?", "輝達第三季營收多少?", "What did Jensen Huang say about the AI bubble?"):
        assert not off_subject(evidence(seeds_notebook, question)), question
