"""Source guides over a real notebook (e5, Chroma, BM25) of a tiny inline corpus: summary, terms, questions, cache,
summary requests in the chat, suggested follow-ups, overview."""

from __future__ import annotations

import json

import pytest

from rag.guide import is_summary_request, lexrank
from rag.text import detect_script

LPU = """# Groq的LPU晶片

## 話題一：Groq的LPU晶片架構
Groq的LPU晶片採用ASIC架構，強調低延遲和高速推理，與傳統GPU不同。
LPU晶片把模型權重放在晶片上的SRAM裡，推理時不必等待外部記憶體。
這種設計讓每秒產生的詞元數量遠高於同價位的GPU伺服器。

## 話題二：LPU晶片的成本
但LPU晶片的SRAM容量很小，一個大型模型需要數百顆晶片才能放得下。
因此LPU叢集的建置成本很高，只適合對延遲特別敏感的推理應用。
為什麼LPU晶片不適合訓練模型？
因為訓練需要大量記憶體來保存梯度與優化器狀態，而LPU晶片沒有高頻寬記憶體。
"""

SOURDOUGH = """Baking sourdough bread at home

A sourdough starter is a living culture of wild yeast and lactic acid bacteria kept in flour and water.
Feeding the starter every day with equal weights of flour and water keeps the yeast active and the culture sour.
The dough rises slowly overnight because wild yeast works more slowly than commercial baker's yeast.
How long should sourdough bake?
A loaf bakes for about forty minutes in a covered Dutch oven at a high temperature, then uncovered until dark.
Letting the loaf cool for an hour before slicing keeps the crumb from turning gummy.
"""


@pytest.fixture(scope="module")
def guide_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("guides")
    (home / "docs").mkdir()
    (home / "docs" / "lpu.md").write_text(LPU, encoding="utf-8")
    (home / "docs" / "sourdough.txt").write_text(SOURDOUGH, encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def guided(notebook_at, guide_home):
    nb = notebook_at(guide_home, path=guide_home / ".rag")
    nb.index(guide_home / "docs", progress=False)
    return nb


def test_the_summary_quotes_central_sentences_in_document_order(guided, guide_home):
    guide = guided.guide("docs/lpu.md", "zh-Hant")
    text = (guide_home / "docs" / "lpu.md").read_text(encoding="utf-8")
    assert 1 <= len(guide.sentences) <= 3 and guide.summary
    starts = [c.start for c in guide.citations]
    assert starts == sorted(starts)  # in document order
    for sentence, c in zip(guide.sentences, guide.citations):
        assert text[c.start : c.end] == c.quote == sentence  # verbatim, cited where it is
        assert "?" not in sentence and "？" not in sentence  # a question is not a summary
    assert "LPU" in guide.summary


def test_terms_and_questions_come_from_the_document(guided):
    guide = guided.guide("docs/sourdough.txt", "en")
    assert guide.terms and any(t.lower() in ("sourdough", "starter", "yeast") for t in guide.terms)
    assert 3 <= len(guide.questions) <= 5
    assert "How long should sourdough bake?" in guide.questions  # the document's own question
    lpu = guided.guide("docs/lpu.md", "zh-Hant")
    assert 3 <= len(lpu.questions) <= 5
    assert any("LPU" in q for q in lpu.questions)


def test_the_guide_is_shown_in_the_users_script(guided):
    simplified = guided.guide("docs/lpu.md", "zh-Hans")
    assert detect_script(simplified.summary) == "zh-Hans"
    assert detect_script(guided.guide("docs/lpu.md", "zh-Hant").summary) == "zh-Hant"


def test_guides_are_kept_in_the_data_folder_updated_and_removed_with_their_source(notebook_at, tmp_path):
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "bread.txt"
    doc.write_text(SOURDOUGH, encoding="utf-8")
    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    nb.index(tmp_path / "docs", progress=False)
    files = list((tmp_path / ".rag" / "guides").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text("utf-8"))["source"] == "docs/bread.txt"
    before = nb.guide("docs/bread.txt", "en")
    doc.write_text(LPU, encoding="utf-8")  # the same file, another document
    nb.index(tmp_path / "docs", progress=False)
    after = nb.guide("docs/bread.txt", "zh-Hant")
    assert after.fingerprint != before.fingerprint and "LPU" in after.summary
    nb.remove("docs/bread.txt")
    assert not list((tmp_path / ".rag" / "guides").glob("*.json"))


def test_a_summary_request_gets_the_named_documents_guide_cited(guided):
    answer = guided.ask("Summarize the sourdough document")
    assert answer.backend == "guide" and not answer.refused
    assert {c.source for c in answer.citations} == {"docs/sourdough.txt"}
    assert all(f"[{c.n}]" in answer.text and c.quote in answer.text for c in answer.citations)
    scoped = guided.ask("請總結這份文件", sources=["docs/lpu.md"])
    assert scoped.backend == "guide" and {c.source for c in scoped.citations} == {"docs/lpu.md"}
    assert detect_script(scoped.text) == "zh-Hant"
    by_content = guided.ask("總結講到SRAM的那篇")  # named by what it says, not by its title
    assert by_content.backend == "guide" and {c.source for c in by_content.citations} == {"docs/lpu.md"}
    every = guided.ask("请总结这些文件的重点")
    assert {c.source for c in every.citations} == {"docs/lpu.md", "docs/sourdough.txt"}


def test_an_answer_comes_with_suggested_follow_ups_from_the_cited_documents(guided):
    answer = guided.ask("How long does sourdough bake in a Dutch oven?")
    assert not answer.refused
    guide = guided.guide("docs/sourdough.txt", "en")
    assert answer.suggestions and set(answer.suggestions) <= set(guide.questions)
    assert answer.as_dict()["suggestions"] == answer.suggestions


def test_the_overview_is_made_of_every_sources_guide(guided):
    overview = guided.overview("en")
    assert {g.source for g in overview.guides} == {"docs/lpu.md", "docs/sourdough.txt"}
    assert len(overview.sentences) == 2 and 1 <= len(overview.questions) <= 3
    assert all(q in {q for g in overview.guides for q in g.questions} for q in overview.questions)


def test_summary_requests_are_told_from_questions():
    for q in (
        "總結這份文件",
        "请总结这些文件的重点",
        "Summarize the Dylan Patel interview",
        "What is this document about?",
        "這篇在講什麼?",
    ):
        assert is_summary_request(q), q
    for q in ("TPU能否取代GPU?", "What is attention about?", "How long should sourdough bake?"):
        assert not is_summary_request(q), q


def test_lexrank_ranks_the_sentence_most_like_the_others_first():
    vectors = [[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.95, 0.05, 0.0], [0.0, 0.0, 1.0]]
    import numpy as np

    scores = lexrank(np.array(vectors))
    assert scores.argmax() in (0, 2) and scores.argmin() == 3


def test_a_guide_that_cannot_be_built_is_one_line_and_indexing_goes_on(notebook_at, tmp_path, monkeypatch, capsys):
    """Fault injection: the guide builder raises; the document is still indexed and answered, the error named once."""
    import rag.guide

    def broken(*args, **kwargs):
        raise RuntimeError("no vectors")

    monkeypatch.setattr(rag.guide, "build_guide", broken)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bread.txt").write_text(SOURDOUGH, encoding="utf-8")
    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    report = nb.index(tmp_path / "docs", progress=True)
    assert report.added == 1 and nb.count() > 0
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == ["error: docs/bread.txt: no source guide (RuntimeError: no vectors)"]
    answer = nb.ask("How long does sourdough bake in a Dutch oven?")
    assert not answer.refused and answer.suggestions == []
    assert nb.ask("Summarize the sourdough document").backend != "guide"  # searched as any question instead
