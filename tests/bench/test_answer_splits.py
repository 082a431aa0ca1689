"""The answer benchmark's splits: by article, disjoint, and the test split free of the questions that tuned the cuts."""

from __future__ import annotations

import pytest

from bench import answer_data as D

pytestmark = pytest.mark.skipif(not D.DATA.exists(), reason="the benchmark sets (../shared/data/bench) are not here")


def test_dev_and_test_never_share_an_article_and_test_holds_no_tuned_question():
    assert D.article_of("1147-5", "梵文") == "1147" and D.article_of("xquad-a07-p03-zh", "") == "xquad-a07"
    assert D.article_of("DEV_12", "战国无双3") == "战国无双3"
    tuned = D.tuned_questions()
    for name, (_, corpus) in D.EVAL_SETS.items():
        titles = {p["id"]: p.get("title", "") for p in D.corpus_rows(corpus)}

        def articles(questions, titles=titles):
            return {D.article_of(q["gold_passage_ids"][0], titles[q["gold_passage_ids"][0]]) for q in questions}

        dev, test = (D.split_questions(name, split, 10**6) for split in D.SPLITS)
        assert dev and test and not articles(dev) & articles(test), name
        assert not {D._question_key(q) for q in test} & tuned, name
        assert D.split_questions(name, "test", 50) == D.split_questions(name, "test", 50)  # a fixed draw
