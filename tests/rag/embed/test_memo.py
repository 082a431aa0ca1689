"""MemoEmbedder: the same vectors as the embedder it wraps, each text embedded once, the memo bounded."""

from __future__ import annotations

import numpy as np

from rag.embed.memo import MemoEmbedder
from rag.embed.use import UseEmbedder


class Counting:
    """The real USE embedder, counting the texts it is asked to embed."""

    def __init__(self):
        self.use, self.embedded = UseEmbedder(), []

    def embed_passages(self, texts):
        self.embedded += texts
        return self.use.embed_passages(texts)

    def embed_queries(self, texts):
        self.embedded += texts
        return self.use.embed_queries(texts)


def test_vectors_are_the_wrapped_embedders_and_each_text_is_embedded_once():
    inner = Counting()
    memo = MemoEmbedder(inner)
    texts = [
        "台積電於2020年宣布在美國興建晶圓廠。",
        "The starter is fed every day.",
        "台積電於2020年宣布在美國興建晶圓廠。",
    ]
    first = memo.embed_passages(texts)
    assert np.allclose(first, inner.use.embed_passages(texts), atol=1e-6)
    assert inner.embedded == texts[:2]  # the repeated sentence once
    again = memo.embed_passages(["The starter is fed every day.", "A loaf needs twelve hours to rise."])
    assert inner.embedded == [*texts[:2], "A loaf needs twelve hours to rise."]
    assert np.allclose(again[0], first[1])
    memo.embed_queries(["The starter is fed every day."])  # a query vector is not a passage vector
    assert inner.embedded[-1] == "The starter is fed every day."


def test_the_memo_keeps_the_most_recently_used_texts():
    inner = Counting()
    memo = MemoEmbedder(inner, max_items=2)
    memo.embed_passages(["one sentence here.", "two sentences here."])
    memo.embed_passages(["one sentence here."])  # used again: stays
    memo.embed_passages(["three sentences here."])  # evicts "two"
    assert list(memo.store["passages"]) == ["one sentence here.", "three sentences here."]


def test_a_question_memo_passes_passages_through():
    inner = Counting()
    memo = MemoEmbedder(inner, max_items=8, passages=False)
    memo.embed_passages(["The starter is fed every day."])
    memo.embed_passages(["The starter is fed every day."])  # chunks being indexed are not kept
    memo.embed_queries(["How often is the starter fed?"])
    memo.embed_queries(["How often is the starter fed?"])
    assert inner.embedded == ["The starter is fed every day."] * 2 + ["How often is the starter fed?"]
    assert "passages" not in memo.store


def test_the_answer_step_reuses_the_question_vectors_of_the_search(seeds_notebook, monkeypatch):
    # (No "according to the posts": the answer step reads a question without the document it names, a new text.)
    question = "Which chip does Google use to train Gemini?"
    asked = []
    for memo, _ in seeds_notebook.dense_embedder.parts:
        model = memo.embedder
        monkeypatch.setattr(
            model, "embed_queries", lambda texts, f=model.embed_queries: asked.extend(texts) or f(texts)
        )
    answer = seeds_notebook.ask(question)
    assert answer.hits
    assert asked == [question, question]  # once by e5, once by USE: the search's vectors serve the answer step
