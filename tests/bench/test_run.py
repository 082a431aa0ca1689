"""The benchmark's passage-level metrics and mixed-index breakdown, on tiny inline rankings."""

from __future__ import annotations

import pytest

from bench.run import breakdown, parallel_twin, passage_ranking, query_group, retrieval_metrics


def test_chunk_hits_become_passages_in_first_seen_order():
    sources = ["/d/p1.txt", "/d/p2.txt", "/d/p1.txt", "/d/p3.txt"]
    assert passage_ranking(sources) == ["p1", "p2", "p3"]
    assert passage_ranking(sources, n=2) == ["p1", "p2"]


def test_retrieval_metrics_at_passage_level():
    rankings = [["g1", "x"], ["x", "y", "z", "w", "v", "g2"], ["x"]]
    m = retrieval_metrics(rankings, ["g1", "g2", "g3"])
    assert m == {
        "R@1": pytest.approx(1 / 3, abs=1e-4),
        "R@5": pytest.approx(1 / 3, abs=1e-4),
        "R@10": pytest.approx(2 / 3, abs=1e-4),
        "MRR@10": pytest.approx((1 + 1 / 6) / 3, abs=1e-4),
    }


def test_mixed_index_groups_and_either_language_r1():
    assert query_group("en2zh-5726") == "en2zh" and query_group("zh-5726") == "zh" and query_group("1147-5-1") == "drcd"
    assert parallel_twin("xquad-a03-p01-en") == "xquad-a03-p01-zh" and parallel_twin("1147-5") is None
    queries = [{"id": "en-1"}, {"id": "en2zh-1"}, {"id": "1147-5-1"}]
    rankings = [["xquad-a00-p00-en"], ["xquad-a00-p00-en", "xquad-a00-p00-zh"], ["1147-4"]]
    golds = ["xquad-a00-p00-en", "xquad-a00-p00-zh", "1147-5"]
    b = breakdown(queries, rankings, golds)
    assert b["en"]["R@1"] == 1.0 and b["en2zh"]["R@1"] == 0.0 and b["en2zh"]["R@5"] == 1.0
    assert b["drcd"]["R@5"] == 0.0
    assert b["R@1 either language"] == pytest.approx(2 / 3, abs=1e-4)  # en2zh's top hit is its gold's twin
