"""Follow-ups made standalone by rules (rag.followup), and a follow-up answered over the real seeds notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.followup import standalone_question, subject
from rag.text import keyword_tokens

# The dev pairs the rules were written against; the "test" ones are scored by bench/followups.py only.
PAIRS = [
    pair
    for line in (Path(__file__).parents[1] / "data" / "followups.jsonl").read_text("utf-8").splitlines()
    if (pair := json.loads(line)).get("split", "dev") == "dev"
]


def test_the_issue_example_carries_the_subject_into_the_follow_up():
    assert standalone_question("那它的缺點是什麼?", ["TPU能否取代GPU?"]) == "TPU的缺點是什麼?"
    assert standalone_question("那它的缺点是什么?", ["TPU能否取代GPU?"]) == "TPU的缺点是什么?"


@pytest.mark.parametrize(
    ("earlier", "question", "expected"),
    [
        (["Can TPUs replace GPUs?"], "What are their drawbacks?", "What are TPUs' drawbacks?"),
        (["When did Nvidia acquire Mellanox?"], "How much did it pay?", "How much did Nvidia pay?"),
        (["Why are Nvidia's margins so high?"], "What about AMD?", "Why are AMD's margins so high?"),
        (["出租GPU服务器的毛利率是多少?"], "那销售tokens呢?", "销售tokens的毛利率是多少?"),
        (["Groq的LPU芯片有什么特点?"], "缺点是什么?", "Groq的LPU芯片的缺点是什么?"),
        (["亞馬遜數據中心裡最多的CPU是哪種?"], "這些CPU是哪一年製造的?", "亞馬遜數據中心裡最多的CPU是哪一年製造的?"),
    ],
)
def test_pointers_attributes_and_other_subjects(earlier, question, expected):
    assert standalone_question(question, earlier) == expected


def test_a_question_of_question_words_is_asked_of_the_last_question():
    assert standalone_question("為什麼?", ["TPU能否取代GPU?"]).startswith("TPU能否取代GPU")
    assert standalone_question("Why?", ["Can TPUs replace GPUs?"]) == "Can TPUs replace GPUs? Why?"


def test_the_subject_carries_across_several_follow_ups():
    assert standalone_question("它能訓練大模型嗎?", ["TPU能否取代GPU?", "那它的缺點是什麼?"]) == "TPU能訓練大模型嗎?"


def test_a_question_that_stands_alone_is_left_as_it_is():
    for question in ("量子電腦是什麼?", "Who founded SemiAnalysis?", "Nvidia的市佔率是多少?"):
        assert standalone_question(question, ["TPU能否取代GPU?"]) == question
    assert standalone_question("它的缺點是什麼?", []) == "它的缺點是什麼?"
    # An English question naming its own owner ("the lens of the lamp", "the keeper's cat") stands alone too; the
    # browser's hostile-document chat asked them in a row and got "...come from of lighthouse tower painted?".
    earlier = ["When was the lighthouse tower painted red?"]
    for question in ("Where did the lens of the lamp come from?", "What is the keeper's cat called?"):
        assert standalone_question(question, earlier) == question
    assert standalone_question("What are the drawbacks?", ["TPU能否取代GPU?"]) == "What are the drawbacks of TPU?"


def test_subjects_in_three_scripts():
    assert subject("TPU能否取代GPU?") == "TPU"
    assert subject("博通的前景如何?") == "博通"  # the owner of an attribute
    assert subject("Who is Jeffrey Emanuel?") == "Jeffrey Emanuel"


@pytest.mark.parametrize("pair", PAIRS, ids=[p["question"] for p in PAIRS])
def test_every_written_follow_up_gains_words_of_its_standalone_question(pair):
    """The rewrite brings in at least one keyword the standalone question has and the follow-up lacks."""
    rewritten = standalone_question(pair["question"], pair["history"])
    missing = set(keyword_tokens(pair["standalone"])) - set(keyword_tokens(pair["question"]))
    assert set(keyword_tokens(rewritten)) & missing, rewritten


def test_a_follow_up_is_answered_about_the_last_subject_in_its_scope(seeds_notebook):

    history = [("TPU能否取代GPU?", "TPU由於其專用設計,只適合相對簡單的「推理」。")]
    answer = seeds_notebook.ask("那它的缺點是什麼?", history=history)
    assert answer.rewritten_query == "TPU的缺點是什麼?"
    assert any("TPU" in h.text for h in answer.hits[:3])
    # The scope is kept: a follow-up scoped to one document is searched there only.
    source = answer.hits[0].source
    scoped = seeds_notebook.ask("那它的缺點是什麼?", sources=[source], history=history)
    assert scoped.hits and {h.source for h in scoped.hits} == {source}
    assert scoped.rewritten_query == "TPU的缺點是什麼?"
