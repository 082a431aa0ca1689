"""Retrieval and answer metrics of `rag eval`, on tiny inline questions and a stand-in notebook of fixed texts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from rag.evaluate import evaluate, evidence_share, fact_recall, first_hit_rank, format_report, retrieval_row
from rag.types import Answer, Citation


def test_first_hit_rank_ignores_whitespace_and_takes_any_evidence():
    texts = ["nothing here", "Microsoft 的資本支出\n佔銷售額", "1% 或 2%"]
    assert first_hit_rank(texts, ["Microsoft的資本支出佔銷售額"]) == 2
    assert first_hit_rank(texts, ["absent", "1%或2%"]) == 3
    assert first_hit_rank(texts, ["absent"]) is None


def test_evidence_share_counts_each_evidence_string_once():
    assert evidence_share(["a b c", "d e"], ["ab", "de", "zz"]) == pytest.approx(2 / 3)


def test_fact_recall_splits_alternatives_and_compares_simplified_lowercase():
    answer = "他指出微軟資本支出只佔 1% 或 2%，而合計將花超過四千億美元。"
    assert fact_recall(answer, ["1%或2%|1-2%", "超过四千亿美元|$400 billion"]) == 1.0
    assert fact_recall("BALYASNY and millennium", ["Balyasny", "Millennium", "10 years"]) == pytest.approx(2 / 3)
    assert fact_recall("anything", []) == 1.0


def test_retrieval_row_is_per_question():
    row = retrieval_row({"evidence": ["gold"]}, ["x", "the gold text", "y"], k=2)
    assert row == {"r1": 0.0, "r2": 1.0, "mrr": 0.5, "evidence_share": 1.0}


@dataclass
class _Chunk:
    chunk_id: str
    text: str


@dataclass
class _Hit:
    text: str


@dataclass
class _FixedNotebook:
    """Returns fixed search results and answers: the metric code is what is under test here."""

    results: dict[str, list[str]]
    answers: dict[str, Answer]
    texts: dict[str, str] = field(default_factory=lambda: {"c1": "TPU 由 Google 設計，用於訓練 Gemini。"})

    def chunks(self, ids):
        return [_Chunk(i, self.texts[i]) for i in ids if i in self.texts]

    def search(self, question, k=5):
        return [_Hit(t) for t in self.results[question][:k]]

    def ask(self, question):
        return self.answers[question]


def test_evaluate_reports_retrieval_answers_and_refusals_by_type_and_language():
    questions = [
        {
            "id": "q1",
            "question": "TPU?",
            "lang": "zh-Hant",
            "type": "same-lang",
            "evidence": ["用於訓練 Gemini"],
            "answer_facts": ["Gemini", "Google"],
        },
        {
            "id": "q2",
            "question": "GPU?",
            "lang": "en",
            "type": "cross-lingual",
            "evidence": ["never found"],
            "answer_facts": ["x"],
        },
        {"id": "q3", "question": "bread?", "lang": "en", "type": "unanswerable", "evidence": [], "answer_facts": []},
    ]
    cited = Answer(
        text="Google 的 TPU 用於訓練 Gemini。 [1]",
        refused=False,
        citations=[Citation(n=1, chunk_id="c1", source="a.txt", title="a", quote="用於訓練 Gemini。")],
    )
    nb = _FixedNotebook(
        results={"TPU?": ["other", "TPU 由 Google 設計，用於訓練 Gemini。"], "GPU?": ["nothing"]},
        answers={
            "TPU?": cited,
            "GPU?": Answer(text="The documents do not say.", refused=True),
            "bread?": Answer(text="Bread.", refused=False),
        },
    )
    report = evaluate(nb, questions, k=5, answers=True)
    r = report["retrieval"]
    assert r["all"] == {"n": 2, "r1": 0.0, "r5": 0.5, "mrr": 0.25, "evidence_share": 0.5}
    assert r["by_type"]["cross-lingual"]["r5"] == 0.0 and r["by_lang"]["zh-Hant"]["r5"] == 1.0
    a = report["answers"]
    assert a["all"]["citation_precision"] == 1.0
    assert a["all"]["fact_recall"] == pytest.approx(0.5)  # q1 has both facts, q2 refused: none
    assert a["refusal_accuracy_unanswerable"] == 0.0  # q3 was answered
    assert a["false_refusals"] == 1  # q2
    assert a["answerable_statuses"] == "answered 1, partial 0, not_found 1"
    assert a["unanswerable_statuses"] == "answered 1, partial 0, not_found 0"
    table = format_report(report)
    assert "| all | 2 |" in table and "false_refusals: 1" in table and "unanswerable_statuses: answered 1" in table
